"""Simulated _cal sets, made once per session."""

import pytest

from nircam_gui.core.simulate.images import CalSimConfig, simulate_cal_images
from skyflat_run import run_and_write as run_skyflat


@pytest.fixture(scope="session")
def full_frame_run(tmp_path_factory):
    """20 full-frame NRCA4 images over two filters (the issue's accuracy set) and its analysis."""
    sim_dir = tmp_path_factory.mktemp("skyflat_full")
    cfg = CalSimConfig(detectors=("NRCA4",), filters=("F150W", "F200W"), n_images=10, size=2048, seed=1063)
    sim = simulate_cal_images(sim_dir, cfg)
    out = sim_dir / "out"
    res = run_skyflat(sim.cal_files, out, ground_flats=[sim_dir / "reference"], ground_masks=[sim_dir / "reference"])
    return cfg, sim, res


@pytest.fixture(scope="session")
def small_set(tmp_path_factory):
    """A small long-wave set, 4 images per filter, for output-format tests."""
    sim_dir = tmp_path_factory.mktemp("skyflat_small")
    cfg = CalSimConfig(detectors=("NRCBLONG",), filters=("F277W", "F444W"), n_images=4, size=256, seed=5)
    return cfg, simulate_cal_images(sim_dir, cfg)
