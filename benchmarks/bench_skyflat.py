"""Speed and memory of the sky-flat analysis, ratios side by side.

Run:  python benchmarks/bench_skyflat.py [--data DIR] [--keep] [--baseline SRC] [--repeat N]

1. simulates 20 full-frame NRCA4 _cal images (10 x F150W, 10 x F200W) in a subprocess:
   wall time, peak RSS, file sizes;
2. runs the whole analysis and writes its products (``run_skyflat`` then
   ``write_skyflat_products``: masks, normalisation, combines, fit, flats, dead pixels,
   figures, provenance) in a subprocess: wall time and peak RSS (targets: < 90 s, < 6 GB).
   With ``--baseline SRC`` (a source tree of another version, e.g. from ``git archive``)
   the same run of that version alternates with this one, ``--repeat`` times each, and
   the ratio of the medians is printed;
3. on the same 20-image stack (normalised, DO_NOT_USE masked), times the stack combine
   (sigma-clipped median, 3 sigma, 5 iterations) three ways and prints ratios:
   ours (bottleneck, row blocks), astropy sigma_clip per row block, and the reference
   ``astropy.stats.sigma_clip(axis=0)`` + ``bottleneck.nanmedian`` on the whole stack
   (target: ours no slower than 1.5x the reference); peak extra memory via tracemalloc.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

SIM = """
import json, resource, sys, time
from nircam_gui.core.simulate.images import CalSimConfig, simulate_cal_images
t = time.perf_counter()
r = simulate_cal_images(sys.argv[1], CalSimConfig(detectors=("NRCA4",), filters=("F150W", "F200W"), n_images=10))
print(json.dumps({"seconds": time.perf_counter() - t, "rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
                  "files": r.cal_files, "refs": r.flat_files + r.mask_files}))
"""

RUN = """
import glob, json, resource, sys, time
from nircam_gui.core.skyflat.run import run_skyflat
d, out = sys.argv[1], sys.argv[2]
files, refs = sorted(glob.glob(d + "/*_cal.fits")), [d + "/reference"]
t = time.perf_counter()
try:
    from nircam_gui.core.skyflat.products import write_skyflat_products
except ImportError:  # a version that writes as it computes
    res = run_skyflat(files, out, ground_flats=refs, ground_masks=refs)
else:
    res = run_skyflat(files, ground_flats=refs, ground_masks=refs)
    write_skyflat_products(res, out)
use = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": time.perf_counter() - t, "cpu_s": use.ru_utime + use.ru_stime,
                  "rss_gb": use.ru_maxrss / 1e6,
                  "n_dead": res.detectors["NRCA4"].n_dead}))
