"""Blink between two files in one image view (DS9's Frame > Blink).

The second file is read and coloured in a worker once; each blink step then hands the view
the other file's finished picture, so blinking costs the GUI thread no reading and no
mapping. The view's file, frame and levels change with the picture, so the title, the pixel
readout and the Pixels dock always describe the file on screen. A display change (stretch,
colours) made while blinking re-maps the hidden file's frame in a worker before it is shown.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from ..core.display import Frame, FrameSource
from .image_viewer import ImageViewer, _map_frame, _open_file

__all__ = ["FileBlink"]


@dataclass
class _Shown:
    """One file as the view shows it: source, frame, levels and the coloured picture."""

    source: FrameSource
    integration: int
    group: int
    difference: bool
    frame: Frame
    levels: tuple[float, float]
    picture: np.ndarray
    unit: str
    look: tuple  # the display choices the picture was coloured with


def _look(viewer: ImageViewer) -> tuple:
    s = viewer.state
    return (s.limits, s.scaling, s.colormap, s.manual_levels, s.nan_colour)


class FileBlink(QObject):
    """Alternates an :class:`ImageViewer` between the file it shows and a second file.

    Signals
    -------
    ready(str)
        The second file is read; blinking runs.
    failed(str)
        The second file could not be read: ``"<file>: <problem>"``.
    """

    ready = Signal(str)
    failed = Signal(str)

    #: milliseconds each file stays on screen
    INTERVAL_MS = 500

    def __init__(self, viewer: ImageViewer, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self.other: _Shown | None = None
        self._busy = False
        self.timer = QTimer(self, interval=self.INTERVAL_MS)
        self.timer.timeout.connect(self.step)

    @property
    def active(self) -> bool:
        return self.timer.isActive() or self._busy

    def start(self, path: str | os.PathLike) -> None:
        """Read ``path`` in the background, then blink it with the file on screen."""
        self.stop()
        v = self.viewer
        state = replace(v.state)
        self._busy = True
        v.runner.run(_open_file, os.fspath(path), state, v._lut(), name=f"Reading {os.path.basename(path)}",
                     on_result=lambda r, look=_look(v): self._opened(r, look), on_error=self._failed,
                     on_finished=self._done)

    def stop(self) -> None:
        """Stop blinking; the file on screen stays, the other one is closed."""
        self.timer.stop()
        other, self.other = self.other, None
        if other is not None and other.source is not self.viewer.source:
            other.source.close()

    def _opened(self, result: tuple, look: tuple) -> None:
        source, state, frame, levels, picture, unit = result
        self.other = _Shown(source, state.integration, state.group, state.difference, frame, levels, picture,
                            unit, look)
        self.timer.start()
        self.ready.emit(source.path)

    def _failed(self, message: str) -> None:
        self.failed.emit(message)

    def _done(self) -> None:
        self._busy = False

    def step(self) -> None:
        """Show the other file (when the view is not reading, and the other file's picture is current)."""
        v, other = self.viewer, self.other
        if other is None or v.busy or self._busy or v.source is None or v.frame is None:
            return  # never queue pictures up behind a read
        if other.look != _look(v):
            self._busy = True
            v.runner.run(_map_frame, other.frame, replace(v.state), v._lut(), name="Drawing",
                         on_result=lambda r, o=other, look=_look(v): self._remapped(o, look, r),
                         on_finished=self._done)
            return
        shown = _Shown(v.source, v.state.integration, v.state.group, v.state.difference, v.frame, v.levels,
                       v.canvas.image.image, v.unit, _look(v))
        self.other = shown
        v.source = other.source
        v._units = {**getattr(v, "_units", {}), other.source.path: other.unit}
        v.state = replace(v.state, integration=other.integration, group=other.group, difference=other.difference)
        v._fit_next = shown.frame.image.shape != other.frame.image.shape
        v._sync_ramp_bar()
        v._show(other.frame, other.levels, other.picture)

    def _remapped(self, other: _Shown, look: tuple, result: tuple) -> None:
        if self.other is other:
            _, other.levels, other.picture = result
            other.look = look
