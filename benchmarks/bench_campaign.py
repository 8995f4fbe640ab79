"""Gain campaigns on Dask: two detectors in parallel vs one after the other, memory, throughput.

Measured side by side in one run, on simulated full-frame flat-field ramps of two
detectors (NRCA1, NRCB4; 4 integrations each, so 2 pairs each, the full calibration with
IPC deconvolved, 256 px boxes, the epoxy void on B4):

1. two detectors on a 2-worker ``distributed.LocalCluster`` vs the same two on a 1-worker
   cluster (one after the other; its worker's numba kernel and BLAS get both cores, as a
   single ``nircam-gain`` run does): both clusters stay up, the variants alternate
   ``--repeat`` times after one untimed round each (imports and compiled kernels loaded once
   per worker, as on a long-lived cluster), the medians are compared; target >= 1.6. Each
   round runs the campaign twice per variant: "fresh", after every worker has dropped what it
   kept of the inputs (checksums, prepared reference files, box grids: a campaign meets each
   detector once, so this is a campaign's case), then "warm", the same campaign again at once
   (what a rerun with ``--force`` on a long-lived cluster pays). Both are printed. The first
   (cold) round is printed too. A third cluster of 1 worker with one numba thread runs the
   same rounds: 2 one-thread workers against it give the scaling of the campaign itself at a
   fixed share of the machine per worker (what adding workers to a cluster buys). With
   ``--timeline`` every round prints its tasks per worker (from the campaign's task records),
   and each variant prints the share of the workers' time spent in tasks;
2. peak resident memory of a worker (its process' lifetime peak, a fresh 1-worker cluster
   each time) running one detector with G and 2G groups per integration: flat in the
   number of groups (ratio ~1);
3. per-worker throughput of the gain path in full-frame groups per second: groups read,
   calibrated and measured by the pair tasks, over the pair tasks' own time; the ratio those
   throughputs allow (two one-core workers against one worker whose numba kernel has both
   cores: the parallel ratio's ceiling when the serial part is small); and the share of a
   detector's wall time in its prepare and combine tasks (the serial part).

Usage: nice python benchmarks/bench_campaign.py [--workdir DIR] [--groups G] [--size N] [--repeat R] [--timeline]
The simulated ramps (G groups per integration for both detectors, 2G for one; ~1.7 GB at G = 8, ~5 GB at
G = 32 with the outputs, full frames) are kept in the work folder between runs: delete it when done. The load average is
printed with every round: on a busy machine the parallel ratio is bounded by free cores.

With ``--skyflat`` it measures sky-flat campaigns instead, on simulated ``_cal`` images
(``--filters`` filters x ``--images`` images per detector, full frames by default), on one
2-worker ``distributed.LocalCluster``: each detector as one task (``split=False``) against
each detector as prepare -> one stack task per filter -> combine, for one detector (where
the filter tasks are the only parallelism) and for two, the variants alternated ``--repeat``
times after an untimed round, medians compared; with the peak resident memory of the
workers in each variant (their high-water marks reset before every round) and the share of
the combine task (the serial part) in a detector's time.
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


def _simulate(root: Path, ngroups: int, size: int, detectors=DETECTORS) -> Path:
    """Ramps of ``ngroups`` groups per integration in ``root/g<ngroups>/<DETECTOR>`` (kept between runs).

    The timed rounds read files of exactly the groups they use: the prepare task hashes whole
    files, so longer files would make it look heavier than in a campaign."""
    from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats

    root = root / f"g{ngroups}"
    for i, det in enumerate(detectors):
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
    return root


def _warm_up() -> None:
    import nircam_gui.core.campaign.tasks  # noqa: F401
    import nircam_gui.core.gain.products  # noqa: F401
    import nircam_gui.core.gain.run  # noqa: F401


def _plan(root: Path, dets, groups: int):
    from nircam_gui.core.campaign import plan_gain

    plan = plan_gain([root / d for d in dets], {"groups": groups}, regions=[root])
    assert not plan.problems, plan.problems
    return plan


def _run(client, plan, out: Path) -> dict:
    from nircam_gui.core.campaign import run_campaign

    t_start, t0 = time.time(), time.perf_counter()
    result = run_campaign(plan, out, client=client, settings={"figures": False}, force=True)
    wall = time.perf_counter() - t0
    assert result.ok, {d: o.error for d, o in result.outcomes.items()}
    tasks = [t | {"detector": d[3:]} for d, o in result.outcomes.items() for t in o.tasks]
    pairs = [t for t in tasks if t["task"].startswith("pair")]
    serial = [t for t in tasks if not t["task"].startswith("pair")]
    workers = len(client.scheduler_info()["workers"])
    return {"run_s": wall, "pair_s": sum(t["seconds"] for t in pairs), "n_pairs": len(pairs),
            "serial_s": sum(t["seconds"] for t in serial),
            "detector_s": {d: o.seconds for d, o in result.outcomes.items()},
            "peak_mb": {d: o.peak_rss_mb for d, o in result.outcomes.items()},
            # the workers' time in tasks over the time the campaign had them (what scheduling leaves idle)
            "busy": sum(t["seconds"] for t in tasks) / (workers * wall),
            "timeline": _timeline(tasks, t_start),
            "pair_workers": sorted({t["worker"] for t in pairs}), "load": os.getloadavg()[0]}


def _timeline(tasks: list[dict], t_start: float) -> str:
    """The tasks per worker in the order they ran: ``name start-end`` in seconds from the campaign's start."""
    workers = sorted({t["worker"] for t in tasks})
    lines = []
    for k, w in enumerate(workers):
        mine = sorted((t for t in tasks if t["worker"] == w), key=lambda t: t["start"])
        lines.append(f"w{k}: " + ", ".join(f"{t['task'].replace(' ', '')}:{t.get('detector', '')} "
                                          f"{t['start'] - t_start:.2f}-{t['start'] + t['seconds'] - t_start:.2f}"
                                          for t in mine))
    return " | ".join(lines)


