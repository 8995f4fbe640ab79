"""Background threads that use the cores the work leaves idle, without slowing the work.

An analysis starts one-off work in threads beside its own (hashing its inputs, loading
the product writer's schemas). On two cores such a thread competes with the work's
parallel kernels: a kernel that loses one of its threads to it waits for that thread,
and both cores lose the time. At a lower priority (:func:`lower_priority`, Linux, where
niceness is per thread) the scheduler gives it only the cycles the work does not want.

A thread that runs Python holds the GIL: each time the work's thread releases it (every
numpy call on a large array does), the background thread takes it, and the work's thread
waits the interpreter's switch interval (5 ms) to get it back. :func:`short_switch_interval`
shortens that wait while the background thread runs.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

__all__ = ["lower_priority", "short_switch_interval"]

#: niceness of background threads: the scheduler gives them ~1/10 of a core the work wants
BACKGROUND_NICENESS = 10


def lower_priority(niceness: int = BACKGROUND_NICENESS) -> None:
    """Lower the calling thread's CPU priority by ``niceness`` (Linux only; elsewhere nothing).

    Only the calling thread is changed (Linux gives each thread its own niceness); a lower
    priority cannot be raised again without privileges, so call it from a thread that
    only does background work.
    """
    if not sys.platform.startswith("linux"):
        return  # elsewhere a thread id is no process id: setpriority could touch another process
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + niceness))
    except (OSError, AttributeError):
        pass  # only a preference


@contextlib.contextmanager
def short_switch_interval(seconds: float = 0.0005) -> Iterator[None]:
    """Run the block with the interpreter's GIL switch interval at most ``seconds``.

    The interval is process-wide: it is put back when the block ends, unless someone else
    changed it in between.
    """
    before = sys.getswitchinterval()
    ours = min(before, seconds)
    sys.setswitchinterval(ours)
    try:
        yield
    finally:
        if sys.getswitchinterval() == ours:
            sys.setswitchinterval(before)
