"""The detector image viewer: images and ramps, stretches, zoom and pan, pixel readout.

Arrays are row-major ``[y, x]`` with pixel (0, 0) drawn at the bottom left, as in DS9.
Files are read in a worker thread, one frame at a time; while a read is in flight, later
requests (a dragged group slider, a new file) replace each other, and only the latest is
read next, so the window stays responsive on 160-group ramps.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import replace

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..core.display import (
    NAN_COLOUR,
    DisplayState,
    Frame,
    FrameSource,
    PixelInfo,
    limits,
    open_source,
    pixel_info,
    render_rgba,
)
from .colormaps import lookup_table
from .display_panel import DisplayPanel
from .workers import TaskRunner

__all__ = ["ImageCanvas", "ImageViewer"]

log = logging.getLogger("nircam_gui")


class ImageCanvas(pg.GraphicsView):
    """A pyqtgraph view with one row-major image, zoom and pan by mouse, no axes.

    Signals
    -------
    hovered(object)
        ``(column, row)`` 0-based under the mouse, or None when outside the image.
    """

    hovered = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground(pg.mkColor(*NAN_COLOUR))
        self.view = pg.ViewBox(lockAspect=True, enableMenu=False, invertY=False)
        self.setCentralItem(self.view)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self.setMinimumSize(200, 200)

    def mouseMoveEvent(self, event) -> None:
        # Read every move here: the scene's sigMouseMoved drops events closer than 1/60 s,
        # so the readout could stay on a neighbouring pixel when the mouse stops.
        self.hovered.emit(self.pixel_at(self.mapToScene(event.position().toPoint())))
        super().mouseMoveEvent(event)

    def leaveEvent(self, event) -> None:
        self.hovered.emit(None)
        super().leaveEvent(event)

    def pixel_at(self, scene_pos: QPointF) -> tuple[int, int] | None:
        """0-based ``(column, row)`` of the image pixel at a scene position."""
        if self.image.image is None:
            return None
        p = self.image.mapFromScene(scene_pos)
        ny, nx = self.image.image.shape[:2]
        # pixel i covers [i, i+1) in item coordinates
        col, row = math.floor(p.x()), math.floor(p.y())
        return (col, row) if 0 <= col < nx and 0 <= row < ny else None

    def scene_pos_of(self, column: float, row: float) -> QPointF:
        """Scene position of the centre of pixel ``(column, row)`` (0-based)."""
        return self.image.mapToScene(QPointF(column + 0.5, row + 0.5))

    def zoom_fit(self) -> None:
        self.view.autoRange(padding=0.01)

    def zoom_actual(self) -> None:
        """One image pixel per screen pixel, keeping the centre."""
        rect = self.view.viewRect()
        w, h = self.view.width(), self.view.height()
        if w <= 0 or h <= 0:
            return
        c = rect.center()
        self.view.setRange(xRange=(c.x() - w / 2, c.x() + w / 2), yRange=(c.y() - h / 2, c.y() + h / 2),
                           padding=0)

    def zoom_by(self, factor: float) -> None:
        """Zoom in (factor > 1) or out around the centre of the view."""
        self.view.scaleBy((1.0 / factor, 1.0 / factor))

    def zoom_factor(self) -> float:
        """Screen pixels per image pixel."""
        rect = self.view.viewRect()
        return self.view.width() / rect.width() if rect.width() > 0 else 1.0


class ImageViewer(QWidget):
    """Shows one file: a 2-D image, or a ramp with integration and group controls.

    Parameters
    ----------
    runner : TaskRunner, optional
        Where reads run; the main window passes its own so they show in the progress area.

    Signals
    -------
    loaded(str)
        A file was opened and its first frame is on screen.
    frame_shown()
        A frame (new file, group, integration, difference) is on screen.
    failed(str)
        A file could not be opened or read: ``"<file>: <problem>"``.
    readout(str)
        DS9-style text for the pixel under the mouse ('' outside the image).
    """

    loaded = Signal(str)
    frame_shown = Signal()
    failed = Signal(str)
    readout = Signal(str)

    def __init__(self, runner: TaskRunner | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner or TaskRunner(self, max_threads=1)
        self.state = DisplayState()
        self.source: FrameSource | None = None
        self.frame: Frame | None = None
        self.levels: tuple[float, float] = (0.0, 1.0)
        self._inflight = False
        self._pending: tuple | None = None  # the latest request made while reading
        self._fit_next = True
        self._hover: tuple[int, int] | None = None  # the pixel under the pointer, for the readout

        self.canvas = ImageCanvas()
        self.panel = DisplayPanel()
        self.title = QLabel("Open a FITS file: File ▸ Open, drop it here, or pick it in the file browser.")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.title.setContentsMargins(6, 2, 6, 2)
        # a long file name must not widen the window and squeeze the docks: clip it instead
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.ramp_bar = self._make_ramp_bar()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.ramp_bar)

        self.canvas.hovered.connect(self._hovered)
        self.panel.changed.connect(lambda name, value: self.set_state(**{name: value}))
        self._sync_panel()

    #: unit of the values when the file does not say (BUNIT), by file kind
    DEFAULT_UNITS = {"uncal": "DN", "ramp": "DN", "ground_ramp": "DN"}

    # -- ramp controls ------------------------------------------------------------------
    def _make_ramp_bar(self) -> QWidget:
        bar = QWidget()
        self.integration_slider = QSlider(Qt.Orientation.Horizontal)
        self.integration_slider.setToolTip("Integration ({ and } step through them)")
        self.integration_slider.setMaximumWidth(140)
        self.integration_slider.setMinimumWidth(40)
        self.integration_spin = QSpinBox()
        self.integration_spin.setToolTip("Integration (1-based)")
        self.integration_total = QLabel("of 1")
        self.group_slider = QSlider(Qt.Orientation.Horizontal)
        self.group_slider.setToolTip("Group ([ and ] step through the ramp)")
        self.group_slider.setMinimumWidth(40)
        self.group_spin = QSpinBox()
        self.group_spin.setToolTip("Group (1-based)")
        self.group_total = QLabel("of 1")
        self.difference_box = QCheckBox("− group 1")
        self.difference_box.setToolTip("Difference frame: the selected group minus the first group (D)")
        row = QHBoxLayout(bar)
        row.setContentsMargins(6, 0, 6, 2)
        self._integration_label = QLabel("Integration")
        row.addWidget(self._integration_label)
        row.addWidget(self.integration_slider)
        row.addWidget(self.integration_spin)
        row.addWidget(self.integration_total)
        row.addSpacing(8)
        self.group_label = QLabel("Group")
        row.addWidget(self.group_label)
        row.addWidget(self.group_slider, 1)
        row.addWidget(self.group_spin)
        row.addWidget(self.group_total)
        row.addSpacing(8)
        row.addWidget(self.difference_box)
        self.integration_spin.valueChanged.connect(lambda v: self.set_state(integration=v - 1))
        self.integration_slider.valueChanged.connect(lambda v: self.set_state(integration=v - 1))
        self.group_slider.valueChanged.connect(lambda v: self.set_state(group=v - 1))
        self.group_spin.valueChanged.connect(lambda v: self.set_state(group=v - 1))
        self.difference_box.toggled.connect(lambda v: self.set_state(difference=v))
        bar.setVisible(False)
        return bar

    def _sync_ramp_bar(self) -> None:
        src = self.source
        nints, ngroups = (src.nints, src.ngroups) if src is not None else (1, 1)
        show = src is not None and (nints > 1 or ngroups > 1)
        self.ramp_bar.setVisible(show)
        widgets = (self.integration_spin, self.integration_slider, self.group_slider, self.group_spin,
                   self.difference_box)
        for w in widgets:
            w.blockSignals(True)
        self.integration_spin.setRange(1, nints)
        self.integration_spin.setValue(self.state.integration + 1)
        self.integration_slider.setRange(1, nints)
        self.integration_slider.setValue(self.state.integration + 1)
        self.integration_total.setText(f"of {nints}")
        self.group_slider.setRange(1, ngroups)
        self.group_slider.setValue(self.state.group + 1)
        self.group_spin.setRange(1, ngroups)
        self.group_spin.setValue(self.state.group + 1)
        self.group_total.setText(f"of {ngroups}")
        self.difference_box.setChecked(self.state.difference)
        is_ramp = bool(src is not None and src.is_ramp)
        self.difference_box.setVisible(is_ramp)
        self.group_label.setText("Group" if is_ramp else "Plane")
        for w in (self.integration_spin, self.integration_total, self._integration_label):
            w.setVisible(is_ramp)
        self.integration_slider.setVisible(is_ramp and nints > 1)
        self.integration_spin.setEnabled(nints > 1)
        for w in widgets:
            w.blockSignals(False)

    # -- state --------------------------------------------------------------------------
    def set_state(self, **changes) -> None:
        """Change what is shown (see :class:`~nircam_gui.core.display.DisplayState`).

        Display changes (limits, scaling, colour map, levels) re-map the frame on screen;
        frame changes (integration, group, difference) read the new frame. Both run in the
        background; the panel shows the new choice at once.
        """
        if "manual_levels" in changes:
            changes.setdefault("limits", "manual")
        new = replace(self.state, **changes)
        if self.source is not None:
            new.integration = min(max(new.integration, 0), self.source.nints - 1)
            new.group = min(max(new.group, 0), self.source.ngroups - 1)
        if new.limits == "manual" and new.manual_levels is None:
            new.manual_levels = self.levels
        if new == self.state:
            return
        old, self.state = self.state, new
        if new.nan_colour != old.nan_colour:
            self.canvas.setBackground(pg.mkColor(*new.nan_colour))
        frame_changed = (old.integration, old.group, old.difference) != (new.integration, new.group,
                                                                        new.difference)
        if frame_changed and self.source is not None:
            self._sync_ramp_bar()
            self._request(("frame",))
        elif self.frame is not None:
            self.levels = limits(self.frame.sample, new.limits, self.frame.data_range, new.manual_levels)
            self._request(("render",))
        self._sync_panel()

    def _sync_panel(self) -> None:
        sample = self.frame.sample if self.frame is not None else None
        self.panel.show_state(self.state.limits, self.state.scaling, self.state.colormap, self.levels, sample,
                              unit=self.unit)
        self.panel.show_nan_colour(self.state.nan_colour)

    @property
    def unit(self) -> str:
        """Unit of the values on screen: the file's BUNIT, else the usual one for its kind."""
        src = self.source
        if src is None:
            return ""
        return getattr(self, "_units", {}).get(src.path) or self.DEFAULT_UNITS.get(src.meta.kind, "")

    def _lut(self) -> np.ndarray:
        return lookup_table(self.state.colormap, self.state.scaling)

    # -- files and frames ---------------------------------------------------------------
    def open(self, path: str | os.PathLike) -> None:
        """Open a file; its first frame appears when read (see :attr:`loaded`)."""
        self._request(("open", os.fspath(path)))

    @property
    def busy(self) -> bool:
        """True while a read or a re-mapping is running or waiting."""
        return self._inflight or self._pending is not None

    _PRIORITY = {"open": 3, "frame": 2, "render": 1}

    def _request(self, request: tuple) -> None:
        if self._inflight:
            # keep only the most complete pending job: an open includes reading a frame,
            # and reading a frame includes mapping it with the current display state
            if self._pending is None or self._PRIORITY[request[0]] >= self._PRIORITY[self._pending[0]]:
                self._pending = request
            return
        self._inflight = True
        state, lut = replace(self.state), self._lut()
        kind = request[0]
        if kind == "open":
            path = request[1]
            self.runner.run(_open_file, path, state, lut, name=f"Reading {os.path.basename(path)}",
                            on_result=self._opened, on_error=self._read_failed, on_finished=self._job_done)
        elif kind == "frame":
            src = self.source
            self.runner.run(_read_frame, src, state, lut, name=f"Reading group {state.group + 1}",
                            on_result=lambda r, s=src: self._frame_ready(s, *r),
                            on_error=self._read_failed, on_finished=self._job_done)
        else:
            src, frame = self.source, self.frame
            self.runner.run(_map_frame, frame, state, lut, name="Drawing",
                            on_result=lambda r, s=src: self._frame_ready(s, *r),
                            on_error=self._read_failed, on_finished=self._job_done)

    def _job_done(self) -> None:
        self._inflight = False
        pending, self._pending = self._pending, None
        if pending is not None:
            self._request(pending)

    def _opened(self, result: tuple) -> None:
        source, state, frame, levels, picture, unit = result
        if self.source is not None:
            self.source.close()
        self.source = source
        self._units = {source.path: unit}
        self.state = replace(self.state, integration=state.integration, group=state.group,
                             difference=state.difference)
        self._fit_next = self.frame is None or self.frame.image.shape != frame.image.shape
        self._sync_ramp_bar()
        self._show(frame, levels, picture)
        log.info("Opened %s (%s)", source.path, source.meta.summary())
        self.loaded.emit(source.path)

    def _frame_ready(self, source: FrameSource, frame: Frame, levels, picture) -> None:
        if source is self.source:
            self._show(frame, levels, picture)

    def _read_failed(self, message: str) -> None:
        # the window decides how to present it (log, status bar, message box)
        self.failed.emit(message)

    def _show(self, frame: Frame, levels: tuple[float, float], picture: np.ndarray) -> None:
        self.frame = frame
        self.levels = levels
        # the picture is already coloured: the GUI thread only hands it to Qt
        self.canvas.image.setImage(picture, autoLevels=False, levels=None, lut=None)
        if self._fit_next:
            self.canvas.zoom_fit()
            self._fit_next = False
        self.title.setText(self._title_text())
        self.title.setToolTip(self.source.path if self.source is not None else "")
        self._sync_panel()
        if self._hover is not None:  # the pointer rests on a pixel whose value just changed
            self._hovered(self._hover)
        self.frame_shown.emit()

    def _title_text(self) -> str:
        src, f = self.source, self.frame
        if src is None or f is None:
            return ""
        # what changes with the controls comes first: a narrow window clips the end
        parts = [f"<b>{os.path.basename(src.path)}</b>"]
        if src.is_ramp:
            what = f"group {f.group + 1} − group 1" if f.difference else f"group {f.group + 1}/{src.ngroups}"
            parts.append(f"integration {f.integration + 1}/{src.nints}, {what}")
        elif src.ngroups > 1:
            name = f" {src.plane_names[f.group]}" if src.plane_names else ""
            parts.append(f"plane {f.group + 1}/{src.ngroups}{name}")
        parts.append(src.meta.summary())
        return " &nbsp;·&nbsp; ".join(parts)

    def close_source(self) -> None:
        """Release the open file (the image stays on screen)."""
        if self.source is not None:
            self.source.close()
            self.source = None

    # -- navigation ---------------------------------------------------------------------
    def step_group(self, step: int) -> None:
        if self.source is not None:
            self.set_state(group=(self.state.group + step) % self.source.ngroups)

    def step_integration(self, step: int) -> None:
        if self.source is not None:
            self.set_state(integration=(self.state.integration + step) % self.source.nints)

    # -- readout ------------------------------------------------------------------------
    def pixel(self, column: int, row: int) -> PixelInfo | None:
        """Readout of 0-based ``(column, row)`` in the frame on screen."""
        if self.frame is None or self.source is None:
            return None
        return pixel_info(self.frame, self.source.meta, column, row)

    def _hovered(self, where: tuple[int, int] | None) -> None:
        self._hover = where
        info = self.pixel(*where) if where is not None else None
        self.readout.emit(info.text() if info is not None else "")


