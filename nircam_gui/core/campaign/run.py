"""A campaign: one analysis over every detector of an instrument, as Dask tasks.

:func:`plan_gain` and :func:`plan_skyflat` read headers and make one
:class:`~.inputs.DetectorJob` per detector (references, regions and options matched, its
problems listed); :func:`run_campaign` runs the jobs on a cluster (the tasks read their own
files and write their own products into ``OUTDIR/<DETECTOR>/``), then writes the instrument
tables and one provenance file at the top of ``OUTDIR``.

A detector is a graph of tasks: prepare, one task per part, combine. For the gain the parts
are its pairs (the calibration and box statistics, nearly all of the work) and the combine
fits and maps them (a gain map needs all its pairs). For sky flats the parts are its filters
(or chunks of a filter's images: the reading, source masks and normalisation of each image,
written by the worker into the detector's work folder) and the combine merges them in image
order and makes the delta flats and new flats (a new flat needs every filter, through the
grey flat). The cluster's parallelism is over parts, so one detector can use many workers.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..errors import NircamFileError
from ..fileio import atomic_path, ensure_output_dir
from ..provenance import software_versions
from .cluster import ClusterSpec, describe_cluster, open_client
from .inputs import DetectorJob, collect_inputs, find_regions, scan_references
from .tables import gain_tables, skyflat_tables
from .tasks import (PART_SPANS, DetectorOutcome, gain_combine, gain_pair, gain_prepare, run_detector, skyflat_combine,
                    skyflat_prepare, skyflat_stack)

__all__ = ["CAMPAIGN_FILE", "CampaignError", "CampaignPlan", "CampaignProgress", "CampaignResult", "plan_gain",
           "plan_skyflat", "run_campaign"]

CAMPAIGN_FILE = "campaign.json"
GAIN_KINDS = ("uncal", "ground_ramp", "ramp")
SKYFLAT_KINDS = ("cal", "rate")


class CampaignError(Exception):
    """A campaign that cannot start: one line per detector (or file) and its problem."""


@dataclass
class CampaignPlan:
    """The jobs of a campaign, before any work."""

    analysis: str
    jobs: dict[str, DetectorJob]
    #: files in the input folders that are not inputs of this analysis (``<file>: <what>``)
    skipped_files: list[str] = field(default_factory=list)
    #: campaign-wide remarks (a region file that names no detector, ...)
    notes: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        """``<DETECTOR>: <problem>`` lines of every detector that cannot run."""
        return [f"{d}: {p}" for d, job in self.jobs.items() for p in job.problems]

    @property
    def runnable(self) -> dict[str, DetectorJob]:
        return {d: j for d, j in self.jobs.items() if j.ok}


def _regions(regions: Iterable, dets: list[str], plan: CampaignPlan) -> dict[str, str]:
    regions = list(regions)
    if not regions:
        return {}
    found, ambiguous = find_regions(regions, dets)
    for det, hits in ambiguous.items():
        plan.jobs[det].problems.append(f"{len(hits)} region files name it ({', '.join(hits)}): keep one")
    for p in regions:
        if not Path(p).is_dir() and os.fspath(p) not in found.values() and not any(
                os.fspath(p) in h for h in ambiguous.values()):
            plan.notes.append(f"{p}: region file for none of the detectors ({', '.join(dets)}); not used")
    return found


def plan_gain(paths: Iterable[str | os.PathLike], option_values: dict | None = None, *,
              refs: Iterable[str | os.PathLike] = (), regions: Iterable[str | os.PathLike] = ()) -> CampaignPlan:
    """One gain job per detector among ``paths`` (flat-field ramps, files or folders).

    Parameters
    ----------
    paths : iterable of path-like
    option_values : dict
        :class:`~nircam_gui.core.gain.run.GainOptions` values shared by every detector;
        reference files and regions are set per detector.
    refs : iterable of path-like
        Reference files and folders, searched by REFTYPE and DETECTOR (and SUBARRAY); when
        empty, each detector's references are looked for beside its ramps.
    regions : iterable of path-like
        Epoxy-void region files or masks, or folders of them, matched by detector name.

    Raises
    ------
    NircamFileError
        A path that does not exist, a named file that is not a ramp, no ramps at all.
    """
    from ..gain.pairs import find_integrations, make_pairs
    from ..gain.run import REFERENCE_OPTIONS, GainOptions, calibration_references

    values = dict(option_values or {})
    by_det, skipped = collect_inputs(paths, GAIN_KINDS, "flat-field ramps")
    plan = CampaignPlan("gain", {d: DetectorJob(d, [m.path for m in metas]) for d, metas in by_det.items()},
                        skipped)
    refs = list(refs)
    refset = scan_references(refs, REFERENCE_OPTIONS) if refs else None
    if refset is not None:
        plan.notes.extend(refset.problems)
    found_regions = _regions(regions, list(by_det), plan)
    for det, metas in by_det.items():
        job = plan.jobs[det]
        try:
            if refset is not None:
                found = {REFERENCE_OPTIONS[k]: v for k, v in refset.find_for(metas[0], REFERENCE_OPTIONS).items()}
            else:
                found = calibration_references(job.files)
        except NircamFileError as exc:
            job.problems.append(str(exc))
            continue
        job.references = found
        missing = sorted(k for k, v in REFERENCE_OPTIONS.items() if v not in found)
        if missing:
            job.notes.append(f"no {', '.join(missing)} reference file for {det} "
                             f"({'in --refs' if refs else 'beside its ramps'})")
        job.regions = found_regions.get(det)
        shapes = {(m.ny, m.nx, m.subarray) for m in metas}
        if len(shapes) > 1:
            job.problems.append("ramps of different frame sizes or subarrays: "
                                + "; ".join(f"{m.path}: {m.nx}x{m.ny} {m.subarray or ''}".strip() for m in metas[:4]))
            continue
        try:
            job.parts = len(make_pairs(find_integrations(job.files)))
        except NircamFileError as exc:
            job.problems.append(str(exc))
            continue
        try:
            job.options = GainOptions(**{**values, **found, "regions": job.regions})
        except ValueError as exc:
            job.problems.append(f"{exc}" + (f" ({job.notes[-1]})" if missing else ""))
    return plan


def plan_skyflat(paths: Iterable[str | os.PathLike], options=None, *, refs: Iterable[str | os.PathLike] = (),
                 ground_flats: Iterable[str | os.PathLike] = (),
                 ground_masks: Iterable[str | os.PathLike] = (), images_per_task: int = 0) -> CampaignPlan:
    """One sky-flat job per detector among ``paths`` (``_cal`` images, files or folders).

    Ground FLATs are found by the name the images' ``R_FLAT`` gives, in ``refs`` and
    ``ground_flats`` (folders are listed, not read); the ground MASK of each detector is
    matched on DETECTOR in ``refs`` and ``ground_masks``, scanned once. Each detector's
    stack is made in parts, one per filter, or per ``images_per_task`` images of a filter
    when that is > 0 (:attr:`~.inputs.DetectorJob.split`).

    Raises
    ------
    NircamFileError
        A path that does not exist, a named file that is not a ``_cal`` image, no images.
    """
    from ..references import ReferenceSet
    from ..skyflat.inputs import check_inputs, filter_token
    from ..skyflat.options import SkyflatOptions
    from ..skyflat.run import check_fit_grid
    from ..skyflat.stack_parts import split_by_filter

    opt = options or SkyflatOptions()
    by_det, skipped = collect_inputs(paths, SKYFLAT_KINDS, "_cal images")
    plan = CampaignPlan("skyflat", {d: DetectorJob(d, [m.path for m in metas]) for d, metas in by_det.items()},
                        skipped)
    refs = list(refs)
    flat_search = [*refs, *ground_flats]
    masks = ReferenceSet.scan([*refs, *ground_masks], ["MASK"], subfolder=False, given_as="a ground MASK")
    plan.notes.extend(masks.problems)
    for det, metas in by_det.items():
        job = plan.jobs[det]
        job.keys = sorted({filter_token(m.filter, m.pupil) for m in metas})
        mask = masks.find("MASK", detector=det)
        job.references = {"ground_flats": [os.fspath(p) for p in flat_search],
                          "ground_masks": [mask.path] if mask is not None else []}
        if mask is None:
            job.notes.append(f"no ground MASK for {det}: new dead pixels are all flagged pixels below the threshold")
        try:
            inputs = check_inputs(job.files, job.references["ground_flats"], job.references["ground_masks"])
            check_fit_grid(inputs, opt)
        except NircamFileError as exc:
            job.problems.append(str(exc))
            continue
        job.notes.extend(inputs.warnings)
        # only the flats the images name are read: the job carries those files, not a whole cache
        job.references["ground_flats"] = sorted({m.path for m in inputs.flats.values()})
        job.images_per_task = max(int(images_per_task or 0), 0)
        job.split = split_by_filter(inputs.by_detector[det], job.images_per_task)
        job.parts = len(job.split)
        job.options = opt
    return plan


@dataclass
class CampaignProgress:
    """Where a campaign is: per detector a state, a fraction done and the worker running it."""

    states: dict[str, str]
    fractions: dict[str, float]
    messages: dict[str, str]
    workers: dict[str, str]
    #: per detector, its part tasks (pairs, stack parts) finished and in all
    parts: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        n = len(self.states) or 1
        return sum(1.0 if s in ("done", "skipped", "failed", "refused", "cancelled") else self.fractions.get(d, 0.0)
                   for d, s in self.states.items()) / n

    def line(self) -> str:
        """A short status line: counts, then the running detectors with their fraction."""
        counts: dict[str, int] = {}
        for s in self.states.values():
            counts[s] = counts.get(s, 0) + 1
        head = ", ".join(f"{n} {s}" for s, n in counts.items())
        running = [f"{d[3:]} {100 * self.fractions.get(d, 0):.0f}%" + (f" {self.parts[d][0]}/{self.parts[d][1]}"
                                                                      if d in self.parts else "")
                   for d, s in self.states.items() if s == "running"]
        return head + (" | " + " ".join(running) if running else "")


@dataclass
class CampaignResult:
    """What a campaign did: every detector's outcome and the files at the top of OUTDIR."""

    analysis: str
    outdir: Path
    outcomes: dict[str, DetectorOutcome]
    tables: list[str]
    provenance: str
    cluster: dict
    cancelled: bool = False

    def by_state(self, *states: str) -> list[str]:
        return [d for d, o in self.outcomes.items() if o.state in states]

    @property
    def ok(self) -> bool:
        return not self.cancelled and not self.by_state("failed", "refused", "cancelled")


