"""Sessions round trip: inputs, regions, options, display and the last gain result come back
without a new run; damaged or foreign files are refused with a message."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from nircam_gui.core.gain.run import GainOptions
from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats
from nircam_gui.gui.gain.tasks import run_analysis


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    return simulate_flats(tmp_path_factory.mktemp("session_flats"),
                          FlatSimConfig(detector="NRCB1", size=128, nints=4, ngroups=5, seed=9))


def _new_window(qtbot, tmp_path, name):
    from nircam_gui.gui.main_window import MainWindow
    from nircam_gui.gui.settings import Settings

    w = MainWindow(settings=Settings(tmp_path / f"{name}.ini"), restore_layout=False, modal_errors=False)
    qtbot.addWidget(w)
    w.show()
    return w


def test_session_round_trip(qtbot, tmp_path, sim):
    from nircam_gui.core.regionsio import write_polygons

    a = _new_window(qtbot, tmp_path, "a")
    files = [str(p) for p in sim.ramps]
    a.gain_panel.setup.set_reference("SUPERBIAS", str(sim.references["SUPERBIAS"]))
    a.gain_panel.setup.box_combo.setCurrentText("32")
    a.gain_panel.set_files(files)
    qtbot.waitUntil(lambda: len(a.gain_panel.model.polygons) == 1, timeout=30000)  # the file beside the ramps
    a.gain_panel.model.move_vertex(0, 0, *(a.gain_panel.model.polygons[0][0] + [3.0, -2.0]))  # an edit
    saved_polygons = [p.copy() for p in a.gain_panel.model.polygons]
    reg = tmp_path / "edited.reg"
    write_polygons(reg, saved_polygons)
    result, geometry = run_analysis(files, GainOptions(box=32, regions=str(reg), ipc="none"))
    a.gain_panel.set_result(result, geometry, saved_polygons)
    a.gain_panel.select_boxes([3, 5])
    a.viewer.set_state(colormap="viridis", scaling="asinh")
    qtbot.waitUntil(lambda: a.idle and a.gain_panel.idle, timeout=30000)
    path = a.save_session(str(tmp_path / "work"))
    assert path.endswith("work.ncsession")
    with zipfile.ZipFile(path) as z:
        assert {"session.json", "gain_result.pickle"} <= set(z.namelist())

    b = _new_window(qtbot, tmp_path, "b")
    started = []
    b.runner.task_started.connect(lambda w: started.append(w.name))
    assert b.open_session(path)
    panel = b.gain_panel
    assert panel.setup.files == files
    assert panel.setup.references()["SUPERBIAS"] == str(sim.references["SUPERBIAS"])
    assert panel.setup.box_combo.currentText() == "32"
    assert len(panel.model.polygons) == 1
    for got, want in zip(panel.model.polygons, saved_polygons):
        np.testing.assert_allclose(got, want)
    # the result is the saved one, shown without a run
    assert "Gain analysis" not in started
    np.testing.assert_array_equal(panel.result.maps.mean_gain, result.maps.mean_gain)
    assert panel.export_button.isEnabled() and panel.selection == [3, 5]
    assert panel.setup.progress.format() == "restored from work.ncsession"
    assert b.viewer.state.colormap == "viridis" and b.viewer.state.scaling == "asinh"
    qtbot.waitUntil(lambda: b.idle and panel.idle, timeout=30000)
    a.close()
    b.close()


def test_bad_session_files_are_refused(qtbot, tmp_path):
    w = _new_window(qtbot, tmp_path, "c")
    errors = []
    w.error.connect(errors.append)
    junk = tmp_path / "junk.ncsession"
    junk.write_text("not a zip")
    assert not w.open_session(str(junk))
    assert errors[-1].startswith(str(junk)) and "damaged session file" in errors[-1]
    other = tmp_path / "other.ncsession"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("session.json", '{"format": "something else"}')
    assert not w.open_session(str(other)) and "not a nircam-gui session file" in errors[-1]
    w.close()
