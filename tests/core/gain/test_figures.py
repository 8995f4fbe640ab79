"""The exported PTC figure shows the boxes asked for (those on screen in the GUI)."""

from __future__ import annotations

import pytest

from nircam_gui.core.gain import figures
from nircam_gui.core.gain.run import GainOptions, run_gain
from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    sim = simulate_flats(tmp_path_factory.mktemp("fig"), FlatSimConfig(detector="NRCB1", size=128, nints=4,
                                                                        ngroups=5, seed=6))
    return run_gain(sim.ramps, GainOptions(box=32, ipc="none"))


def test_ptc_figure_shows_the_chosen_boxes(result, tmp_path, monkeypatch):
    drawn = []
    original = figures.plot_ptc

    def spy(ax_top, ax_res, res, box_id, pair_index=None):
        drawn.append(box_id)
        return original(ax_top, ax_res, res, box_id, pair_index)

    monkeypatch.setattr(figures, "plot_ptc", spy)
    out = figures.write_figures(result, tmp_path, formats=("png",), boxes=[7, 3])
    assert drawn == [7, 3] and out["ptc_examples_png"].stat().st_size > 0
    drawn.clear()
    figures.write_figures(result, tmp_path, formats=("png",))
    assert drawn == figures.example_boxes(result)
    # ids that are not boxes of this grid fall back to the examples rather than failing
    drawn.clear()
    figures.write_figures(result, tmp_path, formats=("png",), boxes=[10**6])
    assert drawn == figures.example_boxes(result)
