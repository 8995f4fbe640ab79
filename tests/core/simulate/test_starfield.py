"""The dithered star-field simulator carries the truth the flat validation is tested against."""

import json

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from stdatamodels.jwst import datamodels as dm

from nircam_gui.core.simulate.starfield import StarfieldConfig, moffat_alpha, simulate_starfield


@pytest.fixture(scope="module")
def field(tmp_path_factory):
    out = tmp_path_factory.mktemp("starfield")
    cfg = StarfieldConfig(size=128, n_pointings=4, n_stars=8, flat_error=0.06, seed=5)
    return cfg, simulate_starfield(out, cfg)


def test_files_and_calibration_keywords(field):
    cfg, res = field
    assert len(res.cal_files) == 4
    with dm.open(res.cal_files[0]) as m:
        assert m.meta.cal_step.flat_field == "COMPLETE"
        assert m.meta.ref_file.flat.name == "nrca1_f150w_clear_flat.fits"
        assert m.data.shape == (128, 128)
    old = fits.getdata(res.old_flat, "SCI")
    true = fits.getdata(res.true_flat, "SCI")
    error = fits.getdata(res.truth_fits, "FLAT_ERROR")
    sl = np.s_[4:-4, 4:-4]
    good = fits.getdata(res.old_flat, "DQ") == 0  # dead and reference pixels hold 1 in both
    np.testing.assert_allclose(true[good], (old * error)[good], rtol=1e-6)
    # the injected error is the large-scale one asked for: ~6 % across the frame's edges
    assert 0.04 < np.ptp(error[sl]) < 0.09


def test_wcs_puts_every_star_at_its_truth_position(field):
    cfg, res = field
    cat = Table.read(res.catalogue)
    pos = Table.read(res.positions)
    for i, path in enumerate(res.cal_files):
        w = WCS(fits.getheader(path, "SCI"))
        rows = pos[pos["pointing"] == i]
        x, y = w.world_to_pixel_values(cat["ra"][rows["star"]], cat["dec"][rows["star"]])
        np.testing.assert_allclose(x, rows["x"], atol=1e-6)
        np.testing.assert_allclose(y, rows["y"], atol=1e-6)
    dithers = [(p["dither_x"], p["dither_y"]) for p in json.loads(open(res.truth_json).read())["pointings"]]
    assert np.ptp(np.array(dithers)[:, 0]) > 0.4 * cfg.size  # the stars move across the frame


def test_star_flux_is_the_catalogue_flux_times_the_flat_error(field):
    """A star's summed signal, minus the sky, is its catalogue flux (the Moffat share inside
    the circle) times the flat error where it falls."""
    cfg, res = field
    cat = Table.read(res.catalogue)
    pos = Table.read(res.positions)
    error = fits.getdata(res.truth_fits, "FLAT_ERROR")
    pointings = json.loads(open(res.truth_json).read())["pointings"]
    r, alpha = 12.0, moffat_alpha(2.0)
    share = 1 - (1 + (r / alpha) ** 2) ** (1 - 2.5)  # Moffat flux inside radius r
    yy, xx = np.mgrid[0:128, 0:128]
    checked = 0
    for i, meta in enumerate(pointings):
        sci = fits.getdata(res.cal_files[i], "SCI").astype(float)
        here = pos[pos["pointing"] == i]
        for row in here[here["on_detector"]]:
            x, y = row["x"], row["y"]
            if not (r + 4 < x < 123 - r and r + 4 < y < 123 - r):
                continue
            if np.sum(np.hypot(here["x"] - x, here["y"] - y) < 2 * r + 8) > 1:  # another star's light inside
                continue
            inside = np.hypot(xx - x, yy - y) < r
            if np.isnan(sci[inside]).any():
                continue
            star = np.sum(sci[inside] - meta["sky"] * error[inside])
            expected = cat["flux"][row["star"]] * row["flat_error"] * share
            noise = meta["noise"] * np.sqrt(inside.sum() + expected / meta["sky"])  # sky + Poisson-like star
            assert abs(star - expected) < 5 * noise + 0.003 * expected
            checked += 1
    assert checked >= 2


def test_moffat_fwhm():
    a = moffat_alpha(2.0)
    half = (1 + (1.0 / a) ** 2) ** -2.5  # profile at r = FWHM/2 relative to the centre
    assert half == pytest.approx(0.5)


def test_bad_config(tmp_path):
    with pytest.raises(ValueError, match="pointings"):
        simulate_starfield(tmp_path, StarfieldConfig(size=64, n_pointings=1))
