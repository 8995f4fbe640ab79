"""Boxes with too few good pixels and fits with too few points are flagged, never averaged in."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from nircam_gui.core import dq as dqbits
from nircam_gui.core.gain.run import GainOptions, run_gain
from nircam_gui.core.gain.maps import FirstPairCheck, combine_pairs
from nircam_gui.core.gain.products import write_gain_products
from nircam_gui.core.gain.ptcfit import FLAG_BAD_SLOPE, FLAG_FEW_PIXELS, FLAG_FEW_POINTS, fit_ptc

from .conftest import copy_with, uncal_sci


def _box_at(table: Table, x: int, y: int) -> int:
    """0-based index of the box whose bounding box holds pixel (x, y)."""
    sel = (table["xmin"] <= x) & (x <= table["xmax"]) & (table["ymin"] <= y) & (y <= table["ymax"])
    (idx,) = np.flatnonzero(sel)
    return int(idx)


@pytest.fixture(scope="module")
def damaged_run(flats, tmp_path_factory):
    """The small flat set with three bad boxes (32 px grid, 128x128 frame, columns 32-63 = amplifier 2):

    * A (x 32-63, y 32-63): every pixel saturated in pair 1 only -> pair 1 flagged, mean from pair 2;
    * B (x 64-95, y 64-95): a constant signal in every integration (no photon noise) -> no gain at all;
    * C (x 0-31, y 96-127): 70% of the pixels saturated in every integration -> too few good pixels.
    """
    folder = tmp_path_factory.mktemp("damaged")
    ramps = []
    for k, src in enumerate(flats.ramps):
        sci = uncal_sci(src)
        if k < 2:
            sci[..., 32:64, 32:64] = 65535
        sci[..., 64:96, 64:96] = 12000
        sci[..., 96:128, 0:23] = 65535
        ramps.append(str(copy_with(src, folder / f"d{k}_{src.name}", sci=sci)))
    opts = GainOptions(ipc="none", box=32, saturation=str(flats.references["SATURATION"]))
    result = run_gain(ramps, opts)
    out = write_gain_products(result, folder / "out", figures=False)
    return result, out


def test_partly_bad_box_uses_only_its_good_pairs(damaged_run):
    result, out = damaged_run
    a = _box_at(result.boxes.table, 48, 48)
    assert result.fit.flags[0, a] & FLAG_FEW_POINTS and result.fit.flags[0, a] & FLAG_FEW_PIXELS
    assert result.fit.flags[1, a] == 0
    assert np.isnan(result.maps.pair_gain[0, a]) and np.isfinite(result.maps.pair_gain[1, a])
    assert result.maps.n_pairs[a] == 1
    assert result.maps.mean_gain[a] == pytest.approx(result.maps.pair_gain[1, a])
    boxes = Table.read(out["boxes"])
    assert boxes["flags"][a] & FLAG_FEW_PIXELS and boxes["n_pairs"][a] == 1
    assert "flags (OR over pairs" in " ".join(boxes.meta["comments"])


@pytest.mark.parametrize("where, flag", [((80, 80), FLAG_BAD_SLOPE), ((10, 110), FLAG_FEW_PIXELS)])
def test_bad_box_is_nan_in_the_maps_and_marked_everywhere(damaged_run, where, flag):
    result, out = damaged_run
    b = _box_at(result.boxes.table, *where)
    assert (result.fit.flags[:, b] & flag).all()
    assert np.isnan(result.maps.pair_gain[:, b]).all() and np.isnan(result.maps.mean_gain[b])
    assert result.maps.n_pairs[b] == 0
    boxes = Table.read(out["boxes"])
    assert boxes["flags"][b] & flag and np.isnan(boxes["gain"][b]) and boxes["n_pairs"][b] == 0
    assert np.isnan(boxes["gain_err"][b])
    # the GAIN file fills the box with its amplifier's mean for the pipeline; its MASK says so
    labels = result.boxes.labels
    dq = fits.getdata(out["gain_mask"], "DQ")
    in_box = labels == b + 1
    assert (dq[in_box] & dqbits.DO_NOT_USE).all()
    # the sector mean leaves it out: its pixels are not counted
    amp = int(result.boxes.table["amp"][b])
    region = result.boxes.table["region"][b]
    good = [i for i in range(result.boxes.nbox) if result.boxes.table["amp"][i] == amp
            and result.boxes.table["region"][i] == region and np.isfinite(result.maps.mean_gain[i])]
    row = result.sectors[(result.sectors["amp"] == amp) & (result.sectors["region"] == region)]
    assert int(row["n_boxes"][0]) == len(good) and b not in good


def test_good_boxes_are_unaffected_and_unflagged(damaged_run):
    result, _ = damaged_run
    ok = _box_at(result.boxes.table, 48, 80)
    assert (result.fit.flags[:, ok] == 0).all() and result.maps.n_pairs[ok] == 2
    assert 1.8 < result.maps.mean_gain[ok] < 2.8


def test_fit_flags_groups_without_statistics_as_too_few_pixels():
    """A box whose every pixel is rejected has NaN statistics: that is lost pixels, not only few points."""
    mean = np.array([[[1000.0], [2000.0], [3000.0], [4000.0]]])
    var = mean / 2.0
    npix = np.full(mean.shape, 100)
    fit = fit_ptc(mean, var, npix, np.array([100]), summed_limit=1e5)
    assert fit.flags[0, 0] == 0 and fit.gain[0, 0] == pytest.approx(2.0)
    mean[0, 1:] = np.nan
    npix[0, 1:] = 0
    fit = fit_ptc(mean, var, npix, np.array([100]), summed_limit=1e5)
    assert fit.flags[0, 0] & FLAG_FEW_POINTS and fit.flags[0, 0] & FLAG_FEW_PIXELS and np.isnan(fit.gain[0, 0])


def test_combine_is_explicit_about_nan_and_silent(recwarn):
    """All-NaN boxes give NaN means and counts of 0, with no RuntimeWarning on the console."""
    gains = np.array([[2.0, np.nan, np.nan], [2.1, np.nan, 2.2]])
    maps = combine_pairs(gains, np.array([100, 100, 100]), FirstPairCheck("keep", False, True))
    assert list(maps.n_pairs) == [2, 0, 1]
    assert maps.mean_gain[0] == pytest.approx(2.05) and np.isnan(maps.mean_gain[1])
    assert maps.mean_gain[2] == pytest.approx(2.2)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
