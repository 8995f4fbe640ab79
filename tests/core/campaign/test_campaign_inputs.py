"""Campaign planning: inputs grouped by detector, references and regions per detector, problems by name."""

import shutil

import pytest

from nircam_gui.core.campaign import collect_inputs, find_regions, plan_gain, plan_skyflat
from nircam_gui.core.campaign.inputs import scan_folder
from nircam_gui.core.errors import NircamFileError

BOX = 32  # as the fixtures (conftest.py) are small frames


def test_inputs_grouped_by_detector_from_files_and_folders(flats_two):
    root, sims = flats_two
    # one detector by folder, the other by file names: any mix
    by_det, skipped = collect_inputs([root / "NRCA1", *sims["NRCB4"].ramps], ("uncal",), "flat-field ramps")
    assert list(by_det) == ["NRCA1", "NRCB4"]
    assert [m.path for m in by_det["NRCA1"]] == [str(p) for p in sims["NRCA1"].ramps]
    assert len(by_det["NRCB4"]) == 4
    # the top folder: reference/ and truth/ are not inputs, nothing is counted twice
    by_det2, _ = collect_inputs([root, root / "NRCB4"], ("uncal",), "flat-field ramps")
    assert {d: len(m) for d, m in by_det2.items()} == {"NRCA1": 4, "NRCB4": 4}
    assert not any("reference" in str(p) or "truth" in str(p) for p in scan_folder(root))


def test_named_file_of_the_wrong_kind_is_refused(flats_two):
    root, sims = flats_two
    ref = sims["NRCA1"].references["SUPERBIAS"]
    with pytest.raises(NircamFileError, match="given as one of the flat-field ramps, but it is"):
        collect_inputs([ref], ("uncal",), "flat-field ramps")
    with pytest.raises(NircamFileError, match="does not exist"):
        collect_inputs([root / "nope"], ("uncal",), "flat-field ramps")
    with pytest.raises(NircamFileError, match="no flat-field ramps found"):
        collect_inputs([root / "NRCA1" / "reference"], ("uncal",), "flat-field ramps")


def test_regions_matched_by_detector_name(flats_two, tmp_path):
    root, sims = flats_two
    found, ambiguous = find_regions([root], ["NRCA1", "NRCB4"])
    assert found == {"NRCB4": str(sims["NRCB4"].regions)} and not ambiguous
    two = tmp_path / "regions"
    two.mkdir()
    shutil.copy(sims["NRCB4"].regions, two / "epoxy_void_nrcb4.reg")
    shutil.copy(sims["NRCB4"].regions, two / "B4_voids.reg")  # the short name, as a word
    found, ambiguous = find_regions([two], ["NRCA1", "NRCB4"])
    assert not found and sorted(ambiguous["NRCB4"]) == sorted(str(p) for p in two.iterdir())


def test_plan_gain_finds_references_beside_each_detector(flats_two):
    root, sims = flats_two
    plan = plan_gain([root], {"box": BOX}, regions=[root])
    assert not plan.problems
    for det, job in plan.jobs.items():
        refs = sims[det].references
        assert job.options.superbias == str(refs["SUPERBIAS"]) and job.options.ipc_kernel == str(refs["IPC"])
        assert job.options.box == BOX
    assert plan.jobs["NRCB4"].options.regions == str(sims["NRCB4"].regions)
    assert plan.jobs["NRCA1"].options.regions is None


def test_plan_gain_with_refs_folder_names_the_detector_without_a_kernel(flats_two, tmp_path):
    root, sims = flats_two
    refs = tmp_path / "crds"
    refs.mkdir()
    for det, sim in sims.items():
        for reftype, path in sim.references.items():
            if not (det == "NRCB4" and reftype == "IPC"):
                shutil.copy(path, refs / path.name)
    plan = plan_gain([root], {"box": BOX}, refs=[refs])
    assert plan.jobs["NRCA1"].ok
    assert plan.jobs["NRCA1"].options.linearity == str(refs / sims["NRCA1"].references["LINEARITY"].name)
    (line,) = plan.problems
    assert line.startswith("NRCB4: ") and "IPC" in line
    assert any("IPC" in n for n in plan.jobs["NRCB4"].notes)


def test_plan_gain_refuses_inconsistent_ramps(flats_two, tmp_path):
    root, sims = flats_two
    from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats

    other = simulate_flats(tmp_path / "big", FlatSimConfig(detector="NRCA1", size=64, nints=2, ngroups=4, seed=2))
    plan = plan_gain([root / "NRCA1", *other.ramps, root / "NRCB4"], {"box": BOX})
    assert plan.jobs["NRCB4"].ok
    (line,) = plan.problems
    assert line.startswith("NRCA1: ramps of different frame sizes")


def test_plan_skyflat_matches_ground_files_per_detector(images_two):
    root, sim = images_two
    plan = plan_skyflat([root], refs=[root / "reference"])
    assert not plan.problems and list(plan.jobs) == ["NRCA1", "NRCBLONG"]
    for det, job in plan.jobs.items():
        assert job.keys == ["F090W", "F150W", "F200W"]
        assert [p.rsplit("/", 1)[1] for p in job.references["ground_masks"]] == [f"{det.lower()}_mask.fits"]
        assert sorted(p.rsplit("/", 1)[1] for p in job.references["ground_flats"]) == [
            f"{det.lower()}_{f}_clear_flat.fits" for f in ("f090w", "f150w", "f200w")]
        # one stack part per filter, its images in the order the analysis stacks them
        assert job.parts == 3 and list(job.split) == job.keys
        assert sorted(i for idx in job.split.values() for i in idx) == list(range(len(job.files)))
    chunked = plan_skyflat([root], refs=[root / "reference"], images_per_task=2)
    assert list(chunked.jobs["NRCA1"].split) == ["F090W", "F090W-2", "F150W", "F150W-2", "F200W", "F200W-2"]
    assert chunked.jobs["NRCA1"].parts == 6
