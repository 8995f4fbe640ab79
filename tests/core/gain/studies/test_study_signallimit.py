"""Signal-limit study: re-fits of the saved points, ratios to the lowest-limit map (report Table 3)."""

import numpy as np
import pytest
from astropy.table import Table

from nircam_gui.core.gain.studies.rundata import RunData
from nircam_gui.core.gain.studies.signallimit import signal_limit_study, write_signal_limit


def _synthetic_run(curvature: float) -> RunData:
    """Noise-free PTC points: variance = rn2 + mean/g * (1 - curvature * mean), as residual non-linearity gives."""
    npairs, ngroups, nbox = 4, 10, 6
    gain = np.linspace(2.1, 2.4, nbox)
    mean = np.broadcast_to((np.arange(ngroups) + 1.0)[None, :, None] * 2200.0, (npairs, ngroups, nbox)).copy()
    var = 50.0 + mean / gain * (1 - curvature * mean)
    labels = np.repeat(np.arange(1, nbox + 1), 16).reshape(6, 16).astype(np.int32)
    boxes = Table({"box_id": np.arange(1, nbox + 1), "amp": [1, 1, 2, 2, 3, 4], "region": ["normal"] * nbox,
                   "npix": np.full(nbox, 1000), "xmin": np.zeros(nbox, int), "xmax": np.full(nbox, 15),
                   "ymin": np.arange(nbox), "ymax": np.arange(nbox)})
    return RunData("NRCB1", [], {"box": 128, "ipc": "none"}, labels, boxes, np.arange(1, npairs + 1),
                   [f"p{i}" for i in range(npairs)], mean, var, np.full(mean.shape, 1000), 5000.0, 1.0, {},
                   np.ones(npairs, bool))


def test_ratios_follow_the_fits_exactly():
    run = _synthetic_run(curvature=2e-6)
    res = signal_limit_study(run, [10000, 5000, 15000])
    assert list(res.summary["signal_limit"]) == [5000, 10000, 15000]
    assert res.summary["ratio_mean_percent"][0] == 0 and res.summary["ratio_std_percent"][0] == 0
    mean, var = run.mean[0, :, 0], run.variance[0, :, 0]
    expected = []
    for lim in (5000, 10000, 15000):
        sel = mean < 2 * lim
        expected.append(1 / np.polyfit(mean[sel], var[sel], 1)[0])
    # every box has the same curvature, so the ratio is the same for all boxes
    np.testing.assert_allclose(res.summary["ratio_mean_percent"],
                               [100 * (e / expected[0] - 1) for e in expected], rtol=1e-9, atol=1e-12)
    # lower variance at high signal: higher gain with a higher limit, as the report found
    assert 0 < res.summary["ratio_mean_percent"][1] < res.summary["ratio_mean_percent"][2]
    assert list(res.summary["groups_median"]) == [4, 9, 10]
    assert any("above the brightest measured group" in n for n in res.notes)


def test_linear_points_give_no_trend():
    res = signal_limit_study(_synthetic_run(curvature=0.0), [5000, 10000])
    assert res.summary["ratio_mean_percent"][1] == pytest.approx(0, abs=1e-9)


def test_on_simulated_flats(study_rundata, tmp_path):
    run = study_rundata[128]
    res = signal_limit_study(run, [5000, 7500, 9000])
    assert list(res.summary["groups_median"]) == [4, 6, 8]
    # the simulator's non-linearity is removed exactly: no trend beyond the noise of the ratio
    n = res.summary["n_boxes"][1]
    for row in res.summary[1:]:
        assert abs(row["ratio_mean_percent"]) < 4 * row["ratio_std_percent"] / np.sqrt(n) + 0.05
        assert 0.1 < row["ratio_std_percent"] < 1.5  # report: 0.36-0.38% at 256 px
    out = write_signal_limit(res, tmp_path)
    t = Table.read(out["summary"], format="ascii.ecsv")
    assert t.meta["pairs_averaged"] == [int(p) for p, u in zip(run.pair_numbers, run.pair_used) if u]
    assert out["figure"].read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="at least two"):
        signal_limit_study(run, [5000])


def test_covariance_model_beside_the_line_has_no_trend_under_bfe():
    """Points from the full covariance model (BFE): the line rises with the limit, the model does not."""
    import dataclasses

    from nircam_gui.core.gain.covfit import cov_model
    from nircam_gui.core.simulate.detector_physics import bfe_kernel

    run = _synthetic_run(curvature=0.0)
    a = np.zeros((4, 4))
    a[:3, :3] = bfe_kernel(-2e-6)[2:, 2:]
    noise = np.zeros((4, 4))
    noise[0, 0] = 100.0
    mu = run.mean[0, :, 0] / 2
    c = 2 * cov_model(mu, 2.25, a, noise)  # one gain for every box: the differenced frame
    cov = np.broadcast_to(c[None, :, None], run.mean.shape + (4, 4)).copy()
    run = dataclasses.replace(run, variance=cov[..., 0, 0].copy(), cov=cov)
    res = signal_limit_study(run, [5000, 10000, 15000])
    assert res.summary["ratio_mean_percent"][2] > 1.0
    assert np.allclose(res.summary["cov_ratio_mean_percent"], 0, atol=1e-6)
    assert res.summary["cov_mean_gain"][0] == pytest.approx(2.25, rel=1e-6)
