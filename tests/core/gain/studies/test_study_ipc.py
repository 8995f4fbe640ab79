"""IPC study: corrections compared (report 5.5) and the coupling measured from the flats vs the injected kernel."""

import numpy as np
import pytest
from scipy import ndimage

from nircam_gui.core.gain.studies._common import calibration_for
from nircam_gui.core.gain.studies.ipc_coupling import (
    coupling_from_correlation,
    kernel_correlation,
    kernel_diagonal_correlation,
    kernel_neighbours,
    measure_coupling,
)
from nircam_gui.core.gain.studies.ipc_maps import compare_ipc_maps, deconvolution_residual_factor, write_ipc
from nircam_gui.core.ipc import REPORT_B1_CORRECTION_KERNEL, invert_kernel, physical_kernel, variance_factor
from nircam_gui.core.regionsio import polygons_mask, read_polygons


def test_kernel_correlation_matches_a_monte_carlo_field():
    """rho = sum k k_shift / sum k^2 (~2 alpha), checked on white noise convolved with the physical kernel."""
    phys = invert_kernel(REPORT_B1_CORRECTION_KERNEL)
    rh, rv = kernel_correlation(phys)
    ah, av = kernel_neighbours(phys)
    assert rh == pytest.approx(2 * ah, rel=0.03) and rv == pytest.approx(2 * av, rel=0.03)
    rng = np.random.default_rng(1)
    x = ndimage.convolve(rng.standard_normal((2000, 2000)), phys, mode="wrap")
    var = np.mean(x * x)
    assert np.mean(x[:, :-1] * x[:, 1:]) / var == pytest.approx(rh, abs=0.0015)  # 1/sqrt(4e6) = 0.0005
    assert np.mean(x[:-1, :] * x[1:, :]) / var == pytest.approx(rv, abs=0.0015)
    rd = 0.5 * (np.mean(x[:-1, :-1] * x[1:, 1:]) + np.mean(x[:-1, 1:] * x[1:, :-1])) / var
    assert rd == pytest.approx(kernel_diagonal_correlation(phys), abs=0.0011)


def test_coupling_inverts_the_correlation_exactly():
    for ah, av, c in ((0.006, 0.0053, 0.0), (0.0035, 0.004, 0.0), (0.02, 0.01, 0.0), (0.006, 0.0053, 2.7e-4)):
        k = np.array([[c, av, c], [ah, 1 - 2 * ah - 2 * av - 4 * c, ah], [c, av, c]])
        rho_d = kernel_diagonal_correlation(k) if c else None
        got_h, got_v, kern = coupling_from_correlation(*kernel_correlation(k), rho_d)
        assert got_h == pytest.approx(ah, rel=1e-7) and got_v == pytest.approx(av, rel=1e-7)
        np.testing.assert_allclose(kern, k, atol=1e-9)


@pytest.fixture(scope="module")
def coupling(study_sim, options_for):
    sim, _ = study_sim
    opts = options_for(sim)
    void = polygons_mask(read_polygons(opts.regions), (1024, 1024))
    kc = np.asarray(sim_ipc_kernel(sim))
    # all 8 groups (7 increments per pair): the simulator has no brighter-fatter effect, and the
    # extra increments bring the per-amplifier error to ~3%, so the 10% bound is a 3-sigma test
    return measure_coupling(sim.ramps, calibration_for(opts, ipc_step=False), void, 9000.0, kc)


def sim_ipc_kernel(sim):
    from nircam_gui.core.readers import open_reference

    return open_reference(sim.references["IPC"], "IPC").data


def _expected(truth, scale=1.0):
    k = np.array(truth["ipc_physical_kernel"])
    c = k.shape[0] // 2
    delta = np.zeros_like(k)
    delta[c, c] = 1
    k = delta + (k - delta) * scale  # the simulator's void kernel
    return kernel_correlation(k), kernel_neighbours(k)


def test_measured_coupling_within_ten_percent_of_injected(coupling, study_sim):
    _, truth = study_sim
    (rh, rv), (ah, av) = _expected(truth)
    t = coupling.table
    normal = t[(t["region"] == "normal") & (t["amp"] != "all")]
    assert len(normal) == 4 and all(normal["n_frames"] == 35)
    for row in normal:
        assert row["alpha_h"] == pytest.approx(ah, rel=0.10), row["amp"]
        assert row["alpha_v"] == pytest.approx(av, rel=0.10), row["amp"]
        # the quoted errors are honest: within 3.5 sigma
        assert abs(row["rho_h"] - rh) < 3.5 * row["rho_h_err"]
        assert abs(row["rho_v"] - rv) < 3.5 * row["rho_v_err"]
    both = t[(t["amp"] == "all") & (t["region"] == "normal")][0]
    assert both["rho_h"] == pytest.approx(rh, rel=0.05) and both["rho_v"] == pytest.approx(rv, rel=0.05)
    assert both["alpha_h_expected"] == pytest.approx(ah) and both["rho_v_expected"] == pytest.approx(rv)
    # read noise is ~10% of an increment's variance: without removing it rho would be 10% low
    assert 0.05 < both["read_fraction"] < 0.2
    # no correlated read noise is left after the row-mean subtraction
    assert abs(both["read_cov_h"]) < 2 and abs(both["read_cov_v"]) < 2
    # the corners (~3e-4) come from the diagonal correlation; they lower the centre and so the
    # sum of squares by ~0.002, which the measured variance factor must include
    assert both["corner"] == pytest.approx(both["corner_expected"], abs=3 * both["corner_err"])
    assert both["variance_factor_err"] < 0.0015
    assert abs(both["variance_factor"] - truth["ipc_variance_factor"]) < 3 * both["variance_factor_err"]


