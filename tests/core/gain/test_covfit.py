"""The full covariance model, its fit, and the PTC turnoff."""

import numpy as np
import pytest
from astropy.table import Table

from nircam_gui.core.gain.covfit import (cov_model, find_turnoff, fit_amp_covariances, ipc_coupling,
                                         solve_covariance_model)
from nircam_gui.core.simulate.detector_physics import bfe_kernel


def test_model_variance_is_the_exact_single_coefficient_solution():
    """With only a00, the series must match 1/(2 a g^2) (exp(2 a N) - 1) (Astier eq. 16)."""
    a = np.zeros((4, 4))
    a[0, 0] = -2.5e-6
    g = 2.2
    mu = np.linspace(100, 30000, 7)
    c = cov_model(mu, g, a, np.zeros((4, 4)))
    exact = (np.exp(2 * a[0, 0] * mu * g) - 1) / (2 * a[0, 0]) / g**2
    assert np.allclose(c[:, 0, 0], exact, rtol=2e-4)


def _synthetic(a, gain, noise_e2, npairs=5, ngroups=25, nbox=4, box_npix=60000, step=1200.0, rng=None):
    """Summed-frame means and differenced-frame covariances of the model, with estimation noise."""
    m = a.shape[0]
    mu = step * (np.arange(ngroups) + 1)
    c = cov_model(mu, gain, a, noise_e2)  # single frame
    mean = np.broadcast_to(2 * mu[None, :, None], (npairs, ngroups, nbox)).copy()
    cov = np.broadcast_to(2 * c[None, :, None], (npairs, ngroups, nbox, m, m)).copy()
    if rng is not None:
        cov += rng.normal(0, 1, cov.shape) * (2 * c[None, :, None, :1, :1]) / np.sqrt(box_npix)
    npix = np.full((npairs, ngroups, nbox), box_npix)
    return mean, cov, npix


def test_fit_recovers_gain_and_a_matrix():
    rng = np.random.default_rng(2)
    a = bfe_kernel(-2e-6)[2:, 2:]
    a4 = np.zeros((4, 4))
    a4[:3, :3] = a
    noise = np.zeros((4, 4))
    noise[0, 0] = 2 * 25.0 * 2.3**2
    mean, cov, npix = _synthetic(a4, 2.3, noise, rng=rng)
    box_npix = np.full(4, 60000)
    fit = fit_amp_covariances("amp1", np.arange(4), mean, cov, npix, box_npix, np.full(4, 24))
    assert fit.gain == pytest.approx(2.3, rel=2e-3)
    assert fit.a[0, 0] == pytest.approx(a[0, 0], rel=0.05)
    assert fit.a[0, 1] == pytest.approx(a[0, 1], rel=0.1)
    assert fit.a[1, 0] == pytest.approx(a[1, 0], rel=0.1)
    assert fit.used.all()


def test_box_gains_at_zero_signal_where_a_line_is_biased():
    """Noise-free model points: the box gains come back exactly; a straight line would not."""
    a4 = np.zeros((4, 4))
    a4[:3, :3] = bfe_kernel(-2e-6)[2:, 2:]
    noise = np.zeros((4, 4))
    noise[0, 0] = 120.0
    mean, cov, npix = _synthetic(a4, 2.1, noise, nbox=6)
    table = Table({"amp": [1, 1, 1, 2, 2, 2], "region": ["normal"] * 6, "npix": np.full(6, 60000)})
    for cap in (5000.0, 15000.0, None):
        sol = solve_covariance_model(mean, cov[..., 0, 0], cov, npix, table, cap=cap)
        assert np.allclose(sol.pair_gain, 2.1, rtol=1e-4)
    slope = np.polyfit(mean[0, :12, 0] / 2, cov[0, :12, 0, 0, 0] / 2, 1)[0]
    assert 1 / slope / 2.1 - 1 > 0.02


def test_turnoff_at_the_first_falling_variance_or_lost_pixels():
    ngroups, nbox = 12, 3
    mean = np.tile(np.arange(1, ngroups + 1, dtype=float)[None, :, None] * 2000, (2, 1, nbox))
    var = mean / 2.2
    npix = np.full(mean.shape, 1000)
    var[:, 9:, 0] = var[:, 8:9, 0] * 0.9  # saturating: the variance falls after group 8
    npix[:, 6:, 1] = 900  # pixels flagged saturated leave from group 6
    g, level = find_turnoff(mean, var, npix, np.full(nbox, 1000))
    assert list(g) == [8, 5, ngroups - 1]
    assert level[0] == pytest.approx(9 * 1000)


def test_ipc_coupling_from_zero_signal_covariances():
    """White shot noise through a 3x3 kernel, read noise and BFE on top: the coupling comes back."""
    ax, ay = 0.006, 0.005
    k = np.array([[0, ay, 0], [ax, 1 - 2 * ax - 2 * ay, ax], [0, ay, 0]])
    kk = np.zeros((7, 7))
    kk[2:5, 2:5] = k
    auto = np.array([[np.sum(kk * np.roll(kk, (j, i), (0, 1))) for i in range(2)] for j in range(2)])
    mu = np.arange(1, 15) * 1000.0
    c = mu[:, None, None] / 2.2 * auto[None] + np.array([[50.0, 0.0], [0.0, 0.0]]) + 1e-7 * mu[:, None, None] ** 2
    mean = 2 * mu[None, :, None]
    cov = 2 * c[None, :, None]
    out = ipc_coupling(mean, cov, np.array([0]), np.array([1000]))
    assert out["x"] == pytest.approx(ax, rel=1e-3)
    assert out["y"] == pytest.approx(ay, rel=1e-3)
