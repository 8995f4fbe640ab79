"""One detector's work, as it runs on Dask workers.

A task gets paths and options (a :class:`~.inputs.DetectorJob`), reads its own files,
runs the same analysis and the same writer as a single-detector command into
``OUTDIR/<DETECTOR>/``, and returns a small :class:`DetectorOutcome` (states, a few
numbers, the workers that ran it). No frame travels through the scheduler.

A detector is a small graph of tasks. A gain detector runs the steps of
:func:`~nircam_gui.core.gain.run.run_gain`: :func:`gain_prepare` (checksums, skip test,
pairing, the SUPERBIAS estimate when none is given), one :func:`gain_pair` per pair
(calibration and box statistics of two integrations; it returns arrays of groups x boxes)
and :func:`gain_combine` (fits, maps, products). A sky-flat detector runs
:func:`skyflat_prepare` (checksums, skip test, its images in stack order), one
:func:`skyflat_stack` per filter or chunk of images (reading, source masks, normalisation,
backgrounds: :func:`~nircam_gui.core.skyflat.stack_parts.build_stack_part`; the normalised
images go to ``.npy`` files in the detector's work folder, only their paths come back) and
:func:`skyflat_combine` (the parts merged in image order, then the grey and per-filter delta
flats, the additive fit, new flats, dead pixels, products: a new flat needs every filter,
through the grey flat). :func:`run_detector` runs either analysis as one task.

Every task first applies :func:`~nircam_gui.core.runtime.configure_compute`, as a command-line
run does: a worker process may have been started by a cluster this package did not set up.

Beside the products it writes ``campaign_record.json``: the SHA-256 of every file read,
the options, and the SHA-256 of every product. A later campaign with the same inputs and
options finds the record and the products intact and skips the detector.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import NircamFileError
from ..fileio import atomic_path, sha256sum
from ..memory import peak_rss_mb
from ..progress import Cancelled, Reporter
from ..provenance import file_checksum, known_checksums, prefetch_checksums, remember_checksums
from ..runtime import configure_compute

__all__ = ["RECORD_FILE", "RESULT_FILE", "DetectorOutcome", "PairOutcome", "Prepared", "gain_combine", "gain_pair",
           "gain_prepare", "run_detector"]

RECORD_FILE = "campaign_record.json"
#: the result object kept for the GUI (``settings["keep_result"]``), read back with pickle
RESULT_FILE = "result.pickle"
#: seconds between progress messages (and cancel checks) a worker sends the client
_EVERY_S = 0.5


@dataclass
class DetectorOutcome:
    """What the client learns of one detector (small: it travels through the scheduler).

    ``state`` is ``done``, ``skipped`` (products complete from an earlier run with the same
    inputs and options), ``failed``, ``refused`` (inputs not usable, never started) or
    ``cancelled``.
    """

    detector: str
    state: str
    error: str = ""
    worker: str = ""
    host: str = ""
    pid: int = 0
    seconds: float = 0.0
    products: list[str] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: peak resident memory of the worker process so far (MB; the lifetime peak, so it covers this task;
    #: with several tasks, the largest of their workers')
    peak_rss_mb: float = 0.0
    #: the tasks of this detector: ``task`` (prepare, pair N, combine), worker, host, pid, seconds, peak_rss_mb
    tasks: list[dict] = field(default_factory=list)


class _Link:
    """Progress events to the client (throttled) and the campaign's cancel flag.

    The cancel flag is a file in the output folder, which every worker sees (it writes its
    products there): checking it costs a ``stat``, no scheduler round trip, so a busy
    scheduler can neither delay a cancel nor invent one.
    """

    def __init__(self, detector: str, topic: str | None, cancel_flag: str | None) -> None:
        self.detector = detector
        self.topic = topic
        self.flag = cancel_flag
        self.worker = None
        self._last_sent = 0.0
        try:
            from distributed import get_worker

            self.worker = get_worker()
        except ValueError:  # not on a worker (a direct call): no events
            pass

    def send(self, fraction: float, message: str, force: bool = False, part: int | None = None,
             parts: int | None = None, event: str | None = None) -> None:
        """``fraction`` of the detector's work, or with ``part`` (0-based) of ``parts``, of that part's;
        ``event`` is ``start`` or ``end`` on a task's first and last message (the client counts the
        detector's tasks that run)."""
        now = time.monotonic()
        if self.worker is None or not self.topic or (not force and now - self._last_sent < _EVERY_S):
            return
        self._last_sent = now
        msg = {"detector": self.detector, "fraction": float(fraction), "message": str(message)[:80],
               "worker": self.worker.address}
        if part is not None:
            msg |= {"part": int(part), "parts": int(parts or 1)}
        if event:
            msg["event"] = event
        self.worker.log_event(self.topic, msg)

    def task(self, name: str, t0: float) -> dict:
        """Where, when (``start``: seconds since the epoch) and how long a task ran (for the provenance)."""
        seconds = time.perf_counter() - t0
        return {"task": name, "worker": self.worker.address if self.worker is not None else "",
                "host": socket.gethostname(), "pid": os.getpid(), "start": time.time() - seconds,
                "seconds": seconds, "peak_rss_mb": peak_rss_mb()}

    def cancelled(self) -> bool:
        return bool(self.flag) and os.path.exists(self.flag)


