"""The _cal image simulator writes real level-2 files and reference files that match its truth."""

import json
import os

import numpy as np
import pytest
from astropy.io import fits
from stdatamodels.jwst import datamodels as dm

from nircam_gui.core.dq import DEAD, DO_NOT_USE, REFERENCE_PIXEL
from nircam_gui.core.readers import read_metadata, open_image, open_reference
from nircam_gui.core.simulate.images import CalSimConfig, simulate_cal_images, true_delta_large

SIZE = 256


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    cfg = CalSimConfig(detectors=("NRCA4", "NRCBLONG"), filters=("F150W", "F200W"), n_images=3, size=SIZE, seed=7)
    return cfg, simulate_cal_images(tmp_path_factory.mktemp("calsim"), cfg)


def test_counts_and_names(small):
    cfg, res = small
    assert len(res.cal_files) == 2 * 2 * 3
    assert len(res.flat_files) == 4 and len(res.mask_files) == 2
    assert all(p.endswith("_cal.fits") for p in res.cal_files)
    assert len(res.truth_fits) == len(res.truth_json) == 2


def test_cal_is_a_pipeline_image_model(small):
    cfg, res = small
    path = res.cal_files[0]
    model = dm.open(path)
    assert isinstance(model, dm.ImageModel)
    model.validate()
    assert model.data.dtype.kind == "f" and model.data.dtype.itemsize == 4 and model.err.dtype.itemsize == 4
    assert model.dq.dtype.kind == "u" and model.dq.dtype.itemsize == 4
    assert model.data.shape == (SIZE, SIZE)
    with fits.open(path) as hdul:
        names = [h.name for h in hdul]
        assert names[:4] == ["PRIMARY", "SCI", "ERR", "DQ"]
        h = hdul[0].header
        for key, value in {"TELESCOP": "JWST", "INSTRUME": "NIRCAM", "DETECTOR": "NRCA4", "FILTER": "F150W",
                           "PUPIL": "CLEAR", "EXP_TYPE": "NRC_IMAGE", "SUBARRAY": "FULL" if SIZE == 2048 else "GENERIC", "SUBSTRT1": 1,
                           "SUBSTRT2": 1, "SUBSIZE1": SIZE, "SUBSIZE2": SIZE, "FASTAXIS": 1, "SLOWAXIS": -2,
                           "DATAMODL": "ImageModel"}.items():
            assert h[key] == value, key
        assert "DATE-OBS" in h and "TIME-OBS" in h and h["EXPSTART"] > 59000
        assert hdul["SCI"].header["BUNIT"] == "MJy/sr"
    meta = read_metadata(path)
    assert meta.kind == "cal" and meta.detector == "NRCA4" and meta.filter == "F150W" and meta.is_full_frame


def test_dq_flags_and_nan(small):
    cfg, res = small
    with open_image(res.cal_files[0]) as img:
        sci, dq = np.array(img.sci), np.array(img.dq)
    border = np.zeros((SIZE, SIZE), bool)
    border[:4] = border[-4:] = True
    border[:, :4] = border[:, -4:] = True
    assert np.all((dq[border] & (REFERENCE_PIXEL | DO_NOT_USE)) == (REFERENCE_PIXEL | DO_NOT_USE))
    mask = open_reference(res.mask_files[0], "MASK").dq
    ground_dead = (mask & DEAD) != 0
    assert ground_dead.any()
    assert np.all(dq[ground_dead] & DEAD) and np.all(dq[ground_dead] & DO_NOT_USE)
    bad = (dq & DO_NOT_USE) != 0
    assert np.all(np.isnan(sci[bad])) and np.all(np.isfinite(sci[~bad]))


def test_reference_files_validate(small):
    cfg, res = small
    for path in res.flat_files:
        model = dm.FlatModel(path)
        model.validate()
        assert model.meta.reftype == "FLAT" and model.meta.instrument.filter in cfg.filters
        assert model.data.shape == (SIZE, SIZE)
    for path in res.mask_files:
        model = dm.MaskModel(path)
        model.validate()
        assert model.meta.reftype == "MASK"


