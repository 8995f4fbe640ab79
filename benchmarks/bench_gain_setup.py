"""The one-off stages of a gain run, each timed in a fresh process, optionally against another checkout.

``nircam-gain`` on 10 full-frame integrations x 12 groups (the set ``bench_gain.py`` simulates,
in the same work folder) spends part of its time outside the per-group work: reading and
preparing the calibration reference files, building the box layout, checking the inputs,
writing the products. Each is timed here alone, in its own process (modules imported before
the clock, every array read for the first time; wall time and the CPU time of all its threads),
``--repeat`` times, alternating with ``--baseline`` (the source folder of another version, e.g. a
``git worktree`` of the main branch) when given; medians are printed with the load average.

Stages:
- ``reference files``: SUPERBIAS, LINEARITY, SATURATION, MASK, IPC read and prepared as the
  calibration uses them (``shared_references``);
- ``box layout``: MASK exclusions, epoxy-void polygons, boxes (``build_boxes``);
- ``box clippers``: the box grid's clipper (``build_geometry`` after the layout); these two
  are timed after numba's start-up (the first jitted call of a run pays it, whichever stage
  makes it), with the loading of their own kernels; target: together under 0.15 s;
- ``layout-parts``: the parts of ``box layout`` one after the other (void regions, MASK
  exclusions, ``make_boxes``);
- ``prepare_gain``: the run's setup (pairs, IPC kernel, layout, clippers) as the run does it, with
  the input hashing and the writer's warm-up it starts in threads beside it (after numba's
  start-up, as the layout);
- ``writer warm-up``: what the product writer's warm-up thread does, alone (asdf's extensions and
  schemas loaded, a small GAIN and MASK file written);
- ``products (writer cold)``: ``write_gain_products`` as the first write of the process;
- ``products (writer warm)``: the same after the writer's warm-up, as in a run where the warm-up
  ran beside the pairs (the input checksums are known, as the run's thread has them by then).

Usage: python benchmarks/bench_gain_setup.py [--workdir DIR] [--repeat N] [--baseline SRC_DIR]
                                            [--stages STAGE ...]
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

_RESULT = r"""
import json, pickle, sys
from nircam_gui.core.gain.run import GainOptions, run_gain
from nircam_gui.core.provenance import known_checksums
info, out = json.loads(sys.argv[1]), sys.argv[2]
r = info["refs"]
opt = GainOptions(box=256, regions=info["regions"], ipc="deconvolve", ipc_kernel=r["IPC"], superbias=r["SUPERBIAS"],
                  linearity=r["LINEARITY"], saturation=r["SATURATION"], mask=r["MASK"], groups=12)
res = run_gain(info["ramps"], opt)
known = known_checksums(info["ramps"] + [r[k] for k in ("IPC", "SUPERBIAS", "LINEARITY", "SATURATION", "MASK")])
with open(out, "wb") as f:
    pickle.dump((res, known), f)
"""

_STAGE = r"""
import json, os, pickle, shutil, sys, threading, time
info, stage, result, outdir = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
from nircam_gui.core import provenance, reffiles
from nircam_gui.core.calibrate import CalibrationConfig, steps
from nircam_gui.core.gain import products, run
r = info["refs"]
shape = (2048, 2048)
opt = run.GainOptions(box=256, regions=info["regions"], ipc="deconvolve", ipc_kernel=r["IPC"], superbias=r["SUPERBIAS"],
                      linearity=r["LINEARITY"], saturation=r["SATURATION"], mask=r["MASK"], groups=12)
out = {}
if stage in ("layout", "layout-parts", "prepare"):
    # numba's own start-up (~0.3 s) is paid once by the first jitted call of a run, whichever stage
    # makes it (the box layout's or the calibration's, depending on the version): paid before the
    # clock, as bench_gain.py does; loading the stage's own kernels from numba's cache is timed
    import numpy as np
    from nircam_gui.core.calibrate import refstats
    refstats._sum_f32(np.zeros(8, np.float32), 8)

def clock(name, fn):
    t0, c0 = time.perf_counter(), time.process_time()
    value = fn()
    out[name] = time.perf_counter() - t0
    out[name + " (CPU)"] = time.process_time() - c0  # every thread of the process
    return value

if stage == "references":
    cfg = CalibrationConfig(superbias=r["SUPERBIAS"], linearity=r["LINEARITY"], saturation=r["SATURATION"],
                            mask=r["MASK"], ipc=r["IPC"], max_groups=12, group_medians=False)
    plan = cfg.plan(warn=False)
    clock("reference files", lambda: steps.shared_references(plan, cfg, shape, "NRCB1").pixeldq)
