"""Gain engine speed and memory, measured side by side in one run.

1. End to end on 10 full-frame integrations of 12 groups (5 pairs, full Table 1
   calibration, IPC deconvolved, 256 px boxes and the epoxy void), each in a fresh process:
   - ``nircam-gain`` (its ``main``, products written, no figures), with the time split
     into reading, calibration, reference-pixel statistics, group medians, box layout,
     box statistics, products; its modules are imported before the clock starts, as the
     other rows' are (the import time is printed);
   - the same with the step-by-step numpy calibration engine (``engine="numpy"``);
   - a plain script: numpy calibration plus a per-box ``astropy.stats.sigma_clipped_stats``
     loop on the summed and the differenced frames (3 sigma to convergence) and a PTC fit;
   - a pass that only reads the same groups and sums them: through astropy
     (``ImageHDU.section``, as any reader does) and as raw 16-bit words (the disk/memory floor).
   ``nircam-gain`` and the read-and-sum passes run alternately ``--repeat`` times (medians).
   Ratios against the targets: end to end <= 0.25x the plain script and <= 3x the
   read-and-sum pass; peak memory < 2 GB and flat in the number of groups (the same run
   on 20 groups). The per-group hot path (raw reading, reference-pixel statistics, fused
   kernel, box statistics, group medians) is printed apart from the one-off costs; numba's
   start-up, which the first jitted call of a run pays, is a stage of its own.
   ``--baseline SOURCE_TREE`` (e.g. a checkout of main) runs that version's ``nircam-gain``
   alternately with this one and prints both stage by stage (a stage a version does not
   have, or names differently, shows 0 there and its time under "rest").
2. ``--statistics``: the statistics stage alone against the per-box astropy loop, and the
   covariances at lags up to 3 over the same pixels (target: at most 2x the statistics).

Usage: python benchmarks/bench_gain.py [--workdir DIR] [--statistics] [--skip-plain] [--repeat N]
                                      [--baseline SOURCE_TREE]
The machine should be quiet; the load average is printed with the results.
"""

from __future__ import annotations

import argparse
import json
import os
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


_E2E = r"""
import json, os, sys, time
from nircam_gui.core.memory import peak_rss_mb
from collections import defaultdict
info, outdir, engine, ngroups = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
spent = defaultdict(float)

def timed(owner, name, key):
    fn = getattr(owner, name, None)
    if fn is None:  # a baseline version without this function
        return
    def wrapper(*a, **k):
        t0 = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            spent[key] += time.perf_counter() - t0
    setattr(owner, name, wrapper)

# the modules nircam-gain imports when it runs, imported (and timed) before the clock starts, as the
# other rows import theirs
t_import = time.perf_counter()
import nircam_gui.core.calibrate.config as cconf
from nircam_gui.core.calibrate import fused, pipeline, rawread, steps
from nircam_gui.core.gain import clipstats, covariances, products, run
import nircam_gui.cli.campaign
from nircam_gui.cli.gain import main
t_import = time.perf_counter() - t_import
timed(rawread.RawGroupReader, "read", "read raw words")
timed(fused, "_fused_chunk", "fused kernel")
timed(fused, "_reference_corrections", "reference statistics")
timed(fused, "even_odd_offsets_fast", "reference statistics")
timed(fused, "side_reference_signal_fast", "reference statistics")
timed(pipeline, "group_median", "group medians")
timed(pipeline, "calibrate_chunk_fast", "numpy calibration")
timed(pipeline, "shared_references", "reference files")
timed(clipstats.BoxClipper, "clip_pair", "box statistics")
timed(covariances.BoxCovariances, "measure", "covariances")
timed(run, "build_boxes", "box layout")
timed(run, "BoxClipper", "box clippers")
timed(products, "write_gain_products", "products")
if engine != "fused":
    orig = cconf.CalibrationConfig.__init__
    def init(self, *a, **k):
        orig(self, *a, **k)
        self.engine = engine
    cconf.CalibrationConfig.__init__ = init
r = info["refs"]
argv = [*info["ramps"], "-o", outdir, "--box", "256", "--regions", info["regions"], "--ipc", "deconvolve",
        "--ipc-kernel", r["IPC"], "--superbias", r["SUPERBIAS"], "--linearity", r["LINEARITY"],
        "--saturation", r["SATURATION"], "--mask", r["MASK"], "--groups", str(ngroups), "--no-figures", "-q"]
t0 = time.perf_counter()
c0 = os.times()
# numba's own start-up (its typing and target set up, ~0.3 s here) is paid by the first jitted call of
# the run, whichever stage makes it: paid here, inside the clock, and shown as a stage of its own
from nircam_gui.core.calibrate import refstats
if hasattr(refstats, "_sum_f32"):
    import numpy as np
    refstats._sum_f32(np.zeros(8, np.float32), 8)
    spent["numba start-up"] += time.perf_counter() - t0
code = main(argv)
wall = time.perf_counter() - t0
c1 = os.times()
print(json.dumps({"code": code, "wall_s": wall, "parts": dict(spent), "import_s": t_import,
                  "user_s": c1.user - c0.user, "sys_s": c1.system - c0.system,
                  "source": cconf.__file__.rsplit("/nircam_gui/", 1)[0],
                  "peak_gb": peak_rss_mb() / 1024}))
"""

