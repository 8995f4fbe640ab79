"""DQ flags drawn over the image in colours, with a legend (what DS9 users do with a mask layer).

One colour per flag, the first listed winning where a pixel has several. The picture is
rebuilt only when the DQ array changes (it is per file, not per group).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from ..core.dq import DEAD, DO_NOT_USE, HOT, LOW_QE, NO_FLAT_FIELD, SATURATED

__all__ = ["DQ_COLOURS", "DQOverlay", "dq_picture"]

#: flag name, bit, RGBA; drawn in this order of priority
DQ_COLOURS: list[tuple[str, int, tuple[int, int, int, int]]] = [
    ("DEAD", DEAD, (255, 0, 255, 220)),
    ("HOT", HOT, (255, 60, 40, 220)),
    ("SATURATED", SATURATED, (255, 160, 0, 200)),
    ("LOW_QE", LOW_QE, (0, 200, 255, 200)),
    ("NO_FLAT_FIELD", NO_FLAT_FIELD, (60, 90, 255, 160)),
    ("DO_NOT_USE", DO_NOT_USE, (255, 255, 0, 140)),
]


def dq_picture(dq: np.ndarray) -> tuple[np.ndarray, dict[str, int]]:
    """RGBA picture of the flags in ``dq`` and the number of pixels with each flag."""
    rgba = np.zeros(dq.shape + (4,), np.uint8)
    counts = {}
    painted = np.zeros(dq.shape, bool)
    for name, bit, colour in DQ_COLOURS:
        hit = (dq & bit) != 0
        counts[name] = int(np.count_nonzero(hit))
        new = hit & ~painted
        rgba[new] = colour
        painted |= hit
    return rgba, counts


class DQOverlay:
    """The DQ layer and its legend on an ImageCanvas's view."""

    def __init__(self, view: pg.ViewBox) -> None:
        self.view = view
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(20)
        self.image.setVisible(False)
        view.addItem(self.image)
        self.legend = pg.LegendItem(offset=(8, 8), labelTextSize="8pt", brush=pg.mkBrush(30, 30, 30, 180),
                                    labelTextColor="w")
        self.legend.setParentItem(view)
        self.legend.setVisible(False)
        self.counts: dict[str, int] = {}
        self._dq_id = None
        self.on = False

    def set_visible(self, on: bool) -> None:
        self.on = on
        self.image.setVisible(on and self._dq_id is not None)
        self.legend.setVisible(on and self._dq_id is not None)

    def set_dq(self, dq: np.ndarray | None) -> None:
        """Show the flags of ``dq`` (None: no DQ in this file; nothing is drawn)."""
        if dq is None:
            self._dq_id = None
            self.image.clear()
            self.set_visible(self.on)
            return
        if self._dq_id == id(dq):
            return
        self._dq_id = id(dq)
        picture, self.counts = dq_picture(dq)
        self.image.setImage(picture, autoLevels=False, levels=None, lut=None)
        self.legend.clear()
        for name, _, colour in DQ_COLOURS:
            if self.counts[name]:
                sample = pg.ScatterPlotItem(symbol="s", size=10, brush=pg.mkBrush(*colour[:3]), pen=None)
                self.legend.addItem(sample, f"{name} ({self.counts[name]})")
        self.set_visible(self.on)
