"""Campaigns on a 2-worker Dask cluster: identical products, tables, skip on rerun, failures, cancel."""

import json
import os
import shutil

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from nircam_gui.core.campaign import (CAMPAIGN_FILE, RECORD_FILE, CampaignError, plan_gain, plan_skyflat,
                                      run_campaign)
from nircam_gui.core.gain.products import write_gain_products
from nircam_gui.core.gain.run import run_gain
from nircam_gui.core.skyflat.run import run_and_write

BOX = 32  # as the fixtures (conftest.py): small frames

# a Dask cluster and jwst calibration on workers: tens of seconds on a busy machine
pytestmark = pytest.mark.slow

#: products whose content records the run itself (clock times, durations, paths of the run)
_RUN_RECORDS = {"provenance.json", RECORD_FILE}


def _same_fits(a, b):
    with fits.open(a) as ha, fits.open(b) as hb:
        assert len(ha) == len(hb), a
        for x, y in zip(ha, hb):
            if x.data is None:
                assert y.data is None
                continue
            if isinstance(x, fits.BinTableHDU):
                for name in x.columns.names:
                    u, v = np.asarray(x.data[name]), np.asarray(y.data[name])
                    assert np.array_equal(u, v, equal_nan=u.dtype.kind in "fc"), (a, name)
            else:
                assert x.data.dtype == y.data.dtype and x.data.tobytes() == y.data.tobytes(), (a, x.name)
            # headers may differ only in what records the run (dates, file names)
            keys = {k for k in x.header if k not in ("DATE", "FILENAME", "CHECKSUM", "DATASUM")}
            for k in keys:
                if k in ("HISTORY", "COMMENT"):
                    continue
                assert x.header.get(k) == y.header.get(k) or str(x.header.get(k)) == str(y.header.get(k)), (a, k)


def _same_table(a, b):
    ta, tb = Table.read(a), Table.read(b)
    assert ta.colnames == tb.colnames, a
    for c in ta.colnames:
        x, y = np.asarray(ta[c]), np.asarray(tb[c])
        if x.dtype.kind == "f":
            assert np.array_equal(x, y, equal_nan=True), (a, c)
        elif "file" not in c:  # paths of the inputs are the same files
            assert list(x) == list(y), (a, c)


def assert_same_products(campaign_dir, single_dir):
    """Every product of a single run exists in the campaign folder with identical numbers."""
    names = sorted(p.name for p in single_dir.iterdir() if p.name not in _RUN_RECORDS)
    assert names
    for name in names:
        a, b = campaign_dir / name, single_dir / name
        assert a.is_file(), name
        if name.endswith(".fits"):
            _same_fits(a, b)
        elif name.endswith(".ecsv"):
            _same_table(a, b)


@pytest.fixture(scope="module")
def gain_campaign(flats_two, dask_client, tmp_path_factory):
    root, sims = flats_two
    out = tmp_path_factory.mktemp("gain_campaign")
    plan = plan_gain([root], {"box": BOX}, regions=[root])
    seen = []
    result = run_campaign(plan, out, client=dask_client, settings={"figures": False}, progress=seen.append)
    return plan, out, result, seen


def test_gain_campaign_is_bit_identical_to_single_runs(gain_campaign, flats_two, tmp_path):
    plan, out, result, _ = gain_campaign
    assert result.ok and {d: o.state for d, o in result.outcomes.items()} == {"NRCA1": "done", "NRCB4": "done"}
    for det, job in plan.jobs.items():
        single = tmp_path / det
        write_gain_products(run_gain(job.files, job.options), single, figures=False)
        assert_same_products(out / det, single)


