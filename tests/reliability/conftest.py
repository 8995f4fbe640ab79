"""Small simulated data sets shared by the reliability tests (128-pixel frames: seconds, not minutes)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats
from nircam_gui.core.simulate.images import CalSimConfig, simulate_cal_images

#: the fastest gain options: no IPC step, boxes that fit a 128-pixel frame, no figures
FAST_GAIN = ["--ipc", "none", "--box", "32", "--no-figures", "-q"]


@pytest.fixture(scope="session")
def flats(tmp_path_factory):
    """NRCB4 (epoxy void), 4 integrations of 4 groups, 128x128, with reference files and regions."""
    return simulate_flats(tmp_path_factory.mktemp("rel_flats"),
                          FlatSimConfig(detector="NRCB4", size=128, nints=4, ngroups=4, seed=3))


@pytest.fixture(scope="session")
def flats_b1(tmp_path_factory):
    """Another detector of the same size, for reference files of the wrong detector."""
    return simulate_flats(tmp_path_factory.mktemp("rel_flats_b1"),
                          FlatSimConfig(detector="NRCB1", size=128, nints=2, ngroups=3, seed=4))


@pytest.fixture(scope="session")
def flats_64(tmp_path_factory):
    """The same detector at another frame size, for shape mismatches."""
    return simulate_flats(tmp_path_factory.mktemp("rel_flats_64"),
                          FlatSimConfig(detector="NRCB4", size=64, nints=2, ngroups=3, seed=5))


@pytest.fixture(scope="session")
def cals(tmp_path_factory):
    """Three NRCBLONG F277W _cal images, 128x128, with their ground FLAT and MASK."""
    return simulate_cal_images(tmp_path_factory.mktemp("rel_cals"),
                               CalSimConfig(detectors=("NRCBLONG",), filters=("F277W",), n_images=3, size=128,
                                            seed=5))


def copy_with(src: str | Path, dst: Path, *, primary: dict | None = None, sci=None) -> Path:
    """Copy a FITS file, changing primary keywords and/or replacing the SCI data."""
    with fits.open(src) as hdul:
        out = fits.HDUList([h.copy() for h in hdul])
    for key, value in (primary or {}).items():
        out[0].header[key] = value
    if sci is not None:
        out["SCI"].data = sci
    out.writeto(dst, overwrite=True)
    return dst


def truncated_copy(src: str | Path, dst: Path, fraction: float = 0.5) -> Path:
    data = Path(src).read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


def uncal_sci(path: str | Path) -> np.ndarray:
    with fits.open(path) as hdul:
        return np.array(hdul["SCI"].data)


def copy_set(paths, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy(p, folder)) for p in paths]
