"""Statistics of a box drawn on the image (DS9's region statistics): a rectangle the user
drags and resizes; mean, median, std, 3-sigma clipped mean/median/sigma and the number of
pixels of the frame on screen, computed in a background thread."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QThreadPool, QTimer, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from ..core.region_stats import BoxStatistics, box_statistics
from .workers import Worker

__all__ = ["BoxStatsTool"]


class BoxStatsTool(QWidget):
    """A toggle that puts a resizable box on a viewer's image, and the box's statistics.

    Parameters
    ----------
    viewer_getter : callable
        Returns the ImageViewer the box goes on (the active one).

    Signals
    -------
    computed(object)
        New :class:`~nircam_gui.core.region_stats.BoxStatistics`.
    """

    computed = Signal(object)

    def __init__(self, viewer_getter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer_getter = viewer_getter
        self.viewer = None
        self.roi: pg.RectROI | None = None
        self.stats: BoxStatistics | None = None
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._inflight = False
        self._again = False
        self._timer = QTimer(self, singleShot=True, interval=80)
        self._timer.timeout.connect(self._compute)
        self.button = QPushButton("Statistics box")
        self.button.setCheckable(True)
        self.button.setToolTip("Put a box on the image: drag it, resize it by its corner; its statistics show here")
        self.button.toggled.connect(self.set_active)
        self.label = QLabel("Press the button, then drag the box on the image.")
        self.label.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(self.button)
        layout.addWidget(self.label, 1)

    def set_active(self, on: bool) -> None:
        """Show the box on the active viewer (centred, a quarter of the view) or remove it."""
        if self.roi is not None and self.viewer is not None:
            self.viewer.canvas.view.removeItem(self.roi)
            self.viewer.frame_shown.disconnect(self.request)
            self.roi = None
        self.viewer = None
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
        ny, nx = viewer.frame.image.shape
        w = max(4, int(min(rect.width(), nx) / 4))
        h = max(4, int(min(rect.height(), ny) / 4))
        cx, cy = int(rect.center().x()), int(rect.center().y())
        self.set_box(viewer, cx - w // 2, cy - h // 2, w, h)

    def set_box(self, viewer, x0: int, y0: int, width: int, height: int) -> None:
        """Put the box with its lower-left pixel at 0-based ``(x0, y0)`` on ``viewer``."""
        if self.roi is not None and self.viewer is not None:
            self.viewer.canvas.view.removeItem(self.roi)
            self.viewer.frame_shown.disconnect(self.request)
        self.viewer = viewer
        self.button.blockSignals(True)
        self.button.setChecked(True)
        self.button.blockSignals(False)
        self.roi = pg.RectROI((x0, y0), (width, height), pen=pg.mkPen("#ffd23c", width=2), snapSize=1.0,
                              translateSnap=True, scaleSnap=True)
        self.roi.setZValue(50)
        viewer.canvas.view.addItem(self.roi)
        self.roi.sigRegionChanged.connect(self.request)
        viewer.frame_shown.connect(self.request)  # a new group: new numbers for the same box
        self.request()

    def corners(self) -> tuple[int, int, int, int] | None:
        """0-based inclusive ``(x0, x1, y0, y1)`` of the box."""
        if self.roi is None:
            return None
        pos, size = self.roi.pos(), self.roi.size()
        x0, y0 = math.floor(pos.x() + 0.5), math.floor(pos.y() + 0.5)
        x1 = x0 + max(int(round(size.x())), 1) - 1
        y1 = y0 + max(int(round(size.y())), 1) - 1
        return x0, x1, y0, y1

    @property
    def busy(self) -> bool:
        return self._inflight or self._timer.isActive()

    def request(self, *_) -> None:
        self._timer.start()

    def _compute(self) -> None:
        if self.viewer is None or self.viewer.frame is None or self.roi is None:
            return
        if self._inflight:
            self._again = True
            return
        frame = self.viewer.frame
        exclude = (frame.dq & 1).astype(bool) if frame.dq is not None else None  # DO_NOT_USE
        self._inflight = True
        worker = Worker(box_statistics, frame.image, *self.corners(), exclude=exclude, name="Box statistics")
        worker.returned.connect(self._show)
        worker.errored.connect(self.label.setText)
        worker.finished.connect(self._finished)
        self._worker = worker
        worker.start(self._pool)

    def _finished(self) -> None:
        self._inflight = False
        if self._again:
            self._again = False
            self._compute()

    def _show(self, stats: BoxStatistics) -> None:
        self.stats = stats
        self.label.setText(stats.text())
        self.computed.emit(stats)