def _inputs_read(job) -> list[str]:
    """Every file the analysis reads: inputs, reference files, regions."""
    refs = []
    for v in job.references.values():
        refs.extend(v if isinstance(v, (list, tuple)) else [v])
    paths = [*job.files, *(r for r in refs if r), *([job.regions] if job.regions else [])]
    return list(dict.fromkeys(os.path.abspath(p) for p in paths))


def _plain(doc):
    return json.loads(json.dumps(doc, default=str, sort_keys=True))


def _record(outdir: Path, analysis: str, job, options: dict, checksums: dict, products: list[str],
            summary: dict) -> None:
    doc = {"analysis": analysis, "detector": job.detector, "inputs": checksums, "options": options,
           "products": {os.path.relpath(p, outdir): sha256sum(p) for p in products}, "summary": summary}
    with atomic_path(outdir / RECORD_FILE) as tmp:
        tmp.write_text(json.dumps(doc, indent=1, default=str))


def _complete(outdir: Path, analysis: str, options: dict, checksums: dict) -> dict | None:
    """The record of an earlier run when it matches and its products are intact, else None."""
    try:
        doc = json.loads((outdir / RECORD_FILE).read_text())
    except (OSError, ValueError):
        return None
    if doc.get("analysis") != analysis or doc.get("inputs") != checksums or doc.get("options") != options:
        return None
    for rel, sha in doc.get("products", {}).items():
        p = outdir / rel
        if not p.is_file() or sha256sum(p) != sha:
            return None
    return doc if doc.get("products") else None


def _gain(job, outdir: Path, settings: dict, progress, cancel) -> tuple[list[str], dict, list[str]]:
    from ..gain.run import run_gain

    result = run_gain(job.files, job.options, lambda f, m: progress(0.97 * f, m), cancel)
    progress(0.98, "writing products")
    return _write_gain(result, job, outdir, settings)


def _write_gain(result, job, outdir: Path, settings: dict) -> tuple[list[str], dict, list[str]]:
    """The single-run products of ``result`` in ``outdir``, and the detector's summary."""
    from astropy.table import Table

    from ..gain.products import write_gain_products

    paths = write_gain_products(result, outdir, figures=settings.get("figures", True))
    if settings.get("keep_result"):
        paths["result"] = _keep(result, outdir)
    sectors = Table.read(outdir / "sectors.ecsv")
    pairs = Table.read(outdir / "pairs.ecsv")
    # the run's own PTC model is the first row: its offset and standard error give z its meaning
    test = Table.read(outdir / "first_pair.ecsv")[0]
    summary = {
        "sectors": [{"amp": int(r["amp"]), "region": str(r["region"]), "gain": float(r["gain"]),
                     "gain_err": float(r["gain_err"]), "gain_apparent": float(r["gain_apparent"])} for r in sectors],
        "first_pair": {k: pairs.meta.get(k) for k in ("first_pair_mode", "first_pair_anomalous", "first_pair_used",
                                                      "d21_mean", "d21_std", "ref_label", "ref_mean", "ref_std",
                                                      "z", "reason")}
        | {"offset": float(test["offset"]), "se": float(test["se"])},
        "n_pairs": len(pairs), "pairs_used": [int(p) for p, u in zip(pairs["pair"], pairs["used"]) if u],
        "ipc_corrected": bool(sectors.meta.get("gain_ipc_corrected", job.options.ipc != "none")),
    }
    return [os.fspath(p) for p in paths.values()], summary, list(result.warnings)


