"""The Studies page: the core studies run on the current result and their figures shown."""

from __future__ import annotations

import pytest

from gain_gui_helpers import options_for

from nircam_gui.core.gain.run import GainOptions, run_gain
from nircam_gui.gui.gain.studies_view import StudiesView
from nircam_gui.gui.workers import TaskRunner


@pytest.fixture
def view(qtbot, flats):
    if not StudiesView.available():
        pytest.skip("core.gain.studies is not available")
    refs = options_for(flats)
    result = run_gain(flats.ramps, GainOptions(box=64, regions=str(flats.regions), ipc="none",
                                               superbias=refs["SUPERBIAS"], mask=refs["MASK"]))
    runner = TaskRunner(max_threads=1)
    v = StudiesView(runner)
    qtbot.addWidget(v)
    v.set_result(result)
    yield v
    runner.shutdown(30)


def test_signal_limit_study(qtbot, view):
    assert view.run_button.isEnabled()
    view.limits_edit.setText("5000, 10000")
    with qtbot.waitSignal(view.study_done, timeout=60000):
        view.run_signal_limit()
    assert view.figure.pixmap() is not None and not view.figure.pixmap().isNull()
    view.show()
    qtbot.waitExposed(view)
    # the picture is laid out at its size (a word-wrapping label would squash it to its text)
    assert view.figure.height() >= view.figure.pixmap().height()
    assert "5000" in view.text.text() and "10000" in view.text.text()


def test_box_size_study_with_an_exported_run(qtbot, view, flats, tmp_path):
    from nircam_gui.cli.gain import main

    refs = options_for(flats)
    assert main([*map(str, flats.ramps), "-o", str(tmp_path / "runs" / "box128"), "--box", "128", "--regions",
                 str(flats.regions), "--ipc", "none", "--superbias", refs["SUPERBIAS"], "--mask", refs["MASK"],
                 "--no-figures", "-q"]) == 0
    with qtbot.waitSignal(view.study_done, timeout=60000):
        view.run_box_size([str(tmp_path / "runs")])
    assert not view.figure.pixmap().isNull()
    text = view.text.text()
    assert "64" in text and "128" in text
    # a folder without runs: a message, not a traceback
    (tmp_path / "empty").mkdir()
    with qtbot.waitSignal(view.study_done, timeout=60000):
        view.run_box_size([str(tmp_path / "empty")])
    assert "at least two box sizes" in view.text.text()