def test_epoxy_void_coupling_is_measured_lower(coupling, study_sim):
    """The void's kernel is 0.7 x the rest; 31k pixels measure it to ~15%."""
    _, truth = study_sim
    _, (ah, av) = _expected(truth, truth["config"]["void_ipc_scale"])
    t = coupling.table
    void = t[(t["amp"] == "all") & (t["region"] == "epoxy")][0]
    normal = t[(t["amp"] == "all") & (t["region"] == "normal")][0]
    assert abs(void["alpha"] - 0.5 * (ah + av)) < 3 * void["alpha_err"]
    assert normal["alpha"] - void["alpha"] > 3 * np.hypot(void["alpha_err"], normal["alpha_err"])


def test_corrections_compared_as_in_the_report(study_rundata, study_sim, coupling, tmp_path):
    sim, truth = study_sim
    kc = sim_ipc_kernel(sim)
    res = compare_ipc_maps(study_rundata[128], study_rundata["none"], kc, coupling)
    c = res.comparison
    row = lambda name, region="normal": c[(c["comparison"] == name) & (c["region"] == region)][0]  # noqa: E731
    vf = variance_factor(physical_kernel(kc))
    # report: -4.7 to -4.9%, mean -4.8%; here exactly the variance factor, to the noise of the ratio
    dec = row("deconvolved / uncorrected")
    assert dec["mean_percent"] == pytest.approx(100 * (vf - 1), abs=0.05)
    assert -4.95 < dec["p05_percent"] and dec["p95_percent"] < -4.6
    # analytic vs deconvolved: the report's ~0.2%; the exact factor agrees with the deconvolution
    assert row("analytic / deconvolved")["mean_percent"] == pytest.approx(100 * (0.95 / vf - 1), abs=0.05)
    assert abs(row("exact / deconvolved")["mean_percent"]) < 0.05
    f = {r["factor"]: r for r in res.factors}
    assert f["analytic"]["value"] == pytest.approx(0.95, abs=1e-6)
    assert f["exact"]["value"] == pytest.approx(truth["ipc_variance_factor"], rel=2e-6)  # float32 file
    assert f["exact"]["minus_analytic_percent"] == pytest.approx(100 * (vf / 0.95 - 1), rel=1e-4)
    # in the void the reference kernel over-corrects; the coupling measured there corrects less
    assert row("measured / deconvolved", "epoxy")["mean_percent"] > 1.0
    # the deconvolved void gain corrected for the residual kernel agrees with that
    void = row("deconvolved_void / deconvolved", "epoxy")["mean_percent"]
    assert void > 0.7
    assert void == pytest.approx(row("measured / deconvolved", "epoxy")["mean_percent"], abs=0.25)
    assert row("deconvolved_void / deconvolved", "normal")["mean_percent"] == 0.0
    # elsewhere the factor measured from the flats agrees with the deconvolution within its error
    both = coupling.table[(coupling.table["amp"] == "all") & (coupling.table["region"] == "normal")][0]
    measured = row("measured / deconvolved")["mean_percent"]
    assert abs(measured) < 3 * 100 * both["variance_factor_err"] + 0.05
    out = write_ipc(res, tmp_path)
    for key in ("factors", "comparison", "boxes", "coupling", "coupling_frames", "maps_fig", "coupling_fig"):
        assert out[key].exists(), key


def test_mismatched_runs_are_refused(study_rundata, study_sim):
    sim, _ = study_sim
    with pytest.raises(ValueError, match="same boxes"):
        compare_ipc_maps(study_rundata[256], study_rundata["none"], sim_ipc_kernel(sim))


def test_coupling_measurement_can_be_cancelled(study_sim, options_for):
    from nircam_gui.core.progress import Cancelled

    sim, _ = study_sim
    with pytest.raises(Cancelled):
        measure_coupling(sim.ramps[:4], calibration_for(options_for(sim), ipc_step=False), cancel=lambda: True)


def test_deconvolution_residual_factor_of_a_weaker_void_kernel():
    """Deconvolving a void whose coupling is s times the outside one's with the outside kernel leaves
    its gain low by the sum of squares of the residual kernel: ~1% for s = 0.8; nothing for s = 1."""
    kc = np.asarray(REPORT_B1_CORRECTION_KERNEL, float)
    k = invert_kernel(kc, size=5)
    delta = np.zeros_like(k)
    delta[2, 2] = 1
    for s in (1.0, 0.8, 0.7):
        kv = delta + (k - delta) * s
        exact = np.sum(ndimage.convolve(np.pad(kv, 3), kc, mode="constant") ** 2)
        ah, av, corner = 0.5 * (kv[2, 1] + kv[2, 3]), 0.5 * (kv[1, 2] + kv[3, 2]), kv[1, 1]
        f = deconvolution_residual_factor(kc, ah, av, corner)
        assert f == pytest.approx(exact, abs=3e-4), s
        assert f - 1 == pytest.approx(0.0497 * (1 - s), abs=6e-4), s
