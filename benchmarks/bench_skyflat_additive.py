"""What separating additive light (wisps, claws) costs a sky-flat run, side by side.

Run:  python benchmarks/bench_skyflat_additive.py [--data DIR] [--keep] [--repeat N]

1. simulates 20 full-frame NRCA4 _cal images (10 x F150W, 10 x F200W) with wisps 3x apart in
   strength and claws in 2 images, in a subprocess;
2. runs the whole analysis (``run_skyflat`` + ``write_skyflat_products``) with ``--additive plain``
   (the report's method) and ``--additive separate`` alternately, ``--repeat`` times each, each in
   its own subprocess, and prints wall and CPU times, peak RSS and the ratios
   (target: separate / plain <= 1.5).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

SIM = """
import json, sys, time
from nircam_gui.core.simulate.images import CalSimConfig, simulate_cal_images
t = time.perf_counter()
r = simulate_cal_images(sys.argv[1], CalSimConfig(detectors=("NRCA4",), filters=("F150W", "F200W"), n_images=10,
                                                  wisp=0.08, wisp_ratio=3.0, claws=2))
print(json.dumps({"seconds": time.perf_counter() - t, "files": r.cal_files}))
"""

RUN = """
import glob, json, resource, sys, time
from nircam_gui.core.skyflat.options import SkyflatOptions
from nircam_gui.core.skyflat.products import write_skyflat_products
from nircam_gui.core.skyflat.run import run_skyflat
d, out, how = sys.argv[1], sys.argv[2], sys.argv[3]
files, refs = sorted(glob.glob(d + "/*_cal.fits")), [d + "/reference"]
t = time.perf_counter()
res = run_skyflat(files, ground_flats=refs, ground_masks=refs, options=SkyflatOptions(additive=how, figures=False))
write_skyflat_products(res, out)
use = resource.getrusage(resource.RUSAGE_SELF)
add = res.detectors["NRCA4"].additive
print(json.dumps({"seconds": time.perf_counter() - t, "cpu_s": use.ru_utime + use.ru_stime,
                  "rss_gb": use.ru_maxrss / 1e6, "detected": bool(add.detected) if add is not None else None}))
"""


def _child(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="folder for the simulated images (default: a temporary one)")
    p.add_argument("--keep", action="store_true", help="keep the simulated images")
    p.add_argument("--repeat", type=int, default=2, help="runs of each method (default 2)")
    args = p.parse_args()
    tmp = None
    if args.data:
        data = Path(args.data)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="bench_skyflat_additive_")
        data = Path(tmp.name)
    print(f"CPU cores: {os.cpu_count()}; data in {data}")
    if not list(data.glob("*_cal.fits")):
        sim = _child(SIM, str(data))
        print(f"[simulate] 20 full-frame _cal images with wisps and claws: {sim['seconds']:.1f} s")
    runs: dict[str, list[dict]] = {"plain": [], "separate": []}
    for k in range(args.repeat):
        for how in runs:  # alternate, so a change of machine load hits both
            runs[how].append(_child(RUN, str(data), str(data / f"out_{how}_{k}"), how))
    print(f"\n{'--additive':10s} {'wall (s)':>9s} {'CPU (s)':>9s} {'peak RSS (GB)':>14s}  runs (wall)")
    med = {}
    for how, rs in runs.items():
        med[how] = {k: float(np.median([r[k] for r in rs])) for k in ("seconds", "cpu_s")}
        rss = max(r["rss_gb"] for r in rs)
        med[how]["rss_gb"] = rss
        print(f"{how:10s} {med[how]['seconds']:9.1f} {med[how]['cpu_s']:9.1f} {rss:14.2f}  "
              f"{[round(r['seconds'], 1) for r in rs]}")
    ratio = {k: med["separate"][k] / med["plain"][k] for k in ("seconds", "cpu_s", "rss_gb")}
    print(f"separate / plain: wall {ratio['seconds']:.3f}, CPU {ratio['cpu_s']:.3f}, peak RSS {ratio['rss_gb']:.3f}; "
          f"target wall <= 1.5: {'met' if ratio['seconds'] <= 1.5 else 'NOT met'}; "
          f"template detected: {runs['separate'][0]['detected']}")
    if tmp is not None and not args.keep:
        tmp.cleanup()


if __name__ == "__main__":
    main()
