"""The main window: browser, opening, errors, settings, drag and drop, closing during a run."""

from __future__ import annotations

import os
import sys
import time
import types
from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication

from nircam_gui.core.errors import NircamFileError
from nircam_gui.core.progress import Reporter
from nircam_gui.gui.main_window import MainWindow


def wait_idle(qtbot, window, timeout=10000):
    qtbot.waitUntil(lambda: window.idle, timeout=timeout)


def test_window_opens_with_docks_tabs_and_menus(window):
    assert window.isVisible()
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert titles == ["Image", "Gain", "Sky flat", "Dead pixels"]
    for title in ("Gain", "Sky flat", "Dead pixels"):  # every analysis has its panel
        assert window.tabs.indexOf(window.analysis_panels[title]) == titles.index(title)
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert menus == ["File", "View", "Frame", "Tasks", "Help"]
    for dock in (window.files_dock, window.display_dock, window.log_dock):
        assert dock.isVisible() and dock.objectName()


def test_open_folder_shows_fits_with_summaries_and_first_file(qtbot, window, data_dir):
    with qtbot.waitSignal(window.viewer.loaded, timeout=10000) as loaded:
        window.open_path(data_dir)
    assert loaded.args[0] == str(data_dir / "jw_nrca1_uncal.fits")  # ramps first
    wait_idle(qtbot, window)
    model, tree = window.browser.model, window.browser.tree
    root = tree.rootIndex()
    names = sorted(model.fileName(model.index(r, 0, root)) for r in range(model.rowCount(root)))
    assert names == ["broken.fits", "jw_nrca1_uncal.fits", "jw_nrcb1_cal.fits"]  # no .txt
    summaries = {}
    for r in range(model.rowCount(root)):
        name = model.fileName(model.index(r, 0, root))
        summaries[name] = model.data(model.index(r, model.SUMMARY_COLUMN, root))
    assert summaries["jw_nrca1_uncal.fits"] == "NRCA1  uncal  2x5 groups  64x64  F200W"
    assert summaries["jw_nrcb1_cal.fits"].startswith("NRCB1  cal")
    assert summaries["broken.fits"].startswith("unreadable")
    assert window.windowTitle().startswith("jw_nrca1_uncal.fits")


def test_browser_click_selects_and_enter_opens_without_moving_the_tree(qtbot, window, data_dir):
    window.open_path(data_dir)
    wait_idle(qtbot, window)
    window.show_tab("gain")
    browser = window.browser
    index = browser.model.index(str(data_dir / "jw_nrcb1_cal.fits"))
    # a click (current index) only selects: nothing opens, the tab stays
    opened = []
    window.viewer.loaded.connect(opened.append)
    browser.tree.setCurrentIndex(index)
    qtbot.wait(400)
    assert not opened and window.tabs.currentWidget() is window.gain_panel
    # Enter (activation) opens it in the Image tab; the tree keeps its root
    browser.tree.setFocus()
    with qtbot.waitSignal(window.viewer.loaded, timeout=5000) as loaded:
        qtbot.keyClick(browser.tree, Qt.Key.Key_Return)
    assert loaded.args[0].endswith("jw_nrcb1_cal.fits")
    assert window.tabs.currentWidget() is window.viewer
    assert browser.folder == str(data_dir)


def test_browser_multi_selection_goes_to_an_analysis(qtbot, window, data_dir, tmp_path):
    from fits_samples import make_uncal

    for k in (2, 3):
        make_uncal(data_dir / f"jw_nrca1_{k}_uncal.fits")
    window.open_path(data_dir)
    wait_idle(qtbot, window)
    browser = window.browser
    selection = browser.tree.selectionModel()
    names = ["jw_nrca1_uncal.fits", "jw_nrca1_2_uncal.fits", "jw_nrca1_3_uncal.fits"]
    selection.clearSelection()
    for name in names:
        selection.select(browser.model.index(str(data_dir / name)),
                         selection.SelectionFlag.Select | selection.SelectionFlag.Rows)
    assert sorted(os.path.basename(p) for p in browser.selected_paths()) == sorted(names)
    browser.request_add("gain")
    assert window.tabs.currentWidget() is window.gain_panel
    assert sorted(os.path.basename(p) for p in window.gain_panel.setup.files) == sorted(names)
    wait_idle(qtbot, window)


