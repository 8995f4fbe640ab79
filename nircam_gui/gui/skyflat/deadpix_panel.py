"""The "Dead pixels" tab: new dead pixels over the grey delta flat, concentrations circled (report Fig. 7).

Moving the threshold never recomputes the stack: the session keeps each detector's grey
delta and a :class:`~nircam_gui.core.skyflat.deadpix.DeadPixelIndex` (its candidate pixels
sorted by value), so the dead pixels at a threshold are a prefix of sorted arrays, found
in microseconds and drawn at once. Grouping them into concentrations (a dilation and a
labelling of the full frame, ~0.1 s) runs in a worker; only the latest threshold's
answer is drawn.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGraphicsEllipseItem,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ...core.skyflat.deadpix import find_clusters
from .images import ImageGrid, PanelSpec, panel_levels
from .session import SkyflatSession
from .tables import content_width, fill_table, fit_rows, make_table, set_header_tips

__all__ = ["DeadPixelPanel"]

#: slider steps: thresholds 0.005 .. 0.995 in steps of 0.005
STEP = 0.005
#: beyond this many dead pixels the map is drawn as an image overlay, not as dots
MAX_DOTS = 50_000
BACKGROUNDS = ("grey delta flat", "white (as the report's Fig. 7)")
#: rows of the per-detector counts shown before it scrolls (ten detectors make an instrument)
COUNT_ROWS = 10
#: columns of the concentrations table: short names, and what each holds (header tool tips)
CLUSTER_COLUMNS = {
    "#": "concentration number, largest first",
    "x": "centre x (1-based, as in DS9)",
    "y": "centre y (1-based, as in DS9)",
    "pixels": "new dead pixels in the concentration",
    "mean": "mean grey delta-flat value of its pixels",
    "radius": "rms radius (pixels)",
    "x range": "first-last column (1-based)",
    "y range": "first-last row (1-based)",
}


def _clusters(first: str, indexes: dict, greys: dict, threshold: float, link: int, min_npix: int) -> dict:
    """Worker: concentrations of the dead pixels at ``threshold`` on every detector (``first`` first)."""
    order = [first] + [d for d in indexes if d != first]
    return {d: find_clusters(indexes[d].mask(threshold), greys[d], link=link, min_npix=min_npix)[0]
            for d in order if d in indexes}


class DeadPixelPanel(QWidget):
    """New dead pixels, their concentrations and a live threshold.

    Signals
    -------
    error(str)
    """

    error = Signal(str)

    def __init__(self, session: SkyflatSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.clusters = None  # astropy Table of the concentrations on screen
        self.clusters_threshold: float | None = None
        self.all_clusters: dict = {}  # detector -> Table, at clusters_threshold
        self.last_update_ms = 0.0
        self._cluster_inflight = False
        self._cluster_pending = False
        self._circles: list[QGraphicsEllipseItem] = []
        self._selected = -1

        self.detector_combo = QComboBox()
        self.background_combo = QComboBox()
        self.background_combo.addItems(BACKGROUNDS)
        self.counts_table = make_table()
        self.counts_table.setToolTip("New dead pixels per detector at the current threshold; click to show one")
        fit_rows(self.counts_table, COUNT_ROWS)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(1, int(round(0.995 / STEP)))
        self.slider.setToolTip("Grey delta below this is a new dead pixel (report: 0.8)")
        self.spin = QDoubleSpinBox()
        self.spin.setRange(STEP, 0.995)
        self.spin.setSingleStep(STEP)
        self.spin.setDecimals(3)
        # act on Enter, focus out or the arrows, not on every keystroke: typing 0.65 passes
        # through 0.6, and writing that back into the field would garble what is being typed
        self.spin.setKeyboardTracking(False)
        self.count_label = QLabel(" ")
        self.cluster_table = make_table()
        self.cluster_table.setToolTip("Concentrations of new dead pixels, largest first; click one to zoom to it")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Write the products (MASK with these dead pixels, FLATs, tables, figures)")
        self.export_button.setEnabled(False)
        self.fit_button = QPushButton("Whole Detector")
        self.fit_button.clicked.connect(lambda: self.grid.zoom_fit())

        thr_box = QGroupBox("Threshold (grey delta below it is dead)")
        tl = QVBoxLayout(thr_box)
        row = QHBoxLayout()
        row.addWidget(self.slider, 1)
        row.addWidget(self.spin)
        tl.addLayout(row)
        tl.addWidget(self.count_label)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(4, 4, 4, 4)
        top = QHBoxLayout()
        top.addWidget(QLabel("Detector"))
        top.addWidget(self.detector_combo, 1)
        ll.addLayout(top)
        ll.addWidget(self.counts_table)  # as tall as its rows: the concentrations take the rest
        ll.addWidget(thr_box)
        ll.addWidget(QLabel("Concentrations (click to zoom)"))
        ll.addWidget(self.cluster_table, 1)
        bg = QHBoxLayout()
        bg.addWidget(QLabel("Background"))
        bg.addWidget(self.background_combo, 1)
        ll.addLayout(bg)
        buttons = QHBoxLayout()
        buttons.addWidget(self.fit_button)
        buttons.addWidget(self.export_button)
        ll.addLayout(buttons)

        self.grid = ImageGrid(session.runner)
        self.scatter = pg.ScatterPlotItem(size=3, pen=None, pxMode=True, brush=pg.mkBrush(255, 210, 0))
        self.scatter.setZValue(10)
        self.message = QLabel("Run the sky flats (Sky flat tab) to find new dead pixels.")
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.message)
        rl.addWidget(self.grid, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([440, 900])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(split)

        self.slider.valueChanged.connect(lambda v: self.session.set_threshold(v * STEP))
        self.spin.valueChanged.connect(lambda v: self.session.set_threshold(v))
        self.detector_combo.currentTextChanged.connect(self._detector_chosen)
        self.background_combo.currentIndexChanged.connect(lambda _: self._draw_background())
        self.cluster_table.itemSelectionChanged.connect(self._cluster_selected)
        self.counts_table.cellClicked.connect(
            lambda r, c: self.detector_combo.setCurrentText(self.counts_table.item(r, 0).text()))
        session.result_changed.connect(self._new_result)
        session.threshold_changed.connect(self._threshold_changed)

    # -- state ------------------------------------------------------------------------
    @property
    def idle(self) -> bool:
        return not self._cluster_inflight and not self._cluster_pending and not self.grid.busy

    @property
    def summary(self):
        r = self.session.result
        return r.detectors.get(self.session.view.detector) if r is not None else None

    def set_threshold(self, threshold: float) -> None:
        """Move the threshold (as the slider does)."""
        self.session.set_threshold(threshold)

    def _new_result(self) -> None:
        r = self.session.result
        self.detector_combo.blockSignals(True)
        self.detector_combo.clear()
        self.detector_combo.addItems(list(r.detectors))
        self.detector_combo.setCurrentText(self.session.view.detector)
        self.detector_combo.blockSignals(False)
        self.export_button.setEnabled(True)
        self.message.hide()
        self._draw_background()
        self._threshold_changed(self.session.view.threshold)

    def _detector_chosen(self, name: str) -> None:
        if not name or name == self.session.view.detector:
            return
        self.session.view.detector = name
        self.clusters = self.all_clusters.get(name)
        self._draw_background()
        self._threshold_changed(self.session.view.threshold)

    # -- drawing ----------------------------------------------------------------------
    def _draw_background(self) -> None:
        s = self.summary
        if s is None or s.grey is None:
            return
        white = self.background_combo.currentIndex() == 1
        if white:
            spec = PanelSpec(f"{s.detector} new dead pixels", np.ones_like(s.grey), (0.0, 1.0), values=s.grey)
            self.scatter.setBrush(pg.mkBrush(0, 0, 0))
        else:
            spec = PanelSpec(f"{s.detector} grey delta flat, new dead pixels", s.grey,
                             panel_levels(s.grey, "99.5%"))
            self.scatter.setBrush(pg.mkBrush(255, 210, 0))
        self.grid.set_panels([spec], 1)
        view = self.grid.views[0]
        if self.scatter.getViewBox() is not view:
            view.addItem(self.scatter)
        self._draw_circles()

    def _threshold_changed(self, threshold: float) -> None:
        t0 = time.perf_counter()
        for w, v in ((self.slider, int(round(threshold / STEP))), (self.spin, threshold)):
            if w is self.spin and w.hasFocus() and abs(w.value() - v) < 1e-9:
                continue  # the user is typing here: leave the text as typed
            w.blockSignals(True)
            w.setValue(v)
            w.blockSignals(False)
        index = self.session.indexes.get(self.session.view.detector)
        if index is None:
            return
        x, y, _ = index.pixels(threshold)
        if len(x) <= MAX_DOTS:
            self.scatter.setData(x + 0.5, y + 0.5)
            if self.grid._overlay is not None:
                self.grid.set_overlay(None)
        else:  # too many for dots: an image overlay (drawn in a worker)
            self.scatter.setData([], [])
            self.grid.set_overlay(index.mask(threshold), (255, 210, 0, 255))
        counts = self.session.dead_counts()
        r = self.session.result
        opt = r.options
        fresh = self.clusters_threshold == threshold
        rows = [(d, s.n_images, counts.get(d, 0), len(self.all_clusters[d]) if fresh and d in self.all_clusters
                 else -1) for d, s in r.detectors.items()]
        fill_table(self.counts_table, [(d, n, c, k if k >= 0 else "…") for d, n, c, k in rows],
                   ["detector", "images", "new dead", "concentrations"], ["", "d", "d", ""])
        fit_rows(self.counts_table, COUNT_ROWS)
        self.count_label.setText(f"{len(x)} new dead pixels on {self.session.view.detector} below {threshold:g} "
                                 f"(≥ {opt.min_coverage} images, not dead on the ground)")
        self.last_update_ms = 1000 * (time.perf_counter() - t0)
        self._request_clusters()

    def _request_clusters(self) -> None:
        if self._cluster_inflight:
            self._cluster_pending = True
            return
        s, index = self.summary, self.session.indexes.get(self.session.view.detector)
        if s is None or index is None:
            return
        self._cluster_inflight = True
        opt = self.session.result.options
        t, det = self.session.view.threshold, s.detector
        greys = {d: x.grey for d, x in self.session.result.detectors.items()}
        self.session.runner.run(_clusters, det, self.session.indexes, greys, t, opt.cluster_link,
                                opt.cluster_min_npix, name="Finding concentrations",
                                on_result=lambda tables, t=t, d=det: self._clusters_ready(d, t, tables),
                                on_error=self.error.emit, on_finished=self._clusters_done)

    def _clusters_done(self) -> None:
        self._cluster_inflight = False
        if self._cluster_pending:
            self._cluster_pending = False
            self._request_clusters()

    def _clusters_ready(self, detector: str, threshold: float, tables: dict) -> None:
        if threshold != self.session.view.threshold:
            return  # a newer threshold's concentrations are on their way
        self.all_clusters, self.clusters_threshold = tables, threshold
        detector = self.session.view.detector
        table = tables[detector]
        self.clusters = table
        rows = [(k + 1, float(c["x"]) + 1, float(c["y"]) + 1, int(c["npix"]), float(c["mean_value"]),
                 float(c["radius"]), f"{int(c['xmin']) + 1}-{int(c['xmax']) + 1}",
                 f"{int(c['ymin']) + 1}-{int(c['ymax']) + 1}") for k, c in enumerate(table)]
        fill_table(self.cluster_table, rows, list(CLUSTER_COLUMNS), ["d", ".1f", ".1f", "d", ".3f", ".1f", "", ""])
        set_header_tips(self.cluster_table, dict(enumerate(CLUSTER_COLUMNS.values())))
        self.cluster_table.setToolTip("Centres and ranges 1-based, as in DS9")
        # every column whole at any window width: the splitter gives the list the room it needs
        self.cluster_table.setMinimumWidth(content_width(self.cluster_table))
        for row in range(self.counts_table.rowCount()):
            d = self.counts_table.item(row, 0).text()
            cell = self.counts_table.item(row, 3)
            if cell is not None and d in tables:
                cell.setText(str(len(tables[d])))
                cell.setData(Qt.ItemDataRole.UserRole, len(tables[d]))
        self._selected = -1
        self._draw_circles()

    def _draw_circles(self) -> None:
        view = self.grid.views[0] if self.grid.views else None
        for c in self._circles:
            if c.scene() is not None:
                c.scene().removeItem(c)
        self._circles = []
        if view is None or self.clusters is None:
            return
        for k, c in enumerate(self.clusters):
            # as the report's figure: large enough to see at full-frame zoom
            r = max(4.0 * float(c["radius"]), 0.03 * max(self.summary.grey.shape))
            cx, cy = float(c["x"]) + 0.5, float(c["y"]) + 0.5
            e = QGraphicsEllipseItem(cx - r, cy - r, 2 * r, 2 * r)
            pen = pg.mkPen((255, 0, 0) if k != self._selected else (0, 200, 255), width=2.5)
            pen.setCosmetic(True)
            e.setPen(pen)
            e.setZValue(11)
            view.addItem(e)
            self._circles.append(e)

    def _cluster_selected(self) -> None:
        rows = {i.row() for i in self.cluster_table.selectedItems()}
        if not rows or self.clusters is None:
            return
        number = int(self.cluster_table.item(min(rows), 0).data(Qt.ItemDataRole.UserRole)) - 1
        self.zoom_to_cluster(number)

    def zoom_to_cluster(self, k: int) -> None:
        """Zoom to concentration ``k`` (0-based row of :attr:`clusters`)."""
        c = self.clusters[k]
        size = max(int(c["xmax"]) - int(c["xmin"]), int(c["ymax"]) - int(c["ymin"]))
        margin = max(25, size)
        self.grid.zoom_to(int(c["xmin"]) - margin, int(c["xmax"]) + margin, int(c["ymin"]) - margin,
                          int(c["ymax"]) + margin)
        self._selected = k
        self._draw_circles()