def _skyflat(job, outdir: Path, settings: dict, progress, cancel, stacks=None) -> tuple[list[str], dict, list[str]]:
    from ..skyflat.run import run_and_write

    result, files = run_and_write(job.files, outdir, ground_flats=job.references.get("ground_flats", ()),
                                  ground_masks=job.references.get("ground_masks", ()),
                                  predictions=settings.get("predictions"), options=job.options,
                                  progress=progress, cancel=cancel, stacks=stacks)
    if settings.get("keep_result"):
        files = [*files, _keep(result, outdir)]
    det = result.detectors[job.detector]
    flats = [{"filter": d.filter, "pupil": d.pupil, "file": f"flat_{job.detector}_{token}.fits",
              "n_images": len(d.files), "ground_flat": os.path.basename(det.flats[token].ground_file)}
             for token, d in sorted(det.filter_deltas.items()) if token in det.flats]
    summary = {"flats": flats, "n_images": det.n_images, "n_dead": int(det.n_dead), "n_clusters": int(det.n_clusters),
               "fit_method": det.fit_method, "dead_threshold": float(det.dead.threshold),
               "filters": sorted(det.filter_deltas)}
    return list(files), summary, list(result.warnings)


_ANALYSES = {"gain": _gain, "skyflat": _skyflat}


def _keep(result, outdir: Path) -> str:
    """Pickle ``result`` beside its products (for the GUI, as its session files keep results)."""
    with atomic_path(outdir / RESULT_FILE) as tmp:
        with open(tmp, "wb") as f:
            pickle.dump(result, f, protocol=pickle.HIGHEST_PROTOCOL)
    return os.fspath(outdir / RESULT_FILE)


def options_record(analysis: str, job, settings: dict) -> dict:
    """The options a run of ``job`` depends on, as plain data (what the skip test compares)."""
    from .. import options as option_schema

    doc = {"analysis": option_schema.provenance(job.options), "figures": settings.get("figures", True),
           "keep_result": bool(settings.get("keep_result"))}
    predictions = settings.get("predictions")
    if predictions is not None:
        doc["predictions"] = [list(map(str, row)) for row in predictions]
    return _plain(doc)


def run_detector(analysis: str, job, outdir: str | os.PathLike, settings: dict | None = None,
                 topic: str | None = None, cancel_flag: str | None = None, force: bool = False) -> DetectorOutcome:
    """Run one detector's analysis and write its products into ``outdir`` (its own folder).

    Parameters
    ----------
    analysis : {"gain", "skyflat"}
    job : DetectorJob
        With ``options`` (the analysis' options object for this detector).
    outdir : path-like
        This detector's folder, ``OUTDIR/<DETECTOR>``.
    settings : dict, optional
        ``figures`` (bool), ``predictions`` (sky flats: an astropy Table).
    topic : str, optional
        Dask event topic for progress (``Worker.log_event``).
    cancel_flag : str, optional
        A file whose existence cancels the task (at its next step).
    force : bool
        Run even when an earlier run's products are complete.

    Returns
    -------
    DetectorOutcome
        Never raises for a problem of the data: a failure is ``state="failed"`` with the
        one-line error (file and problem); a cancel is ``state="cancelled"``. Products are
        staged and moved in at the end, so a failed or cancelled detector leaves its folder
        as it was.
    """
    configure_compute()
    settings = settings or {}
    t0 = time.perf_counter()
    link = _Link(job.detector, topic, cancel_flag)
    out = DetectorOutcome(job.detector, "failed", host=socket.gethostname(), pid=os.getpid(),
                          worker=link.worker.address if link.worker is not None else "")
    outdir = Path(outdir)
    link.send(0.0, "checking inputs", force=True, event="start")
    try:
        # cached in the process: the products' provenance records the same checksums
        checksums = {p: file_checksum(p) for p in _inputs_read(job)}
        options = options_record(analysis, job, settings)
        earlier = None if force else _complete(outdir, analysis, options, checksums)
        if earlier is not None:
            out.state, out.summary = "skipped", earlier.get("summary", {})
            out.products = [os.fspath(outdir / rel) for rel in earlier["products"]]
        else:
            def progress(fraction: float, message: str) -> None:
                link.send(fraction, message)

            products, out.summary, out.warnings = _ANALYSES[analysis](job, outdir, settings, progress,
                                                                      link.cancelled)
            _record(outdir, analysis, job, options, checksums, products, out.summary)
            out.products = products + [os.fspath(outdir / RECORD_FILE)]
            out.state = "done"
    except (Cancelled, KeyboardInterrupt):
        out.state, out.error = "cancelled", "cancelled by the user"
    except Exception as exc:  # noqa: BLE001 - one detector's failure is reported, the others go on
        out.state, out.error = "failed", error_text(exc)
    out.seconds = time.perf_counter() - t0
    out.peak_rss_mb = peak_rss_mb()
    link.send(1.0, out.state, force=True, event="end")
    return out


