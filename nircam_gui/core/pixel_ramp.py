"""One pixel up the ramp: its value in every group of an integration, read without the frames.

What DS9 and Imviz users do with a cursor on a ramp: see the pixel's signal grow group by
group, where it saturates and where the PTC signal limit cuts it. Reading goes through the
file's section (a few bytes per group), so a 160-group full-frame ramp answers in
milliseconds whatever its size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .detector import _flip_axes, get_detector
from .errors import NircamFileError
from .readers import open_reference, open_ramp

__all__ = ["PixelRamp", "dms_to_native_index", "read_pixel_ramp", "reference_pixel_value"]


@dataclass
class PixelRamp:
    """A pixel's ramp in one integration.

    Attributes
    ----------
    column, row : int
        0-based DMS coordinates.
    integration : int
        0-based.
    values : ndarray
        ``(ngroups,)`` float64, as stored in the file (raw ADU for ``_uncal``).
    """

    column: int
    row: int
    integration: int
    values: np.ndarray

    @property
    def groups(self) -> np.ndarray:
        """1-based group numbers, for plotting."""
        return np.arange(1, self.values.size + 1)


def dms_to_native_index(row: int, column: int, detector: str, shape_dms: tuple[int, int]) -> tuple[int, int]:
    """Native read-out ``(row, column)`` of a DMS pixel, for ground-test cubes stored natively."""
    transpose, flip_y, flip_x = _flip_axes(get_detector(detector))
    ny, nx = shape_dms
    y = ny - 1 - row if flip_y else row
    x = nx - 1 - column if flip_x else column
    return (x, y) if transpose else (y, x)


def read_pixel_ramp(path: str | os.PathLike, integration: int, column: int, row: int) -> PixelRamp:
    """Every group of one pixel of one integration (0-based, DMS coordinates).

    Raises
    ------
    NircamFileError
        The file is not a ramp, or the pixel or integration is outside it.
    """
    with open_ramp(path) as ramp:
        m = ramp.meta
        if not (0 <= column < m.nx and 0 <= row < m.ny):
            raise NircamFileError(ramp.path, f"pixel x={column + 1}, y={row + 1} is outside the {m.nx}x{m.ny} frame")
        if not 0 <= integration < m.nints:
            raise NircamFileError(ramp.path, f"integration {integration + 1} is outside 1-{m.nints}")
        r, c = row, column
        if m.orientation == "native" and m.detector:
            r, c = dms_to_native_index(row, column, m.detector, (m.ny, m.nx))
        hdu = ramp._hdu
        try:
            if ramp._four_d:
                values = hdu.section[integration, :, r, c]
            else:
                values = hdu.section[:, r, c]
        except Exception as exc:  # astropy: OSError, ValueError (short reads)...
            raise NircamFileError(ramp.path, f"cannot read pixel x={column + 1}, y={row + 1} ({exc})") from None
    return PixelRamp(column, row, integration, np.asarray(values, dtype=np.float64).ravel())


def reference_pixel_value(path: str | os.PathLike, reftype: str, column: int, row: int) -> float:
    """The value of a 2-D reference file (SUPERBIAS, SATURATION...) at one DMS pixel."""
    ref = open_reference(path, reftype)
    data = ref.data
    if data is None or data.ndim != 2:
        raise NircamFileError(os.fspath(path), f"the {reftype} reference file has no 2-D image")
    if not (0 <= row < data.shape[0] and 0 <= column < data.shape[1]):
        raise NircamFileError(os.fspath(path), f"pixel x={column + 1}, y={row + 1} is outside the "
                                               f"{data.shape[1]}x{data.shape[0]} reference image")
    return float(data[row, column])
