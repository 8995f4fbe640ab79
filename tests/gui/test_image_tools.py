"""Image-tab tools: DQ overlay with its legend, blink between integrations, DS9 regions, header search."""

from __future__ import annotations

import numpy as np
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
