"""Covariance pages of the gain results: C_10, C_01, C_11 against the mean, and the a-matrix.

Everything drawn comes from the result: the box covariances the engine measured
(``GainResult.ptc.cov``) and the covariance model it fitted (``GainResult.covariance``);
the curves evaluate that fitted model, nothing is re-fitted here.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ...core.gain.covfit import model_terms
from .box_overlay import BOX_COLOURS

__all__ = ["AMatrixView", "CovariancePlot", "box_model_curve"]

LAGS = ((0, 1, "C₁₀ (x neighbour)"), (1, 0, "C₀₁ (y neighbour)"), (1, 1, "C₁₁ (diagonal)"))


def _fit_of(result, b: int):
    sol = getattr(result, "covariance", None)
    if sol is None or sol.box_fit[b - 1] < 0:
        return None
    f = sol.fits[sol.box_fit[b - 1]]
    return f if np.isfinite(f.gain) else None


def box_model_curve(result, b: int, pair: int, top: float, n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """The covariance model of box ``b`` (1-based) and pair index ``pair`` as the PTC panel draws it:
    variance of the difference against mean of the sum (both twice the single-frame values),
    with the box's gain at zero signal and noise and its amplifier's a-matrix."""
    f = _fit_of(result, b)
    sol = getattr(result, "covariance", None)
    if f is None:
        return np.array([]), np.array([])
    g = sol.pair_gain[pair, b - 1] / max(result.ipc_factor, 1e-12)
    noise = sol.noise[pair, b - 1]
    if not (np.isfinite(g) and np.isfinite(noise)):
        return np.array([]), np.array([])
    t1, t2, t3, _ = model_terms(f.a, f.c)
    mu = np.linspace(0.0, top / 2.0, n)
    ne = mu * g
    c00 = mu / g + (t1[0, 0] * ne**2 + 2.0 / 3.0 * t2[0, 0] * ne**3 + t3[0, 0] * ne**4) / g**2 + noise
    return 2.0 * mu, 2.0 * c00


class CovariancePlot(QWidget):
    """Nearest-neighbour covariances of the selected boxes against the mean, with the amplifier's model."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.plots = []
        for row, (_, _, title) in enumerate(LAGS):
            p = self.graphics.addPlot(row=row, col=0)
            p.setLabel("left", title, units="ADU²")
            p.showGrid(x=True, y=True, alpha=0.25)
            p.getAxis("left").setWidth(62)
            for axis in ("left", "bottom"):
                p.getAxis(axis).enableAutoSIPrefix(False)
            if self.plots:
                p.setXLink(self.plots[0])
            self.plots.append(p)
        self.plots[-1].setLabel("bottom", "mean of sum", units="ADU")
        self.note = QLabel("Covariances of the difference frame (after IPC deconvolution when chosen); "
                           "lines: the covariance model the box's gain uses (the a-matrix pooled over the "
                           "detector's normal boxes; its amplifier's when there is one amplifier).")
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.note)

    def show_boxes(self, result, boxes: list[int], pairs: list[int]) -> None:
        """Plot boxes (1-based ids) of the given pair indices."""
        for p in self.plots:
            p.clear()
        cov = getattr(getattr(result, "ptc", None), "cov", None)
        if result is None or cov is None or not boxes:
            return
        for k, b in enumerate(boxes):
            colour = BOX_COLOURS[k % len(BOX_COLOURS)]
            mean = result.ptc.mean[pairs, :, b - 1].ravel()
            f = _fit_of(result, b)
            for plot, (j, i, _) in zip(self.plots, LAGS):
                if j >= cov.shape[-2] or i >= cov.shape[-1]:
                    continue
                c = cov[pairs, :, b - 1, j, i].ravel()
                ok = np.isfinite(mean) & np.isfinite(c)
                plot.addItem(pg.ScatterPlotItem(mean[ok], c[ok], size=6, brush=pg.mkBrush(*colour),
                                                pen=pg.mkPen(*colour)))
                if f is not None and j < f.a.shape[0] and i < f.a.shape[1] and ok.any():
                    mu = np.linspace(0.0, float(np.nanmax(mean[ok])) / 2.0, 60)
                    plot.addItem(pg.PlotCurveItem(2 * mu, 2 * f.model(mu)[:, j, i], pen=pg.mkPen(*colour, width=1.3)))


class AMatrixView(QWidget):
    """The covariance model per amplifier and for the epoxy void: gain, turnoff, a-matrix (1/e-)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from .results import TableView

        self.table = TableView()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)

    def set_result(self, result) -> None:
        sol = getattr(result, "covariance", None)
        if sol is None or not sol.fits:
            self.table.set_rows(["covariance model"], [["not measured"]])
            return
        m = sol.fits[0].a.shape[0]
        lags = [(j, i) for j in range(m) for i in range(m)]
        header = ["fit", "gain (e-/ADU)", "turnoff (ADU)", "χ²/dof"] + [f"a{i}{j} (1e-7/e-)" for j, i in lags]
        rows = []
        for f in sol.fits:
            rows.append([f.label, f"{f.gain:.4f} ± {f.gain_err:.4f}", f"{f.turnoff:.0f}", f"{f.chi2_dof:.2f}"]
                        + [f"{1e7 * f.a[j, i]:.3f} ± {1e7 * f.a_err[j, i]:.3f}" for j, i in lags])
        self.table.set_rows(header, rows, note="Full covariance model (Astier et al. 2019) per amplifier: the "
                                               "brighter-fatter a-matrix, a_ij at lag (x, y) = (i, j). The box gains "
                                               "of the covariance model use their amplifier's a-matrix.")