def error_text(exc: BaseException) -> str:
    """One line for a detector's failure: the file and the problem where one is known."""
    if isinstance(exc, NircamFileError):
        return str(exc).strip().splitlines()[0]
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    if isinstance(exc, MemoryError):
        return "out of memory on the worker (fewer workers per machine, or a larger memory limit)"
    return f"unexpected {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else 'no message'}"


__all__ += ["error_text", "options_record"]


# --- a gain detector as a graph: prepare -> one task per pair -> combine ---------------------

#: parts of a gain detector's progress: prepare, the pairs, combine (fractions of the whole)
GAIN_SPANS = {"prepare": (0.0, 0.02), "pairs": (0.02, 0.97), "combine": (0.97, 1.0)}
#: in a detector's work folder: a pair that failed stops its siblings at their next group
_FAILED_FLAG = "failed"
#: in a detector's work folder: its box grid, made once by its prepare task
_BOXES_FILE = "boxes.pickle"


@dataclass
class Prepared:
    """A detector after its prepare task (:func:`gain_prepare`, :func:`skyflat_prepare`): its
    setup, or why it goes no further.

    ``outcome`` is set when the detector is finished already (skipped, failed, cancelled);
    otherwise ``setup`` (a :class:`~nircam_gui.core.gain.run.GainSetup` or a
    :class:`SkyflatSetup`, paths and numbers) goes to every part task. ``known`` are the checksums
    of every file read (inputs, reference files, regions), so the workers that record them (a
    pair's calibration, the products' provenance) do not hash them again.
    """

    job: object
    outcome: DetectorOutcome | None
    setup: object = None
    checksums: dict = field(default_factory=dict)
    known: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    workdir: str = ""
    started: float = 0.0
    tasks: list[dict] = field(default_factory=list)


@dataclass
class PairOutcome:
    """What one pair task returns: its statistics (groups x boxes) or why there are none."""

    index: int
    state: str  # done, failed, cancelled, skipped (the detector went no further)
    error: str = ""
    stats: object = None  # PairStatistics
    task: dict = field(default_factory=dict)


_GEOMETRY: OrderedDict = OrderedDict()
_GEOMETRY_MAX = 2
_GEOMETRY_LOCK = threading.Lock()


def _stamp(path: str | None):
    if not path:
        return None
    st = os.stat(path)
    return os.path.abspath(path), st.st_size, st.st_mtime_ns


def _geometry(options, shape: tuple[int, int], detector: str, workdir: str = ""):
    """A run's box grid and clippers, made once per worker thread for every task (and every
    campaign) that needs the same. Keyed on the files it is made from (path, size, mtime); per
    thread, as the clipper keeps scratch buffers. The box grid itself (~1 s to make on a full
    frame) is read from the detector's work folder when its prepare task left it there."""
    from ..gain.run import build_geometry

    o = options
    key = (threading.get_ident(), o.box, _stamp(o.regions), _stamp(o.mask), o.nsigma, o.measured_lag,
           tuple(shape), detector)
    with _GEOMETRY_LOCK:
        geo = _GEOMETRY.get(key)
        if geo is not None:
            _GEOMETRY.move_to_end(key)
            return geo
    saved = os.path.join(workdir, _BOXES_FILE) if workdir else ""
    if saved and os.path.isfile(saved):
        with open(saved, "rb") as f:
            geo = build_geometry(o, shape, detector, boxes=pickle.load(f))
    else:
        geo = build_geometry(o, shape, detector)
    with _GEOMETRY_LOCK:
        _GEOMETRY[key] = geo
        while len(_GEOMETRY) > _GEOMETRY_MAX:
            _GEOMETRY.popitem(last=False)
    return geo


_BUFFERS = threading.local()


def _enter_workdir(workdir: str | os.PathLike) -> None:
    """Make a detector's folder in the campaign's work folder, which the client made before it
    submitted anything and removes when the campaign ends: a task that runs on after its campaign
    was cancelled finds it gone and stops, instead of leaving files behind."""
    try:
        os.mkdir(workdir)
    except FileExistsError:
        pass
    except FileNotFoundError:
        raise Cancelled("the campaign has ended") from None


def _buffers():
    """The calibration arrays a worker thread lends to its pair tasks one after the other, so a
    task does not pay the page faults of fresh full-frame chunks (see
    :class:`~nircam_gui.core.calibrate.buffers.BufferPool`)."""
    from ..calibrate.buffers import BufferPool

    pool = getattr(_BUFFERS, "pool", None)
    if pool is None:
        pool = _BUFFERS.pool = BufferPool()
    return pool


