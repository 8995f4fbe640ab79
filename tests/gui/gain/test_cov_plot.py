"""The covariance pages of the Gain tab draw the engine's covariances and fitted model."""

import numpy as np
import pyqtgraph as pg
import pytest

from nircam_gui.core.gain.run import GainOptions, run_gain


@pytest.fixture(scope="module")
def result(flats):
    r = flats.references
    return run_gain(flats.ramps, GainOptions(box=64, regions=str(flats.regions), ipc_kernel=str(r["IPC"]),
                                             superbias=str(r["SUPERBIAS"]), linearity=str(r["LINEARITY"]),
                                             saturation=str(r["SATURATION"]), mask=str(r["MASK"]),
                                             ptc_model="covariance"))


def test_ptc_panel_draws_the_covariance_model_and_the_neighbour_covariances(qtbot, result):
    from nircam_gui.gui.gain.cov_plot import box_model_curve
    from nircam_gui.gui.gain.ptc_plot import PTCPlot

    plot = PTCPlot()
    qtbot.addWidget(plot)
    plot.set_result(result)
    b = int(np.flatnonzero(np.isfinite(result.covariance.pair_gain[0]))[0]) + 1
    plot.show_boxes([b])
    x, y = plot._items[0]["cov_model"].getData()
    ex, ey = box_model_curve(result, b, 0, 1.05 * float(np.nanmax(result.ptc.mean[:, :, b - 1])))
    assert x.size == len(result.pairs) * ex.size and np.allclose(x[: ex.size], ex) and np.allclose(y[: ey.size], ey)
    # near zero signal the model is twice the box's fitted noise
    assert y[0] == pytest.approx(2 * result.covariance.noise[0, b - 1])
    assert plot.pages.count() == 2 and plot.pages.tabText(1) == "Covariances"
    c10 = plot.cov_plot.plots[0]
    scatter = [i for i in c10.items if isinstance(i, pg.ScatterPlotItem)][0]
    sx, sy = scatter.getData()
    ok = np.isfinite(result.ptc.cov[:, :, b - 1, 0, 1])
    assert np.array_equal(sy, result.ptc.cov[:, :, b - 1, 0, 1][ok].ravel())
    assert any(isinstance(i, pg.PlotCurveItem) for i in c10.items)  # the amplifier's model


def test_results_show_the_a_matrix(qtbot, result):
    from nircam_gui.gui.gain.results import SectorsView

    view = SectorsView()
    qtbot.addWidget(view)
    view.set_result(result)
    t = view.amatrix.table.table
    assert t.rowCount() == len(result.covariance.fits)
    headers = [t.horizontalHeaderItem(j).text() for j in range(t.columnCount())]
    j = headers.index("a00 (1e-7/e-)")
    f = result.covariance.fits[0]
    assert t.item(0, 0).text() == f.label
    assert t.item(0, j).text().startswith(f"{1e7 * f.a[0, 0]:.3f}")
