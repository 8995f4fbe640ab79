"""DS9 region files drawn over the Image tab (outlines only, as DS9 shows them).

Pixel-coordinate shapes are drawn: polygon, circle, ellipse, box (rectangle, rotated),
point and line; regions in sky coordinates need a WCS and are reported instead.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pyqtgraph as pg

from ..core.errors import NircamFileError

__all__ = ["RegionOverlay", "region_outlines"]

_PEN = pg.mkPen(0, 230, 90, 255, width=2, cosmetic=True)


def region_outlines(path: str | os.PathLike) -> tuple[list[np.ndarray], int]:
    """Outlines of the pixel regions of a DS9 file as ``(n, 2)`` arrays of 0-based x, y.

    Returns
    -------
    (list of ndarray, int)
        The outlines and the number of regions skipped (sky coordinates or unknown shapes).

    Raises
    ------
    NircamFileError
        The file cannot be read or parsed.
    """
    from regions import (
        CirclePixelRegion,
        EllipsePixelRegion,
        LinePixelRegion,
        PointPixelRegion,
        PolygonPixelRegion,
        RectanglePixelRegion,
        Regions,
    )

    path = os.fspath(path)
    try:
        regs = Regions.read(path, format="ds9")
    except FileNotFoundError:
        raise NircamFileError(path, "region file does not exist") from None
    except Exception as exc:  # regions raises several parser errors
        raise NircamFileError(path, f"not a readable DS9 region file ({exc})") from None
    out, skipped = [], 0
    t = np.linspace(0, 2 * math.pi, 73)
    for r in regs:
        if isinstance(r, PolygonPixelRegion):
            v = np.column_stack([r.vertices.x, r.vertices.y])
            out.append(np.vstack([v, v[:1]]))
        elif isinstance(r, CirclePixelRegion):
            out.append(np.column_stack([r.center.x + r.radius * np.cos(t), r.center.y + r.radius * np.sin(t)]))
        elif isinstance(r, (EllipsePixelRegion, RectanglePixelRegion)):
            a = math.radians(float(getattr(r.angle, "value", r.angle)))
            if isinstance(r, EllipsePixelRegion):
                x, y = r.width / 2 * np.cos(t), r.height / 2 * np.sin(t)
            else:
                x = np.array([-1, 1, 1, -1, -1]) * r.width / 2
                y = np.array([-1, -1, 1, 1, -1]) * r.height / 2
            out.append(np.column_stack([r.center.x + x * math.cos(a) - y * math.sin(a),
                                        r.center.y + x * math.sin(a) + y * math.cos(a)]))
        elif isinstance(r, PointPixelRegion):
            out.append(np.array([[r.center.x, r.center.y]]))
        elif isinstance(r, LinePixelRegion):
            out.append(np.array([[r.start.x, r.start.y], [r.end.x, r.end.y]]))
        else:
            skipped += 1
    return out, skipped


class RegionOverlay:
    """Outlines of DS9 regions on an ImageCanvas's view."""

    def __init__(self, view: pg.ViewBox) -> None:
        self.view = view
        self.items: list[pg.PlotDataItem] = []
        self.path = ""

    def load(self, path: str) -> tuple[int, int]:
        """Replace the outlines with those of ``path``; returns (drawn, skipped)."""
        outlines, skipped = region_outlines(path)
        self.clear()
        for o in outlines:
            # region coordinates put pixel centres at integers; the canvas at i + 0.5
            symbol = "+" if len(o) == 1 else None
            item = pg.PlotDataItem(o[:, 0] + 0.5, o[:, 1] + 0.5, pen=_PEN if symbol is None else None,
                                   symbol=symbol, symbolPen=_PEN, symbolSize=12)
            item.setZValue(30)
            self.view.addItem(item)
            self.items.append(item)
        self.path = path
        return len(outlines), skipped

    def clear(self) -> None:
        for item in self.items:
            self.view.removeItem(item)
        self.items = []
        self.path = ""

    def set_visible(self, on: bool) -> None:
        for item in self.items:
            item.setVisible(on)