_PLAIN = r"""
import json, sys, time
from nircam_gui.core.memory import peak_rss_mb
import numpy as np
from astropy.stats import sigma_clipped_stats
from nircam_gui.core.calibrate import CalibrationConfig, calibrate_integration
from nircam_gui.core.gain.run import GainOptions, build_boxes
info, ngroups = json.loads(sys.argv[1]), int(sys.argv[2])
r = info["refs"]
t0 = time.perf_counter()
opt = GainOptions(box=256, regions=info["regions"], ipc="deconvolve", ipc_kernel=r["IPC"], mask=r["MASK"])
grid = build_boxes(opt, (2048, 2048), "NRCB1")
index = [np.flatnonzero(grid.labels.ravel() == k) for k in range(1, grid.nbox + 1)]
cfg = CalibrationConfig(superbias=r["SUPERBIAS"], linearity=r["LINEARITY"], saturation=r["SATURATION"],
                        mask=r["MASK"], ipc=r["IPC"], engine="numpy", chunk=ngroups, max_groups=ngroups)
t_cal = t_stats = 0.0
gains = []
for p in range(0, len(info["ramps"]) - 1, 2):
    t = time.perf_counter()
    a = next(calibrate_integration(info["ramps"][p], 0, cfg))
    b = next(calibrate_integration(info["ramps"][p + 1], 0, cfg))
    t_cal += time.perf_counter() - t
    t = time.perf_counter()
    usable = ((a.pixeldq | b.pixeldq) & 1) == 0
    mean = np.full((ngroups, len(index)), np.nan)
    var = np.full((ngroups, len(index)), np.nan)
    for g in range(ngroups):
        s = (a.data[g] + b.data[g]).ravel()
        d = (a.data[g] - b.data[g]).ravel()
        ok = (usable & ((a.groupdq[g] | b.groupdq[g]) == 0)).ravel()
        for k, idx in enumerate(index):
            use = idx[ok[idx]]
            mean[g, k] = sigma_clipped_stats(s[use], sigma=3, maxiters=None)[0]
            var[g, k] = sigma_clipped_stats(d[use], sigma=3, maxiters=None)[2] ** 2
    for k in range(len(index)):
        sel = mean[:, k] < 10000.0
        if sel.sum() >= 3:
            gains.append(1.0 / np.polyfit(mean[sel, k], var[sel, k], 1)[0])
    t_stats += time.perf_counter() - t
print(json.dumps({"wall_s": time.perf_counter() - t0, "calibration_s": t_cal, "statistics_s": t_stats,
                  "median_gain": float(np.median(gains)),
                  "peak_gb": peak_rss_mb() / 1024}))
"""

_READ_SUM = r"""
import json, os, sys, time
import numpy as np
from nircam_gui.core.readers import open_ramp
from nircam_gui.core.calibrate.rawread import RawGroupReader
info, ngroups, how = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
t0 = time.perf_counter()
c0 = os.times()
for p in range(0, len(info["ramps"]) - 1, 2):
    with open_ramp(info["ramps"][p]) as ra, open_ramp(info["ramps"][p + 1]) as rb:
        if how == "astropy":
            for g in range(ngroups):
                s = ra.read_group(0, g).astype(np.float32)
                s += rb.read_group(0, g)
        else:
            xa, xb = RawGroupReader(ra), RawGroupReader(rb)
            for g in range(ngroups):
                s = xa.read(0, g, g + 1)[0][0].astype(np.float32)
                s += xb.read(0, g, g + 1)[0][0]
            xa.close(); xb.close()
c1 = os.times()
print(json.dumps({"wall_s": time.perf_counter() - t0, "user_s": c1.user - c0.user, "sys_s": c1.system - c0.system}))
"""


