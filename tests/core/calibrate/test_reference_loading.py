"""Reference files read for the calibration: only the arrays used, prepared as stcal prepares them."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from stcal.linearity.linearity import prepare_coefficients
from stdatamodels.jwst.datamodels import dqflags

from nircam_gui.core.calibrate.steps import load_references, prepare_linearity
from nircam_gui.core.errors import NircamFileError
from nircam_gui.core.readers import open_reference
from nircam_gui.core.reffiles import write_reference

NO_LIN_CORR = dqflags.pixel["NO_LIN_CORR"]


def _coefficients(rng, shape=(4, 40, 48)):
    coeffs = rng.normal(0.0, 1e-6, shape).astype(np.float32)
    coeffs[1] = 1.0 + rng.normal(0.0, 1e-3, shape[1:])
    dq = np.zeros(shape[1:], np.uint32)
    dq[rng.random(shape[1:]) < 0.05] |= NO_LIN_CORR
    dq[rng.random(shape[1:]) < 0.05] |= dqflags.pixel["DO_NOT_USE"]
    coeffs[2, rng.random(shape[1:]) < 0.03] = np.nan  # a NaN in one coefficient
    coeffs[:, 3, 5] = np.nan  # every coefficient NaN
    coeffs[1, rng.random(shape[1:]) < 0.03] = 0.0  # no linear term
    coeffs[2, 7, 7], coeffs[3, 7, 7] = np.inf, -np.inf  # sums to NaN, holds none
    coeffs[2, 8, 8] = np.float32(3e38)
    coeffs[3, 8, 8] = np.float32(3e38)  # sums to inf
    dq[3, 6] = NO_LIN_CORR
    coeffs[0, 3, 6] = np.nan  # flagged and NaN: the flag wins, as in stcal
    return coeffs, dq


def test_prepare_linearity_matches_stcal():
    rng = np.random.default_rng(3)
    coeffs, dq = _coefficients(rng)
    want_c, want_dq = prepare_coefficients(coeffs.copy(), dq.copy(), np.zeros(dq.shape, np.uint32), dqflags.pixel)
    got_c, got_dq = prepare_linearity(coeffs.copy(), dq.copy())
    assert got_c.dtype == np.float32 and got_dq.dtype == np.uint32
    np.testing.assert_array_equal(got_c, want_c)  # NaN in the same places too
    np.testing.assert_array_equal(got_dq, want_dq)
    # the cases the test is for did occur
    assert (want_dq & NO_LIN_CORR).sum() > (dq & NO_LIN_CORR).sum()
    assert np.isinf(got_c[2:, 7, 7]).all() and got_dq[7, 7] & NO_LIN_CORR == 0


def test_prepare_linearity_without_bad_pixels_is_unchanged():
    rng = np.random.default_rng(4)
    coeffs = rng.normal(0.0, 1e-6, (3, 10, 12)).astype(np.float32)
    coeffs[1] = 1.0
    got_c, got_dq = prepare_linearity(coeffs.copy(), np.zeros((10, 12), np.uint32))
    np.testing.assert_array_equal(got_c, coeffs)
    assert not got_dq.any()


def test_reference_arrays_read_as_asked(tmp_path):
    rng = np.random.default_rng(5)
    sb = rng.normal(12000.0, 30.0, (2048, 2048)).astype(np.float32)
    sb[10, 10] = np.nan
    dq = np.zeros((2048, 2048), np.uint32)
    dq[5, 5] = dqflags.pixel["HOT"]
    prim = fits.PrimaryHDU()
    prim.header.update(REFTYPE="SUPERBIAS", DETECTOR="NRCA1", INSTRUME="NIRCAM", TELESCOP="JWST")
    path = tmp_path / "sb.fits"
    # big-endian float32, DQ as FITS stores uint32 (int32 with BZERO 2**31), an ERR the calibration does not use
    fits.HDUList([prim, fits.ImageHDU(sb, name="SCI"), fits.ImageHDU(dq, name="DQ"),
                  fits.ImageHDU(np.ones_like(sb), name="ERR")]).writeto(path)
    full = open_reference(path, "SUPERBIAS")
    part = open_reference(path, "SUPERBIAS", ("SCI", "DQ"))
    assert full.err is not None and part.err is None
    np.testing.assert_array_equal(part.data, full.data)
    np.testing.assert_array_equal(part.dq, full.dq)
    assert part.dq.dtype == np.uint32
    # what the calibration keeps: native arrays, NaN bias 0 as jwst's superbias step
    from nircam_gui.core.calibrate import CalibrationConfig

    cfg = CalibrationConfig(superbias=path)
    refs = load_references(cfg.plan(warn=False), cfg, (2048, 2048), "NRCA1")
    assert refs.superbias.dtype == np.dtype(np.float32) and refs.superbias.dtype.isnative
    assert refs.superbias[10, 10] == 0.0 and refs.superbias[11, 11] == sb[11, 11]
    assert refs.superbias_dq.dtype.isnative and refs.superbias_dq[5, 5] == dqflags.pixel["HOT"]
    # an array a type must have is still checked when asked for
    mask = write_reference(tmp_path / "ipc.fits", "IPC", "NRCA1", {"data": np.eye(3, dtype=np.float32)},
                           description="test")
    with pytest.raises(NircamFileError, match="is an IPC IPC reference file, expected SUPERBIAS|expected SUPERBIAS"):
        open_reference(mask, "SUPERBIAS", ("SCI",))


def _mask_config(tmp_path, name="mask.fits"):
    from nircam_gui.core.calibrate import CalibrationConfig

    path = write_reference(tmp_path / name, "MASK", "NRCA1", {"dq": np.zeros((40, 48), np.uint32)},
                           description="test mask")
    return CalibrationConfig(mask=str(path))


def test_references_read_by_one_thread_are_waited_for_not_read_again(tmp_path, monkeypatch):
    """A run's setup starts reading the reference files in a thread; the calibration asking for
    them meanwhile waits for that read instead of making a second one."""
    import threading

    from nircam_gui.core.calibrate import steps

    cfg = _mask_config(tmp_path)
    plan = cfg.plan(warn=False)
    started, release = threading.Event(), threading.Event()
    calls = []
    real = steps.load_references

    def slow(*args, **kwargs):
        calls.append(threading.current_thread().name)
        started.set()
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(steps, "load_references", slow)
    monkeypatch.setattr(steps, "_SHARED", type(steps._SHARED)())
    reader = threading.Thread(target=steps.shared_references, args=(plan, cfg, (40, 48), "NRCA1"), name="reader")
    reader.start()
    assert started.wait(10)
    got = []
    waiter = threading.Thread(target=lambda: got.append(steps.shared_references(plan, cfg, (40, 48), "NRCA1")))
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive()  # waiting for the reader
    release.set()
    reader.join(10)
    waiter.join(10)
    assert calls == ["reader"]
    assert got and got[0].mask_dq.shape == (40, 48)
    assert not steps._LOADING


def test_a_failed_read_is_reported_to_the_caller_that_waited(tmp_path, monkeypatch):
    import threading

    from nircam_gui.core.calibrate import steps

    cfg = _mask_config(tmp_path)
    plan = cfg.plan(warn=False)
    started, release = threading.Event(), threading.Event()
    real = steps.load_references

    def failing_in_reader(*args, **kwargs):
        if threading.current_thread().name == "reader":
            started.set()
            release.wait(30)
            raise OSError("disk gone")
        return real(*args, **kwargs)

    monkeypatch.setattr(steps, "load_references", failing_in_reader)
    monkeypatch.setattr(steps, "_SHARED", type(steps._SHARED)())
    errors = []

    def read():
        try:
            steps.shared_references(plan, cfg, (40, 48), "NRCA1")
        except OSError as exc:
            errors.append(exc)

    reader = threading.Thread(target=read, name="reader")
    reader.start()
    assert started.wait(10)
    out = []
    waiter = threading.Thread(target=lambda: out.append(steps.shared_references(plan, cfg, (40, 48), "NRCA1")))
    waiter.start()
    release.set()
    reader.join(10)
    waiter.join(10)
    assert [str(e) for e in errors] == ["disk gone"]
    assert out and out[0].mask_dq.shape == (40, 48)  # the waiter read them itself
    assert not steps._LOADING
