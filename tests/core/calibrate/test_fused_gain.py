"""Gain products with the fused calibration equal those with the step-by-step numpy engine."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from nircam_gui.core.calibrate import CalibrationConfig, MissingReferenceWarning
from nircam_gui.core.gain.run import GainOptions, run_gain
from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    sim = simulate_flats(tmp_path_factory.mktemp("fused_gain"),
                         FlatSimConfig(detector="NRCB1", size=256, nints=4, ngroups=8, seed=11))
    return sim


def _options(sim, **kw):
    r = {k: str(v) for k, v in sim.references.items()}
    args = dict(box=64, regions=str(sim.regions), ipc="deconvolve", ipc_kernel=r["IPC"], superbias=r["SUPERBIAS"],
                linearity=r["LINEARITY"], saturation=r["SATURATION"], mask=r["MASK"])
    args.update(kw)
    return GainOptions(**args)


def _run(sim, monkeypatch, engine, **kw):
    original = CalibrationConfig.__post_init__

    def forced(self):
        self.engine = engine
        original(self)

    with monkeypatch.context() as m:
        m.setattr(CalibrationConfig, "__post_init__", forced)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MissingReferenceWarning)
            return run_gain(sim.ramps, _options(sim, **kw))


@pytest.mark.slow
@pytest.mark.parametrize("kw", [{}, dict(superbias=None)], ids=["superbias", "first-read bias"])
def test_gain_products_unchanged(small_set, monkeypatch, kw):
    fused = _run(small_set, monkeypatch, "fused", **kw)
    numpy_ = _run(small_set, monkeypatch, "numpy", **kw)
    assert fused.calibration["settings"]["engine"] == "fused"
    assert numpy_.calibration["settings"]["engine"] == "numpy"
    for name in ("mean", "variance", "variance_raw", "diff_mean", "npix_sum", "npix_diff", "group_median"):
        a, b = getattr(fused.ptc, name), getattr(numpy_.ptc, name)
        assert np.isfinite(a).any()
        np.testing.assert_allclose(a, b, rtol=1e-6, equal_nan=True, err_msg=name)
        np.testing.assert_array_equal(a, b, err_msg=name)  # in fact identical
    for name in ("pair_gain", "mean_gain", "mean_err"):
        np.testing.assert_array_equal(getattr(fused.maps, name), getattr(numpy_.maps, name), err_msg=name)
    assert np.isfinite(fused.maps.mean_gain).sum() > 10
