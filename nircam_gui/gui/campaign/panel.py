"""The Campaign window: every detector of a data set through the gain or sky-flat analysis, on Dask.

Inputs (folders or files of several detectors), the reference folders, the output folder,
the cluster (local workers or a scheduler address); **Run** plans and runs the campaign in
a background thread (the cluster does the work), and a table follows each detector:
queued, running (with its fraction), done, skipped, failed, refused, cancelled, and its key
numbers. Double-clicking a finished detector opens its result in the Gain or Sky-flat tab
(the result kept beside its products, read in the background: nothing is recomputed).
"""

from __future__ import annotations

import logging
import os

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QHeaderView, QLabel, QLineEdit, QListWidget, QProgressBar, QPushButton, QSpinBox,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from .state import COLUMNS, CampaignTable, load_result, run_campaign_task

log = logging.getLogger(__name__)

__all__ = ["CampaignPanel"]

_STATE_COLOURS = {"done": "#2e7d32", "skipped": "#2e7d32", "failed": "#c62828", "refused": "#c62828",
                  "cancelled": "#9e9e9e", "running": "#1565c0", "queued": "#616161"}


class CampaignPanel(QWidget):
    """The Campaign window's panel; ``opened(analysis, result)`` hands a detector's result to the main window."""

    error = Signal(str)
    opened = Signal(str, object)  # analysis, result

    def __init__(self, runner, skyflat_options=None, parent=None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.skyflat_options = skyflat_options  # callable -> SkyflatOptions of the Sky flat tab
        self.table_state = CampaignTable()
        self.worker = None
        self._shown_version = -1

        self.analysis_combo = QComboBox()
        self.analysis_combo.addItem("Gain (flat-field ramps)", "gain")
        self.analysis_combo.addItem("Sky flats (_cal images)", "skyflat")
        self.inputs = QListWidget()
        self.inputs.setMaximumHeight(90)
        add = QPushButton("Add folder...")
        add.clicked.connect(self._add_folder)
        clear = QPushButton("Clear")
        clear.clicked.connect(self.inputs.clear)
        self.refs_edit = QLineEdit()
        self.refs_edit.setPlaceholderText("reference folders (CRDS-style), separated by ';' (default: beside the data)")
        self.out_edit = QLineEdit()
        self.out_edit.setPlaceholderText("output folder (products in <folder>/<DETECTOR>/)")
        out_button = QPushButton("...")
        out_button.clicked.connect(self._choose_out)
        self.box_combo = QComboBox()
        self.box_combo.addItems(["64", "128", "256", "512"])
        self.box_combo.setCurrentText("256")
        self.ipc_combo = QComboBox()
        self.ipc_combo.addItems(["deconvolve", "exact", "analytic", "none"])
        self.workers_spin = QSpinBox()
        self.workers_spin.setRange(0, 512)
        self.workers_spin.setSpecialValueText("one per core")
        self.scheduler_edit = QLineEdit()
        self.scheduler_edit.setPlaceholderText("tcp://host:8786 (empty: a local cluster)")
        self.keep_going = QCheckBox("Keep going (run the other detectors when one has a problem)")
        self.run_button = QPushButton("Run campaign")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.status = QLabel("Add folders holding several detectors' data, then Run.")
        self.status.setWordWrap(True)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([c.capitalize() for c in COLUMNS])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.cellDoubleClicked.connect(lambda row, _col: self.open_row(row))

        form = QFormLayout()
        form.addRow("Analysis", self.analysis_combo)
        row = QHBoxLayout()
        row.addWidget(self.inputs, 1)
        col = QVBoxLayout()
        col.addWidget(add)
        col.addWidget(clear)
        col.addStretch(1)
        row.addLayout(col)
        form.addRow("Inputs", row)
        form.addRow("References", self.refs_edit)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out_edit, 1)
        out_row.addWidget(out_button)
        form.addRow("Output", out_row)
        opts = QHBoxLayout()
        opts.addWidget(QLabel("Gain box"))
        opts.addWidget(self.box_combo)
        opts.addWidget(QLabel("IPC"))
        opts.addWidget(self.ipc_combo)
        opts.addWidget(QLabel("Workers"))
        opts.addWidget(self.workers_spin)
        opts.addStretch(1)
        form.addRow("Options", opts)
        form.addRow("Scheduler", self.scheduler_edit)
        form.addRow("", self.keep_going)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.progress, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        hint = QLabel("Double-click a finished detector to open its result in the Gain or Sky flat tab.")
        layout.addWidget(hint)

        # the table is redrawn from the shared state a few times a second, never by the worker
        self.timer = QTimer(self)
        self.timer.setInterval(250)
        self.timer.timeout.connect(self.refresh)

    # -- inputs -------------------------------------------------------------------------
    def _add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of several detectors' data")
        if folder:
            self.add_paths([folder])

    def _choose_out(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder")
        if folder:
            self.out_edit.setText(folder)

    def add_paths(self, paths) -> None:
        for p in paths:
            self.inputs.addItem(os.fspath(p))

    def paths(self) -> list[str]:
        return [self.inputs.item(i).text() for i in range(self.inputs.count())]

    @property
    def analysis(self) -> str:
        return self.analysis_combo.currentData()

    def _options(self):
        if self.analysis == "gain":
            from ...core.gain.run import GainOptions

            # the IPC kernel is found per detector; a placeholder satisfies the schema here
            kernel = "per detector" if self.ipc_combo.currentText() != "none" else None
            return GainOptions(box=int(self.box_combo.currentText()), ipc=self.ipc_combo.currentText(),
                               ipc_kernel=kernel)
        from ...core.skyflat.options import SkyflatOptions

        return self.skyflat_options() if self.skyflat_options is not None else SkyflatOptions()

    # -- run ----------------------------------------------------------------------------
    def run(self):
        """Start the campaign in the background (no-op while one runs)."""
        if self.worker is not None:
            return None
        paths, outdir = self.paths(), self.out_edit.text().strip()
        if not paths:
            self.error.emit("Add at least one input folder or file.")
            return None
        if not outdir:
            self.error.emit("Choose an output folder.")
            return None
        try:
            options = self._options()
        except ValueError as exc:
            self.error.emit(str(exc))
            return None
        refs = [r.strip() for r in self.refs_edit.text().split(";") if r.strip()]
        workers = self.workers_spin.value() or None
        self.table_state.reset(self.analysis, [], outdir)
        self.worker = self.runner.run(
            run_campaign_task, self.analysis, paths, outdir, refs, options, workers,
            self.scheduler_edit.text().strip() or None, self.keep_going.isChecked(), self.table_state,
            name="Campaign", on_result=self._done, on_error=self._failed, on_finished=self._finished)
        self.worker.progressed.connect(lambda f, m: self.progress.setValue(int(1000 * f)))
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText("Planning: reading headers, matching references...")
        log.info("Campaign (%s): %d input path(s) -> %s", self.analysis, len(paths), outdir)
        self.timer.start()
        return self.worker

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.status.setText("Cancelling: running detectors stop at their next step...")

    def _done(self, result) -> None:
        done = result.by_state("done", "skipped")
        bad = result.by_state("failed", "refused", "cancelled")
        text = f"{len(done)} of {len(result.outcomes)} detectors done"
        if bad:
            text += "; " + ", ".join(f"{d} {result.outcomes[d].state}" for d in bad)
        self.status.setText(text + f". Tables and campaign.json in {result.outdir}.")
        log.info("Campaign: %s", text)
        for d in bad:
            if result.outcomes[d].error:
                log.warning("Campaign: %s: %s", d, result.outcomes[d].error)

    def _failed(self, message: str) -> None:
        self.status.setText(message.replace("\n", "<br>"))
        self.error.emit(message)

    def _finished(self) -> None:
        self.worker = None
        self.timer.stop()
        self.refresh()
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def refresh(self) -> None:
        """Redraw the table from the shared state when it changed."""
        if self.table_state.version == self._shown_version:
            return
        self._shown_version = self.table_state.version
        rows = self.table_state.snapshot()
        self.table.setRowCount(len(rows))
        from PySide6.QtGui import QColor

        for i, row in enumerate(rows):
            for j, text in enumerate(row.cells()):
                item = self.table.item(i, j)
                if item is None:
                    item = QTableWidgetItem()
                    self.table.setItem(i, j, item)
                item.setText(text)
                if j == 1:
                    item.setForeground(QColor(_STATE_COLOURS.get(row.state, "#000000")))
                if j == 3 and row.error:
                    item.setToolTip(row.error)
        self.table.resizeColumnToContents(0)
        self.table.resizeColumnToContents(1)

    # -- open a detector ----------------------------------------------------------------
    def open_row(self, index: int):
        """Read a finished detector's kept result in the background, then hand it on."""
        rows = self.table_state.snapshot()
        if not 0 <= index < len(rows):
            return None
        row = rows[index]
        if not row.openable:
            self.status.setText(f"{row.detector} is {row.state}: nothing to open.")
            return None
        analysis = self.table_state.analysis
        self.status.setText(f"Opening {row.detector}...")
        return self.runner.run(load_result, row.folder, name=f"Opening {row.detector}",
                               on_result=lambda result, a=analysis: self.opened.emit(a, result),
                               on_error=self._failed)
