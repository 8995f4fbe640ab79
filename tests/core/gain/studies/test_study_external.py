"""Comparison with an external per-pixel gain map (report 6.3): the truth x 0.85 reads as -15%."""

import numpy as np
import pytest
from astropy.io import fits

from nircam_gui.core import dq as dqbits
from nircam_gui.core.errors import NircamFileError
from nircam_gui.core.gain.studies.external import compare_external, write_external
from nircam_gui.core.reffiles import write_reference


def _external(tmp_path, sim, factor, shape=None, poison=False):
    g = fits.getdata(sim.truth_gain, "SCI").astype(np.float32) * np.float32(factor)
    if shape is not None:
        g = np.ones(shape, np.float32)
    arrays = {"data": g}
    if poison:
        # wild pixels flagged in DQ, and NaNs: both must stay out of the box means
        dq = np.zeros(g.shape, np.uint32)
        g[100:110, 100:400] = 50.0
        dq[100:110, 100:400] = dqbits.DO_NOT_USE
        g[300, 300:320] = np.nan
        arrays["dq"] = dq
    path = tmp_path / f"ext_{factor}.fits"
    write_reference(path, "GAIN", "NRCB1", arrays, description="external test map", pedigree="DUMMY")
    return path


def test_truth_times_085_is_minus_15_percent(study_sim, study_rundata, tmp_path):
    sim, _ = study_sim
    ext = _external(tmp_path, sim, 0.85, poison=True)
    for box in (128, 256):
        res = compare_external(study_rundata[box], ext)
        s = res.summary
        for region in ("all", "normal"):
            row = s[(s["amp"] == "all") & (s["region"] == region)][0]
            assert row["mean_percent"] == pytest.approx(-15.0, abs=0.3), (box, region)
            assert row["median_percent"] == pytest.approx(-15.0, abs=0.3), (box, region)
        # the spread is our maps' noise (0.7% per 256 px box for the mean of 5 maps ~0.35%)
        assert s["std_percent"][0] < (1.0 if box == 256 else 1.5)
    gridded = np.asarray(res.boxes["gain_external"])
    assert np.all(np.isfinite(gridded)) and gridded.max() < 2.5  # the flagged 50.0 pixels are out
    out = write_external(res, tmp_path / "out")
    img = fits.getdata(out["gridded"])
    assert img.shape == (1024, 1024) and np.nanmax(img) < 2.5
    assert out["figure"].read_bytes()[:4] == b"\x89PNG"
    assert ext.exists()


def test_frame_size_mismatch_is_explained(study_sim, study_rundata, tmp_path):
    sim, _ = study_sim
    ext = _external(tmp_path, sim, 1.0, shape=(512, 512))
    with pytest.raises(NircamFileError, match="512x512"):
        compare_external(study_rundata[256], ext)
