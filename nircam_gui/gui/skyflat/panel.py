"""The "Sky flat" tab: set-up and run on the left; products, backgrounds and export on the right."""

from __future__ import annotations

import os
import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from .backgrounds import BackgroundsView
from .detector_view import DetectorView
from .session import SkyflatSession
from .setup import SetupWidget
from .tables import fill_table, make_table
from .validation import ValidationPage

__all__ = ["SkyflatPanel"]


class SkyflatPanel(QWidget):
    """Sky flats (JWST-STScI-008304 section 3) for the main window.

    Parameters
    ----------
    session : SkyflatSession
        Shared with the "Dead pixels" tab.

    Signals
    -------
    error(str)
    """

    error = Signal(str)

    def __init__(self, session: SkyflatSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setup = SetupWidget(session.runner, session.setup)
        self.detector_view = DetectorView(session.runner)
        self.backgrounds = BackgroundsView()
        self.filter_table = make_table()
        self.results_tabs = QTabWidget()
        self.results_tabs.addTab(self.detector_view, "Flats")
        self.results_tabs.addTab(self.backgrounds, "Backgrounds")
        self.results_tabs.addTab(self.filter_table, "Filter dependence")
        self.validation = ValidationPage(session.runner, images=lambda: [c.path for c in session.setup.images])
        self.results_tabs.addTab(self.validation, "Validation")
        self.summary_label = QLabel("Add _cal images (grouped by detector and filter automatically), ground flats "
                                    "and masks on the left, then Run.")
        self.summary_label.setWordWrap(True)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Write FLAT and MASK reference files, delta flats, tables and figures to a "
                                      "folder, with the dead-pixel threshold of the Dead pixels tab")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self.choose_export)
        head = QHBoxLayout()
        head.addWidget(self.summary_label, 1)
        head.addWidget(self.export_button)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addLayout(head)
        rl.addWidget(self.results_tabs, 1)
        scroll = QScrollArea()  # the set-up scrolls rather than widening the window
        scroll.setWidget(self.setup)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        scroll.setMinimumWidth(260)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(scroll)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([460, 1000])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(split)

        self.setup.run_requested.connect(session.run)
        self.setup.cancel_requested.connect(session.cancel)
        self.setup.error.connect(self.error)
        self.detector_view.error.connect(self.error)
        self.validation.error.connect(self.error)
        session.started.connect(lambda: self.setup.set_running(True))
        session.finished.connect(lambda: self.setup.set_running(False))
        session.progressed.connect(self.setup.set_progress)
        session.result_changed.connect(self._show_result)
        session.threshold_changed.connect(lambda _: self._update_summary())
        session.exported.connect(self._exported)
        session.error.connect(self.error)
        session.finished.connect(self._finished)

    @property
    def idle(self) -> bool:
        return (not self.session.busy and not self.setup.busy and not self.detector_view.busy
                and not self.validation.busy)

    def _finished(self) -> None:
        if self.session.result is None:
            self.setup.set_progress(0.0, "")

    def _show_result(self) -> None:
        r = self.session.result
        self.setup.set_progress(1.0, self.session.origin
                                or f"finished at {time.strftime('%H:%M:%S')} ({r.seconds:.1f} s)")
        self.detector_view.set_result(r)
        self.backgrounds.set_tables(r.backgrounds, r.background_summary)
        rows = [(str(x["detector"]), str(x["filter"]), str(x["pupil"]), int(x["n_images"]), 100 * float(x["range"]),
                 100 * float(x["range_2_98"]), 100 * float(x["rms"])) for x in r.filter_dependence]
        fill_table(self.filter_table, rows, ["detector", "filter", "pupil", "images", "range (%)",
                                             "2-98% range (%)", "rms (%)"], ["", "", "", "d", ".2f", ".2f", ".2f"])
        self.filter_table.setToolTip("Filter delta / grey delta − 1, in 32x32 pixel bins")
        self.export_button.setEnabled(True)
        self._update_summary()

    def _update_summary(self) -> None:
        r = self.session.result
        if r is None:
            return
        counts = self.session.dead_counts()
        dets = ", ".join(f"{d} ({s.n_images} images, {'/'.join(s.filters)}, fit {s.fit_method}, "
                         f"{counts.get(d, s.n_dead)} new dead)" for d, s in r.detectors.items())
        warn = f" &nbsp;<span style='color:#a0700f'>{len(r.warnings)} warning(s) in the log</span>" if r.warnings else ""
        self.summary_label.setText(f"<b>{dets}</b> &nbsp; dead-pixel threshold {self.session.view.threshold:g}{warn}")

    def choose_export(self) -> None:
        start = os.path.dirname(self.session.setup.images[0].path) if self.session.setup.images else ""
        from ..export_folder import choose_export_folder

        path = choose_export_folder(self, "Export sky-flat products to", start)
        if path:
            self.session.export(path)

    def _exported(self, outdir: str, files: list) -> None:
        self.summary_label.setText(self.summary_label.text().split("<br>")[0]
                                   + f"<br>Exported {len(files)} files to {outdir}")
