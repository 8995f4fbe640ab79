"""Cyclic garbage is collected by a timer in the GUI thread, never by a worker that allocates."""

from __future__ import annotations

import gc
import threading
import time
import weakref

from PySide6.QtCore import QElapsedTimer, QEvent, QTimer
from PySide6.QtWidgets import QApplication

from nircam_gui.gui.gc_timer import collect_in_gui_thread, freeze_startup_objects, stop_collecting_in_gui_thread


class _Cycle:
    def __init__(self):
        self.me = self


def _allocate_cycles(n: int) -> None:
    for _ in range(n):
        _Cycle()


def _record_collections(where: list) -> callable:
    def callback(phase, info):
        if phase == "start":
            where.append((threading.current_thread().name, info["generation"]))

    gc.callbacks.append(callback)
    return callback


def test_collections_run_in_the_gui_thread_only(qtbot, qapp):
    collector = collect_in_gui_thread(qapp)
    assert collect_in_gui_thread(qapp) is collector and not gc.isenabled()
    collector.timer.setInterval(20)
    collections, finalized_in = [], []
    callback = _record_collections(collections)
    try:
        obj = _Cycle()
        weakref.finalize(obj, lambda: finalized_in.append(threading.current_thread().name))
        del obj
        # far more allocations than the automatic collector's threshold (700)
        worker = threading.Thread(target=_allocate_cycles, args=(200_000,), name="worker")
        worker.start()
        worker.join()
        assert [name for name, _ in collections if name == "worker"] == []
        assert finalized_in == []
        qtbot.waitUntil(lambda: bool(finalized_in), timeout=5000)
    finally:
        gc.callbacks.remove(callback)
    assert finalized_in == [threading.main_thread().name]
    assert {name for name, _ in collections} == {threading.main_thread().name}


def test_stopping_switches_automatic_collection_back_on(qapp):
    collect_in_gui_thread(qapp)
    stop_collecting_in_gui_thread(qapp)
    assert gc.isenabled()
    collector = collect_in_gui_thread(qapp)  # what the autouse fixture's teardown expects to stop
    assert collector.timer.isActive() and not gc.isenabled()


def test_event_loop_never_stalls_while_collecting(qtbot, qapp):
    """A 5 ms timer probe while a worker makes cyclic garbage and the collector runs every
    generation, the oldest included, every third tick: the longest gap stays < 100 ms.

    As in the application after start-up, what is loaded so far (here: the modules and
    session fixtures of every earlier test) is frozen out of the scans first.
    """
    freeze_startup_objects()
    collector = collect_in_gui_thread(qapp)
    collector.timer.setInterval(50)
    threshold = collector.threshold
    collector.threshold = (0, 0, 0)  # the worst case: a full collection on every tick
    collections = []
    callback = _record_collections(collections)
    durations, t0 = [], [0.0]

    def timing(phase, info):
        if phase == "start":
            t0[0] = time.perf_counter()
        else:
            durations.append((round(1000 * (time.perf_counter() - t0[0]), 1), info["generation"]))

    gc.callbacks.append(timing)
    clock, gaps, last = QElapsedTimer(), [], [None]
    clock.start()

    def tick():
        now = clock.elapsed()
        if last[0] is not None:
            gaps.append(now - last[0])
        last[0] = now

    # earlier tests' windows are deleted in the first event-loop pass: not what is measured here
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    qtbot.wait(100)
    probe = QTimer(interval=5)
    probe.timeout.connect(tick)
    stop = threading.Event()

    def make_garbage():
        while not stop.is_set():  # ~100,000 cyclic objects a second, as a busy reader might
            _allocate_cycles(100)
            time.sleep(0.001)

    worker = threading.Thread(target=make_garbage, name="worker")
    try:
        probe.start()
        worker.start()
        # every third tick collects the oldest generation: wait for a few of those
        qtbot.waitUntil(lambda: sum(1 for _, g in collections if g == 2) >= 3, timeout=30000)
    finally:
        stop.set()
        worker.join()
        probe.stop()
        collector.threshold = threshold
        gc.callbacks.remove(callback)
        gc.callbacks.remove(timing)
    assert {name for name, _ in collections} == {threading.main_thread().name}
    assert sum(1 for _, generation in collections if generation == 2) >= 3
    assert len(gaps) > 20
    assert max(ms for ms, _ in durations) < 100, f"slowest collections: {sorted(durations)[-3:]}"
    assert max(gaps) < 100, f"event loop stalled {max(gaps)} ms"
