import tracemalloc

import numpy as np
import pytest
from astropy.io import fits

from nircam_gui.core.errors import NircamFileError, NotFullFrameError
from nircam_gui.core.readers import read_metadata, open_image, open_ramp, open_reference, require_full_frame


def _uncal(path, data, **keys):
    ph = fits.PrimaryHDU()
    ph.header.update(DETECTOR="NRCA3", READPATT="RAPID", NFRAMES=1, GROUPGAP=0, TFRAME=10.73677,
                     TGROUP=10.73677, FILTER="F150W", PUPIL="CLEAR", EXP_TYPE="NRC_FLAT", SUBARRAY="FULL",
                     DATE_OBS="x")
    ph.header["DATE-OBS"] = "2022-07-01"
    ph.header["TIME-OBS"] = "12:00:00"
    ph.header.update(keys)
    fits.HDUList([ph, fits.ImageHDU(data, name="SCI")]).writeto(path)
    return path


def test_uncal_round_trip_and_metadata(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.integers(0, 65535, (2, 5, 16, 16)).astype(np.uint16)
    p = _uncal(tmp_path / "x_uncal.fits", data)
    with open_ramp(p) as ramp:
        m = ramp.meta
        assert (m.kind, m.detector, m.nints, m.ngroups, m.ny, m.nx) == ("uncal", "NRCA3", 2, 5, 16, 16)
        assert m.readpatt == "RAPID" and m.filter == "F150W" and m.exp_type == "NRC_FLAT"
        assert m.start_iso.startswith("2022-07-01T12:00:00")
        np.testing.assert_array_equal(ramp.read_groups(1, 1, 4), data[1, 1:4])
        np.testing.assert_array_equal(ramp.read_group(0, 4), data[0, 4])
        chunks = list(ramp.iter_chunks(1, chunk=2))
        assert [g0 for g0, _ in chunks] == [0, 2, 4]
        np.testing.assert_array_equal(np.concatenate([c for _, c in chunks]), data[1])
        with pytest.raises(IndexError, match="integration 2"):
            ramp.read_groups(2)
        with pytest.raises(IndexError, match="groups"):
            ramp.read_groups(0, 3, 9)


def test_ground_cube_detector_from_file_name(tmp_path):
    data = np.arange(3 * 8 * 8, dtype=np.uint16).reshape(3, 8, 8)
    p = tmp_path / "NRCN815A-LIN-4244002823_2_484_SE_2014-09-01T01h03m52.fits"
    fits.PrimaryHDU(data).writeto(p)
    m = read_metadata(p)
    assert (m.kind, m.detector, m.nints, m.ngroups) == ("ground_ramp", "NRCA4", 1, 3)
    with open_ramp(p) as r:
        np.testing.assert_array_equal(r.read_groups(0), data)


def test_reading_one_group_does_not_load_the_ramp(tmp_path):
    data = np.zeros((1, 40, 512, 512), np.uint16)  # 21 MB on disk
    p = _uncal(tmp_path / "big_uncal.fits", data)
    with open_ramp(p) as ramp:
        tracemalloc.start()
        frame = ramp.read_group(0, 17)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert frame.shape == (512, 512)
        assert peak < 4 * frame.nbytes  # one group (0.5 MB), not the 21 MB ramp
        assert not ramp._hdu._data_loaded


def test_cal_image(tmp_path):
    sci = np.ones((32, 32), np.float32)
    dq = np.zeros((32, 32), np.uint32)
    dq[3, 4] = 1025
    ph = fits.PrimaryHDU()
    ph.header.update(DETECTOR="NRCBLONG", FILTER="F444W", PUPIL="CLEAR", EXP_TYPE="NRC_IMAGE")
    p = tmp_path / "a_cal.fits"
    fits.HDUList([ph, fits.ImageHDU(sci, name="SCI"), fits.ImageHDU(sci, name="ERR"),
                  fits.ImageHDU(dq, name="DQ")]).writeto(p)
    with open_image(p) as im:
        assert im.meta.kind == "cal" and im.meta.detector == "NRCBLONG" and im.meta.filter == "F444W"
        assert im.dq[3, 4] == 1025 and im.sci.shape == (32, 32)
    assert "NRCBLONG" in read_metadata(p).summary() and "F444W" in read_metadata(p).summary()


def test_clear_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.fits"
    with pytest.raises(NircamFileError, match="nope.fits: file does not exist"):
        open_ramp(missing)
    junk = tmp_path / "junk.fits"
    junk.write_text("this is not FITS")
    with pytest.raises(NircamFileError, match="junk.fits: not a readable FITS file"):
        read_metadata(junk)
    cal = tmp_path / "b_cal.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.ones((8, 8), np.float32), name="SCI")]).writeto(cal)
    with pytest.raises(NircamFileError, match="b_cal.fits: not a ramp"):
        open_ramp(cal)
    with pytest.raises(NircamFileError, match="not a JWST reference file"):
        open_reference(cal)


def test_subarray_gets_a_clear_message(tmp_path):
    data = np.zeros((1, 2, 64, 64), np.uint16)
    p = _uncal(tmp_path / "sub_uncal.fits", data, SUBARRAY="SUB64P", SUBSTRT1=1985, SUBSTRT2=1)
    m = read_metadata(p)
    assert not m.is_full_frame
    with pytest.raises(NotFullFrameError, match="gain analysis needs full-frame data.*SUB64P"):
        require_full_frame(m, "the gain analysis")


@pytest.mark.parametrize("dtype,scale", [(np.float32, None), (np.float64, None), (np.uint16, None),
                                         (np.uint32, None), (np.int16, None), (np.int32, None),
                                         (np.int16, (2.0, 10.0))])
def test_reference_arrays_decoded_as_astropy_decodes_them(tmp_path, dtype, scale):
    rng = np.random.default_rng(1)
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    data = (rng.integers(info.min, info.max, (3, 40, 30), endpoint=True).astype(dtype) if info is not None
            else rng.normal(0, 1e3, (3, 40, 30)).astype(dtype))
    prim = fits.PrimaryHDU()
    prim.header.update(REFTYPE="LINEARITY", DETECTOR="NRCA1")
    hdu = fits.ImageHDU(data, name="COEFFS")
    if scale is not None:  # a scaled image: astropy decodes it
        hdu.scale("int16", bscale=scale[0], bzero=scale[1])
    dq = fits.ImageHDU(rng.integers(0, 2**32, (40, 30), dtype=np.uint32, endpoint=False), name="DQ")
    path = tmp_path / "lin.fits"
    fits.HDUList([prim, hdu, dq]).writeto(path)
    ref = open_reference(path, "LINEARITY")
    with fits.open(path) as hl:
        for arr, name in ((ref.coeffs, "COEFFS"), (ref.dq, "DQ")):
            want = hl[name].data
            assert arr.dtype == want.dtype.newbyteorder("=") and arr.dtype.isnative
            np.testing.assert_array_equal(arr, want)
