"""A tool that puts one region of interest on the active image view and follows it.

The statistics box and the profile line share this: a checkable button that places the
region on the image view of the tab in front (the Image tab or the Gain tab's flat), the
region kept above the image, and a :meth:`RoiTool.request` each time the region moves or a
new frame (group, integration) is on screen. A subclass makes the region and says what a
request does.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QPushButton, QWidget

__all__ = ["RoiTool"]

#: colour of the regions on the image
ROI_PEN = pg.mkPen("#ffd23c", width=2)


class RoiTool(QWidget):
    """Base of the image tools that show one draggable region on the active viewer.

    Parameters
    ----------
    viewer_getter : callable
        Returns the ImageViewer the region goes on (the active one), or None.
    text, tip : str
        The button's text and tool tip.
    """

    def __init__(self, viewer_getter, text: str, tip: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer_getter = viewer_getter
        self.viewer = None
        self.roi: pg.ROI | None = None
        self.button = QPushButton(text)
        self.button.setCheckable(True)
        self.button.setToolTip(tip)
        self.button.toggled.connect(self.set_active)
        self.label = QLabel("")

    # -- what a subclass provides ---------------------------------------------------------
    def place_default(self, viewer) -> None:
        """Put the region where the user first sees it (a part of the visible view)."""
        raise NotImplementedError

    def request(self, *_) -> None:
        """The region moved or the frame changed: update what the tool shows."""
        raise NotImplementedError

    # -- shared -------------------------------------------------------------------------
    def set_active(self, on: bool) -> None:
        """Put the region on the active viewer, or remove it."""
        self._remove()
        if not on:
            return
        viewer = self.viewer_getter()
        if viewer is None or viewer.frame is None:
            self.label.setText("Open an image first (Image or Gain tab).")
            self._check(False)
            return
        self.place_default(viewer)

    def attach(self, viewer, roi: pg.ROI) -> None:
        """Show ``roi`` on ``viewer`` (replacing any region shown before) and follow it."""
        self._remove()
        self.viewer, self.roi = viewer, roi
        self._check(True)
        roi.setZValue(50)
        viewer.canvas.view.addItem(roi)
        roi.sigRegionChanged.connect(self.request)
        viewer.frame_shown.connect(self.request)  # a new group: new numbers for the same region
        self.request()

    def _check(self, on: bool) -> None:
        self.button.blockSignals(True)
        self.button.setChecked(on)
        self.button.blockSignals(False)

    def _remove(self) -> None:
        if self.roi is not None and self.viewer is not None:
            self.viewer.canvas.view.removeItem(self.roi)
            self.viewer.frame_shown.disconnect(self.request)
        self.roi = None
        self.viewer = None
