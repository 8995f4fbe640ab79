"""Results of a gain run: maps with colour bar and histogram, pair scatter, tables, studies.

Each view only draws what the engine computed (``GainResult``); nothing is refitted here.
"""

from __future__ import annotations

import os

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...core.gain.maps import map_difference
from ..sizing import compact_combo

__all__ = ["GainMapView", "PairScatterView", "SectorsView", "TableView", "map_choices", "pairs_rows", "table7_row"]

NORMAL_COLOUR = (40, 90, 220)
EPOXY_COLOUR = (220, 40, 40)


def map_choices(result) -> list[tuple[str, np.ndarray, np.ndarray | None]]:
    """(title, box values, box errors) of every map a user may want to look at."""
    m = result.maps
    out = [("mean gain (pairs " + ", ".join(str(p.number) for p, u in zip(result.pairs, m.pair_used) if u) + ")",
            m.mean_gain, m.mean_err)]
    for p, pair in enumerate(result.pairs):
        note = "" if m.pair_used[p] else " — not in the mean"
        out.append((f"pair {pair.number} gain{note}", m.pair_gain[p], m.single_err))
    out.append(("uncertainty of the mean map", m.mean_err, None))
    out.append(("read noise (ADU), mean over pairs", np.nanmean(result.fit.read_noise[m.pair_used], axis=0), None))
    return out


