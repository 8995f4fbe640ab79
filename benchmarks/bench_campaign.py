"""Gain campaigns on Dask: two detectors in parallel vs one after the other, memory, throughput.

Measured side by side in one run, on simulated full-frame flat-field ramps of two
detectors (NRCA1, NRCB4; 4 integrations each, the full calibration with IPC deconvolved,
256 px boxes, the epoxy void on B4):

1. two detectors on a 2-worker ``distributed.LocalCluster`` vs the same two on a 1-worker
   cluster (one after the other); wall time of the campaign (workers started and their
   imports done) and with the cluster start; target ratio >= 1.6;
2. peak resident memory of a worker (its process' lifetime peak, a fresh 1-worker cluster
   each time) running one detector with G and 2G groups per integration: flat in the
   number of groups (ratio ~1);
3. per-worker throughput of the gain path in full-frame groups per second (groups read
   and calibrated per integration, over the task's own time).

Usage: nice python benchmarks/bench_campaign.py [--workdir DIR] [--groups G] [--size N]
The simulated ramps are kept in the work folder between runs. The load average is
printed with the results: on a busy machine the parallel ratio is bounded by free cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

DETECTORS = ("NRCA1", "NRCB4")
NINTS = 4


def _simulate(root: Path, ngroups: int, size: int) -> None:
    from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats

    for i, det in enumerate(DETECTORS):
        folder = root / det
        marker = folder / "done.json"
        if marker.exists() and json.loads(marker.read_text()) == {"ngroups": ngroups, "size": size}:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        t0 = time.perf_counter()
        simulate_flats(folder, FlatSimConfig(detector=det, nints=NINTS, ngroups=ngroups, size=size, seed=20 + i))
        marker.write_text(json.dumps({"ngroups": ngroups, "size": size}))
        print(f"simulated {det}: {NINTS} x {ngroups} groups of {size}x{size} in {time.perf_counter() - t0:.0f} s",
              flush=True)


def _warm_up() -> None:
    import nircam_gui.core.campaign.tasks  # noqa: F401
    import nircam_gui.core.gain.products  # noqa: F401
    import nircam_gui.core.gain.run  # noqa: F401


def _campaign(root: Path, dets, workers: int, groups: int, out: Path) -> dict:
    from nircam_gui.core.campaign import ClusterSpec, open_client, plan_gain, run_campaign

    plan = plan_gain([root / d for d in dets], {"groups": groups}, regions=[root])
    assert not plan.problems, plan.problems
    t0 = time.perf_counter()
    with open_client(ClusterSpec(workers=workers), len(dets)) as client:
        client.wait_for_workers(workers)
        # the imports (jwst, numba-compiled kernels) are paid once per worker, not per detector
        client.run(_warm_up)
        t1 = time.perf_counter()
        result = run_campaign(plan, out, client=client, settings={"figures": False}, force=True)
        t2 = time.perf_counter()
    assert result.ok, {d: o.error for d, o in result.outcomes.items()}
    return {"wall_s": time.perf_counter() - t0, "run_s": t2 - t1, "start_s": t1 - t0,
            "task_s": {d: o.seconds for d, o in result.outcomes.items()},
            "peak_mb": {d: o.peak_rss_mb for d, o in result.outcomes.items()},
            "workers": {d: o.worker for d, o in result.outcomes.items()}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "nircam_bench_campaign"))
    ap.add_argument("--groups", type=int, default=8, help="groups per integration (G); memory also at 2G")
    ap.add_argument("--size", type=int, default=2048, help="frame size (2048: full frame)")
    args = ap.parse_args(argv)
    root = Path(args.workdir)
    root.mkdir(parents=True, exist_ok=True)
    g = args.groups
    _simulate(root, 2 * g, args.size)
    out = root / "out"

    seq = _campaign(root, DETECTORS, 1, g, out / "seq")
    print(f"1 worker, 2 detectors: {seq['run_s']:.1f} s (+{seq['start_s']:.1f} s cluster start)", flush=True)
    par = _campaign(root, DETECTORS, 2, g, out / "par")
    print(f"2 workers, 2 detectors: {par['run_s']:.1f} s (+{par['start_s']:.1f} s cluster start)", flush=True)
    mem1 = _campaign(root, DETECTORS[:1], 1, g, out / "mem1")
    mem2 = _campaign(root, DETECTORS[:1], 1, 2 * g, out / "mem2")

    frame = (args.size / 2048) ** 2
    groups_per_det = NINTS * g
    per_worker_seq = sum(groups_per_det * frame / s for s in seq["task_s"].values()) / len(seq["task_s"])
    per_worker_par = sum(groups_per_det * frame / s for s in par["task_s"].values()) / len(par["task_s"])
    m1, m2 = mem1["peak_mb"][DETECTORS[0]], mem2["peak_mb"][DETECTORS[0]]
    load = os.getloadavg()
    print()
    print(f"frames {args.size}x{args.size}, {NINTS} integrations x {g} groups per detector, "
          f"{os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(f"{'':42s} {'1 after the other':>18s} {'2 workers':>10s} {'ratio':>7s}  target")
    print(f"{'wall time, campaign (s)':42s} {seq['run_s']:18.1f} {par['run_s']:10.1f} "
          f"{seq['run_s'] / par['run_s']:7.2f}  >= 1.6")
    print(f"{'wall time incl. cluster start+imports (s)':42s} {seq['wall_s']:18.1f} {par['wall_s']:10.1f} "
          f"{seq['wall_s'] / par['wall_s']:7.2f}")
    print(f"{'task time per detector (s)':42s} {_fmt(seq['task_s']):>18s} {_fmt(par['task_s']):>10s}")
    print(f"{'full-frame groups/s per worker':42s} {per_worker_seq:18.3f} {per_worker_par:10.3f} "
          f"{per_worker_par / per_worker_seq:7.2f}")
    print(f"{'':42s} {f'{g} groups':>18s} {f'{2 * g} groups':>10s} {'ratio':>7s}")
    print(f"{'worker peak memory, one detector (MB)':42s} {m1:18.0f} {m2:10.0f} {m2 / m1:7.2f}  ~1 (flat)")
    print(json.dumps({"sequential": seq, "parallel": par, "memory": {"G": g, "peak_mb_G": m1, "peak_mb_2G": m2},
                      "groups_per_s_per_worker": {"sequential": per_worker_seq, "parallel": per_worker_par},
                      "load": load}, default=str))
    return 0


def _fmt(d: dict) -> str:
    return "/".join(f"{v:.0f}" for v in d.values())


if __name__ == "__main__":
    sys.exit(main())
