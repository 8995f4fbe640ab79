"""The Gain tab end to end on small simulated ramps: set-up, regions drawn with the mouse,
a run, clicking boxes, the PTC panel, results, export, and identity with ``nircam-gain``."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from gain_gui_helpers import options_for, wait_idle

from nircam_gui.core.gain.run import run_gain
from nircam_gui.gui.gain.ptc_plot import ptc_points


def view_point(panel, x: float, y: float) -> QPoint:
    """Viewport position of 0-based region coordinates (pixel centres at integers)."""
    p = panel.editor.to_screen(x, y)
    return QPoint(round(p.x()), round(p.y()))


def click(qtbot, panel, x, y, button=Qt.MouseButton.LeftButton, modifier=Qt.KeyboardModifier.NoModifier):
    qtbot.mouseClick(panel.canvas.viewport(), button, modifier, view_point(panel, x, y))


def drag(panel, points, button=Qt.MouseButton.LeftButton):
    """Press at the first point, move through the others with the button held, release at the last."""
    port = panel.canvas.viewport()

    def send(kind, pt, buttons):
        pos = QPointF(view_point(panel, *pt))
        QApplication.sendEvent(port, QMouseEvent(kind, pos, port.mapToGlobal(pos), button, buttons,
                                                 Qt.KeyboardModifier.NoModifier))

    send(QEvent.Type.MouseButtonPress, points[0], button)
    for pt in points[1:]:
        send(QEvent.Type.MouseMove, pt, button)
    send(QEvent.Type.MouseButtonRelease, points[-1], Qt.MouseButton.NoButton)


@pytest.fixture
def ready(qtbot, panel, flats):
    """The panel with the simulated ramps chosen and their first ramp on screen, no regions."""
    panel.model.clear()
    for reftype, path in options_for(flats).items():
        panel.setup.set_reference(reftype, path)
    panel.setup.box_combo.setCurrentText("64")
    panel.set_files([str(p) for p in flats.ramps])
    qtbot.waitUntil(lambda: panel.check is not None and panel.viewer.frame is not None, timeout=30000)
    panel.model.clear()  # the simulator's region file beside the ramps was loaded: start empty
    wait_idle(qtbot, panel)
    panel.canvas.zoom_fit()
    return panel


def test_pairing_and_signal_check(ready, flats):
    panel = ready
    check = panel.check
    assert [p.number for p in check.pairs] == [1, 2]
    assert len(check.signal) == 4 and all(s > 1000 for s in check.signal)
    assert check.flags == ["ok"] * 4
    tree = panel.setup.tree
    assert tree.topLevelItemCount() == 2 and tree.topLevelItem(0).childCount() == 2
    assert "2 pairs" in panel.setup.pair_status.text()


def test_references_found_beside_the_ramps(qtbot, panel, flats):
    panel.set_files([str(p) for p in flats.ramps])
    wait_idle(qtbot, panel)
    assert panel.setup.references() == options_for(flats)
    assert panel.model.polygons and panel.model.path == str(flats.regions)  # the void file beside them


def test_polygon_drawn_with_the_mouse_saved_and_loaded(qtbot, ready, tmp_path):
    panel = ready
    panel.editor.set_mode("draw")
    corners = [(100.0, 40.0), (160.0, 40.0), (170.0, 100.0), (110.0, 110.0)]
    for x, y in corners:
        click(qtbot, panel, x, y)
    assert len(panel.editor.draft) == 4 and panel.model.polygons == []
    with qtbot.waitSignal(panel.preview_ready, timeout=10000):
        click(qtbot, panel, *corners[0])  # clicking the first vertex closes the polygon
    assert len(panel.model.polygons) == 1
    drawn = panel.model.polygons[0]
    assert np.allclose(drawn, corners, atol=0.75)  # within a screen pixel at this zoom
    # the box grid shows the void boxes at once, before any run
    grid = panel.overlay.grid
    assert "epoxy" in list(grid.table["region"])
    assert panel.overlay.void_lines.getData()[0].size > 0
    path = tmp_path / "drawn.reg"
    assert panel.save_regions(path=str(path)) == str(path)
    assert "polygon(" in path.read_text()
    panel.model.clear()
    assert panel.load_regions(str(path))
    assert np.array_equal(panel.model.polygons[0], drawn)  # exact round trip


def test_double_click_closes_and_freehand_draws(qtbot, ready):
    panel = ready
    panel.editor.set_mode("draw")
    for x, y in [(30.0, 30.0), (60.0, 30.0)]:
        click(qtbot, panel, x, y)
    qtbot.mouseDClick(panel.canvas.viewport(), Qt.MouseButton.LeftButton, pos=view_point(panel, 45.0, 60.0))
    assert len(panel.model.polygons) == 1 and len(panel.model.polygons[0]) == 3
    # a closed polygon returns to Pan: the next click must not start another region
    assert panel.editor.mode == "navigate" and panel.mode_label.text() == "Mode: Pan"
    assert panel.mode_actions["navigate"].isChecked()
    panel.editor.set_mode("draw")
    assert panel.mode_label.text() == "Mode: Draw"
    ring = [(200 + 30 * np.cos(t), 200 + 30 * np.sin(t)) for t in np.linspace(0, 2 * np.pi, 40)]
    drag(panel, ring)
    assert len(panel.model.polygons) == 2
    free = panel.model.polygons[1]
    assert len(free) > 10
    r = np.hypot(free[:, 0] - 200, free[:, 1] - 200)
    assert np.all(np.abs(r - 30) < 1.5)


def test_edit_vertices_regions_and_undo(qtbot, ready):
    panel = ready
    panel.model.add_polygon(np.array([[50.0, 50.0], [150.0, 50.0], [150.0, 150.0], [50.0, 150.0]]))
    panel.editor.set_mode("edit")
    # move a vertex
    drag(panel, [(150.0, 150.0), (160.0, 160.0), (170.0, 175.0)])
    assert np.allclose(panel.model.polygons[0][2], [170, 175], atol=0.75)
    # insert a vertex by double-clicking the middle of the bottom edge
    qtbot.mouseDClick(panel.canvas.viewport(), Qt.MouseButton.LeftButton, pos=view_point(panel, 100.0, 50.0))
    poly = panel.model.polygons[0]
    assert len(poly) == 5 and np.allclose(poly[1], [100, 50], atol=0.75)
    # delete it again with a right click
    click(qtbot, panel, *poly[1], button=Qt.MouseButton.RightButton)
    assert len(panel.model.polygons[0]) == 4
    # move the whole region by dragging inside it
    before = panel.model.polygons[0].copy()
    drag(panel, [(90.0, 90.0), (95.0, 92.0), (100.0, 95.0)])
    assert np.allclose(panel.model.polygons[0] - before, [10, 5], atol=0.75)
    # select and delete the region, then undo everything back to the square
    assert panel.editor.selected == 0
    panel.delete_action.trigger()
    assert panel.model.polygons == []
    for _ in range(5):
        panel.undo_action.trigger()
    assert np.array_equal(panel.model.polygons[0], [[50, 50], [150, 50], [150, 150], [50, 150]])
    panel.redo_action.trigger()
    assert np.allclose(panel.model.polygons[0][2], [170, 175], atol=0.75)


def run_and_wait(qtbot, panel, timeout=120000):
    with qtbot.waitSignal(panel.result_ready, timeout=timeout):
        assert panel.run() is not None
    wait_idle(qtbot, panel)
    return panel.result


def test_run_click_box_plots_the_engine_points(qtbot, ready, flats):
    panel = ready
    assert panel.load_regions(str(flats.regions))
    result = run_and_wait(qtbot, panel)
    assert panel.setup.progress.value() == 1000 and panel.export_button.isEnabled()
    # the same analysis run directly gives the same numbers
    direct = run_gain(flats.ramps, panel.setup.options(str(flats.regions)))
    assert np.array_equal(direct.maps.mean_gain, result.maps.mean_gain, equal_nan=True)
    assert panel.overlay.values is not None and panel.colorbar_widget.isVisible()
    # click in the middle of an epoxy-void box
    table = result.boxes.table
    box = int(table["box_id"][list(table["region"]).index("epoxy")])
    rows, cols = np.nonzero(result.boxes.labels == box)
    i = np.argmin((cols - np.median(cols)) ** 2 + (rows - np.median(rows)) ** 2)
    panel.editor.set_mode("navigate")
    click(qtbot, panel, float(cols[i]), float(rows[i]))
    assert panel.selection == [box]
    slot = panel.ptc._items[0]
    b = box - 1
    used = result.fit.used[:, :, b]
    x, y = slot["used"].getData()
    assert np.array_equal(x, result.ptc.mean[:, :, b][used])
    assert np.array_equal(y, result.ptc.variance[:, :, b][used])
    x, y = slot["unused"].getData()
    assert np.array_equal(x, result.ptc.mean[:, :, b][~used])
    xr, yr = slot["res_used"].getData()
    assert np.array_equal(yr, result.fit.residuals[:, :, b][used])
    # fit lines: one per pair, over the full signal range, from the engine's slope and intercept
    fx, fy = slot["fit"].getData()
    for p in range(len(result.pairs)):
        pts = ptc_points(result, box, p)
        assert fx[2 * p] == 0 and fx[2 * p + 1] >= np.nanmax(result.ptc.mean[:, :, b])
        assert np.isclose(fy[2 * p], pts["intercept"]) and np.isclose(
            fy[2 * p + 1], pts["intercept"] + pts["slope"] * fx[2 * p + 1])
    assert f"box {box}" in panel.ptc.text.text() and f"{result.maps.mean_gain[b]:.4f}" in panel.ptc.text.text()
    # one pair only
    panel.ptc.pair_combo.setCurrentIndex(2)
    x, _ = panel.ptc._items[0]["used"].getData()
    assert np.array_equal(x, result.ptc.mean[1, :, b][used[1]])
    # Ctrl+click adds a second box to compare
    other = int(table["box_id"][list(table["region"]).index("normal")])
    r2, c2 = np.nonzero(result.boxes.labels == other)
    click(qtbot, panel, float(np.median(c2)), float(np.median(r2)), modifier=Qt.KeyboardModifier.ControlModifier)
    if panel.selection[-1] == other:  # the median pixel of an irregular box may fall outside it
        assert panel.selection == [box, other]
        assert panel.ptc._items[1]["used"].getData()[0].size > 0
    # hover names the box and its gain
    panel._hovered((int(cols[i]), int(rows[i])))
    text = panel.hover_label.text()
    assert f"box {box}" in text and "epoxy" in text and f"{result.maps.mean_gain[b]:.4f}" in text
    # results: tables and maps
    assert panel.sectors_view.full.table.rowCount() == len(result.sectors)
    full = panel.sectors_view.full.table
    assert any(full.horizontalHeaderItem(j).text().startswith("gain_apparent") for j in range(full.columnCount()))
    summary = panel.sectors_view.summary.table
    headers = [summary.horizontalHeaderItem(j).text() for j in range(summary.columnCount())]
    assert headers[:5] == ["detector", "sector 1", "sector 2", "sector 3", "sector 4"]
    assert any("epoxy void" in h for h in headers)
    epoxy = [r for r in result.sectors if r["region"] == "epoxy"][0]
    col = headers.index(f"sector {int(epoxy['amp'])} epoxy void")
    assert summary.item(0, col).text() == f"{epoxy['gain']:.3f} ± {epoxy['box_gain_err']:.3f}"
    assert panel.pairs_view.table.rowCount() == 2
    assert panel.maps_view.combo.count() == 1 + 2 + 2
    # a region edit after the run shows the new grid without the old colours
    with qtbot.waitSignal(panel.preview_ready, timeout=10000):
        panel.model.delete_polygon(0)
    assert panel.overlay.values is None and "epoxy" not in list(panel.overlay.grid.table["region"])


def test_cancel_keeps_nothing_and_reenables(qtbot, ready):
    panel = ready
    worker = panel.run()
    assert worker is not None and not panel.setup.run_button.isEnabled()
    with qtbot.waitSignal(worker.finished, timeout=60000):
        panel.cancel()
    wait_idle(qtbot, panel)
    assert panel.result is None and panel.setup.run_button.isEnabled()


def test_errors_name_the_file(qtbot, panel, tmp_path):
    from fits_samples import make_cal

    cal = tmp_path / "jw_nrcb1_cal.fits"
    make_cal(cal)
    with qtbot.waitSignal(panel.error, timeout=20000) as blocker:
        panel.set_files([str(cal)])
    assert blocker.args[0].startswith(str(cal)) and "Traceback" not in blocker.args[0]
    with qtbot.waitSignal(panel.error, timeout=5000) as blocker:
        panel.load_regions(str(tmp_path / "missing.reg"))
    assert "missing.reg" in blocker.args[0]
    wait_idle(qtbot, panel)


def test_settings_are_remembered(qtbot, ready, settings, flats):
    from nircam_gui.gui.gain.panel import GainPanel

    panel = ready
    panel.setup.box_combo.setCurrentText("128")
    panel.setup.limit_spin.setValue(6000)
    panel.setup.ipc_combo.setCurrentIndex(panel.setup.ipc_combo.findData("exact"))
    panel.setup.first_combo.setCurrentIndex(panel.setup.first_combo.findData("keep"))
    wait_idle(qtbot, panel)
    again = GainPanel(panel.runner, settings)
    qtbot.addWidget(again)
    opts = again.setup.options(None)
    assert (opts.box, opts.signal_limit, opts.ipc, opts.first_pair) == (128, 6000, "exact", "keep")
    assert opts.superbias == str(flats.references["SUPERBIAS"])
    assert again.setup.files == [str(p) for p in flats.ramps]
    qtbot.waitUntil(lambda: again.idle and not again.runner.active, timeout=30000)


def test_gui_export_equals_command_line(qtbot, ready, flats, tmp_path):
    """A GUI run (child process, as in use) and ``nircam-gain`` with the same settings agree exactly."""
    from nircam_gui.cli.gain import main

    panel = ready
    panel.run_in_process = True
    # regions through the editor: loaded, saved by the GUI, and that file used by the run
    assert panel.load_regions(str(flats.regions))
    saved = panel.save_regions(path=str(tmp_path / "gui_voids.reg"))
    result = run_and_wait(qtbot, panel, timeout=180000)
    assert result.options.regions == saved
    gui_dir, cli_dir = tmp_path / "gui", tmp_path / "cli"
    with qtbot.waitSignal(panel.exported, timeout=180000) as blocker:
        panel.export_to(str(gui_dir))
    paths = blocker.args[0]
    for name in ("gain_map", "boxes", "sectors", "pairs", "ptc_points", "regions", "gain_map_png", "gain_map_pdf",
                 "ptc_examples_pdf"):
        assert name in paths, name
    refs = flats.references
    argv = [*map(str, flats.ramps), "-o", str(cli_dir), "--box", "64", "--regions", str(flats.regions),
            "--ipc", "deconvolve", "--ipc-kernel", str(refs["IPC"]), "--superbias", str(refs["SUPERBIAS"]),
            "--linearity", str(refs["LINEARITY"]), "--saturation", str(refs["SATURATION"]),
            "--mask", str(refs["MASK"]), "--first-pair", "auto", "-q"]
    assert main(argv) == 0
    for name, ext in (("gain_map", "SCI"), ("gain_map_ipc_corrected", "SCI"), ("gain_mask", "DQ")):
        a = fits.getdata(gui_dir / f"{name}.fits", ext)
        b = fits.getdata(cli_dir / f"{name}.fits", ext)
        assert np.array_equal(a, b, equal_nan=True), name
    for name in ("boxes", "sectors", "pairs"):
        a, b = Table.read(gui_dir / f"{name}.ecsv"), Table.read(cli_dir / f"{name}.ecsv")
        assert a.colnames == b.colnames and len(a) == len(b)
        for c in a.colnames:
            if a[c].dtype.kind == "f":
                assert np.array_equal(a[c], b[c], equal_nan=True), (name, c)
            elif not c.startswith("file"):
                assert list(a[c]) == list(b[c]), (name, c)
    pa, pb = Table.read(gui_dir / "ptc_points.fits"), Table.read(cli_dir / "ptc_points.fits")
    for c in pa.colnames:
        assert np.array_equal(pa[c], pb[c], equal_nan=True), c
    from nircam_gui.core.regionsio import read_polygons

    for a, b in zip(read_polygons(gui_dir / "epoxy_voids.reg"), read_polygons(flats.regions)):
        assert np.array_equal(a, b)


def test_main_window_has_the_gain_tab(window):
    from nircam_gui.gui.gain.panel import GainPanel

    assert isinstance(window.analysis_panels["Gain"], GainPanel)
    assert window.tabs.tabText(window.tabs.indexOf(window.gain_panel)) == "Gain"


def test_enter_closes_and_a_crash_loses_nothing(qtbot, ready, settings):
    """Regions are autosaved on every edit; a new panel (after a crash) shows them again."""
    from nircam_gui.gui.gain.panel import GainPanel, autosave_path

    panel = ready
    panel.editor.set_mode("draw")
    for x, y in [(20.0, 200.0), (80.0, 200.0), (50.0, 240.0)]:
        click(qtbot, panel, x, y)
    panel.canvas.setFocus()
    qtbot.keyClick(panel.canvas, Qt.Key.Key_Return)
    assert len(panel.model.polygons) == 1 and panel.model.modified
    assert autosave_path().exists()
    drawn = panel.model.polygons[0].copy()
    # no save, no clean close: a second panel starts from the autosave
    again = GainPanel(panel.runner, settings)
    qtbot.addWidget(again)
    assert len(again.model.polygons) == 1 and np.array_equal(again.model.polygons[0], drawn)
    qtbot.waitUntil(lambda: again.idle and not again.runner.active, timeout=30000)