def _part_stop(link: _Link, workdir: str):
    """A detector's part tasks stop when the campaign is cancelled, a sibling failed, or the
    work folder is gone (the campaign has ended: the part would be made for nobody)."""
    failed_flag = os.path.join(workdir, _FAILED_FLAG) if workdir else None

    def stop() -> bool:
        return link.cancelled() or (failed_flag is not None and (os.path.exists(failed_flag) or
                                                                 not os.path.isdir(workdir)))
    return stop


def _fail_siblings(workdir: str) -> None:
    if workdir:
        try:
            _enter_workdir(workdir)
            Path(workdir, _FAILED_FLAG).touch()
        except (OSError, Cancelled):
            pass  # the siblings then finish their parts; the detector fails all the same


def gain_prepare(job, outdir: str | os.PathLike, settings: dict | None = None, topic: str | None = None,
                 cancel_flag: str | None = None, force: bool = False, workdir: str | os.PathLike | None = None
                 ) -> Prepared:
    """First task of a gain detector: checksums and the skip test, then the run's setup.

    Parameters
    ----------
    job : DetectorJob
        ``job.parts`` is the number of pairs the plan found.
    outdir : path-like
        The detector's folder (``OUTDIR/<DETECTOR>``): read here only for the skip test.
    settings, topic, cancel_flag, force
        As :func:`run_detector`.
    workdir : path-like, optional
        A folder every worker sees, for the SUPERBIAS estimated from the ramps when none is
        given (removed by :func:`gain_combine`).

    Returns
    -------
    Prepared
        Never raises for a problem of the data (see :func:`run_detector`).
    """
    configure_compute()
    from ..gain.run import prepare_gain

    def setup(prep: Prepared) -> None:
        if workdir:
            _enter_workdir(workdir)
        prep.setup = prepare_gain(job.files, job.options, workdir=workdir, make_geometry=_geometry)
        n = len(prep.setup.pairs)
        if n != getattr(job, "parts", n):
            raise NircamFileError(job.files[0], f"the ramps changed after the campaign was planned: {n} pairs, "
                                                f"were {job.parts}")
        geo = prep.setup.geometry()  # made by prepare_gain (it checked the regions and the MASK)
        if workdir:  # the other workers read it rather than make it again
            _enter_workdir(workdir)
            with atomic_path(Path(workdir) / _BOXES_FILE) as tmp:
                with open(tmp, "wb") as f:
                    pickle.dump(geo.boxes, f, protocol=pickle.HIGHEST_PROTOCOL)

    return _prepare("gain", job, outdir, settings, topic, cancel_flag, force, workdir, setup,
                    GAIN_SPANS["prepare"][1], "pairs queued")


def _prepare(analysis: str, job, outdir, settings: dict | None, topic: str | None, cancel_flag: str | None,
             force: bool, workdir, setup, end: float, queued: str) -> Prepared:
    """What both analyses' prepare tasks do: checksums, the skip test, ``setup(prep)`` when the
    detector must run, and a problem of the data turned into the detector's outcome."""
    settings = settings or {}
    t0 = time.perf_counter()
    link = _Link(job.detector, topic, cancel_flag)
    prep = Prepared(job, None, workdir=os.fspath(workdir) if workdir else "", started=time.time())
    fail = DetectorOutcome(job.detector, "failed", host=socket.gethostname(), pid=os.getpid(),
                           worker=link.worker.address if link.worker is not None else "")
    link.send(0.0, "checking inputs", force=True, event="start")
    try:
        if link.cancelled():
            raise Cancelled("cancelled by the user")
        paths = _inputs_read(job)
        prep.options = options_record(analysis, job, settings)
        fresh = force or not (Path(outdir) / RECORD_FILE).is_file()
        if fresh:
            # no earlier run to compare with: the files are hashed in a thread while the setup runs,
            # the reference files first (a gain pair's calibration records theirs as it starts)
            inputs = {os.path.abspath(p) for p in job.files}
            prefetch_checksums([p for p in paths if p not in inputs] + [p for p in paths if p in inputs])
            setup(prep)
        prep.checksums = {p: file_checksum(p) for p in paths}
        if not fresh:
            earlier = _complete(Path(outdir), analysis, prep.options, prep.checksums)
            if earlier is not None:
                fail.state, fail.summary = "skipped", earlier.get("summary", {})
                fail.products = [os.fspath(Path(outdir) / rel) for rel in earlier["products"]]
                prep.outcome = fail
            else:
                setup(prep)
        if prep.outcome is None:
            # for the part tasks (a pair's calibration records its reference files) and the combine
            # (the products record every input), wherever they run: no file is hashed twice
            prep.known = known_checksums(paths)
    except (Cancelled, KeyboardInterrupt):
        fail.state, fail.error = "cancelled", "cancelled by the user"
        prep.outcome, prep.setup = fail, None
    except Exception as exc:  # noqa: BLE001 - one detector's failure is reported, the others go on
        fail.state, fail.error = "failed", error_text(exc)
        prep.outcome, prep.setup = fail, None
    prep.tasks.append(link.task("prepare", t0))
    link.send(end, queued if prep.outcome is None else prep.outcome.state, force=True, event="end")
    return prep