def test_errors_name_the_file_without_traceback(qtbot, window, data_dir):
    with qtbot.waitSignal(window.error, timeout=5000) as err:
        window.open_path(data_dir / "broken.fits")
    message = err.args[0]
    assert message.startswith(str(data_dir / "broken.fits") + ": not a readable FITS file")
    assert message in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: message in window.log_panel.messages(), timeout=2000)
    assert window.log_panel.messages().count(message) == 1
    assert "Traceback" not in window.log_panel.messages()
    with qtbot.waitSignal(window.error, timeout=5000) as err:
        window.open_path(data_dir / "missing.fits")
    assert err.args[0] == f"{data_dir / 'missing.fits'}: no such file or folder"


def test_error_message_box_is_not_blocking(qtbot, settings, data_dir):
    win = MainWindow(settings=settings, restore_layout=False, modal_errors=True)
    qtbot.addWidget(win)
    win.show()
    win.show_error(f"{data_dir}/x.fits: something is wrong")
    boxes = [w for w in QApplication.topLevelWidgets() if w.isVisible() and w.windowTitle() == "NIRCam GUI"
             and w is not win]
    assert boxes and "something is wrong" in boxes[0].text()
    for box in boxes:
        box.close()
    win.close()


def test_recent_files_and_layout_are_remembered(qtbot, settings, data_dir):
    first = MainWindow(settings=settings, restore_layout=True, modal_errors=False)
    qtbot.addWidget(first)
    first.show()
    with qtbot.waitSignal(first.viewer.loaded, timeout=10000):
        first.open_path(data_dir / "jw_nrcb1_cal.fits")
    first.viewer.set_state(colormap="viridis", scaling="sqrt", limits="99%")
    first.log_dock.hide()
    first.resize(1111, 777)
    wait_idle(qtbot, first)
    first.close()

    second = MainWindow(settings=settings, restore_layout=True, modal_errors=False)
    qtbot.addWidget(second)
    second.show()
    assert settings.recent()[0] == str(data_dir / "jw_nrcb1_cal.fits")
    recent = [a.toolTip() for a in second.recent_menu.actions() if a.toolTip()]
    assert recent[0] == str(data_dir / "jw_nrcb1_cal.fits")
    s = second.viewer.state
    assert (s.colormap, s.scaling, s.limits) == ("viridis", "sqrt", "99%")
    assert second.colormap_actions["viridis"].isChecked()
    assert not second.log_dock.isVisible()
    assert settings.geometry("window/geometry") is not None
    assert second.browser.folder == str(data_dir)
    second.close()


def test_drop_a_file_opens_it(qtbot, window, data_dir):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(data_dir / "jw_nrcb1_cal.fits"))])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.viewer.loaded, timeout=5000) as loaded:
        window.dropEvent(event)
    assert loaded.args[0].endswith("jw_nrcb1_cal.fits")
    assert window.browser.folder == str(data_dir)

    text_only = QMimeData()
    text_only.setUrls([QUrl.fromLocalFile(str(data_dir / "notes.txt"))])
    from nircam_gui.gui.main_window import _dropped_paths

    assert _dropped_paths(text_only) == []


def test_keyboard_steps_through_groups(qtbot, window, data_dir):
    with qtbot.waitSignal(window.viewer.loaded, timeout=10000):
        window.open_path(data_dir / "jw_nrca1_uncal.fits")
    window.activateWindow()
    window.viewer.canvas.setFocus()
    qtbot.keyClick(window.viewer.canvas, Qt.Key.Key_BracketLeft)
    qtbot.waitUntil(lambda: window.viewer.frame.group == 3 and not window.viewer.busy, timeout=5000)
    qtbot.keyClick(window.viewer.canvas, Qt.Key.Key_D)
    qtbot.waitUntil(lambda: window.viewer.frame.difference and not window.viewer.busy, timeout=5000)
    assert window.difference_action.isChecked()


def slow_task(progress=None, cancel=None):
    rep = Reporter(100_000, progress, cancel)
    for _ in range(100_000):
        time.sleep(0.002)
        rep.step("working")


def test_progress_and_cancel_from_the_log_panel(qtbot, window):
    worker = window.runner.run(slow_task, name="Slow task")
    qtbot.waitUntil(lambda: window.log_panel.progress.value() > 0, timeout=5000)
    assert window.log_panel.cancel_button.isEnabled()
    assert window.log_panel.task_label.text() == "Slow task"
    with qtbot.waitSignal(worker.aborted, timeout=3000):
        qtbot.mouseClick(window.log_panel.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.log_panel.cancel_button.isEnabled(), timeout=3000)
    assert window.log_panel.task_label.text() == "Idle"


