"""Time and peak memory of calibrating one full-frame integration: nircam_gui vs jwst steps.

For 20 and 160 groups: ``calibrate_integration`` (fast engine, chunk 8) and the six jwst
steps run standalone on the whole integration (RampModel in memory, offline CRDS), each
in its own subprocess so that peak RSS is measured per run. Not part of the test suite.

    python benchmarks/bench_calibrate.py [--groups 20 160] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r'''
import json, resource, sys, time
import numpy as np
kind, ramp, refs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
t0 = time.perf_counter()
if kind == "nircam_gui":
    from nircam_gui.core.calibrate import CalibrationConfig, calibrate_integration
    cfg = CalibrationConfig(superbias=refs["SUPERBIAS"], linearity=refs["LINEARITY"], saturation=refs["SATURATION"],
                            mask=refs["MASK"], ipc=refs["IPC"], chunk=8)
    n = 0
    for c in calibrate_integration(ramp, 0, cfg):
        n += c.data.shape[0]
else:
    from stdatamodels.jwst import datamodels as dm
    from jwst.dq_init import DQInitStep
    from jwst.superbias import SuperBiasStep
    from jwst.refpix import RefPixStep
    from jwst.ipc import IPCStep
    from jwst.saturation import SaturationStep
    from jwst.linearity import LinearityStep
    from nircam_gui.core.calibrate.jwst_offline import run_step
    m = dm.RampModel(ramp)
    m = run_step(DQInitStep, m, {"mask": refs["MASK"]})
    m = run_step(SaturationStep, m, {"saturation": refs["SATURATION"], "superbias": refs["SUPERBIAS"]})
    m = run_step(SuperBiasStep, m, {"superbias": refs["SUPERBIAS"]})
    m = run_step(RefPixStep, m, {}, use_side_ref_pixels=False)
    m = run_step(IPCStep, m, {"ipc": refs["IPC"]})
    m = run_step(RefPixStep, m, {})
    m = run_step(LinearityStep, m, {"linearity": refs["LINEARITY"]})
    n = m.data.shape[1]
dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt, "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, "groups": n}))
'''


def run(kind: str, ramp: Path, refs: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, kind, str(ramp), json.dumps(refs)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--groups", type=int, nargs="+", default=[20, 160])
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_cal_"))
    print(f"{'groups':>6} {'engine':<11} {'time s':>8} {'peak GB':>8}   ratios jwst/nircam_gui")
    for ng in args.groups:
        t = time.perf_counter()
        res = simulate_flats(work / f"g{ng}", FlatSimConfig(size=2048, nints=1, ngroups=ng, adu_per_group=300.0))
        refs = {k: str(v) for k, v in res.references.items()}
        sys.stderr.write(f"simulated {ng} groups in {time.perf_counter() - t:.0f} s\n")
        ours = run("nircam_gui", res.ramps[0], refs)
        theirs = run("jwst", res.ramps[0], refs)
        for name, r in (("nircam_gui", ours), ("jwst steps", theirs)):
            print(f"{ng:>6} {name:<11} {r['seconds']:8.1f} {r['peak_gb']:8.2f}")
        print(f"{'':>6} {'ratio':<11} {theirs['seconds'] / ours['seconds']:8.1f}x {theirs['peak_gb'] / ours['peak_gb']:7.1f}x")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