def run_campaign(plan: CampaignPlan, outdir: str | os.PathLike, *, cluster: ClusterSpec | None = None,
                 client=None, keep_going: bool = False, settings: dict | None = None, force: bool = False,
                 progress: Callable[[CampaignProgress], None] | None = None,
                 cancel: Callable[[], bool] | None = None, command: list[str] | None = None,
                 split: bool = True) -> CampaignResult:
    """Run every job of ``plan`` on a Dask cluster; products under ``OUTDIR/<DETECTOR>/``.

    Parameters
    ----------
    plan : CampaignPlan
    outdir : path-like
    cluster : ClusterSpec, optional
        The cluster to start or join (a local cluster by default); ignored with ``client``.
    client : distributed.Client, optional
        A client of a cluster the caller owns (tests, the GUI); left open.
    keep_going : bool
        Run the detectors that can run when others are refused, and all of them when one
        fails. By default a detector with problems stops the campaign before any work, and
        a failure stops the detectors not yet started (those running finish and keep their
        products).
    settings : dict, optional
        Passed to every task (``figures``, ``predictions``).
    force : bool
        Run detectors whose products are complete from an earlier identical run.
    progress : callable, optional
        Called with a :class:`CampaignProgress` (from this thread) as the campaign moves.
    cancel : callable, optional
        Returning True cancels: the cancel flag (a file in ``outdir``) reaches the running
        tasks, which stop at their next step and leave their folders as they were; nothing new
        starts.
    command : list of str, optional
        The command line, for the provenance.
    split : bool
        Run each detector as its graph of tasks (prepare, its parts, combine); False runs
        each detector as one task (for comparison: the products are the same).

    Raises
    ------
    CampaignError
        Detectors with problems and ``keep_going`` False (nothing was run).
    """
    if plan.problems and not keep_going:
        raise CampaignError("\n".join(plan.problems))
    out = ensure_output_dir(outdir)
    created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    t0 = time.perf_counter()
    jobs = plan.runnable
    outcomes: dict[str, DetectorOutcome] = {d: DetectorOutcome(d, "refused", error="; ".join(j.problems))
                                            for d, j in plan.jobs.items() if not j.ok}
    state = CampaignProgress({d: ("queued" if d in jobs else "refused") for d in plan.jobs}, {}, {}, {})
    lock = threading.Lock()
    cancelled = False

    def report() -> None:
        if progress is not None:
            with lock:
                snap = CampaignProgress(dict(state.states), dict(state.fractions), dict(state.messages),
                                        dict(state.workers), dict(state.parts))
            progress(snap)

    active: dict[str, int] = {d: 0 for d in jobs}  # tasks of each detector running now
    part_fractions: dict[str, dict[int, float]] = {d: {} for d in jobs}
    parts_ended: dict[str, set] = {d: set() for d in jobs}
    seen_workers: dict[str, dict[str, None]] = {d: {} for d in jobs}

    def on_event(event) -> None:  # runs on the client's event-loop thread
        msg = event[1] if isinstance(event, tuple) else event
        if not isinstance(msg, dict) or msg.get("detector") not in active:
            return
        det = msg["detector"]
        fraction = float(msg.get("fraction", 0.0))
        with lock:
            kind = msg.get("event")
            active[det] += 1 if kind == "start" else -1 if kind == "end" else 0
            if "part" in msg:  # one of the detector's part tasks (pairs, stack parts): its share of their span
                parts = part_fractions[det]
                parts[int(msg["part"])] = max(parts.get(int(msg["part"]), 0.0), fraction)
                if kind == "end":
                    parts_ended[det].add(int(msg["part"]))
                state.parts[det] = (len(parts_ended[det]), int(msg.get("parts", 1)))
                lo, hi = PART_SPANS[plan.analysis] if split else (0.0, 1.0)
                fraction = lo + (hi - lo) * min(sum(parts.values()) / max(int(msg.get("parts", 1)), 1), 1.0)
            if state.states[det] in ("queued", "running"):
                # running while any of its tasks runs; queued again while its next task waits
                state.states[det] = "running" if active[det] > 0 or kind is None else "queued"
                state.fractions[det] = max(state.fractions.get(det, 0.0), fraction)
                state.messages[det] = str(msg.get("message", ""))
                if msg.get("worker"):
                    seen_workers[det][str(msg["worker"])] = None
                    state.workers[det] = ", ".join(seen_workers[det])

    info: dict = {"kind": "none (no detector could run)"}
    if jobs:
        with (contextlib.nullcontext(client) if client is not None
              else open_client(cluster or ClusterSpec(), _task_count(jobs, split))) as cl:
            info = describe_cluster(cl)
            info["kind"] = ("caller's client" if client is not None else
                            "external" if (cluster and cluster.external) else "local")
            token = uuid.uuid4().hex[:8]
            topic = f"nircam-campaign-{token}"
            # the workers see OUTDIR (they write there): a file in it is the cancel flag, a folder in it
            # holds what a detector's tasks share (its box grid, a SUPERBIAS estimated from its ramps)
            flag = out / f".nircam-campaign-cancel-{token}"
            work = out / f".nircam-campaign-work-{token}"
            work.mkdir()  # the tasks make their detectors' folders in it while it exists
            cl.subscribe_topic(topic, on_event)
            submit = (_submit_detector if not split else _submit_gain if plan.analysis == "gain" else
                      _submit_skyflat)
            futures: dict = {}  # the last task of each detector -> detector
            tasks_of: dict[str, list] = {}  # every task of each detector (to cancel them)
            # a campaign cancelled before it starts submits nothing
            cancelled = cancel is not None and cancel()
            for k, (det, job) in enumerate(jobs.items() if not cancelled else ()):
                # earlier detectors first, and a ready combine before any pair: a detector finishes
                # (its pairs' statistics released) as soon as its last pair is measured
                last, every = submit(cl, plan.analysis, job, out / det, settings or {}, topic, flag, force,
                                     work / det, _task_name(det, token), len(jobs) - k, 2 * len(jobs))
                futures[last] = det
                tasks_of[det] = every
            pending = set(futures)
            # a detector's end wakes the loop at once (the callbacks run on the client's thread); the
            # timeout keeps the cancel check responsive
            ended = threading.Event()
            for fut in futures:
                fut.add_done_callback(lambda _: ended.set())
            report()
            try:
                while pending:
                    # the cancel is looked at before the results: a cancel that came while a detector
                    # finished still stops the rest
                    if not cancelled and cancel is not None and cancel():
                        cancelled = True
                        flag.touch()
                        _cancel_queued(cl, futures, tasks_of, pending, state, lock)
                    # a future's status is local (no scheduler round trip)
                    ended.clear()
                    done = {f for f in pending if f.done()}
                    if not done:
                        ended.wait(0.2)
                        done = {f for f in pending if f.done()}
                    pending -= done
                    for fut in done:
                        det = futures[fut]
                        outcomes[det] = _outcome(fut, det)
                        tasks_of.pop(det, None)  # the detector's intermediate results can go
                        with lock:
                            state.states[det] = outcomes[det].state
                            state.fractions[det] = 1.0
                        if outcomes[det].state == "failed" and not keep_going:
                            _cancel_queued(cl, futures, tasks_of, pending, state, lock)
                    report()
            finally:
                cl.unsubscribe_topic(topic)
                if pending:  # interrupted (a second Ctrl-C): stop what runs, keep what is done
                    flag.touch()
                    cl.cancel([f for det in tasks_of for f in tasks_of[det]])
            # a cancelled task that had started may run on in its worker: without the work folder it
            # stops at its next step (tasks.py, _enter_workdir) rather than write anything
            flag.unlink(missing_ok=True)
            for _ in range(5):  # a detector whose last task never ran; again if a late task wrote in between
                shutil.rmtree(work, ignore_errors=True)
                if not work.exists():
                    break
                time.sleep(0.2)
            for det in jobs:
                if det not in outcomes:
                    outcomes[det] = DetectorOutcome(det, "cancelled", error="not started: the campaign stopped")
    outcomes = {d: outcomes[d] for d in plan.jobs}
    tables = (gain_tables if plan.analysis == "gain" else skyflat_tables)(outcomes, out)
    prov = _write_provenance(plan, out, outcomes, info, tables, created, time.perf_counter() - t0, command,
                             keep_going, cancelled)
    report()
    return CampaignResult(plan.analysis, out, outcomes, tables, prov, info, cancelled)


