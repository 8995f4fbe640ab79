"""A small simulated instrument (two detectors) and a client of the session's Dask cluster."""

import pytest

from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats
from nircam_gui.core.simulate.images import CalSimConfig, simulate_cal_images

#: tiny frames: the campaign machinery is under test here, not the science
SIZE = 128
BOX = 32


@pytest.fixture(scope="module")
def dask_client(dask_cluster):
    """A client of the session's 2-worker ``distributed.LocalCluster``."""
    from distributed import Client

    client = Client(dask_cluster, set_as_default=False)
    yield client
    client.close()


@pytest.fixture(scope="module")
def flats_two(tmp_path_factory):
    """Flat-field ramps of NRCA1 and NRCB4 (B4 has an epoxy void), each in its own folder."""
    root = tmp_path_factory.mktemp("campaign_flats")
    sims = {}
    for i, det in enumerate(("NRCA1", "NRCB4")):
        sims[det] = simulate_flats(root / det, FlatSimConfig(detector=det, size=SIZE, nints=4, ngroups=6, seed=10 + i))
    return root, sims


@pytest.fixture(scope="module")
def images_two(tmp_path_factory):
    """_cal images of NRCA1 and NRCBLONG in three filters (3 images each: enough for the additive
    fit), with ground FLATs and MASKs."""
    root = tmp_path_factory.mktemp("campaign_images")
    sim = simulate_cal_images(root, CalSimConfig(detectors=("NRCA1", "NRCBLONG"), filters=("F150W", "F200W", "F090W"),
                                                 n_images=3, size=SIZE, seed=4))
    return root, sim
