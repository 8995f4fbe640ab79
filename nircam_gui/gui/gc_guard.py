"""Python's cyclic garbage collector runs only in the GUI thread.

The collector runs in whichever thread happens to allocate when a threshold is crossed:
often a worker reading FITS headers. If the garbage holds Qt objects (a closed dialog,
widgets kept in cycles by Python callbacks), their C++ destructors then run in the worker
while the GUI thread may hold a Qt lock and wait for the GIL: both threads wait forever (seen
in the test suite: ``QObject::~QObject`` under ``gc_collect_main`` in a worker, the GUI thread
in ``QBasicMutex::lockInternal``). Automatic collection is switched off and a timer in the GUI
thread collects instead; reference counting still frees everything not in a cycle at once.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

__all__ = ["install_gc_guard"]

#: milliseconds between two collections in the GUI thread
INTERVAL_MS = 1000


def install_gc_guard(parent: QObject, interval_ms: int = INTERVAL_MS) -> QTimer:
    """Switch automatic collection off and collect from a timer owned by ``parent`` (the QApplication).

    Returns the timer (idempotent: a second call returns the first timer).
    """
    existing = getattr(parent, "_nircam_gc_timer", None)
    if existing is not None:
        return existing
    gc.disable()
    timer = QTimer(parent, interval=interval_ms)
    # young objects every tick, everything every 10th: cheap enough for the event loop
    state = {"n": 0}

    def collect() -> None:
        state["n"] += 1
        gc.collect(2 if state["n"] % 10 == 0 else 0)

    timer.timeout.connect(collect)
    timer.start()
    parent._nircam_gc_timer = timer
    return timer