def _outcome(fut, det: str) -> DetectorOutcome:
    try:
        if fut.cancelled():
            return DetectorOutcome(det, "cancelled", error="not started: the campaign stopped")
        return fut.result()
    except Exception as exc:  # noqa: BLE001 - a worker that died, a task that could not be run
        return DetectorOutcome(det, "failed", error=f"the task did not finish: {type(exc).__name__}: {exc}")


def _cancel_queued(client, futures: dict, tasks_of: dict, pending: set, state: CampaignProgress, lock) -> None:
    """Cancel the tasks of detectors that have not started; started ones finish (or see the
    cancel flag)."""
    with lock:
        queued = [f for f in pending if state.states.get(futures[f]) == "queued" and not state.fractions.get(futures[f])]
    if queued:
        client.cancel([t for f in queued for t in tasks_of.get(futures[f], [f])])


def _task_name(detector: str, token: str) -> str:
    """The tail of a detector's task keys: the campaign's token (hex, so that Dask's key prefix, which
    groups task durations, ends before it and does not hold the detector's name), then the detector."""
    return f"{token}-{detector}"


def _task_count(jobs: dict, split: bool) -> int:
    """Tasks that can run at once: the detectors' parts (pairs, stack parts), or the detectors."""
    return sum(j.parts for j in jobs.values()) if split else len(jobs)


