"""The Gain tab: set-up, the image with box grid and epoxy-void editor, the live PTC, results.

Layout: set-up column | image (Boxes & regions) or a result view | PTC panel. Work runs
in the main window's :class:`~nircam_gui.gui.workers.TaskRunner` (so it shows in the
progress area and stops when the window closes): the analysis and the export in a child
process (they hold the GIL for long stretches), pairing checks and box-grid previews in
threads. The panel keeps the last :class:`~nircam_gui.core.gain.run.GainResult` and
draws it; it never recomputes science.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import NircamFileError
from ..image_viewer import ImageViewer
from ..settings import Settings, data_folder
from ..workers import TaskRunner, Worker
from .box_overlay import BoxOverlay
from .ptc_plot import PTCPlot
from .region_editor import RegionEditor
from .region_model import RegionModel
from .results import GainMapView, PairScatterView, SectorsView, TableView, pairs_rows
from .setup import GainSetup
from .studies_view import StudiesView
from .state import GainState, first_pair_note, regions_for_run, result_summary
from .tasks import RampCheck, export_products, find_references, inspect_ramps, preview_boxes, run_analysis

__all__ = ["GainPanel"]

log = logging.getLogger("nircam_gui")

REGION_FILTER = "DS9 region files (*.reg);;Void masks (*.fits *.fits.gz);;All files (*)"
#: Milliseconds to wait after a region edit before recomputing the box grid: a vertex
#: dragged across the image recomputes once, where it stops.
PREVIEW_DELAY_MS = 120


def autosave_path() -> Path:
    """Where the regions on screen are kept between sessions (and through a crash)."""
    return data_folder() / "gain" / "regions-autosave.reg"


class GainPanel(QWidget):
    """The Gain tab.

    Parameters
    ----------
    runner : TaskRunner
        The window's runner: background work shows in the log panel and stops on close.
    settings : Settings
    browser : FileBrowser, optional
        The window's file browser, for "use the browser's folder / file".

    Signals
    -------
    error(str)
        A message for the user ("<file>: <problem>"); the window shows it.
    result_ready(object)
        A run finished (the GainResult).
    exported(dict)
        Products written: name -> path.
    """

    error = Signal(str)
    #: the pointer's line for the window's status bar: pixel readout and the box under it
    status_text = Signal(str)
    result_ready = Signal(object)
    exported = Signal(dict)
    preview_ready = Signal()

    #: run the analysis and the export in a child process (tests may use a thread)
    run_in_process = True

    def __init__(self, runner: TaskRunner, settings: Settings | None = None, browser=None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.settings = settings or Settings()
        self.browser = browser
        self.state = GainState()
        self.run_worker: Worker | None = None
        self.export_worker: Worker | None = None
        self._check_worker: Worker | None = None

        # -- parts ------------------------------------------------------------------------
        self.setup = GainSetup(self.settings)
        if browser is not None:
            self.setup.browser_folder = lambda: browser.folder
            self.setup.browser_file = browser.current_path
        self.viewer = ImageViewer(runner)
        self.viewer.set_state(difference=True)  # a flat's signal shows the epoxy voids best
        self.canvas = self.viewer.canvas
        self.overlay = BoxOverlay(self.canvas.view, self)
        self.model = RegionModel(autosave_path())
        self.editor = RegionEditor(self.canvas, self.model, self)
        self.ptc = PTCPlot()
        self.maps_view = GainMapView()
        self.scatter_view = PairScatterView()
        self.sectors_view = SectorsView()
        self.pairs_view = TableView()
        self.studies_view = StudiesView(runner)

        # -- image page: toolbar, canvas + colour bar, hover line --------------------------
        self.toolbar = self._make_toolbar()
        bar_widget = pg.GraphicsLayoutWidget()
        bar_widget.setFixedWidth(78)
        bar_widget.addItem(self.overlay.colorbar)
        self.colorbar_widget = bar_widget
        bar_widget.setVisible(False)
        self.hover_label = QLabel(" ")
        self.hover_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hint_label = QLabel("Choose ramps on the left; draw epoxy voids here (Draw, or Open… a DS9 region file), then Run.")
        self.hint_label.setWordWrap(True)
        image_row = QHBoxLayout()
        image_row.setContentsMargins(0, 0, 0, 0)
        image_row.addWidget(self.viewer, 1)
        image_row.addWidget(bar_widget)
        image_page = QWidget()
        lay = QVBoxLayout(image_page)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.toolbar)
        lay.addLayout(image_row, 1)
        hint_row = QHBoxLayout()
        hint_row.addWidget(self.mode_label, 0, Qt.AlignmentFlag.AlignTop)
        hint_row.addWidget(self.hint_label, 1)
        hint_row.addWidget(self.regions_label)
        lay.addLayout(hint_row)

        self.views = QTabWidget()
        self.views.setDocumentMode(True)
        # short names keep every tab visible in a laptop-wide column; the tooltips say more
        for page, name, tip in ((image_page, "Boxes", "The flat with the box grid and the epoxy-void regions"),
                                (self.maps_view, "Maps", "Gain maps per pair and their mean, with histograms"),
                                (self.scatter_view, "Scatter", "One pair's box gains against another's"),
                                (self.sectors_view, "Sectors", "Sector gains as in report Table 7"),
                                (self.pairs_view, "Pairs", "Per-pair results and the first-pair test"),
                                (self.studies_view, "Studies", "Signal-limit and box-size studies")):
            self.views.setTabToolTip(self.views.addTab(page, name), tip)

        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Write the GAIN reference file, ECSV tables, PTC points, region file, "
                                      "PNG and PDF figures (the same writers as nircam-gain)")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self.choose_export)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.ptc, 1)
        rl.addWidget(self.export_button)

        scroll = QScrollArea()
        scroll.setWidget(self.setup)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(self.setup.minimumSizeHint().width()
                               + scroll.verticalScrollBar().sizeHint().width() + 2)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(scroll)
        self.splitter.addWidget(self.views)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setStretchFactor(2, 2)
        self.splitter.setSizes([300, 640, 380])
        for i in range(3):
            self.splitter.setCollapsible(i, i != 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

        # -- wiring ---------------------------------------------------------------------
        self._preview_timer = QTimer(self, singleShot=True, interval=PREVIEW_DELAY_MS)
        self._preview_timer.timeout.connect(self.request_preview)
        self.model.subscribe(self._regions_changed)
        self.setup.files_changed.connect(self._files_changed)
        self.setup.grid_options_changed.connect(self._grid_options_changed)
        self.setup.run_clicked.connect(self.run)
        self.setup.cancel_clicked.connect(self.cancel)
        self.setup.find_refs_button.clicked.connect(lambda: self.find_references(overwrite=True))
        self.editor.message.connect(self.hint_label.setText)
        self.editor.draw_warning = self.state.draw_warning
        self.editor.mode_changed.connect(self._mode_changed)
        self.canvas.hovered.connect(self._hovered)
        self.viewer.readout.connect(self._readout)
        self.viewer.failed.connect(self.error)
        self.viewer.loaded.connect(self._image_loaded)
        self.canvas.scene().sigMouseClicked.connect(self._scene_clicked)
        self.ptc.cleared.connect(lambda: self.select_boxes([]))
        self._readout_text = ""

        self._restore()

    # -- construction helpers --------------------------------------------------------------
    def _make_toolbar(self) -> QToolBar:
        tb = QToolBar()
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        group = QActionGroup(self)
        self.mode_actions = {}
        for mode, text, key, tip in (
                ("navigate", "Pan", "N", "Pan and zoom; click a box to see its PTC (Ctrl+click adds boxes)"),
                ("draw", "Draw", "P", "Draw an epoxy-void polygon: click vertices, or drag freehand"),
                ("edit", "Edit", "E", "Move, insert (double-click an edge) and delete (right-click) "
                                              "vertices; drag a region to move it")):
            a = QAction(text, self, checkable=True)
            a.setToolTip(f"{tip} ({key})")
            a.setShortcut(QKeySequence(key))
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            a.triggered.connect(lambda _=False, m=mode: self.editor.set_mode(m))
            group.addAction(a)
            tb.addAction(a)
            self.addAction(a)
            self.mode_actions[mode] = a
        self.mode_actions["navigate"].setChecked(True)
        tb.addSeparator()
        self.undo_action = self._tool(tb, "Undo", self.model_undo, QKeySequence.StandardKey.Undo)
        self.redo_action = self._tool(tb, "Redo", self.model_redo, QKeySequence.StandardKey.Redo)
        self.delete_action = self._tool(tb, "Delete", self.editor_delete, None,
                                        "Delete the selected region (Delete in Edit mode)")
        tb.addSeparator()
        self._tool(tb, "Open…", self.choose_regions, None, "Load epoxy-void polygons from a DS9 region file")
        self._tool(tb, "Save", self.save_regions, QKeySequence.StandardKey.Save,
                   "Save the polygons as a DS9 region file (image coordinates, 1-based)")
        self._tool(tb, "Save as…", lambda: self.save_regions(ask=True))
        tb.addSeparator()
        self.grid_action = QAction("Boxes", self, checkable=True, checked=True)
        self.grid_action.setToolTip("Show the box grid and the gain colours")
        self.grid_action.toggled.connect(self._grid_toggled)
        tb.addAction(self.grid_action)
        self.regions_label = QLabel("")
        self.regions_label.setWordWrap(True)
        self.regions_label.setToolTip("Regions are autosaved after every edit and restored at the next start")
        self.mode_label = QLabel()
        self.mode_label.setObjectName("modeLabel")  # coloured per mode by the style sheet
        self._show_mode("navigate")
        return tb

    def _tool(self, tb, text, slot, key=None, tip="") -> QAction:
        a = QAction(text, self)
        if key is not None:
            a.setShortcut(QKeySequence(key))
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        if tip:
            a.setToolTip(tip)
        a.triggered.connect(slot)
        tb.addAction(a)
        self.addAction(a)
        return a

    def _restore(self) -> None:
        try:
            n = self.model.restore_autosave()
        except NircamFileError as exc:
            n = 0
            log.warning("Autosaved regions could not be read (%s); starting without regions.", exc)
        if n:
            log.info("Restored %d epoxy-void region(s) from the autosave (%s).", n, self.model.autosave_path)
        self.model.path = self.settings.get("gain/regions_path", "") or ""
        self._regions_changed()
        files = self.setup.saved_files()
        if files:
            self.setup.set_files(files)

    # -- ramps ---------------------------------------------------------------------------
    def set_files(self, files: list[str]) -> None:
        """Use these ramps (as the set-up's buttons do)."""
        self.setup.set_files(files)

    def _files_changed(self, files: list[str]) -> None:
        self.check = None
        if self._check_worker is not None:
            self._check_worker.cancel()
        if not files:
            return
        folders = list(dict.fromkeys(os.path.dirname(f) for f in files))
        if not any(self.setup.references().values()):
            self.find_references(overwrite=False)
        if not self.model.polygons:
            regs = sorted(p for folder in folders for p in Path(folder).glob("*.reg"))
            if len(regs) == 1:
                self.load_regions(str(regs[0]))
        first = files[0]
        if self.viewer.source is None or self.viewer.source.path != first:
            self.viewer.open(first)
        worker = self.runner.run(inspect_ramps, list(files), name="Pairing the ramps",
                                 on_result=lambda check, f=list(files): self._checked(check, f),
                                 on_error=lambda message, f=list(files): self._check_failed(message, f))
        self._check_worker = worker

    def _checked(self, check: RampCheck, files: list[str]) -> None:
        if files != self.setup.files:
            return  # a check of an older file list
        self.check = check
        self.setup.show_check(check)
        if check.shape != (0, 0) and check.shape != self.shape:
            self.shape = check.shape
            self.request_preview()

    def _check_failed(self, message: str, files: list[str]) -> None:
        if files != self.setup.files:
            return
        self.setup.show_error(message)
        self.error.emit(message)

    def find_references(self, overwrite: bool = True) -> Worker:
        """Fill in reference files found beside the ramps (by REFTYPE, DETECTOR, SUBARRAY), in a thread."""
        return self.runner.run(find_references, list(self.setup.files), name="Looking for reference files",
                               on_result=lambda found: self._fill_references(found, overwrite),
                               on_error=self.error.emit)

    def _fill_references(self, found: dict[str, str], overwrite: bool) -> dict[str, str]:
        for reftype, path in found.items():
            if overwrite or not self.setup.ref_edits[reftype].text():
                self.setup.set_reference(reftype, path)
        if found:
            log.info("Gain: reference files found beside the ramps: %s", ", ".join(sorted(found)))
        elif overwrite:
            self.setup.status.setText("No reference files found beside the ramps.")
        return found

    def _image_loaded(self, path: str) -> None:
        if self.viewer.frame is not None:
            shape = self.viewer.frame.image.shape[:2]
            if self.shape != shape:
                self.shape = shape
                self.request_preview()

    # -- regions and the box-grid preview ---------------------------------------------------
    def _regions_changed(self) -> None:
        n = len(self.model.polygons)
        if not self.model.path:
            where = "not saved to a file yet (kept in the autosave)"
        elif self.model.modified:
            where = f"{os.path.basename(self.model.path)}, changed since saved (kept in the autosave)"
        else:
            where = f"saved in {os.path.basename(self.model.path)}"
        text = f"{n} void region{'s' if n != 1 else ''} · {where}"
        if self.model.autosave_error:
            text = f"  {n} regions · AUTOSAVE FAILED: {self.model.autosave_error}"
        self.regions_label.setText(text)
        self.undo_action.setEnabled(self.model.can_undo)
        self.redo_action.setEnabled(self.model.can_redo)
        self.undo_action.setToolTip(f"Undo {self.model.undo_text()} (Ctrl+Z)".replace("  ", " "))
        self.redo_action.setToolTip(f"Redo {self.model.redo_text()} (Ctrl+Shift+Z)".replace("  ", " "))
        self._preview_timer.start()

    def _grid_options_changed(self) -> None:
        self._preview_timer.start()

    def stop(self) -> None:
        """No new background work: a grid preview still waiting for its delay is dropped."""
        self._preview_timer.stop()

    def closeEvent(self, event) -> None:
        self.stop()
        super().closeEvent(event)

    def request_preview(self) -> None:
        """Recompute the box grid for the regions, box size and MASK on screen (in a thread).

        While one is computing, later requests collapse into one that runs next.
        """
        if self.shape is None or not self.state.preview.request():
            return
        polys = [p.copy() for p in self.model.polygons]
        mask = self.setup.references().get("MASK") or None
        if mask and not os.path.isfile(mask):
            mask = None
        serial = self.state.result_serial
        self.runner.run(preview_boxes, polys, self.setup.box_size(), mask, self.shape, name="Box grid",
                        on_result=lambda out, s=serial: self._preview_done(out, s), on_error=self._preview_failed,
                        on_finished=self._preview_finished)

    def _preview_done(self, out, serial: int | None = None) -> None:
        grid, geometry = out
        verdict = self.state.preview_verdict(grid, serial)
        if verdict == "stale":
            return  # asked for before the result now on screen: its grid is not what the user last set
        if verdict == "result":
            self._show_result_grid(geometry)
        else:
            self.state.grid_is_result = False
            self.overlay.set_grid(grid, geometry)
            self.colorbar_widget.setVisible(False)
            self._set_selection([])
            if self.result is not None:
                self.hint_label.setText("The regions or the box size changed since the run: the grid shows the "
                                        "new boxes; run again for their gains.")
        self.preview_ready.emit()

    def _preview_failed(self, message: str) -> None:
        self.error.emit(message)

    def _preview_finished(self) -> None:
        if self.state.preview.finished():
            self.request_preview()

    def model_undo(self) -> None:
        self.model.undo()

    def model_redo(self) -> None:
        self.model.redo()

    def editor_delete(self) -> None:
        if not self.editor.delete_selected():
            self.hint_label.setText("Select a region first (Edit, then click inside it).")

    def choose_regions(self) -> None:
        start = self.model.path or (os.path.dirname(self.setup.files[0]) if self.setup.files else "")
        path, _ = QFileDialog.getOpenFileName(self, "Open epoxy-void regions", start, REGION_FILTER)
        if path:
            self.load_regions(path)

    def load_regions(self, path: str) -> bool:
        """Replace the regions with a DS9 file's (undoable); False with a message on error."""
        try:
            self.model.load(path)
        except NircamFileError as exc:
            self.error.emit(str(exc))
            return False
        self.settings.set("gain/regions_path", self.model.path)
        log.info("Loaded %d epoxy-void region(s) from %s", len(self.model.polygons), path)
        self._regions_changed()
        return True

    def save_regions(self, ask: bool = False, path: str | None = None) -> str:
        """Save the regions as a DS9 file; asks for a name when there is none (or ``ask``)."""
        if path is None:
            path = self.model.path
            if ask or not path:
                start = path or (os.path.join(os.path.dirname(self.setup.files[0]), "epoxy_voids.reg")
                                 if self.setup.files else "epoxy_voids.reg")
                path, _ = QFileDialog.getSaveFileName(self, "Save epoxy-void regions", start, REGION_FILTER)
                if not path:
                    return ""
        try:
            self.model.save(path)
        except (OSError, ValueError) as exc:
            self.error.emit(f"{path}: cannot save the regions ({getattr(exc, 'strerror', None) or exc})")
            return ""
        self.settings.set("gain/regions_path", path)
        self._regions_changed()
        log.info("Saved %d region(s) to %s", len(self.model.polygons), path)
        return path

    def _show_mode(self, mode: str) -> None:
        name, key = {"navigate": ("Pan", "N"), "draw": ("Draw", "P"), "edit": ("Edit", "E")}[mode]
        self.mode_label.setText(f"Mode: {name}")
        self.mode_label.setToolTip(f"The mouse mode ({key}); N pans, P draws a region, E edits regions")
        self.mode_label.setProperty("mode", mode)
        self.mode_label.style().unpolish(self.mode_label)
        self.mode_label.style().polish(self.mode_label)

    def _mode_changed(self, mode: str) -> None:
        self._show_mode(mode)
        self.mode_actions[mode].setChecked(True)
        # drawing needs the flat underneath: let it show through the gain colours
        self.overlay.gain_image.setOpacity(0.75 if mode == "navigate" else 0.3)

    def _grid_toggled(self, on: bool) -> None:
        self.overlay.set_visible(on)

    # -- hover and click ------------------------------------------------------------------
    def _readout(self, text: str) -> None:
        self._readout_text = text
        if text:  # a new frame under a resting pointer: refresh the line with its value
            self._hovered(self.viewer._hover)

    def _hovered(self, where) -> None:
        box = self.overlay.box_at(*where) if where is not None else 0
        parts = [p for p in (self._readout_text if where is not None else "", self.overlay.describe(box)) if p]
        self.hover_label.setText("   |   ".join(parts) or " ")
        self.status_text.emit("   |   ".join(parts))

    def _scene_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self.editor.mode == "draw":
            return
        where = self.canvas.pixel_at(event.scenePos())
        if where is None:
            return
        box = self.overlay.box_at(*where)
        if box == 0:
            return
        add = bool(event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier))
        if add:
            sel = [b for b in self.selection if b != box] if box in self.selection else self.selection + [box]
        else:
            sel = [box]
        self.select_boxes(sel)

    def select_boxes(self, box_ids: list[int]) -> None:
        """Select boxes (1-based ids of the grid on screen): outline them and plot their PTCs."""
        self._set_selection(box_ids)
        if box_ids and not self.state.grid_is_result:
            self.hint_label.setText("No PTC for these boxes yet: run the analysis.")

    def _set_selection(self, box_ids: list[int]) -> None:
        self.selection = list(box_ids)[:6]
        self.overlay.set_selection(self.selection)
        self.ptc.show_boxes(self.selection if self.state.grid_is_result else [])

    # -- running --------------------------------------------------------------------------
    def _regions_for_run(self) -> str | None:
        """A DS9 file holding exactly the polygons on screen, for the engine to read."""
        return regions_for_run(self.model.polygons, self.model.path, self.model.modified,
                               data_folder() / "gain" / "regions-last-run.reg")

    def run(self) -> Worker | None:
        """Start the analysis with the settings on screen; None (with a message) if it cannot start."""
        if self.run_worker is not None:
            return None
        files = list(self.setup.files)
        problem = self.state.run_problem(files)
        if problem:
            self.error.emit(problem)
            return None
        try:
            regions = self._regions_for_run()
            options = self.setup.options(regions)
        except (ValueError, OSError) as exc:
            self.error.emit(str(exc))
            return None
        self.setup.save()
        polygons = [p.copy() for p in self.model.polygons]
        self.setup.set_running(True)
        self.setup.status.setText("Running…")
        log.info("Gain analysis: %d files, %d px boxes, IPC %s", len(files), options.box, options.ipc)
        worker = self.runner.run(run_analysis, files, options, name="Gain analysis",
                                 in_process=self.run_in_process,
                                 on_result=lambda out, p=polygons: self._run_done(out, p),
                                 on_error=self._run_failed, on_finished=self._run_finished)
        worker.progressed.connect(self.setup.set_progress)
        worker.aborted.connect(lambda: (self.setup.status.setText("Stopped; the previous results are kept."),
                                        self.setup.set_progress(-1, time.strftime("cancelled at %H:%M:%S"))))
        self.run_worker = worker
        return worker

    def cancel(self) -> None:
        if self.run_worker is not None:
            self.run_worker.cancel()
            self.setup.status.setText("Stopping…")

    def _run_failed(self, message: str) -> None:
        self.setup.status.setText(f"<span style='color:#c0392b'>{message}</span>")
        self.error.emit(message)

    def _run_finished(self) -> None:
        self.run_worker = None
        self.setup.set_running(False)

    def _run_done(self, out, polygons: list[np.ndarray]) -> None:
        result, geometry = out
        self.set_result(result, geometry, polygons)

    def set_result(self, result, geometry=None, polygons: list[np.ndarray] | None = None,
                   origin: str | None = None) -> None:
        """Show a gain result everywhere (grid colours, PTC, maps, tables).

        ``origin`` says where a result that was not just computed comes from (a session
        file); the progress bar then says so instead of "finished at <now>".
        """
        from ...core.gain.figures import example_boxes
        from .geometry import grid_segments

        self.state.set_result(result, polygons)
        self.ptc.set_result(result)
        self._show_result_grid(geometry if geometry is not None else grid_segments(result.boxes))
        self.maps_view.set_result(result)
        self.scatter_view.set_result(result)
        self.sectors_view.set_result(result)
        header, rows, flagged = pairs_rows(result)
        self.pairs_view.set_rows(header, rows, flagged, note=first_pair_note(result))
        self.studies_view.set_result(result)
        self.export_button.setEnabled(True)
        self.setup.status.setText(result_summary(result))
        self.setup.set_progress(1.0, origin or time.strftime("finished at %H:%M:%S"))
        for warning in getattr(result, "warnings", []):  # the engine ran but wants the user to know
            log.warning(warning)
            self.setup.status.setText(self.setup.status.text() + f"<br><span style='color:#b8860b'>{warning}</span>")
        self.hint_label.setText("Click a box for its PTC; Ctrl+click adds boxes to compare.")
        picks = example_boxes(result)[2:] or example_boxes(result)[:1]
        self.select_boxes(picks)
        self.result_ready.emit(result)

    def _show_result_grid(self, geometry) -> None:
        r = self.result
        self.state.grid_is_result = True
        self.overlay.set_grid(r.boxes, geometry)
        self.overlay.set_values(r.maps.mean_gain, r.maps.mean_err)
        self.colorbar_widget.setVisible(True)
        self._set_selection(self.state.valid_selection(self.selection))

    # -- export ---------------------------------------------------------------------------
    def choose_export(self) -> None:
        start = self.settings.get("gain/export_dir", "") or (os.path.dirname(self.setup.files[0])
                                                           if self.setup.files else str(Path.home()))
        from ..export_folder import choose_export_folder

        folder = choose_export_folder(self, "Export the gain products to", start)
        if folder:
            self.export_to(folder)

    def export_to(self, folder: str) -> Worker | None:
        """Write every product of the last run to ``folder`` (in the background)."""
        if self.result is None:
            self.error.emit("Nothing to export yet: run the analysis first.")
            return None
        if self.export_worker is not None:
            return None
        self.settings.set("gain/export_dir", folder)
        self.export_button.setEnabled(False)
        worker = self.runner.run(export_products, self.result, folder, self.state.run_polygons, ("png", "pdf"),
                                 boxes=self.state.export_boxes(),
                                 name="Exporting gain products", in_process=self.run_in_process,
                                 on_result=self._exported, on_error=self.error.emit,
                                 on_finished=self._export_finished)
        self.export_worker = worker
        return worker

    def _exported(self, paths: dict) -> None:
        folder = os.path.dirname(next(iter(paths.values()))) if paths else ""
        log.info("Exported %d gain products to %s", len(paths), folder)
        self.setup.status.setText(f"Exported {len(paths)} files to {folder}.")
        self.exported.emit(paths)

    def _export_finished(self) -> None:
        self.export_worker = None
        self.export_button.setEnabled(self.result is not None)

    # the state the panel shows (kept in :class:`GainState`)
    result = property(lambda self: self.state.result)
    check = property(lambda self: self.state.check, lambda self, v: setattr(self.state, "check", v))
    shape = property(lambda self: self.state.shape, lambda self, v: setattr(self.state, "shape", v))
    selection = property(lambda self: self.state.selection, lambda self, v: setattr(self.state, "selection", v))
    run_polygons = property(lambda self: self.state.run_polygons)

    @property
    def idle(self) -> bool:
        return (self.run_worker is None and self.export_worker is None and not self.state.preview.inflight
                and not self._preview_timer.isActive() and not self.viewer.busy)
