"""The fused engine against the step-by-step numpy engine: the same numbers, bit for bit."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

from nircam_gui.core.calibrate import CalibrationConfig, MissingReferenceWarning, calibrate_integration
from nircam_gui.core.calibrate.rawread import RawGroupReader
from nircam_gui.core.dq import SATURATED
from nircam_gui.core.readers import open_ramp
from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats


def _run(sim, integration=0, ramp=None, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingReferenceWarning)
        chunks = list(calibrate_integration(ramp or sim.ramps[integration], 0, sim.config(**kw)))
    return (np.concatenate([c.data for c in chunks]), np.concatenate([c.groupdq for c in chunks]),
            chunks[0].pixeldq, np.concatenate([c.median_signal for c in chunks]))


def _assert_same(a, b):
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("switches", [
    {},                                                          # full Table 1
    dict(superbias=None),                                        # the bias is the first read
    dict(ipc_step=False, linearity_step=False),
    dict(even_odd=False, refpix=False),
    dict(even_odd=False, saturation_step=False, dq_init=False),
    dict(refpix=False, superbias_step=False, ipc=None),
])
def test_fused_equals_numpy_engine_bit_for_bit(bright, switches):
    # chunks of 5 against one chunk of all 18 groups: chunking changes nothing either
    fused = _run(bright, integration=1, engine="fused", chunk=5, **switches)
    numpy_ = _run(bright, integration=1, engine="numpy", chunk=18, **switches)
    _assert_same(fused, numpy_)
    if switches.get("saturation_step", True):
        sat = (fused[1] & SATURATED) != 0
        assert 0 < sat[-1].mean() < 1  # partly saturated: the running tally and its growth are exercised


@pytest.mark.parametrize("ipc_size, ncoef", [(5, 5), (3, 3)])
def test_general_kernels_equal_numpy_engine(bright, tmp_path, ipc_size, ncoef):
    """An IPC kernel other than a full 3x3 (5x5; 3x3 with a zero weight) and linearity
    polynomials other than cubics take the kernel's general loops: the same numbers."""
    from astropy.io import fits

    ipc, lin = tmp_path / "ipc.fits", tmp_path / "lin.fits"
    with fits.open(bright.refs["IPC"]) as h:
        k = h["SCI"].data.astype(np.float32)
        if ipc_size == 5:
            big = np.zeros((5, 5), np.float32)
            big[1:4, 1:4] = k
            big[0, 2] = big[4, 2] = big[2, 0] = big[2, 4] = -1e-4
            k = big
        else:
            k = k.copy()
            k[0, 0] = 0.0
        h["SCI"].data = k
        h.writeto(ipc)
    with fits.open(bright.refs["LINEARITY"]) as h:
        c = h["COEFFS"].data.astype(np.float32)
        h["COEFFS"].data = np.concatenate([c, c[-1:] * 1e-6]) if ncoef == 5 else c[:3]
        h.writeto(lin)
    kw = dict(ipc=str(ipc), linearity=str(lin))
    fused = _run(bright, integration=1, engine="fused", chunk=5, **kw)
    _assert_same(fused, _run(bright, integration=1, engine="numpy", chunk=18, **kw))
    # the references did change the numbers
    assert not np.array_equal(fused[0], _run(bright, integration=1, engine="fused", chunk=5)[0])


def test_fused_chunked_equals_unchunked(bright):
    one = _run(bright, engine="fused", chunk=18)
    for chunk in (1, 4, 7):
        _assert_same(_run(bright, engine="fused", chunk=chunk), one)


@pytest.mark.slow
def test_fused_full_frame_equals_numpy_engine(full_frame):
    _assert_same(_run(full_frame, engine="fused", chunk=2), _run(full_frame, engine="numpy", chunk=3))


def test_engine_names(bright):
    assert CalibrationConfig().engine == "fused"
    assert CalibrationConfig(engine="fast").engine == "numpy"
    with pytest.raises(ValueError, match="fused, numpy, jwst"):
        CalibrationConfig(engine="gpu")


def test_raw_reader_decodes_what_astropy_reads(bright, tmp_path):
    with open_ramp(bright.ramps[0]) as rf:
        reader = RawGroupReader(rf)
        assert reader.direct
        words, encoded = reader.read(0, 3, 7)
        assert encoded and words.dtype == np.uint16
        decoded = words.byteswap() ^ np.uint16(0x8000)
        np.testing.assert_array_equal(decoded, rf.read_groups(0, 3, 7))
        reader.close()
    # gzipped: the ordinary reader, decoded
    gz = tmp_path / "ramp_uncal.fits.gz"
    with open(bright.ramps[0], "rb") as f, gzip.open(gz, "wb") as g:
        shutil.copyfileobj(f, g)
    with open_ramp(gz) as rf:
        reader = RawGroupReader(rf)
        assert not reader.direct
        groups, encoded = reader.read(0, 0, 2)
        assert not encoded
    _assert_same(_run(bright, ramp=gz, engine="fused", max_groups=4), _run(bright, engine="fused", max_groups=4))


