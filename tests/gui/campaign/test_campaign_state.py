"""The Campaign window's table state (Qt-free)."""

from pathlib import Path

import pytest

from nircam_gui.core.campaign import CampaignProgress, CampaignResult, DetectorOutcome
from nircam_gui.gui.campaign.state import CampaignTable, key_numbers, load_result
from nircam_gui.core.errors import NircamFileError

GAIN_SUMMARY = {"sectors": [{"amp": 2, "region": "normal", "gain": 2.2, "gain_err": 0.01},
                            {"amp": 1, "region": "normal", "gain": 2.1, "gain_err": 0.01},
                            {"amp": 2, "region": "epoxy", "gain": 2.05, "gain_err": 0.02}],
                "first_pair": {"first_pair_used": False}, "n_pairs": 5, "pairs_used": [2, 3, 4, 5]}


def test_key_numbers():
    assert key_numbers("gain", GAIN_SUMMARY) == "sectors 2.100 2.200 e-/ADU; void 2.050; pair 1 dropped"
    sky = {"n_images": 6, "n_dead": 12, "flats": [{"filter": "F150W"}, {"filter": "F200W"}]}
    assert key_numbers("skyflat", sky) == "6 images, 2 FLAT files (F150W, F200W), 12 new dead pixels"
    assert key_numbers("gain", {}) == ""


def test_table_follows_progress_then_outcomes(tmp_path):
    table = CampaignTable()
    table.reset("gain", ["NRCA1", "NRCB4"], str(tmp_path))
    v = table.version
    table.update(CampaignProgress({"NRCA1": "running", "NRCB4": "queued"}, {"NRCA1": 0.5}, {"NRCA1": "pair 1"},
                                  {"NRCA1": "tcp://w1"}))
    assert table.version > v
    a1, b4 = table.snapshot()
    assert a1.cells()[:3] == ("NRCA1", "running", "50% pair 1") and a1.worker == "tcp://w1" and b4.state == "queued"
    result = CampaignResult("gain", Path(tmp_path), {
        "NRCA1": DetectorOutcome("NRCA1", "done", host="node1", pid=7, summary=GAIN_SUMMARY),
        "NRCB4": DetectorOutcome("NRCB4", "failed", error="x.fits: truncated")}, [], "", {})
    table.finish(result)
    a1, b4 = table.snapshot()
    assert a1.openable and a1.folder == str(tmp_path / "NRCA1") and a1.worker == "node1:7"
    assert a1.cells()[3].startswith("sectors 2.100")
    assert not b4.openable and b4.cells()[3] == "x.fits: truncated"


def test_load_result_without_a_kept_result(tmp_path):
    with pytest.raises(NircamFileError, match="run from the command line"):
        load_result(str(tmp_path))
