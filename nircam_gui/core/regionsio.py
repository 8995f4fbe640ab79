"""DS9 region files for epoxy-void polygons, through the ``regions`` package.

In memory, polygon vertices are 0-based pixel coordinates ``(x, y)`` (numpy
convention: pixel centres at integers). DS9 files hold 1-based image coordinates;
``regions`` does the conversion, so a write/read round trip is exact.
"""

from __future__ import annotations

import os

import numpy as np
from regions import PixCoord, PolygonPixelRegion, Regions

from .errors import NircamFileError
from .fileio import atomic_path

__all__ = ["polygons_mask", "read_polygons", "write_polygons"]


def write_polygons(path: str | os.PathLike, polygons: list[np.ndarray], label: str = "epoxy void") -> None:
    """Write polygons (each an ``(n, 2)`` array of 0-based x, y) as a DS9 image-coordinate file."""
    regs = []
    for verts in polygons:
        verts = np.asarray(verts, dtype=float)
        reg = PolygonPixelRegion(PixCoord(x=verts[:, 0], y=verts[:, 1]))
        reg.meta["text"] = label
        regs.append(reg)
    with atomic_path(path) as tmp:
        Regions(regs).write(str(tmp), format="ds9", overwrite=True, precision=4)


def read_polygons(path: str | os.PathLike) -> list[np.ndarray]:
    """Polygons of a DS9 region file, as ``(n, 2)`` arrays of 0-based x, y.

    Raises
    ------
    NircamFileError
        If the file cannot be parsed, holds sky coordinates, or shapes other than polygons.
    """
    try:
        regs = Regions.read(os.fspath(path), format="ds9")
    except Exception as exc:  # regions raises several types for malformed files
        raise NircamFileError(path, f"not a readable DS9 region file ({exc})") from None
    out = []
    for reg in regs:
        if not isinstance(reg, PolygonPixelRegion):
            raise NircamFileError(
                path, f"only polygons in image coordinates are supported, found {type(reg).__name__}"
            )
        out.append(np.column_stack([reg.vertices.x, reg.vertices.y]).astype(float))
    return out


def polygons_mask(polygons: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask of the pixels whose centres fall inside any polygon."""
    mask = np.zeros(shape, dtype=bool)
    for verts in polygons:
        reg = PolygonPixelRegion(PixCoord(x=verts[:, 0], y=verts[:, 1]))
        m = reg.to_mask(mode="center")
        mask |= m.to_image(shape).astype(bool) if m is not None else False
    return mask