def gain_pair(prepared: Prepared, index: int, topic: str | None = None,
              cancel_flag: str | None = None) -> PairOutcome:
    """One pair of a gain detector: its two integrations calibrated, every group measured in
    every box (:func:`~nircam_gui.core.gain.run.measure_pair`).

    Stops at its next group when the campaign is cancelled or another pair of the detector
    failed. Never raises for a problem of the data: the error is in the outcome.
    """
    configure_compute()
    from ..gain.run import measure_pair

    t0 = time.perf_counter()
    det = prepared.job.detector
    link = _Link(det, topic, cancel_flag)
    if prepared.setup is None:
        return PairOutcome(index, "skipped")
    setup = prepared.setup
    n = len(setup.pairs)
    stop = _part_stop(link, prepared.workdir)
    out = PairOutcome(index, "failed")
    link.send(0.0, f"pair {index + 1}: starting", force=True, part=index, parts=n, event="start")
    try:
        if stop():
            raise Cancelled("cancelled")
        remember_checksums(prepared.known)
        out.stats = measure_pair(setup, index, lambda f, m: link.send(f, m, part=index, parts=n), stop,
                                 _geometry(setup.options, setup.shape, setup.detector, prepared.workdir),
                                 _buffers())
        out.state = "done"
    except (Cancelled, KeyboardInterrupt):
        out.state, out.error = "cancelled", "cancelled by the user"
    except Exception as exc:  # noqa: BLE001 - the detector fails, the campaign goes on
        out.state, out.error = "failed", error_text(exc)
        _fail_siblings(prepared.workdir)
    out.task = link.task(f"pair {index + 1}", t0)
    link.send(1.0, f"pair {index + 1}: {out.state}", force=True, part=index, parts=n, event="end")
    return out


def gain_combine(prepared: Prepared, pairs: list[PairOutcome], outdir: str | os.PathLike,
                 settings: dict | None = None, topic: str | None = None,
                 cancel_flag: str | None = None) -> DetectorOutcome:
    """Last task of a gain detector: the pairs' statistics fitted and combined into its maps
    (:func:`~nircam_gui.core.gain.run.combine_gain`), the products and the record written
    into ``outdir``. A failed pair fails the detector (its folder is left as it was)."""
    configure_compute()
    from ..gain.run import combine_gain

    settings = settings or {}
    t0 = time.perf_counter()
    job = prepared.job
    link = _Link(job.detector, topic, cancel_flag)
    outdir = Path(outdir)
    tasks = list(prepared.tasks) + [p.task for p in pairs if p is not None and p.task]
    link.send(GAIN_SPANS["combine"][0], "combining the pairs", force=True, event="start")
    if prepared.outcome is not None:
        out = prepared.outcome
    else:
        out = DetectorOutcome(job.detector, "failed", host=socket.gethostname(), pid=os.getpid(),
                              worker=link.worker.address if link.worker is not None else "")
        try:
            failed = [p for p in pairs if p.state == "failed"]
            if failed:
                raise _PartFailed(failed[0].error)
            if link.cancelled() or any(p.state != "done" for p in pairs):
                raise Cancelled("cancelled by the user")
            remember_checksums(prepared.known)
            st = prepared.setup
            geometry = _geometry(st.options, st.shape, st.detector, prepared.workdir)
            result = combine_gain(prepared.setup, [p.stats for p in pairs], geometry)
            link.send(0.98, "writing products", force=True)
            products, out.summary, out.warnings = _write_gain(result, job, outdir, settings)
            _record(outdir, "gain", job, prepared.options, prepared.checksums, products, out.summary)
            out.products = products + [os.fspath(outdir / RECORD_FILE)]
            out.state = "done"
        except (Cancelled, KeyboardInterrupt):
            out.state, out.error = "cancelled", "cancelled by the user"
        except _PartFailed as exc:
            out.state, out.error = "failed", str(exc)
        except Exception as exc:  # noqa: BLE001
            out.state, out.error = "failed", error_text(exc)
    return _end_combine(prepared, out, tasks, link, t0)


