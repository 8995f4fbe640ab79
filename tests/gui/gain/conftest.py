"""Small simulated flat-field ramps for the Gain tab tests (256 x 256, 4 integrations of 6 groups)."""

from __future__ import annotations

import pytest

from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats


@pytest.fixture(scope="session")
def flats(tmp_path_factory):
    """Ramps, reference files and the epoxy-void region file (made once per session)."""
    folder = tmp_path_factory.mktemp("gain_flats")
    return simulate_flats(folder, FlatSimConfig(detector="NRCB1", size=256, nints=4, ngroups=6, seed=8))


@pytest.fixture
def panel(qtbot, settings):
    """A Gain panel on its own, with analysis and export in threads (fast to start)."""
    from nircam_gui.gui.gain.panel import GainPanel
    from nircam_gui.gui.workers import TaskRunner

    runner = TaskRunner(max_threads=2)
    p = GainPanel(runner, settings)
    p.run_in_process = False
    qtbot.addWidget(p)
    p.resize(1400, 800)
    p.show()
    qtbot.waitExposed(p)
    yield p
    p.close()  # no preview starts after the test (a pending one would reach a deleted panel)
    runner.shutdown(30)
    # deliver what the last workers posted while the panel still exists: once the test's
    # widgets are deleted, a later delivery would find the panel's Qt objects gone
    from PySide6.QtWidgets import QApplication

    for _ in range(3):
        QApplication.processEvents()
