"""Cost of writing simulated ramps as stdatamodels Level1bModel files (ASDF, GROUP, INT_TIMES).

Usage: python benchmarks/bench_level1b.py [--workdir DIR] [--nints N] [--ngroups N]
The same full-frame set is simulated twice, side by side in fresh processes: as `_uncal` files
(memory-mapped ramps, then written through stdatamodels) and as ground cubes (memory-mapped
ramps renamed into place, no stdatamodels). The difference is the level-1b writer's cost.
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
out, layout, nints, ngroups = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
t0 = time.perf_counter()
simulate_flats(out, FlatSimConfig(detector="NRCB1", nints=nints, ngroups=ngroups, seed=1, layout=layout, threads=2))
print(json.dumps({"wall_s": time.perf_counter() - t0,
                  "peak_gb": peak_rss_mb() / 1024}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--nints", type=int, default=4)
    ap.add_argument("--ngroups", type=int, default=20)
    args = ap.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for layout in ("ground", "uncal"):
            res = subprocess.run([sys.executable, "-c", _RUN, str(Path(tmp) / layout), layout, str(args.nints),
                                  str(args.ngroups)], capture_output=True, text=True)
            if res.returncode:
                print(res.stderr[-2000:])
                return
            rows[layout] = json.loads(res.stdout.strip().splitlines()[-1])
    g, u = rows["ground"], rows["uncal"]
    print(f"{args.nints} full-frame integrations of {args.ngroups} groups")
    print(f"  ground cubes (no stdatamodels): {g['wall_s']:6.1f} s, peak {g['peak_gb']:.2f} GB")
    print(f"  level-1b _uncal (stdatamodels): {u['wall_s']:6.1f} s, peak {u['peak_gb']:.2f} GB")
    print(f"  ratio uncal/ground: time {u['wall_s'] / g['wall_s']:.2f}, memory {u['peak_gb'] / g['peak_gb']:.2f}")


if __name__ == "__main__":
    main()