def test_raw_reader_truncated_file_names_it(bright, tmp_path):
    from nircam_gui.core.errors import NircamFileError

    path = tmp_path / "cut_uncal.fits"
    shutil.copy(bright.ramps[0], path)
    with open_ramp(path) as rf:
        reader = RawGroupReader(rf)
        with open(path, "r+b") as f:  # cut after the file was opened and checked
            f.truncate(os.path.getsize(path) // 2)
        with pytest.raises(NircamFileError, match="cut_uncal.fits"):
            reader.read(0, 10, 18)
        reader.close()


@pytest.mark.slow
def test_ground_cube_in_native_orientation(tmp_path):
    """Ground cubes are stored in native read-out order: the fused reader flips them as read_groups does."""
    sim = simulate_flats(tmp_path, FlatSimConfig(size=128, nints=2, ngroups=5, layout="ground", seed=3))
    refs = {k.lower(): str(v) for k, v in sim.references.items()
            if k in ("SUPERBIAS", "LINEARITY", "SATURATION", "MASK", "IPC")}
    out = []
    for engine in ("fused", "numpy"):
        chunks = list(calibrate_integration(sim.ramps[1], 0, CalibrationConfig(engine=engine, chunk=2, **refs)))
        out.append((np.concatenate([c.data for c in chunks]), np.concatenate([c.groupdq for c in chunks])))
    _assert_same(*out)


_RUN = textwrap.dedent("""
    import json, sys
    import numpy as np
    from nircam_gui.core.calibrate import CalibrationConfig, calibrate_integration
    info = json.loads(sys.argv[1])
    chunks = list(calibrate_integration(info["ramp"], 0, CalibrationConfig(chunk=4, **info["refs"])))
    np.save(sys.argv[2], np.stack([np.concatenate([c.data for c in chunks]),
                                   np.concatenate([c.groupdq for c in chunks]).astype(np.float32)]))
""")


@pytest.mark.slow
def test_same_numbers_however_compiled_and_threaded(bright, tmp_path):
    """Freshly compiled on one thread, then loaded from numba's cache on two: bit for bit the same."""
    refs = {k.lower(): str(v) for k, v in bright.refs.items()
            if k in ("SUPERBIAS", "LINEARITY", "SATURATION", "MASK", "IPC")}
    arg = json.dumps({"ramp": str(bright.ramps[0]), "refs": refs})
    cache = tmp_path / "numba-cache"
    for name, threads in (("fresh", "1"), ("cached", "2")):
        env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "NUMBA_NUM_THREADS": threads}
        subprocess.run([sys.executable, "-c", _RUN, arg, str(tmp_path / f"{name}.npy")],
                       env=env, check=True, capture_output=True)
    assert any(cache.rglob("*.nbi"))
    fresh, cached = np.load(tmp_path / "fresh.npy"), np.load(tmp_path / "cached.npy")
    np.testing.assert_array_equal(fresh, cached)
    here = _run(bright, chunk=4)
    np.testing.assert_array_equal(fresh[0], here[0])


@pytest.mark.parametrize("shape", [(3, 3), (5, 5), (2, 2), (4, 3)])
def test_convolution_terms_are_ndimage_convolve(shape):
    """The stencil's terms (offsets, weights, order) reproduce scipy.ndimage.convolve bit for bit."""
    from scipy import ndimage

    from nircam_gui.core.calibrate.fused import _convolution_terms

    rng = np.random.default_rng(sum(shape))
    kernel = rng.normal(0, 0.01, shape).astype(np.float32)
    kernel[shape[0] // 2, shape[1] // 2] = 1.02
    kernel[0, -1] = 0.0  # zero weights are skipped, as ndimage does
    image = rng.normal(1000, 30, (40, 50)).astype(np.float32)
    ky, kx, kw, halo = _convolution_terms(kernel)
    padded = np.zeros((40 + 2 * halo, 50 + 2 * halo), np.float32)
    padded[halo:halo + 40, halo:halo + 50] = image
    acc = np.zeros((40, 50))
    for dy, dx, w in zip(ky, kx, kw):
        acc += padded[halo + dy:halo + dy + 40, halo + dx:halo + dx + 50].astype(np.float64) * w
    expected = ndimage.convolve(image, kernel, mode="constant", cval=0.0)
    np.testing.assert_array_equal(acc.astype(np.float32), expected)
