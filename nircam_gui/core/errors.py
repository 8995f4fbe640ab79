"""Errors that name the file and the problem, for messages a user can act on."""

from __future__ import annotations

import os

__all__ = ["NircamFileError", "NotFullFrameError", "OutputError"]


class NircamFileError(Exception):
    """A file could not be used. ``str(err)`` is ``"<file>: <problem>"``."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class NotFullFrameError(NircamFileError):
    """A method that needs a full frame was given a subarray."""


class OutputError(NircamFileError):
    """An output could not be written (folder not writable, disk full...).

    Raised by :func:`nircam_gui.core.fileio.atomic_path`; any earlier version of the
    file is left as it was and no temporary file remains.
    """
