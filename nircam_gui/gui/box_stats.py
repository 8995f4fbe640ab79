"""Statistics of a box drawn on the image (DS9's region statistics): a rectangle the user
drags and resizes; mean, median, std, 3-sigma clipped mean/median/sigma and the number of
pixels of the frame on screen, computed in a background thread."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QThreadPool, QTimer, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ..core.region_stats import BoxStatistics, box_statistics
from .roi_tool import ROI_PEN, RoiTool
from .workers import Worker

__all__ = ["BoxStatsTool"]


class BoxStatsTool(RoiTool):
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
        super().__init__(viewer_getter, "Statistics box",
                         "Put a box on the image: drag it, resize it by its corner; its statistics show here", parent)
        self.stats: BoxStatistics | None = None
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._inflight = False
        self._again = False
        self._timer = QTimer(self, singleShot=True, interval=80)
        self._timer.timeout.connect(self._compute)
        self.label.setText("Press the button, then drag the box on the image.")
        self.label.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(self.button)
        layout.addWidget(self.label, 1)

    def place_default(self, viewer) -> None:
        """The box centred on the view, a quarter of its size."""
        rect = viewer.canvas.view.viewRect()
        ny, nx = viewer.frame.image.shape
        w = max(4, int(min(rect.width(), nx) / 4))
        h = max(4, int(min(rect.height(), ny) / 4))
        cx, cy = int(rect.center().x()), int(rect.center().y())
        self.set_box(viewer, cx - w // 2, cy - h // 2, w, h)

    def set_box(self, viewer, x0: int, y0: int, width: int, height: int) -> None:
        """Put the box with its lower-left pixel at 0-based ``(x0, y0)`` on ``viewer``."""
        self.attach(viewer, pg.RectROI((x0, y0), (width, height), pen=ROI_PEN, snapSize=1.0, translateSnap=True,
                                       scaleSnap=True))

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
        self._timer.start()  # a dragged box asks many times a second: compute the latest only

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
