"""Every panel of a sky-flat image grid has its own colour bar: its limits, its colours, the unit."""

from __future__ import annotations

import numpy as np

from nircam_gui.gui.colormaps import lookup_table
from nircam_gui.gui.skyflat.images import PER_PANEL, ImageGrid, PanelSpec
from nircam_gui.gui.workers import TaskRunner


def test_each_panel_has_its_own_colour_bar(qtbot):
    grid = ImageGrid(TaskRunner(max_threads=1))
    qtbot.addWidget(grid)
    grid.resize(700, 600)
    grid.show()
    rng = np.random.default_rng(2)
    flat = (1 + 0.01 * rng.standard_normal((64, 64))).astype(np.float32)
    specs = [PanelSpec("grey delta", flat, "99.5%"), PanelSpec("/ grey − 1", flat - 1, "sym:0", "CET-D1"),
             PanelSpec("coverage", np.full((64, 64), 8.0, np.float32), (6.0, 9.0), "viridis", unit="images")]
    with qtbot.waitSignal(grid.drawn, timeout=10000):
        grid.set_panels(specs, 3)
    assert len(grid.colour_bars) == 3
    for bar, spec, levels in zip(grid.colour_bars, specs, grid.levels):
        assert bar.isVisible()
        assert bar.levels() == levels
        want = lookup_table(spec.colormap, "linear")
        got = bar.colorMap().getLookupTable(nPts=len(want), mode="byte")[:, :3]
        np.testing.assert_array_equal(got[[0, -1]], want[[0, -1]])
    lo, hi = grid.levels[1]
    assert abs(lo + hi) < 1e-9 * hi  # the difference's bar is symmetric about 0
    assert grid.levels[2] == (6.0, 9.0) and "images" in grid._titles[2].text
    # the Display dock's colours apply to every bar
    with qtbot.waitSignal(grid.drawn, timeout=10000):
        grid.set_display(PER_PANEL, "linear", "viridis")
    want = lookup_table("viridis", "linear")
    for bar in grid.colour_bars:
        np.testing.assert_array_equal(bar.colorMap().getLookupTable(nPts=len(want), mode="byte")[[0, -1], :3],
                                      want[[0, -1]])
