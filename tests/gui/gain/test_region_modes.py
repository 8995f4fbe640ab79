"""Mouse modes of the Gain tab: shown, switched by keys, back to Pan after a polygon, and a
Draw click with results on screen says what it changes."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt

from gain_gui_helpers import options_for, wait_idle


def _click(qtbot, panel, x, y):
    p = panel.editor.to_screen(x, y)
    qtbot.mouseClick(panel.canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     QPoint(round(p.x()), round(p.y())))


def test_modes_keys_label_and_warning_with_results(qtbot, panel, flats):
    for reftype, path in options_for(flats).items():
        panel.setup.set_reference(reftype, path)
    panel.setup.box_combo.setCurrentText("64")
    panel.set_files([str(p) for p in flats.ramps])
    qtbot.waitUntil(lambda: panel.check is not None and panel.viewer.frame is not None, timeout=30000)
    panel.model.clear()
    wait_idle(qtbot, panel)
    panel.canvas.zoom_fit()
    # the keys switch the mode and the label shows it
    panel.canvas.setFocus()
    for key, mode, text in ((Qt.Key.Key_P, "draw", "Mode: Draw"), (Qt.Key.Key_E, "edit", "Mode: Edit"),
                            (Qt.Key.Key_N, "navigate", "Mode: Pan")):
        qtbot.keyClick(panel.canvas, key)
        assert panel.editor.mode == mode and panel.mode_label.text() == text
        assert panel.mode_label.property("mode") == mode
    # a run, then Draw: the first vertex tells that a region changes the grid
    with qtbot.waitSignal(panel.result_ready, timeout=120000):
        panel.run()
    wait_idle(qtbot, panel)
    qtbot.keyClick(panel.canvas, Qt.Key.Key_P)
    _click(qtbot, panel, 100.0, 100.0)
    assert "changes the box grid" in panel.hint_label.text()
    for x, y in ((140.0, 100.0), (120.0, 140.0)):
        _click(qtbot, panel, x, y)
    qtbot.keyClick(panel.canvas, Qt.Key.Key_Return)
    assert len(panel.model.polygons) == 1 and panel.editor.mode == "navigate"
    # back in Pan, a click on a box selects it and adds no vertex
    _click(qtbot, panel, 30.0, 30.0)
    assert len(panel.model.polygons) == 1 and panel.editor.draft == []
    assert np.asarray(panel.model.polygons[0]).shape == (3, 2)
    wait_idle(qtbot, panel)


def test_pointer_line_goes_to_one_status_signal(qtbot, panel, flats):
    panel.set_files([str(p) for p in flats.ramps])
    qtbot.waitUntil(lambda: panel.viewer.frame is not None, timeout=30000)
    wait_idle(qtbot, panel)
    lines = []
    panel.status_text.connect(lines.append)
    panel.viewer._hovered((10, 12))
    panel._hovered((10, 12))
    value = panel.viewer.frame.image[12, 10]
    assert lines[-1].startswith("x 11   y 13   value ") and f"{value:.6g}" in lines[-1]
    # stepping the group with the pointer at rest refreshes the line with the new value
    n = len(lines)
    panel.viewer.set_state(group=0, difference=False)
    qtbot.waitUntil(lambda: len(lines) > n and panel.viewer.frame.group == 0, timeout=10000)
    assert f"{panel.viewer.frame.image[12, 10]:.6g}" in lines[-1]
    # the tab has no second readout line of its own
    assert not panel.hover_label.isVisible()
    wait_idle(qtbot, panel)
