"""Per-detector products of a sky-flat run: delta flats, fit, new flats, filter dependence, coverage.

Views (report JWST-STScI-008304): *Filters* puts each filter's delta flat and the grey
one side by side over their fractional differences from grey (Figs. 4-6); *Overview*
shows the grey delta, its large-scale fit, grey/fit and the coverage; single products
fill the whole area. Delta flats and the fit share one scale so they compare by eye;
differences use a symmetric diverging scale. Any input image's source mask can be drawn
over every panel.
"""

from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ...core.skyflat.result import DetectorResult, SkyflatResult
from ..workers import TaskRunner
from .additive_view import AdditiveView
from .images import ImageGrid, PanelSpec

__all__ = ["DetectorView"]

#: diverging map for ratios and differences (blue below, red above)
DIVERGING = "CET-D1"
NO_MASK = "(no source mask)"
ADDITIVE = "Additive light (template, rejected, amplitudes)"
#: display smoothing choices (block size)
SMOOTHING = (1, 4, 8, 16, 32)


def _ratio(a: np.ndarray, b: np.ndarray, minus: float = 0.0) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a / b - minus).astype(np.float32)


class DetectorView(QWidget):
    """Detector and product choosers over an :class:`ImageGrid`.

    Signals
    -------
    error(str)
    """

    error = Signal(str)

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.result: SkyflatResult | None = None
        self.detector_combo = QComboBox()
        self.detector_combo.setToolTip("Detector")
        self.view_combo = QComboBox()
        self.view_combo.setToolTip("What to show")
        self.view_combo.setMinimumContentsLength(16)
        self.mask_combo = QComboBox()
        self.mask_combo.setToolTip("Draw the source mask (sources + DO_NOT_USE) of one input image over the panels")
        self.mask_combo.setMinimumContentsLength(12)
        self.smooth_combo = QComboBox()
        for n in SMOOTHING:
            self.smooth_combo.addItem("pixels" if n == 1 else f"{n}×{n} median", n)
        self.smooth_combo.setToolTip("Display only: median of blocks, to see large-scale structure through the "
                                     "pixel noise (the readout keeps each pixel's value)")
        for combo in (self.detector_combo, self.view_combo, self.mask_combo, self.smooth_combo):
            # long names must not widen the window: the combos shrink and elide instead
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.detector_combo.setMinimumContentsLength(8)
        self.smooth_combo.setMinimumContentsLength(8)
        self.grid = ImageGrid(runner)
        self.additive_view = AdditiveView()
        self.additive_view.hide()
        top = QHBoxLayout()
        top.addWidget(QLabel("Detector"))
        top.addWidget(self.detector_combo)
        top.addWidget(QLabel("Show"))
        top.addWidget(self.view_combo)
        top.addWidget(self.smooth_combo)
        top.addStretch(1)
        second = QHBoxLayout()
        second.addWidget(QLabel("Source mask of"))
        second.addWidget(self.mask_combo, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addLayout(second)
        layout.addWidget(self.grid, 3)
        layout.addWidget(self.additive_view, 2)
        self.detector_combo.currentTextChanged.connect(self._detector_changed)
        self.view_combo.currentTextChanged.connect(lambda _: self.refresh())
        self.mask_combo.currentIndexChanged.connect(lambda _: self._mask_changed())
        self.smooth_combo.currentIndexChanged.connect(lambda _: self.refresh())

    @property
    def busy(self) -> bool:
        return self.grid.busy

    @property
    def summary(self) -> DetectorResult | None:
        if self.result is None:
            return None
        return self.result.detectors.get(self.detector_combo.currentText())

    def set_result(self, result: SkyflatResult | None) -> None:
        self.result = result
        self.detector_combo.blockSignals(True)
        self.detector_combo.clear()
        if result is not None:
            self.detector_combo.addItems(list(result.detectors))
        self.detector_combo.blockSignals(False)
        self._detector_changed()

    def views(self) -> list[str]:
        s = self.summary
        if s is None:
            return []
        names = ["Filters (deltas, / grey − 1)", "Overview (grey, fit, ratio, coverage)",
                 "Grey delta flat", "Large-scale fit", "Grey / fit", "Coverage"]
        names += [f"{t} delta flat" for t in s.deltas]
        names += [f"New flat {t}" for t in s.flats]
        if s.additive is not None:
            names.append(ADDITIVE)
        return names

    def _detector_changed(self) -> None:
        s = self.summary
        keep = self.view_combo.currentText()
        self.view_combo.blockSignals(True)
        self.view_combo.clear()
        self.view_combo.addItems(self.views())
        if keep and self.view_combo.findText(keep) >= 0:
            self.view_combo.setCurrentText(keep)
        self.view_combo.blockSignals(False)
        self.mask_combo.blockSignals(True)
        self.mask_combo.clear()
        self.mask_combo.addItem(NO_MASK, "")
        if s is not None:
            for token, files in s.groups.items():
                for f in files:
                    self.mask_combo.addItem(f"{token}: {os.path.basename(f)}", f)
        self.mask_combo.blockSignals(False)
        self.grid.set_overlay(None)
        self.refresh()

    def _mask_changed(self) -> None:
        s = self.summary
        f = self.mask_combo.currentData()
        mask = s.source_mask(f) if (s is not None and f) else None
        if f and mask is None:
            self.error.emit(f"{f}: its source mask was not kept by this run")
        self.grid.set_overlay(mask)

    def show_view(self, name: str) -> None:
        """Select a view by its (start of) name."""
        for i in range(self.view_combo.count()):
            if self.view_combo.itemText(i).startswith(name):
                self.view_combo.setCurrentIndex(i)
                return
        raise KeyError(name)

    def show_mask_of(self, path: str) -> None:
        i = self.mask_combo.findData(path)
        if i < 0:
            raise KeyError(path)
        self.mask_combo.setCurrentIndex(i)

    def refresh(self) -> None:
        """Draw the chosen view of the chosen detector."""
        s = self.summary
        name = self.view_combo.currentText()
        if s is None or s.grey is None or not name:
            self.grid.clear()
            self.additive_view.hide()
            return
        specs, ncols = self.panels(s, name)
        self.additive_view.setVisible(name == ADDITIVE)
        if name == ADDITIVE:
            self.additive_view.set_additive(s.additive)
        smooth = int(self.smooth_combo.currentData() or 1)
        for spec in specs:
            if spec.colormap != "viridis":  # not the coverage: counts are exact
                spec.smooth = smooth
        self.grid.set_panels(specs, ncols)

    def panels(self, s: DetectorResult, name: str) -> tuple[list[PanelSpec], int]:
        """The panels of view ``name`` and the number of columns."""
        # the deltas and the fit share one scale (set by the grey delta), as in the report's figures
        grey = PanelSpec("grey delta", s.grey, "99.5%", group="flat")
        if name.startswith("Filters"):
            tops = [PanelSpec(f"{t} delta", d, "99.5%", group="flat") for t, d in s.deltas.items()] + [grey]
            bottoms = [PanelSpec(f"{t} / grey − 1", d.filtdiff, "sym:0", DIVERGING, ".4f", group="frac")
                       for t, d in s.filter_deltas.items()]
            return tops + bottoms, len(tops)
        fit = PanelSpec(f"fit ({s.fit_method})", s.fit, "99.5%", group="flat")
        ratio = PanelSpec("grey / fit", _ratio(s.grey, s.fit), "sym:1", DIVERGING)
        cov = PanelSpec("coverage", s.coverage, "minmax", "viridis", ".6g", unit="images")
        if name.startswith("Overview"):
            return [grey, fit, ratio, cov], 2
        single = {"Grey delta flat": grey, "Large-scale fit": fit, "Grey / fit": ratio, "Coverage": cov}
        if name in single:
            return [single[name]], 1
        if name.endswith(" delta flat"):
            token = name[: -len(" delta flat")]
            return [PanelSpec(f"{token} delta", s.deltas[token], "99.5%")], 1
        if name == ADDITIVE and s.additive is not None:
            return [PanelSpec("additive template (× amplitude = share of the sky)", s.additive.template, "minmax"),
                    PanelSpec("images rejecting the pixel as scattered light", s.additive.flagged_count,
                              "minmax", "viridis", ".6g")], 2
        if name.startswith("New flat "):
            token = name[len("New flat "):]
            return [PanelSpec(f"{token} new flat", s.flats[token].data, "99.5%")], 1
        raise KeyError(name)