def _end_combine(prepared: Prepared, out: DetectorOutcome, tasks: list[dict], link: _Link, t0: float
                 ) -> DetectorOutcome:
    """What both analyses' combine tasks do last, whatever the outcome: the work folder removed,
    the detector's task records, time and peak memory filled in, the end reported."""
    if prepared.workdir:
        shutil.rmtree(prepared.workdir, ignore_errors=True)
    out.tasks = [*tasks, link.task("combine", t0)]
    out.seconds = time.time() - prepared.started
    out.peak_rss_mb = max(t.get("peak_rss_mb", 0.0) for t in out.tasks)
    link.send(1.0, out.state, force=True, event="end")
    return out


class _PartFailed(Exception):
    """A part task's error (a pair, a stack part), already one line naming the file."""


# --- a sky-flat detector as a graph: prepare -> one stack task per filter -> combine ---------

#: parts of a sky-flat detector's progress: prepare, the stack parts, combine (fractions of the whole)
SKYFLAT_SPANS = {"prepare": (0.0, 0.02), "parts": (0.02, 0.6), "combine": (0.6, 1.0)}
#: per analysis, the span of a detector's progress its part tasks (pairs, stack parts) share
PART_SPANS = {"gain": GAIN_SPANS["pairs"], "skyflat": SKYFLAT_SPANS["parts"]}


@dataclass
class SkyflatSetup:
    """A sky-flat detector after :func:`skyflat_prepare`: its images in stack order and its parts."""

    metas: list  # ExposureMeta, headers only
    #: image positions of each stack part, by part name
    split: dict
    block_bin: int = 0


@dataclass
class StackOutcome:
    """What one stack task returns: where its part of the stack was written, or why it was not."""

    index: int
    name: str
    state: str  # done, failed, cancelled, skipped (the detector went no further)
    error: str = ""
    part: object = None  # StackPart (paths and background records)
    task: dict = field(default_factory=dict)


def skyflat_prepare(job, outdir: str | os.PathLike, settings: dict | None = None, topic: str | None = None,
                    cancel_flag: str | None = None, force: bool = False, workdir: str | os.PathLike | None = None
                    ) -> Prepared:
    """First task of a sky-flat detector: checksums and the skip test, then its images in stack order.

    Parameters
    ----------
    job : DetectorJob
        ``job.split`` holds the stack parts the plan found.
    outdir : path-like
        The detector's folder (``OUTDIR/<DETECTOR>``): read here only for the skip test.
    settings, topic, cancel_flag, force
        As :func:`run_detector`.
    workdir : path-like, optional
        The detector's folder in the campaign's work folder, where its stack parts are written
        (every worker must see it; removed by :func:`skyflat_combine`).

    Returns
    -------
    Prepared
        With a :class:`SkyflatSetup`. Never raises for a problem of the data.
    """
    configure_compute()
    from ..skyflat.inputs import check_inputs
    from ..skyflat.stack_parts import split_by_filter

    def setup(prep: Prepared) -> None:
        inputs = check_inputs(job.files, job.references.get("ground_flats", ()),
                              job.references.get("ground_masks", ()))
        metas = inputs.by_detector.get(job.detector)
        if metas is None or len(inputs.by_detector) != 1:
            raise NircamFileError(job.files[0], f"the images are of {', '.join(inputs.by_detector)}, not only "
                                                f"{job.detector}")
        split = split_by_filter(metas, job.images_per_task)
        if split != job.split:
            raise NircamFileError(job.files[0], f"the images changed after the campaign was planned: stack parts "
                                                f"{sorted(split)}, were {sorted(job.split)}")
        opt = job.options
        prep.setup = SkyflatSetup(metas, split, opt.additive_bin if opt.additive == "separate" else 0)
        if workdir:
            _enter_workdir(workdir)

    return _prepare("skyflat", job, outdir, settings, topic, cancel_flag, force, workdir, setup,
                    SKYFLAT_SPANS["prepare"][1], "stacks queued")