def test_closing_during_a_run_stops_the_worker(qtbot, settings):
    win = MainWindow(settings=settings, restore_layout=False, modal_errors=False)
    qtbot.addWidget(win)
    win.show()
    worker = win.runner.run(slow_task, name="Slow task")
    qtbot.waitUntil(lambda: worker.is_running, timeout=3000)
    t0 = time.monotonic()
    win.close()
    assert time.monotonic() - t0 < 5
    assert worker.wait(0) and worker.is_cancelled()
    assert win.runner.pool.activeThreadCount() == 0


def test_demo_is_made_in_the_background_then_opened(qtbot, window, tmp_path, monkeypatch):
    from fits_samples import make_cal, make_uncal

    calls = []

    def fake_make_demo_dataset(folder, progress=None, cancel=None):
        calls.append(folder)
        if (Path(folder) / "flats").exists():
            return Path(folder)
        rep = Reporter(5, progress, cancel)
        (Path(folder) / "flats").mkdir()
        (Path(folder) / "images").mkdir()
        make_uncal(Path(folder) / "flats" / "demo_uncal.fits")
        for i in range(4):
            time.sleep(0.02)
            make_cal(Path(folder) / "images" / f"demo_{i}_cal.fits")
            rep.step(f"image {i + 1}")
        return Path(folder)

    fake = types.ModuleType("nircam_gui.core.simulate.demo")
    fake.make_demo_dataset = fake_make_demo_dataset
    monkeypatch.setitem(sys.modules, "nircam_gui.core.simulate.demo", fake)
    monkeypatch.setattr(window, "demo_in_process", False)  # the fake lives in this process
    folder = tmp_path / "demo"
    with qtbot.waitSignal(window.viewer.loaded, timeout=10000) as loaded:
        window.open_demo(folder)
    # the folder is shown with its subfolders; the first ramp is opened from flats/
    assert loaded.args[0] == str(folder / "flats" / "demo_uncal.fits")
    assert window.browser.folder == str(folder)
    wait_idle(qtbot, window)
    with qtbot.waitSignal(window.viewer.loaded, timeout=10000):
        window.open_demo(folder)  # a second time: opened, not remade
    assert len(calls) == 2


def test_demo_errors_are_reported(qtbot, window, tmp_path, monkeypatch):
    fake = types.ModuleType("nircam_gui.core.simulate.demo")

    def broken(folder, progress=None, cancel=None):
        raise NircamFileError(folder, "disk full")

    fake.make_demo_dataset = broken
    monkeypatch.setitem(sys.modules, "nircam_gui.core.simulate.demo", fake)
    monkeypatch.setattr(window, "demo_in_process", False)
    with qtbot.waitSignal(window.error, timeout=5000) as err:
        window.open_demo(tmp_path / "demo")
    assert err.args[0] == f"{tmp_path / 'demo'}: disk full"


def test_header_dialog_shows_all_headers(qtbot, window, data_dir):
    from PySide6.QtWidgets import QDialog, QPlainTextEdit

    with qtbot.waitSignal(window.viewer.loaded, timeout=10000):
        window.open_path(data_dir / "jw_nrcb1_cal.fits")
    window.show_header()
    dialogs = [w for w in window.findChildren(QDialog) if w.isVisible()]
    assert len(dialogs) == 1
    text = dialogs[0].findChild(QPlainTextEdit).toPlainText()
    assert "DETECTOR= 'NRCB1" in text and "HDU 3: DQ" in text
    dialogs[0].close()


def test_folder_without_fits_at_top_opens_from_subfolders(qtbot, window, tmp_path):
    from fits_samples import make_cal

    (tmp_path / "b_images").mkdir()
    (tmp_path / "a_empty").mkdir()
    make_cal(tmp_path / "b_images" / "x_cal.fits")
    with qtbot.waitSignal(window.viewer.loaded, timeout=10000) as loaded:
        window.open_path(tmp_path)
    assert loaded.args[0] == str(tmp_path / "b_images" / "x_cal.fits")
    assert window.browser.folder == str(tmp_path)