class GainMapView(QWidget):
    """A box map as an image (colour bar, amplifier lines) and the histogram of its boxes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result = None
        self.choices: list = []
        self.combo = compact_combo(QComboBox())
        self.combo.currentIndexChanged.connect(self._show)
        self.stats = QLabel("")
        self.stats.setWordWrap(True)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.map_plot = self.graphics.addPlot(row=0, col=0)
        self.map_plot.setAspectLocked(True)
        self.map_plot.setLabel("bottom", "x (pixels)")
        self.map_plot.setLabel("left", "y (pixels)")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.map_plot.addItem(self.image)
        self.amp_lines = pg.PlotCurveItem(pen=pg.mkPen(255, 255, 255, 200, width=1.5, cosmetic=True), connect="pairs")
        self.map_plot.addItem(self.amp_lines)
        self.colorbar = pg.ColorBarItem(values=(0, 1), colorMap=pg.colormap.get("viridis"), interactive=True,
                                        label="e-/ADU", width=16)
        self.colorbar.setImageItem(self.image, insert_in=self.map_plot)
        # the histogram below the map: a square map wants the width more than the height
        self.hist_plot = self.graphics.addPlot(row=1, col=0)
        self.hist_plot.setLabel("bottom", "value")
        self.hist_plot.setLabel("left", "boxes")
        self.hist_legend = self.hist_plot.addLegend(offset=(8, 8), labelTextSize="8pt")
        self.graphics.ci.layout.setRowStretchFactor(0, 3)
        self.graphics.ci.layout.setRowStretchFactor(1, 1)
        top = QHBoxLayout()
        top.addWidget(QLabel("Map"))
        top.addWidget(self.combo, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.stats)

    def set_result(self, result) -> None:
        self.result = result
        self.combo.blockSignals(True)
        self.combo.clear()
        self.choices = map_choices(result) if result is not None else []
        for title, *_ in self.choices:
            self.combo.addItem(title)
        self.combo.blockSignals(False)
        self._show(0)

    def _show(self, index: int) -> None:
        self.hist_plot.clear()
        self.hist_legend.clear()
        if self.result is None or not 0 <= index < len(self.choices):
            self.image.clear()
            self.stats.setText("")
            return
        title, values, _ = self.choices[index]
        values = np.asarray(values, float)
        labels = self.result.boxes.labels
        lut = np.concatenate([[np.nan], values]).astype(np.float32)
        self.image.setImage(lut[labels], autoLevels=False)
        finite = values[np.isfinite(values)]
        lo, hi = np.percentile(finite, [1, 99]) if finite.size else (0.0, 1.0)
        if hi <= lo:
            lo, hi = lo - 0.01, hi + 0.01
        self.colorbar.setLevels((lo, hi))
        ny, nx = labels.shape
        self.amp_lines.setData(np.repeat(np.arange(1, 4) * (nx // 4), 2).astype(float), np.tile([0.0, ny], 3),
                               connect="pairs")
        self.map_plot.setTitle(title, size="9pt")
        self.map_plot.getViewBox().setRange(xRange=(0, nx), yRange=(0, ny), padding=0.02)
        self.hist_plot.setLabel("bottom", "read noise (ADU)" if "read noise" in title else "e-/ADU")
        regions = np.asarray(self.result.boxes.table["region"])
        edges = np.linspace(lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo), 41) if finite.size else np.linspace(0, 1, 41)
        for region, colour in (("normal", NORMAL_COLOUR), ("epoxy", EPOXY_COLOUR)):
            v = values[(regions == region) & np.isfinite(values)]
            if v.size:
                counts, _ = np.histogram(np.clip(v, edges[0], edges[-1]), bins=edges)
                item = pg.PlotDataItem(edges, counts, stepMode="center", fillLevel=0,
                                       brush=pg.mkBrush(*colour, 110), pen=pg.mkPen(*colour))
                self.hist_plot.addItem(item)
                self.hist_legend.addItem(item, f"{region} ({v.size})")
        parts = []
        for region in ("normal", "epoxy"):
            v = values[(regions == region) & np.isfinite(values)]
            if v.size:
                parts.append(f"{region}: {v.size} boxes, mean {v.mean():.4f}, std {v.std():.4f}")
        self.stats.setText(" · ".join(parts))


class PairScatterView(QWidget):
    """Gain of one single-pair map against another, boxes of the epoxy voids in red (report Figure 7)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result = None
        self.x_combo, self.y_combo = QComboBox(), QComboBox()
        for c in (self.x_combo, self.y_combo):
            c.currentIndexChanged.connect(lambda *_: self._show())
        self.plot = pg.PlotWidget(background="w")
        self.plot.setAspectLocked(True)
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.legend = self.plot.addLegend(offset=(8, 8), labelTextSize="8pt")
        self.stats = QLabel("")
        self.stats.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(QLabel("x"))
        top.addWidget(self.x_combo, 1)
        top.addWidget(QLabel("y"))
        top.addWidget(self.y_combo, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.stats)

    def set_result(self, result) -> None:
        self.result = result
        for c in (self.x_combo, self.y_combo):
            c.blockSignals(True)
            c.clear()
            if result is not None:
                for pair in result.pairs:
                    c.addItem(f"pair {pair.number}")
            c.blockSignals(False)
        if result is not None and len(result.pairs) >= 2:
            # the report's Figure 7 compares two pairs after the first
            used = [i for i, u in enumerate(result.maps.pair_used) if u]
            a, b = (used[-2], used[-1]) if len(used) >= 2 else (0, 1)
            self.x_combo.setCurrentIndex(a)
            self.y_combo.setCurrentIndex(b)
        self._show()

    def _show(self) -> None:
        self.plot.clear()
        self.legend.clear()
        r = self.result
        if r is None or len(r.pairs) < 2:
            self.stats.setText("A scatter needs two pairs." if r is not None else "")
            return
        i, j = self.x_combo.currentIndex(), self.y_combo.currentIndex()
        if i < 0 or j < 0:
            return
        gx, gy = r.maps.pair_gain[i], r.maps.pair_gain[j]
        regions = np.asarray(r.boxes.table["region"])
        for region, colour in (("normal", NORMAL_COLOUR), ("epoxy", EPOXY_COLOUR)):
            sel = (regions == region) & np.isfinite(gx) & np.isfinite(gy)
            if sel.any():
                item = pg.ScatterPlotItem(gx[sel], gy[sel], size=6, brush=pg.mkBrush(*colour, 180), pen=None)
                self.plot.addItem(item)
                self.legend.addItem(item, f"{region} ({int(sel.sum())})")
        both = np.concatenate([gx, gy])
        both = both[np.isfinite(both)]
        if both.size:
            lo, hi = np.percentile(both, [0.5, 99.5])
            pad = 0.05 * (hi - lo or 0.01)
            self.plot.plot([lo - pad, hi + pad], [lo - pad, hi + pad], pen=pg.mkPen(0, 0, 0, 160))
        self.plot.setLabel("bottom", f"gain, pair {r.pairs[i].number}", units="e-/ADU")
        self.plot.setLabel("left", f"gain, pair {r.pairs[j].number}", units="e-/ADU")
        d = map_difference(gx, gy, regions, "normal")
        if d.n_boxes > 1 and i != j:
            self.stats.setText(f"normal boxes: mean difference {d.mean:+.4f}, std {d.std:.4f} e-/ADU "
                               f"→ single-map uncertainty {d.single_map_err:.4f} e-/ADU (std/√2, "
                               "boxes of unequal size mixed)")
        else:
            self.stats.setText("")


