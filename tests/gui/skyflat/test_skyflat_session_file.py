"""A saved session brings the last sky-flat result back without a run: the Sky-flat tab shows it,
the dead-pixel threshold and detector are the saved ones, and Export from the restored result
writes the same products as from the original."""

from __future__ import annotations

import os

import numpy as np
from astropy.io import fits
from skyflat_gui_helpers import load_and_run, wait_idle


def test_skyflat_session_round_trip(qtbot, tabs, sim_set, tmp_path):
    from nircam_gui.gui.main_window import MainWindow
    from nircam_gui.gui.settings import Settings

    window, sky, dead = tabs
    result = load_and_run(qtbot, window, sky, sim_set)
    dead.set_threshold(0.7)
    sky.session.view.detector = "NRCALONG"
    view = sky.detector_view
    view.detector_combo.setCurrentText("NRCALONG")
    view.show_view("Overview")
    mask_of = view.mask_combo.itemData(2)
    view.show_mask_of(mask_of)
    with qtbot.waitSignal(sky.session.exported, timeout=60_000):
        sky.session.export(str(tmp_path / "before"))
    wait_idle(qtbot, window)
    path = window.save_session(str(tmp_path / "sky"))
    assert path.endswith(".ncsession")

    other = MainWindow(settings=Settings(tmp_path / "other.ini"), restore_layout=False, modal_errors=False)
    qtbot.addWidget(other)
    other.show()
    started = []
    other.runner.task_started.connect(lambda w: started.append(w.name))
    osky = other.analysis_panels["Sky flat"]
    assert other.open_session(path)
    wait_idle(qtbot, other)
    assert "Sky flats" not in started and "Indexing dead pixels" not in started
    restored = osky.session.result
    assert restored is not None and set(restored.detectors) == set(result.detectors)
    assert osky.session.view.threshold == 0.7 and osky.session.view.detector == "NRCALONG"
    # the Flats page shows what it showed, the chosen image's source mask over the panels
    oview = osky.detector_view
    assert oview.detector_combo.currentText() == "NRCALONG"
    assert oview.view_combo.currentText().startswith("Overview")
    assert oview.mask_combo.currentData() == mask_of
    np.testing.assert_array_equal(oview.grid._overlay, view.grid._overlay)
    assert oview.grid._overlay.any()
    # the progress row says where the result comes from, not that a run finished just now
    assert osky.setup.progress_label.text() == "restored from sky.ncsession"
    assert osky.session.dead_counts() == sky.session.dead_counts()
    for det, d in result.detectors.items():
        r = restored.detectors[det]
        np.testing.assert_array_equal(r.grey, d.grey)
        assert sorted(r.flats) == sorted(d.flats)
        for token, flat in d.flats.items():
            np.testing.assert_array_equal(r.flats[token].data, flat.data)
        for token, delta in d.filter_deltas.items():
            np.testing.assert_array_equal(r.filter_deltas[token].filtdiff, delta.filtdiff)
    with qtbot.waitSignal(osky.session.exported, timeout=60_000):
        osky.session.export(str(tmp_path / "after"))
    wait_idle(qtbot, other)
    names = sorted(os.listdir(tmp_path / "before"))
    assert names == sorted(os.listdir(tmp_path / "after"))
    for name in (n for n in names if n.endswith(".fits")):
        with fits.open(tmp_path / "before" / name) as a, fits.open(tmp_path / "after" / name) as b:
            for x, y in zip(a, b):
                if x.is_image and x.data is not None:
                    assert np.array_equal(x.data, y.data, equal_nan=True), (name, x.name)
    other.close()
