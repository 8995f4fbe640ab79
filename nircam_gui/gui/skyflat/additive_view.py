"""The additive light a sky-flat run kept out of the flats: amplitudes per image (report sections 3.5-3.6).

Draws what :class:`~nircam_gui.core.skyflat.additive.AdditiveResult` holds; the template and
the rejected pixels are image panels of the detector view, this widget plots the per-image
amplitudes (by filter, images with claw regions marked) and says whether a template was
applied.
"""

from __future__ import annotations

import os

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ...core.skyflat.additive import AdditiveResult
from .backgrounds import _COLOURS, filter_order

__all__ = ["AdditiveView", "additive_summary"]


def additive_summary(add: AdditiveResult | None) -> str:
    """One line: applied or not, significance, images with claws."""
    if add is None:
        return "Additive light: not separated (report's plain method, or too few images per filter)."
    claws = [os.path.basename(f) for f, fl in zip(add.files, add.flagged) if fl]
    head = (f"Additive template ({add.source}) applied, significance {add.z:.0f}σ; amplitudes "
            f"{np.min(add.amplitudes):.3f}–{np.max(add.amplitudes):.3f} of the sky at the template's peak"
            if add.detected else f"No significant additive template (significance {add.z:.1f}); flats not changed by it")
    return head + (f". Claw regions rejected in {len(claws)} image(s)." if claws else ". No claw regions.")


class AdditiveView(QWidget):
    """Amplitude of the additive template per image, one colour per filter; claw images as crosses."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.plot = pg.PlotWidget(background="w")
        self.plot.showGrid(x=False, y=True, alpha=0.3)
        self.plot.setLabel("left", "amplitude (fraction of sky)")
        self.plot.setLabel("bottom", "image (stack order)")
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setMinimumHeight(120)
        self.legend = self.plot.addLegend(offset=(-10, 10), labelTextColor="k")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.note)
        layout.addWidget(self.plot, 1)
        self.n_points = 0

    def set_additive(self, add: AdditiveResult | None) -> None:
        """Show one detector's additive result (None clears)."""
        self.plot.clear()
        self.legend.clear()
        self.note.setText(additive_summary(add))
        self.n_points = 0
        if add is None:
            return
        x = np.arange(len(add.files))
        amps = np.asarray(add.amplitudes, float)
        errs = np.asarray(add.amplitude_errors, float)
        filters = np.asarray(add.filters)
        for k, f in enumerate(filter_order(add.filters)):
            sel = filters == f
            colour = _COLOURS[k % len(_COLOURS)]
            self.plot.addItem(pg.ErrorBarItem(x=x[sel], y=amps[sel], height=2 * errs[sel], pen=pg.mkPen(colour)))
            self.plot.plot(x[sel], amps[sel], pen=None, symbol="o", symbolSize=7, symbolBrush=colour, name=f)
            self.n_points += int(sel.sum())
        claws = np.asarray(add.flagged, bool)
        if claws.any():
            self.plot.plot(x[claws], amps[claws], pen=None, symbol="x", symbolSize=12,
                           symbolPen=pg.mkPen("k", width=2), name="claws rejected")
