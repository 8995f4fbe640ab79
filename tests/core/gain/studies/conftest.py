"""One simulated data set for all the study tests, measured once per session.

NRCB1 layout at 1024x1024 (a quarter of the pixels of a full frame, so four times
fewer boxes of each size), 10 integrations (5 pairs) of 8 groups at the simulator's
default 1,100 ADU per group: the 5,000 ADU limit is reached in 4-5 groups, as in the
report's exposures. The first integration's flux is 1% low (report Figure 9: lamp
warm-up), and the epoxy void couples 30% less than the rest (the report: voids have
lower IPC), so the coupling measurement has two different truths to find.
"""

import json

import pytest

from nircam_gui.core.gain.run import GainOptions, run_gain
from nircam_gui.core.gain.studies.rundata import RunData
from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats

BOXES = (64, 128, 256)


def study_options(sim, **kw) -> GainOptions:
    r = sim.references
    kw.setdefault("box", 128)
    kw.setdefault("ipc", "deconvolve")
    return GainOptions(regions=str(sim.regions), ipc_kernel=str(r["IPC"]), superbias=str(r["SUPERBIAS"]),
                       linearity=str(r["LINEARITY"]), saturation=str(r["SATURATION"]), mask=str(r["MASK"]), **kw)


@pytest.fixture(scope="session")
def study_sim(tmp_path_factory):
    cfg = FlatSimConfig(detector="NRCB1", size=1024, nints=10, ngroups=8, seed=21, first_int_flux_step=-0.01,
                        void_ipc_scale=0.7)
    sim = simulate_flats(tmp_path_factory.mktemp("study_sim"), cfg)
    return sim, json.loads(sim.truth_json.read_text())


@pytest.fixture(scope="session")
def study_runs(study_sim):
    """Engine results: deconvolved runs for each box size, and an uncorrected 128 px run."""
    sim, _ = study_sim
    results = {b: run_gain(sim.ramps, study_options(sim, box=b)) for b in BOXES}
    results["none"] = run_gain(sim.ramps, study_options(sim, box=128, ipc="none"))
    return results


@pytest.fixture(scope="session")
def study_rundata(study_runs):
    return {k: RunData.from_result(r) for k, r in study_runs.items()}


@pytest.fixture(scope="session")
def options_for():
    """``options_for(sim, **overrides)``: the GainOptions the study runs use."""
    return study_options
