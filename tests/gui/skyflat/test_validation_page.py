"""The Sky flat tab's Validation page: runs in the background, draws what the core returns."""

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from nircam_gui.core.simulate.starfield import StarfieldConfig, simulate_starfield
from nircam_gui.core.skyflat.validate import run_validation


@pytest.fixture(scope="module")
def field(tmp_path_factory):
    return simulate_starfield(tmp_path_factory.mktemp("gui_starfield"),
                              StarfieldConfig(size=128, n_pointings=4, n_stars=10, dither=0.3))


@pytest.fixture
def page(tabs):
    window, sky, _ = tabs
    window.show_tab("skyflat")
    sky.results_tabs.setCurrentWidget(sky.validation)
    sky.validation.in_process = False  # a thread starts faster than a child process
    return window, sky, sky.validation


def test_validation_page_runs_and_draws_the_core_result(qtbot, page, field, tmp_path):
    window, sky, val = page
    val.set_files(field.cal_files)
    val.set_flats(field.old_flat, field.true_flat)
    val.options.min_pointings = 2
    with qtbot.waitSignal(val.result_changed, timeout=60_000):
        assert val.run() is not None
        assert val.run() is None  # one run at a time
    qtbot.waitUntil(lambda: not val.busy and window.idle, timeout=10_000)
    r = val.result
    expected = run_validation(field.cal_files, field.old_flat, field.true_flat, options=val.options)
    assert r.summary["median_scatter_new"] == pytest.approx(expected.summary["median_scatter_new"])
    # the plots hold the core's numbers, not a recomputation
    curves = val.profile_x.getPlotItem().listDataItems()
    assert len(curves) == 2
    x, y = curves[0].getData()
    np.testing.assert_allclose(y[np.isfinite(y)], np.asarray(r.profile_x["old"], float)[np.isfinite(y)])
    hist = val.histogram.getPlotItem().listDataItems()
    assert len(hist) == 2 and sum(hist[1].getData()[1]) == len(r.photometry)
    assert "->" in val.summary_label.text() and "the old flat" in val.summary_label.text()
    assert val.export_button.isEnabled()
    assert val.export(str(tmp_path / "out")) is not None
    qtbot.waitUntil(lambda: val.export_worker is None, timeout=30_000)
    assert (tmp_path / "out" / "photometry.ecsv").exists() and (tmp_path / "out" / "provenance.json").exists()


def test_validation_page_bad_input_is_a_message(qtbot, page, field, tmp_path):
    window, sky, val = page
    errors = []
    sky.error.connect(errors.append)
    val.run()  # nothing given
    assert errors and "at least 2" in errors[-1]
    val.set_files(field.cal_files)
    val.set_flats(field.mask, field.true_flat)  # a MASK given as the old flat
    val.run()
    qtbot.waitUntil(lambda: not val.busy, timeout=30_000)
    assert "nrca1_mask.fits" in errors[-1] and "not a FLAT" in errors[-1]
    assert val.result is None and val.run_button.isEnabled()


def test_validation_page_fits_a_laptop_screen(qtbot, page):
    from test_layout import clipped_widgets

    window, sky, val = page
    window.resize(1366, 768)
    for _ in range(3):
        QApplication.processEvents()
    problems = [p for p in clipped_widgets(val)]
    assert not problems, "; ".join(problems[:5])
