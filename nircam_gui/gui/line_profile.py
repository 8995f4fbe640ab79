"""Line profiles (DS9's projection): a line the user drags on the image and the values along it."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from ..core.region_stats import line_profile

__all__ = ["LineProfileTool"]


class LineProfileTool(QWidget):
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
        super().__init__(parent)
        self.viewer_getter = viewer_getter
        self.viewer = None
        self.roi: pg.LineSegmentROI | None = None
        self.button = QPushButton("Profile line")
        self.button.setCheckable(True)
        self.button.setToolTip("Put a line on the image: drag its ends; the values along it are plotted here")
        self.button.toggled.connect(self.set_active)
        self.plot = pg.PlotWidget()
        self.plot.setBackground(None)
        self.plot.setMinimumSize(160, 100)
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setLabel("bottom", "distance along the line (pixels)")
        self.curve = self.plot.plot([], [], pen=pg.mkPen("#3f86c0", width=1.5), stepMode=None)
        self.label = QLabel("")
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(self.button)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.label)

    def set_active(self, on: bool) -> None:
        self._remove()
        if not on:
            return
        viewer = self.viewer_getter()
        if viewer is None or viewer.frame is None:
            self.label.setText("Open an image first (Image or Gain tab).")
            self.button.blockSignals(True)
            self.button.setChecked(False)
            self.button.blockSignals(False)
            return
        rect = viewer.canvas.view.viewRect()
        c = rect.center()
        self.set_line(viewer, c.x() - rect.width() / 4, c.y(), c.x() + rect.width() / 4, c.y())

    def set_line(self, viewer, x0: float, y0: float, x1: float, y1: float) -> None:
        """Put the line from ``(x0, y0)`` to ``(x1, y1)`` (0-based pixel centres) on ``viewer``."""
        self._remove()
        self.viewer = viewer
        self.button.blockSignals(True)
        self.button.setChecked(True)
        self.button.blockSignals(False)
        # the canvas draws pixel i over [i, i+1): centres at i + 0.5
        self.roi = pg.LineSegmentROI([(x0 + 0.5, y0 + 0.5), (x1 + 0.5, y1 + 0.5)],
                                     pen=pg.mkPen("#ffd23c", width=2))
        self.roi.setZValue(50)
        viewer.canvas.view.addItem(self.roi)
        self.roi.sigRegionChanged.connect(self.update_profile)
        viewer.frame_shown.connect(self.update_profile)
        self.update_profile()

    def ends(self) -> tuple[float, float, float, float] | None:
        """0-based ``(x0, y0, x1, y1)`` of the line."""
        if self.roi is None:
            return None
        (a, b) = [self.roi.mapToParent(h.pos()) for h in self.roi.getHandles()]
        return a.x() - 0.5, a.y() - 0.5, b.x() - 0.5, b.y() - 0.5

    def update_profile(self, *_) -> None:
        if self.roi is None or self.viewer is None or self.viewer.frame is None:
            return
        x0, y0, x1, y1 = self.ends()
        distance, xs, ys, values = line_profile(self.viewer.frame.image, x0, y0, x1, y1)
        self.curve.setData(distance, np.where(np.isfinite(values), values, np.nan), connect="finite")
        self.label.setText(f"x {x0 + 1:.0f}, y {y0 + 1:.0f} → x {x1 + 1:.0f}, y {y1 + 1:.0f}: "
                           f"{len(values)} samples, 1-based")
        self.plotted.emit((distance, values))

    def _remove(self) -> None:
        if self.roi is not None and self.viewer is not None:
            self.viewer.canvas.view.removeItem(self.roi)
            self.viewer.frame_shown.disconnect(self.update_profile)
        self.roi = None
        self.viewer = None