def short_labels(integrations, suffix: bool = False) -> dict[tuple[str, int], str]:
    """(path, index) -> label without the prefix all labels share (JWST names differ in the
    middle: the exposure number); with ``suffix`` the shared ending goes too."""
    labels = {(i.path, i.index): i.label for i in integrations}
    if len(labels) < 2:
        return labels
    values = list(labels.values())
    common = os.path.commonprefix(values)
    # cut at a word boundary: "jw..._01101_" + "00001_nrcb1_uncal.fits", not "...0000" + "1_nrcb1..."
    cut = common.rfind("_") + 1 if len(common) > 3 else 0
    end = 0
    if suffix:
        tail = os.path.commonprefix([v[::-1] for v in values])[::-1]
        first = tail.find("_")
        end = len(tail) - first if first >= 0 and len(tail) - first > 5 else 0
    out = {}
    for k, lab in labels.items():
        mid = lab[cut:len(lab) - end] if end else lab[cut:]
        out[k] = ("…" if cut else "") + mid + ("…" if end else "")
    return out


def pairs_rows(result) -> tuple[list[str], list[list[str]], list[bool]]:
    """Header, text rows and a 'flagged' marker per row for the pair table."""
    from ...core.gain.products import pairs_table

    t = pairs_table(result)
    fp = result.maps.first_pair
    header = ["pair", "integrations", "used", "anomaly", "mean gain", "std", "rel. to mean map",
              "signal 1 / 2 (ADU)", "diff. mean g0 (ADU)", "flagged boxes"]
    gm = result.ptc.group_median  # (npairs, 2, ngroups): calibrated median signal of each integration
    rows, flagged = [], []
    short = short_labels([i for p in result.pairs for i in (p.first, p.second)])
    for k, row in enumerate(t):
        anomaly = []
        if k == 0 and fp.anomalous:
            anomaly.append(f"first pair off ({fp.z:.1f}σ)")
        if int(row["n_flagged_boxes"]):
            anomaly.append(f"{int(row['n_flagged_boxes'])} fits flagged")
        pair = result.pairs[k]
        rows.append([str(row["pair"]), f"{short[pair.first.path, pair.first.index]} / {short[pair.second.path, pair.second.index]}", "yes" if row["used"] else "no",
                     ", ".join(anomaly) or "—", f"{row['mean_gain']:.4f}", f"{row['std_gain']:.4f}",
                     f"{row['mean_rel_to_mean_map']:+.2%}", _signals(gm[k]), f"{row['diff_mean_group0']:+.1f}",
                     str(int(row["n_flagged_boxes"]))])
        flagged.append(bool(anomaly) or not row["used"])
    return header, rows, flagged


