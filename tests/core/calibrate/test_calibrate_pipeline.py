"""Streaming, options, missing references, provenance, the written _ramp file."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest
from astropy.io import fits

from nircam_gui.core.calibrate import (
    CalibrationConfig,
    MissingReferenceWarning,
    calibrate_file,
    calibrate_integration,
)
from nircam_gui.core.progress import Cancelled
from nircam_gui.core.readers import open_ramp


def _all(sim, integration=0, ramp=None, **kw):
    chunks = list(calibrate_integration(ramp or sim.ramps[integration], 0, sim.config(**kw)))
    return chunks, np.concatenate([c.data for c in chunks]), np.concatenate([c.groupdq for c in chunks])


def test_chunked_equals_unchunked(bright):
    c1, d1, g1 = _all(bright, chunk=18)
    c2, d2, g2 = _all(bright, chunk=5)
    assert len(c1) == 1 and len(c2) == 4
    assert [c.first_group for c in c2] == [0, 5, 10, 15]
    np.testing.assert_array_equal(d1, d2)
    np.testing.assert_array_equal(g1, g2)
    np.testing.assert_array_equal(np.concatenate([c.median_signal for c in c2]), c1[0].median_signal)
    assert d1.dtype == np.float32 and g1.dtype == np.uint8 and c1[0].pixeldq.dtype == np.uint32


def test_max_groups_and_signal_limit(bright):
    _, full, _ = _all(bright, chunk=4)
    chunks, d, _ = _all(bright, chunk=4, max_groups=6)
    np.testing.assert_array_equal(d, full[:6])
    med = np.concatenate([c.median_signal for c in chunks])
    limit = 0.5 * (med[2] + med[3])  # stop after group 3, the first over the limit
    chunks, d, _ = _all(bright, chunk=2, signal_limit=limit)
    np.testing.assert_array_equal(d, full[:4])
    m = np.concatenate([c.median_signal for c in chunks])
    assert m[-1] > limit and (m[:-1] <= limit).all()


def test_steps_switch_off_and_missing_reference_warns(bright, tmp_path):
    cfg = bright.config(linearity=str(tmp_path / "nope.fits"), ipc=None)
    with pytest.warns(MissingReferenceWarning) as rec:
        plan = cfg.plan()
    assert {"linearity", "ipc"} <= {str(w.message).split(":")[0] for w in rec}
    assert plan.steps["linearity"] == plan.steps["ipc"] == "missing reference"
    cfg = bright.config(refpix=False, saturation_step=False)
    prov = cfg.provenance()
    assert prov["steps"]["refpix"] == "off" and "refpix" not in prov["steps_run"]
    _, d, g = _all(bright, max_groups=3, refpix=False, saturation_step=False, linearity_step=False)
    assert not (g & 2).any()


def test_without_superbias_bias_is_first_read(bright):
    with pytest.warns(MissingReferenceWarning, match="first read"):
        chunks = list(calibrate_integration(bright.ramps[0], 0, bright.config(superbias=None, max_groups=4)))
    d = np.concatenate([c.data for c in chunks])
    assert chunks[0].provenance["steps"]["superbias"] == "first read"
    # group 0 minus itself: zero apart from the reference corrections; later groups one group less signal
    _, ref, _ = _all(bright, max_groups=4)
    sl = (slice(8, -8), slice(8, -8))
    step = np.median(ref[1][sl] - ref[0][sl])
    assert abs(np.median(d[0][sl])) < 2.0
    assert abs(np.median(d[1][sl]) / step - 1) < 0.03


def test_provenance(bright):
    cfg = bright.config()
    prov = cfg.provenance()
    assert prov["steps_run"] == ["dq_init", "superbias", "even_odd", "ipc", "refpix", "saturation", "linearity"]
    sb = prov["references"]["SUPERBIAS"]
    import hashlib
    assert sb["sha256"] == hashlib.sha256(open(sb["path"], "rb").read()).hexdigest()
    for pkg in ("jwst", "stdatamodels", "numpy", "nircam_gui"):
        assert prov["software"][pkg]
    json.dumps(prov)
    chunk = next(iter(calibrate_integration(bright.ramps[0], 0, cfg)))
    assert chunk.provenance == prov


def test_provenance_with_reference_checksums_left_for_later(bright):
    import dataclasses

    from nircam_gui.core.calibrate.config import with_reference_checksums

    cfg = bright.config()
    full = cfg.provenance()
    later_cfg = dataclasses.replace(cfg, reference_checksums=False)
    later = later_cfg.provenance()
    assert later["references"] and all(set(r) == {"path"} for r in later["references"].values())
    chunk = next(iter(calibrate_integration(bright.ramps[0], 0, later_cfg)))
    assert chunk.provenance == later
    # completed, it is what the checksums in place give, in the same order (settings included)
    done = with_reference_checksums(later)
    assert done == full and json.dumps(done) == json.dumps(full)
    assert with_reference_checksums(full) is full
    assert set(later) == set(full)


def test_calibrate_file_round_trip(bright, tmp_path):
    out = tmp_path / "cal_ramp.fits"
    cfg = bright.config(chunk=7, max_groups=12)
    fractions = []
    path = calibrate_file(bright.ramps[0], out, cfg, progress=lambda f, m: fractions.append(f))
    assert path == out and fractions[-1] == pytest.approx(1.0)
    _, d, g = _all(bright, chunk=7, max_groups=12)
    from stdatamodels.jwst import datamodels as dm
    with dm.RampModel(str(out)) as m:
        np.testing.assert_array_equal(m.data[0], d)
        np.testing.assert_array_equal(m.groupdq[0], g)
        assert m.pixeldq.dtype == np.uint32 and (m.pixeldq & 2**31).any()  # reference pixels flagged
    with open_ramp(out) as rf:
        assert rf.meta.kind == "ramp" and rf.shape[:2] == (1, 12)
        np.testing.assert_array_equal(rf.read_groups(0, 3, 5), d[3:5])
    with fits.open(out) as h:
        prov = json.loads(h["PROVENANCE"].data["JSON"][0])
        assert prov["steps"]["linearity"] == "run"
        assert h[0].header["S_LINEAR"] == "COMPLETE"
        assert any("sha256" in str(c) for c in h[0].header["HISTORY"])


def test_calibrate_file_signal_limit_pads_and_cancel_leaves_nothing(bright, tmp_path):
    out = tmp_path / "lim_ramp.fits"
    calibrate_file(bright.ramps[0], out, bright.config(signal_limit=10000.0, chunk=4))
    with fits.open(out) as h:
        sci, gdq = h["SCI"].data[0], h["GROUPDQ"].data[0]
    stop = next(i for i in range(sci.shape[0]) if np.isnan(sci[i]).all())
    assert 2 < stop < 18 and (gdq[stop:] & 1).all()
    out2 = tmp_path / "cancelled_ramp.fits"
    with pytest.raises(Cancelled):
        calibrate_file(bright.ramps[0], out2, bright.config(chunk=2), cancel=lambda: True)
    assert not out2.exists() and not [p for p in os.listdir(tmp_path) if ".part" in p]