def test_gain_campaign_tables_and_provenance(gain_campaign, flats_two):
    plan, out, result, seen = gain_campaign
    sectors = Table.read(out / "sectors_all.ecsv")
    assert list(sectors["detector"]) == ["NRCA1", "NRCB4"]
    for det in ("NRCA1", "NRCB4"):
        own = Table.read(out / det / "sectors.ecsv")
        row = sectors[list(sectors["detector"]).index(det)]
        for r in own:
            name = f"sector{r['amp']}" + ("_void" if r["region"] != "normal" else "")
            assert row[name] == r["gain"] and row[name + "_err"] == r["gain_err"]
    # NRCA1 has no epoxy void (report Table 7 "NA"): masked; NRCB4's void sectors are there
    assert "sector2_void" in sectors.colnames and sectors["sector2_void"].mask[0] and not sectors["sector2_void"].mask[1]
    first = Table.read(out / "first_pair_all.ecsv")
    for det in ("NRCA1", "NRCB4"):
        pairs = Table.read(out / det / "pairs.ecsv")
        row = first[list(first["detector"]).index(det)]
        assert row["map2_minus_map1_mean"] == pairs.meta["d21_mean"]
        assert bool(row["first_pair_used"]) == pairs.meta["first_pair_used"]
        test = Table.read(out / det / "first_pair.ecsv")[0]
        for name in ("se", "offset"):  # a value the detector's run could not give is masked, not NaN
            assert (row[name] == test[name]) if np.isfinite(test[name]) else np.ma.is_masked(row[name])
    doc = json.loads((out / CAMPAIGN_FILE).read_text())
    workers = set(doc["cluster"]["workers"])
    assert len(workers) == 2 and doc["cluster"]["scheduler"].startswith("tcp://")
    for det in ("NRCA1", "NRCB4"):
        d = doc["detectors"][det]
        assert d["state"] == "done" and d["worker"] in workers and d["pid"] > 0 and d["pid"] != os.getpid()
        assert "gain_map.fits" in {os.path.basename(p) for p in d["products"]}
    # progress went from queued to done over the whole campaign
    assert seen[0].states == {"NRCA1": "queued", "NRCB4": "queued"} and seen[-1].fraction == 1.0


def test_gain_detector_runs_as_prepare_pairs_combine(gain_campaign):
    """A gain detector is a graph of tasks, one per pair between its prepare and combine tasks,
    each on a worker of the cluster; progress counts the pairs and never goes back."""
    plan, out, result, seen = gain_campaign
    doc = json.loads((out / CAMPAIGN_FILE).read_text())
    workers = set(doc["cluster"]["workers"])
    for det, job in plan.jobs.items():
        assert job.parts == 2  # 4 integrations
        tasks = doc["detectors"][det]["tasks"]
        assert [t["task"] for t in tasks] == ["prepare", "pair 1", "pair 2", "combine"]
        assert all(t["worker"] in workers and t["pid"] != os.getpid() and t["seconds"] > 0 for t in tasks)
        # when each task ran (one host, one clock): the pairs after the prepare, the combine after the pairs
        prep, pairs, combine = tasks[0], tasks[1:3], tasks[3]
        assert all(p["start"] >= prep["start"] + prep["seconds"] - 1e-3 for p in pairs)
        assert combine["start"] >= max(p["start"] + p["seconds"] for p in pairs) - 1e-3
        assert result.outcomes[det].worker == tasks[-1]["worker"]  # where the products were written
        fractions = [s.fractions.get(det, 0.0) for s in seen]
        assert fractions == sorted(fractions)
    assert any("running" in s.states.values() for s in seen)


def test_each_kind_of_task_has_its_own_key_prefix(flats_two, images_two, tmp_path):
    """Dask keeps task durations (its work stealing uses them) per key prefix: a pair's must not be
    mixed with a whole detector's, nor split by detector (NRCBLONG has no digit to end the prefix)."""
    from dask.utils import key_split

    from nircam_gui.core.campaign.run import _submit_detector, _submit_gain, _submit_skyflat, _task_name

    class Recorder:
        def __init__(self):
            self.keys = []

        def submit(self, fn, *args, key, **kwargs):
            self.keys.append(key)
            return key

    root, _ = flats_two
    gain = plan_gain([root], {"box": BOX})
    sky = plan_skyflat([images_two[0]], refs=[images_two[0] / "reference"])
    prefixes = {}
    for submit, plan in ((_submit_gain, gain), (_submit_skyflat, sky), (_submit_detector, gain)):
        for (det, job), token in zip(plan.jobs.items(), ("0123abcd", "abcdef01")):
            cl = Recorder()
            submit(cl, plan.analysis, job, tmp_path, {}, "topic", tmp_path / "flag", False, tmp_path / "work",
                   _task_name(det, token), 1, 2)
            prefixes.setdefault(submit.__name__, set()).update(key_split(k) for k in cl.keys)
    assert prefixes == {"_submit_gain": {"nircam-gain-prepare", "nircam-gain-pair", "nircam-gain-combine"},
                        "_submit_skyflat": {"nircam-skyflat-prepare", "nircam-skyflat-stack",
                                            "nircam-skyflat-combine"},
                        "_submit_detector": {"nircam-gain-whole"}}


