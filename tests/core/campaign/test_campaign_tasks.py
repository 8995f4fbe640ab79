"""A gain detector's tasks called in this process: each input hashed once, wherever the tasks run."""

import json
import os

import pytest

from nircam_gui.core import provenance
from nircam_gui.core.campaign import RECORD_FILE, plan_gain
from nircam_gui.core.campaign.tasks import gain_combine, gain_pair, gain_prepare

BOX = 32  # as the fixtures (conftest.py): small frames

# the calibration and the writers of a detector, three times over
pytestmark = pytest.mark.slow


@pytest.fixture
def hashed(monkeypatch):
    """The files this process hashes from now on (none known to it yet: a worker that did not
    run the detector's prepare task)."""
    seen = []
    real = provenance.sha256sum

    def counting(path):
        seen.append(os.path.abspath(path))
        return real(path)

    monkeypatch.setattr(provenance, "sha256sum", counting)

    def fresh_process():
        monkeypatch.setattr(provenance, "_CACHE", {})
        seen.clear()
        return seen

    return fresh_process


def _prepare(job, out, work, force=False):
    work.mkdir(exist_ok=True)
    return gain_prepare(job, out, {"figures": False}, None, None, force, work / job.detector)


def test_inputs_hashed_by_the_prepare_task_only(flats_two, tmp_path, hashed):
    root, _ = flats_two
    job = plan_gain([root / "NRCA1"], {"box": BOX}).jobs["NRCA1"]
    out = tmp_path / "NRCA1"
    seen = hashed()
    prep = _prepare(job, out, tmp_path / "work")
    assert prep.outcome is None, prep.outcome
    inputs = set(prep.checksums)
    ramps = {os.path.abspath(p) for p in job.files}
    # a first run (no record to compare with): every input hashed once, beside the setup
    assert ramps < inputs and sorted(seen) == sorted(inputs)
    assert {k[0] for k in prep.known} == inputs

    # the pairs on a worker that never saw the detector: the calibration records its reference
    # files' checksums without hashing them again
    pairs = []
    for i in range(job.parts):
        seen = hashed()
        pairs.append(gain_pair(prep, i))
        assert pairs[-1].state == "done", pairs[-1].error
        assert not set(seen) & inputs, seen
    recorded = pairs[0].stats.calibration["references"]
    assert len(recorded) >= 4  # superbias, linearity, saturation, mask, ...
    assert all(r["sha256"] == prep.checksums[os.path.abspath(r["path"])] for r in recorded.values())

    # the combine on yet another: the products record every input, none hashed again
    seen = hashed()
    done = gain_combine(prep, pairs, out, {"figures": False})
    assert done.state == "done", done.error
    assert not set(seen) & inputs, seen
    record = json.loads((out / RECORD_FILE).read_text())
    assert record["inputs"] == prep.checksums
    written = json.loads((out / "provenance.json").read_text())
    assert {e["path"]: e["sha256"] for e in written["inputs"]} == {p: prep.checksums[p] for p in ramps}

    # a rerun: the record is there, so the inputs are hashed before anything else and the
    # detector is skipped; with force it runs, and hashes the same
    seen = hashed()
    again = _prepare(job, out, tmp_path / "work")
    assert again.outcome is not None and again.outcome.state == "skipped"
    assert sorted(seen) == sorted(inputs) and again.checksums == prep.checksums
    forced = _prepare(job, out, tmp_path / "work", force=True)
    assert forced.outcome is None and forced.checksums == prep.checksums
