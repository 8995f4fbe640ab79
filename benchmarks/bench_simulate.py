"""Simulator speed, memory and file sizes: 10 full-frame integrations of 20 groups.

Usage: python benchmarks/bench_simulate.py [--workdir DIR] [--threads N]
Runs in a fresh process so the peak resident memory is the simulator's own.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

_RUN = """
import json, sys, time
from nircam_gui.core.memory import peak_rss_mb
from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats
out, threads = sys.argv[1], int(sys.argv[2])
t0 = time.perf_counter()
r = simulate_flats(out, FlatSimConfig(detector="NRCB1", nints=10, ngroups=20, seed=1, threads=threads))
print(json.dumps({"wall_s": time.perf_counter() - t0,
                  "peak_gb": peak_rss_mb() / 1024,
                  "ramps": [str(p) for p in r.ramps]}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        rows = {}
        for threads in args.threads:
            out = Path(tmp) / f"t{threads}"
            res = subprocess.run([sys.executable, "-c", _RUN, str(out), str(threads)], capture_output=True, text=True)
            if res.returncode:
                print(res.stderr[-2000:])
                continue
            r = json.loads(res.stdout.strip().splitlines()[-1])
            sizes = [Path(p).stat().st_size for p in r["ramps"]]
            refs = sum(p.stat().st_size for p in (out / "reference").iterdir())
            truth = sum(p.stat().st_size for p in (out / "truth").iterdir())
            rows[threads] = r
            print(f"{threads} thread(s): 10 x 20 groups full frame in {r['wall_s']:.1f} s, peak {r['peak_gb']:.2f} GB; "
                  f"ramps {sum(sizes) / 1e9:.2f} GB ({sizes[0] / 1e6:.1f} MB each), reference files "
                  f"{refs / 1e6:.0f} MB, truth {truth / 1e6:.0f} MB")
        if 1 in rows and 2 in rows:
            print(f"speed-up with 2 threads: {rows[1]['wall_s'] / rows[2]['wall_s']:.2f}x")


if __name__ == "__main__":
    main()
