import numpy as np
import pytest

from nircam_gui.core.detector import (
    DETECTORS,
    amplifier_bounds,
    amplifier_index,
    dms_to_native,
    get_detector,
    native_to_dms,
    reference_pixel_mask,
)


def test_ten_detectors_with_sca_numbers_and_channels():
    assert len(DETECTORS) == 10
    assert [d.sca for d in DETECTORS.values()] == list(range(481, 491))
    assert {d.name for d in DETECTORS.values() if d.channel == "LW"} == {"NRCALONG", "NRCBLONG"}


@pytest.mark.parametrize("alias", ["NRCB1", "b1", "B1", 486, "486", "NRCB1 "])
def test_aliases(alias):
    assert get_detector(alias).name == "NRCB1"


def test_longwave_aliases_and_unknown():
    assert get_detector("A5").name == "NRCALONG"
    assert get_detector("NRCB5").name == "NRCBLONG"
    with pytest.raises(KeyError, match="unknown NIRCam detector 'C3'"):
        get_detector("C3")


def test_signal_limits_follow_the_report():
    assert get_detector("B4").signal_limit == 5000.0
    assert get_detector("ALONG").signal_limit == 7500.0


def test_amplifiers_full_frame():
    assert amplifier_bounds() == [(0, 512), (512, 1024), (1024, 1536), (1536, 2048)]
    idx = amplifier_index()
    assert idx[511] == 0 and idx[512] == 1 and idx[2047] == 3
    with pytest.raises(ValueError):
        amplifier_bounds(1001)


def test_reference_border():
    m = reference_pixel_mask((2048, 2048))
    assert m.sum() == 2048 * 2048 - 2040 * 2040
    assert m[3, 1000] and not m[4, 1000] and m[1000, 2044] and not m[1000, 2043]


@pytest.mark.parametrize("name", list(DETECTORS))
def test_orientation_round_trip_and_fastaxis(name):
    det = get_detector(name)
    assert abs(det.fastaxis) == 1 and abs(det.slowaxis) == 2
    a = np.arange(3 * 8 * 8).reshape(3, 8, 8)
    np.testing.assert_array_equal(dms_to_native(native_to_dms(a, name), name), a)
    native = native_to_dms(a, name)
    # FASTAXIS=-1 means the native fast axis runs along -x in DMS
    if det.fastaxis == -1:
        np.testing.assert_array_equal(native[0, :, 0], a[0, :, -1][:: -1 if det.slowaxis < 0 else 1])
    else:
        np.testing.assert_array_equal(native[0, 0, :], a[0, -1 if det.slowaxis < 0 else 0, :])
