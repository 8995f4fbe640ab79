"""The sky-flat set-up: input images grouped by detector and filter, ground references, options, Run."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...core.crdskeys import check_delivery
from ...core.options import option_info
from ...core.skyflat.options import SkyflatOptions
from ..option_fields import DeliveryFields, option_tip
from ..workers import TaskRunner
from .state import SkyflatSetup, input_problem, scan_files, scan_templates

__all__ = ["SetupWidget"]

FITS_FILTER = "FITS files (*.fits *.fit *.fts *.fits.gz);;All files (*)"
TABLE_FILTER = "Tables (*.ecsv *.csv *.fits *.txt);;All files (*)"
PATH_ROLE = Qt.ItemDataRole.UserRole

#: what the schema says about every option (tool tips quote its defaults)
OPTIONS = option_info(SkyflatOptions)
#: Large-scale fit choices: label -> SkyflatOptions.fit
FITS = {"Auto (poly3 SW, median LW)": None, "3rd-order polynomial": "poly3", "Median filter on a grid": "median"}


class SetupWidget(QWidget):
    """Choose images, ground flats and masks, predictions and options; start and cancel the run.

    The choices live in :attr:`setup` (plain Python); the widgets write to it as they change.

    Signals
    -------
    run_requested()
    cancel_requested()
    changed()
        The files or options changed.
    error(str)
    """

    run_requested = Signal()
    cancel_requested = Signal()
    changed = Signal()
    error = Signal(str)

    def __init__(self, runner: TaskRunner, setup: SkyflatSetup | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.setup = setup or SkyflatSetup()
        self._scanning = 0
        self.last_dir = str(Path.home())

        files_box = QGroupBox("Input files")
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["File", "Detector", "Filter"])
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setColumnWidth(0, 250)
        self.tree.setToolTip("_cal images are grouped by detector and filter automatically; FLAT and MASK "
                             "reference files are matched to them by detector and filter")
        add_files = QPushButton("Add Files…")
        add_files.setToolTip("_cal.fits images and ground FLAT / MASK reference files")
        add_folder = QPushButton("Add Folder…")
        add_folder.setToolTip("Every _cal image and FLAT / MASK reference file in a folder and its subfolders")
        remove = QPushButton("Remove")
        clear = QPushButton("Clear")
        add_files.clicked.connect(self.choose_files)
        add_folder.clicked.connect(self.choose_folder)
        remove.clicked.connect(self.remove_selected)
        clear.clicked.connect(self.clear)
        buttons = QHBoxLayout()
        for b in (add_files, add_folder, remove, clear):
            buttons.addWidget(b)
        self.pred_edit = QLineEdit()
        self.pred_edit.setPlaceholderText("optional table (filter, background)")
        self.pred_edit.editingFinished.connect(self._predictions_edited)
        pred_button = QPushButton("…")
        pred_button.setToolTip("Choose the table of predicted backgrounds")
        pred_button.clicked.connect(self.choose_predictions)
        pred_row = QHBoxLayout()
        pred_row.addWidget(QLabel("Predictions"))
        pred_row.addWidget(self.pred_edit, 1)
        pred_row.addWidget(pred_button)
        self.pred_edit.setToolTip("Predicted sky backgrounds: a table with columns filter, background [MJy/sr], "
                                  "detector (optional)")
        template_button = QPushButton("Add…")
        template_button.setToolTip("Choose additive-light (wisp) template files; they are listed above under "
                                   "Additive templates, where Remove takes them out")
        template_button.clicked.connect(self.choose_templates)
        self.template_label = QLabel()
        self.template_label.setToolTip(
            "Wisp templates to fit instead of a template fitted from the images (FITS images in detector space, "
            "e.g. STScI's or JADES'; matched on DETECTOR, a file without one serves every detector; "
            "nircam-skyflat --additive-template). Used with Scattered light = separate")
        template_row = QHBoxLayout()
        template_row.addWidget(QLabel("Wisp templates"))
        template_row.addWidget(self.template_label, 1)
        template_row.addWidget(template_button)
        fl = QVBoxLayout(files_box)
        fl.addLayout(buttons)
        fl.addWidget(self.tree, 1)
        fl.addLayout(pred_row)
        fl.addLayout(template_row)

        self.options_box = self._make_options()
        self.delivery = DeliveryFields(SkyflatOptions, "CRDS delivery keywords (FLAT, MASK)")
        self.delivery.setToolTip("Keywords of the FLAT and MASK reference files the run writes, as "
                                 "nircam-skyflat --author/--useafter/--pedigree/--descrip/--history set them")
        self.delivery.changed.connect(self._delivery_edited)

        self.notes = QLabel()
        self.notes.setWordWrap(True)
        self.notes.setTextFormat(Qt.TextFormat.RichText)
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Build the delta flats, fits, new flats, dead pixels and backgrounds "
                                   "in the background")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        copy_cli = QPushButton("Copy Command")
        copy_cli.setToolTip("Copy the nircam-skyflat command that does the same run")
        copy_cli.clicked.connect(self.copy_command)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress_label = QLabel(" ")
        self.run_button.clicked.connect(self.run_requested)
        self.cancel_button.clicked.connect(self.cancel_requested)
        run_row = QHBoxLayout()
        run_row.addWidget(self.run_button)
        run_row.addWidget(self.cancel_button)
        run_row.addWidget(copy_cli)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(files_box, 1)
        layout.addWidget(self.options_box)
        layout.addWidget(self.delivery)
        layout.addWidget(self.notes)
        layout.addLayout(run_row)
        layout.addWidget(self.progress)
        layout.addWidget(self.progress_label)
        self._refresh()

    # -- options ----------------------------------------------------------------------
    def _make_options(self) -> QGroupBox:
        box = QGroupBox("Method (report 008304 §3)")
        box.setToolTip("The defaults are those of JWST-STScI-008304, section 3, as nircam-skyflat has them")
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        o = self.setup.options
        self.option_widgets: dict[str, QWidget] = {}

        def dspin(name, lo, hi, step, decimals, note=""):
            w = QDoubleSpinBox()
            w.setRange(lo, hi)
            w.setSingleStep(step)
            w.setDecimals(decimals)
            w.setValue(getattr(o, name))
            w.setToolTip(option_tip(OPTIONS[name], note))
            w.valueChanged.connect(lambda v, n=name: self._set_option(n, float(v)))
            self.option_widgets[name] = w
            return w

        def ispin(name, lo, hi):
            w = QSpinBox()
            w.setRange(lo, hi)
            w.setValue(getattr(o, name))
            w.setToolTip(option_tip(OPTIONS[name]))
            w.valueChanged.connect(lambda v, n=name: self._set_option(n, int(v)))
            self.option_widgets[name] = w
            return w

        def suffixed(w, suffix):
            w.setSuffix(suffix)
            return w

        # one option per row, units in the fields: the column stays narrow enough for a laptop
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.addRow("Source detection", suffixed(dspin("n_sigma", 0.1, 10, 0.1, 2), " σ"))
        form.addRow("Source size", suffixed(ispin("n_pixels", 1, 100), " px"))
        form.addRow("Grow mask by", suffixed(ispin("dilate", 0, 20), " px"))
        form.addRow("Sigma clipping", suffixed(dspin("sigma", 1.0, 10, 0.5, 1), " σ"))
        form.addRow("Clipping iterations", ispin("maxiters", 1, 20))
        self.fit_combo = QComboBox()
        self.fit_combo.addItems(list(FITS))
        self.fit_combo.setToolTip(option_tip(OPTIONS["fit"]))
        self.fit_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.fit_combo.setMinimumContentsLength(12)
        self.fit_combo.currentTextChanged.connect(lambda t: self._set_option("fit", FITS[t]))
        form.addRow("Large-scale fit", self.fit_combo)
        form.addRow("Fit grid bin", suffixed(ispin("fit_bin", 4, 256), " px"))
        form.addRow("Median filter (LW)", suffixed(ispin("median_filter", 1, 64), " bins"))
        form.addRow("Dead threshold", dspin("dead_threshold", 0.05, 0.99, 0.05, 2,
                                            "The Dead pixels tab can change it after the run"))
        form.addRow("Judged with ≥", suffixed(ispin("min_coverage", 1, 1000), " images"))
        form.addRow("Concentration", suffixed(ispin("cluster_min_npix", 2, 100000), " pixels"))
        form.addRow("Linked within", suffixed(ispin("cluster_link", 0, 50), " px"))
        self.figures_box = QCheckBox("PNG figures")
        self.figures_box.setChecked(o.figures)
        self.figures_box.setToolTip("Write PNG figures with the products (" + OPTIONS["figures"].flag
                                    + " leaves them out)")
        self.figures_box.toggled.connect(lambda v: self._set_option("figures", bool(v)))
        self.combine_combo = QComboBox()
        self.combine_combo.addItems(list(OPTIONS["combine_method"].choices))
        self.combine_combo.setToolTip(option_tip(OPTIONS["combine_method"], "The same numbers at a different speed"))
        self.combine_combo.currentTextChanged.connect(lambda t: self._set_option("combine_method", t))
        form.addRow("Stack median", self.combine_combo)
        self.additive_combo = QComboBox()
        self.additive_combo.addItems(list(OPTIONS["additive"].choices))
        self.additive_combo.setToolTip(option_tip(OPTIONS["additive"]))
        self.additive_combo.currentTextChanged.connect(lambda t: self._set_option("additive", t))
        form.addRow("Scattered light", self.additive_combo)
        form.addRow("Output", self.figures_box)
        return box

    def _delivery_edited(self, name: str, value) -> None:
        """A delivery keyword typed: checked as the command line checks it (USEAFTER a date, PEDIGREE valid)."""
        o = self.setup.options
        values = {"author": o.author, "useafter": o.useafter, "pedigree": o.pedigree, name: value}
        try:
            author, useafter, pedigree = check_delivery(values["author"], values["useafter"], values["pedigree"])
        except ValueError as exc:
            self.error.emit(str(exc))
            self.delivery.set_values(o)  # back to what the run will use
            return
        values.update(author=author, useafter=useafter, pedigree=pedigree)
        self._set_option(name, values[name])
        self.delivery.set_values(o)  # as the files will say it (a date alone becomes its midnight)

    def _set_option(self, name: str, value) -> None:
        setattr(self.setup.options, name, value)
        self._refresh()

    def set_options(self, options: SkyflatOptions) -> None:
        """Show ``options`` in the widgets (and use them)."""
        self.setup.options = options
        for name, w in self.option_widgets.items():
            w.blockSignals(True)
            w.setValue(getattr(options, name))
            w.blockSignals(False)
        label = next(k for k, v in FITS.items() if v == options.fit)
        self.fit_combo.setCurrentText(label)
        self.figures_box.setChecked(options.figures)
        self.combine_combo.setCurrentText(options.combine_method)
        self.additive_combo.setCurrentText(options.additive)
        self.delivery.set_values(options)
        self._refresh()

    # -- files ------------------------------------------------------------------------
    def choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Add _cal images and reference files", self.last_dir,
                                                FITS_FILTER)
        if paths:
            self.add_paths(paths)

    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Add a folder of _cal images", self.last_dir)
        if path:
            self.add_paths([path])

    def choose_predictions(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Predicted backgrounds", self.last_dir, TABLE_FILTER)
        if path:
            self.pred_edit.setText(path)
            self._predictions_edited()

    def _predictions_edited(self) -> None:
        self.setup.predictions = self.pred_edit.text().strip()
        self._refresh()

    def choose_templates(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Additive-light (wisp) templates", self.last_dir, FITS_FILTER)
        if paths:
            self.add_templates(paths)

    def add_templates(self, paths) -> None:
        """Add additive templates; each is read in the background (a file the run would refuse is refused)."""
        paths = [os.fspath(p) for p in paths]
        if not paths:
            return
        self._scanning += 1
        self._refresh()
        self.runner.run(scan_templates, paths, name="Reading templates", on_result=self._templates_read,
                        on_error=self.error.emit, on_finished=self._scan_done)

    def _templates_read(self, result) -> None:
        templates, problems = result
        for p in problems:
            self.error.emit(p)
        self.setup.add_templates(templates)
        self._fill_tree()
        self._check_inputs()
        self.changed.emit()

    def set_predictions(self, path: str) -> None:
        self.pred_edit.setText(path)
        self._predictions_edited()

    def add_paths(self, paths) -> None:
        """Add files or folders; headers are read in the background."""
        paths = [os.fspath(p) for p in paths]
        if paths:
            first = paths[0]
            self.last_dir = first if os.path.isdir(first) else os.path.dirname(first)
        self._scanning += 1
        self._refresh()
        self.runner.run(scan_files, paths, name="Reading headers", on_result=self._scanned,
                        on_error=self.error.emit, on_finished=self._scan_done)

    @property
    def busy(self) -> bool:
        return self._scanning > 0

    def _scan_done(self) -> None:
        self._scanning -= 1
        self._refresh()

    def _scanned(self, result) -> None:
        images, refs, problems = result
        self.setup.add(images, refs)
        for p in problems:
            self.error.emit(p)
        self._fill_tree()
        self._check_inputs()
        self.changed.emit()

    def _check_inputs(self) -> None:
        """Run the core's input check (flat-fielded, R_FLAT, BUNIT) in the background; Run waits for it."""
        key = self.setup.input_key()
        self.setup.input_problem, self.setup.input_warnings = "", []
        if not key[0]:
            return

        def done(outcome: tuple[str, list[str]]) -> None:
            if self.setup.input_key() == key:  # not a check of a set changed since
                self.setup.input_problem, self.setup.input_warnings = outcome
                self._refresh()

        self._scanning += 1
        self._refresh()
        self.runner.run(input_problem, *key, name="Checking inputs", on_result=done, on_error=self.error.emit,
                        on_finished=self._scan_done)

    def remove_selected(self) -> None:
        paths = []
        for item in self.tree.selectedItems():
            stack = [item]
            while stack:
                it = stack.pop()
                if it.data(0, PATH_ROLE):
                    paths.append(it.data(0, PATH_ROLE))
                stack.extend(it.child(i) for i in range(it.childCount()))
        self.setup.remove(paths)
        self._fill_tree()
        self._check_inputs()
        self.changed.emit()

    def clear(self) -> None:
        self.setup.clear()
        self._fill_tree()
        self.changed.emit()

    def _fill_tree(self) -> None:
        t = self.tree
        t.clear()
        grouped = self.setup.grouped()
        images = QTreeWidgetItem(t, [f"Images ({len(self.setup.images)})"])
        for det, by_token in grouped.items():
            d = QTreeWidgetItem(images, [det, det, f"{sum(len(v) for v in by_token.values())} images"])
            for token, files in by_token.items():
                f = QTreeWidgetItem(d, [f"{token} ({len(files)})", det, token])
                for c in files:
                    leaf = QTreeWidgetItem(f, [os.path.basename(c.path), det, token])
                    leaf.setData(0, PATH_ROLE, c.path)
                    leaf.setToolTip(0, c.path)
                f.setExpanded(len(files) <= 12)
            d.setExpanded(True)
        images.setExpanded(True)
        for title, refs in (("Ground flats", self.setup.flats), ("Ground masks", self.setup.masks)):
            top = QTreeWidgetItem(t, [f"{title} ({len(refs)})"])
            for r in sorted(refs, key=lambda r: (r.detector, r.token)):
                leaf = QTreeWidgetItem(top, [os.path.basename(r.path), r.detector, r.token])
                leaf.setData(0, PATH_ROLE, r.path)
                leaf.setToolTip(0, r.path)
            top.setExpanded(True)
        if self.setup.templates:
            top = QTreeWidgetItem(t, [f"Additive templates ({len(self.setup.templates)})"])
            for tpl in self.setup.templates:
                leaf = QTreeWidgetItem(top, [os.path.basename(tpl.path), tpl.detector or "all"])
                leaf.setData(0, PATH_ROLE, tpl.path)
                leaf.setToolTip(0, tpl.path)
            top.setExpanded(True)
        n = len(self.setup.templates)
        self.template_label.setText(f"{n} file{'s' if n != 1 else ''} (in the list above)" if n
                                    else "none: fitted from the images")
        self._refresh()

    # -- running ----------------------------------------------------------------------
    def set_running(self, running: bool) -> None:
        self._running = running
        self.cancel_button.setEnabled(running)
        self.options_box.setEnabled(not running)
        self.delivery.setEnabled(not running)
        if running:
            self.progress.setValue(0)
        self._refresh()

    def set_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(1000 * fraction))
        self.progress_label.setText(message or " ")

    def copy_command(self) -> None:
        QGuiApplication.clipboard().setText(self.setup.command_line())

    def _refresh(self) -> None:
        running = getattr(self, "_running", False)
        problems = self.setup.problems() if self.setup.images else []
        self.run_button.setEnabled(bool(self.setup.images) and not problems and not running and not self.busy)
        lines = [f"<span style='color:#c0392b'>{p}</span>" for p in problems]
        lines += [f"<span style='color:#a0700f'>{w}</span>" for w in self.setup.warnings()[:6]]
        if self.busy:
            lines.append("Reading headers…")
        self.notes.setText("<br>".join(lines))
        self.notes.setVisible(bool(lines))
