"""Image-tab tools: DQ overlay with its legend, blink between integrations, DS9 regions, header search."""

from __future__ import annotations

import os

import numpy as np
from astropy.io import fits
from fits_samples import CAL_DQ

from nircam_gui.gui.dq_overlay import DQ_COLOURS, dq_picture


def _open(qtbot, window, path):
    with qtbot.waitSignal(window.viewer.loaded, timeout=10000):
        window.open_path(path)
    qtbot.waitUntil(lambda: window.idle, timeout=10000)


def test_dq_picture_colours_and_counts():
    dq = np.zeros((4, 5), np.uint32)
    dq[1, 2] = 1 | 1024  # DO_NOT_USE + DEAD: DEAD wins
    dq[3, 0] = 2048
    rgba, counts = dq_picture(dq)
    colours = {name: c for name, _, c in DQ_COLOURS}
    assert tuple(rgba[1, 2]) == colours["DEAD"] and tuple(rgba[3, 0]) == colours["HOT"]
    assert rgba[0, 0, 3] == 0
    assert counts["DEAD"] == 1 and counts["HOT"] == 1 and counts["DO_NOT_USE"] == 1 and counts["SATURATED"] == 0


def test_dq_overlay_on_a_cal_image(qtbot, window, data_dir):
    _open(qtbot, window, data_dir / "jw_nrcb1_cal.fits")
    window.dq_action.trigger()
    overlay = window.dq_overlay
    assert overlay.image.isVisible() and overlay.legend.isVisible()
    (x, y), flags = next(iter(CAL_DQ.items()))
    assert overlay.image.image[y, x, 3] > 0
    assert overlay.counts["DEAD"] == sum(1 for v in CAL_DQ.values() if v & 1024)
    window.dq_action.trigger()
    assert not overlay.image.isVisible()


def test_blink_alternates_integrations(qtbot, window, data_dir):
    _open(qtbot, window, data_dir / "jw_nrca1_uncal.fits")
    seen = set()
    window.viewer.frame_shown.connect(lambda: seen.add(window.viewer.frame.integration))
    window.BLINK_MS = 60
    window.blink_action.trigger()
    window._blink_timer.setInterval(60)
    qtbot.waitUntil(lambda: seen >= {0, 1}, timeout=5000)
    window.blink_action.trigger()
    assert not window._blink_timer.isActive()


def test_ds9_regions_on_the_image(qtbot, window, data_dir, tmp_path):
    _open(qtbot, window, data_dir / "jw_nrcb1_cal.fits")
    reg = tmp_path / "r.reg"
    reg.write_text("# Region file format: DS9\nimage\npolygon(10,10,30,10,20,30)\ncircle(40,40,5)\n"
                   "box(20,50,10,6,0)\npoint(5,5)\nfk5\ncircle(10:00:00,+20:00:00,3\")\n")
    assert window.open_image_regions(str(reg)) == 4
    items = window.image_regions.items
    x, y = items[0].getData()
    # DS9 image coordinates are 1-based: vertex (10, 10) is pixel 9 (0-based), drawn at its centre 9.5
    assert (x[0], y[0]) == (9.5, 9.5) and len(x) == 4
    cx, cy = items[1].getData()
    assert np.allclose(np.hypot(cx - 39.5, cy - 39.5), 5)
    window.error.disconnect()
    errors = []
    window.error.connect(errors.append)
    assert window.open_image_regions(str(tmp_path / "missing.reg")) == 0
    assert errors and "missing.reg" in errors[0]


def test_header_search(qtbot, window, data_dir):
    _open(qtbot, window, data_dir / "jw_nrcb1_cal.fits")
    window.show_header()
    search = window.header_dialog.search
    search.edit.setText("detector")
    assert search.hits() >= 1 and search.count.text() == f"{search.hits()} found"
    assert search.text.textCursor().selectedText().lower() == "detector"
    search.edit.setText("no-such-keyword")
    assert search.hits() == 0 and not search.find_next()
    window.header_dialog.close()


