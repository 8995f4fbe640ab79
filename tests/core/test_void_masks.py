"""Epoxy voids from FITS masks (non-zero = void), as STScI distributes the NIRCam low-epoxy regions."""

import numpy as np
import pytest
from astropy.io import fits

from nircam_gui.core.errors import NircamFileError
from nircam_gui.core.gain.boxes import make_boxes
from nircam_gui.core.gain.run import GainOptions, build_boxes
from nircam_gui.core.regionsio import (mask_polygons, polygons_mask, read_void_mask, void_mask, void_polygons,
                                       write_polygons)
from nircam_gui.core.simulate.fields import epoxy_void_polygon


def _void(shape=(512, 512)):
    ny, nx = shape
    yy, xx = np.mgrid[:ny, :nx]
    blob = ((xx - 300) / 70.0) ** 2 + ((yy - 200) / 45.0) ** 2 < 1
    blob |= (np.abs(xx - 120) < 30) & (np.abs(yy - 400) < 12)  # a second, rectangular area
    return blob


def test_mask_traced_into_polygons_gives_the_mask_back(tmp_path):
    mask = _void()
    path = tmp_path / "low_epoxy.fits"
    fits.PrimaryHDU(mask.astype(np.uint8)).writeto(path)
    polys = void_polygons(path)
    assert len(polys) == 2
    assert all(len(p) < 200 for p in polys)  # simplified: editable, not one vertex per pixel edge
    back = polygons_mask(polys, mask.shape)
    wrong = np.count_nonzero(back != mask)
    assert wrong <= 0.01 * mask.sum(), wrong  # only outline pixels may differ
    # the run uses the mask itself, exactly
    np.testing.assert_array_equal(void_mask(path, mask.shape), mask)


def test_gain_boxes_from_a_mask_equal_those_from_its_pixels(tmp_path):
    mask = _void()
    path = tmp_path / "void_mask.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(mask.astype(np.int16), name="SCI")]).writeto(path)
    grid = build_boxes(GainOptions(box=64, ipc="none", regions=str(path)), mask.shape)
    ref = make_boxes(mask.shape, 64, void_mask=mask)
    np.testing.assert_array_equal(grid.labels, ref.labels)
    # and the same void drawn as DS9 polygons gives (nearly) the same epoxy pixels
    reg = tmp_path / "void.reg"
    write_polygons(reg, mask_polygons(mask))
    grid2 = build_boxes(GainOptions(box=64, ipc="none", regions=str(reg)), mask.shape)
    epoxy = np.isin(grid.labels, np.flatnonzero(np.asarray(grid.table["region"]) == "epoxy") + 1)
    epoxy2 = np.isin(grid2.labels, np.flatnonzero(np.asarray(grid2.table["region"]) == "epoxy") + 1)
    assert np.count_nonzero(epoxy != epoxy2) <= 0.01 * epoxy.sum()


def test_simulator_void_round_trip():
    poly = epoxy_void_polygon(np.random.default_rng(3), 1024)
    mask = polygons_mask([poly], (1024, 1024))
    back = polygons_mask(mask_polygons(mask), mask.shape)
    assert np.count_nonzero(back != mask) <= 0.01 * mask.sum()


@pytest.mark.parametrize("make, message", [
    (lambda p: fits.PrimaryHDU(np.zeros((512, 512), np.uint8)).writeto(p), "no non-zero pixel"),
    (lambda p: fits.PrimaryHDU(np.ones((256, 256), np.uint8)).writeto(p), "256x256"),
    (lambda p: fits.PrimaryHDU().writeto(p), "no 2-D image"),
    (lambda p: p.write_text("not fits"), "not a readable FITS"),
])
def test_bad_masks_are_named(tmp_path, make, message):
    path = tmp_path / "mask.fits"
    make(path)
    with pytest.raises(NircamFileError, match=message) as info:
        read_void_mask(path, (512, 512))
    assert info.value.path == str(path)
