"""Simulated ramps as real level-1b files: written through stdatamodels.

The jwst pipeline's file-name entry points (``strun``, ``Step.call(path)``) open a file
through its ASDF extension, which only stdatamodels writes; a level-1b exposure also
carries the GROUP table (one row per integration and group, with its end time) and the
INT_TIMES table (start, middle and end of each integration).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.time import Time, TimeDelta

from ..fileio import atomic_path

__all__ = ["group_table", "int_times_table", "write_level1b"]

_GROUP_DTYPE = np.dtype([
    ("integration_number", "<i4"), ("group_number", "<i2"), ("end_day", "<i2"), ("end_milliseconds", "<i4"),
    ("end_submilliseconds", "<i2"), ("group_end_time", "S26"), ("number_of_columns", "<i2"),
    ("number_of_rows", "<i2"), ("number_of_gaps", "<i2"), ("completion_code_number", "<i2"),
    ("completion_code_text", "S36"), ("bary_end_time", "<f8"), ("helio_end_time", "<f8"),
])
_INT_TIMES_DTYPE = np.dtype([
    ("integration_number", "<i4"), ("int_start_MJD_UTC", "<f8"), ("int_mid_MJD_UTC", "<f8"),
    ("int_end_MJD_UTC", "<f8"), ("int_start_BJD_TDB", "<f8"), ("int_mid_BJD_TDB", "<f8"), ("int_end_BJD_TDB", "<f8"),
])


def group_table(start_mjd: float, nints: int, ngroups: int, tgroup: float, shape: tuple[int, int]) -> np.ndarray:
    """GROUP rows: integration and group numbers (1-based) and each group's end time (UTC).

    The barycentric and heliocentric columns hold the UTC MJD: a simulated exposure has no
    pointing to correct for.
    """
    rows = np.zeros(nints * ngroups, _GROUP_DTYPE)
    k = np.arange(nints * ngroups)
    end = Time(start_mjd, format="mjd", scale="utc") + TimeDelta((k + 1) * tgroup, format="sec")
    rows["integration_number"] = k // ngroups + 1
    rows["group_number"] = k % ngroups + 1
    rows["end_day"] = [int(t.strftime("%j")) for t in end]
    ms = (end.mjd % 1.0) * 86400e3
    rows["end_milliseconds"] = ms.astype(np.int32)
    rows["end_submilliseconds"] = ((ms % 1.0) * 1e3).astype(np.int16)
    rows["group_end_time"] = [t.isot.encode() for t in end]
    rows["number_of_rows"], rows["number_of_columns"] = shape
    rows["completion_code_text"] = b"COMPLETE"
    rows["bary_end_time"] = rows["helio_end_time"] = end.mjd
    return rows


def int_times_table(start_mjd: float, nints: int, ngroups: int, tgroup: float) -> np.ndarray:
    """INT_TIMES rows: start, middle and end of each integration (MJD; TDB columns hold UTC)."""
    rows = np.zeros(nints, _INT_TIMES_DTYPE)
    length = ngroups * tgroup / 86400.0
    start = start_mjd + np.arange(nints) * length
    rows["integration_number"] = np.arange(1, nints + 1)
    for prefix, values in (("start", start), ("mid", start + length / 2), ("end", start + length)):
        rows[f"int_{prefix}_MJD_UTC"] = values
        rows[f"int_{prefix}_BJD_TDB"] = values
    return rows


def write_level1b(source: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Write the ramp in FITS file ``source`` (primary header + SCI) as a Level1bModel at ``path``.

    Written atomically; ``source`` is left as it is. Memory: about twice the ramp (read, then
    written as int16 with BZERO).
    """
    from stdatamodels.jwst import datamodels as dm

    path = Path(path)
    # uint16 data are stored scaled (BZERO), which astropy cannot memory-map: read once
    with fits.open(source, memmap=False) as hdul:
        h = hdul[0].header
        model = dm.Level1bModel(hdul)
        nints, ngroups, ny, nx = model.data.shape
        start = float(h["EXPSTART"])
        tgroup = float(h["TGROUP"])
        model.group = group_table(start, nints, ngroups, tgroup, (ny, nx))
        model.int_times = int_times_table(start, nints, ngroups, tgroup)
        model.meta.filename = path.name
        model.validate()
        with atomic_path(path) as tmp:
            model.save(tmp)
            with fits.open(tmp, mode="update") as out:
                out[0].header["FILENAME"] = path.name  # save() names the temporary file
        model.close()
    return path