def test_rerun_skips_complete_detectors_and_redoes_changed_ones(gain_campaign, dask_client, flats_two):
    plan, out, _, _ = gain_campaign
    root, _ = flats_two
    stamp = {p: p.stat().st_mtime_ns for p in (out / "NRCA1").iterdir()}
    again = run_campaign(plan_gain([root], {"box": BOX}, regions=[root]), out, client=dask_client,
                         settings={"figures": False})
    assert {d: o.state for d, o in again.outcomes.items()} == {"NRCA1": "skipped", "NRCB4": "skipped"}
    assert {p: p.stat().st_mtime_ns for p in (out / "NRCA1").iterdir()} == stamp
    assert Table.read(out / "sectors_all.ecsv")["sector1"][0] == Table.read(out / "NRCA1" / "sectors.ecsv")["gain"][0]
    # a damaged product, or other options, make the detector run again
    (out / "NRCB4" / "boxes.ecsv").write_text("damaged")
    third = run_campaign(plan_gain([root], {"box": BOX}, regions=[root]), out, client=dask_client,
                         settings={"figures": False})
    assert {d: o.state for d, o in third.outcomes.items()} == {"NRCA1": "skipped", "NRCB4": "done"}
    assert len(Table.read(out / "NRCB4" / "boxes.ecsv")) > 0
    fourth = run_campaign(plan_gain([root / "NRCA1"], {"box": 64}), out, client=dask_client,
                          settings={"figures": False})
    assert fourth.outcomes["NRCA1"].state == "done"
    assert Table.read(out / "NRCA1" / "sectors.ecsv").meta["box_size"] == 64


def test_failed_detector_keeps_the_others(flats_two, dask_client, tmp_path):
    root, sims = flats_two
    data = tmp_path / "data"
    shutil.copytree(root, data)
    plan = plan_gain([data], {"box": BOX})
    # a ramp damaged after the campaign was planned: found only when the worker reads it
    bad = data / "NRCB4" / sims["NRCB4"].ramps[1].name
    with open(bad, "r+b") as f:
        f.truncate(20000)
    out = tmp_path / "out"
    result = run_campaign(plan, out, client=dask_client, settings={"figures": False})
    assert result.outcomes["NRCA1"].state == "done" and (out / "NRCA1" / "gain_map.fits").is_file()
    failed = result.outcomes["NRCB4"]
    assert failed.state == "failed" and bad.name in failed.error and not result.ok
    assert not (out / "NRCB4").exists() or not any(p.suffix == ".fits" for p in (out / "NRCB4").iterdir())
    assert list(Table.read(out / "sectors_all.ecsv")["detector"]) == ["NRCA1"]
    doc = json.loads((out / CAMPAIGN_FILE).read_text())
    assert doc["detectors"]["NRCB4"]["state"] == "failed" and bad.name in doc["detectors"]["NRCB4"]["error"]


def test_detector_with_bad_inputs_refused_or_skipped(flats_two, dask_client, tmp_path):
    root, sims = flats_two
    data = tmp_path / "data"
    shutil.copytree(root, data)
    (data / "NRCB4" / "reference" / sims["NRCB4"].references["IPC"].name).unlink()
    plan = plan_gain([data], {"box": BOX})
    with pytest.raises(CampaignError, match="NRCB4: .*IPC"):
        run_campaign(plan, tmp_path / "out", client=dask_client)
    assert not (tmp_path / "out").exists()  # refused before any work
    result = run_campaign(plan, tmp_path / "out", client=dask_client, keep_going=True, settings={"figures": False})
    assert result.outcomes["NRCA1"].state == "done" and result.outcomes["NRCB4"].state == "refused"
    assert "IPC" in result.outcomes["NRCB4"].error and not (tmp_path / "out" / "NRCB4").exists()


def test_cancel_before_the_start_runs_nothing(flats_two, dask_client, tmp_path):
    root, _ = flats_two
    result = run_campaign(plan_gain([root], {"box": BOX}), tmp_path, client=dask_client,
                          settings={"figures": False}, cancel=lambda: True)
    assert result.cancelled and not result.ok
    assert {d: o.state for d, o in result.outcomes.items()} == {"NRCA1": "cancelled", "NRCB4": "cancelled"}
    for det in ("NRCA1", "NRCB4"):
        assert not (tmp_path / det).exists() or not any(p.suffix in (".fits", ".ecsv") for p in (tmp_path / det).iterdir())
    assert json.loads((tmp_path / CAMPAIGN_FILE).read_text())["cancelled"] is True


