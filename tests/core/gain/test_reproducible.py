"""The gain engine gives the same numbers, bit for bit, however its kernels were compiled."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats

_RUN = textwrap.dedent("""
    import json, sys
    import numpy as np
    from nircam_gui.core.gain.run import GainOptions, run_gain
    info = json.loads(sys.argv[1])
    r = info["refs"]
    opt = GainOptions(box=64, regions=info["regions"], ipc="deconvolve", ipc_kernel=r["IPC"], superbias=r["SUPERBIAS"],
                      linearity=r["LINEARITY"], saturation=r["SATURATION"], mask=r["MASK"])
    res = run_gain(info["ramps"], opt)
    np.save(sys.argv[2], np.stack([res.ptc.mean, res.ptc.variance]))
""")


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    sim = simulate_flats(tmp_path_factory.mktemp("repro"),
                         FlatSimConfig(detector="NRCB1", size=256, nints=4, ngroups=6, seed=8))
    return {"ramps": [str(p) for p in sim.ramps], "refs": {k: str(v) for k, v in sim.references.items()},
            "regions": str(sim.regions)}


def test_fresh_and_cached_kernels_agree_bit_for_bit(small_set, tmp_path):
    """With fastmath, numba's freshly compiled kernels and those it loaded from its cache summed
    in different orders: one PTC point in 432 differed in the last bit, and a GUI run (child
    process) and the command line disagreed. Strict IEEE order makes it reproducible."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    for name in ("fresh", "cached"):
        subprocess.run([sys.executable, "-c", _RUN, json.dumps(small_set), str(tmp_path / f"{name}.npy")],
                       env=env, check=True, capture_output=True)
    assert any((tmp_path / "numba-cache").rglob("*.nbi"))  # the second run had a cache to load
    fresh, cached = np.load(tmp_path / "fresh.npy"), np.load(tmp_path / "cached.npy")
    assert np.isfinite(fresh).any()
    np.testing.assert_array_equal(fresh, cached)
