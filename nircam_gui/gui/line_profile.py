"""Line profiles (DS9's projection): a line the user drags on the image and the values along it."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QSizePolicy, QVBoxLayout, QWidget

from ..core.region_stats import line_profile
from .roi_tool import ROI_PEN, RoiTool

__all__ = ["LineProfileTool"]


class LineProfileTool(RoiTool):
    """A toggle that puts a line on the active viewer's image and plots the values along it.

    Parameters
    ----------
    viewer_getter : callable
        Returns the ImageViewer the line goes on (the active one).

    Signals
    -------
    plotted(object)
        ``(distance, values)`` arrays of the profile on screen.
    """

    plotted = Signal(object)

    def __init__(self, viewer_getter, parent: QWidget | None = None) -> None:
        super().__init__(viewer_getter, "Profile line",
                         "Put a line on the image: drag its ends; the values along it are plotted here", parent)
        self.plot = pg.PlotWidget()
        self.plot.setBackground(None)
        self.plot.setMinimumSize(160, 100)
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setLabel("bottom", "distance along the line (pixels)")
        self.curve = self.plot.plot([], [], pen=pg.mkPen("#3f86c0", width=1.5), stepMode=None)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(self.button)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.label)

    def place_default(self, viewer) -> None:
        """A horizontal line across the middle half of the view."""
        rect = viewer.canvas.view.viewRect()
        c = rect.center()
        self.set_line(viewer, c.x() - rect.width() / 4, c.y(), c.x() + rect.width() / 4, c.y())

    def set_line(self, viewer, x0: float, y0: float, x1: float, y1: float) -> None:
        """Put the line from ``(x0, y0)`` to ``(x1, y1)`` (0-based pixel centres) on ``viewer``."""
        # the canvas draws pixel i over [i, i+1): centres at i + 0.5
        self.attach(viewer, pg.LineSegmentROI([(x0 + 0.5, y0 + 0.5), (x1 + 0.5, y1 + 0.5)], pen=ROI_PEN))

    def ends(self) -> tuple[float, float, float, float] | None:
        """0-based ``(x0, y0, x1, y1)`` of the line."""
        if self.roi is None:
            return None
        (a, b) = [self.roi.mapToParent(h.pos()) for h in self.roi.getHandles()]
        return a.x() - 0.5, a.y() - 0.5, b.x() - 0.5, b.y() - 0.5

    def request(self, *_) -> None:
        """Plot the values along the line in the frame on screen."""
        if self.roi is None or self.viewer is None or self.viewer.frame is None:
            return
        x0, y0, x1, y1 = self.ends()
        distance, xs, ys, values = line_profile(self.viewer.frame.image, x0, y0, x1, y1)
        self.curve.setData(distance, np.where(np.isfinite(values), values, np.nan), connect="finite")
        self.label.setText(f"x {x0 + 1:.0f}, y {y0 + 1:.0f} → x {x1 + 1:.0f}, y {y1 + 1:.0f}: "
                           f"{len(values)} samples, 1-based")
        self.plotted.emit((distance, values))
