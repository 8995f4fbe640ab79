"""``nircam-gain`` and ``nircam-skyflat`` campaigns, and ``nircam-sim flats`` for several detectors."""

import json

import pytest
from astropy.table import Table

from nircam_gui.cli import gain, sim, skyflat


@pytest.fixture(scope="module")
def scheduler(dask_cluster):
    """Address of the session's 2-worker ``distributed.LocalCluster`` (the commands join it)."""
    return dask_cluster.scheduler_address


@pytest.fixture(scope="module")
def flats(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim_campaign")
    assert sim.main(["flats", "-o", str(out), "--detector", "A1", "NRCB4", "--size", "64", "--nints", "4",
                     "--ngroups", "5", "-q"]) == 0
    return out


def test_sim_flats_several_detectors_each_with_its_truth(flats):
    from nircam_gui.core.readers import read_metadata

    assert sorted(p.name for p in flats.iterdir()) == ["NRCA1", "NRCB4"]
    for det in ("NRCA1", "NRCB4"):
        ramps = sorted((flats / det).glob("*_uncal.fits"))
        assert len(ramps) == 4 and {read_metadata(r).detector for r in ramps} == {det}
        truth = json.loads((flats / det / "truth" / "flats_truth.json").read_text())
        assert truth["config"]["detector"] == det
        assert (flats / det / "reference").is_dir()
    assert (flats / "NRCB4" / "epoxy_void_nrcb4.reg").is_file()
    # each detector has its own seed: the noise of the two sets differs
    assert json.loads((flats / "NRCA1" / "truth" / "flats_truth.json").read_text())["config"]["seed"] != \
        json.loads((flats / "NRCB4" / "truth" / "flats_truth.json").read_text())["config"]["seed"]


@pytest.mark.slow
def test_gain_campaign_from_a_folder(flats, scheduler, tmp_path, capsys):
    out = tmp_path / "out"
    args = [str(flats), "-o", str(out), "--box", "16", "--campaign-regions", str(flats), "--no-figures", "-q",
            "--scheduler", scheduler]
    assert gain.main(args) == 0
    text = capsys.readouterr().out
    assert "NRCA1      done" in text and "NRCB4      done" in text and "sectors_all.ecsv" in text
    assert list(Table.read(out / "sectors_all.ecsv")["detector"]) == ["NRCA1", "NRCB4"]
    assert (out / "NRCB4" / "gain_map.fits").is_file() and (out / "first_pair_all.ecsv").is_file()
    doc = json.loads((out / "campaign.json").read_text())
    assert doc["cluster"]["scheduler"] == scheduler and doc["cluster"]["kind"] == "external"
    assert doc["detectors"]["NRCB4"]["regions"].endswith("epoxy_void_nrcb4.reg")
    assert doc["command"][0] == "nircam-gain"
    # the same command again: nothing to do
    assert gain.main(args) == 0
    assert "NRCA1      skipped" in capsys.readouterr().out


def test_gain_campaign_bad_inputs(flats, tmp_path, capsys):
    out = str(tmp_path / "out")
    assert gain.main([str(flats / "nope"), "-o", out, "--campaign", "-q"]) == 2
    assert "nope: file does not exist" in capsys.readouterr().err
    assert gain.main([str(flats), "-o", out, "--scheduler", "tcp://a:1", "--scheduler-file", "f", "-q"]) == 2
    assert "not both" in capsys.readouterr().err
    assert gain.main([str(flats), "-o", out, "--scheduler-file", str(tmp_path / "none.json"), "-q"]) == 2
    assert "scheduler file does not exist" in capsys.readouterr().err
    assert gain.main([str(flats), "-o", out, "--threads", "0", "-q"]) == 2
    assert "--threads 0: use at least 1" in capsys.readouterr().err
    # a detector without its IPC kernel: named, and nothing starts
    refs = tmp_path / "refs"
    refs.mkdir()
    for p in (flats / "NRCA1" / "reference").iterdir():
        (refs / p.name).write_bytes(p.read_bytes())
    assert gain.main([str(flats), "-o", out, "--refs", str(refs), "-q"]) == 2
    err = capsys.readouterr().err
    assert "error: NRCB4: " in err and "IPC" in err and "--keep-going" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_skyflat_campaign(scheduler, tmp_path, capsys):
    from nircam_gui.core.simulate.images import CalSimConfig, simulate_cal_images

    data = tmp_path / "images"
    simulate_cal_images(data, CalSimConfig(detectors=("NRCA2", "NRCB3"), filters=("F150W",), n_images=3, size=128))
    out = tmp_path / "out"
    assert skyflat.main([str(data), "-o", str(out), "--refs", str(data / "reference"), "--scheduler", scheduler,
                         "--no-figures", "-q", "--images-per-task", "2"]) == 0
    text = capsys.readouterr().out
    assert "NRCA2      done" in text and "NRCB3      done" in text
    flats = Table.read(out / "flats_all.ecsv")
    assert sorted(flats["file"]) == ["NRCA2/flat_NRCA2_F150W.fits", "NRCB3/flat_NRCB3_F150W.fits"]
    assert set(Table.read(out / "deadpix_all.ecsv")["detector"]) == {"NRCA2", "NRCB3"}
    # 3 images of one filter, at most 2 a task: two stack tasks per detector
    doc = json.loads((out / "campaign.json").read_text())
    assert [t["task"] for t in doc["detectors"]["NRCA2"]["tasks"]] == ["prepare", "stack F150W", "stack F150W-2",
                                                                      "combine"]
