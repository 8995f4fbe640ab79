"""The Sky flat and Dead pixels tabs in the window's display model: the Display dock
stretches their maps, the pointer's readout goes to the one status line, and the
threshold field takes typed numbers."""

import pytest
from PySide6.QtCore import Qt

from skyflat_gui_helpers import load_and_run, wait_idle
from nircam_gui.gui.skyflat.images import PER_PANEL


def test_display_dock_drives_the_maps_and_the_status_line_follows(qtbot, tabs, sim_set):
    window, sky, dead = tabs
    load_and_run(qtbot, window, sky, sim_set, predictions=False)
    window.show_tab("skyflat")
    wait_idle(qtbot, window)
    grid = sky.detector_view.grid
    display = window.grid_displays[sky]
    assert window.display_stack.currentWidget() is display.panel
    assert display.panel.limits.currentText() == PER_PANEL
    own = list(grid.levels)
    # min/max on every panel: each panel's limits become its own data range
    with qtbot.waitSignal(grid.drawn, timeout=30_000):
        display.panel.limits.setCurrentText("minmax")
    assert grid.display[0] == "minmax"
    assert grid.levels != own
    from nircam_gui.gui.skyflat.images import block_median, panel_levels

    for spec, lv in zip(grid.specs, grid.levels):
        image = block_median(spec.image, spec.smooth) if spec.smooth > 1 else spec.image
        assert lv == pytest.approx(panel_levels(image, "minmax"))
    # typed levels apply to every panel
    with qtbot.waitSignal(grid.drawn, timeout=30_000):
        display.set_state("manual_levels", (0.9, 1.1))
    assert all(lv == pytest.approx((0.9, 1.1)) for lv in grid.levels)
    # the readout of a grid goes to the window's status line, not to a second line
    assert not grid.readout_label.isVisible()
    grid.readout.emit("F150W delta:   x 5   y 6   value 1.002")
    assert window.readout_label.text().startswith("F150W delta")
    # another tab: the line no longer shows a pixel of this one
    window.show_tab("image")
    assert "F150W" not in window.readout_label.text()
    grid.readout.emit("F150W delta:   x 7   y 6   value 1.003")
    assert "F150W" not in window.readout_label.text()


def test_threshold_field_accepts_typing(qtbot, tabs, sim_set):
    window, sky, dead = tabs
    load_and_run(qtbot, window, sky, sim_set, predictions=False)
    window.show_tab("deadpix")
    wait_idle(qtbot, window)
    spin = dead.spin
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "0.65")
    # nothing is applied (nor written back into the field) while typing
    assert spin.text() == "0.65" or spin.lineEdit().text() == "0.65"
    assert sky.session.view.threshold != pytest.approx(0.65)
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert sky.session.view.threshold == pytest.approx(0.65)
    assert spin.value() == pytest.approx(0.65)
    assert dead.slider.value() == round(0.65 / 0.005)
