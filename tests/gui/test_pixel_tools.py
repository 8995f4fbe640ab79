"""The Pixels dock: the 9x9 table around the pointer and the statistics box, on the frame on screen."""

from __future__ import annotations

import numpy as np
import pytest
from fits_samples import uncal_value

from nircam_gui.core.region_stats import box_statistics


def test_pixel_table_and_statistics_box(qtbot, window, data_dir):
    with qtbot.waitSignal(window.viewer.loaded, timeout=10000):
        window.open_path(data_dir / "jw_nrca1_uncal.fits")
    qtbot.waitUntil(lambda: window.idle, timeout=10000)
    viewer = window.viewer
    group = viewer.state.group
    viewer._hovered((20, 30))
    viewer.canvas.hovered.emit((20, 30))
    table = window.pixel_table
    assert table.rowCount() == table.columnCount() == 9
    for column, row in ((20, 30), (16, 26), (24, 34), (23, 27)):
        assert table.value_at(column, row) == f"{uncal_value(0, group, row, column):.6g}"
    # headers are 1-based, the top row is the largest y (as drawn)
    assert table.horizontalHeaderItem(4).text() == "21" and table.verticalHeaderItem(0).text() == "35"
    # near the edge: pixels outside the image are blank
    viewer.canvas.hovered.emit((0, 0))
    assert table.value_at(-1, 0) == "" and table.value_at(0, 0) == f"{uncal_value(0, group, 0, 0):.6g}"

    tool = window.box_stats
    with qtbot.waitSignal(tool.computed, timeout=10000) as got:
        tool.set_box(viewer, 10, 12, 20, 8)
    stats = got.args[0]
    assert (stats.x0, stats.x1, stats.y0, stats.y1) == (10, 29, 12, 19) and stats.npix == 160
    ref = box_statistics(viewer.frame.image, 10, 29, 12, 19)
    assert stats.mean == pytest.approx(ref.mean) and stats.clipped_std == pytest.approx(ref.clipped_std)
    assert "x 11-30, y 13-20: 160 pixels" in tool.label.text()
    # a new group: the same box, new numbers
    with qtbot.waitSignal(tool.computed, timeout=10000) as got:
        viewer.set_state(group=0)
    assert got.args[0].mean == pytest.approx(box_statistics(viewer.frame.image, 10, 29, 12, 19).mean)
    assert got.args[0].mean != pytest.approx(stats.mean)
    tool.button.setChecked(False)
    assert tool.roi is None


def test_line_profile_follows_the_frame(qtbot, window, data_dir):
    from nircam_gui.core.region_stats import line_profile

    with qtbot.waitSignal(window.viewer.loaded, timeout=10000):
        window.open_path(data_dir / "jw_nrca1_uncal.fits")
    qtbot.waitUntil(lambda: window.idle, timeout=10000)
    viewer = window.viewer
    tool = window.line_profile
    with qtbot.waitSignal(tool.plotted, timeout=5000) as got:
        tool.set_line(viewer, 5, 10, 40, 10)
    distance, values = got.args[0]
    assert tool.ends() == pytest.approx((5, 10, 40, 10))
    np.testing.assert_array_equal(values, viewer.frame.image[10, 5:41])
    x, y = tool.curve.getData()
    np.testing.assert_array_equal(y, values)
    # another group: the same line, the new frame's values
    with qtbot.waitSignal(tool.plotted, timeout=5000) as got:
        viewer.set_state(group=0)
    np.testing.assert_array_equal(got.args[0][1], line_profile(viewer.frame.image, 5, 10, 40, 10)[3])
    tool.button.setChecked(False)
    assert tool.roi is None
