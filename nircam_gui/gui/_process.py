"""The child-process side of process workers; no Qt here, so the child starts quickly.

A thread shares the GIL with the GUI: a core step that holds it for a long stretch (some
numpy random generators, FITS checksums, Python loops) stalls the window, however well the
worker thread behaves. Long analyses therefore run in a child process, which has its own
interpreter; the worker thread in the GUI process only waits on a queue.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..core.errors import NircamFileError
from ..core.progress import Cancelled

__all__ = ["child_main", "error_message"]

#: Minimum seconds between two progress messages from the child.
PROGRESS_INTERVAL = 0.04


def error_message(exc: BaseException, task: str = "") -> str:
    """A message for the user: ``"<file>: <problem>"`` for file errors, one line otherwise."""
    if isinstance(exc, NircamFileError):
        return str(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    where = f"{task}: " if task else ""
    return f"{where}{text}" if isinstance(exc, (OSError, ValueError)) else f"{where}{type(exc).__name__}: {text}"


def child_main(fn: Callable[..., Any], args: tuple, kwargs: dict, queue, cancel_event, name: str) -> None:
    """Run ``fn(*args, progress=..., cancel=..., **kwargs)`` and report through ``queue``.

    Messages: ``("progress", fraction, text)``, then one of ``("result", value)``,
    ``("error", message)`` or ``("cancelled",)``.
    """
    from ..core.runtime import configure_compute

    configure_compute()
    last = [0.0]

    def progress(fraction: float, message: str = "") -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_INTERVAL or fraction >= 1.0:
            last[0] = now
            queue.put(("progress", float(fraction), str(message)))

    try:
        result = fn(*args, progress=progress, cancel=cancel_event.is_set, **kwargs)
    except Cancelled:
        queue.put(("cancelled",))
    except BaseException as exc:  # noqa: BLE001 - everything becomes a message for the user
        import traceback

        queue.put(("error", error_message(exc, name), traceback.format_exc()))
    else:
        if cancel_event.is_set() and result is None:
            queue.put(("cancelled",))
        else:
            queue.put(("result", result))
