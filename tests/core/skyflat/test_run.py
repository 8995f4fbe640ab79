"""The whole analysis on a small long-wave set: outputs, formats, provenance, cancel."""

import json
import os

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from stdatamodels.jwst import datamodels as dm

from nircam_gui.core.dq import DEAD, DO_NOT_USE
from nircam_gui.core.errors import NircamFileError
from nircam_gui.core.progress import Cancelled
from nircam_gui.core.skyflat.analysis import new_flat
from nircam_gui.core.skyflat.options import SkyflatOptions
from skyflat_run import run_and_write as run_skyflat


@pytest.fixture(scope="module")
def small_run(small_set, tmp_path_factory):
    cfg, sim = small_set
    out = tmp_path_factory.mktemp("skyflat_small_out")
    pred = Table({"filter": ["F277W", "F444W"], "background": [0.2, 0.4]})
    fractions = []
    res = run_skyflat(sim.cal_files, out, ground_flats=sim.flat_files, ground_masks=[os.path.dirname(sim.mask_files[0])],
                      predictions=pred, progress=lambda f, m: fractions.append(f))
    return cfg, sim, res, fractions


def test_output_names(small_run):
    cfg, sim, res, _ = small_run
    names = {os.path.basename(f) for f in res.files}
    for n in ("delta_NRCBLONG_F277W.fits", "delta_NRCBLONG_F444W.fits", "delta_NRCBLONG_grey.fits",
              "fit_NRCBLONG_grey.fits", "flat_NRCBLONG_F277W.fits", "flat_NRCBLONG_F444W.fits",
              "deadpix_NRCBLONG.fits", "deadpix_NRCBLONG.ecsv", "clusters_NRCBLONG.ecsv", "backgrounds.ecsv",
              "provenance.json", "skyflat_NRCBLONG.png", "backgrounds.png", "filter_dependence.ecsv"):
        assert n in names, n
    assert all(os.path.exists(f) for f in res.files)
    assert res.detectors["NRCBLONG"].fit_method == "median"  # LW default


def test_progress_is_monotonic(small_run):
    *_, fractions = small_run
    assert fractions[-1] == 1.0 and all(b >= a for a, b in zip(fractions, fractions[1:]))


def test_flat_and_mask_reference_files(small_run):
    cfg, sim, res, _ = small_run
    flat = dm.FlatModel(os.path.join(res.outdir, "flat_NRCBLONG_F277W.fits"))
    flat.validate()
    assert flat.meta.instrument.filter == "F277W" and flat.meta.instrument.detector == "NRCBLONG"
    assert flat.meta.reftype == "FLAT" and "INFLIGHT" in flat.meta.pedigree
    with fits.open(os.path.join(res.outdir, "flat_NRCBLONG_F277W.fits")) as h:
        assert any("ground flat" in str(c) for c in h[0].header["HISTORY"])
        assert h[0].header["FITMETH"] == "median"
    mask = dm.MaskModel(os.path.join(res.outdir, "deadpix_NRCBLONG.fits"))
    mask.validate()
    table = Table.read(os.path.join(res.outdir, "deadpix_NRCBLONG.ecsv"))
    assert table.colnames[:3] == ["x", "y", "value"] and len(table) > 0
    assert np.all(mask.dq[table["y"], table["x"]] & DEAD)
    assert np.all(mask.dq[table["y"], table["x"]] & DO_NOT_USE)
    # ground DEAD bits are kept
    ground = dm.MaskModel(sim.mask_files[0])
    assert np.all(mask.dq[(ground.dq & DEAD) != 0] & DEAD)


