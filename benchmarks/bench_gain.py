"""Gain engine speed and memory, measured side by side in one run.

1. Statistics stage on full frames (per group of a pair: clipped mean of the sum, clipped
   variance of the difference without the pixels rejected in the sum), for 256 and 128 px
   boxes, and the covariances at lags up to 3 over the same pixels (target: at most 2x the
   statistics), against
   - a per-box loop of ``astropy.stats.sigma_clipped_stats`` on the summed and the differenced
     frame (3 sigma, iterated to convergence; boxes cut by precomputed indices, less the pixels
     flagged in the DQ: NaN in their place would send astropy down a path ~6x slower), and
   - one streaming pass that only reads the same groups of the two raw ramps and sums them.
2. End to end (``run_gain`` with full calibration) on 10 full-frame integrations of 12 and
   20 groups: wall time and peak memory, each in a fresh process.

Usage: python benchmarks/bench_gain.py [--workdir DIR] [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _simulate(folder: Path, ngroups: int, nints: int = 10) -> dict:
    from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats

    marker = folder / "done.json"
    if marker.exists():
        return json.loads(marker.read_text())
    r = simulate_flats(folder, FlatSimConfig(detector="NRCB1", nints=nints, ngroups=ngroups, seed=7))
    info = {"ramps": [str(p) for p in r.ramps], "refs": {k: str(v) for k, v in r.references.items()},
            "regions": str(r.regions)}
    marker.write_text(json.dumps(info))
    return info


def _calibrated_pair(info: dict, groups: int):
    from nircam_gui.core.calibrate import CalibrationConfig, calibrate_integration

    refs = info["refs"]
    cfg = CalibrationConfig(superbias=refs["SUPERBIAS"], linearity=refs["LINEARITY"], saturation=refs["SATURATION"],
                            mask=refs["MASK"], ipc=refs["IPC"], max_groups=groups, chunk=groups)
    a = next(calibrate_integration(info["ramps"][2], 0, cfg))
    b = next(calibrate_integration(info["ramps"][3], 0, cfg))
    return a, b


REPEATS = 5  # every timing is the median of this many runs: single runs varied by +-20% here


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def bench_statistics(info: dict, groups: int = 5) -> None:
    from astropy.stats import sigma_clipped_stats

    from nircam_gui.core import dq as dqbits
    from nircam_gui.core.gain.boxes import make_boxes
    from nircam_gui.core.gain.clipstats import BoxClipper
    from nircam_gui.core.gain.covariances import BoxCovariances
    from nircam_gui.core.readers import open_ramp

    a, b = _calibrated_pair(info, groups)
    # the pixels the engine may use, group by group (as in run_gain)
    usable = ((a.pixeldq | b.pixeldq) & np.uint32(dqbits.DO_NOT_USE)) == 0
    valid = [usable & ((a.groupdq[g] | b.groupdq[g]) == 0) for g in range(groups)]
    print(f"pixels flagged: {100 * (1 - np.mean(valid[0])):.2f}% of the frame")
    print(f"\n== statistics stage: full frame 2048x2048, {groups} groups of one pair ==")
    # baseline: read the same raw groups of both integrations and sum them
    def stream() -> None:
        with open_ramp(info["ramps"][2]) as ra, open_ramp(info["ramps"][3]) as rb:
            for g in range(groups):
                s = ra.read_group(0, g).astype(np.float32)
                s += rb.read_group(0, g)

    t_stream = _median_time(stream, REPEATS) / groups
    print(f"stream (read 2 raw groups + sum): {1e3 * t_stream:8.1f} ms/group")
    for box in (256, 128):
        grid = make_boxes((2048, 2048), box)
        clipper = BoxClipper(grid.labels)
        clipper.clip_pair(a.data[0], b.data[0], valid[0])  # compile/warm up outside the timing

        def ours() -> None:
            for g in range(groups):
                clipper.clip_pair(a.data[g], b.data[g], valid[g])

        t_ours = _median_time(ours, REPEATS) / groups
        # covariances at lags up to 3 over the pixels of the variance, from the statistics just made
        covs = BoxCovariances(clipper, 3)
        stats = [clipper.clip_pair(a.data[g], b.data[g], valid[g]) for g in range(groups)]
        covs.measure(a.data[0], b.data[0], valid[0], *stats[0])  # compile/warm up

        def covariances() -> None:
            for g in range(groups):
                covs.measure(a.data[g], b.data[g], valid[g], *stats[g])

        t_cov = _median_time(covariances, REPEATS) / groups
        # per-box loop of astropy's sigma_clipped_stats over the same boxes, on the sum and the difference
        index = [np.flatnonzero(grid.labels.ravel() == k) for k in range(1, grid.nbox + 1)]
        ng = min(groups, 2)

        def astropy_loop() -> None:
            for g in range(ng):
                sa = (a.data[g] + b.data[g]).ravel()
                da = (a.data[g] - b.data[g]).ravel()
                vf = valid[g].ravel()
                for idx in index:
                    use = idx[vf[idx]]
                    sigma_clipped_stats(sa[use], sigma=3, maxiters=None)
                    sigma_clipped_stats(da[use], sigma=3, maxiters=None)

        t_astropy = _median_time(astropy_loop, 3) / ng
        print(f"box {box:3d} ({grid.nbox:3d} boxes): ours {1e3 * t_ours:7.1f} ms/group | astropy loop "
              f"{1e3 * t_astropy:8.1f} ms/group | astropy/ours = {t_astropy / t_ours:5.1f}x (target >= 30) | "
              f"ours/stream = {t_ours / t_stream:4.1f}x (target <= 3)")
        print(f"          covariances, lags <= 3: {1e3 * t_cov:7.1f} ms/group | covariances/statistics = "
              f"{t_cov / t_ours:4.2f}x (target <= 2)")


_E2E = """
import json, resource, sys, time
from nircam_gui.core.gain.run import GainOptions, run_gain
info = json.loads(sys.argv[1])
r = info["refs"]
opt = GainOptions(box=256, regions=info["regions"], ipc="deconvolve", ipc_kernel=r["IPC"], superbias=r["SUPERBIAS"],
                  linearity=r["LINEARITY"], saturation=r["SATURATION"], mask=r["MASK"])
