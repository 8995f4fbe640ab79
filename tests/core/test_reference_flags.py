"""Flag tests on a reference file's words as stored equal the same tests on the decoded array."""

import gzip

import numpy as np
import pytest
from astropy.io import fits

from nircam_gui.core.errors import NircamFileError
from nircam_gui.core.readers import open_reference, reference_flags

BITS = 1 | 1024 | 2048  # DO_NOT_USE, DEAD, HOT


def _mask(path, dq, reftype="MASK", extname="DQ", scale=None):
    prim = fits.PrimaryHDU()
    prim.header.update(REFTYPE=reftype, DETECTOR="NRCB1")
    hdu = fits.ImageHDU(dq, name=extname)
    if scale is not None:
        hdu.scale(scale[0], bzero=scale[1])
    fits.HDUList([prim, hdu]).writeto(path)
    return path


@pytest.mark.parametrize("dtype", [np.uint32, np.int32, np.uint16, np.int16, np.uint8, np.int64])
@pytest.mark.parametrize("bits", [BITS, 2**31 | 1, 1])
def test_stored_words_flag_the_decoded_bits(tmp_path, dtype, bits):
    rng = np.random.default_rng(0)
    info = np.iinfo(dtype)
    dq = rng.integers(info.min, info.max, (37, 53), endpoint=True, dtype=dtype)
    dq[0, :6] = np.array([0, 1, 1024, 2048, 3073, 2**7]).astype(dtype)
    dq[1, :2] = info.max, info.min
    path = _mask(tmp_path / "m.fits", dq)
    ref, words, stored = reference_flags(path, "MASK", bits)
    assert ref.reftype == "MASK" and ref.meta.detector == "NRCB1" and ref.dq is None
    decoded = open_reference(path, "MASK", ("DQ",)).dq
    want = (decoded.astype(np.uint64) & np.uint64(bits & (2 ** (8 * decoded.itemsize) - 1))) != 0
    assert want.any() and not want.all()
    np.testing.assert_array_equal((words & words.dtype.type(stored)) != 0, want)


def test_compressed_file_is_decoded(tmp_path):
    dq = np.zeros((20, 30), np.uint32)
    dq[3, 4], dq[5, 6], dq[7, 8] = 1024, 4, 2**31
    plain = _mask(tmp_path / "m.fits", dq)
    gz = tmp_path / "m.fits.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    _, words, stored = reference_flags(gz, "MASK", BITS)
    np.testing.assert_array_equal((words & stored) != 0, (dq & BITS) != 0)


def test_float_flags_that_are_whole_numbers_are_read(tmp_path):
    dq = np.zeros((20, 30), np.float32)
    dq[3, 4], dq[5, 6] = 1024, 8
    _, words, stored = reference_flags(_mask(tmp_path / "m.fits", dq), "MASK", BITS)
    np.testing.assert_array_equal((words & stored) != 0, dq == 1024)


def test_scaled_words_are_decoded(tmp_path):
    dq = np.zeros((20, 30), np.int32)
    dq[3, 4], dq[5, 6] = 1024 + 7, 8  # 1024 + 7 - 7 = 1024 once decoded
    path = _mask(tmp_path / "m.fits", dq, scale=("int32", 7))
    _, words, stored = reference_flags(path, "MASK", BITS)
    decoded = open_reference(path, "MASK", ("DQ",)).dq
    assert decoded.dtype.kind == "f"  # astropy decodes a scaled image to floats
    np.testing.assert_array_equal((words & stored) != 0, (decoded.astype(np.uint32) & BITS) != 0)


def test_bad_mask_files_are_named(tmp_path):
    with pytest.raises(NircamFileError, match="expected MASK"):
        reference_flags(_mask(tmp_path / "a.fits", np.zeros((8, 8), np.uint32), reftype="GAIN"), "MASK", BITS)
    with pytest.raises(NircamFileError, match="has no DQ array"):
        reference_flags(_mask(tmp_path / "b.fits", np.zeros((8, 8), np.uint32), extname="SCI"), "MASK", BITS)
    with pytest.raises(NircamFileError, match="not an image of flags"):
        reference_flags(_mask(tmp_path / "c.fits", np.full((8, 8), 0.5, np.float32)), "MASK", BITS)
    with pytest.raises(NircamFileError, match="not an image of flags"):
        reference_flags(_mask(tmp_path / "e.fits", np.full((8, 8), np.nan, np.float32)), "MASK", BITS)
    with pytest.raises(NircamFileError, match="not a numeric image"):
        reference_flags(_mask(tmp_path / "d.fits", np.zeros(8, np.uint32)), "MASK", BITS)
