"""Time and peak memory of calibrating one full-frame integration: nircam_gui vs jwst steps.

For 20 and 160 groups: ``calibrate_integration`` with the fused engine (the default) and
with the step-by-step numpy engine (chunk 8), and the six jwst steps run standalone on the
whole integration (RampModel in memory, offline CRDS), each in its own subprocess so that
peak RSS is measured per run (numba's cache is warmed first, so no run pays for a
compile). Target: fused <= 0.25x the jwst steps at 160 groups. Not part of the test suite.

    python benchmarks/bench_calibrate.py [--groups 20 160] [--workdir DIR]
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

CHILD = r'''
import json, sys, time
from nircam_gui.core.memory import peak_rss_mb
import numpy as np
kind, ramp, refs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
t0 = time.perf_counter()
if kind in ("fused", "numpy"):
    from nircam_gui.core.calibrate import CalibrationConfig, calibrate_integration
    cfg = CalibrationConfig(superbias=refs["SUPERBIAS"], linearity=refs["LINEARITY"], saturation=refs["SATURATION"],
                            mask=refs["MASK"], ipc=refs["IPC"], chunk=8, engine=kind,
                            max_groups=int(sys.argv[4]) if len(sys.argv) > 4 else None)
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
print(json.dumps({"seconds": dt, "peak_gb": peak_rss_mb() / 1024, "groups": n}))
'''


def run(kind: str, ramp: Path, refs: dict, *extra: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, kind, str(ramp), json.dumps(refs), *extra],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--groups", type=int, nargs="+", default=[20, 160])
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_cal_"))
    print(f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'groups':>6} {'engine':<12} {'time s':>8} {'peak GB':>8}")
    for ng in args.groups:
        t = time.perf_counter()
        folder = work / f"g{ng}"
        marker = folder / "done.json"
        if marker.exists():
            info = json.loads(marker.read_text())
            ramp, refs = Path(info["ramp"]), info["refs"]
        else:
            res = simulate_flats(folder, FlatSimConfig(size=2048, nints=1, ngroups=ng, adu_per_group=300.0))
            ramp, refs = res.ramps[0], {k: str(v) for k, v in res.references.items()}
            marker.write_text(json.dumps({"ramp": str(ramp), "refs": refs}))
            sys.stderr.write(f"simulated {ng} groups in {time.perf_counter() - t:.0f} s\n")
        run("fused", ramp, refs, "2")  # numba's cache and the page cache, outside the timings
        rows = {kind: run(kind, ramp, refs) for kind in ("fused", "numpy", "jwst")}
        for name, r in rows.items():
            print(f"{ng:>6} {name:<12} {r['seconds']:8.1f} {r['peak_gb']:8.2f}")
        jw = rows["jwst"]
        for name in ("fused", "numpy"):
            r = rows[name]
            print(f"{'':>6} {name + '/jwst':<12} {r['seconds'] / jw['seconds']:8.2f}x {r['peak_gb'] / jw['peak_gb']:7.2f}x"
                  + ("   (target <= 0.25x)" if name == "fused" else ""))
        print(f"{'':>6} {'fused/numpy':<12} {rows['fused']['seconds'] / rows['numpy']['seconds']:8.2f}x")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
