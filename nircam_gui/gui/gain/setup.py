"""The set-up column of the Gain tab: ramps and their pairing, reference files, options, Run.

Settings are remembered under ``gain/`` in the application's :class:`Settings`.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...core.gain.run import IPC_MODES, PTC_MODELS, GainOptions
from ...core.options import option_info
from ..settings import Settings
from .results import short_labels
from .tasks import REFTYPES, RampCheck

__all__ = ["GainSetup"]

FITS_FILTER = "FITS files (*.fits *.fit *.fts);;All files (*)"
BOX_SIZES = ("64", "128", "256", "512")
#: the schema's defaults and help texts (nircam-gain has the same)
OPTIONS = option_info(GainOptions)
IPC_TEXT = {
    "deconvolve": "deconvolve the data (report's choice)",
    "exact": "exact variance factor",
    "analytic": "analytic factor 1-2(k-1)",
    "none": "no IPC correction",
}
FIRST_PAIR_TEXT = {"auto": "auto (drop if anomalous)", "keep": "always keep", "drop": "always drop"}
PTC_MODEL_TEXT = {"linear": "linear (report's straight line)", "covariance": "covariance (gain at zero signal)"}


class GainSetup(QWidget):
    """Choose ramps, reference files and options; start and stop the analysis.

    Signals
    -------
    files_changed(list)
        The list of ramp files changed (the panel re-checks the pairing).
    grid_options_changed()
        Box size or MASK file changed (the box-grid preview is redrawn).
    run_clicked(), cancel_clicked()
    add_from_browser()
        The user asked for the browser's folder or selected file.
    """

    files_changed = Signal(list)
    grid_options_changed = Signal()
    run_clicked = Signal()
    cancel_clicked = Signal()

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.files: list[str] = []
        self.browser_folder = lambda: ""
        self.browser_file = lambda: ""

        # -- ramps --------------------------------------------------------------------
        files_box = QGroupBox("Ramps and pairs")
        self.tree = QTreeWidget()
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Pair / integration", "signal (ADU)", "check"])
        self.tree.setRootIsDecorated(True)
        self.tree.setMinimumHeight(150)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideLeft)  # JWST names differ at their ends
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.setToolTip("Integrations are paired 1/2, 3/4, ... in order of exposure start. "
                             "Signal: median of the last group minus the first (raw ADU); an "
                             "integration more than 1% off the others is flagged (report section 5.4).")
        self.add_button = QPushButton("Add…")
        self.add_button.setToolTip("Choose ramp files")
        self.folder_button = QPushButton("From browser")
        self.folder_button.setToolTip("Use the ramp selected in the file browser, or every ramp in its folder "
                                      "when no ramp is selected")
        self.clear_button = QPushButton("Clear")
        self.add_button.clicked.connect(self.choose_files)
        self.folder_button.clicked.connect(self.use_browser)
        self.clear_button.clicked.connect(lambda: self.set_files([]))
        buttons = QHBoxLayout()
        for b in (self.add_button, self.folder_button, self.clear_button):
            buttons.addWidget(b)
        self.pair_status = QLabel("No ramps chosen.")
        self.pair_status.setWordWrap(True)
        lay = QVBoxLayout(files_box)
        lay.addLayout(buttons)
        lay.addWidget(self.tree, 1)
        lay.addWidget(self.pair_status)

        # -- reference files ----------------------------------------------------------
        ref_box = QGroupBox("Calibration reference files")
        form = QFormLayout(ref_box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.ref_edits: dict[str, QLineEdit] = {}
        for reftype in REFTYPES:
            edit = QLineEdit()
            edit.setPlaceholderText("step skipped" if reftype != "IPC" else "needed unless IPC is none")
            edit.setClearButtonEnabled(True)
            browse = QToolButton()
            browse.setText("…")
            browse.setToolTip(f"Choose the {reftype} reference file")
            browse.setMinimumWidth(browse.sizeHint().width())  # never squeezed below its text
            browse.clicked.connect(lambda _=False, r=reftype: self._choose_reference(r))
            row = QHBoxLayout()
            row.addWidget(edit, 1)
            row.addWidget(browse)
            form.addRow(reftype.capitalize() if reftype != "IPC" else "IPC kernel", row)
            self.ref_edits[reftype] = edit
        self.ref_edits["MASK"].editingFinished.connect(self.grid_options_changed)
        self.find_refs_button = QPushButton("Find beside the ramps")
        self.find_refs_button.setToolTip("Fill in reference files found (by REFTYPE) in the ramps' folder "
                                         "or its reference/ subfolder")
        form.addRow(self.find_refs_button)

        # -- options -----------------------------------------------------------------
        opt_box = QGroupBox("Options")
        oform = QFormLayout(opt_box)
        self.box_combo = QComboBox()
        self.box_combo.setEditable(True)
        self.box_combo.addItems(BOX_SIZES)
        self.box_combo.setToolTip(f"Box side in pixels: {OPTIONS['box'].help} (report: {OPTIONS['box'].default})")
        self.box_combo.currentTextChanged.connect(lambda _: self.grid_options_changed.emit())
        self.limit_spin = QDoubleSpinBox()
        self.limit_spin.setRange(0, 60000)
        self.limit_spin.setDecimals(0)
        self.limit_spin.setSingleStep(500)
        self.limit_spin.setSpecialValueText("default")
        self.limit_spin.setSuffix(" ADU")
        self.limit_spin.setToolTip("Upper single-frame signal of the groups used in the fit; "
                                   "default: the detector's (5000 ADU SW, 7500 ADU LW)")
        self.groups_spin = QSpinBox()
        self.groups_spin.setRange(0, 1000)
        self.groups_spin.setSpecialValueText("all")
        self.groups_spin.setToolTip("Use only the first N groups of each integration")
        self.ipc_combo = QComboBox()
        for mode in IPC_MODES[::-1]:
            self.ipc_combo.addItem(IPC_TEXT[mode], mode)
        self.first_combo = QComboBox()
        for mode, text in FIRST_PAIR_TEXT.items():
            self.first_combo.addItem(text, mode)
        self.first_combo.setToolTip("Whether pair 1 enters the mean map (report section 5.4, Table 5)")
        self.model_combo = QComboBox()
        for mode in PTC_MODELS:
            self.model_combo.addItem(PTC_MODEL_TEXT[mode], mode)
        self.model_combo.setToolTip(OPTIONS["ptc_model"].help)
        for combo in (self.ipc_combo, self.first_combo):
            # long choices must not widen the column: the closed box shows their start,
            # the open list and the tooltip the whole text
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(14)
            combo.currentIndexChanged.connect(lambda _=0, c=combo: c.setToolTip(c.currentText()))
            combo.setToolTip(combo.currentText())
        oform.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_combo.setMinimumContentsLength(14)
        oform.addRow("Box size", self.box_combo)
        oform.addRow("Signal limit", self.limit_spin)
        oform.addRow("Groups", self.groups_spin)
        oform.addRow("IPC", self.ipc_combo)
        oform.addRow("First pair", self.first_combo)
        oform.addRow("PTC model", self.model_combo)

        # -- run ----------------------------------------------------------------------
        self.run_button = QPushButton("Run gain analysis")
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.run_clicked)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_clicked)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFormat("")
        self.progress.setTextVisible(True)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        run_row = QHBoxLayout()
        run_row.addWidget(self.run_button, 1)
        run_row.addWidget(self.cancel_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(files_box, 1)
        layout.addWidget(ref_box)
        layout.addWidget(opt_box)
        layout.addLayout(run_row)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        self.restore()

    # -- files --------------------------------------------------------------------------
    def set_files(self, files: list[str]) -> None:
        """Use these ramp files (the panel pairs and checks them in the background)."""
        self.files = [os.path.abspath(f) for f in dict.fromkeys(files)]
        self.tree.clear()
        self.pair_status.setText(f"{len(self.files)} files: pairing…" if self.files else "No ramps chosen.")
        self.settings.set("gain/files", self.files)
        self.files_changed.emit(self.files)

    def choose_files(self) -> None:
        start = os.path.dirname(self.files[0]) if self.files else self.browser_folder() or str(Path.home())
        paths, _ = QFileDialog.getOpenFileNames(self, "Choose flat-field ramps", start, FITS_FILTER)
        if paths:
            self.set_files(self.files + paths)

    def use_browser(self) -> None:
        """The ramp selected in the file browser (added), else every ramp in its folder."""
        path = self.browser_file()
        if path and os.path.isfile(path) and _looks_like_ramp(path):
            self.set_files(self.files + [path])
        else:
            self.use_browser_folder()

    def use_browser_folder(self) -> None:
        folder = self.browser_folder()
        if not folder:
            self.pair_status.setText("The file browser shows no folder.")
            return
        from ...core.readers import find_fits

        ramps = [str(p) for p in find_fits(folder) if _looks_like_ramp(p)]
        if not ramps:
            self.pair_status.setText(f"{folder}: no ramp files (_uncal.fits) in this folder.")
            return
        self.set_files(ramps)

    def show_check(self, check: RampCheck) -> None:
        """Fill the pairing tree: one top-level row per pair, its two integrations below."""
        self.tree.clear()
        signal = dict(zip([(i.path, i.index) for i in check.integrations], check.signal))
        flags = dict(zip([(i.path, i.index) for i in check.integrations], check.flags))
        paired = set()
        warn = QBrush(QColor(200, 60, 40))

        def child(parent, integ, number):
            key = (integ.path, integ.index)
            s = signal.get(key)
            item = QTreeWidgetItem(parent, [f"{number}. {short[key]}", f"{s:,.0f}" if s is not None else "…",
                                            flags.get(key, "")])
            item.setToolTip(0, f"{integ.path}\nstart {integ.meta.start_iso or 'unknown'}")
            if flags.get(key, "ok") != "ok":
                item.setForeground(2, warn)
            return item

        order = {(i.path, i.index): n + 1 for n, i in enumerate(check.integrations)}
        short = short_labels(check.integrations, suffix=True)
        for pair in check.pairs:
            top = QTreeWidgetItem(self.tree, [f"pair {pair.number}", "", ""])
            for integ in (pair.first, pair.second):
                child(top, integ, order[(integ.path, integ.index)])
                paired.add((integ.path, integ.index))
            top.setExpanded(True)
        for integ in check.integrations:
            if (integ.path, integ.index) not in paired:
                item = child(self.tree, integ, order[(integ.path, integ.index)])
                item.setText(2, "not paired (odd one out)" if not check.pairing_error else "not paired")
                item.setForeground(2, warn)
        n = len(check.integrations)
        text = (f"{len(self.files)} files, {n} integrations, {len(check.pairs)} pairs"
                + (f" · {check.detector} {check.shape[1]}x{check.shape[0]}" if check.detector else ""))
        if check.pairing_error:
            text += f"<br><span style='color:#c0392b'>{check.pairing_error}</span>"
        self.pair_status.setText(text)

    def show_error(self, message: str) -> None:
        self.tree.clear()
        self.pair_status.setText(f"<span style='color:#c0392b'>{message}</span>")

    # -- references -----------------------------------------------------------------------
    def _choose_reference(self, reftype: str) -> None:
        start = self.ref_edits[reftype].text() or (os.path.dirname(self.files[0]) if self.files else "")
        path, _ = QFileDialog.getOpenFileName(self, f"Choose the {reftype} reference file", start, FITS_FILTER)
        if path:
            self.set_reference(reftype, path)

    def set_reference(self, reftype: str, path: str) -> None:
        self.ref_edits[reftype].setText(path)
        if reftype == "MASK":
            self.grid_options_changed.emit()

    def references(self) -> dict[str, str]:
        return {r: e.text().strip() for r, e in self.ref_edits.items()}

    # -- options ------------------------------------------------------------------------
    def box_size(self) -> int:
        try:
            return int(self.box_combo.currentText())
        except ValueError:
            return OPTIONS["box"].default

    def options(self, regions: str | None) -> GainOptions:
        """The analysis options on screen, as the command line would build them.

        Raises
        ------
        ValueError
            An option the engine refuses (message for the user).
        """
        try:
            box = int(self.box_combo.currentText())
        except ValueError:
            raise ValueError(f"box size {self.box_combo.currentText()!r} is not a whole number of pixels") from None
        refs = {k: (v or None) for k, v in self.references().items()}
        for reftype, path in refs.items():
            if path and not os.path.isfile(path):
                raise ValueError(f"{path}: the {reftype} reference file does not exist")
        return GainOptions(
            box=box,
            signal_limit=self.limit_spin.value() or None,
            groups=self.groups_spin.value() or None,
            regions=regions,
            ipc=self.ipc_combo.currentData(),
            ipc_kernel=refs["IPC"],
            superbias=refs["SUPERBIAS"],
            linearity=refs["LINEARITY"],
            saturation=refs["SATURATION"],
            mask=refs["MASK"],
            first_pair=self.first_combo.currentData(),
            ptc_model=self.model_combo.currentData(),
        )

    def set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        for w in (self.add_button, self.folder_button, self.clear_button):
            w.setEnabled(not running)
        if running:
            self.progress.setValue(0)
            self.progress.setFormat("starting…")

    def set_progress(self, fraction: float, message: str) -> None:
        """Show a fraction done with a message; a message alone (fraction < 0) replaces the bar's text."""
        if fraction < 0:
            self.progress.setFormat(message.replace("%", "%%"))
            return
        self.progress.setValue(int(1000 * fraction))
        self.progress.setFormat(f"{message}  %p%" if fraction < 1 else message.replace("%", "%%"))

    # -- settings -------------------------------------------------------------------------
    def save(self) -> None:
        s = self.settings
        s.set("gain/files", self.files)
        for r, e in self.ref_edits.items():
            s.set(f"gain/ref/{r}", e.text())
        s.set("gain/box", self.box_combo.currentText())
        s.set("gain/signal_limit", self.limit_spin.value())
        s.set("gain/groups", self.groups_spin.value())
        s.set("gain/ipc", self.ipc_combo.currentData())
        s.set("gain/first_pair", self.first_combo.currentData())
        s.set("gain/ptc_model", self.model_combo.currentData())

    def restore(self) -> None:
        s = self.settings
        for r, e in self.ref_edits.items():
            e.setText(s.get(f"gain/ref/{r}", "") or "")
        self.box_combo.setCurrentText(str(s.get("gain/box", str(OPTIONS["box"].default))))
        self.limit_spin.setValue(float(s.get("gain/signal_limit", 0.0, float) or 0.0))
        self.groups_spin.setValue(int(s.get("gain/groups", 0, int) or 0))
        for combo, key, default in ((self.ipc_combo, "gain/ipc", OPTIONS["ipc"].default),
                                    (self.first_combo, "gain/first_pair", OPTIONS["first_pair"].default),
                                    (self.model_combo, "gain/ptc_model", OPTIONS["ptc_model"].default)):
            i = combo.findData(s.get(key, default))
            combo.setCurrentIndex(max(i, 0))
        for w in (self.limit_spin, self.groups_spin):
            w.valueChanged.connect(lambda *_: self.save())
        for w in (self.ipc_combo, self.first_combo, self.model_combo, self.box_combo):
            w.currentIndexChanged.connect(lambda *_: self.save())
        self.box_combo.currentTextChanged.connect(lambda *_: self.save())
        for e in self.ref_edits.values():
            e.textChanged.connect(lambda *_: self.save())

    def saved_files(self) -> list[str]:
        value = self.settings.get("gain/files", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or []) if v and os.path.isfile(str(v))]


def _looks_like_ramp(path) -> bool:
    """A raw ramp (header only; unreadable files are left out)."""
    from ...core.readers import read_metadata

    try:
        return read_metadata(path).kind in ("uncal", "ramp", "ground_ramp")
    except Exception:  # noqa: BLE001 - any unreadable file is simply not a ramp
        return False
