"""The image viewer: loading, ramps, stretches, and the DS9-style readout."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fits_samples import CAL_DQ, uncal_value
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from nircam_gui.gui.colormaps import lookup_table
from nircam_gui.gui.image_viewer import ImageViewer


@pytest.fixture
def viewer(qtbot):
    v = ImageViewer()
    qtbot.addWidget(v)
    v.resize(800, 700)
    v.show()
    qtbot.waitExposed(v)
    yield v
    v.runner.shutdown(5)
    v.close_source()


def open_and_wait(qtbot, viewer, path):
    with qtbot.waitSignal(viewer.loaded, timeout=10000):
        viewer.open(path)
    qtbot.waitUntil(lambda: not viewer.busy, timeout=5000)


def hover(qtbot, viewer, column, row) -> str:
    """Send a mouse move over pixel (column, row) and return the readout text."""
    texts = []
    viewer.readout.connect(texts.append)
    scene = viewer.canvas.scene_pos_of(column, row)
    exact = viewer.canvas.viewportTransform().map(scene)
    pos = QPointF(math.floor(exact.x()), math.floor(exact.y()))  # a real pointer is on whole pixels
    port = viewer.canvas.viewport()
    event = QMouseEvent(QEvent.Type.MouseMove, pos, port.mapToGlobal(pos), Qt.MouseButton.NoButton,
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(port, event)
    qtbot.waitUntil(lambda: bool(texts), timeout=2000)
    viewer.readout.disconnect(texts.append)
    return texts[-1]


def test_calibrated_image_loads_with_zscale_and_readout(qtbot, viewer, data_dir):
    open_and_wait(qtbot, viewer, data_dir / "jw_nrcb1_cal.fits")
    assert viewer.state.limits == "zscale" and viewer.state.colormap == "gray"
    assert viewer.frame.image.shape == (64, 64)
    assert not viewer.ramp_bar.isVisible()
    # the picture on screen is the data mapped through the grey table at the zscale levels
    shown = viewer.canvas.image.image
    assert shown.shape == (64, 64, 4) and shown.dtype == np.uint8
    assert shown[0, 0, 0] < shown[63, 63, 0]  # row-major, values grow with y
    # DS9 convention: 1-based x, y; value at 0-based [row, col]
    text = hover(qtbot, viewer, 20, 10)
    assert "x 21" in text and "y 11" in text
    assert f"value {20 + 1000 * 10}" in text
    assert "amp 2" in text  # columns 16-31 of a 64-wide frame: second amplifier
    assert f"DQ {CAL_DQ[(20, 10)]} DO_NOT_USE+DEAD" in text
    text = hover(qtbot, viewer, 5, 40)
    assert "x 6" in text and "y 41" in text and "value 40005" in text and "HOT" in text
    assert "amp 1 (ref)" not in text
    assert "(ref)" in hover(qtbot, viewer, 1, 30)


def test_ramp_groups_integrations_and_difference(qtbot, viewer, data_dir):
    open_and_wait(qtbot, viewer, data_dir / "jw_nrca1_uncal.fits")
    src = viewer.source
    assert (src.nints, src.ngroups) == (2, 5)
    assert viewer.ramp_bar.isVisible()
    # opens on the last group of integration 1
    assert (viewer.frame.integration, viewer.frame.group) == (0, 4)
    assert viewer.frame.image[3, 9] == uncal_value(0, 4, 3, 9)
    assert "group 5/5" in viewer.title.text()

    with qtbot.waitSignal(viewer.frame_shown, timeout=5000):
        viewer.group_slider.setValue(2)  # 1-based group 2
    qtbot.waitUntil(lambda: not viewer.busy)
    assert viewer.frame.group == 1 and viewer.group_spin.value() == 2
    assert viewer.frame.image[3, 9] == uncal_value(0, 1, 3, 9)

    assert viewer.integration_slider.isVisible() and viewer.integration_slider.maximum() == 2
    viewer.integration_slider.setValue(2)
    qtbot.waitUntil(lambda: not viewer.busy and viewer.frame.integration == 1, timeout=5000)
    assert viewer.integration_spin.value() == 2
    assert viewer.frame.image[3, 9] == uncal_value(1, 1, 3, 9)

    viewer.difference_box.setChecked(True)
    qtbot.waitUntil(lambda: not viewer.busy and viewer.frame.difference, timeout=5000)
    # group 2 minus group 1: 100 ADU everywhere in the test ramp
    assert np.all(viewer.frame.image == 100.0)
    assert "group 2 − group 1" in viewer.title.text()
    assert "value 100" in hover(qtbot, viewer, 9, 3)


def test_dragging_the_slider_reads_only_what_is_needed(qtbot, viewer, data_dir, monkeypatch):
    open_and_wait(qtbot, viewer, data_dir / "jw_nrca1_uncal.fits")
    reads = []
    original = viewer.source.frame
    monkeypatch.setattr(viewer.source, "frame", lambda *a: reads.append(a) or original(*a))
    for v in (1, 2, 3, 4, 5, 4, 3):
        viewer.group_slider.setValue(v)
    qtbot.waitUntil(lambda: not viewer.busy, timeout=5000)
    assert viewer.frame.group == 2  # the last request wins
    assert len(reads) <= 2  # the first, then only the latest


@pytest.mark.parametrize("method", ["minmax", "99.5%", "95%"])
def test_stretch_changes_levels_and_picture(qtbot, viewer, data_dir, method):
    open_and_wait(qtbot, viewer, data_dir / "jw_nrcb1_cal.fits")
    before = viewer.canvas.image.image.copy()
    with qtbot.waitSignal(viewer.frame_shown, timeout=5000):
        viewer.set_state(limits=method)
    lo, hi = viewer.levels
    if method == "minmax":
        assert (lo, hi) == (0.0, 63.0 + 63000.0)
    else:
        assert 0 < lo < hi < 63063
    assert viewer.panel.limits.currentText() == method
    assert not np.array_equal(before, viewer.canvas.image.image)


def test_scaling_and_colormap_change_the_table_not_the_data(qtbot, viewer, data_dir):
    open_and_wait(qtbot, viewer, data_dir / "jw_nrcb1_cal.fits")
    data = viewer.frame.image
    with qtbot.waitSignal(viewer.frame_shown, timeout=5000):
        viewer.panel.scaling.setCurrentText("log")
    assert viewer.frame.image is data
    with qtbot.waitSignal(viewer.frame_shown, timeout=5000):
        viewer.panel.colormap.setCurrentText("viridis")
    qtbot.waitUntil(lambda: not viewer.busy)
    lut = lookup_table("viridis", "log")
    shown = viewer.canvas.image.image
    # every shown colour comes from the viridis/log table
    colours = {tuple(c) for c in lut}
    assert all(tuple(c) in colours for c in shown[::7, ::7, :3].reshape(-1, 3))


def test_manual_levels_from_the_panel(qtbot, viewer, data_dir):
    open_and_wait(qtbot, viewer, data_dir / "jw_nrcb1_cal.fits")
    with qtbot.waitSignal(viewer.frame_shown, timeout=5000):
        viewer.panel.changed.emit("manual_levels", (1000.0, 2000.0))
    assert viewer.state.limits == "manual" and viewer.levels == (1000.0, 2000.0)
    assert viewer.panel.low.value() == 1000.0 and viewer.panel.histogram.region.getRegion() == (1000.0, 2000.0)
    shown = viewer.canvas.image.image
    assert shown[0, 0, 0] == 0 and shown[10, 0, 0] == 255  # 0 below, 10000 above the range


def test_unreadable_file_reports_file_and_problem(qtbot, viewer, data_dir):
    with qtbot.waitSignal(viewer.failed, timeout=5000) as blocker:
        viewer.open(data_dir / "broken.fits")
    message = blocker.args[0]
    assert message.startswith(str(data_dir / "broken.fits") + ": ")
    assert "Traceback" not in message
    assert viewer.source is None


def test_zoom(qtbot, viewer, data_dir):
    open_and_wait(qtbot, viewer, data_dir / "jw_nrcb1_cal.fits")
    fit = viewer.canvas.zoom_factor()
    assert fit > 5  # a 64-pixel image fills an 800-pixel view
    viewer.canvas.zoom_actual()
    assert viewer.canvas.zoom_factor() == pytest.approx(1.0, rel=0.05)
    viewer.canvas.zoom_by(2.0)
    assert viewer.canvas.zoom_factor() == pytest.approx(2.0, rel=0.05)


def test_readout_follows_the_frame_under_a_resting_pointer(qtbot, viewer, data_dir):
    open_and_wait(qtbot, viewer, data_dir / "jw_nrca1_uncal.fits")
    text = hover(qtbot, viewer, 9, 21)
    group = viewer.state.group
    # the colour bar names the limits and the unit of raw ramps
    assert viewer.panel.colorbar_high.text().endswith(" DN")
    assert viewer.panel.colorbar_low.text() == f"{viewer.levels[0]:.6g}"
    strip = viewer.panel.colorbar.grab().toImage()  # the grey ramp is drawn, dark to light
    assert strip.pixelColor(1, 6).lightness() < 40 < 200 < strip.pixelColor(strip.width() - 2, 6).lightness()
    assert f"value {uncal_value(0, group, 21, 9)}" in text
    # ] with the mouse at rest: the readout shows the new group's value without a move
    texts = []
    viewer.readout.connect(texts.append)
    viewer.step_group(-1)
    qtbot.waitUntil(lambda: any(f"value {uncal_value(0, group - 1, 21, 9)}" in t for t in texts), timeout=5000)
    viewer.step_integration(1)
    qtbot.waitUntil(lambda: any(f"value {uncal_value(1, group - 1, 21, 9)}" in t for t in texts), timeout=5000)
