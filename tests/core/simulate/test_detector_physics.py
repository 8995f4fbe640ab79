"""Brighter-fatter charge collection and correlated read noise of the flat simulator."""

import numpy as np
import pytest

from nircam_gui.core.detector import amplifier_bounds
from nircam_gui.core.gain.covfit import cov_model
from nircam_gui.core.simulate.detector_physics import bfe_area, bfe_kernel, bfe_step, pink_noise_frame


def test_bfe_kernel_sums_to_zero_with_negative_centre():
    k = bfe_kernel(-3e-7)
    assert k.shape == (5, 5)
    assert k[2, 2] == pytest.approx(-3e-7)
    assert abs(k.sum()) < 1e-20
    assert np.allclose(k, k[::-1]) and np.allclose(k, k[:, ::-1])
    assert (np.delete(k.ravel(), 12) >= 0).all()


def test_bfe_area_is_a_correlation_with_zero_outside():
    from scipy import ndimage

    rng = np.random.default_rng(0)
    q = (rng.random((40, 50)) * 3e4).astype(np.float32)
    k = bfe_kernel(-2e-6)
    expected = 1 + ndimage.correlate(q.astype(float), k, mode="constant")
    assert np.allclose(bfe_area(q, k), expected, atol=1e-6)


def test_collected_charge_has_the_astier_covariances():
    """Charge collected group by group follows the model the covariance fit uses.

    With a strong kernel (Roman-like, a00 = -3e-6 /e-), 16 groups of 2,500 e-: the variance and
    nearest-neighbour covariances of pair differences match Astier et al. (2019) eq. 20 in
    electrons. Taking the area at the start of each group instead would leave the lag terms
    short by (n - 1) / n, 6% after 16 groups, outside the bounds.
    """
    k = bfe_kernel(-3e-6)
    rng = np.random.default_rng(3)
    n, ngroups = 256, 16
    rate = np.full((n, n), 2500.0, np.float32)
    sr = np.sqrt(rate)
    acc = []
    for _ in range(6):
        a = np.zeros((n, n), np.float32)
        b = np.zeros((n, n), np.float32)
        z = np.empty((n, n), np.float32)
        for _g in range(ngroups):
            rng.standard_normal(out=z, dtype=np.float32)
            bfe_step(a, rate, sr, z, k)
            rng.standard_normal(out=z, dtype=np.float32)
            bfe_step(b, rate, sr, z, k)
        d = (a - b).astype(float)[4:-4, 4:-4]
        d -= d.mean()
        acc.append(((a.mean() + b.mean()) / 2, (d * d).mean() / 2, (d[:, 1:] * d[:, :-1]).mean() / 2,
                    (d[1:] * d[:-1]).mean() / 2))
    mu, c00, c10, c01 = np.mean(acc, axis=0)
    model = cov_model(np.array([mu]), 1.0, k[2:, 2:], np.zeros((3, 3)))[0]
    assert mu == pytest.approx(ngroups * 2500, rel=2e-3)  # the sum rule keeps the mean
    assert (c00 - mu) / (model[0, 0] - mu) == pytest.approx(1, abs=0.05)
    # lag terms: ~1.3% of the variance here, measured to ~2% of themselves
    assert c10 / model[0, 1] == pytest.approx(1, abs=0.05)
    assert c01 / model[1, 0] == pytest.approx(1, abs=0.05)


def test_one_over_f_noise_is_correlated_along_rows_and_acn_alternates():
    rng = np.random.default_rng(1)
    amps = amplifier_bounds(512)
    f = pink_noise_frame(rng, (512, 512), amps, 2.0, 0.0).astype(float)
    assert f.std() == pytest.approx(2.0, rel=0.05)
    d = f[:, :128]
    assert (d[:, 1:] * d[:, :-1]).mean() / (d * d).mean() > 0.5  # neighbours along a row
    g = pink_noise_frame(rng, (512, 512), amps, 0.0, 1.0).astype(float)
    e = g[:, :128]
    assert (e[:, 1:] * e[:, :-1]).mean() / (e * e).mean() < -0.5  # alternating columns