t0 = time.perf_counter()
res = run_gain(info["ramps"], opt)
wall = time.perf_counter() - t0
print(json.dumps({"wall_s": wall, "stats_s": res.timings["statistics_s"], "cov_s": res.timings["covariances_s"],
                  "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2}))
"""


def bench_end_to_end(infos: dict[int, dict]) -> None:
    print("\n== end to end: 10 full-frame integrations, full calibration, 256 px boxes ==")
    rows = {}
    for ngroups, info in infos.items():
        out = subprocess.run([sys.executable, "-c", _E2E, json.dumps(info)], capture_output=True, text=True)
        if out.returncode:
            print(out.stderr[-2000:])
            continue
        rows[ngroups] = json.loads(out.stdout.strip().splitlines()[-1])
        r = rows[ngroups]
        print(f"{ngroups:3d} groups: {r['wall_s']:6.1f} s wall ({r['stats_s']:5.1f} s statistics, "
              f"{r['cov_s']:5.1f} s covariances), "
              f"peak memory {r['peak_gb']:.2f} GB (target < 4 GB)")
    if len(rows) == 2:
        (g1, r1), (g2, r2) = sorted(rows.items())
        print(f"peak memory {g2} vs {g1} groups: {r2['peak_gb'] / r1['peak_gb']:.2f}x "
              f"(time {r2['wall_s'] / r1['wall_s']:.2f}x for {g2 / g1:.2f}x the groups)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "nircam-bench-gain"))
    ap.add_argument("--quick", action="store_true", help="statistics stage only")
    args = ap.parse_args()
    work = Path(args.workdir)
    infos = {ng: _simulate(work / f"g{ng}", ng) for ng in ((20,) if args.quick else (12, 20))}
    bench_statistics(infos[20])
    if not args.quick:
        bench_end_to_end(infos)


if __name__ == "__main__":
    main()
