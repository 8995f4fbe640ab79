"""The GUI answers bad input as the command line does: one message naming the file, no traceback."""

from __future__ import annotations

import os

import pytest

pytest.importorskip("pytestqt")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from .cases import gain_case, skyflat_case  # noqa: E402


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("NIRCAM_GUI_SETTINGS", str(tmp_path / "settings.ini"))
    monkeypatch.setenv("NIRCAM_GUI_DATA", str(tmp_path / "data"))
    from nircam_gui.gui.main_window import MainWindow
    from nircam_gui.gui.settings import Settings

    win = MainWindow(settings=Settings(tmp_path / "settings.ini"), restore_layout=False, modal_errors=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    qtbot.waitUntil(lambda: win.idle, timeout=60_000)
    win.close()


@pytest.mark.parametrize("name", ["not_fits", "empty_file", "truncated_data", "truncated_header", "sci_5d",
                                  "bad_header_number"])
def test_opening_a_bad_ramp_names_the_file(qtbot, window, tmp_path, name, flats, flats_b1, flats_64, cals):
    case = gain_case(name, tmp_path, flats, flats_b1, flats_64, cals)
    with qtbot.waitSignal(window.error, timeout=30_000) as err:
        window.open_path(case.blame)
    message = err.args[0]
    assert message.startswith(f"{os.path.abspath(case.blame)}: ") or message.startswith(f"{case.blame}: ")
    assert "Traceback" not in message and "\n" not in message
    if name not in ("sci_5d",):  # the viewer shows any image it can; the reason is the reader's
        assert case.words in message


@pytest.mark.parametrize("name", ["truncated", "all_nan"])
def test_opening_a_bad_cal_image_names_the_file(qtbot, window, tmp_path, name, flats, cals):
    case = skyflat_case(name, tmp_path, flats, cals)
    if name == "all_nan":  # a valid file whose data are all NaN: shown, not an error
        window.open_path(case.blame)
        qtbot.waitUntil(lambda: window.viewer.source is not None and window.idle, timeout=30_000)
        assert window.last_error == ""
        return
    with qtbot.waitSignal(window.error, timeout=30_000) as err:
        window.open_path(case.blame)
    assert err.args[0].startswith(f"{case.blame}: ") and case.words in err.args[0]


def test_gain_run_with_a_reference_of_another_detector(qtbot, window, flats, flats_b1):
    panel = window.gain_panel
    panel.run_in_process = False
    panel.setup.set_reference("SUPERBIAS", str(flats_b1.references["SUPERBIAS"]))
    panel.setup.box_combo.setCurrentText("32")
    panel.setup.ipc_combo.setCurrentIndex(panel.setup.ipc_combo.findData("none"))
    panel.set_files([str(p) for p in flats.ramps])
    qtbot.waitUntil(lambda: panel.check is not None and panel.idle and not panel.runner.active, timeout=60_000)
    panel.model.clear()
    with qtbot.waitSignal(window.error, timeout=120_000) as err:
        panel.run()
    assert err.args[0] == (f"{flats_b1.references['SUPERBIAS']}: is a SUPERBIAS reference file for NRCB1, "
                           "but the ramps are from NRCB4")
