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


def test_validation_results_come_back_from_a_session(qtbot, page, field, tmp_path):
    """A saved session restores the page's inputs and its last result without a run: the same
    plots and summary, and Export writes what the original result wrote."""
    from astropy.table import Table

    from nircam_gui.gui.main_window import MainWindow
    from nircam_gui.gui.settings import Settings

    window, sky, val = page
    val.set_files(field.cal_files)
    val.set_flats(field.old_flat, field.true_flat)
    val.options.min_pointings = 2
    with qtbot.waitSignal(val.result_changed, timeout=60_000):
        val.run()
    qtbot.waitUntil(lambda: not val.busy and window.idle, timeout=10_000)
    path = window.save_session(str(tmp_path / "val"))

    other = MainWindow(settings=Settings(tmp_path / "other.ini"), restore_layout=False, modal_errors=False)
    qtbot.addWidget(other)
    started = []
    other.runner.task_started.connect(lambda w: started.append(w.name))
    oval = other.analysis_panels["Sky flat"].validation
    assert other.open_session(path)
    qtbot.waitUntil(lambda: other.idle, timeout=30_000)
    assert "Flat validation" not in started
    assert oval.files == val.files and oval.old_flat.path == val.old_flat.path
    assert oval.new_flat.path == val.new_flat.path and oval.cal_flat.path == ""
    assert oval.options == val.options and oval.options.min_pointings == 2
    r, o = val.result, oval.result
    assert o is not None and o.summary == r.summary and o.summary_line() == r.summary_line()
    assert oval.summary_label.text() == val.summary_label.text()
    assert oval.progress.format() == "restored from val.ncsession"
    for plot, oplot in ((val.profile_x, oval.profile_x), (val.profile_y, oval.profile_y),
                        (val.histogram, oval.histogram)):
        a, b = plot.getPlotItem().listDataItems(), oplot.getPlotItem().listDataItems()
        assert len(a) == len(b) == 2
        for ca, cb in zip(a, b):
            for xa, xb in zip(ca.getData(), cb.getData()):
                np.testing.assert_array_equal(xa, xb)
    for page_, folder in ((val, "before"), (oval, "after")):
        assert page_.export(str(tmp_path / folder)) is not None
        qtbot.waitUntil(lambda p=page_: p.export_worker is None, timeout=30_000)
    a, b = Table.read(tmp_path / "before" / "photometry.ecsv"), Table.read(tmp_path / "after" / "photometry.ecsv")
    assert a.colnames == b.colnames and len(a) == len(b)
    for name in a.colnames:
        assert np.array_equal(np.asarray(a[name]), np.asarray(b[name])), name
    other.close()
