"""run_gain as map (one pair) and reduce (all pairs): the steps a campaign runs as Dask tasks."""

import pickle

import numpy as np
import pytest

from nircam_gui.core.gain.run import GainOptions, combine_gain, measure_pair, prepare_gain, run_gain
from nircam_gui.core.progress import Cancelled
from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats


@pytest.fixture(scope="module")
def three_pairs(tmp_path_factory):
    return simulate_flats(tmp_path_factory.mktemp("steps"),
                          FlatSimConfig(detector="NRCB4", size=128, nints=6, ngroups=6, seed=31))


def _options(sim, **kw):
    r = sim.references
    refs = dict(superbias=str(r["SUPERBIAS"]), linearity=str(r["LINEARITY"]), saturation=str(r["SATURATION"]),
                mask=str(r["MASK"]))
    return GainOptions(**{"box": 32, "regions": str(sim.regions), "ipc": "deconvolve", "ipc_kernel": str(r["IPC"]),
                          "cov_lag": 1, **refs, **kw})


def _same_result(a, b):
    for name in ("mean", "variance", "variance_raw", "diff_mean", "npix_sum", "npix_diff", "group_median", "cov",
                 "cov_npairs"):
        np.testing.assert_array_equal(getattr(a.ptc, name), getattr(b.ptc, name), err_msg=name)
    np.testing.assert_array_equal(a.maps.mean_gain, b.maps.mean_gain)
    np.testing.assert_array_equal(a.maps.mean_err, b.maps.mean_err)
    np.testing.assert_array_equal(a.maps.pair_gain, b.maps.pair_gain)
    assert list(a.maps.pair_used) == list(b.maps.pair_used)
    np.testing.assert_array_equal(a.covariance.pair_gain, b.covariance.pair_gain)
    assert list(a.sectors["gain"]) == list(b.sectors["gain"])


def test_pairs_measured_apart_and_combined_equal_run_gain(three_pairs):
    """Each pair measured from a setup that travelled through pickle (as to a Dask worker, which
    rebuilds the box grid), in another order, then combined: the numbers of run_gain, bit for bit,
    with the covariances measured and the covariance model fitted beside the linear one."""
    files = [str(p) for p in three_pairs.ramps]
    opt = _options(three_pairs)
    whole = run_gain(files, opt)
    setup = prepare_gain(files, opt)
    assert len(setup.pairs) == 3
    blob = pickle.dumps(setup)
    assert pickle.loads(blob)._geometry is None  # the box grid is remade where the pairs are measured
    stats = [measure_pair(pickle.loads(blob), i) for i in (2, 0, 1)]
    assert stats[0].mean.shape == (6, whole.boxes.nbox) and stats[0].cov.shape == (6, whole.boxes.nbox, 2, 2)
    parts = combine_gain(pickle.loads(blob), [pickle.loads(pickle.dumps(s)) for s in stats])
    _same_result(parts, whole)
    with pytest.raises(ValueError, match="pairs"):
        combine_gain(setup, stats[:2])


def test_estimated_superbias_in_a_shared_folder(three_pairs, tmp_path):
    """Without a SUPERBIAS the bias is estimated from all the integrations, once, into the folder
    given (a campaign's, which every worker sees); the pairs then calibrate with it."""
    files = [str(p) for p in three_pairs.ramps]
    opt = _options(three_pairs, superbias=None)
    with pytest.raises(FileNotFoundError, match="estimated SUPERBIAS does not exist"):
        prepare_gain(files, opt, workdir=tmp_path / "work")  # a campaign's folder, gone: not made again
    assert not (tmp_path / "work").exists()
    (tmp_path / "work").mkdir()
    setup = prepare_gain(files, opt, workdir=tmp_path / "work")
    assert setup.estimated_superbias and setup.estimated_superbias.startswith(str(tmp_path / "work"))
    assert any("estimated from the ramps" in n for n in setup.notes)
    again = pickle.loads(pickle.dumps(setup))
    combined = combine_gain(again, [measure_pair(again, i) for i in range(3)])
    _same_result(combined, run_gain(files, opt))


def test_progress_over_the_pairs_and_cancel(three_pairs):
    files = [str(p) for p in three_pairs.ramps]
    seen = []
    run_gain(files, _options(three_pairs, cov_lag=None), lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0) and len(seen) == 18
    assert seen[-1][1] == "pair 3: group 6 of 6" and seen[5][1] == "pair 1: group 6 of 6"
    calls = []
    with pytest.raises(Cancelled):
        run_gain(files, _options(three_pairs, cov_lag=None), None, lambda: calls.append(1) or len(calls) > 8)


def test_run_gain_reads_the_reference_files_once(three_pairs, monkeypatch):
    """run_gain reads the calibration's reference files in a thread beside the box layout; the
    integrations' calibrations take them from there: one read for the run."""
    import threading

    from nircam_gui.core.calibrate import steps

    calls = []
    real = steps.load_references

    def counted(*args, **kwargs):
        calls.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(steps, "load_references", counted)
    monkeypatch.setattr(steps, "_SHARED", type(steps._SHARED)())
    files = [str(p) for p in three_pairs.ramps]
    result = run_gain(files, _options(three_pairs))
    assert calls == ["references-read"]  # read beside the layout, not again by the calibration
    assert np.isfinite(result.maps.mean_gain).any()


def test_reference_checksums_recorded_after_the_first_chunk(three_pairs, monkeypatch):
    """The calibration's reference files are hashed for the provenance, not before the first chunk
    of the run is calibrated (the run's hashing thread is still at them then); every pair's
    statistics, and so the products, carry their SHA-256."""
    import hashlib

    from nircam_gui.core.calibrate import config, fused

    order = []
    real_checksum, real_calibrate = config.file_checksum, fused.FusedCalibrator.calibrate

    def checksum(path):
        order.append("checksum")
        return real_checksum(path)

    def calibrate(self, *args, **kwargs):
        order.append("chunk")
        return real_calibrate(self, *args, **kwargs)

    monkeypatch.setattr(config, "file_checksum", checksum)
    monkeypatch.setattr(fused.FusedCalibrator, "calibrate", calibrate)
    files = [str(p) for p in three_pairs.ramps]
    setup = prepare_gain(files, _options(three_pairs, cov_lag=None))
    stats = [measure_pair(setup, i) for i in range(3)]
    assert order[0] == "chunk" and "checksum" in order
    for st in stats:
        refs = st.calibration["references"]
        assert set(refs) == {"SUPERBIAS", "LINEARITY", "SATURATION", "MASK", "IPC"}
        for r in refs.values():
            with open(r["path"], "rb") as f:
                assert r["sha256"] == hashlib.sha256(f.read()).hexdigest()
    assert "reference_checksums" not in stats[0].calibration["settings"]