def test_cancel_just_after_the_start_stops_every_detector(flats_two, dask_client, tmp_path):
    """Cancelled once the tasks are submitted (the second look at the cancel): queued tasks are
    cancelled, started ones see the cancel flag; nothing is written."""
    root, _ = flats_two
    looks = []
    result = run_campaign(plan_gain([root], {"box": BOX}), tmp_path, client=dask_client,
                          settings={"figures": False}, cancel=lambda: looks.append(1) or len(looks) > 1)
    assert result.cancelled and not result.ok
    assert {d: o.state for d, o in result.outcomes.items()} == {"NRCA1": "cancelled", "NRCB4": "cancelled"}
    for det in ("NRCA1", "NRCB4"):
        assert not (tmp_path / det).exists() or not any(p.suffix in (".fits", ".ecsv") for p in (tmp_path / det).iterdir())
    assert not list(tmp_path.glob(".nircam-campaign-*"))


def test_cancel_while_running_leaves_no_partial_products(flats_two, dask_client, tmp_path):
    """Cancelled once a detector runs: each detector is either done, with all its products, or
    cancelled with none (these small detectors may finish before the cancel is seen)."""
    root, _ = flats_two
    running = []
    result = run_campaign(plan_gain([root], {"box": BOX}), tmp_path, client=dask_client,
                          settings={"figures": False}, cancel=lambda: bool(running),
                          progress=lambda s: running.extend(d for d, st in s.states.items() if st == "running"))
    assert running and result.cancelled and not result.ok
    states = {d: o.state for d, o in result.outcomes.items()}
    assert set(states.values()) <= {"cancelled", "done"}, states
    for det, state in states.items():
        products = {p.name for p in (tmp_path / det).iterdir()} if (tmp_path / det).exists() else set()
        if state == "done":
            assert {"gain_map.fits", "boxes.ecsv", "sectors.ecsv"} <= products, products
        else:
            assert not any(name.endswith((".fits", ".ecsv")) for name in products), (det, products)
    assert not list(tmp_path.glob(".nircam-campaign-*"))  # no cancel flag or work folder left behind
    assert json.loads((tmp_path / CAMPAIGN_FILE).read_text())["cancelled"] is True


@pytest.fixture(scope="module")
def skyflat_campaign(images_two, dask_client, tmp_path_factory):
    root, _ = images_two
    plan = plan_skyflat([root], refs=[root / "reference"])
    out = tmp_path_factory.mktemp("skyflat_campaign")
    seen = []
    result = run_campaign(plan, out, client=dask_client, progress=seen.append)
    return plan, out, result, seen


def test_skyflat_campaign_identical_to_single_runs(skyflat_campaign, images_two, tmp_path):
    """Per-filter stack tasks on two workers, merged by a combine task: the products of
    ``nircam-skyflat`` on each detector's images, bit for bit (3 filters a detector)."""
    root, sim = images_two
    plan, out, result, _ = skyflat_campaign
    assert result.ok
    flats = Table.read(out / "flats_all.ecsv")
    assert sorted(zip(flats["detector"], flats["filter"])) == [
        (d, f) for d in ("NRCA1", "NRCBLONG") for f in ("F090W", "F150W", "F200W")]
    assert all((out / f).is_file() for f in flats["file"])
    dead = Table.read(out / "deadpix_all.ecsv")
    for det, job in plan.jobs.items():
        single = tmp_path / det
        r, _ = run_and_write(job.files, single, ground_flats=job.references["ground_flats"],
                             ground_masks=job.references["ground_masks"], options=job.options)
        assert r.detectors[det].additive is not None  # the additive fit ran on the merged stack
        assert_same_products(out / det, single)
        assert dead["n_dead"][list(dead["detector"]).index(det)] == r.detectors[det].n_dead
    assert len(Table.read(out / "backgrounds_all.ecsv")) == len(sim.cal_files)
    assert not list(out.glob(".nircam-campaign-*"))


def test_skyflat_detector_runs_as_prepare_stacks_combine(skyflat_campaign):
    """A sky-flat detector is prepare -> one stack task per filter -> combine, each on a worker
    of the cluster (recorded in campaign.json); progress counts the stack tasks and never goes back."""
    plan, out, result, seen = skyflat_campaign
    doc = json.loads((out / CAMPAIGN_FILE).read_text())
    workers = set(doc["cluster"]["workers"])
    for det, job in plan.jobs.items():
        assert job.parts == 3 and sorted(job.split) == ["F090W", "F150W", "F200W"]
        tasks = doc["detectors"][det]["tasks"]
        assert [t["task"] for t in tasks] == ["prepare", "stack F090W", "stack F150W", "stack F200W", "combine"]
        assert all(t["worker"] in workers and t["pid"] != os.getpid() and t["seconds"] > 0 for t in tasks)
        assert result.outcomes[det].worker == tasks[-1]["worker"]
        fractions = [s.fractions.get(det, 0.0) for s in seen]
        assert fractions == sorted(fractions)
        counts = [s.parts[det] for s in seen if det in s.parts]
        assert counts[-1] == (3, 3) and [c[0] for c in counts] == sorted(c[0] for c in counts)
    assert any("/3" in s.line() for s in seen if "running" in s.states.values())


