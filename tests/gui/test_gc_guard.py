"""Cyclic garbage is collected by the GUI thread's timer, not by whichever thread allocates."""

from __future__ import annotations

import gc
import threading
import weakref

from nircam_gui.gui.gc_guard import install_gc_guard


class _Cycle:
    def __init__(self):
        self.me = self


def test_collection_happens_in_the_gui_thread(qtbot, qapp):
    timer = install_gc_guard(qapp, interval_ms=20)
    assert install_gc_guard(qapp) is timer and not gc.isenabled()
    collected_in = []
    obj = _Cycle()
    weakref.finalize(obj, lambda: collected_in.append(threading.current_thread().name))
    del obj
    # a worker allocating a lot does not trigger a collection
    t = threading.Thread(target=lambda: [_Cycle.__new__(_Cycle) for _ in range(200_000)], name="worker")
    t.start()
    t.join()
    assert collected_in == []
    gc.collect(0)  # what the timer does, here at once
    qtbot.waitUntil(lambda: bool(collected_in), timeout=5000)
    assert collected_in == [threading.main_thread().name]
