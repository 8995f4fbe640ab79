"""Progress reporting and cancellation shared by every long computation.

Core functions take ``progress(fraction, message)`` and ``cancel() -> bool``; the GUI
passes callbacks bound to its worker, the command line a progress bar and a Ctrl-C flag.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Cancelled", "CancelCheck", "ProgressCallback", "Reporter"]

ProgressCallback = Callable[[float, str], None]
CancelCheck = Callable[[], bool]


class Cancelled(Exception):
    """Raised inside a computation when its cancel check returns True."""


class Reporter:
    """Steps through ``total`` units of work, reporting progress and honouring cancel.

    Parameters
    ----------
    total : int
        Number of units of work.
    progress, cancel : callable, optional
        Callbacks, see the module docstring.
    span : tuple of float
        Part of the overall progress range this work covers, so nested stages report
        a single monotonic fraction.
    """

    def __init__(
        self,
        total: int,
        progress: ProgressCallback | None = None,
        cancel: CancelCheck | None = None,
        span: tuple[float, float] = (0.0, 1.0),
    ) -> None:
        self.total = max(int(total), 1)
        self.done = 0
        self._progress = progress
        self._cancel = cancel
        self.span = span

    def check(self) -> None:
        """Raise :class:`Cancelled` if cancellation was requested."""
        if self._cancel is not None and self._cancel():
            raise Cancelled("cancelled by the user")

    def step(self, message: str = "", n: int = 1) -> None:
        """Mark ``n`` units done, report, then check for cancellation."""
        self.done += n
        if self._progress is not None:
            lo, hi = self.span
            self._progress(lo + (hi - lo) * min(self.done / self.total, 1.0), message)
        self.check()

    def sub(self, total: int, start: int, stop: int) -> "Reporter":
        """A reporter for units ``start..stop`` of this one, split into ``total`` steps."""
        lo, hi = self.span
        a = lo + (hi - lo) * start / self.total
        b = lo + (hi - lo) * stop / self.total
        return Reporter(total, self._progress, self._cancel, (a, b))