def test_skyflat_one_task_per_detector_gives_the_same_products(skyflat_campaign, dask_client, tmp_path):
    plan, out, _, _ = skyflat_campaign
    result = run_campaign(plan, tmp_path, client=dask_client, split=False)
    assert result.ok
    doc = json.loads((tmp_path / CAMPAIGN_FILE).read_text())
    for det in plan.jobs:
        assert doc["detectors"][det]["tasks"] == []  # one task: the detector's own record
        assert_same_products(tmp_path / det, out / det)


def test_skyflat_rerun_skips_complete_detectors(skyflat_campaign, dask_client):
    """The prepare task finds the record and the products intact: no stack task does any work."""
    plan, out, _, _ = skyflat_campaign
    stamp = {p: p.stat().st_mtime_ns for p in (out / "NRCA1").iterdir()}
    again = run_campaign(plan, out, client=dask_client)
    assert {d: o.state for d, o in again.outcomes.items()} == {"NRCA1": "skipped", "NRCBLONG": "skipped"}
    assert {p: p.stat().st_mtime_ns for p in (out / "NRCA1").iterdir()} == stamp
    doc = json.loads((out / CAMPAIGN_FILE).read_text())
    assert [t["task"] for t in doc["detectors"]["NRCA1"]["tasks"]] == ["prepare", "combine"]
    assert not list(out.glob(".nircam-campaign-*"))


def test_skyflat_failed_filter_fails_only_its_detector(images_two, dask_client, tmp_path):
    """An image with no usable sky (found only when a worker reads its pixels): its stack task
    fails, its detector fails with the file named and no products; the other detector is done;
    nothing hidden is left in OUTDIR."""
    root, sim = images_two
    data = tmp_path / "data"
    shutil.copytree(root, data)
    plan = plan_skyflat([data], refs=[data / "reference"])
    job = plan.jobs["NRCBLONG"]
    bad = job.files[job.split["F150W"][1]]
    with fits.open(bad, mode="update") as h:
        h["SCI"].data[:] = np.nan
    out = tmp_path / "out"
    result = run_campaign(plan, out, client=dask_client, keep_going=True)
    assert result.outcomes["NRCA1"].state == "done" and (out / "NRCA1" / "flat_NRCA1_F150W.fits").is_file()
    failed = result.outcomes["NRCBLONG"]
    assert failed.state == "failed" and os.path.basename(bad) in failed.error and "no usable sky" in failed.error
    assert not result.ok
    assert not (out / "NRCBLONG").exists() or not any(p.suffix in (".fits", ".ecsv")
                                                       for p in (out / "NRCBLONG").iterdir())
    assert list(Table.read(out / "flats_all.ecsv")["detector"]) == ["NRCA1"] * 3
    doc = json.loads((out / CAMPAIGN_FILE).read_text())
    tasks = {t["task"]: t for t in doc["detectors"]["NRCBLONG"]["tasks"]}
    assert "stack F150W" in tasks and "combine" in tasks
    assert doc["detectors"]["NRCBLONG"]["state"] == "failed"
    assert not list(out.glob(".nircam-campaign-*"))


def test_skyflat_cancel_mid_run_leaves_no_partial_products(images_two, dask_client, tmp_path):
    """Cancelled once a stack task has finished: each detector is done with all its products or
    cancelled with none, and neither the work folder nor the cancel flag is left."""
    root, _ = images_two
    plan = plan_skyflat([root], refs=[root / "reference"])
    ended = []
    result = run_campaign(plan, tmp_path, client=dask_client, cancel=lambda: bool(ended),
                          progress=lambda s: ended.extend(d for d, (k, _) in s.parts.items() if k >= 1))
    assert ended and result.cancelled and not result.ok
    states = {d: o.state for d, o in result.outcomes.items()}
    assert set(states.values()) <= {"cancelled", "done"}, states
    for det, state in states.items():
        products = {p.name for p in (tmp_path / det).iterdir()} if (tmp_path / det).exists() else set()
        if state == "done":
            assert {f"flat_{det}_{t}.fits" for t in ("F090W", "F150W", "F200W")} <= products, products
        else:
            assert not any(name.endswith((".fits", ".ecsv")) for name in products), (det, products)
    assert not list(tmp_path.glob(".nircam-campaign-*"))
    assert json.loads((tmp_path / CAMPAIGN_FILE).read_text())["cancelled"] is True
