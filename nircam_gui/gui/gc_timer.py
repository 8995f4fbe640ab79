"""Python's cyclic garbage collector runs in the GUI thread only.

The collector runs in whichever thread allocates when a threshold is crossed: often a worker
reading FITS headers. When the garbage holds Qt objects (a closed dialog, widgets kept in
cycles by Python slots), their C++ destructors then run in the worker while the GUI thread
holds a Qt mutex and waits for the GIL: both wait for ever (seen in the test suite,
``QObject::~QObject`` under ``gc_collect_main`` in a worker, the GUI thread in
``QBasicMutex::lockInternal``). pyqtgraph's ``GarbageCollector`` (the pattern calibre and
novelWriter use too) switches automatic collection off and collects from a timer in the GUI
thread, generation by generation when the allocation counts cross the usual thresholds, so a
tick is almost always a young-generation collection (well under a millisecond).

A full collection scans every tracked object: ~170 ms once numpy, astropy, pyqtgraph and the
window are loaded, long enough to stall the event loop. The objects alive after start-up
(modules, classes, functions, the main window) live as long as the program, so
:func:`freeze_startup_objects` moves them out of the collector's sight (``gc.freeze``) and
later full collections scan only what the session made since.
"""

from __future__ import annotations

import gc

from pyqtgraph.util.garbage_collector import GarbageCollector
from PySide6.QtCore import QObject

__all__ = ["collect_in_gui_thread", "freeze_startup_objects", "stop_collecting_in_gui_thread"]

#: seconds between two checks of the allocation counts (pyqtgraph's default)
INTERVAL = 1.0

_ATTRIBUTE = "_nircam_gui_garbage_collector"


def collect_in_gui_thread(owner: QObject, interval: float = INTERVAL) -> GarbageCollector:
    """Switch automatic collection off; collect from a timer in the thread that calls this.

    Call it in the GUI thread with the QApplication as ``owner``, which keeps the collector
    alive. A later call restarts the same collector's timer at ``interval`` and returns it.

    Parameters
    ----------
    owner : QObject
        Object that holds the collector (the QApplication).
    interval : float
        Seconds between two checks of the allocation counts.

    Returns
    -------
    GarbageCollector
        pyqtgraph's collector; ``collector.timer`` is its QTimer.
    """
    collector = getattr(owner, _ATTRIBUTE, None)
    if collector is None:
        collector = GarbageCollector(interval=interval)
        setattr(owner, _ATTRIBUTE, collector)
    else:
        collector.timer.start(int(interval * 1000))
    gc.disable()
    return collector


def stop_collecting_in_gui_thread(owner: QObject) -> None:
    """Stop the timer of :func:`collect_in_gui_thread`, collect once, switch automatic collection on.

    Call it where no Qt call is under way (not from a slot): the collection destroys the
    cyclic garbage here and now. The collector and its timer stay alive: destroying a QTimer
    disconnects its signal, and a collection triggered inside that disconnection would destroy
    Qt objects while Qt holds the lock the disconnection took (a deadlock seen in the tests).
    """
    collector = getattr(owner, _ATTRIBUTE, None)
    if collector is not None:
        collector.timer.stop()
    gc.collect()
    gc.enable()


def freeze_startup_objects() -> None:
    """Collect once, then leave every surviving object out of later collections (``gc.freeze``).

    For objects that live as long as the program (modules, classes, the main window): later
    full collections then scan only what was made after this call.
    """
    gc.collect()
    gc.freeze()
