"""Measured sky backgrounds per image and per filter, with predictions (report Fig. 11), and the tables."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from astropy.table import Table
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSplitter, QTabWidget, QVBoxLayout, QWidget

from .tables import fill_table, make_table

__all__ = ["BackgroundsView", "filter_order"]

_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
            (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]


def filter_order(names) -> list[str]:
    """Filters by wavelength (the number in the name), as the report's Fig. 11."""
    def key(f: str):
        digits = "".join(c for c in f.split("_")[0] if c.isdigit())
        return (int(digits) if digits else 10**6, f)
    return sorted(set(names), key=key)


class BackgroundsView(QWidget):
    """Plot of the per-image backgrounds (small dots), per-detector means with scatter (large),
    predictions (black line and squares), above the summary and per-image tables."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(background="w")
        self.plot.showGrid(x=False, y=True, alpha=0.3)
        self.plot.setLabel("left", "background (MJy/sr)")
        self.plot.setLabel("bottom", "filter")
        self.plot.setMouseEnabled(x=False, y=True)
        self.legend = self.plot.addLegend(offset=(-10, 10), labelTextColor="k")
        self.summary_table = make_table()
        self.images_table = make_table()
        tabs = QTabWidget()
        tabs.addTab(self.summary_table, "Per detector and filter")
        tabs.addTab(self.images_table, "Per image")
        self.note = QLabel("Backgrounds: source-masked, sigma-clipped (3σ, 5 iterations) medians of each image.")
        self.note.setWordWrap(True)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.plot)
        split.addWidget(tabs)
        split.setSizes([380, 260])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.note)
        layout.addWidget(split, 1)
        self.n_points = 0

    def set_tables(self, per_image: Table | None, summary: Table | None) -> None:
        """Show a run's ``backgrounds`` and ``background_summary`` tables."""
        self.plot.clear()
        self.legend.clear()
        self.n_points = 0
        if per_image is None or summary is None or len(per_image) == 0:
            fill_table(self.summary_table, [], [])
            fill_table(self.images_table, [], [])
            return
        filters = filter_order(list(per_image["filter"]))
        xpos = {f: i for i, f in enumerate(filters)}
        dets = sorted(set(per_image["detector"]))
        width = 0.5 / max(len(dets), 1)
        for k, det in enumerate(dets):
            colour = _COLOURS[k % len(_COLOURS)]
            shift = (k - (len(dets) - 1) / 2) * width
            t = per_image[per_image["detector"] == det]
            rng = np.random.default_rng(k)  # fixed jitter so redraws do not move the dots
            x = np.array([xpos[f] for f in t["filter"]], float) + shift + rng.uniform(-0.04, 0.04, len(t))
            self.plot.plot(x, np.asarray(t["background"], float), pen=None, symbol="o", symbolSize=5,
                           symbolBrush=pg.mkBrush(*colour, 110), symbolPen=None)
            self.n_points += len(t)
            s = summary[summary["detector"] == det]
            sx = np.array([xpos[f] for f in s["filter"]], float) + shift
            mean = np.asarray(s["mean"], float)
            err = np.nan_to_num(np.asarray(s["std"], float))
            self.plot.addItem(pg.ErrorBarItem(x=sx, y=mean, height=2 * err, beam=0.08, pen=pg.mkPen(colour, width=2)))
            self.plot.plot(sx, mean, pen=None, symbol="o", symbolSize=11, symbolBrush=pg.mkBrush(*colour),
                           symbolPen=pg.mkPen("k"), name=f"{det} (mean ± std)")
        if "predicted" in summary.colnames and np.isfinite(np.asarray(summary["predicted"], float)).any():
            pred = []
            for f in filters:
                v = np.asarray(summary["predicted"][summary["filter"] == f], float)
                pred.append(np.nanmean(v) if np.isfinite(v).any() else np.nan)
            pred = np.array(pred)
            ok = np.isfinite(pred)
            self.plot.plot(np.arange(len(filters))[ok], pred[ok], pen=pg.mkPen("k", width=2), symbol="s",
                           symbolSize=8, symbolBrush="k", name="predicted")
        self.plot.getAxis("bottom").setTicks([[(i, f) for i, f in enumerate(filters)]])
        self.plot.setXRange(-0.6, len(filters) - 0.4, padding=0)
        rows = [(str(r["detector"]), str(r["filter"]), str(r["pupil"]), int(r["n_images"]), float(r["mean"]),
                 float(r["std"]), float(r["min"]), float(r["max"]), float(r["predicted"]), float(r["ratio"]))
                for r in summary]
        fill_table(self.summary_table, rows, ["detector", "filter", "pupil", "images", "mean", "std", "min", "max",
                                              "predicted", "measured / predicted"],
                   ["", "", "", "d", ".4f", ".4f", ".4f", ".4f", ".4f", ".3f"])
        rows = [(str(r["file"]), str(r["detector"]), str(r["filter"]), float(r["background"]), float(r["std"]),
                 float(r["masked_fraction"]), float(r["expstart"])) for r in per_image]
        fill_table(self.images_table, rows, ["file", "detector", "filter", "background (MJy/sr)", "std",
                                             "masked fraction", "EXPSTART (MJD)"],
                   ["", "", "", ".4f", ".4f", ".3f", ".5f"])
