"""RunData: a study's view of a gain run, from memory or from the saved folder, re-fitted."""

import numpy as np
import pytest

from nircam_gui.core.errors import NircamFileError
from nircam_gui.core.gain.run import options_dict
from nircam_gui.core.gain.products import write_gain_products
from nircam_gui.core.gain.studies.rundata import RunData, is_run_folder, obtain_runs


def test_refit_at_the_run_settings_returns_the_engine_maps(study_runs, study_rundata):
    """The studies' re-fit and the engine agree exactly; a change in the engine's post-processing fails here."""
    for key in (128, "none"):
        result, run = study_runs[key], study_rundata[key]
        refit = run.refit(first_pair=result.options.first_pair)
        np.testing.assert_array_equal(refit.maps.pair_used, result.maps.pair_used)
        np.testing.assert_allclose(refit.pair_gain, result.maps.pair_gain, rtol=0, atol=0)
        np.testing.assert_allclose(refit.maps.mean_gain, result.maps.mean_gain, rtol=0, atol=0)
        np.testing.assert_allclose(refit.maps.single_err, result.maps.single_err, rtol=1e-12)
        np.testing.assert_allclose(np.asarray(refit.sectors["gain"]), np.asarray(result.sectors["gain"]), rtol=1e-12)


def test_saved_folder_reads_back_the_same_run(study_runs, study_rundata, tmp_path):
    result = study_runs[256]
    write_gain_products(result, tmp_path / "run", figures=False, checksums=False)
    assert is_run_folder(tmp_path / "run") and not is_run_folder(tmp_path)
    saved = RunData.load(tmp_path / "run")
    mem = study_rundata[256]
    assert saved.detector == "NRCB1" and saved.box_size == 256 and saved.ipc_mode == "deconvolve"
    np.testing.assert_array_equal(saved.labels, mem.labels)
    np.testing.assert_array_equal(saved.pair_used, mem.pair_used)
    np.testing.assert_allclose(saved.mean, mem.mean, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(saved.variance, mem.variance, rtol=1e-12, equal_nan=True)
    for lim in (5000.0, 7000.0):
        np.testing.assert_allclose(saved.refit(lim).maps.mean_gain, mem.refit(lim).maps.mean_gain, rtol=1e-12)
    # the saved run stands in for the engine when files and point-defining options match
    assert saved.matches(result.files, options_dict(result.options))
    assert not saved.matches(result.files, options_dict(study_options_like(result, box=128)))
    assert not saved.matches(result.files[:-2], options_dict(result.options))
    runs = obtain_runs([{"box": 256}], result.files, result.options, [saved])
    assert runs[0] is saved
    with pytest.raises(NircamFileError, match="not a nircam-gain output"):
        RunData.load(tmp_path)


def study_options_like(result, **kw):
    import dataclasses

    return dataclasses.replace(result.options, **kw)


def test_obtain_runs_without_ramps_or_saved_run_says_what_is_missing(study_sim, options_for):
    sim, _ = study_sim
    with pytest.raises(NircamFileError, match="no saved run"):
        obtain_runs([{"box": 64}], [], options_for(sim), [])


def test_cancelled_runs_leave_nothing(study_sim, options_for, tmp_path):
    from nircam_gui.core.progress import Cancelled

    sim, _ = study_sim
    calls = []
    with pytest.raises(Cancelled):
        obtain_runs([{"box": 256}], sim.ramps, options_for(sim), [], tmp_path / "runs",
                    progress=lambda f, m: calls.append(f), cancel=lambda: len(calls) > 3)
    assert calls and all(0 <= f <= 1 for f in calls)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