def test_delta_file_contents_and_provenance(small_run):
    cfg, sim, res, _ = small_run
    with fits.open(os.path.join(res.outdir, "delta_NRCBLONG_F277W.fits")) as h:
        assert [x.name for x in h] == ["PRIMARY", "SCI", "ERR", "COVERAGE", "FILTDIFF"]
        assert h[0].header["DETECTOR"] == "NRCBLONG" and h[0].header["FILTER"] == "F277W"
        assert h["COVERAGE"].data.max() <= 4
        assert any("sha256:" in str(c) for c in h[0].header["HISTORY"])
        assert np.nanmedian(h["SCI"].data) == pytest.approx(1.0, abs=0.01)
    with fits.open(os.path.join(res.outdir, "delta_NRCBLONG_grey.fits")) as h:
        assert h["COVERAGE"].data.max() <= 8 and h["COVERAGE"].data.max() >= 6
    doc = json.loads(open(os.path.join(res.outdir, "provenance.json")).read())
    assert len(doc["inputs"]) == 8 and all(len(i["sha256"]) == 64 for i in doc["inputs"])
    assert doc["options"]["dead_threshold"] == 0.8 and "photutils" in doc["versions"]


def test_tables(small_run):
    cfg, sim, res, _ = small_run
    bg = Table.read(os.path.join(res.outdir, "backgrounds.ecsv"))
    assert bg.colnames[:4] == ["file", "detector", "filter", "background"] and len(bg) == 8
    assert str(bg["background"].unit) == "MJy / sr"
    s = Table.read(os.path.join(res.outdir, "backgrounds_summary.ecsv"))
    row = s[s["filter"] == "F444W"][0]
    assert row["ratio"] == pytest.approx(row["mean"] / 0.4)
    cl = Table.read(os.path.join(res.outdir, "clusters_NRCBLONG.ecsv"))
    assert cl.colnames[:4] == ["x", "y", "npix", "mean_value"]
    fd = Table.read(os.path.join(res.outdir, "filter_dependence.ecsv"))
    assert set(fd["filter"]) == {"F277W", "F444W"}
    # the simulated filter tilts differ by ~3.5 % across the frame, grey sits between
    assert np.all(fd["range"] > 0.005) and np.all(fd["range"] < 0.05)


def test_new_flat_renormalised():
    ground = np.full((64, 64), 2.0, np.float32)
    ground[10, 10] = 1.0
    dq = np.zeros((64, 64), np.uint32)
    dq[10, 10] = DO_NOT_USE
    fit = np.linspace(0.9, 1.1, 64, dtype=np.float32)[None, :] * np.ones((64, 1), np.float32)
    data, err, out_dq = new_flat(ground, np.full_like(ground, 0.01), dq, fit)
    good = out_dq[4:-4, 4:-4] == 0
    assert np.median(data[4:-4, 4:-4][good]) == pytest.approx(2.0, rel=1e-5)
    assert data[10, 10] == 1.0 and data[0, 0] == 2.0 and out_dq[10, 10] == DO_NOT_USE
    assert data[32, 59] / data[32, 5] == pytest.approx(fit[32, 59] / fit[32, 5], rel=1e-5)


def test_cancel_leaves_no_output(small_set, tmp_path):
    cfg, sim = small_set
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 12

    with pytest.raises(Cancelled):
        run_skyflat(sim.cal_files, tmp_path / "out", ground_flats=sim.flat_files, cancel=cancel)
    assert not any((tmp_path / "out").iterdir())


def test_refuses_non_cal_files(small_set, tmp_path):
    cfg, sim = small_set
    with pytest.raises(NircamFileError, match="not a calibrated image"):
        run_skyflat([sim.cal_files[0], sim.flat_files[0]], tmp_path / "o")


def test_missing_ground_flat_warns(small_set, tmp_path):
    cfg, sim = small_set
    res = run_skyflat(sim.cal_files[:4], tmp_path / "o", options=SkyflatOptions(figures=False, fit="poly3"))
    assert any("no ground FLAT" in w for w in res.warnings)
    assert not (tmp_path / "o" / "flat_NRCBLONG_F277W.fits").exists()
    assert (tmp_path / "o" / "delta_NRCBLONG_F277W.fits").exists()