elif stage in ("layout", "layout-parts"):
    if stage == "layout":
        boxes = clock("box layout", lambda: run.build_boxes(opt, shape, "NRCB1"))
        clock("box clippers", lambda: run.build_geometry(opt, shape, "NRCB1", boxes=boxes))
    else:  # the layout's parts, one after the other in one process (each pays its first call)
        from nircam_gui.core.gain.boxes import make_boxes
        from nircam_gui.core.regionsio import void_mask
        void = clock("  void regions", lambda: void_mask(opt.regions, shape))
        exclude = clock("  MASK exclusions", lambda: run._exclusion(opt, shape, "NRCB1"))
        # a version may give the MASK's words and the bits that count in them
        kw = dict(exclude=exclude) if not isinstance(exclude, tuple) else dict(exclude=exclude[0],
                                                                                exclude_bits=exclude[1])
        clock("  make_boxes", lambda: make_boxes(shape, opt.box, void_mask=void, **kw))
elif stage == "prepare":
    clock("prepare_gain", lambda: run.prepare_gain(info["ramps"], opt))
elif stage == "warm-up":
    # what the run's writer warm-up thread costs, alone (asdf's extensions and schemas, two small files)
    clock("writer warm-up", lambda: reffiles._warm_up(("GAIN", "MASK")))
elif stage.startswith("products"):
    with open(result, "rb") as f:
        res, known = pickle.load(f)
    provenance.remember_checksums(known)
    if stage == "products-warm":
        reffiles.preload_writer()
        for t in threading.enumerate():  # the warm-up thread, whatever the version calls to wait for it
            if t.name == "datamodels-preload":
                t.join()
    shutil.rmtree(outdir, ignore_errors=True)
    name = "products (writer warm)" if stage == "products-warm" else "products (writer cold)"
    clock(name, lambda: products.write_gain_products(res, outdir, figures=False))
print(json.dumps(out))
"""

STAGES = ("references", "layout", "layout-parts", "prepare", "warm-up", "products-cold", "products-warm")
LAYOUT_TARGET_S = 0.15  # box layout + box clippers, on a quiet machine


def _child(script: str, src: str | None, *args: str) -> dict | None:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    # run outside the project folder, so that PYTHONPATH decides which version is imported
    p = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=env,
                       cwd=tempfile.gettempdir())
    if p.returncode:
        print(p.stderr[-3000:])
        return None
    lines = p.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "nircam-bench-gain"))
    ap.add_argument("--repeat", type=int, default=5, help="runs of every stage (medians)")
    ap.add_argument("--baseline", default=None, help="source folder of another version (holds nircam_gui/)")
    ap.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES), help="stages to time (default all)")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_gain import _simulate

    work = Path(args.workdir)
    info = _simulate(work / "g12", 12)
    arg = json.dumps(info)
    here = str(Path(__file__).resolve().parents[1])
    versions = {"this": here}
    if args.baseline:
        versions = {"baseline": str(Path(args.baseline).resolve()), **versions}
    results = {}
    for name, src in versions.items():  # each version's own result object, and numba's cache warmed
        results[name] = str(work / f"setup_result_{name}.pkl")
        if any(st.startswith("products") for st in args.stages) or not Path(results[name]).exists():
            if _child(_RESULT, src, arg, results[name]) is None:
                raise SystemExit(f"{name}: the gain run failed")
        for stage in ("layout", "layout-parts", "prepare"):  # every kernel signature they call compiled before
            if stage in args.stages:
                _child(_STAGE, src, arg, stage, results[name], "")
    print(f"load average before: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.repeat):
        for stage in args.stages:
            for name, src in versions.items():
                r = _child(_STAGE, src, arg, stage, results[name], str(work / f"setup_products_{name}"))
                for key, value in (r or {}).items():
                    times.setdefault((key, name), []).append(value)
    print(f"load average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    keys = list(dict.fromkeys(k for k, _ in times))
    head = "".join(f"{n:>12s}" for n in versions)
    print(f"\n{'stage (median of ' + str(args.repeat) + ', s)':<30s}{head}" + ("       ratio" if args.baseline else ""))
    for key in keys:
        med = {n: float(np.median(times[(key, n)])) for n in versions if (key, n) in times}
        row = "".join(f"{med.get(n, float('nan')):12.3f}" for n in versions)
        ratio = f"{med['this'] / med['baseline']:11.2f}x" if args.baseline and "baseline" in med else ""
        print(f"{key:<30s}{row}{ratio}")
    if ("box layout", "this") in times and ("box clippers", "this") in times:
        # the medians of the two stages measured in the same runs
        total = {n: float(np.median(np.add(times[("box layout", n)], times[("box clippers", n)])))
                 for n in versions if ("box layout", n) in times and ("box clippers", n) in times}
        row = "".join(f"{total.get(n, float('nan')):12.3f}" for n in versions)
        ratio = f"{total['this'] / total['baseline']:11.2f}x" if "baseline" in total else ""
        print(f"{'layout + clippers':<30s}{row}{ratio}")
        verdict = "met" if total["this"] < LAYOUT_TARGET_S else "NOT met (on a loaded machine, rerun quiet)"
        print(f"target: layout + clippers < {LAYOUT_TARGET_S} s: {total['this']:.3f} s, {verdict}")


if __name__ == "__main__":
    main()