def test_blink_two_files(qtbot, window, data_dir):
    """Each blink step shows the other file: title, frame and readout follow the file on screen."""
    from fits_samples import make_cal

    a, b = data_dir / "jw_nrcb1_cal.fits", data_dir / "jw_other_cal.fits"
    make_cal(b, detector="NRCA2")
    with fits.open(b, mode="update") as h:
        h["SCI"].data *= 3.0
    _open(qtbot, window, a)
    seen = {}
    window.viewer.frame_shown.connect(
        lambda: seen.setdefault(os.path.basename(window.viewer.source.path), window.viewer.pixel(5, 7).value))
    window.blink_files(a, b)
    qtbot.waitUntil(lambda: window.blink_files_action.isChecked(), timeout=10000)
    window.file_blink.timer.setInterval(60)
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=10000)
    assert seen["jw_other_cal.fits"] == 3.0 * seen["jw_nrcb1_cal.fits"] != 0
    # a display change while blinking: the hidden file is re-coloured before it is shown
    window.viewer.set_state(colormap="viridis")
    qtbot.waitUntil(lambda: window.file_blink.other.look[2] == "viridis", timeout=10000)
    window.blink_files_action.trigger()
    assert not window.file_blink.timer.isActive() and window.file_blink.other is None


def test_nan_colour_in_every_view(qtbot, window, tmp_path):
    """The NaN colour chosen in the Display dock colours NaN pixels in every view and is remembered."""
    from fits_samples import make_cal

    from nircam_gui.core.display import NAN_COLOUR
    from nircam_gui.gui.main_window import MainWindow
    from nircam_gui.gui.skyflat.images import PanelSpec, _render

    path = tmp_path / "nan_cal.fits"
    make_cal(path)
    with fits.open(path, mode="update") as h:
        h["SCI"].data[7, 5] = np.nan
    _open(qtbot, window, path)
    picture = window.viewer.canvas.image.image
    assert tuple(picture[7, 5, :3]) == NAN_COLOUR
    fine = tuple(picture[7, 6, :3])
    window.viewer.panel.changed.emit("nan_colour", (255, 0, 255))  # what the NaN button sends
    qtbot.waitUntil(lambda: tuple(window.viewer.canvas.image.image[7, 5, :3]) == (255, 0, 255), timeout=10000)
    assert tuple(window.viewer.canvas.image.image[7, 6, :3]) == fine
    assert window.gain_panel.viewer.state.nan_colour == (255, 0, 255)
    for grid_display in window.grid_displays.values():
        assert grid_display.grid.nan_colour == (255, 0, 255)
        assert grid_display.panel.nan_colour == (255, 0, 255)
    image = np.ones((8, 8), np.float32)
    image[2, 3] = np.nan
    (_, pic), = _render([PanelSpec("t", image)], None, (0, 0, 0, 0), None, (255, 0, 255))[0]
    assert tuple(pic[2, 3, :3]) == (255, 0, 255) and tuple(pic[2, 4, :3]) != (255, 0, 255)
    window.save_settings()
    other = MainWindow(settings=window.settings, restore_layout=False, modal_errors=False)
    qtbot.addWidget(other)
    assert other.nan_colour == (255, 0, 255) and other.viewer.state.nan_colour == (255, 0, 255)
    other.close()


def test_blink_two_files_selected_in_the_browser(qtbot, window, data_dir):
    """Blink Two Files takes the two files selected in the tree; opening another file ends it."""
    from fits_samples import make_cal

    make_cal(data_dir / "jw_second_cal.fits", detector="NRCA2")
    window.open_path(data_dir)
    qtbot.waitUntil(lambda: window.idle and window.viewer.source is not None, timeout=10000)
    browser = window.browser
    selection = browser.tree.selectionModel()
    selection.clearSelection()
    names = ["jw_nrcb1_cal.fits", "jw_second_cal.fits"]
    for name in names:
        selection.select(browser.model.index(str(data_dir / name)),
                         selection.SelectionFlag.Select | selection.SelectionFlag.Rows)
    shown = set()
    window.viewer.frame_shown.connect(lambda: shown.add(os.path.basename(window.viewer.source.path)))
    window.blink_files_action.trigger()
    qtbot.waitUntil(lambda: window.blink_files_action.isChecked(), timeout=10000)
    window.file_blink.timer.setInterval(60)
    qtbot.waitUntil(lambda: shown >= set(names), timeout=10000)
    _open(qtbot, window, data_dir / "jw_nrca1_uncal.fits")
    assert not window.blink_files_action.isChecked() and not window.file_blink.timer.isActive()