def test_truth_reads_back_and_matches_images(small):
    cfg, res = small
    doc = json.loads(open(res.truth_json[0]).read())
    assert doc["detector"] == "NRCA4" and len(doc["images"]) == 6
    with fits.open(res.truth_fits[0]) as t:
        resp = t["RESPONSE"].data
        large = t["LARGE_F150W"].data
        delta = t["DELTA_F150W"].data
        grey = t["LARGE_GREY"].data
    # dead pixel list and response map agree; concentrations are 0-50 %
    for d in doc["dead_pixels"]:
        assert resp[d["y"], d["x"]] == pytest.approx(d["response"], abs=1e-6)
    for c in doc["clusters"]:
        vals = resp[c["pixels_y"], c["pixels_x"]]
        assert np.all(vals <= 0.5) and len(vals) == c["npix"]
    np.testing.assert_allclose(delta, large * resp, rtol=1e-6)
    # 6-8 % large-scale gradient, filter part ~1-2 %, normalised to median 1
    sl = slice(4, SIZE - 4)
    assert np.median(large[sl, sl]) == pytest.approx(1.0, abs=1e-6)
    ptp = np.percentile(grey[sl, sl], 99.5) - np.percentile(grey[sl, sl], 0.5)
    assert 0.05 < ptp < 0.10
    f2 = true_delta_large(SIZE, 484, "F200W")
    fd = np.ptp(large[sl, sl] / f2[sl, sl])
    assert 0.005 < fd < 0.04
    # the image's sky is the truth sky times the delta flat (noise 2.5 %)
    row = doc["images"][0]
    with open_image(res.cal_files[0]) as img:
        sci = np.array(img.sci)
    good = delta[sl, sl] > 0.9
    ratio = np.nanmedian(sci[sl, sl][good] / delta[sl, sl][good])
    assert ratio == pytest.approx(row["sky"], rel=0.01)


def test_reproducible_and_independent_of_other_detectors(small, tmp_path):
    cfg, res = small
    cfg2 = CalSimConfig(detectors=("NRCA4",), filters=("F150W",), n_images=1, size=SIZE, seed=7)
    res2 = simulate_cal_images(tmp_path, cfg2)
    a = fits.getdata(res.cal_files[0], "SCI")
    b = fits.getdata(res2.cal_files[0], "SCI")
    np.testing.assert_array_equal(a, b)
    cfg3 = CalSimConfig(detectors=("NRCA4",), filters=("F150W",), n_images=1, size=SIZE, seed=8)
    res3 = simulate_cal_images(tmp_path / "other", cfg3)
    assert not np.array_equal(np.nan_to_num(a), np.nan_to_num(fits.getdata(res3.cal_files[0], "SCI")))


def test_cancel_stops(tmp_path):
    from nircam_gui.core.progress import Cancelled

    calls = []
    with pytest.raises(Cancelled):
        simulate_cal_images(tmp_path, CalSimConfig(size=128, n_images=2), cancel=lambda: len(calls) > 2,
                            progress=lambda f, m: calls.append(f))


def test_cal_files_are_real_pipeline_files(tmp_path):
    """FILENAME names the file, VAR_* arrays are there, and jwst flat_field runs on it (offline)."""
    from jwst.flatfield import FlatFieldStep
    from stdatamodels.jwst import datamodels as dm

    from nircam_gui.core.calibrate.jwst_offline import run_step
    from nircam_gui.core.simulate.images import CalSimConfig, simulate_cal_images

    sim = simulate_cal_images(tmp_path, CalSimConfig(detectors=("NRCA1",), filters=("F150W",), n_images=1,
                                                     size=128, seed=4))
    cal = sim.cal_files[0]
    h = fits.getheader(cal)
    assert h["FILENAME"] == os.path.basename(cal) and h["S_FLAT"] == "COMPLETE" and h["R_FLAT"]
    assert (h["SUBARRAY"], h["SUBSIZE1"], h["SUBSIZE2"]) == ("GENERIC", 128, 128)
    with fits.open(cal) as hdul:
        err = hdul["ERR"].data.astype(float)
        total = sum(hdul[f"VAR_{k}"].data.astype(float) for k in ("POISSON", "RNOISE", "FLAT"))
    np.testing.assert_allclose(total, err**2, rtol=1e-5)
    flat = next(f for f in sim.flat_files if "f150w" in os.path.basename(f))
    with dm.open(cal) as model:
        out = run_step(FlatFieldStep, model, {"flat": flat})
    assert out.meta.cal_step.flat_field == "COMPLETE"
    ground = fits.getdata(flat, "SCI")
    inner = (slice(8, -8), slice(8, -8))
    with dm.open(cal) as model:
        np.testing.assert_allclose(out.data[inner] * ground[inner], model.data[inner], rtol=1e-5)
    good = out.dq[inner] == 0
    assert good.mean() > 0.95 and np.isfinite(out.var_flat[inner][good]).all()
