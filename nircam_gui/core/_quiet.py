"""Silencing library warnings that a clear error already explains, without racing other threads."""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Iterator

__all__ = ["quiet_warnings"]


@contextlib.contextmanager
def quiet_warnings() -> Iterator[None]:
    """Ignore warnings inside the block, in the main thread only.

    ``warnings.catch_warnings`` swaps process-wide state (Python 3.11): two threads
    entering and leaving it out of order can leave every warning silenced for good. The
    command line runs in the main thread, where the silencing matters (a console); the
    GUI's worker threads do not print warnings, so there nothing is changed.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
