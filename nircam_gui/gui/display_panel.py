"""Display controls: stretch limits, scaling, colour map, levels and histogram."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ..core.display import LIMIT_METHODS, SCALINGS
from .colormaps import COLORMAPS, lookup_table

__all__ = ["DisplayPanel", "HistogramPlot"]


class HistogramPlot(pg.PlotWidget):
    """Histogram of the displayed frame's sample with the display limits as a draggable band.

    Signals
    -------
    levels_dragged(float, float)
        The user moved the band: new ``(low, high)``.
    """

    levels_dragged = Signal(float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground(None)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.setMinimumHeight(80)
        item = self.getPlotItem()
        item.setLogMode(y=True)
        item.hideAxis("left")
        item.getAxis("bottom").setStyle(tickLength=-4)
        self.curve = pg.PlotDataItem(stepMode="center", fillLevel=0, pen=pg.mkPen("#8fa6c9"),
                                     brush=pg.mkBrush(143, 166, 201, 110))
        self.addItem(self.curve)
        self.region = pg.LinearRegionItem(brush=pg.mkBrush(255, 200, 60, 25),
                                          pen=pg.mkPen("#e0a020", width=2))
        self.region.setZValue(10)
        self.addItem(self.region)
        self.region.sigRegionChangeFinished.connect(self._region_moved)
        self._updating = False

    def set_data(self, sample: np.ndarray, low: float, high: float) -> None:
        """Show the histogram of ``sample`` around ``[low, high]``."""
        self._updating = True
        try:
            if sample.size:
                # span the limits plus the bulk of the data, not single hot pixels
                p_lo, p_hi = np.percentile(sample, [0.1, 99.9])
                span = max(high - low, 1e-12)
                x0 = min(low - 0.25 * span, p_lo)
                x1 = max(high + 0.25 * span, p_hi)
                if x1 <= x0:
                    x1 = x0 + 1.0
                counts, edges = np.histogram(sample, bins=128, range=(x0, x1))
                self.curve.setData(edges, np.maximum(counts, 0.8))
                self.setXRange(x0, x1, padding=0)
            else:
                self.curve.setData([], [])
            self.region.setRegion((low, high))
        finally:
            self._updating = False

    def _region_moved(self) -> None:
        if not self._updating:
            lo, hi = self.region.getRegion()
            self.levels_dragged.emit(float(lo), float(hi))


class ColorStrip(QWidget):
    """The colour map between the display limits, stretched to the widget (a 1-row image)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedHeight(12)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.image = QImage()

    def set_image(self, image: QImage) -> None:
        self.image = image
        self.update()

    def pixmap(self) -> QPixmap:
        return QPixmap.fromImage(self.image)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        if not self.image.isNull():
            painter = QPainter(self)
            painter.drawImage(self.rect(), self.image)
            painter.end()