def _submit_detector(cl, analysis: str, job, detdir: Path, settings: dict, topic: str, flag: Path, force: bool,
                     work: Path, name: str, priority: int, top: int) -> tuple:
    """One task for the detector."""
    fut = cl.submit(run_detector, analysis, job, os.fspath(detdir), settings, topic, os.fspath(flag), force,
                    key=f"nircam-{analysis}-whole-{name}", pure=False, priority=priority)
    return fut, [fut]


def _submit_gain(cl, analysis: str, job, detdir: Path, settings: dict, topic: str, flag: Path, force: bool,
                 work: Path, name: str, priority: int, top: int) -> tuple:
    """The gain graph of one detector: prepare -> a task per pair -> combine (see :mod:`.tasks`).

    The pairs' statistics (groups x boxes) go from the pair tasks to the combine task; the
    client holds only the futures. Dask learns task durations (by which it balances the workers)
    per key prefix, the words before the first one with a digit: every kind of task has its own."""
    prep = cl.submit(gain_prepare, job, os.fspath(detdir), settings, topic, os.fspath(flag), force, os.fspath(work),
                     key=f"nircam-gain-prepare-{name}", pure=False, priority=priority)
    pairs = [cl.submit(gain_pair, prep, i, topic, os.fspath(flag), key=f"nircam-gain-pair-{i + 1}-{name}",
                       pure=False, priority=priority) for i in range(job.parts)]
    last = cl.submit(gain_combine, prep, pairs, os.fspath(detdir), settings, topic, os.fspath(flag),
                     key=f"nircam-gain-combine-{name}", pure=False, priority=top + priority)
    return last, [prep, *pairs, last]


