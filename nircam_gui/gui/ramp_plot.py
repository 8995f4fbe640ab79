"""The up-the-ramp plot: the pixel under the pointer, group by group.

Shown in its own dock beside the Image tab. As the pointer rests on a pixel of a ramp, the
pixel's values in every group of the integration on screen are read through the file's
section in a background thread (a few bytes per group) and plotted: raw values, and with a
SUPERBIAS reference set (the Gain tab's) the bias-subtracted ramp as well; the SATURATION
reference value of the pixel and the PTC signal limit (group 1 + the detector's limit) are
drawn as horizontal lines. Reference images are read once and kept.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QThreadPool, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from ..core.detector import get_detector
from ..core.pixel_ramp import PixelRamp, read_pixel_ramp
from .workers import Worker

__all__ = ["RampPlot", "pixel_ramp_job"]

#: milliseconds the pointer must rest before the ramp is read (a sweeping pointer reads nothing)
HOVER_DELAY_MS = 60


@lru_cache(maxsize=4)
def _reference_image(path: str, reftype: str, mtime: float) -> np.ndarray | None:
    from ..core.readers import open_reference

    data = open_reference(path, reftype).data
    return None if data is None or data.ndim != 2 else np.asarray(data, dtype=np.float64)


def pixel_ramp_job(path: str, integration: int, column: int, row: int,
                   references: dict[str, str]) -> tuple[PixelRamp, dict[str, float], float | None]:
    """Worker: the pixel's ramp, its reference values (``SUPERBIAS``, ``SATURATION``) and the signal limit."""
    ramp = read_pixel_ramp(path, integration, column, row)
    values: dict[str, float] = {}
    for reftype in ("SUPERBIAS", "SATURATION"):
        ref = references.get(reftype)
        if ref and os.path.isfile(ref):
            image = _reference_image(ref, reftype, os.path.getmtime(ref))
            if image is not None and 0 <= row < image.shape[0] and 0 <= column < image.shape[1]:
                values[reftype] = float(image[row, column])
    limit = None
    try:
        from ..core.readers import read_metadata

        detector = read_metadata(path).detector
        limit = get_detector(detector).signal_limit if detector else None
    except Exception:  # noqa: BLE001 - an unknown detector only drops the limit line
        limit = None
    return ramp, values, limit


class RampPlot(QWidget):
    """Values of one pixel up the ramp, following the pointer on the Image tab.

    Parameters
    ----------
    references : callable, optional
        Returns ``{reftype: path}`` of the reference files to use (the Gain tab's).

    Signals
    -------
    shown(object)
        A ramp is plotted (the :class:`~nircam_gui.core.pixel_ramp.PixelRamp`).
    failed(str)
    """

    shown = Signal(object)
    failed = Signal(str)

    def __init__(self, references=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.references = references or (lambda: {})
        self.ramp: PixelRamp | None = None
        self.reference_values: dict[str, float] = {}
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._request: tuple | None = None
        self._inflight = False
        self._timer = QTimer(self, singleShot=True, interval=HOVER_DELAY_MS)
        self._timer.timeout.connect(self._start)

        self.plot = pg.PlotWidget()
        self.plot.setMinimumSize(160, 120)
        self.plot.setBackground(None)
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        item = self.plot.getPlotItem()
        item.setLabel("bottom", "group")
        item.setLabel("left", "value (ADU)")
        item.addLegend(offset=(6, 6), labelTextSize="8pt")
        self.raw_curve = item.plot([], [], pen=pg.mkPen("#3f86c0", width=2), symbol="o", symbolSize=5,
                                   symbolBrush="#3f86c0", name="raw")
        self.cal_curve = item.plot([], [], pen=pg.mkPen("#c0392b", width=2), symbol="s", symbolSize=5,
                                   symbolBrush="#c0392b", name="minus superbias")
        self.saturation_line = pg.InfiniteLine(angle=0, pen=pg.mkPen("#e67e22", width=1.5, style=pg.QtCore.Qt.PenStyle.DashLine),
                                               label="saturation {value:.0f}", labelOpts={"position": 0.15})
        self.limit_line = pg.InfiniteLine(angle=0, pen=pg.mkPen("#27ae60", width=1.5, style=pg.QtCore.Qt.PenStyle.DotLine),
                                          label="signal limit {value:.0f}", labelOpts={"position": 0.6})
        for line in (self.saturation_line, self.limit_line):
            line.setVisible(False)
            item.addItem(line, ignoreBounds=True)
        self.follow_box = QCheckBox("Follow the pointer")
        self.follow_box.setChecked(True)
        self.follow_box.setToolTip("Off: the plot keeps the last pixel (click a pixel to plot it)")
        self.title = QLabel("Point at a ramp in the Image tab.")
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        top = QHBoxLayout()
        top.setContentsMargins(4, 0, 4, 0)
        top.addWidget(self.title, 1)
        top.addWidget(self.follow_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.plot, 1)

    # -- requests -----------------------------------------------------------------------
    def point_at(self, path: str, integration: int, column: int, row: int, force: bool = False) -> None:
        """Plot ``(column, row)`` (0-based) of integration ``integration`` of ``path`` (after a short rest)."""
        if not force and not self.follow_box.isChecked():
            return
        self._request = (path, integration, column, row)
        self._timer.start(0 if force else HOVER_DELAY_MS)

    @property
    def busy(self) -> bool:
        return self._inflight or self._timer.isActive()

    def _start(self) -> None:
        if self._inflight or self._request is None:
            return
        request, self._request = self._request, None
        self._inflight = True
        refs = {k: v for k, v in (self.references() or {}).items() if v}
        worker = Worker(pixel_ramp_job, *request, refs, name="Pixel ramp")
        worker.returned.connect(self._show)
        worker.errored.connect(self.failed)
        worker.finished.connect(self._finished)
        self._worker = worker  # keep it alive until it reports
        worker.start(self._pool)

    def _finished(self) -> None:
        self._inflight = False
        if self._request is not None:
            self._start()

    # -- drawing ------------------------------------------------------------------------
    def _show(self, out) -> None:
        ramp, values, limit = out
        self.ramp, self.reference_values = ramp, values
        x = ramp.groups
        self.raw_curve.setData(x, ramp.values)
        bias = values.get("SUPERBIAS")
        if bias is not None:
            self.cal_curve.setData(x, ramp.values - bias)
        else:
            self.cal_curve.setData([], [])
        sat = values.get("SATURATION")
        self.saturation_line.setVisible(sat is not None)
        if sat is not None:
            self.saturation_line.setValue(sat)
        self.limit_line.setVisible(limit is not None and ramp.values.size > 0)
        if limit is not None and ramp.values.size:
            self.limit_line.setValue(float(ramp.values[0]) + limit)
        self.title.setText(f"x {ramp.column + 1}, y {ramp.row + 1}, integration {ramp.integration + 1}: "
                           f"{ramp.values.size} groups")
        self.title.setToolTip("Raw values as stored; with a SUPERBIAS set in the Gain tab also the raw ramp "
                              "minus the superbias; dashed: the pixel's SATURATION value; dotted: group 1 + "
                              "the detector's PTC signal limit")
        self.shown.emit(ramp)
