"""The Sky flat tab's Validation page: an old and a new flat compared on dithered images.

The page collects the inputs of ``nircam-skyflat validate`` (images, old flat, new flat,
the calibration flat when the images' R_FLAT names neither), runs
:func:`~nircam_gui.core.skyflat.validate.run_validation` in a background worker and draws
what it returns: the collapsed background profiles along x and y (report 008304 Fig. 2
top) and the histograms of the per-source photometric scatter (Fig. 2 bottom). *Export*
writes the products with the command's writer. Nothing is computed here.
"""

from __future__ import annotations

import dataclasses
import logging
import os

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...core.skyflat.validate import ValidationResult, run_validation
from ...core.skyflat.validate_options import ValidationOptions
from ...core.skyflat.validate_products import write_validation_products
from ..workers import TaskRunner, Worker

__all__ = ["ValidationPage", "scatter_histogram"]

log = logging.getLogger("nircam_gui")

_PENS = {"old": pg.mkPen((214, 39, 40), width=1.5), "new": pg.mkPen((31, 119, 180), width=1.5)}


def scatter_histogram(photometry, bins: int = 30) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Bin edges (per cent) and counts of the relative scatter of each flat, on common bins."""
    values = {k: 100 * np.asarray(photometry[f"scatter_{k}"], float) for k in ("old", "new")}
    finite = np.concatenate([v[np.isfinite(v)] for v in values.values()]) if len(photometry) else np.zeros(0)
    top = float(np.percentile(finite, 98)) * 1.1 if finite.size else 1.0
    edges = np.linspace(0.0, max(top, 1e-3), bins + 1)
    return edges, {k: np.histogram(np.clip(v[np.isfinite(v)], 0, edges[-1]), edges)[0] for k, v in values.items()}


class _FileField(QWidget):
    """A path field with a Browse button."""

    def __init__(self, caption: str, placeholder: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(placeholder)
        button = QPushButton("…")
        button.setFixedWidth(28)
        button.setToolTip(caption)
        button.clicked.connect(lambda: self._browse(caption))
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.edit, 1)
        lay.addWidget(button)

    def _browse(self, caption: str) -> None:
        path, _ = QFileDialog.getOpenFileName(self, caption, os.path.dirname(self.path), "FITS (*.fits *.fits.gz)")
        if path:
            self.edit.setText(path)

    @property
    def path(self) -> str:
        return self.edit.text().strip()


class ValidationPage(QWidget):
    """Inputs, Run/Cancel, profiles and scatter histograms of a flat validation.

    Parameters
    ----------
    runner : TaskRunner
        The main window's runner (the progress area and Close see the task).
    images : callable, optional
        Returns the Sky flat tab's image paths, for *Use the tab's images*.

    Signals
    -------
    error(str)
    result_changed()
    """

    error = Signal(str)
    result_changed = Signal()

    #: run in a child process: photutils and the FITS readers hold the GIL for long stretches
    in_process = True

    def __init__(self, runner: TaskRunner, images=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self._tab_images = images
        self.options = ValidationOptions()
        self.result: ValidationResult | None = None
        self.worker: Worker | None = None
        self.export_worker: Worker | None = None

        self.image_list = QListWidget()
        self.image_list.setMinimumHeight(40)
        self.image_list.setToolTip("Dithered _cal images of one detector and filter, with a WCS")
        add = QPushButton("Add images…")
        add.clicked.connect(self._add_images)
        use_tab = QPushButton("Use the tab's images")
        use_tab.setToolTip("The _cal images of the sky-flat set-up")
        use_tab.clicked.connect(self.use_tab_images)
        clear = QPushButton("Clear")
        clear.clicked.connect(self.image_list.clear)
        self.old_flat = _FileField("Old FLAT reference file", "old FLAT (e.g. the images' R_FLAT)")
        self.new_flat = _FileField("New FLAT reference file", "new FLAT (e.g. an exported flat_<DET>_<FILTER>.fits)")
        self.cal_flat = _FileField("Calibration flat", "only if R_FLAT names neither")
        self.run_button = QPushButton("Validate")
        self.run_button.setToolTip("Re-flat-field the images with each flat; profiles and photometry "
                                   "(nircam-skyflat validate)")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.export_button = QPushButton("Export…")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self.choose_export)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.summary_label = QLabel("Compare an old and a new flat on dithered images (report 008304 Figs. 2-3).")
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        form = QFormLayout()
        form.addRow("Old flat", self.old_flat)
        form.addRow("New flat", self.new_flat)
        form.addRow("Calibration flat", self.cal_flat)
        buttons = QHBoxLayout()
        for b in (add, use_tab, clear):
            buttons.addWidget(b)
        buttons.addStretch(1)
        run_row = QHBoxLayout()
        for b in (self.run_button, self.cancel_button):
            run_row.addWidget(b)
        run_row.addWidget(self.progress, 1)
        run_row.addWidget(self.export_button)

        self.profile_x = pg.PlotWidget(background="w", title="background collapsed along y")
        self.profile_y = pg.PlotWidget(background="w", title="background collapsed along x")
        self.histogram = pg.PlotWidget(background="w", title="photometric scatter per source")
        for plot, xlabel, ylabel in ((self.profile_x, "x (pixel)", "background / median"),
                                     (self.profile_y, "y (pixel)", "background / median"),
                                     (self.histogram, "std / mean over the pointings (%)", "sources")):
            plot.setLabel("bottom", xlabel)
            plot.setLabel("left", ylabel)
            plot.showGrid(x=False, y=True, alpha=0.3)
            plot.addLegend(offset=(-10, 10), labelTextColor="k")
        profiles = QSplitter(Qt.Orientation.Horizontal)
        profiles.addWidget(self.profile_x)
        profiles.addWidget(self.profile_y)
        self.plots = QTabWidget()  # each figure gets the page's full height on a laptop screen
        self.plots.addTab(profiles, "Background profiles")
        self.plots.addTab(self.histogram, "Photometry")

        inputs = QWidget()
        il = QVBoxLayout(inputs)
        il.setContentsMargins(0, 0, 0, 0)
        il.addLayout(buttons)
        il.addWidget(self.image_list, 1)
        il.addLayout(form)
        il.addLayout(run_row)
        results = QWidget()
        rl = QVBoxLayout(results)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.summary_label)
        rl.addWidget(self.plots, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(inputs)
        split.addWidget(results)
        split.setStretchFactor(1, 1)
        split.setSizes([170, 500])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(split)

    # -- inputs -------------------------------------------------------------------------
    @property
    def files(self) -> list[str]:
        return [self.image_list.item(i).text() for i in range(self.image_list.count())]

    def set_files(self, paths) -> None:
        self.image_list.clear()
        self.image_list.addItems([os.fspath(p) for p in paths])

    def set_flats(self, old: str, new: str, calibration: str = "") -> None:
        self.old_flat.edit.setText(os.fspath(old))
        self.new_flat.edit.setText(os.fspath(new))
        self.cal_flat.edit.setText(os.fspath(calibration) if calibration else "")

    def inputs_state(self) -> dict:
        """The page's inputs as plain values (for a session): images, flats, options."""
        return {"files": self.files, "old_flat": self.old_flat.path, "new_flat": self.new_flat.path,
                "calibration_flat": self.cal_flat.path, "options": dataclasses.asdict(self.options)}

    def set_inputs_state(self, state: dict) -> None:
        """Show the inputs of :meth:`inputs_state` (options unknown to this version are left out)."""
        self.set_files(state.get("files", []))
        self.set_flats(state.get("old_flat", ""), state.get("new_flat", ""), state.get("calibration_flat", ""))
        names = {f.name for f in dataclasses.fields(ValidationOptions)}
        self.options = ValidationOptions(**{k: v for k, v in (state.get("options") or {}).items() if k in names})

    def use_tab_images(self) -> None:
        if self._tab_images is not None:
            self.set_files(self._tab_images())

    def _add_images(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Dithered _cal images", "", "FITS (*_cal.fits *.fits)")
        known = set(self.files)
        self.image_list.addItems([p for p in paths if p not in known])

    # -- run ----------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.worker is not None or self.export_worker is not None

    def run(self) -> Worker | None:
        """Start a validation in the background (no-op while one runs)."""
        if self.worker is not None:
            return None
        if len(self.files) < 2 or not self.old_flat.path or not self.new_flat.path:
            self.error.emit("Validation: give at least 2 dithered _cal images, an old flat and a new flat")
            return None
        log.info("Validation: %d images, old %s, new %s", len(self.files), os.path.basename(self.old_flat.path),
                 os.path.basename(self.new_flat.path))
        self.worker = self.runner.run(
            run_validation, self.files, self.old_flat.path, self.new_flat.path,
            calibration_flat=self.cal_flat.path or None, options=self.options,
            name="Flat validation", in_process=self.in_process, on_result=self._ran, on_error=self._failed,
            on_finished=self._finished)
        self.worker.progressed.connect(self._progress)
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        return self.worker

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()

    def _progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(1000 * fraction))
        self.progress.setFormat(message[:40] or "%p%")

    def _failed(self, message: str) -> None:
        self.error.emit(message)

    def _finished(self) -> None:
        self.worker = None
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if self.result is None:
            self.progress.setValue(0)
            self.progress.setFormat("%p%")

    def _ran(self, result: ValidationResult) -> None:
        for w in result.warnings:
            log.warning("Validation: %s", w)
        log.info("Validation: %s", result.summary_line())
        self.set_result(result)

    # -- results ------------------------------------------------------------------------
    def set_result(self, result: ValidationResult | None, origin: str = "") -> None:
        """Draw ``result`` (or clear the plots for None).

        ``origin`` says where a result that was not just computed comes from (a session
        file); the progress bar then says so instead of the run's duration.
        """
        self.result = result
        for plot in (self.profile_x, self.profile_y, self.histogram):
            plot.clear()
            if plot.plotItem.legend is not None:
                plot.plotItem.legend.clear()
        self.export_button.setEnabled(result is not None)
        if result is None:
            return
        self.progress.setValue(1000)
        self.progress.setFormat(origin or f"done ({result.seconds:.1f} s)")
        for plot, table in ((self.profile_x, result.profile_x), (self.profile_y, result.profile_y)):
            x = np.asarray(table["position"], float)
            for k in ("old", "new"):
                plot.plot(x, np.asarray(table[k], float), pen=_PENS[k], name=f"{k} flat", connect="finite")
        edges, counts = scatter_histogram(result.photometry)
        for k in ("old", "new"):
            med = result.summary[f"median_scatter_{k}"]
            self.histogram.plot(edges, counts[k], stepMode="center", pen=_PENS[k],
                                name=f"{k} flat: median {100 * med:.2f}%")
        cal = {"old": "the old flat", "new": "the new flat"}.get(result.calibrated_with,
                                                                 os.path.basename(result.calibration_flat))
        warn = f" <span style='color:#a0700f'>{len(result.warnings)} warning(s) in the log</span>" \
            if result.warnings else ""
        self.summary_label.setText(f"<b>{result.summary_line()}</b><br>images calibrated with {cal}{warn}")
        self.result_changed.emit()

    # -- export -------------------------------------------------------------------------
    def choose_export(self) -> None:
        if self.result is None:
            return
        from ..export_folder import choose_export_folder

        path = choose_export_folder(self, "Export the flat validation to", os.path.dirname(self.result.files[0]))
        if path:
            self.export(path)

    def export(self, outdir: str) -> Worker | None:
        """Write the products with the writer of ``nircam-skyflat validate``, in the background."""
        if self.result is None or self.export_worker is not None:
            return None
        self.export_worker = self.runner.run(
            write_validation_products, self.result, outdir, name="Exporting the flat validation",
            on_result=lambda files, o=outdir: self._exported(o, files), on_error=self.error.emit,
            on_finished=self._export_finished)
        return self.export_worker

    def _exported(self, outdir: str, files: list) -> None:
        log.info("Validation: exported %d files to %s", len(files), outdir)
        self.summary_label.setText(self.summary_label.text().split("<br>Exported")[0]
                                   + f"<br>Exported {len(files)} files to {outdir}")

    def _export_finished(self) -> None:
        self.export_worker = None
