"""Spread of the first-pair statistic on steady-lamp simulations over many seeds (not a timing).

The first-pair test (report 004622 Table 5) compares map#2 - map#1 with map#4 - map#3 and
calls pair 1 anomalous beyond 3 standard errors. With a steady lamp the statistic ``z``
should follow N(0, 1): this script simulates 10 integrations of 8 groups per seed (no
first-pair anomaly, the default lamp drift between integrations), runs the gain analysis
and prints z per seed, its standard deviation and the number of false alarms.

Usage: nice -n 10 python benchmarks/validate_first_pair.py --workdir DIR [--detector NRCB1]
       [--seeds 100 116] [--size 1024] [--box 128]
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--detector", default="NRCB1")
    ap.add_argument("--seeds", type=int, nargs=2, default=(100, 116))
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--box", type=int, default=128)
    ap.add_argument("--ngroups", type=int, default=8)
    args = ap.parse_args()
    from nircam_gui.core.gain.run import GainOptions, run_gain
    from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats

    zs = []
    for seed in range(*args.seeds):
        folder = Path(args.workdir) / f"{args.detector}_{seed}"
        sim = simulate_flats(folder, FlatSimConfig(detector=args.detector, size=args.size, nints=10,
                                                   ngroups=args.ngroups, seed=seed, threads=1))
        r = sim.references
        res = run_gain(sim.ramps, GainOptions(box=args.box, regions=str(sim.regions) if sim.regions else None,
                                              ipc_kernel=str(r["IPC"]), superbias=str(r["SUPERBIAS"]),
                                              linearity=str(r["LINEARITY"]), saturation=str(r["SATURATION"]),
                                              mask=str(r["MASK"])))
        fp = res.maps.first_pair
        zs.append(fp.z)
        print(json.dumps({"seed": seed, "z": fp.z, "anomalous": fp.anomalous, "d21": fp.d21_mean,
                          "ref": fp.ref_mean, "se_boxes": fp.se_boxes, "se": fp.se}), flush=True)
        shutil.rmtree(folder)
    z = np.array(zs)
    print(f"{args.detector}: {z.size} seeds, z mean {z.mean():+.2f}, std {z.std(ddof=1):.2f}, "
          f"|z| > 2: {int(np.sum(np.abs(z) > 2))}, |z| > 3 (false alarms): {int(np.sum(np.abs(z) > 3))}")


if __name__ == "__main__":
    main()