"""


def _child(code: str, *args: str, source: str | None = None) -> dict:
    env = dict(os.environ)
    if source:
        env["PYTHONPATH"] = source + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _timed(fn, repeat: int = 1):
    best, peak, result = np.inf, 0, None
    for _ in range(repeat):
        tracemalloc.start()
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
        peak = max(peak, tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    return best, peak / 1e9, result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="folder for the simulated images (default: a temporary one)")
    p.add_argument("--keep", action="store_true", help="keep the simulated images")
    p.add_argument("--baseline", metavar="SRC", help="source tree of a version to compare with, run alternately")
    p.add_argument("--repeat", type=int, default=1, help="runs of each version (default 1)")
    p.add_argument("--skip-combine", action="store_true", help="skip the stack-combine comparison")
    args = p.parse_args()
    tmp = None
    if args.data:
        data = Path(args.data)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="bench_skyflat_")
        data = Path(tmp.name)
    print(f"CPU cores: {os.cpu_count()}; data in {data}")

    sim = _child(SIM, str(data))
    sizes = [os.path.getsize(f) for f in sim["files"]]
    print(f"\n[simulate] 20 full-frame _cal images: {sim['seconds']:.1f} s, peak RSS {sim['rss_gb']:.2f} GB, "
          f"{np.mean(sizes) / 1e6:.1f} MB per image, {sum(sizes) / 1e9:.2f} GB in all "
          f"(+ {sum(os.path.getsize(f) for f in sim['refs']) / 1e6:.0f} MB reference files)")

    runs: dict[str, list[dict]] = {"this": [], "baseline": []}
    for k in range(args.repeat):
        runs["this"].append(_child(RUN, str(data), str(data / f"out_{k}")))
        if args.baseline:
            runs["baseline"].append(_child(RUN, str(data), str(data / f"out_base_{k}"), source=args.baseline))
    for name, rs in runs.items():
        if not rs:
            continue
        sec = float(np.median([r["seconds"] for r in rs]))
        cpu = float(np.median([r["cpu_s"] for r in rs]))
        rss = max(r["rss_gb"] for r in rs)
        print(f"[nircam-skyflat, {name}] whole analysis of 20 full frames: median {sec:.1f} s of "
              f"{[round(r['seconds'], 1) for r in rs]} (target < 90 s), CPU (process, incl. imports) median "
              f"{cpu:.1f} s of {[round(r['cpu_s'], 1) for r in rs]}, peak RSS {rss:.2f} GB (target < 6 GB); "
              f"{rs[0]['n_dead']} new dead pixels")
    if runs["baseline"]:
        ratio = {k: np.median([r[k] for r in runs["this"]]) / np.median([r[k] for r in runs["baseline"]])
                 for k in ("seconds", "cpu_s")}
        m_this = max(r["rss_gb"] for r in runs["this"])
        m_base = max(r["rss_gb"] for r in runs["baseline"])
        # on a busy machine the wall times carry the other processes' load; CPU time much less
        print(f"this / baseline: wall time {ratio['seconds']:.3f}, CPU time {ratio['cpu_s']:.3f}, "
              f"peak RSS {m_this / m_base:.3f}")
    if args.skip_combine:
        if tmp is not None and not args.keep:
            tmp.cleanup()
        return

    # the combine on the same stack
    import bottleneck as bn
    from astropy.io import fits
    from astropy.stats import sigma_clip

    from nircam_gui.core.skyflat.combine import combine_stack

    stack = np.empty((20, 2048, 2048), np.float32)
    for i, f in enumerate(sim["files"]):
        sci = fits.getdata(f, "SCI").astype(np.float32)
        dq = fits.getdata(f, "DQ")
        sci[(dq & 1) != 0] = np.nan
        stack[i] = sci / np.nanmedian(sci)

    def reference():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            c = sigma_clip(stack, sigma=3, maxiters=5, axis=0, cenfunc="median", stdfunc="std", masked=False)
        return bn.nanmedian(c, axis=0)

    t_ref, m_ref, med_ref = _timed(reference)
    t_ours, m_ours, ours = _timed(lambda: combine_stack(stack, method="bottleneck"))
    t_ap, m_ap, ap = _timed(lambda: combine_stack(stack, method="astropy"))
    same = np.nanmax(np.abs(ours.median - med_ref))
    print("\n[stack combine] 20 x 2048 x 2048 float32, sigma-clipped median 3 sigma / 5 iterations")
    print(f"{'implementation':58s} {'time (s)':>9s} {'ratio':>7s} {'peak extra (GB)':>16s}")
    print(f"{'astropy sigma_clip(axis=0) + bottleneck.nanmedian (reference)':58s} {t_ref:9.2f} {1.0:7.2f} {m_ref:16.2f}")
    print(f"{'ours: bottleneck, 64-row blocks (default)':58s} {t_ours:9.2f} {t_ours / t_ref:7.2f} {m_ours:16.2f}")
    print(f"{'astropy sigma_clip per 64-row block':58s} {t_ap:9.2f} {t_ap / t_ref:7.2f} {m_ap:16.2f}")
    print(f"max |ours - reference| = {same:.2e}; target ratio <= 1.5: {'met' if t_ours / t_ref <= 1.5 else 'NOT met'}")
    if tmp is not None and not args.keep:
        tmp.cleanup()


if __name__ == "__main__":
    main()
