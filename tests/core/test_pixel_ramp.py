"""One pixel up the ramp, read through the file section, against the full frames."""

from __future__ import annotations

import numpy as np
import pytest

from nircam_gui.core.detector import native_to_dms
from nircam_gui.core.errors import NircamFileError
from nircam_gui.core.pixel_ramp import dms_to_native_index, read_pixel_ramp, reference_pixel_value
from nircam_gui.core.readers import open_ramp, open_reference
from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats


@pytest.fixture(scope="module")
def ground(tmp_path_factory):
    """Ground-test cubes, stored in native read-out order (A4 flips x and y)."""
    folder = tmp_path_factory.mktemp("ground")
    return simulate_flats(folder, FlatSimConfig(detector="NRCA4", size=64, nints=2, ngroups=4, seed=2,
                                                layout="ground"))


@pytest.fixture(scope="module")
def uncal(tmp_path_factory):
    folder = tmp_path_factory.mktemp("uncal")
    return simulate_flats(folder, FlatSimConfig(detector="NRCB1", size=64, nints=2, ngroups=5, seed=3,
                                                layout="uncal_multi"))


@pytest.mark.parametrize("detector", ["NRCA1", "NRCA2", "NRCA4", "NRCB1", "NRCB3", "NRCALONG", "NRCBLONG"])
def test_native_index_inverts_the_dms_transform(detector):
    rng = np.random.default_rng(1)
    native = rng.integers(0, 10**6, size=(16, 16))
    dms = native_to_dms(native, detector)
    for row, column in ((0, 0), (3, 11), (15, 2), (7, 15)):
        r, c = dms_to_native_index(row, column, detector, dms.shape)
        assert native[r, c] == dms[row, column]


@pytest.mark.parametrize("which", ["ground", "uncal"])
def test_pixel_ramp_equals_the_frames(which, ground, uncal):
    sim = ground if which == "ground" else uncal
    path = str(sim.ramps[0])
    with open_ramp(path) as ramp:
        nints = ramp.meta.nints
        frames = [ramp.read_groups(i) for i in range(nints)]
    for integration in range(nints):
        for column, row in ((0, 0), (10, 50), (63, 5)):
            got = read_pixel_ramp(path, integration, column, row)
            assert got.values.dtype == np.float64
            np.testing.assert_array_equal(got.values, frames[integration][:, row, column].astype(np.float64))
            assert list(got.groups) == list(range(1, frames[integration].shape[0] + 1))
    # the ramp rises with the flat's signal
    assert np.all(np.diff(read_pixel_ramp(path, 0, 30, 30).values) > 0)


def test_pixel_ramp_outside_is_a_clear_error(uncal):
    path = str(uncal.ramps[0])
    with pytest.raises(NircamFileError, match="outside the 64x64 frame"):
        read_pixel_ramp(path, 0, 64, 3)
    with pytest.raises(NircamFileError, match="integration 9"):
        read_pixel_ramp(path, 8, 1, 1)


def test_reference_pixel_value(uncal):
    path = uncal.references["SATURATION"]
    data = open_reference(path, "SATURATION").data
    assert reference_pixel_value(path, "SATURATION", 12, 40) == float(data[40, 12])
    with pytest.raises(NircamFileError, match="outside"):
        reference_pixel_value(path, "SATURATION", 100, 1)
