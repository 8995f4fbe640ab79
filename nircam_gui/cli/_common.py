"""What every command shares: a progress bar, a clean stop on Ctrl-C, clear errors."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Callable
from typing import TypeVar

from tqdm import tqdm

from ..core.errors import NircamFileError
from ..core.progress import Cancelled
from ..core.runtime import configure_compute

T = TypeVar("T")

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

#: set to 1 to see the traceback of an unexpected error (for a bug report)
DEBUG_ENV = "NIRCAM_GUI_DEBUG"


def debug_enabled() -> bool:
    """True when ``NIRCAM_GUI_DEBUG`` asks for tracebacks."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _first_line(text: str, limit: int = 200) -> str:
    text = text.strip().splitlines()[0] if text.strip() else ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def error_line(exc: BaseException, description: str) -> str:
    """The one line printed for an error: ``error: <file>: <problem>`` when a file is known.

    Errors of the core name their file (NircamFileError); an OSError usually carries
    one (``filename``); anything else is a bug or an unforeseen case, said as such.
    """
    if isinstance(exc, NircamFileError):
        return f"error: {_first_line(str(exc), 400)}"
    if isinstance(exc, OSError) and exc.filename:
        from ..core.fileio import write_problem

        return f"error: {exc.filename}: {write_problem(exc)}"
    if isinstance(exc, MemoryError):
        return (f"error: {description}: out of memory; close other programs, or use fewer groups "
                "or smaller inputs")
    return (f"error: {description}: unexpected {type(exc).__name__}: {_first_line(str(exc)) or 'no message'} "
            f"(set {DEBUG_ENV}=1 for the traceback, and please report it)")


class _OneLineHandler(logging.Handler):
    """Log records of WARNING and above as single ``warning: ...`` lines, each text once."""

    def __init__(self, seen: set[str]) -> None:
        super().__init__(logging.WARNING)
        self.seen = seen

    def emit(self, record: logging.LogRecord) -> None:
        try:
            _say_once(record.getMessage(), self.seen)
        except Exception:  # a log message must never end the run
            self.handleError(record)


def _say_once(text: str, seen: set[str]) -> None:
    text = _first_line(str(text), 400)
    if text and text not in seen:
        seen.add(text)
        tqdm.write(f"warning: {text}", file=sys.stderr)


@contextlib.contextmanager
def one_line_warnings():
    """Show Python warnings and log warnings as ``warning: <text>`` lines, each text once.

    The calibration reports a missing reference file both as a warning (for the GUI and
    callers) and in the log; printed raw, each came out as three lines with a source
    line, repeated for every integration.
    """
    seen: set[str] = set()
    handler = _OneLineHandler(seen)
    root = logging.getLogger()
    root.addHandler(handler)
    with warnings.catch_warnings():
        warnings.showwarning = lambda message, *args, **kwargs: _say_once(message, seen)
        try:
            yield
        finally:
            root.removeHandler(handler)


def run_with_progress(
    work: Callable[[Callable[[float, str], None], Callable[[], bool]], T],
    description: str,
    quiet: bool = False,
) -> tuple[int, T | None]:
    """Run ``work(progress, cancel)`` with a progress bar; Ctrl-C asks it to stop.

    The first Ctrl-C sets the cancel flag, which the core checks between units of work,
    so partial outputs are cleaned up; a second Ctrl-C interrupts at once.

    Returns
    -------
    (exit_code, result)
        ``result`` is None unless the work finished.
    """
    configure_compute()
    stop = threading.Event()
    previous = signal.getsignal(signal.SIGINT)

    def on_sigint(signum, frame):
        if stop.is_set():
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        stop.set()
        print("\nstopping after the current step (Ctrl-C again to abort now)...", file=sys.stderr)

    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        signal.signal(signal.SIGINT, on_sigint)
    bar = tqdm(total=1000, desc=description, disable=quiet, unit="‰", leave=False, file=sys.stderr,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining} {postfix}")

    def progress(fraction: float, message: str) -> None:
        bar.n = int(round(1000 * min(max(fraction, 0.0), 1.0)))
        bar.set_postfix_str(message[:40], refresh=False)
        bar.refresh()

    # the objects alive before the work (modules and their tables, ~160,000 after the imports
    # of a gain run) are left out of the cyclic collector's scans while it runs: the full
    # collections the work's allocations trigger spent most of their time on them
    gc.freeze()
    try:
        with one_line_warnings():
            result = work(progress, stop.is_set)
    except (Cancelled, KeyboardInterrupt):
        bar.close()
        print(f"{description}: stopped by the user; no partial output was kept.", file=sys.stderr)
        return EXIT_INTERRUPTED, None
    except Exception as exc:  # never a traceback: one line naming the file and the problem
        bar.close()
        if debug_enabled():
            traceback.print_exc(file=sys.stderr)
        print(error_line(exc, description), file=sys.stderr)
        return EXIT_ERROR, None
    finally:
        gc.unfreeze()  # a caller that goes on (tests, scripts) collects as before
        if in_main:
            signal.signal(signal.SIGINT, previous)
    bar.close()
    return EXIT_OK, result
