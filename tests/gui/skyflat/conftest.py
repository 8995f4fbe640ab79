"""A small simulated sky-flat set: one SW and one LW detector, two filters each, 4 images per filter."""

import pytest
from astropy.table import Table

from nircam_gui.core.simulate.images import CalSimConfig, simulate_cal_images

SIZE = 256


@pytest.fixture(scope="session")
def sim_set(tmp_path_factory):
    folder = tmp_path_factory.mktemp("skyflat_gui_sim")
    simulate_cal_images(folder, CalSimConfig(detectors=("NRCA1",), filters=("F150W", "F200W"), n_images=4,
                                             size=SIZE, seed=3))
    simulate_cal_images(folder, CalSimConfig(detectors=("NRCALONG",), filters=("F277W", "F444W"), n_images=4,
                                             size=SIZE, seed=4))
    pred = folder / "predictions.ecsv"
    Table({"filter": ["F150W", "F200W", "F277W", "F444W"], "background": [0.25, 0.2, 0.2, 0.38]}).write(pred)
    return folder


@pytest.fixture
def tabs(window):
    """The sky-flat and dead-pixel panels of a main window; runs in a thread (a child process is slower to start)."""
    sky = window.analysis_panels["Sky flat"]
    dead = window.analysis_panels["Dead pixels"]
    sky.session.in_process = False
    return window, sky, dead