def skyflat_stack(prepared: Prepared, index: int, topic: str | None = None,
                  cancel_flag: str | None = None) -> StackOutcome:
    """One stack part of a sky-flat detector (the images of one filter, or a chunk of them):
    each image read, its sources masked, normalised by its sky
    (:func:`~nircam_gui.core.skyflat.stack_parts.build_stack_part`), written into the
    detector's work folder.

    Stops at its next image when the campaign is cancelled or another part of the detector
    failed. Never raises for a problem of the data: the error is in the outcome.
    """
    configure_compute()
    from ..skyflat.stack_parts import build_stack_part

    t0 = time.perf_counter()
    det = prepared.job.detector
    link = _Link(det, topic, cancel_flag)
    if prepared.setup is None:
        return StackOutcome(index, "", "skipped")
    setup = prepared.setup
    name, idx = list(setup.split.items())[index]
    n = len(setup.split)
    stop = _part_stop(link, prepared.workdir)
    out = StackOutcome(index, name, "failed")
    link.send(0.0, f"{name}: starting", force=True, part=index, parts=n, event="start")
    try:
        if stop():
            raise Cancelled("cancelled")
        rep = Reporter(len(idx), lambda f, m: link.send(f, m, part=index, parts=n), stop)
        out.part = build_stack_part(det, setup.metas, idx, prepared.job.options, prepared.workdir, name, rep,
                                    block_bin=setup.block_bin)
        out.state = "done"
    except (Cancelled, KeyboardInterrupt):
        out.state, out.error = "cancelled", "cancelled by the user"
    except FileNotFoundError as exc:
        if prepared.workdir and not os.path.isdir(prepared.workdir):  # the campaign has ended
            out.state, out.error = "cancelled", "cancelled by the user"
        else:
            out.state, out.error = "failed", error_text(exc)
            _fail_siblings(prepared.workdir)
    except Exception as exc:  # noqa: BLE001 - the detector fails, the campaign goes on
        out.state, out.error = "failed", error_text(exc)
        _fail_siblings(prepared.workdir)
    out.task = link.task(f"stack {name}", t0)
    link.send(1.0, f"{name}: {out.state}", force=True, part=index, parts=n, event="end")
    return out


def skyflat_combine(prepared: Prepared, parts: list[StackOutcome], outdir: str | os.PathLike,
                    settings: dict | None = None, topic: str | None = None,
                    cancel_flag: str | None = None) -> DetectorOutcome:
    """Last task of a sky-flat detector: its stack parts merged in image order
    (:func:`~nircam_gui.core.skyflat.stack_parts.merge_stack_parts`, memory-mapped), then the
    rest of :func:`~nircam_gui.core.skyflat.run.run_skyflat` on that stack and the products
    and the record written into ``outdir``. A failed part fails the detector (its folder is
    left as it was); the work folder is removed."""
    configure_compute()
    from ..skyflat.stack_parts import merge_stack_parts

    settings = settings or {}
    t0 = time.perf_counter()
    job = prepared.job
    link = _Link(job.detector, topic, cancel_flag)
    outdir = Path(outdir)
    tasks = list(prepared.tasks) + [p.task for p in parts if p is not None and p.task]
    lo, hi = SKYFLAT_SPANS["combine"]
    link.send(lo, "merging the stack", force=True, event="start")
    if prepared.outcome is not None:
        out = prepared.outcome
    else:
        out = DetectorOutcome(job.detector, "failed", host=socket.gethostname(), pid=os.getpid(),
                              worker=link.worker.address if link.worker is not None else "")
        try:
            failed = [p for p in parts if p.state == "failed"]
            if failed:
                raise _PartFailed(failed[0].error)
            gone = bool(prepared.workdir) and not os.path.isdir(prepared.workdir)  # the campaign has ended
            if link.cancelled() or gone or any(p.state != "done" for p in parts):
                raise Cancelled("cancelled by the user")
            remember_checksums(prepared.known)
            metas = prepared.setup.metas
            stack = {job.detector: lambda: merge_stack_parts(job.detector, metas, [p.part for p in parts])}
            products, out.summary, out.warnings = _skyflat(job, outdir, settings,
                                                           lambda f, m: link.send(lo + (hi - lo) * f, m),
                                                           link.cancelled, stacks=stack)
            _record(outdir, "skyflat", job, prepared.options, prepared.checksums, products, out.summary)
            out.products = products + [os.fspath(outdir / RECORD_FILE)]
            out.state = "done"
        except (Cancelled, KeyboardInterrupt):
            out.state, out.error = "cancelled", "cancelled by the user"
        except _PartFailed as exc:
            out.state, out.error = "failed", str(exc)
        except Exception as exc:  # noqa: BLE001
            out.state, out.error = "failed", error_text(exc)
    return _end_combine(prepared, out, tasks, link, t0)


__all__ += ["PART_SPANS", "SKYFLAT_SPANS", "SkyflatSetup", "StackOutcome", "skyflat_combine", "skyflat_prepare",
            "skyflat_stack"]
