"""The Sky flat tab draws the additive light core returned: template, rejected pixels, amplitudes."""

import numpy as np

from skyflat_gui_helpers import load_and_run, wait_idle
from nircam_gui.core.skyflat.additive import AdditiveResult
from nircam_gui.gui.skyflat.additive_view import AdditiveView, additive_summary
from nircam_gui.gui.skyflat.detector_view import ADDITIVE


def _result(detected=True):
    n = 6
    return AdditiveResult(files=[f"/d/img{i}_cal.fits" for i in range(n)], filters=["F150W", "F200W"] * 3,
                          template=np.zeros((64, 64), np.float32), amplitudes=np.linspace(0.03, 0.09, n),
                          amplitude_errors=np.full(n, 0.001), norm=np.ones(n), zero_points={"F150W": 0.05},
                          flagged=np.array([False, True, False, False, False, False]), flagged_blocks=[0, 5, 0, 0, 0, 0],
                          flagged_count=np.zeros((64, 64), np.int16), detected=detected, z=120.0, bin=8,
                          source="fitted")


def test_amplitudes_are_plotted_per_filter_with_claw_images_marked(qtbot):
    view = AdditiveView()
    qtbot.addWidget(view)
    view.set_additive(_result())
    assert view.n_points == 6
    assert "applied" in view.note.text() and "1 image(s)" in view.note.text()
    names = [item.name() for item in view.plot.getPlotItem().listDataItems()]
    assert names == ["F150W", "F200W", "claws rejected"]
    assert "No significant" in additive_summary(_result(detected=False))
    view.set_additive(None)
    assert view.n_points == 0 and "not separated" in view.note.text()


def test_the_run_shows_the_additive_view(qtbot, tabs, sim_set):
    window, sky, dead = tabs
    result = load_and_run(qtbot, window, sky, sim_set, predictions=False)
    window.show_tab("skyflat")
    view = sky.detector_view
    assert ADDITIVE in view.views()
    view.show_view("Additive")
    wait_idle(qtbot, window)
    add = result.detectors[view.detector_combo.currentText()].additive
    assert [s.title for s in view.grid.specs][0].startswith("additive template")
    assert view.grid.specs[0].image is add.template
    assert view.additive_view.isVisibleTo(view) and view.additive_view.n_points == len(add.files)
    view.show_view("Overview")
    assert not view.additive_view.isVisibleTo(view)
    # the option is the schema's, shown and set in the setup form
    assert sky.setup.additive_combo.currentText() == "separate"
    sky.setup.additive_combo.setCurrentText("plain")
    assert sky.session.setup.options.additive == "plain"
