"""Fuzzing the readers and the region parser: any bytes, any header, gives NircamFileError or a result.

Example counts are modest (the whole module runs in well under a minute) and the search is
derandomized, so a run is reproducible; ``database=None`` keeps hypothesis from writing into
the source tree. ``deadline=None``: no timing assertions. For a deeper search, set
``NIRCAM_FUZZ_EXAMPLES`` (e.g. 2000) and ``NIRCAM_FUZZ_RANDOM=1`` (a new random search each run).
"""

from __future__ import annotations

import io
import math
import os
import warnings

import numpy as np
import pytest
from astropy.io import fits
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nircam_gui.core.errors import NircamFileError
from nircam_gui.core.readers import read_metadata, open_image, open_ramp, open_reference
from nircam_gui.core.regionsio import check_polygons, polygons_mask, read_polygons

FUZZ = settings(max_examples=int(os.environ.get("NIRCAM_FUZZ_EXAMPLES", "80")), deadline=None,
                derandomize=not os.environ.get("NIRCAM_FUZZ_RANDOM"), database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# -- seeds: three small valid files, built in memory -----------------------------------------------

def _bytes(hdul: fits.HDUList) -> bytes:
    buf = io.BytesIO()
    hdul.writeto(buf)
    return buf.getvalue()


def _uncal() -> bytes:
    primary = fits.PrimaryHDU()
    primary.header.update({"DETECTOR": "NRCB1", "READPATT": "RAPID", "NFRAMES": 1, "TFRAME": 10.7,
                           "SUBARRAY": "FULL", "EXPSTART": 60000.0})
    sci = fits.ImageHDU((np.arange(2 * 3 * 16 * 16) % 60000).astype(np.uint16).reshape(2, 3, 16, 16), name="SCI")
    return _bytes(fits.HDUList([primary, sci]))


def _cal() -> bytes:
    primary = fits.PrimaryHDU()
    primary.header.update({"DETECTOR": "NRCA1", "FILTER": "F200W", "SUBARRAY": "FULL"})
    return _bytes(fits.HDUList([primary, fits.ImageHDU(np.ones((16, 16), np.float32), name="SCI"),
                                fits.ImageHDU(np.zeros((16, 16), np.uint32), name="DQ")]))


def _reference() -> bytes:
    primary = fits.PrimaryHDU()
    primary.header.update({"REFTYPE": "GAIN", "DETECTOR": "NRCB1"})
    return _bytes(fits.HDUList([primary, fits.ImageHDU(np.full((16, 16), 2.0, np.float32), name="SCI")]))


SEEDS = {"uncal": _uncal(), "cal": _cal(), "reference": _reference()}

# keywords that steer the readers, and values of every awkward kind
KEYS = ["NAXIS", "NAXIS1", "NAXIS2", "NAXIS3", "NAXIS4", "BITPIX", "BZERO", "BSCALE", "EXTNAME", "XTENSION",
        "REFTYPE", "DETECTOR", "SCA_ID", "SUBARRAY", "SUBSTRT1", "SUBSTRT2", "NFRAMES", "GROUPGAP", "TFRAME",
        "TGROUP", "EXPSTART", "DATE-OBS", "TIME-OBS", "NRCORIEN", "PCOUNT", "GCOUNT", "END"]
VALUES = st.one_of(
    st.integers(-2**40, 2**40), st.sampled_from([0, 1, 2, 3, 4, 5, 8, 16, -32, -64, 32768, 2048]),
    st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=20),
    st.sampled_from(["SCI", "DQ", "IMAGE", "BINTABLE", "MASK", "NRCB1", "FULL", "native", "2022-01-01", "T"]),
)


def _card(key: str, value) -> bytes:
    """One 80-character header card, written by hand so that invalid values get through."""
    if key == "END":
        return b"END".ljust(80)
    if isinstance(value, bool):
        text = "T" if value else "F"
    elif isinstance(value, str):
        text = "'" + value.replace("'", "''")[:60] + "'"
    elif isinstance(value, float) and not math.isfinite(value):
        text = str(value).upper()
    else:
        text = repr(value)
    return f"{key:<8}= {text:>20}".encode("ascii")[:80].ljust(80)


