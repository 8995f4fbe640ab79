"""Calibrated simulated ramps return to the injected truth (the simulator inverts Table 1)."""

from __future__ import annotations

import numpy as np

from nircam_gui.core.calibrate import calibrate_integration
from nircam_gui.core.detector import REF_BORDER, amplifier_bounds
from nircam_gui.core.dq import SATURATED
from nircam_gui.core.simulate.flats import _raw_from_linear


def _calibrate(sim, integration=0, **kw):
    chunks = list(calibrate_integration(sim.ramps[integration], 0, sim.config(**kw)))
    return np.concatenate([c.data for c in chunks]), np.concatenate([c.groupdq for c in chunks])


def _good(sim, margin=1):
    """Science pixels away from the science edge (IPC zero padding), not hot or dead."""
    n = sim.cfg.size
    ok = np.zeros((n, n), bool)
    b = REF_BORDER + margin
    ok[b:n - b, b:n - b] = True
    return ok & (sim.ext("HOT") == 0) & (sim.ext("DEAD") == 0)


def _parity_amp_means(res, good):
    out = []
    cols = np.arange(res.shape[-1])
    for x0, x1 in amplifier_bounds(res.shape[-1]):
        sel = good.copy()
        sel[:, :x0] = sel[:, x1:] = False
        even, odd = sel & (cols % 2 == 0), sel & (cols % 2 == 1)
        out.append([(g[even].mean(), g[odd].mean()) for g in res])
    return np.array(out)  # (amp, group, parity)


def test_even_odd_pattern_and_drift_removed(faint):
    data, _ = _calibrate(faint)
    res = data - faint.expected_linear(0, data.shape[0])
    m = _parity_amp_means(res, _good(faint))
    injected = np.array(faint.truth["evenodd_offsets_adu"][0])  # (amp, [even, odd])
    assert np.abs(injected[:, 0] - injected[:, 1]).min() > 500  # the pattern was there, ~1,000 ADU
    assert np.abs(m[..., 0] - m[..., 1]).max() < 1.0            # and is gone: under 1 ADU
    drift = np.array(faint.truth["drift_adu"][0])               # (group, amp)
    assert np.abs(drift).max() > 10
    assert np.abs(m.mean(axis=-1)).max() < 0.5                   # per amplifier and group


def test_without_even_odd_the_pattern_stays(faint):
    # the refpix step alone also removes it (jwst's top/bottom correction); with neither it stays
    data, _ = _calibrate(faint, even_odd=False, refpix=False, ipc_step=False, linearity_step=False)
    m = _parity_amp_means(data - faint.expected_linear(0, data.shape[0]), _good(faint))
    assert np.abs(m[..., 0] - m[..., 1]).max() > 500


def test_linearity_within_0p1_percent_below_80_percent_of_saturation(bright):
    for k in range(2):
        data, gdq = _calibrate(bright, integration=k)
        lin = bright.expected_linear(k, data.shape[0])
        c2, c3, well = bright.ext("NL_C2"), bright.ext("NL_C3"), bright.ext("WELL")
        raw = _raw_from_linear(lin, c2, c3)
        below = (raw < 0.8 * 0.97 * well) & _good(bright)[None] & ((gdq & SATURATED) == 0)
        checked = 0
        for g in range(data.shape[0]):
            sel = below[g]
            if sel.sum() < 1000:
                continue
            ratio = data[g][sel].sum() / lin[g][sel].sum()
            assert abs(ratio - 1) < 1e-3, (k, g, ratio)
            checked += 1
        assert checked >= 10
        # and the raw ramp really was non-linear there: by ~6% at 80% of saturation
        assert (lin - raw)[below].max() / lin[below].max() > 0.04


def test_saturated_groups_flagged(bright):
    data, gdq = _calibrate(bright)
    sat = (gdq & SATURATED) != 0
    lin = bright.expected_linear(0, data.shape[0])
    raw = np.minimum(_raw_from_linear(lin, bright.ext("NL_C2"), bright.ext("NL_C3")), bright.ext("WELL"))
    thr = 0.97 * bright.ext("WELL")  # above bias; the raw file threshold is superbias + this
    science = _good(bright, margin=0)[None]
    # the even/odd and drift offsets shift the raw threshold by up to ~+-800 ADU: keep a margin
    assert sat[(raw > thr + 1500) & science].all()
    # and the flags follow the reference file's rule exactly: raw DN >= threshold, grown by one pixel
    from scipy import ndimage

    from nircam_gui.core.readers import open_ramp, open_reference

    with open_ramp(bright.ramps[0]) as rf:
        raw_dn = rf.read_groups(0)
    ever = np.maximum.accumulate(raw_dn >= open_reference(bright.refs["SATURATION"]).data, axis=0)
    grown = ndimage.maximum_filter(ever, size=(1, 3, 3), mode="constant")
    np.testing.assert_array_equal(sat, grown)
    assert sat[-1][science[0]].mean() > 0.5
    # once saturated, flagged in every later group
    assert not (sat[:-1] & ~sat[1:]).any()
