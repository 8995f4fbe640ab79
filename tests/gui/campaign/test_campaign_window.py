"""Tasks > Campaign: a campaign run from the window, its table, a detector opened in the Gain tab."""

import pytest

pytestmark = pytest.mark.slow  # a Dask cluster and two small gain runs


@pytest.fixture(scope="module")
def scheduler(dask_cluster):
    """Address of the session's 2-worker ``distributed.LocalCluster`` (the commands join it)."""
    return dask_cluster.scheduler_address


@pytest.fixture(scope="module")
def flats(tmp_path_factory):
    from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats

    root = tmp_path_factory.mktemp("gui_campaign")
    for i, det in enumerate(("NRCA1", "NRCB4")):
        simulate_flats(root / det, FlatSimConfig(detector=det, size=256, nints=4, ngroups=5, seed=30 + i))
    return root


def test_campaign_window_runs_and_opens_a_detector(window, qtbot, scheduler, flats, tmp_path):
    from nircam_gui.gui.campaign import show_campaign_window

    titles = [a.text().replace("&", "") for m in window.menuBar().actions() if m.text() == "&Tasks" for a in m.menu().actions()]
    assert any("Campaign" in t for t in titles)
    panel = show_campaign_window(window)
    assert panel.isVisible() and show_campaign_window(window) is panel
    panel.add_paths([flats])
    panel.out_edit.setText(str(tmp_path / "out"))
    panel.box_combo.setCurrentText("64")
    panel.scheduler_edit.setText(scheduler)
    worker = panel.run()
    assert worker is not None and not panel.run_button.isEnabled()
    qtbot.waitUntil(lambda: panel.worker is None, timeout=300000)
    assert panel.table.rowCount() == 2
    states = [panel.table.item(i, 1).text() for i in range(2)]
    assert states == ["done", "done"], panel.status.text()
    assert panel.table.item(1, 3).text().startswith("sectors ") and "void" in panel.table.item(1, 3).text()
    assert (tmp_path / "out" / "sectors_all.ecsv").is_file()

    with qtbot.waitSignal(panel.opened, timeout=60000) as opened:
        panel.open_row(1)
    analysis, result = opened.args
    assert analysis == "gain" and result.detector == "NRCB4"
    qtbot.waitUntil(lambda: window.gain_panel.result is result, timeout=10000)
    assert window.tabs.currentWidget() is window.gain_panel