def _set_cards(data: bytes, edits: list[tuple[int, str, object]]) -> bytes:
    """Overwrite header cards: each edit puts ``KEY = value`` into the card slot at index ``slot``."""
    buf = bytearray(data)
    header_cards = []
    for i in range(0, len(buf) - 79, 80):  # every card that starts with a keyword
        if buf[i:i + 1].isalpha():
            header_cards.append(i)
    for slot, key, value in edits:
        if header_cards:
            pos = header_cards[slot % len(header_cards)]
            buf[pos:pos + 80] = _card(key, value)
    return bytes(buf)


def _exercise(path) -> None:
    """Open with every reader and touch the data: only NircamFileError may come out."""
    for reader in (read_metadata, open_reference):
        try:
            reader(path)
        except NircamFileError:
            pass
    try:
        with open_ramp(path) as ramp:
            if ramp.meta.nints and ramp.meta.ngroups:
                ramp.read_groups(0, 0, 1)
            ramp.read_extension("GROUPDQ")
    except NircamFileError:
        pass
    try:
        with open_image(path) as img:
            np.asarray(img.sci).sum()
            np.asarray(img.dq).sum()
            img.err
    except NircamFileError:
        pass


@pytest.fixture
def fuzz_file(tmp_path):
    return tmp_path / "fuzz.fits"


@FUZZ
@given(data=st.binary(max_size=6000), fits_like=st.booleans())
def test_any_bytes(fuzz_file, data, fits_like):
    fuzz_file.write_bytes((b"SIMPLE  =                    T" + data) if fits_like else data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _exercise(fuzz_file)


@FUZZ
@given(seed=st.sampled_from(sorted(SEEDS)), flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)),
                                                           max_size=12),
       cut=st.one_of(st.none(), st.floats(0.0, 1.0)))
def test_damaged_files(fuzz_file, seed, flips, cut):
    data = bytearray(SEEDS[seed])
    for pos, byte in flips:
        data[pos % len(data)] = byte
    if cut is not None:
        data = data[: int(len(data) * cut)]
    fuzz_file.write_bytes(bytes(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _exercise(fuzz_file)


@FUZZ
@given(seed=st.sampled_from(sorted(SEEDS)),
       edits=st.lists(st.tuples(st.integers(0, 200), st.sampled_from(KEYS), VALUES), min_size=1, max_size=6))
def test_any_header(fuzz_file, seed, edits):
    fuzz_file.write_bytes(_set_cards(SEEDS[seed], edits))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _exercise(fuzz_file)


def test_huge_axis_count_is_refused_before_astropy(fuzz_file):
    """Found by test_any_header: NAXIS = 5706649 made astropy build a list of 5.7 million axes
    (minutes and gigabytes) before failing; the readers now refuse it from the header bytes."""
    fuzz_file.write_bytes(_set_cards(SEEDS["uncal"], [(7, "NAXIS", 5706649)]))
    for reader in (read_metadata, open_ramp, open_image, open_reference):
        with pytest.raises(NircamFileError, match="NAXIS = 5706649 is not a number of axes"):
            reader(fuzz_file)


# -- regions ---------------------------------------------------------------------------------------

NUMBER = st.one_of(st.floats(-1e4, 1e4, allow_nan=False), st.integers(-5000, 5000),
                   st.sampled_from(["nan", "inf", "1e400", "", "x", "1,", "(", ")"]))
POLYGON_LINE = st.builds(lambda shape, nums, close: f"{shape}(" + ",".join(map(str, nums)) + (")" if close else ""),
                         st.sampled_from(["polygon", "circle", "box", "point", "Polygon", "polygon "]),
                         st.lists(NUMBER, max_size=12), st.booleans())
REGION_TEXT = st.one_of(
    st.text(max_size=300),
    st.builds(lambda system, lines: "\n".join(["# Region file format: DS9", system, *lines]),
              st.sampled_from(["image", "physical", "fk5", "icrs", "", "global color=green"]),
              st.lists(POLYGON_LINE, max_size=4)),
)


@FUZZ
@given(text=REGION_TEXT)
def test_any_region_file(tmp_path, text):
    path = tmp_path / "fuzz.reg"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            polygons = read_polygons(path)
    except NircamFileError as exc:
        assert exc.path == str(path)
        return
    for verts in polygons:  # whatever is accepted can be used
        assert verts.ndim == 2 and verts.shape[0] >= 3 and verts.shape[1] == 2 and np.isfinite(verts).all()
    try:
        check_polygons(polygons, (64, 64), path)
    except NircamFileError as exc:
        assert "covers no pixel" in exc.problem
    assert polygons_mask(polygons, (64, 64)).shape == (64, 64)
