"""Disk space is reserved before memory-mapped writes, so a full disk is an error, not SIGBUS."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest
from astropy.io import fits

from nircam_gui.cli import sim
from nircam_gui.core.calibrate.ramp_writer import RampWriter
from nircam_gui.core.fileio import reserve


def _allocated(path) -> int:
    return os.stat(path).st_blocks * 512


def test_reserve_gives_the_file_real_blocks(tmp_path):
    path = tmp_path / "f.bin"
    with open(path, "wb") as f:
        f.write(b"head")
        reserve(f, 4, 8_000_000)
    assert os.path.getsize(path) == 8_000_004
    # a sparse file (truncate) would have almost no blocks: memory-mapped writes could then hit SIGBUS
    assert _allocated(path) >= 8_000_000


def test_calibrated_ramp_writer_reserves_its_data(tmp_path):
    path = tmp_path / "ramp.fits"
    writer = RampWriter(path, fits.Header(), (2, 3, 256, 256)).open()
    writer.write_groups(0, 0, np.ones((3, 256, 256), np.float32), np.zeros((3, 256, 256), np.uint8))
    writer.close()
    data_bytes = 2 * 3 * 256 * 256 * (4 + 1)
    assert _allocated(path) >= data_bytes
    with fits.open(path) as hdul:
        assert hdul["SCI"].data[0, 2, 10, 10] == 1.0


def _no_space(fd, offset, length):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_while_simulating_ramps_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(os, "posix_fallocate", _no_space)
    out = tmp_path / "flats"
    code = sim.main(["flats", "--out", str(out), "--size", "128", "--nints", "2", "--ngroups", "3", "--quiet"])
    err = capsys.readouterr().err
    assert code != 0
    assert "Traceback" not in err
    assert "No space left on device" in err or "disk is full" in err
    assert "uncal" in err  # the file being written is named
    assert not [p for p in out.rglob("*") if p.is_file() and "uncal" in p.name]