def _submit_skyflat(cl, analysis: str, job, detdir: Path, settings: dict, topic: str, flag: Path, force: bool,
                    work: Path, name: str, priority: int, top: int) -> tuple:
    """The sky-flat graph of one detector: prepare -> a stack task per filter -> combine (see :mod:`.tasks`).

    The stack parts' images go through files in ``work``; the tasks pass paths."""
    prep = cl.submit(skyflat_prepare, job, os.fspath(detdir), settings, topic, os.fspath(flag), force,
                     os.fspath(work), key=f"nircam-skyflat-prepare-{name}", pure=False, priority=priority)
    parts = [cl.submit(skyflat_stack, prep, i, topic, os.fspath(flag), key=f"nircam-skyflat-stack-{i + 1}-{name}",
                       pure=False, priority=priority) for i in range(job.parts)]
    last = cl.submit(skyflat_combine, prep, parts, os.fspath(detdir), settings, topic, os.fspath(flag),
                     key=f"nircam-skyflat-combine-{name}", pure=False, priority=top + priority)
    return last, [prep, *parts, last]


def _write_provenance(plan: CampaignPlan, out: Path, outcomes: dict, cluster: dict, tables: list[str], created: str,
                      seconds: float, command, keep_going: bool, cancelled: bool) -> str:
    jobs = plan.jobs
    doc = {
        "created": created, "analysis": plan.analysis, "command": command or [], "software": software_versions(),
        "cluster": cluster, "keep_going": keep_going, "cancelled": cancelled, "seconds": seconds,
        "detectors": {d: {"state": o.state, "error": o.error, "worker": o.worker, "host": o.host, "pid": o.pid,
                          "seconds": o.seconds, "worker_peak_rss_mb": o.peak_rss_mb, "tasks": o.tasks,
                          "inputs": jobs[d].files,
                          "references": jobs[d].references, "regions": jobs[d].regions,
                          "notes": jobs[d].notes, "warnings": o.warnings,
                          "products": [os.path.relpath(p, out) for p in o.products]}
                      for d, o in outcomes.items()},
        "options": _common_options(plan), "tables": [os.path.basename(t) for t in tables],
        "skipped_files": plan.skipped_files, "notes": plan.notes,
    }
    path = out / CAMPAIGN_FILE
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(doc, indent=1, default=str))
    return os.fspath(path)


def _common_options(plan: CampaignPlan) -> dict:
    from .. import options as option_schema

    for job in plan.jobs.values():
        opts = getattr(job, "options", None)
        if opts is not None:
            return {k: v for k, v in option_schema.provenance(opts).items()
                    if k not in ("superbias", "linearity", "saturation", "mask", "ipc_kernel", "regions")}
    return {}
