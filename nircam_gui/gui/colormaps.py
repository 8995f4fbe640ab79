"""Colour maps and the lookup tables that combine them with a scaling."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyqtgraph as pg

from ..core.display import scaling_curve

__all__ = ["COLORMAPS", "colormap", "lookup_table"]

#: Offered colour maps: grey first (what DS9 users expect), then perceptually uniform maps.
COLORMAPS: tuple[str, ...] = ("gray", "gray (inverted)", "viridis", "inferno", "magma", "cividis", "heat")

_PYQTGRAPH_NAMES = {"heat": "CET-L3"}  # CET-L3 is a perceptual black-red-yellow-white, like DS9 "heat"

#: Lookup-table length: long enough that log and asinh scalings show no banding.
LUT_SIZE = 4096


@lru_cache(maxsize=None)
def colormap(name: str) -> pg.ColorMap:
    """The pyqtgraph colour map called ``name`` (see :data:`COLORMAPS`)."""
    if name == "gray":
        return pg.ColorMap(pos=[0.0, 1.0], color=[(0, 0, 0), (255, 255, 255)], name=name)
    if name == "gray (inverted)":
        return pg.ColorMap(pos=[0.0, 1.0], color=[(255, 255, 255), (0, 0, 0)], name=name)
    return pg.colormap.get(_PYQTGRAPH_NAMES.get(name, name))


@lru_cache(maxsize=64)
def lookup_table(name: str, scaling: str, n: int = LUT_SIZE) -> np.ndarray:
    """``(n, 3)`` uint8 colours for ``n`` evenly spaced levels between the display limits."""
    cmap = colormap(name)
    rgba = cmap.map(scaling_curve(scaling, n), mode=pg.ColorMap.BYTE)
    lut = np.ascontiguousarray(rgba[:, :3])
    lut.setflags(write=False)
    return lut
