"""Every bad input raises NircamFileError naming the file, in the core (no Qt, no CLI)."""

from __future__ import annotations

import os

import pytest

from nircam_gui.core.errors import NircamFileError
from nircam_gui.core.gain.run import GainOptions, run_gain
from nircam_gui.core.skyflat.options import SkyflatOptions
from .skyflat_run import run_and_write as run_skyflat

from .cases import GAIN_CASES, SKYFLAT_CASES, gain_case, skyflat_case


def _gain_options(case) -> GainOptions:
    kw = {"ipc": "none", "box": 32, **case.options}
    return GainOptions(**kw)


@pytest.mark.parametrize("name", GAIN_CASES)
def test_gain_core_names_file_and_problem(name, tmp_path, flats, flats_b1, flats_64, cals):
    case = gain_case(name, tmp_path, flats, flats_b1, flats_64, cals)
    with pytest.raises(NircamFileError) as info:
        run_gain(case.files, _gain_options(case))
    err = info.value
    assert os.path.abspath(err.path) == os.path.abspath(case.blame)
    assert case.words in err.problem
    assert str(err).startswith(f"{err.path}: ") and "\n" not in str(err)


@pytest.mark.parametrize("name", SKYFLAT_CASES)
def test_skyflat_core_names_file_and_problem(name, tmp_path, flats, cals):
    case = skyflat_case(name, tmp_path, flats, cals)
    kw = {"ground_flats": [case.options["ground_flat"]]} if "ground_flat" in case.options else {}
    if "ground_mask" in case.options:
        kw["ground_masks"] = [case.options["ground_mask"]]
    with pytest.raises(NircamFileError) as info:
        run_skyflat(case.files, tmp_path / "out", options=SkyflatOptions(figures=False, checksums=False), **kw)
    assert os.path.abspath(info.value.path) == os.path.abspath(case.blame)
    assert case.words in info.value.problem


def test_odd_number_of_integrations_is_a_warning_naming_the_file(flats):
    result = run_gain([str(p) for p in flats.ramps[:3]], GainOptions(ipc="none", box=32))
    assert len(result.pairs) == 1
    (warning,) = result.warnings
    assert warning.startswith(f"{flats.ramps[2]}: 3 integrations, an odd number") and "left out" in warning


def test_skyflat_named_reference_for_another_detector_is_reported(tmp_path, cals):
    from .conftest import copy_with

    other = copy_with(cals.flat_files[0], tmp_path / "a1_flat.fits", primary={"DETECTOR": "NRCA1"})
    result = run_skyflat(cals.cal_files, tmp_path / "out", ground_flats=[other],
                         options=SkyflatOptions(figures=False, checksums=False))
    assert any(w.startswith(f"{other}: FLAT reference file for NRCA1") and "not used" in w for w in result.warnings)


def test_skyflat_too_few_images_is_a_warning(tmp_path, cals):
    result = run_skyflat(cals.cal_files[:1], tmp_path / "out", options=SkyflatOptions(figures=False, checksums=False))
    assert any("only 1 image(s)" in w for w in result.warnings)
