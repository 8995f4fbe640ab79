"""The live photon-transfer-curve panel: variance against mean of the selected boxes.

Everything plotted comes from the engine's precomputed arrays (``GainResult.ptc`` and
``GainResult.fit``, shape (npairs, ngroups, nbox)); a click only slices them and
hands a few dozen points to pyqtgraph, which keeps the update well inside 50 ms.

One box: the points used in the fit are red, the others blue (as in report 004622,
Figure 3); pairs differ by symbol. Several boxes: one colour per box (the colour of
its outline on the image), used points filled, the others hollow.
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QTabWidget, QVBoxLayout, QWidget

from ..sizing import compact_combo
from .box_overlay import BOX_COLOURS
from .cov_plot import CovariancePlot, box_model_curve

__all__ = ["PTCPlot", "ptc_points"]

SYMBOLS = ("o", "s", "t", "d", "h", "star", "p", "t1")
USED = (220, 40, 40)
UNUSED = (40, 90, 220)
MAX_BOXES = len(BOX_COLOURS)
SYMBOL_TEXT = {"o": "●", "s": "■", "t": "▼", "d": "◆", "h": "⬢", "star": "★", "p": "⬟", "t1": "▲"}


def ptc_points(result, box_id: int, pair_index: int) -> dict[str, np.ndarray]:
    """The points and fit of one box and pair, exactly as the engine computed them.

    Returns
    -------
    dict
        ``mean, variance, used, residuals`` over the groups; ``slope, intercept`` scalars.
    """
    b = box_id - 1
    return {
        "mean": result.ptc.mean[pair_index, :, b],
        "variance": result.ptc.variance[pair_index, :, b],
        "used": result.fit.used[pair_index, :, b],
        "residuals": result.fit.residuals[pair_index, :, b],
        "slope": float(result.fit.slope[pair_index, b]),
        "intercept": float(result.fit.intercept[pair_index, b]),
    }


class PTCPlot(QWidget):
    """Variance against mean (top) and residuals (bottom) for up to six boxes.

    Signals
    -------
    cleared()
        The user removed the boxes from the plot.
    """

    cleared = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result = None
        self.boxes: list[int] = []
        self.pair: int | None = None  # None: all pairs
        self.pair_combo = compact_combo(QComboBox(), 10)
        self.pair_combo.setToolTip("Show one pair of integrations or all of them")
        self.pair_combo.currentIndexChanged.connect(self._pair_chosen)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Remove the boxes from the plot (Ctrl+click on the image adds boxes)")
        self.clear_button.clicked.connect(self._clear_clicked)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(QLabel("Pair"))
        top.addWidget(self.pair_combo, 1)
        top.addWidget(self.clear_button)

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.plot = self.graphics.addPlot(row=0, col=0)
        self.res_plot = self.graphics.addPlot(row=1, col=0)
        self.graphics.ci.layout.setRowStretchFactor(0, 3)
        self.graphics.ci.layout.setRowStretchFactor(1, 1)
        self.res_plot.setXLink(self.plot)
        # short: on a laptop the plot is shorter than "variance of difference (ADU²)"
        self.plot.setLabel("left", "variance of diff.", units="ADU²")
        self.res_plot.setLabel("left", "residual", units="ADU²")
        self.res_plot.setLabel("bottom", "mean of sum", units="ADU")
        for p in (self.plot, self.res_plot):
            p.showGrid(x=True, y=True, alpha=0.25)
            p.getAxis("left").setWidth(62)
            for axis in ("left", "bottom"):
                p.getAxis(axis).enableAutoSIPrefix(False)  # "kADU²" reads badly; keep plain ADU
        self.limit_line = pg.InfiniteLine(angle=90, pen=pg.mkPen(120, 120, 120, style=Qt.PenStyle.DotLine))
        self.limit_line.setZValue(-5)
        self.plot.addItem(self.limit_line, ignoreBounds=True)
        self.zero_line = pg.InfiniteLine(angle=0, pos=0, pen=pg.mkPen(150, 150, 150))
        self.res_plot.addItem(self.zero_line, ignoreBounds=True)
        # items are made once and refilled: creating and deleting them per click costs more
        self._items: list[dict[str, pg.GraphicsObject]] = []
        self.text = QLabel("Click a box on the image to see its photon transfer curve "
                           "(Ctrl+click adds boxes to compare).")
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        self.cov_plot = CovariancePlot()
        self.pages = QTabWidget()
        self.pages.addTab(self.graphics, "Variance")
        self.pages.addTab(self.cov_plot, "Covariances")
        layout.addWidget(self.pages, 1)
        layout.addWidget(self.text)
        self.setMinimumWidth(240)

    # -- data -----------------------------------------------------------------------
    def set_result(self, result) -> None:
        """Use a new gain result; the plot empties until boxes are chosen."""
        self.result = result
        self.pair_combo.blockSignals(True)
        self.pair_combo.clear()
        self.pair_combo.addItem("all pairs")
        if result is not None:
            for p in result.pairs:
                used = "" if result.maps.pair_used[p.number - 1] else " (not in mean)"
                self.pair_combo.addItem(f"pair {p.number}: {p.first.label} / {p.second.label}{used}")
            self.limit_line.setValue(2 * result.signal_limit)
            self._fix_ranges(result)
        self.pair_combo.setCurrentIndex(0)
        self.pair_combo.blockSignals(False)
        self.pair = None
        self.show_boxes([])

    def _fix_ranges(self, result) -> None:
        """One scale for every box of a result (like a fixed stretch): boxes compare at a glance
        while clicking through them, and the axes need not be re-laid out on every click."""
        with np.errstate(all="ignore"):
            top = np.nanmax(result.ptc.mean, axis=(0, 1))
            vtop = np.nanmax(result.ptc.variance, axis=(0, 1))
            res = np.abs(result.fit.residuals[result.fit.used])
        xmax = float(np.nanpercentile(top, 99.5)) if np.isfinite(top).any() else 1.0
        ymax = float(np.nanpercentile(vtop, 99.5)) if np.isfinite(vtop).any() else 1.0
        rmax = float(np.nanpercentile(res, 99.5)) if np.isfinite(res).any() else 1.0
        self.plot.setRange(xRange=(0, 1.08 * xmax), yRange=(0, 1.08 * ymax), padding=0)
        # residuals of unused points (above the limit) may run far off: the fitted ones set the scale
        self.res_plot.setYRange(-3 * rmax, 3 * rmax, padding=0)

    def _pair_chosen(self, index: int) -> None:
        self.pair = None if index <= 0 else index - 1
        self.show_boxes(self.boxes)

    def _clear_clicked(self) -> None:
        self.show_boxes([])
        self.cleared.emit()

    def _slot(self, k: int) -> dict[str, pg.GraphicsObject]:
        while len(self._items) <= k:
            slot = {
                "used": pg.ScatterPlotItem(size=8, pxMode=True),
                "unused": pg.ScatterPlotItem(size=8, pxMode=True),
                "fit": pg.PlotCurveItem(connect="pairs"),
                "cov_model": pg.PlotCurveItem(pen=pg.mkPen(0, 140, 70, width=1.2, style=Qt.PenStyle.DashLine)),
                "res_used": pg.ScatterPlotItem(size=6, pxMode=True),
                "res_unused": pg.ScatterPlotItem(size=6, pxMode=True),
            }
            for name in ("used", "unused", "fit", "cov_model"):
                self.plot.addItem(slot[name])
            for name in ("res_used", "res_unused"):
                self.res_plot.addItem(slot[name])
            self._items.append(slot)
        return self._items[k]

    def show_boxes(self, box_ids: list[int]) -> None:
        """Plot the given boxes (1-based ids), the first MAX_BOXES of them."""
        r = self.result
        self.boxes = [b for b in box_ids if r is not None and 1 <= b <= r.boxes.nbox][:MAX_BOXES]
        lines = []
        npairs = len(r.pairs) if r is not None else 0
        pairs = list(range(npairs)) if self.pair is None else [self.pair]
        for k in range(max(len(self._items), len(self.boxes))):
            slot = self._slot(k)
            if k >= len(self.boxes):
                for item in slot.values():
                    item.setData([], [])
                continue
            b = self.boxes[k]
            single = len(self.boxes) == 1
            colour = BOX_COLOURS[k % len(BOX_COLOURS)]
            c_used = USED if single else colour
            c_unused = UNUSED if single else colour
            mean = r.ptc.mean[pairs, :, b - 1]
            var = r.ptc.variance[pairs, :, b - 1]
            used = r.fit.used[pairs, :, b - 1]
            res = r.fit.residuals[pairs, :, b - 1]
            sym = np.broadcast_to(np.array([SYMBOLS[p % len(SYMBOLS)] for p in pairs], object)[:, None],
                                  mean.shape)
            ok = np.isfinite(mean) & np.isfinite(var)
            u, n = used & ok, ~used & ok
            slot["used"].setData(mean[u], var[u], symbol=list(sym[u]), brush=pg.mkBrush(*c_used),
                                 pen=pg.mkPen(*c_used))
            slot["unused"].setData(mean[n], var[n], symbol=list(sym[n]), brush=pg.mkBrush(255, 255, 255, 0),
                                   pen=pg.mkPen(*c_unused, width=1.5))
            okr = np.isfinite(res) & ok
            slot["res_used"].setData(mean[u & okr], res[u & okr], symbol=list(sym[u & okr]),
                                     brush=pg.mkBrush(*c_used), pen=pg.mkPen(*c_used))
            slot["res_unused"].setData(mean[n & okr], res[n & okr], symbol=list(sym[n & okr]),
                                       brush=pg.mkBrush(255, 255, 255, 0), pen=pg.mkPen(*c_unused, width=1.5))
            top = float(np.nanmax(mean)) if ok.any() else 1.0
            # the fit line over the whole signal range: where the points leave it shows
            # the residual non-linearity the signal limit keeps out of the fit
            xs, ys = [], []
            for p in pairs:
                s, c = r.fit.slope[p, b - 1], r.fit.intercept[p, b - 1]
                if np.isfinite(s) and np.isfinite(c):
                    xs += [0.0, top * 1.05]
                    ys += [c, c + s * top * 1.05]
            slot["fit"].setData(np.array(xs), np.array(ys), connect="pairs",
                                pen=pg.mkPen(*(USED if single else colour), width=1.2))
            curves = [box_model_curve(r, b, p, top * 1.05) for p in pairs]  # one line per pair, not joined
            joins = [np.arange(len(c[0])) < len(c[0]) - 1 for c in curves]
            slot["cov_model"].setData(np.concatenate([c[0] for c in curves] + [[]]),
                                      np.concatenate([c[1] for c in curves] + [[]]),
                                      connect=np.concatenate(joins + [np.zeros(0, bool)]))
            lines.append(self._describe(b, pairs, colour if not single else None))
        self.cov_plot.show_boxes(r, self.boxes, pairs)
        if self.boxes:
            # a legend drawn in the plot costs ~8 ms a click (pyqtgraph relays it out): the key is text
            marks = ", ".join(f"pair {r.pairs[p].number} {SYMBOL_TEXT[SYMBOLS[p % len(SYMBOLS)]]}" for p in pairs)
            note = ("<span style='color:#dc2828'>●</span> used in the fit &nbsp; "
                    "<span style='color:#285adc'>○</span> not used" if len(self.boxes) == 1 else
                    "filled: used in the fit; hollow: not used") + f"; {marks}"
            self.text.setText("<br>".join(lines) + f"<br><small>{note}; dotted line: signal limit "
                              f"({2 * r.signal_limit:g} ADU in the sum); dashed green: covariance model</small>")
        else:
            self.text.setText("Click a box on the image to see its photon transfer curve "
                              "(Ctrl+click adds boxes to compare).")

    def _describe(self, b: int, pairs: list[int], colour) -> str:
        r = self.result
        row = r.boxes.table[b - 1]
        g, e = r.maps.mean_gain[b - 1], r.maps.mean_err[b - 1]
        rn = r.fit.read_noise[pairs, b - 1]
        swatch = f"<span style='color:rgb{tuple(colour)}'>■</span> " if colour else ""
        head = (f"{swatch}<b>box {b}</b> (amp {int(row['amp'])}, {html.escape(str(row['region']))}, "
                f"{int(row['npix'])} px): ")
        if self.pair is None:
            gain = f"mean gain <b>{g:.4f} ± {e:.4f}</b> e-/ADU" if np.isfinite(g) else "no mean gain"
            pg_ = ", ".join(f"{r.maps.pair_gain[p, b - 1]:.3f}" for p in pairs)
            return (f"{head}{gain}; read noise {np.nanmean(rn):.2f} ADU; "
                    f"<small>pairs: {pg_}</small>")
        p = pairs[0]
        gp = r.maps.pair_gain[p, b - 1]
        n = int(r.fit.npoints[p, b - 1])
        return (f"{head}pair {r.pairs[p].number}: gain <b>{gp:.4f}</b> e-/ADU, read noise {rn[0]:.2f} ADU, "
                f"{n} points fitted (mean map {g:.4f} ± {e:.4f})")