class DisplayPanel(QWidget):
    """Controls for how the image is stretched and coloured (the DS9 Scale and Color menus).

    The panel holds no state of its own: the viewer calls :meth:`show_state` after every
    change, and the panel emits ``changed(name, value)`` when the user edits something.
    """

    changed = Signal(str, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.limits = QComboBox()
        self.limits.addItems(LIMIT_METHODS)
        self.limits.setToolTip("How the display limits are chosen (zscale as in DS9/IRAF)")
        self.scaling = QComboBox()
        self.scaling.addItems(SCALINGS)
        self.scaling.setToolTip("Scaling between the limits")
        self.colormap = QComboBox()
        self.colormap.addItems(COLORMAPS)
        # long colour-map names must not widen the dock: the combo elides instead
        self.colormap.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.colormap.setMinimumContentsLength(6)
        self.nan_button = QPushButton("NaN")
        self.nan_button.setToolTip("Colour of NaN pixels (and of the area around the image), in every view; "
                                   "click to choose")
        self.nan_button.setFixedWidth(44)
        self.nan_button.clicked.connect(self.choose_nan_colour)
        self.nan_colour: tuple[int, int, int] = (0, 0, 0)
        self.low = self._spin("Lower display limit")
        self.high = self._spin("Upper display limit")
        self.colorbar = ColorStrip()
        self.histogram = HistogramPlot()
        # the colour bar's scale: the limits at its ends and the data unit
        self.colorbar_low = QLabel()
        self.colorbar_high = QLabel()
        self.colorbar_high.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.unit = ""

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Limits", self.limits)
        form.addRow("Scale", self.scaling)
        colours = QHBoxLayout()
        colours.addWidget(self.colormap, 1)
        colours.addWidget(self.nan_button)
        form.addRow("Colours", colours)
        levels = QHBoxLayout()
        levels.addWidget(self.low)
        levels.addWidget(QLabel("to"))
        levels.addWidget(self.high)
        form.addRow("Levels", levels)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(form)
        layout.addWidget(self.histogram, 1)
        layout.addWidget(self.colorbar)
        scale = QHBoxLayout()
        scale.setContentsMargins(0, 0, 0, 0)
        scale.addWidget(self.colorbar_low)
        scale.addStretch(1)
        scale.addWidget(self.colorbar_high)
        layout.addLayout(scale)

        self.limits.currentTextChanged.connect(lambda v: self.changed.emit("limits", v))
        self.scaling.currentTextChanged.connect(lambda v: self.changed.emit("scaling", v))
        self.colormap.currentTextChanged.connect(lambda v: self.changed.emit("colormap", v))
        self.low.editingFinished.connect(self._levels_typed)
        self.high.editingFinished.connect(self._levels_typed)
        self.histogram.levels_dragged.connect(lambda lo, hi: self.changed.emit("manual_levels", (lo, hi)))

    @staticmethod
    def _spin(tip: str) -> QDoubleSpinBox:
        spin = QDoubleSpinBox()
        spin.setRange(-1e30, 1e30)
        spin.setDecimals(2)
        spin.setKeyboardTracking(False)
        spin.setButtonSymbols(QDoubleSpinBox.ButtonSymbols.NoButtons)
        spin.setToolTip(tip)
        spin.setAlignment(Qt.AlignmentFlag.AlignRight)
        # the range (±1e30) would make Qt ask for a very wide field; levels fit in far less
        spin.setMinimumWidth(72)
        return spin

    def choose_nan_colour(self) -> None:
        """Ask for the NaN colour; emits ``changed("nan_colour", (r, g, b))`` when one is chosen."""
        colour = QColorDialog.getColor(QColor(*self.nan_colour), self, "Colour of NaN pixels")
        if colour.isValid():
            self.changed.emit("nan_colour", (colour.red(), colour.green(), colour.blue()))

    def show_nan_colour(self, rgb: tuple[int, int, int]) -> None:
        """Show ``rgb`` on the NaN colour button (no signal)."""
        self.nan_colour = tuple(int(c) for c in rgb)
        r, g, b = self.nan_colour
        text = "black" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "white"  # legible on the swatch
        self.nan_button.setStyleSheet(f"QPushButton {{ background-color: rgb({r}, {g}, {b}); color: {text}; }}")

    def _levels_typed(self) -> None:
        lo, hi = self.low.value(), self.high.value()
        if hi > lo:
            self.changed.emit("manual_levels", (lo, hi))

    def show_state(self, limits: str, scaling: str, colormap: str, levels: tuple[float, float],
                   sample: np.ndarray | None, unit: str | None = None) -> None:
        """Show the viewer's state without emitting ``changed``; ``unit`` labels the colour bar."""
        if unit is not None:
            self.unit = unit
        self.colorbar_low.setText(f"{levels[0]:.6g}")
        self.colorbar_high.setText(f"{levels[1]:.6g} {self.unit}".rstrip())
        for widget, value in ((self.limits, limits), (self.scaling, scaling), (self.colormap, colormap)):
            widget.blockSignals(True)
            widget.setCurrentText(value)
            widget.blockSignals(False)
        for spin, value in ((self.low, levels[0]), (self.high, levels[1])):
            spin.blockSignals(True)
            # enough decimals for small ranges (e.g. gain maps of ~2 e-/ADU)
            spin.setDecimals(4 if abs(levels[1] - levels[0]) < 10 else 2)
            spin.setValue(value)
            spin.blockSignals(False)
        if sample is not None:
            self.histogram.set_data(sample, *levels)
        lut = np.ascontiguousarray(lookup_table(colormap if colormap in COLORMAPS else "gray", scaling)[::16][None, :, :])
        image = QImage(lut.data, lut.shape[1], 1, lut.shape[1] * 3, QImage.Format.Format_RGB888)
        self.colorbar.set_image(image.copy())