def _bunit(path: str) -> str:
    """BUNIT of the first image extension that has one ('' if none)."""
    from astropy.io import fits

    try:
        with fits.open(path, lazy_load_hdus=True) as hdul:
            for hdu in hdul[:3]:
                unit = str(hdu.header.get("BUNIT", "")).strip()
                if unit:
                    return unit
    except (OSError, ValueError):
        pass
    return ""


def _map_frame(frame: Frame, state: DisplayState, lut: np.ndarray):
    """Worker: display limits for ``state`` and the coloured picture of ``frame``."""
    levels = limits(frame.sample, state.limits, frame.data_range, state.manual_levels)
    return frame, levels, render_rgba(frame.image, levels, lut, state.nan_colour, has_nan=frame.has_nan)


def _read_frame(source: FrameSource, state: DisplayState, lut: np.ndarray):
    """Worker: read the frame ``state`` asks for, then map it."""
    frame = source.frame(state.integration, state.group, state.difference)
    return _map_frame(frame, state, lut)


def _open_file(path: str, state: DisplayState, lut: np.ndarray):
    """Worker: open ``path``, read the frame to show first and map it.

    Ramps open on the last group of the first integration (the most signal); the
    difference setting is kept so users comparing ramps see the same kind of frame.
    """
    source = open_source(path)
    try:
        group = source.ngroups - 1
        diff = state.difference and source.is_ramp and source.ngroups > 1
        state = replace(state, integration=0, group=group, difference=diff)
        return (source, state) + _read_frame(source, state, lut) + (_bunit(path),)
    except BaseException:
        source.close()
        raise
