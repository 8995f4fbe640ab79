"""The main window: file browser, image viewer, display controls, log and analysis tabs."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QColor, QFontDatabase, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..core.display import LIMIT_METHODS, NAN_COLOUR, SCALINGS
from ..core.readers import find_fits, is_fits
from .colormaps import COLORMAPS
from .demo import make_demo
from .file_browser import FileBrowser
from .image_viewer import ImageViewer
from .log_panel import LogPanel
from .settings import Settings, demo_folder
from .workers import TaskRunner, Worker

__all__ = ["MainWindow"]

log = logging.getLogger("nircam_gui")

DEFAULT_SIZE = (1440, 900)
#: default width of the left dock column (files, display) on a laptop screen and on a large one
DOCK_WIDTH_SMALL, DOCK_WIDTH_LARGE = 260, 400
#: window widths below which the left column starts narrow
SMALL_SCREEN_WIDTH = 1600
READOUT_HINT = "Point at the image for x, y (1-based, as in DS9), value, amplifier and DQ flags"
FITS_FILTER = "FITS files (*.fits *.fit *.fts *.fits.gz);;All files (*)"

class MainWindow(QMainWindow):
    """The application window.

    Parameters
    ----------
    settings : Settings, optional
        Where layout, recent files and display choices are remembered.
    restore_layout : bool
        Restore the saved window geometry and dock layout (off for reproducible screenshots).
    modal_errors : bool
        Show errors in a message box as well as in the log and status bar.

    Signals
    -------
    error(str)
        A user-facing error message ("<file>: <problem>").
    """

    error = Signal(str)

    #: make the demo data in a child process (the simulation holds the GIL at times)
    demo_in_process = True

    def __init__(self, settings: Settings | None = None, restore_layout: bool = True,
                 modal_errors: bool = True) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self.modal_errors = modal_errors
        self.last_error = ""
        self._demo_worker: Worker | None = None
        self._closing = False
        self._shown_once = False
        self.setWindowTitle("NIRCam GUI")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)

        self.runner = TaskRunner(self, max_threads=2)
        self.viewer = ImageViewer(self.runner)
        self.browser = FileBrowser()
        self.log_panel = LogPanel(self.runner)
        logging.getLogger("nircam_gui").addHandler(self.log_panel.handler)
        logging.getLogger("nircam_gui").setLevel(logging.INFO)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.viewer, "Image")
        self.analysis_panels: dict[str, QWidget] = {}
        from .gain.panel import GainPanel  # imported here to keep start-up light

        self.gain_panel = GainPanel(self.runner, self.settings, self.browser)
        self.gain_panel.error.connect(lambda message: self.show_error(message))
        self.set_analysis_panel("Gain", self.gain_panel)
        self.setCentralWidget(self.tabs)

        # left column: files above display controls, so the image gets the whole right side
        self.files_dock = self._dock("Files", "files_dock", self.browser, Qt.DockWidgetArea.LeftDockWidgetArea)
        # the Display dock shows the controls of the active tab's image view
        self.display_stack = QStackedWidget()
        self.display_stack.addWidget(self.viewer.panel)
        self.display_stack.addWidget(self.gain_panel.viewer.panel)
        self.display_dock = self._dock("Display", "display_dock", self.display_stack,
                                       Qt.DockWidgetArea.LeftDockWidgetArea)
        self.splitDockWidget(self.files_dock, self.display_dock, Qt.Orientation.Vertical)
        self.log_dock = self._dock("Log", "log_dock", self.log_panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        from .ramp_plot import RampPlot

        self.ramp_plot = RampPlot(references=lambda: self.gain_panel.setup.references())
        self.ramp_dock = self._dock("Pixel ramp", "ramp_dock", self.ramp_plot, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.log_dock, self.ramp_dock)
        from .box_stats import BoxStatsTool
        from .pixel_table import PixelTable

        self.pixel_table = PixelTable()
        self.box_stats = BoxStatsTool(self.active_viewer)
        pixels = QSplitter(Qt.Orientation.Horizontal)
        pixels.addWidget(self.pixel_table)
        pixels.addWidget(self.box_stats)
        from .line_profile import LineProfileTool

        self.line_profile = LineProfileTool(self.active_viewer)
        pixels.addWidget(self.line_profile)
        pixels.setStretchFactor(0, 3)
        pixels.setStretchFactor(1, 2)
        pixels.setStretchFactor(2, 3)
        self.pixels_dock = self._dock("Pixels", "pixels_dock", pixels, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.ramp_dock, self.pixels_dock)
        self.log_dock.raise_()
        self._default_state = self.saveState()

        self._make_status_bar()
        self._make_menus()

        self.browser.file_selected.connect(self.open_file)
        self.browser.add_requested.connect(self.add_to_analysis)
        self._pointer_text: dict[int, str] = {}
        self.tabs.currentChanged.connect(self._tab_changed)
        self.gain_panel.status_text.connect(lambda t: self.set_pointer_text(self.gain_panel, t))
        self.viewer.loaded.connect(self._loaded)
        self.viewer.canvas.hovered.connect(self._ramp_pointer)
        for viewer in (self.viewer, self.gain_panel.viewer):
            viewer.canvas.hovered.connect(lambda where, v=viewer: self._pixel_table_pointer(v, where))
            viewer.frame_shown.connect(lambda v=viewer: self._pixel_table_pointer(v, v._hover))
        self.viewer.frame_shown.connect(lambda: self._ramp_pointer(self.viewer._hover))
        self.ramp_plot.failed.connect(lambda m: log.warning("%s", m))
        self.viewer.failed.connect(self.show_error)
        self.viewer.frame_shown.connect(self._update_zoom_label)
        self.viewer.canvas.view.sigRangeChanged.connect(lambda *_: self._update_zoom_label())

        from .skyflat import install_skyflat_tabs  # "Sky flat" and "Dead pixels" tabs

        sky, dead = install_skyflat_tabs(self)
        from .campaign import install_campaign_window  # Tasks > Campaign...

        install_campaign_window(self)
        from .grid_display import GridDisplay

        self.gain_panel.exported.connect(
            lambda paths: self._export_finished(os.path.dirname(next(iter(paths.values()))) if paths else "",
                                                len(paths)))
        sky.session.exported.connect(lambda folder, files: self._export_finished(folder, len(files)))
        self.grid_displays = {sky: GridDisplay(sky.detector_view.grid, self),
                              dead: GridDisplay(dead.grid, self)}
        for grid_display in self.grid_displays.values():
            self.display_stack.addWidget(grid_display.panel)
        for k in range(self.display_stack.count()):  # one NaN colour for every view
            self.display_stack.widget(k).changed.connect(
                lambda name, value: self.set_nan_colour(value) if name == "nan_colour" else None)
        self.set_nan_colour(NAN_COLOUR)
        self._restore(restore_layout)

    # -- construction -------------------------------------------------------------------
    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)  # saveState() needs names
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _make_status_bar(self) -> None:
        bar = self.statusBar()
        fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.readout_label = QLabel()
        self.readout_label.setFont(fixed)
        self.viewer.readout.connect(lambda text: self.set_pointer_text(self.viewer, text))
        self.readout_label.setText(READOUT_HINT)
        # the line is clipped rather than widening the window on a laptop
        self.readout_label.setMinimumWidth(120)
        self.readout_label.setToolTip("Pixel under the mouse: 1-based x, y as in DS9; amplifier 1-4; DQ flags")
        self.zoom_label = QLabel()
        self.zoom_label.setMinimumWidth(90)
        bar.addPermanentWidget(self.readout_label, 1)
        bar.addPermanentWidget(self.zoom_label)

    def _action(self, menu, text: str, slot, shortcut=None, tip: str = "", checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            if isinstance(shortcut, (list, tuple)):
                action.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _make_menus(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&File")
        self._action(m, "&Open File…", self.choose_file, QKeySequence.StandardKey.Open)
        self._action(m, "Open &Folder…", self.choose_folder, "Ctrl+Shift+O")
        self.recent_menu = m.addMenu("Open &Recent")
        self._action(m, "Open &Demo Data", self.open_demo, tip="Simulated NIRCam ramps and images")
        m.addSeparator()
        self._action(m, "Open &Session…", self.choose_open_session,
                     tip="Restore inputs, regions, options, display and the last results")
        self._action(m, "Sa&ve Session…", self.choose_save_session,
                     tip="Keep inputs, regions, options, display and the last results in one file")
        m.addSeparator()
        self._action(m, "Show &Header…", self.show_header, "Ctrl+H", tip="FITS headers of the open file")
        self._action(m, "Open Re&gions on Image…", self.choose_image_regions, "Ctrl+R",
                     tip="Draw a DS9 region file's outlines over the Image tab")
        self._action(m, "Clear Regions on Image", self.clear_image_regions)
        self._action(m, "&Save Window Image…", self.choose_screenshot, "Ctrl+Shift+S")
        m.addSeparator()
        self._action(m, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        self._fill_recent_menu()

        v = mb.addMenu("&View")
        self._action(v, "Zoom to &Fit", lambda: self._viewer_or_main().canvas.zoom_fit(), ["F", "Ctrl+0"])
        self._action(v, "Zoom &1:1", lambda: self._viewer_or_main().canvas.zoom_actual(), "Ctrl+1")
        self._action(v, "Zoom &In", lambda: self._viewer_or_main().canvas.zoom_by(2.0), ["Ctrl+=", "Ctrl++"])
        self._action(v, "Zoom &Out", lambda: self._viewer_or_main().canvas.zoom_by(0.5), "Ctrl+-")
        v.addSeparator()
        self.limit_actions = self._choice_menu(v.addMenu("&Limits"), LIMIT_METHODS, "limits")
        self.scaling_actions = self._choice_menu(v.addMenu("&Scale"), SCALINGS, "scaling")
        self.colormap_actions = self._choice_menu(v.addMenu("&Colours"), COLORMAPS, "colormap")
        v.addSeparator()
        for dock in (self.files_dock, self.display_dock, self.log_dock, self.ramp_dock, self.pixels_dock):
            v.addAction(dock.toggleViewAction())
        self._action(v, "&Reset Layout", self.reset_layout)

        f = mb.addMenu("F&rame")
        self._action(f, "&Next Group", lambda: self._viewer_or_main().step_group(1), "]")
        self._action(f, "&Previous Group", lambda: self._viewer_or_main().step_group(-1), "[")
        self._action(f, "First Group", lambda: self._viewer_or_main().set_state(group=0), "Home")
        self._action(f, "Last Group", lambda: self._viewer_or_main().set_state(group=10**9), "End")
        self._action(f, "Next &Integration", lambda: self._viewer_or_main().step_integration(1), "}")
        self._action(f, "Previous I&ntegration", lambda: self._viewer_or_main().step_integration(-1), "{")
        f.addSeparator()
        self.blink_action = self._action(f, "&Blink Integrations", self.toggle_blink, "B", checkable=True,
                                         tip="Alternate between this integration and the next every half second")
        self.blink_files_action = self._action(
            f, "Blink Two &Files", self.toggle_blink_files, "Shift+B", checkable=True,
            tip="Alternate between two files every half second: the two selected in the file browser, "
                "or the file on screen and one you choose")
        self.dq_action = self._action(f, "DQ &Overlay", self.toggle_dq_overlay, "Q", checkable=True,
                                      tip="Colour the pixels flagged in the DQ array, with a legend")
        self.difference_action = self._action(
            f, "&Difference (group − group 1)", lambda on: self._viewer_or_main().set_state(difference=on), "D",
            checkable=True)
        self.viewer.difference_box.toggled.connect(self.difference_action.setChecked)

        t = mb.addMenu("&Tasks")
        self._action(t, "&Cancel Running Task", self.log_panel.cancel, "Esc")

        h = mb.addMenu("&Help")
        self._action(h, "&Help and Keyboard Shortcuts", self.show_shortcuts, "F1")
        self._action(h, "&About", self.show_about)
        self.viewer.panel.changed.connect(lambda *_: self._sync_choice_menus())
        self.gain_panel.viewer.panel.changed.connect(lambda *_: self._sync_choice_menus())
        self._sync_choice_menus()

    def _choice_menu(self, menu, names, field: str) -> dict[str, QAction]:
        group = QActionGroup(self)
        actions = {}
        for name in names:
            action = QAction(name, self, checkable=True)
            action.triggered.connect(lambda _=False, n=name: self._choose(field, n))
            group.addAction(action)
            menu.addAction(action)
            actions[name] = action
        return actions

    def _choose(self, field: str, value: str) -> None:
        tab = self.tabs.currentWidget()
        grid_display = getattr(self, "grid_displays", {}).get(tab)
        if grid_display is not None:
            grid_display.set_state(field, value)
        else:
            self._viewer_or_main().set_state(**{field: value})
        self._sync_choice_menus()

    def _sync_choice_menus(self) -> None:
        if not hasattr(self, "limit_actions"):
            return
        s = self._viewer_or_main().state
        for actions, value in ((self.limit_actions, s.limits), (self.scaling_actions, s.scaling),
                               (self.colormap_actions, s.colormap)):
            if value in actions:
                actions[value].setChecked(True)

    # -- the pointer's status line and the active view -------------------------------------
    def set_pointer_text(self, tab: QWidget, text: str) -> None:
        """The status line for the pointer over ``tab``'s images; shown while that tab is in front."""
        self._pointer_text[id(tab)] = text
        if self.tabs.currentWidget() is tab:
            self.readout_label.setText(text or READOUT_HINT)

    def _tab_changed(self, index: int) -> None:
        tab = self.tabs.widget(index)
        # another tab's pixel is not under the pointer any more
        self.readout_label.setText(READOUT_HINT)
        panel = self.active_display_panel()
        if panel is not None:
            self.display_stack.setCurrentWidget(panel)
        self._sync_choice_menus()
        self._update_zoom_label()
        del tab

    def set_nan_colour(self, rgb: tuple[int, int, int]) -> None:
        """The colour of NaN pixels in every image view (DS9's Color > NaN colour)."""
        rgb = tuple(int(c) for c in rgb)
        self.nan_colour = rgb
        for viewer in (self.viewer, self.gain_panel.viewer):
            viewer.set_state(nan_colour=rgb)
        for grid_display in getattr(self, "grid_displays", {}).values():
            grid_display.set_state("nan_colour", rgb)

    def active_viewer(self) -> ImageViewer | None:
        """The ImageViewer of the tab in front (Image or Gain), None on the map tabs."""
        tab = self.tabs.currentWidget()
        if tab is self.viewer:
            return self.viewer
        if tab is self.gain_panel and self.gain_panel.views.currentIndex() == 0:
            return self.gain_panel.viewer
        return None

    def active_display_panel(self):
        tab = self.tabs.currentWidget()
        if tab is self.viewer:
            return self.viewer.panel
        if tab is self.gain_panel:
            return self.gain_panel.viewer.panel
        grid_display = getattr(self, "grid_displays", {}).get(tab)
        return grid_display.panel if grid_display is not None else None

    def _viewer_or_main(self) -> ImageViewer:
        return self.active_viewer() or self.viewer

    def _pixel_table_pointer(self, viewer: ImageViewer, where) -> None:
        if where is not None and viewer.frame is not None and self.pixels_dock.isVisible():
            self.pixel_table.show_around(viewer.frame.image, *where)

    # -- blink and DQ overlay --------------------------------------------------------------
    BLINK_MS = 500

    def toggle_blink(self, on: bool) -> None:
        """Alternate the Image tab between its integration and the next (DS9's blink)."""
        from PySide6.QtCore import QTimer

        if not hasattr(self, "_blink_timer"):
            self._blink_timer = QTimer(self, interval=self.BLINK_MS)
            self._blink_timer.timeout.connect(self._blink_step)
        src = self.viewer.source
        if on and (src is None or src.nints < 2):
            self.statusBar().showMessage("Blink needs a ramp with two or more integrations.", 8000)
            self.blink_action.setChecked(False)
            return
        if on and self.blink_files_action.isChecked():
            self.blink_files_action.trigger()  # one blink at a time
        if on:
            self._blink_pair = (self.viewer.state.integration, (self.viewer.state.integration + 1) % src.nints)
            self._blink_timer.start()
        else:
            self._blink_timer.stop()

    def toggle_blink_files(self, on: bool) -> None:
        """Blink the two files selected in the browser, or the file on screen and one chosen in a dialog."""
        if not on:
            self.file_blink.stop()
            return
        self.blink_files_action.setChecked(False)  # checked again once the second file is read
        paths = [p for p in self.browser.selected_paths() if os.path.isfile(p)]
        current = self.viewer.source.path if self.viewer.source is not None else None
        if len(paths) == 2:
            self.blink_files(*paths)
        elif current is not None:
            other, _ = QFileDialog.getOpenFileName(self, "Blink with", os.path.dirname(current),
                                                   "FITS files (*.fits *.fits.gz *.fit *.fts);;All files (*)")
            if other:
                self.blink_files(current, other)
        else:
            self.statusBar().showMessage("Blink Two Files: select two files in the file browser, "
                                         "or open one first.", 8000)

    def blink_files(self, first: str | os.PathLike, second: str | os.PathLike) -> None:
        """Alternate the Image tab between ``first`` and ``second`` (each keeps its own stretch)."""
        from .blink import FileBlink

        if self.blink_action.isChecked():
            self.blink_action.trigger()  # one blink at a time
        if getattr(self, "file_blink", None) is None:
            self.file_blink = FileBlink(self.viewer, self)
            self.file_blink.ready.connect(lambda _: self.blink_files_action.setChecked(True))
            self.file_blink.failed.connect(self.show_error)
        self.file_blink.stop()
        first, second = os.path.abspath(os.fspath(first)), os.path.abspath(os.fspath(second))
        current = self.viewer.source.path if self.viewer.source is not None else None
        if current is not None and os.path.abspath(current) == second:
            first, second = second, first
        self.tabs.setCurrentWidget(self.viewer)
        if current is not None and os.path.abspath(current) == first:
            self.file_blink.start(second)
            return

        def then_blink(path):
            self.viewer.loaded.disconnect(then_blink)
            self.file_blink.start(second)

        self.viewer.loaded.connect(then_blink)
        self.viewer.open(first)

    def _blink_step(self) -> None:
        if self.viewer.busy:
            return  # the last frame is still being read: never queue frames up
        a, b = self._blink_pair
        self.viewer.set_state(integration=b if self.viewer.state.integration == a else a)

    def toggle_dq_overlay(self, on: bool) -> None:
        from .dq_overlay import DQOverlay

        if getattr(self, "dq_overlay", None) is None:
            self.dq_overlay = DQOverlay(self.viewer.canvas.view)
            self.viewer.frame_shown.connect(
                lambda: self.dq_overlay.set_dq(self.viewer.frame.dq if self.viewer.frame is not None else None))
        self.dq_overlay.set_dq(self.viewer.frame.dq if self.viewer.frame is not None else None)
        self.dq_overlay.set_visible(on)
        if on and self.viewer.frame is not None and self.viewer.frame.dq is None:
            self.statusBar().showMessage("This file has no DQ array.", 8000)

    def _ramp_pointer(self, where) -> None:
        src = self.viewer.source
        if where is None or src is None or not src.is_ramp:
            return
        self.ramp_plot.point_at(src.path, self.viewer.state.integration, *where)

    def _export_finished(self, folder: str, n_files: int) -> None:
        log.info("Export finished at %s: %d files in %s", time.strftime("%H:%M:%S"), n_files, folder)
        if self.modal_errors and folder and not self._closing:  # interactive use: offer to open it
            from .export_folder import offer_to_open

            offer_to_open(self, folder, n_files)

    def add_to_analysis(self, target: str, paths: list[str]) -> None:
        """Files chosen in the browser go to the Gain tab (ramps) or the Sky flat tab (images, flats, masks)."""
        if not paths:
            self.statusBar().showMessage("Select files in the browser first (Shift/Ctrl+click for several).", 8000)
            return
        if target == "gain":
            setup = self.gain_panel.setup
            setup.set_files(setup.files + list(paths))
            self.show_tab("gain")
        elif target == "skyflat":
            sky = self.analysis_panels["Sky flat"]
            sky.setup.add_paths(list(paths))
            self.show_tab("skyflat")
        else:
            raise ValueError(f"unknown analysis {target!r}")
        log.info("Added %d file%s to %s", len(paths), "s" if len(paths) != 1 else "",
                 "the Gain tab" if target == "gain" else "the Sky flat tab")

    # -- opening ------------------------------------------------------------------------
    def open_path(self, path: str | os.PathLike) -> None:
        """Open a FITS file, or a folder (showing it and its first FITS file)."""
        path = os.path.abspath(os.fspath(path))
        if os.path.isdir(path):
            self.browser.set_folder(path)
            self._remember(path)
            try:
                first = fits_to_show(path)
            except OSError as exc:
                self.show_error(f"{path}: cannot list the folder ({exc.strerror or exc})")
                return
            if first is not None:
                self.open_file(str(first), set_folder=False)
            else:
                log.info("%s: no FITS files in this folder", path)
        elif os.path.exists(path):
            self.open_file(path)
        else:
            self.show_error(f"{path}: no such file or folder")

    def open_file(self, path: str, set_folder: bool = True) -> None:
        """Open one FITS file in the image viewer."""
        path = os.path.abspath(path)
        if self.blink_files_action.isChecked():
            self.blink_files_action.trigger()  # another file: the blink ends
        inside = bool(self.browser.folder) and _is_under(path, self.browser.folder)
        if set_folder and not inside:  # a file in the tree keeps the tree where it is
            self.browser.set_folder(os.path.dirname(path))
        self.browser.select(path)
        self.tabs.setCurrentWidget(self.viewer)
        self.viewer.open(path)

    def _loaded(self, path: str) -> None:
        self._remember(path)
        self.setWindowTitle(f"{os.path.basename(path)} — NIRCam GUI")
        self.browser.select(path)

    def _remember(self, path: str) -> None:
        self.settings.add_recent(path)
        self._fill_recent_menu()

    def _fill_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        recent = self.settings.recent()
        for path in recent:
            action = menu.addAction(_elide_middle(path, 70))
            action.setToolTip(path)
            action.triggered.connect(lambda _=False, p=path: self.open_path(p))
        if recent:
            menu.addSeparator()
            menu.addAction("Clear Recent", self._clear_recent)
        menu.setEnabled(bool(recent))

    def _clear_recent(self) -> None:
        self.settings.clear_recent()
        self._fill_recent_menu()

    def choose_file(self) -> None:
        start = self.browser.folder or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open FITS file", start, FITS_FILTER)
        if path:
            self.open_path(path)

    def choose_folder(self) -> None:
        start = self.browser.folder or str(Path.home())
        path = QFileDialog.getExistingDirectory(self, "Open folder", start)
        if path:
            self.open_path(path)

    # -- demo data ----------------------------------------------------------------------
    def open_demo(self, folder: str | os.PathLike | None = None) -> None:
        """Open the simulated demo data set, making it first (in the background) if missing."""
        folder = Path(folder) if folder is not None else demo_folder()
        if self._demo_worker is not None:
            return
        if not any(folder.glob("*")):
            log.info("Making the demo data set in %s (once; under a minute)…", folder)
        self._demo_worker = self.runner.run(
            make_demo, str(folder), name="Making demo data", in_process=self.demo_in_process,
            on_result=lambda path: self.open_path(path),
            on_error=self.show_error,
            on_finished=self._demo_finished,
        )
        self._demo_worker.aborted.connect(lambda: log.info("Demo data: stopped; nothing was kept."))

    def _demo_finished(self) -> None:
        self._demo_worker = None

    # -- messages -----------------------------------------------------------------------
    def show_error(self, message: str) -> None:
        """Tell the user what went wrong: log, status bar, and (unless off) a message box."""
        self.last_error = message
        self.statusBar().showMessage(message, 15000)
        log.error(message)
        self.error.emit(message)
        if self.modal_errors and not self._closing:
            box = QMessageBox(QMessageBox.Icon.Warning, "NIRCam GUI", message, QMessageBox.StandardButton.Ok, self)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()  # window-modal but not blocking: work continues behind it

    SESSION_FILTER = "nircam-gui sessions (*.ncsession);;All files (*)"

    def choose_save_session(self) -> None:
        start = os.path.join(self.browser.folder or str(Path.home()), "analysis.ncsession")
        path, _ = QFileDialog.getSaveFileName(self, "Save session", start, self.SESSION_FILTER)
        if path:
            self.save_session(path)

    def save_session(self, path: str) -> str:
        """Write the session file; its path, or '' with a message on error."""
        from .session_file import save_session

        try:
            written = save_session(self, path)
        except OSError as exc:
            self.show_error(f"{path}: cannot write the session ({exc.strerror or exc})")
            return ""
        log.info("Session saved to %s", written)
        return written

    def choose_open_session(self) -> None:
        start = self.browser.folder or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open session", start, self.SESSION_FILTER)
        if path:
            self.open_session(path)

    def open_session(self, path: str) -> bool:
        """Restore a session file; False with a message on error."""
        from ..core.errors import NircamFileError
        from .session_file import open_session

        try:
            open_session(self, path)
        except NircamFileError as exc:
            self.show_error(str(exc))
            return False
        log.info("Session restored from %s", path)
        return True

    def choose_image_regions(self) -> None:
        start = self.browser.folder or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open DS9 regions", start,
                                              "DS9 region files (*.reg);;All files (*)")
        if path:
            self.open_image_regions(path)

    def open_image_regions(self, path: str) -> int:
        """Draw the regions of a DS9 file over the Image tab; the number drawn (0 with a message on error)."""
        from ..core.errors import NircamFileError
        from .region_overlay import RegionOverlay

        if getattr(self, "image_regions", None) is None:
            self.image_regions = RegionOverlay(self.viewer.canvas.view)
        try:
            drawn, skipped = self.image_regions.load(path)
        except NircamFileError as exc:
            self.show_error(str(exc))
            return 0
        log.info("Regions: %d drawn from %s%s", drawn, path,
                 f"; {skipped} skipped (sky coordinates or shapes not drawn)" if skipped else "")
        self.show_tab("image")
        return drawn

    def clear_image_regions(self) -> None:
        if getattr(self, "image_regions", None) is not None:
            self.image_regions.clear()

    def show_header(self) -> None:
        src = self.viewer.source
        if src is None:
            self.show_error("No file is open: open a FITS file first.")
            return
        from astropy.io import fits

        try:
            with fits.open(src.path) as hdul:
                parts = [f"{'=' * 20} HDU {i}: {hdu.name} {'=' * 20}\n{hdu.header.tostring(sep=chr(10))}"
                         for i, hdu in enumerate(hdul)]
        except OSError as exc:
            self.show_error(f"{src.path}: cannot read the headers ({exc})")
            return
        dialog = QDialog(self)
        dialog.setWindowTitle(f"Header — {os.path.basename(src.path)}")
        text = QPlainTextEdit("\n".join(parts), readOnly=True)
        text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.close)
        from .header_search import HeaderSearch

        search = HeaderSearch(text)
        layout = QVBoxLayout(dialog)
        layout.addWidget(search)
        layout.addWidget(text)
        layout.addWidget(buttons)
        dialog.search = search
        self.header_dialog = dialog
        dialog.resize(720, 640)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()

    def show_shortcuts(self) -> None:
        """F1: the help window (every tool, the region editor, the shortcuts)."""
        from .help_dialog import HelpDialog, menu_shortcuts

        extra = [("N / P / E", "Gain tab: Pan, Draw a region, Edit regions"),
                 ("Enter / Backspace / Esc", "Gain tab, Draw: close the polygon / remove the last vertex / abandon it"),
                 ("Delete", "Gain tab, Edit: delete the selected region")]
        if getattr(self, "help_dialog", None) is None:
            self.help_dialog = HelpDialog(menu_shortcuts(self.menuBar()) + extra, self)
        self.help_dialog.show()
        self.help_dialog.raise_()

    def show_about(self) -> None:
        from .. import __version__

        QMessageBox.about(self, "About NIRCam GUI",
                          f"<b>NIRCam GUI</b> {__version__}<br>Quick look and calibration of JWST NIRCam "
                          "detectors: ramps, images, gain, sky flats and dead pixels.")

    # -- screenshots --------------------------------------------------------------------
    def choose_screenshot(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save window image", "nircam-gui.png", "PNG (*.png)")
        if path:
            self.save_screenshot(path)

    def save_screenshot(self, path: str | os.PathLike) -> bool:
        """Render the window to a PNG; True on success."""
        ok = self.grab().save(os.fspath(path), "PNG")
        if not ok:
            self.show_error(f"{path}: could not write the image")
        return ok

    @property
    def idle(self) -> bool:
        """Nothing is running or waiting: no task, no read, no header summaries."""
        return not self.runner.active and not self.viewer.busy and self.browser.idle

    # -- analysis panels ----------------------------------------------------------------
    #: short names of the tabs (``nircam-gui --tab``) -> tab titles
    TAB_NAMES = {"image": "Image", "gain": "Gain", "skyflat": "Sky flat", "deadpix": "Dead pixels"}

    def show_tab(self, name: str) -> None:
        """Bring a tab to the front by its short name ("image", "gain", "skyflat", "deadpix")."""
        title = self.TAB_NAMES.get(name, name)
        widget = self.viewer if title == "Image" else self.analysis_panels.get(title)
        if widget is None:
            raise ValueError(f"no tab called {name!r}; use one of {', '.join(self.TAB_NAMES)}")
        self.tabs.setCurrentWidget(widget)

    def set_analysis_panel(self, title: str, widget: QWidget) -> None:
        """Put ``widget`` in the tab ``title`` (replacing the one there)."""
        old = self.analysis_panels.get(title)
        if old is not None:
            index = self.tabs.indexOf(old)
            self.tabs.removeTab(index)
            old.deleteLater()
            self.tabs.insertTab(index, widget, title)
        else:
            self.tabs.addTab(widget, title)
        self.analysis_panels[title] = widget

    # -- layout and settings ------------------------------------------------------------
    def _restore(self, restore_layout: bool) -> None:
        s = self.settings
        geometry = s.geometry("window/geometry") if restore_layout else None
        state = s.geometry("window/state") if restore_layout else None
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(*DEFAULT_SIZE)
        self._apply_default_sizes = state is None or not self.restoreState(state)
        display = {k: s.get(f"display/{k}") for k in ("limits", "scaling", "colormap")}
        valid = {"limits": LIMIT_METHODS, "scaling": SCALINGS, "colormap": COLORMAPS}
        changes = {k: v for k, v in display.items() if v in valid[k] and v != "manual"}
        changes["difference"] = bool(s.get("display/difference", False, bool))
        nan = QColor(str(s.get("display/nan_colour") or ""))
        if nan.isValid():
            self.set_nan_colour((nan.red(), nan.green(), nan.blue()))
        if changes:
            self.viewer.set_state(**changes)
            self._sync_choice_menus()
        folder = s.get("browser/folder")
        if folder and os.path.isdir(folder):
            self.browser.set_folder(folder)

    def _default_dock_sizes(self) -> None:
        width = DOCK_WIDTH_SMALL if self.width() < SMALL_SCREEN_WIDTH else DOCK_WIDTH_LARGE
        self.resizeDocks([self.files_dock], [width], Qt.Orientation.Horizontal)
        self.resizeDocks([self.files_dock, self.display_dock], [430, 300], Qt.Orientation.Vertical)
        self.resizeDocks([self.log_dock], [130 if self.height() < 850 else 170], Qt.Orientation.Vertical)

    def reset_layout(self) -> None:
        """Docks back where they start, at their default sizes."""
        self.restoreState(self._default_state)
        for dock in (self.files_dock, self.display_dock, self.log_dock, self.ramp_dock, self.pixels_dock):
            dock.show()
        self.log_dock.raise_()
        self._default_dock_sizes()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            if self._apply_default_sizes:
                # dock sizes only take once the window has its real size
                self._default_dock_sizes()

    def save_settings(self) -> None:
        s = self.settings
        s.set("window/geometry", self.saveGeometry())
        s.set("window/state", self.saveState())
        state = self.viewer.state
        s.set("display/limits", state.limits if state.limits != "manual" else "zscale")
        s.set("display/scaling", state.scaling)
        s.set("display/colormap", state.colormap)
        s.set("display/difference", state.difference)
        s.set("display/nan_colour", QColor(*self.nan_colour).name())
        if self.browser.folder:
            s.set("browser/folder", self.browser.folder)
        s.sync()

    # -- drag and drop ------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if _dropped_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        paths = _dropped_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.open_path(paths[0])

    # -- closing ------------------------------------------------------------------------
    def closeEvent(self, event) -> None:
        """Save the layout, stop every worker cleanly, then close."""
        self._closing = True
        if self.settings is not None and getattr(self, "_save_on_close", True):
            self.save_settings()
        if self.runner.workers:
            log.info("Stopping background work…")
        self.statusBar().showMessage("Stopping background work…")
        self.gain_panel.stop()
        QApplication.processEvents()
        if not self.runner.shutdown(timeout=60):
            log.warning("A background task did not stop within 60 s.")
        self.browser.stop()
        self.viewer.close_source()
        logging.getLogger("nircam_gui").removeHandler(self.log_panel.handler)
        super().closeEvent(event)

    def _update_zoom_label(self) -> None:
        viewer = self.active_viewer()
        if viewer is not None and viewer.frame is not None:
            self.zoom_label.setText(f"zoom {viewer.canvas.zoom_factor():.3g}×")
        else:
            self.zoom_label.setText("")


def _first_to_show(files: list[Path]) -> Path:
    """The file to show first in a folder: a science image or ramp before reference files."""
    def rank(p: Path) -> tuple[int, str]:
        name = p.name.lower()
        order = 0 if "_uncal" in name else 1 if "_cal" in name or "_rate" in name else 2
        return order, str(p.parent), name
    return min(files, key=rank)


def fits_to_show(folder: str | os.PathLike) -> Path | None:
    """The FITS file to open with ``folder``: from the folder itself, else from its subfolders."""
    folder = Path(folder)
    files = find_fits(folder)
    if not files:
        for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
            files += find_fits(sub)
    return _first_to_show(files) if files else None


def _is_under(path: str, folder: str) -> bool:
    try:
        return os.path.commonpath([os.path.abspath(path), os.path.abspath(folder)]) == os.path.abspath(folder)
    except ValueError:  # different drives
        return False


def _dropped_paths(mime) -> list[str]:
    if not mime.hasUrls():
        return []
    paths = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
    return [p for p in paths if os.path.isdir(p) or (is_fits(p) and os.path.isfile(p))]


def _elide_middle(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n // 2 - 1] + "…" + text[-(n // 2 - 1):]

