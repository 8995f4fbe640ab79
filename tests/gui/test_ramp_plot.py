"""The up-the-ramp plot shows the pixel's values from the reader, with the reference lines."""

from __future__ import annotations

import numpy as np
import pytest

from nircam_gui.core.readers import open_ramp, open_reference
from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats
from nircam_gui.gui.ramp_plot import RampPlot


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    return simulate_flats(tmp_path_factory.mktemp("ramp_plot"),
                          FlatSimConfig(detector="NRCB1", size=64, nints=2, ngroups=6, seed=5, layout="uncal_multi"))


def test_plot_shows_the_readers_values_and_reference_lines(qtbot, sim):
    refs = {"SUPERBIAS": str(sim.references["SUPERBIAS"]), "SATURATION": str(sim.references["SATURATION"])}
    plot = RampPlot(references=lambda: refs)
    qtbot.addWidget(plot)
    path = str(sim.ramps[0])
    with open_ramp(path) as ramp:
        expected = ramp.read_groups(1)[:, 40, 17].astype(float)
    with qtbot.waitSignal(plot.shown, timeout=10000):
        plot.point_at(path, 1, 17, 40, force=True)
    x, y = plot.raw_curve.getData()
    np.testing.assert_array_equal(x, np.arange(1, 7))
    np.testing.assert_array_equal(y, expected)
    bias = float(open_reference(refs["SUPERBIAS"], "SUPERBIAS").data[40, 17])
    np.testing.assert_allclose(plot.cal_curve.getData()[1], expected - bias)
    sat = float(open_reference(refs["SATURATION"], "SATURATION").data[40, 17])
    assert plot.saturation_line.isVisible() and plot.saturation_line.value() == pytest.approx(sat)
    assert plot.limit_line.value() == pytest.approx(expected[0] + 5000.0)  # NRCB1 is short-wave
    assert "x 18, y 41, integration 2" in plot.title.text()
    # without references: the raw ramp only
    plot.references = lambda: {}
    with qtbot.waitSignal(plot.shown, timeout=10000):
        plot.point_at(path, 0, 3, 4, force=True)
    assert plot.cal_curve.getData()[0] is None or len(plot.cal_curve.getData()[0]) == 0
    assert not plot.saturation_line.isVisible()
    # "follow" off: pointer moves are ignored (the last read's "finished" arrives after "shown")
    qtbot.waitUntil(lambda: not plot.busy, timeout=10000)
    plot.follow_box.setChecked(False)
    plot.point_at(path, 0, 9, 9)
    assert not plot.busy


def test_window_plots_the_pixel_under_the_pointer(qtbot, window, sim):
    path = str(sim.ramps[0])
    with qtbot.waitSignal(window.viewer.loaded, timeout=10000):
        window.open_path(path)
    qtbot.waitUntil(lambda: window.idle, timeout=10000)
    with qtbot.waitSignal(window.ramp_plot.shown, timeout=10000) as shown:
        window.viewer.canvas.hovered.emit((5, 6))
    ramp = shown.args[0]
    assert (ramp.column, ramp.row, ramp.integration) == (5, 6, 0)
    with open_ramp(path) as r:
        np.testing.assert_array_equal(ramp.values, r.read_groups(0)[:, 6, 5])