def _child(script: str, *args: str, source: str | None = None) -> dict | None:
    """Run ``script`` in a fresh interpreter; with ``source``, the nircam_gui found there."""
    env = cwd = None
    if source:
        # run from there: the script's first import path is its working folder
        cwd = os.path.abspath(source)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [cwd, os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=env, cwd=cwd)
    if out.returncode:
        print(out.stderr[-3000:])
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median_run(runs: list[dict]) -> dict | None:
    """The run of median wall time, with every timing (wall, parts) replaced by its median."""
    if not runs:
        return None
    out = dict(sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2])
    out["wall_s"] = float(np.median([r["wall_s"] for r in runs]))
    for k in ("user_s", "sys_s"):
        if all(k in r for r in runs):
            out[k] = float(np.median([r[k] for r in runs]))
    if "parts" in out:
        keys = set().union(*(r["parts"] for r in runs))
        out["parts"] = {k: float(np.median([r["parts"].get(k, 0.0) for r in runs])) for k in keys}
    return out


# the stages of the per-group hot path (raw words -> calibration -> box statistics); the rest
# are one-off costs of a run
HOT_STAGES = ("read raw words", "reference statistics", "fused kernel", "box statistics", "group medians",
              "covariances")


def _stage_table(rows: dict[str, dict], names: list[str], ngroups: int) -> None:
    """Stage times of the given rows side by side, and the per-group hot path."""
    runs = [rows[n] for n in names if rows.get(n) and "parts" in rows[n]]
    if len(runs) < 2:
        return
    keys = sorted(set().union(*(r["parts"] for r in runs)), key=lambda k: -runs[0]["parts"].get(k, 0.0))
    print(f"{'stage (s)':<24}" + "".join(f"{n[:22]:>24}" for n in names))
    for k in keys:
        print(f"{k:<24}" + "".join(f"{r['parts'].get(k, 0.0):>24.2f}" for r in runs))
    print(f"{'rest':<24}" + "".join(f"{r['wall_s'] - sum(r['parts'].values()):>24.2f}" for r in runs))
    print(f"{'wall':<24}" + "".join(f"{r['wall_s']:>24.2f}" for r in runs))
    hot = [sum(r["parts"].get(k, 0.0) for k in HOT_STAGES) for r in runs]
    print(f"{'hot path':<24}" + "".join(f"{h:>24.2f}" for h in hot))
    print(f"{'hot path, ms per group':<24}" + "".join(f"{1e3 * h / ngroups:>24.1f}" for h in hot))


