"""Display math: samples, stretch limits, scalings, amplifiers, lazy frame sources."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.visualization import ZScaleInterval

from nircam_gui.core.display import (
    LIMIT_METHODS,
    SCALINGS,
    amplifier_of,
    display_sample,
    limits,
    open_source,
    pixel_info,
    scaling_curve,
)
from nircam_gui.core.errors import NircamFileError
from nircam_gui.core.readers import ExposureMeta


def test_sample_is_small_finite_and_skips_the_border():
    img = np.full((2048, 2048), 5.0, np.float32)
    img[:4, :] = img[-4:, :] = img[:, :4] = img[:, -4:] = 1e6  # reference pixels
    img[100:200, 100:200] = np.nan
    s = display_sample(img, size=200_000, border=4)
    assert 100_000 < s.size < 300_000
    assert np.isfinite(s).all()
    assert s.max() == 5.0


def test_limits_methods():
    rng = np.random.default_rng(0)
    sample = rng.normal(1000.0, 10.0, 200_000).astype(np.float32)
    lo, hi = limits(sample, "99%")
    assert lo == pytest.approx(np.percentile(sample, 0.5)) and hi == pytest.approx(np.percentile(sample, 99.5))
    assert limits(sample, "minmax", data_range=(-5.0, 7e4)) == (-5.0, 7e4)
    assert limits(sample, "manual", manual=(1.0, 2.0)) == (1.0, 2.0)
    zlo, zhi = limits(sample, "zscale")
    ref = ZScaleInterval(n_samples=1000, contrast=0.25).get_limits(sample)
    assert (zlo, zhi) == pytest.approx(ref)
    assert 950 < zlo < 1000 < zhi < 1050
    for method in LIMIT_METHODS:
        lo, hi = limits(sample, method, data_range=(0.0, 2000.0))
        assert hi > lo


def test_render_maps_levels_through_the_table_and_marks_nan():
    from nircam_gui.core.display import render_rgba

    lut = np.stack([np.arange(256, dtype=np.uint8)] * 3, axis=1)  # grey ramp
    img = np.array([[0.0, 5.0, 10.0], [np.nan, -3.0, 99.0]], np.float32)
    pic = render_rgba(img, (0.0, 10.0), lut, nan_colour=(1, 2, 3))
    assert pic.shape == (2, 3, 4) and pic.dtype == np.uint8
    assert list(pic[0, :, 0]) == [0, 127, 255] and pic[1, 1, 0] == 0 and pic[1, 2, 0] == 255
    assert tuple(pic[1, 0]) == (1, 2, 3, 255)
    assert (pic[..., 3] == 255).all()


def test_frame_range_ignores_nan(tmp_path):
    from nircam_gui.core.display import prepare_frame

    meta = ExposureMeta(path="x", kind="cal", nx=16, ny=16)
    img = np.arange(256, dtype=np.float32).reshape(16, 16)
    assert prepare_frame(img, None, meta).has_nan is False
    img[3, 3] = np.nan
    f = prepare_frame(img, None, meta)
    assert f.has_nan and f.data_range == (0.0, 255.0)


def test_constant_frame_still_has_a_range():
    lo, hi = limits(np.full(1000, 3.0, np.float32), "zscale")
    assert lo < 3.0 < hi


@pytest.mark.parametrize("scaling", SCALINGS)
def test_scaling_curves_are_monotonic_from_0_to_1(scaling):
    c = scaling_curve(scaling, 512)
    assert c[0] == pytest.approx(0.0, abs=1e-9) and c[-1] == pytest.approx(1.0)
    assert np.all(np.diff(c) >= 0)
    if scaling != "linear":
        assert c[len(c) // 4] > 0.3  # non-linear scalings brighten the faint end


def test_amplifiers_full_frame_and_subarray():
    full = ExposureMeta(path="x", kind="cal", nx=2048, ny=2048)
    assert [amplifier_of(full, c, 2048) for c in (0, 511, 512, 1535, 1536, 2047)] == [1, 1, 2, 3, 4, 4]
    sub = ExposureMeta(path="x", kind="cal", nx=64, ny=64, subarray="SUB64P", xstart=1025)
    assert amplifier_of(sub, 0, 64) == 3


def _write_uncal(path, nints=2, ngroups=6, n=32):
    ramp = np.zeros((nints, ngroups, n, n), np.uint16)
    for i in range(nints):
        for g in range(ngroups):
            ramp[i, g] = 1000 + 100 * g + i
    h = fits.Header()
    h["DETECTOR"], h["SUBARRAY"] = "NRCA1", "FULL"
    fits.HDUList([fits.PrimaryHDU(header=h), fits.ImageHDU(ramp, name="SCI")]).writeto(path)


def test_ramp_source_reads_single_groups_lazily(tmp_path, monkeypatch):
    path = tmp_path / "r_uncal.fits"
    _write_uncal(path)
    src = open_source(path)
    reads = []
    original = src._ramp.read_group
    monkeypatch.setattr(src._ramp, "read_group", lambda i, g: reads.append((i, g)) or original(i, g))
    f = src.frame(1, 4)
    assert reads == [(1, 4)]
    assert f.image[5, 5] == 1000 + 400 + 1
    d = src.frame(1, 4, difference=True)
    assert d.image[5, 5] == 400.0 and d.difference
    assert reads == [(1, 4), (1, 0)]  # group 4 came from the cache
    assert src.nints == 2 and src.ngroups == 6 and src.is_ramp
    src.close()


def test_pixel_info_is_one_based_with_amplifier_and_dq(tmp_path):
    n = 64
    sci = np.arange(n * n, dtype=np.float32).reshape(n, n)
    dq = np.zeros((n, n), np.uint32)
    dq[10, 20] = 1 | 1024
    h = fits.Header()
    h["DETECTOR"], h["SUBARRAY"] = "NRCB1", "FULL"
    path = tmp_path / "i_cal.fits"
    fits.HDUList([fits.PrimaryHDU(header=h), fits.ImageHDU(sci, name="SCI"),
                  fits.ImageHDU(dq, name="DQ")]).writeto(path)
    src = open_source(path)
    f = src.frame()
    info = pixel_info(f, src.meta, 20, 10)
    assert (info.x, info.y, info.value) == (21, 11, 10 * n + 20)
    assert info.amplifier == 2 and info.flags == ["DO_NOT_USE", "DEAD"]
    assert "x 21" in info.text() and "DEAD" in info.text()
    assert pixel_info(f, src.meta, 0, 0).reference
    assert pixel_info(f, src.meta, n, 0) is None
    src.close()


def test_named_image_extensions_are_planes(tmp_path):
    path = tmp_path / "truth.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.full((8, 8), 2.0, np.float32), name="GAIN"),
                  fits.ImageHDU(np.ones((8, 8), np.uint8), name="VOID"),
                  fits.ImageHDU(np.zeros((3, 3), np.float32), name="IPC")]).writeto(path)
    src = open_source(path)
    assert src.ngroups == 2 and src.plane_names == ["GAIN", "VOID"]
    assert src.frame(0, 0).image[0, 0] == 2.0 and src.frame(0, 1).image[0, 0] == 1.0
    src.close()


def test_unshowable_file_names_the_file(tmp_path):
    path = tmp_path / "empty.fits"
    fits.HDUList([fits.PrimaryHDU()]).writeto(path)
    with pytest.raises(NircamFileError, match="empty.fits"):
        open_source(path)