def _forget_inputs() -> None:
    """Drop what a worker process keeps of the inputs it has seen: the files' checksums, the
    calibration's prepared reference files, the box grids. A campaign meets each detector once, so
    a fair round starts without them (the code stays imported and compiled)."""
    from nircam_gui.core import provenance
    from nircam_gui.core.calibrate import steps
    from nircam_gui.core.campaign import tasks

    # private caches of the modules (no public way to empty them: nothing but a benchmark needs to)
    with provenance._LOCK:
        provenance._CACHE.clear()
    with steps._SHARED_LOCK:
        steps._SHARED.clear()
    with tasks._GEOMETRY_LOCK:
        tasks._GEOMETRY.clear()


def _memory(root: Path, det: str, groups: int, out: Path) -> float:
    from nircam_gui.core.campaign import ClusterSpec, open_client

    with open_client(ClusterSpec(workers=1), 1) as client:
        client.wait_for_workers(1)
        run = _run(client, _plan(root, [det], groups), out)
    return run["peak_mb"][det]


SKY_FILTERS = ("F070W", "F090W", "F150W", "F200W", "F115W", "F182M")


def _simulate_images(root: Path, n_filters: int, n_images: int, size: int) -> Path:
    from nircam_gui.core.simulate.images import CalSimConfig, simulate_cal_images

    folder = root / "skyflat"
    want = {"filters": n_filters, "images": n_images, "size": size}
    marker = folder / "done.json"
    if marker.exists() and json.loads(marker.read_text()) == want:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    t0 = time.perf_counter()
    simulate_cal_images(folder, CalSimConfig(detectors=DETECTORS, filters=SKY_FILTERS[:n_filters],
                                             n_images=n_images, size=size, seed=30))
    marker.write_text(json.dumps(want))
    print(f"simulated {len(DETECTORS)} detectors x {n_filters} filters x {n_images} images of {size}x{size} in "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    return folder


def _reset_peak() -> None:
    """Start the worker's resident-memory high-water mark (VmHWM) again from its present size."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _sky_run(client, plan, out: Path, split: bool) -> dict:
    from nircam_gui.core.campaign import run_campaign
    from nircam_gui.core.memory import peak_rss_mb

    client.run(_reset_peak)
    t0 = time.perf_counter()
    result = run_campaign(plan, out, client=client, force=True, split=split)
    wall = time.perf_counter() - t0
    assert result.ok, {d: o.error for d, o in result.outcomes.items()}
    tasks = [t for o in result.outcomes.values() for t in o.tasks]
    combine = sum(t["seconds"] for t in tasks if t["task"] == "combine")
    return {"run_s": wall, "peak_mb": max(client.run(peak_rss_mb).values()),
            "combine_share": combine / sum(o.seconds for o in result.outcomes.values()) if split else None,
            "stack_workers": len({t["worker"] for t in tasks if t["task"].startswith("stack")}),
            # a stack task's worker since the round began (on 1 detector no combine has run there before)
            "stack_peak_mb": max((t["peak_rss_mb"] for t in tasks if t["task"].startswith("stack")), default=None),
            "load": os.getloadavg()[0]}


def skyflat_main(args) -> int:
    import statistics

    from nircam_gui.core.campaign import ClusterSpec, open_client, plan_skyflat

    root = Path(args.workdir)
    root.mkdir(parents=True, exist_ok=True)
    folder = _simulate_images(root, args.filters, args.images, args.size)
    plans = {"1 detector": plan_skyflat([folder], refs=[folder / "reference"]),
             "2 detectors": plan_skyflat([folder], refs=[folder / "reference"])}
    plans["1 detector"].jobs = {DETECTORS[0]: plans["1 detector"].jobs[DETECTORS[0]]}
    for p in plans.values():
        assert not p.problems, p.problems
    out = root / "out_skyflat"
    variants = {"detector": False, "filters": True}
    rounds: dict = {(c, v): [] for c in plans for v in variants}
    t0 = time.perf_counter()
    with open_client(ClusterSpec(workers=2), 2) as client:
        client.wait_for_workers(2)
        print(f"2-worker cluster started in {time.perf_counter() - t0:.1f} s", flush=True)
        for r in range(args.repeat + 1):
            for case, plan in plans.items():
                for name in (("detector", "filters") if r % 2 == 0 else ("filters", "detector")):
                    run = _sky_run(client, plan, out / name, variants[name])
                    rounds[(case, name)].append(run)
                    print(f"round {r}{' (cold, untimed)' if r == 0 else ''}: {case}, {name} task(s) "
                          f"{run['run_s']:.1f} s, peak {run['peak_mb']:.0f} MB, load {run['load']:.1f}", flush=True)

    def med(case, name, key):
        return statistics.median(x[key] for x in rounds[(case, name)][1:])

    loads = [x["load"] for v in rounds.values() for x in v[1:]]
    load = os.getloadavg()
    print()
    print(f"sky flats: frames {args.size}x{args.size}, {args.filters} filters x {args.images} images per detector, "
          f"2 workers, {os.cpu_count()} cores, {args.repeat} rounds; load average during the rounds "
          f"{min(loads):.1f}-{max(loads):.1f}, now {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(f"{'':40s} {'task per detector':>18s} {'tasks per filter':>17s} {'ratio':>7s}")
    summary = {}
    for case in plans:
        a, b = med(case, "detector", "run_s"), med(case, "filters", "run_s")
        ma, mb = med(case, "detector", "peak_mb"), med(case, "filters", "peak_mb")
        summary[case] = {"detector_s": a, "filters_s": b, "ratio": a / b, "peak_mb_detector": ma,
                         "peak_mb_filters": mb, "combine_share": med(case, "filters", "combine_share")}
        print(f"{f'wall time, {case}, median (s)':40s} {a:18.1f} {b:17.1f} {a / b:7.2f}")
        print(f"{f'peak worker memory, {case} (MB)':40s} {ma:18.0f} {mb:17.0f} {mb / ma:7.2f}")
        print(f"{f'combine share of detector time, {case}':40s} {'':18s} {summary[case]['combine_share']:17.2f}")
        label = f"peak of a stack task's worker, {case} (MB)"
        print(f"{label:40s} {'':18s} {med(case, 'filters', 'stack_peak_mb'):17.0f}")
    print("ratio = task-per-detector time / tasks-per-filter time (> 1: the filter tasks are faster); memory "
          "ratio = filters / detector")
    print(json.dumps({"rounds": {f"{c} | {v}": x for (c, v), x in rounds.items()}, "summary": summary,
                      "load": load}, default=str))
    return 0


def main(argv=None) -> int:
    import contextlib
    import statistics

    from nircam_gui.core.campaign import ClusterSpec, open_client

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "nircam_bench_campaign"))
    ap.add_argument("--groups", type=int, default=8, help="groups per integration (G); memory also at 2G")
    ap.add_argument("--size", type=int, default=2048, help="frame size (2048: full frame)")
    ap.add_argument("--repeat", type=int, default=3, help="timed rounds of each variant, alternated")
    ap.add_argument("--timeline", action="store_true", help="print every round's tasks per worker")
    ap.add_argument("--skyflat", action="store_true", help="measure sky-flat campaigns instead (see above)")
    ap.add_argument("--filters", type=int, default=4, choices=range(1, len(SKY_FILTERS) + 1),
                    help="--skyflat: filters per detector")
    ap.add_argument("--images", type=int, default=3, help="--skyflat: images per filter (3: the fewest the "
                                                          "additive fit takes)")
    args = ap.parse_args(argv)
    if args.skyflat:
        return skyflat_main(args)
    root = Path(args.workdir)
    root.mkdir(parents=True, exist_ok=True)
    g = args.groups
    timed = _simulate(root, g, args.size)
    longer = _simulate(root, 2 * g, args.size, DETECTORS[:1])  # memory at 2G groups, one detector
    out = root / "out"
    plan = _plan(timed, DETECTORS, g)

    variants = (("seq", 1, None), ("par", 2, None), ("seq1", 1, 1))
    # fresh: the workers have never seen these inputs (a campaign's case: each detector once); warm: the
    # same campaign again at once on the same workers, checksums, reference files and box grids kept
    rounds: dict[tuple[str, str], list[dict]] = {(v[0], m): [] for v in variants for m in ("fresh", "warm")}
    with contextlib.ExitStack() as stack:
        clients = {}
        for name, n, threads in variants:
            t0 = time.perf_counter()
            clients[name] = stack.enter_context(open_client(ClusterSpec(workers=n, threads=threads), n))
            clients[name].wait_for_workers(n)
            clients[name].run(_warm_up)
            print(f"{n}-worker cluster ({threads or 'default'} numba threads) started in "
                  f"{time.perf_counter() - t0:.1f} s", flush=True)
        names = [v[0] for v in variants]
        for r in range(args.repeat + 1):
            # rotate the order so that no variant always runs first or last in a round
            for name in names[r % 3:] + names[:r % 3]:
                clients[name].run(_forget_inputs)
                for mode in ("fresh", "warm"):
                    run = _run(clients[name], plan, out / name)
                    rounds[(name, mode)].append(run)
                    print(f"round {r}{' (cold, untimed)' if r == 0 else ''}: {name} {mode} {run['run_s']:.2f} s, "
                          f"workers busy {run['busy']:.2f}, load {run['load']:.1f}", flush=True)
                    if args.timeline:
                        print("    " + run["timeline"], flush=True)
    m1 = _memory(timed, DETECTORS[0], g, out / "mem1")
    m2 = _memory(longer, DETECTORS[0], 2 * g, out / "mem2")

    def med(name: str, mode: str, key: str) -> float:
        return statistics.median(x[key] for x in rounds[(name, mode)][1:])

    frame = (args.size / 2048) ** 2
    # a pair task calibrates and measures 2 integrations of g groups
    gps = {k: statistics.median(2 * g * x["n_pairs"] * frame / x["pair_s"] for x in v[1:]) for k, v in rounds.items()}
    serial = {k: statistics.median(x["serial_s"] / sum(x["detector_s"].values()) for x in v[1:])
              for k, v in rounds.items()}
    load = os.getloadavg()
    loads = [x["load"] for v in rounds.values() for x in v[1:]]
    summary = {}
    print()
    print(f"frames {args.size}x{args.size}, {NINTS} integrations x {g} groups per detector, {os.cpu_count()} cores, "
          f"{args.repeat} rounds; load average during the rounds {min(loads):.1f}-{max(loads):.1f}, now "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    for mode, what in (("fresh", "inputs new to the workers (a campaign's case)"),
                       ("warm", "the same campaign again on the same workers (checksums, references, box grids "
                                "kept)")):
        seq_s, par_s, seq1_s = (med(n, mode, "run_s") for n in ("seq", "par", "seq1"))
        cold = rounds[("seq", mode)][0]["run_s"] / rounds[("par", mode)][0]["run_s"]
        summary[mode] = {"seq_s": seq_s, "par_s": par_s, "seq1_s": seq1_s, "ratio": seq_s / par_s,
                         "ratio_one_thread": seq1_s / par_s, "cold_ratio": cold}
        print()
        print(f"{mode}: {what}")
        print(f"{'':46s} {'1 after the other':>18s} {'2 workers':>10s} {'ratio':>7s}  target")
        print(f"{'wall time, campaign, median (s)':46s} {seq_s:18.2f} {par_s:10.2f} {seq_s / par_s:7.2f}  >= 1.6")
        print(f"{'wall time, first (cold) round (s)':46s} {rounds[('seq', mode)][0]['run_s']:18.2f} "
              f"{rounds[('par', mode)][0]['run_s']:10.2f} {cold:7.2f}")
        print(f"{'full-frame groups/s per worker (pair tasks)':46s} {gps[('seq', mode)]:18.2f} "
              f"{gps[('par', mode)]:10.2f} {gps[('par', mode)] / gps[('seq', mode)]:7.2f}")
        # with the prepare and combine tasks small, the wall ratio can be no better than the pair work
        # two one-core workers do against one worker whose kernel has both cores (Amdahl on the kernel)
        print(f"{'ratio the pair throughput allows (2 r_par/r_seq)':46s} {'':18s} {'':10s} "
              f"{2 * gps[('par', mode)] / gps[('seq', mode)]:7.2f}")
        print(f"{'prepare+combine share of detector time':46s} {serial[('seq', mode)]:18.2f} "
              f"{serial[('par', mode)]:10.2f}")
        print(f"{'workers busy (task time / workers x wall)':46s} {med('seq', mode, 'busy'):18.2f} "
              f"{med('par', mode, 'busy'):10.2f}")
        print(f"{'':46s} {'1 one-thread worker':>18s} {'2 workers':>10s} {'ratio':>7s}")
        print(f"{'scaling at one core per worker, median (s)':46s} {seq1_s:18.2f} {par_s:10.2f} "
              f"{seq1_s / par_s:7.2f}  (2 = linear)")
        print(f"{'full-frame groups/s per worker (pair tasks)':46s} {gps[('seq1', mode)]:18.2f} "
              f"{gps[('par', mode)]:10.2f} {gps[('par', mode)] / gps[('seq1', mode)]:7.2f}")
        print(f"{'prepare+combine share of detector time':46s} {serial[('seq1', mode)]:18.2f} "
              f"{serial[('par', mode)]:10.2f}")
    print()
    print(f"{'workers that ran pairs':46s} {len(rounds[('seq', 'fresh')][-1]['pair_workers']):18d} "
          f"{len(rounds[('par', 'fresh')][-1]['pair_workers']):10d}")
    print(f"{'':46s} {f'{g} groups':>18s} {f'{2 * g} groups':>10s} {'ratio':>7s}")
    print(f"{'worker peak memory, one detector (MB)':46s} {m1:18.0f} {m2:10.0f} {m2 / m1:7.2f}  ~1 (flat)")
    print(json.dumps({"rounds": {f"{n} | {m}": v for (n, m), v in rounds.items()}, "summary": summary,
                      "memory": {"G": g, "peak_mb_G": m1, "peak_mb_2G": m2},
                      "groups_per_s_per_worker": {f"{n} | {m}": v for (n, m), v in gps.items()}, "load": load},
                     default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