def bench_end_to_end(infos: dict[int, dict], work: Path, plain: bool = True, repeat: int = 3,
                     baseline: str | None = None) -> None:
    print(f"\n== end to end: 10 full-frame integrations, full calibration, 256 px boxes "
          f"(load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}) ==")
    info12 = infos[12]
    arg = json.dumps(info12)
    # warm the page cache and numba's cache so that no run pays for the first read or a compile
    _child(_READ_SUM, arg, "12", "raw")
    _child(_E2E, arg, str(work / "out_warm"), "fused", "2")
    if baseline:
        _child(_E2E, arg, str(work / "out_warm_base"), "fused", "2", source=baseline)
    # the rows the 3x target compares are run alternately, `repeat` times each, and their medians taken
    runs: dict[str, list] = {"read+sum (astropy)": [], "read+sum (raw words)": [], "nircam-gain (fused)": []}
    if baseline:
        runs["nircam-gain (baseline)"] = []
    def ours() -> None:
        runs["nircam-gain (fused)"].append(_child(_E2E, arg, str(work / "out_fused"), "fused", "12"))

    def base() -> None:
        runs["nircam-gain (baseline)"].append(_child(_E2E, arg, str(work / "out_base"), "fused", "12",
                                                     source=baseline))

    for i in range(repeat):
        runs["read+sum (astropy)"].append(_child(_READ_SUM, arg, "12", "astropy"))
        runs["read+sum (raw words)"].append(_child(_READ_SUM, arg, "12", "raw"))
        # the two versions take turns at going first: with this version as its own baseline, the run
        # right after the read+sum passes had its box statistics 0.4-0.9 s slower (loaded machine)
        order = (ours, base) if i % 2 == 0 else (base, ours)
        for run in order if baseline else (ours,):
            run()
    rows = {name: _median_run([r for r in rs if r is not None]) for name, rs in runs.items()}
    rows["nircam-gain (numpy engine)"] = _child(_E2E, arg, str(work / "out_numpy"), "numpy", "12")
    if plain:
        rows["plain script"] = _child(_PLAIN, arg, "12")
    print(f"(median of {repeat} alternating runs for the first {len(runs)} rows; load average now "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())})")
    for name, r in rows.items():
        if r is None:
            continue
        extra = f", peak {r['peak_gb']:.2f} GB" if "peak_gb" in r else ""
        if "user_s" in r:
            # what the run's threads spent on the cores: on n cores the run can take no less than CPU / n
            cpu = r["user_s"] + r["sys_s"]
            extra += f", CPU {cpu:.1f} s ({r['user_s']:.1f} user + {r['sys_s']:.1f} system, {cpu / r['wall_s']:.2f} cores)"
        if "import_s" in r:
            extra += f" (imports before the clock: {r['import_s']:.1f} s)"
        print(f"{name:<28} {r['wall_s']:7.1f} s{extra}")
        if "source" in r and name.endswith("(baseline)"):
            print(f"    nircam_gui from {r['source']}")
        if "parts" in r:
            parts = sorted(r["parts"].items(), key=lambda kv: -kv[1])
            known = sum(v for _, v in parts)
            print("    " + ", ".join(f"{k} {v:.1f} s" for k, v in parts) + f", rest {r['wall_s'] - known:.1f} s")
        if "calibration_s" in r:
            print(f"    calibration {r['calibration_s']:.1f} s, astropy box loop {r['statistics_s']:.1f} s")
    ngroups = 12 * len(info12["ramps"])
    ours = rows.get("nircam-gain (fused)")
    if ours and "parts" in ours:
        hot = sum(ours["parts"].get(k, 0.0) for k in HOT_STAGES)
        print(f"nircam-gain hot path ({', '.join(HOT_STAGES)}): {hot:.2f} s = {1e3 * hot / ngroups:.1f} ms per group")
    if baseline:
        print(f"\nstages, median of {repeat} alternating runs ({ngroups} groups):")
        _stage_table(rows, ["nircam-gain (fused)", "nircam-gain (baseline)"], ngroups)
        new, old = rows.get("nircam-gain (fused)"), rows.get("nircam-gain (baseline)")
        if new and old:
            print(f"nircam-gain / baseline = {new['wall_s'] / old['wall_s']:.2f}x")
    ours = rows.get("nircam-gain (fused)")
    if ours:
        def ratio(name, target, sense):
            other = rows.get(name)
            if other:
                q = ours["wall_s"] / other["wall_s"]
                ok = q <= target
                print(f"nircam-gain / {name:<26} = {q:5.2f}x (target {sense} {target}x: {'met' if ok else 'NOT met'})")
        ratio("plain script", 0.25, "<=")
        ratio("read+sum (astropy)", 3.0, "<=")
        rs = rows.get("read+sum (astropy)")
        if rs and "user_s" in ours:
            # no schedule can finish the run's work faster than its CPU time spread over every core
            ncores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
            floor = (ours["user_s"] + ours["sys_s"]) / ncores
            print(f"    its CPU time over the {ncores} cores: {floor:.2f} s = {floor / rs['wall_s']:.2f}x read+sum "
                  f"(astropy): no better ratio is possible without less work")
        ratio("read+sum (raw words)", 3.0, "<=")
        numpy_run = rows.get("nircam-gain (numpy engine)")
        if numpy_run:
            print(f"nircam-gain fused / numpy engine = {ours['wall_s'] / numpy_run['wall_s']:.2f}x")
    if 20 in infos:
        r20 = _child(_E2E, json.dumps(infos[20]), str(work / "out_fused20"), "fused", "20")
        if r20 and ours:
            print(f"20 groups: {r20['wall_s']:.1f} s, peak {r20['peak_gb']:.2f} GB; peak 20/12 groups = "
                  f"{r20['peak_gb'] / ours['peak_gb']:.2f}x (target: flat, < 2 GB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "nircam-bench-gain"), type=os.path.abspath)
    ap.add_argument("--statistics", action="store_true", help="also the statistics stage alone")
    ap.add_argument("--skip-plain", action="store_true", help="leave out the plain script (minutes)")
    ap.add_argument("--no-20", action="store_true", help="leave out the 20-group memory run")
    ap.add_argument("--repeat", type=int, default=3, help="alternating runs of nircam-gain and the read+sum passes")
    ap.add_argument("--baseline", help="source tree of another nircam_gui version (e.g. a checkout of main): its "
                                       "nircam-gain runs alternately with this one, stage by stage")
    args = ap.parse_args()
    work = Path(args.workdir)
    groups = (12,) if args.no_20 else (12, 20)
    infos = {ng: _simulate(work / f"g{ng}", ng) for ng in groups}
    bench_end_to_end(infos, work, plain=not args.skip_plain, repeat=args.repeat, baseline=args.baseline)
    if args.statistics:
        bench_statistics(infos[12])


if __name__ == "__main__":
    main()
