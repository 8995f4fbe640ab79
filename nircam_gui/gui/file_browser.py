"""File browser: a folder tree showing FITS files with a one-line summary of each.

Summaries (detector, type, nints x ngroups, filter) come from
:func:`nircam_gui.core.readers.read_metadata`, which reads headers only; they are read in a
background thread, a folder at a time, and cached by path and modification time, so
opening a folder of hundreds of ramps never stalls the window.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from PySide6.QtCore import (
    QDir,
    QModelIndex,
    QObject,
    QRunnable,
    Qt,
    QThreadPool,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileSystemModel,
    QMenu,
    QSizePolicy,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QStyledItemDelegate,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from ..core.detector import FULL_SIZE
from ..core.errors import NircamFileError
from ..core.readers import FITS_SUFFIXES, ExposureMeta, read_metadata, is_fits

__all__ = ["FileBrowser", "FitsFileModel", "SummaryCache", "short_summary"]

NAME_FILTERS = [f"*{s}" for s in FITS_SUFFIXES] + [f"*{s.upper()}" for s in FITS_SUFFIXES]


class _SummaryJob(QRunnable):
    def __init__(self, cache: "SummaryCache", paths: list[str]) -> None:
        super().__init__()
        self.cache, self.paths = cache, paths

    def run(self) -> None:
        for path in self.paths:
            if self.cache._stop.is_set():
                return
            try:
                text = short_summary(read_metadata(path))
            except NircamFileError as exc:
                text = f"unreadable: {exc.problem}"
            except Exception as exc:  # a header we do not understand must not stop the browser
                text = f"unreadable: {type(exc).__name__}"
            try:
                self.cache.ready.emit(path, text)
            except RuntimeError:  # the cache was deleted while closing
                return


def short_summary(meta: ExposureMeta) -> str:
    """The header summary for the browser: ``meta.summary()`` without the frame size of full frames.

    Nearly every NIRCam file is 2048x2048; saying so on every row pushes the filter out of
    a narrow dock. Subarrays and small simulated frames keep their size.
    """
    text = meta.summary()
    if (meta.nx, meta.ny) == (FULL_SIZE, FULL_SIZE):
        text = text.replace(f"  {FULL_SIZE}x{FULL_SIZE}", "")
    return text


class SummaryCache(QObject):
    """Header summaries of FITS files, read in one background thread.

    Signals
    -------
    ready(str, str)
        ``(path, summary)`` when a summary has been read.
    """

    ready = Signal(str, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._stop = threading.Event()
        self._cache: dict[str, tuple[float, str]] = {}
        self._queued: set[str] = set()
        self.ready.connect(self._store)

    def get(self, path: str) -> str | None:
        """The summary of ``path`` if known and current; otherwise None (and it is queued)."""
        try:
            mtime = os.path.getmtime(path)
        except OSError:
            return None
        hit = self._cache.get(path)
        if hit is not None:
            if hit[0] == mtime:
                return hit[1]
            del self._cache[path]  # the file changed: read it again
        self.request([path])
        return None

    def request(self, paths: list[str]) -> None:
        """Queue ``paths`` whose summaries are not known yet."""
        todo = [p for p in paths if p not in self._queued and p not in self._cache]
        if todo and not self._stop.is_set():
            self._queued.update(todo)
            self.pool.start(_SummaryJob(self, todo))

    @property
    def idle(self) -> bool:
        """No header is waiting to be read."""
        return not self._queued

    def _store(self, path: str, text: str) -> None:
        self._queued.discard(path)
        try:
            self._cache[path] = (os.path.getmtime(path), text)
        except OSError:
            pass

    def stop(self, timeout_ms: int = 5000) -> None:
        """Stop reading headers and wait for the thread (called when the window closes)."""
        self._stop.set()
        self.pool.clear()
        self.pool.waitForDone(timeout_ms)


class FitsFileModel(QFileSystemModel):
    """A file-system model with FITS files only, plus a "Summary" column."""

    SUMMARY_COLUMN = 4

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setFilter(QDir.Filter.AllDirs | QDir.Filter.Files | QDir.Filter.NoDotAndDotDot)
        self.setNameFilters(NAME_FILTERS)
        self.setNameFilterDisables(False)  # hide, not grey out, what is not FITS
        self.summaries = SummaryCache(self)
        self.summaries.ready.connect(self._summary_ready)
        self.directoryLoaded.connect(self._directory_loaded)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt signature
        return super().columnCount(parent) + 1

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if section == self.SUMMARY_COLUMN and orientation == Qt.Orientation.Horizontal \
                and role == Qt.ItemDataRole.DisplayRole:
            return "Summary"
        return super().headerData(section, orientation, role)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if index.column() == self.SUMMARY_COLUMN:
            if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
                return None
            path = self.filePath(index.siblingAtColumn(0))
            if not is_fits(path) or self.isDir(index.siblingAtColumn(0)):
                return None
            text = self.summaries.get(path)
            return text if text is not None else "…"
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 0:
            path = self.filePath(index)
            text = self.summaries.get(path) if is_fits(path) else None
            return f"{path}\n{text}" if text else path
        return super().data(index, role)

    def _directory_loaded(self, folder: str) -> None:
        parent = self.index(folder)
        paths = [self.filePath(self.index(r, 0, parent)) for r in range(self.rowCount(parent))]
        self.summaries.request([p for p in paths if is_fits(p)])

    def _summary_ready(self, path: str) -> None:
        index = self.index(path, 0)
        if index.isValid():
            cell = self.index(index.row(), self.SUMMARY_COLUMN, index.parent())
            self.dataChanged.emit(cell, cell)


class _ElideLeftDelegate(QStyledItemDelegate):
    def initStyleOption(self, option, index) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideLeft


class FileBrowser(QWidget):
    """Folder tree of FITS files: a click selects (Shift/Ctrl+click several), double-click
    or Enter opens a file (or goes into a folder); the context menu and the **Add to**
    button send the selection to an analysis.

    Signals
    -------
    file_selected(str)
        A FITS file was opened (double-click or Enter).
    folder_changed(str)
        The root folder changed.
    add_requested(str, list)
        ``(target, paths)``: the user asked to add the selected files to ``"gain"`` or
        ``"skyflat"``.
    """

    file_selected = Signal(str)
    folder_changed = Signal(str)
    add_requested = Signal(str, list)

    #: analysis targets of the Add to menu: key -> menu text
    TARGETS = {"gain": "Add to Gain (ramps)", "skyflat": "Add to Sky flat (_cal images, flats, masks)"}

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = FitsFileModel(self)
        self.tree = QTreeView()
        self.tree.setModel(self.model)
        self.tree.setUniformRowHeights(True)
        self.tree.setSortingEnabled(True)
        self.tree.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.tree.setAlternatingRowColors(True)
        for column in (1, 2, 3):  # size, type, date: the summary says more
            self.tree.setColumnHidden(column, True)
        # JWST names are long; their ends (exposure, detector, type) tell files apart
        self.tree.setItemDelegateForColumn(0, _ElideLeftDelegate(self.tree))
        header = self.tree.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(0, 270)
        self.folder_label = QLabel()
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.up_button = QToolButton()
        self.up_button.setText("↑")
        self.up_button.setToolTip("Parent folder")
        self.up_button.clicked.connect(self.go_up)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self.add_button = QToolButton()
        self.add_button.setText("Add to")
        self.add_button.setToolTip("Add the selected files (Shift/Ctrl+click selects several) to an analysis")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.add_button)
        for target, text in self.TARGETS.items():
            menu.addAction(text, lambda t=target: self.request_add(t))
        self.add_button.setMenu(menu)
        self.folder_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        top = QHBoxLayout()
        top.setContentsMargins(4, 2, 4, 0)
        top.addWidget(self.up_button)
        top.addWidget(self.folder_label, 1)
        top.addWidget(self.add_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.tree, 1)

        # a click only selects (several files can be chosen for an analysis); double-click
        # or Enter opens: the tree stays where it is and the tab does not change under the user
        self.tree.activated.connect(self._activated)
        self.folder: str = ""
        self.loading = False
        self._loading_since = 0.0
        self.model.directoryLoaded.connect(self._directory_loaded)

    def set_folder(self, folder: str | os.PathLike) -> None:
        """Show ``folder`` as the root of the tree."""
        folder = os.path.abspath(os.fspath(folder))
        if folder != self.folder:
            self.loading, self._loading_since = True, time.monotonic()
        self.folder = folder
        self.model.setRootPath(folder)
        self.tree.setRootIndex(self.model.index(folder))
        self.folder_label.setText(_elide_home(folder))
        self.folder_label.setToolTip(folder)
        self.folder_changed.emit(folder)

    def _directory_loaded(self, folder: str) -> None:
        if os.path.normpath(folder) == os.path.normpath(self.folder):
            self.loading = False

    @property
    def idle(self) -> bool:
        """The folder is listed and every summary in it has been read."""
        # a folder the model listed before may not announce itself again: give up after 2 s
        listed = not self.loading or time.monotonic() - self._loading_since > 2.0
        return listed and self.model.summaries.idle

    def go_up(self) -> None:
        if self.folder:
            self.set_folder(Path(self.folder).parent)

    def select(self, path: str | os.PathLike) -> None:
        """Highlight ``path`` in the tree without opening it again."""
        index = self.model.index(os.path.abspath(os.fspath(path)))
        if index.isValid():
            self.tree.selectionModel().blockSignals(True)
            self.tree.setCurrentIndex(index)
            self.tree.selectionModel().blockSignals(False)
            self.tree.scrollTo(index)

    def current_path(self) -> str:
        index = self.tree.currentIndex()
        return self.model.filePath(index.siblingAtColumn(0)) if index.isValid() else ""

    def selected_paths(self) -> list[str]:
        """The selected FITS files, in the tree's order (folders left out)."""
        rows = self.tree.selectionModel().selectedRows(0)
        rows.sort(key=lambda i: self.tree.visualRect(i).top())
        paths = [self.model.filePath(i) for i in rows]
        return [p for p in paths if is_fits(p) and os.path.isfile(p)]

    def request_add(self, target: str) -> None:
        """Ask for the selected files to be added to ``target`` ("gain" or "skyflat")."""
        self.add_requested.emit(target, self.selected_paths())

    def _activated(self, index: QModelIndex) -> None:
        path = self.model.filePath(index.siblingAtColumn(0))
        if os.path.isdir(path):
            self.set_folder(path)
        elif path and is_fits(path) and os.path.isfile(path):
            self.file_selected.emit(path)

    def _context_menu(self, pos) -> None:
        index = self.tree.indexAt(pos)
        paths = self.selected_paths()
        menu = QMenu(self)
        if index.isValid():
            menu.addAction("Open", lambda: self._activated(index))
        for target, text in self.TARGETS.items():
            action = menu.addAction(f"{text} — {len(paths)} file{'s' if len(paths) != 1 else ''}",
                                    lambda t=target: self.request_add(t))
            action.setEnabled(bool(paths))
        menu.exec(self.tree.viewport().mapToGlobal(pos))

    def stop(self) -> None:
        """Stop background header reading (window closing)."""
        self.model.summaries.stop()


def _elide_home(path: str) -> str:
    home = str(Path.home())
    return "~" + path[len(home):] if path.startswith(home + os.sep) else path

