"""Helpers shared by the Gain tab tests (a module of its own: `conftest` is not importable by name
when several test folders have one)."""

from __future__ import annotations


def wait_idle(qtbot, panel, timeout=30000):
    """Until no work runs, then deliver what the last workers posted (their results are
    queued to the GUI thread before they count as finished)."""
    from PySide6.QtWidgets import QApplication

    qtbot.waitUntil(lambda: panel.idle and not panel.runner.active, timeout=timeout)
    for _ in range(3):
        QApplication.processEvents()
    qtbot.waitUntil(lambda: panel.idle and not panel.runner.active, timeout=timeout)


def options_for(flats, box=64):
    """The reference files of the simulated set, as the set-up's fields."""
    refs = flats.references
    return {"SUPERBIAS": str(refs["SUPERBIAS"]), "LINEARITY": str(refs["LINEARITY"]),
            "SATURATION": str(refs["SATURATION"]), "MASK": str(refs["MASK"]), "IPC": str(refs["IPC"])}