class TableView(QWidget):
    """A read-only table with a note above it (the sector and pair tables)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.note)
        layout.addWidget(self.table, 1)

    def set_rows(self, header: list[str], rows: list[list[str]], flagged: list[bool] | None = None,
                 note: str = "") -> None:
        self.note.setText(note)
        self.note.setVisible(bool(note))
        self.table.clear()
        self.table.setColumnCount(len(header))
        self.table.setHorizontalHeaderLabels(header)
        self.table.setRowCount(len(rows))
        warn = QBrush(QColor(255, 225, 215))
        for i, row in enumerate(rows):
            for j, text in enumerate(row):
                item = QTableWidgetItem(text)
                if j > 0 and _numeric(text):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if flagged and flagged[i]:
                    item.setBackground(warn)
                self.table.setItem(i, j, item)

    def set_table(self, table, formats: dict[str, str] | None = None, note: str = "") -> None:
        """Show an astropy Table (every column; floats with 4 decimals unless told)."""
        formats = formats or {}
        header = [f"{c} ({_unit(table[c].unit)})" if getattr(table[c], "unit", None) else c for c in table.colnames]
        rows = []
        for row in table:
            cells = []
            for c in table.colnames:
                v = row[c]
                if isinstance(v, (float, np.floating)):
                    cells.append(format(float(v), formats.get(c, ".4f")))
                else:
                    cells.append(str(v))
            rows.append(cells)
        flagged = [str(row["region"]) == "epoxy" for row in table] if "region" in table.colnames else None
        self.set_rows(header, rows, flagged, note)


def table7_row(result) -> tuple[list[str], list[str]]:
    """The sector gains as report 004622 Table 7 lays them out: one row for the detector,
    a column per amplifier, then a column per amplifier holding epoxy-void boxes."""
    rows = {(int(r["amp"]), str(r["region"])): r for r in result.sectors}
    amps = sorted({a for a, _ in rows})
    header, cells = ["detector"], [result.detector]
    for region in ("normal", "epoxy"):
        for a in amps:
            r = rows.get((a, region))
            if r is None:
                continue
            header.append(f"sector {a}" + (" epoxy void" if region == "epoxy" else ""))
            # the report's "±" is the uncertainty of one box of the mean map (core: box_gain_err)
            cells.append(f"{float(r['gain']):.3f} ± {float(r['box_gain_err']):.3f}")
    return header, cells


class SectorsView(QWidget):
    """Sector gains: the report's Table 7 row on top, every column of the sector table below."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = TableView()
        self.full = TableView()
        self.summary.table.setMaximumHeight(70)
        from .cov_plot import AMatrixView

        self.amatrix = AMatrixView()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.full, 1)
        layout.addWidget(self.amatrix)

    def set_result(self, result) -> None:
        header, cells = table7_row(result)
        from ...core.gain.products import sectors_table

        corrected = result.options.ipc != "none"
        kind = "IPC-corrected" if corrected else "not IPC-corrected (apparent)"
        self.summary.set_rows(header, [cells], note=f"Sector-averaged gain (e-/ADU), {kind}, ± the uncertainty of "
                                                    "one box of the mean map, laid out as report 004622 Table 7.")
        self.full.set_table(sectors_table(result), note="Every column of sectors.ecsv; epoxy-void rows shaded. "
                                                        "gain_err: error of the sector mean. gain_apparent: the gain "
                                                        "the jwst pipeline needs (it does not IPC-correct NIRCam "
                                                        "data), as in the GAIN reference file gain_map.fits.")
        self.amatrix.set_result(result)


def _signals(group_median: np.ndarray) -> str:
    """Last-group median signal of the two integrations of a pair, and their ratio: a lamp
    that changed between them (report section 5.4) shows here."""
    last = [g[np.isfinite(g)][-1] if np.isfinite(g).any() else np.nan for g in group_median]
    ratio = last[1] / last[0] - 1 if last[0] else np.nan
    return f"{last[0]:,.0f} / {last[1]:,.0f} ({ratio:+.2%})"


def _unit(unit) -> str:
    """Units as detector people write them."""
    return {"electron / adu": "e-/ADU", "adu": "ADU", "adu2": "ADU²", "electron": "e-"}.get(str(unit), str(unit))


def _numeric(text: str) -> bool:
    try:
        float(text.replace("%", "").replace(",", ""))
        return True
    except ValueError:
        return False
