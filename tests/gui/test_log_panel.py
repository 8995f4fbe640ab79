"""The progress row and the log say what runs, when it finished (with the time) and when it was cancelled."""

from __future__ import annotations

import re
import time

from nircam_gui.gui.log_panel import LogPanel
from nircam_gui.gui.workers import TaskRunner


def _slow(seconds, progress=None, cancel=None):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cancel is not None and cancel():
            return None
        time.sleep(0.01)
    return "ok"


def test_finished_and_cancelled_are_said_with_the_time(qtbot, monkeypatch):
    import logging

    monkeypatch.setattr("nircam_gui.gui.log_panel.ANNOUNCE_AFTER_S", 0.05)
    runner = TaskRunner(max_threads=1)
    panel = LogPanel(runner)
    qtbot.addWidget(panel)
    logger = logging.getLogger("nircam_gui")
    logger.addHandler(panel.handler)
    logger.setLevel(logging.INFO)
    try:
        worker = runner.run(_slow, 0.2, name="Long sum")
        # running: the bar names no percentage before the task reports one
        assert panel.progress.format() == "starting…" and panel.task_label.text() == "Long sum"
        qtbot.waitUntil(lambda: not runner.active, timeout=5000)
        qtbot.waitUntil(lambda: "Long sum finished" in panel.messages(), timeout=5000)
        assert worker.outcome == "finished" and worker.seconds >= 0.2
        assert re.search(r"Long sum finished at \d\d:\d\d:\d\d \(0\.\d s\)", panel.messages())
        assert panel.progress.format().startswith("Long sum finished at") and panel.progress.value() == 1000
        assert "0%" not in panel.progress.format()
        # cancelled: said in the log and on the bar, which does not pretend it completed
        worker = runner.run(_slow, 30, name="Endless")
        qtbot.wait(50)
        panel.cancel()
        qtbot.waitUntil(lambda: not runner.active, timeout=5000)
        qtbot.waitUntil(lambda: "Endless cancelled at" in panel.messages(), timeout=5000)
        assert worker.outcome == "cancelled"
        assert panel.progress.format().startswith("Endless cancelled at") and panel.progress.value() == 0
        # a quick task (a frame read) leaves the last ending on the bar and no log line
        monkeypatch.setattr("nircam_gui.gui.log_panel.ANNOUNCE_AFTER_S", 5.0)
        runner.run(_slow, 0.0, name="Reading group 3")
        qtbot.waitUntil(lambda: not runner.active, timeout=5000)
        qtbot.wait(50)
        assert "Reading group 3" not in panel.messages()
        assert panel.progress.format().startswith("Endless cancelled at")
    finally:
        logger.removeHandler(panel.handler)
        runner.shutdown(5)
