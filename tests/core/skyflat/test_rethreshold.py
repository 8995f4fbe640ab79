"""Re-thresholding a result's grey delta and writing it gives what a fresh run at that threshold writes."""

import os

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from nircam_gui.core.progress import Cancelled
from nircam_gui.core.skyflat.options import SkyflatOptions
from nircam_gui.core.skyflat.products import write_skyflat_products
from nircam_gui.core.skyflat.result import new_dead_pixels
from skyflat_run import run_and_write as run_skyflat


def rethreshold(s, options, threshold):
    return new_dead_pixels(s.grey, s.coverage, s.ground_dead, options, threshold)


def export_skyflat(result, outdir, **kw):
    return write_skyflat_products(result.result, outdir, **kw)


def _same_products(a, b):
    names = sorted(n for n in os.listdir(a) if n.endswith((".fits", ".ecsv")))
    assert names == sorted(n for n in os.listdir(b) if n.endswith((".fits", ".ecsv")))
    for n in names:
        if n.endswith(".ecsv"):
            ta, tb = Table.read(os.path.join(a, n)), Table.read(os.path.join(b, n))
            assert ta.colnames == tb.colnames and len(ta) == len(tb), n
            for c in ta.colnames:
                assert np.array_equal(np.asarray(ta[c]), np.asarray(tb[c]), equal_nan=ta[c].dtype.kind == "f"), (n, c)
        else:
            with fits.open(os.path.join(a, n)) as ha, fits.open(os.path.join(b, n)) as hb:
                for x, y in zip(ha, hb):
                    if x.data is not None and x.is_image:
                        assert np.array_equal(x.data, y.data, equal_nan=True), (n, x.name)
    return names


@pytest.fixture(scope="module")
def kept_run(small_set, tmp_path_factory):
    cfg, sim = small_set
    out = tmp_path_factory.mktemp("export_run")
    ref = os.path.dirname(sim.mask_files[0])
    res = run_skyflat(sim.cal_files, out, ground_flats=[ref], ground_masks=[ref], keep_masks=True,
                      options=SkyflatOptions(figures=False, checksums=False))
    return sim, ref, res


def test_kept_state(kept_run):
    sim, ref, res = kept_run
    s = res.detectors["NRCBLONG"]
    assert len(s.files) == 8 and set(s.groups) == {"F277W", "F444W"}
    mask = s.source_mask(s.files[0])
    assert mask.shape == s.grey.shape and 0.01 < mask.mean() < 0.9
    assert s.ground_dead is not None and s.ground_dead.any() and s.mask_file.endswith("mask.fits")
    assert set(s.flats) == {"F277W", "F444W"}
    dead, clusters = rethreshold(s, res.options, res.options.dead_threshold)
    assert np.array_equal(dead.mask.nonzero()[0], np.asarray(s.dead_table["y"]))
    lower, _ = rethreshold(s, res.options, 0.3)
    higher, _ = rethreshold(s, res.options, 0.95)
    assert lower.mask.sum() < dead.mask.sum() < higher.mask.sum()
    assert not (lower.mask & ~dead.mask).any()
    moved = res.result.with_dead_threshold(0.95)
    assert moved.detectors["NRCBLONG"].n_dead == int(higher.mask.sum()) and moved.options.dead_threshold == 0.95
    assert res.result.detectors["NRCBLONG"].n_dead == int(dead.mask.sum())  # the original is unchanged
    summary = moved.to_table()
    assert list(summary["detector"]) == ["NRCBLONG"] and summary["n_dead"][0] == int(higher.mask.sum())


def test_export_at_new_threshold_equals_fresh_run(kept_run, tmp_path):
    sim, ref, res = kept_run
    exported = export_skyflat(res, tmp_path / "export", dead_threshold=0.9)
    fresh = run_skyflat(sim.cal_files, tmp_path / "fresh", ground_flats=[ref], ground_masks=[ref],
                        options=SkyflatOptions(dead_threshold=0.9, figures=False, checksums=False))
    names = _same_products(tmp_path / "export", tmp_path / "fresh")
    assert "deadpix_NRCBLONG.fits" in names and len(exported) == len(fresh.files)
    with fits.open(tmp_path / "export" / "deadpix_NRCBLONG.fits") as h:
        assert h[0].header["DEADTHR"] == 0.9
    # the threshold mattered: the run's own mask differs
    with fits.open(tmp_path / "export" / "deadpix_NRCBLONG.fits") as a, \
            fits.open(os.path.join(res.outdir, "deadpix_NRCBLONG.fits")) as b:
        assert not np.array_equal(a["DQ"].data, b["DQ"].data)


def test_export_cancels_cleanly(kept_run, tmp_path):
    sim, ref, res = kept_run
    with pytest.raises(Cancelled):
        export_skyflat(res, tmp_path / "x", cancel=lambda: True)
    assert not [p for p in os.listdir(tmp_path / "x") if not p.startswith(".")]


def test_dead_pixel_index_matches_find_dead_pixels(kept_run):

    from nircam_gui.core.skyflat.deadpix import DeadPixelIndex, find_dead_pixels

    s = kept_run[2].detectors["NRCBLONG"]
    index = DeadPixelIndex(s.grey, ground_dead=s.ground_dead, coverage=s.coverage, min_coverage=3,
                           max_threshold=0.99)
    for t in (0.1, 0.5, 0.8, 0.8000001, 0.93, 0.99):
        ref = find_dead_pixels(s.grey, threshold=t, ground_dead=s.ground_dead, coverage=s.coverage, min_coverage=3)
        assert index.count(t) == int(ref.mask.sum()), t
        assert np.array_equal(index.mask(t), ref.mask), t
    x, y, v = index.pixels(0.8)
    assert np.all(v < np.float32(0.8)) and np.all(np.diff(v) >= 0)
    with pytest.raises(ValueError):
        index.count(0.995)
