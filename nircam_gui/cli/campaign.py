"""The campaign form of ``nircam-gain`` and ``nircam-skyflat``: several detectors, on Dask.

The commands take the same arguments plus the options added here; a run becomes a
campaign when one of them is given, or (``nircam-gain``) when the inputs hold a folder. Products go to ``OUTDIR/<DETECTOR>/``, the instrument tables and
``campaign.json`` to ``OUTDIR``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ._common import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, run_with_progress

__all__ = ["add_campaign_arguments", "gain_campaign", "skyflat_campaign", "wants_campaign"]

_FLAGS = ("refs", "workers", "threads", "scheduler", "scheduler_file", "keep_going", "campaign", "force",
          "images_per_task")


def add_campaign_arguments(parser: argparse.ArgumentParser, regions: bool = False, stack_parts: bool = False) -> None:
    """The campaign options (a ``--help`` group of their own); ``stack_parts``: sky flats' ``--images-per-task``."""
    g = parser.add_argument_group(
        "campaign (several detectors on Dask; products in OUTDIR/<DETECTOR>/, instrument tables in OUTDIR)")
    g.add_argument("--campaign", action="store_true", help="run as a campaign even for one detector")
    g.add_argument("--refs", nargs="+", default=[], metavar="DIR",
                   help="reference files or folders (e.g. a CRDS cache's references/jwst/nircam/), matched to each "
                        "detector on REFTYPE and DETECTOR")
    if regions:
        g.add_argument("--campaign-regions", nargs="+", default=[], metavar="PATH", dest="campaign_regions",
                       help="epoxy-void region files or masks, or folders of them, matched to each detector by "
                            "its name in the file name or a mask's DETECTOR (--regions takes one file or folder)")
    if stack_parts:
        g.add_argument("--images-per-task", type=int, metavar="N", dest="images_per_task",
                       help="at most N images of a filter per Dask task (default: one task per filter); the "
                            "detector's combine task merges them in order, the products do not change")
    g.add_argument("--workers", type=int, metavar="N", help="worker processes of the local Dask cluster "
                                                            "(default: one per core, at most one per detector)")
    g.add_argument("--threads", type=int, metavar="T",
                   help="numba and BLAS threads of each local worker (default: cores / workers)")
    g.add_argument("--scheduler", metavar="ADDRESS", help="use a running dask.distributed scheduler "
                                                          "(e.g. tcp://host:8786) instead of a local cluster")
    g.add_argument("--scheduler-file", metavar="FILE", help="use the running cluster of this scheduler file")
    g.add_argument("--keep-going", action="store_true",
                   help="run the detectors that can run when others have missing or inconsistent inputs, and go on "
                        "after a detector fails (default: refuse before any work, stop starting detectors)")
    g.add_argument("--force", action="store_true",
                   help="redo detectors whose products are complete from an earlier run with the same inputs and "
                        "options (default: skip them)")


def wants_campaign(args: argparse.Namespace, files: list[str], by_content: bool) -> bool:
    """Whether a command line asks for a campaign: a campaign option, or (``by_content``) a folder
    among the inputs. Files of several detectors without a campaign option keep the
    single-run behaviour (an error naming the odd file)."""
    if any(getattr(args, f, None) for f in _FLAGS) or getattr(args, "campaign_regions", None):
        return True
    return by_content and any(Path(f).is_dir() for f in files)


def _cluster(args, prog: str):
    from ..core.campaign import ClusterSpec

    try:
        return ClusterSpec(workers=args.workers, scheduler=args.scheduler, scheduler_file=args.scheduler_file,
                           threads=args.threads)
    except ValueError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return None


def _refused(plan, prog: str, keep_going: bool) -> bool:
    """Print the plan's notes and problems; True when the campaign must not start."""
    for note in plan.notes:
        print(f"warning: {note}", file=sys.stderr)
    for job in plan.jobs.values():
        for note in job.notes:
            print(f"note: {job.detector}: {note}", file=sys.stderr)
    if not plan.problems:
        return False
    for line in plan.problems:
        print(f"error: {line}", file=sys.stderr)
    if keep_going and plan.runnable:
        print(f"{prog}: {len(plan.jobs) - len(plan.runnable)} detector(s) skipped (--keep-going)", file=sys.stderr)
        return False
    print(f"{prog}: campaign refused before any work ({len(plan.problems)} problem(s)); fix them or give "
          "--keep-going to run the other detectors", file=sys.stderr)
    return True


def _run(plan, args, prog: str, settings: dict, argv: list[str]):
    from ..core.campaign import ClusterError, run_campaign

    cluster = _cluster(args, prog)
    if cluster is None:
        return EXIT_USAGE, None

    def work(progress, cancel):
        try:
            return run_campaign(plan, args.outdir, cluster=cluster, keep_going=args.keep_going, settings=settings,
                                force=args.force, progress=lambda st: progress(st.fraction, st.line()),
                                cancel=cancel, command=[prog, *argv])
        except ClusterError as exc:
            return exc

    code, result = run_with_progress(work, f"{prog} campaign ({len(plan.runnable)} detectors)", args.quiet)
    if isinstance(result, ClusterError):
        print(f"error: {result}", file=sys.stderr)
        return EXIT_ERROR, None
    if result is None:
        return code, None
    for det, o in result.outcomes.items():
        for w in o.warnings:
            print(f"warning: {det}: {w}", file=sys.stderr)
        if o.state in ("failed", "refused"):
            print(f"error: {det}: {o.error}", file=sys.stderr)
    if result.cancelled:
        print(f"{prog}: campaign stopped by the user; detectors done before keep their products "
              f"({len(result.by_state('done', 'skipped'))} of {len(result.outcomes)})", file=sys.stderr)
        code = EXIT_INTERRUPTED
    elif result.by_state("failed", "refused", "cancelled"):
        code = EXIT_ERROR
    else:
        code = EXIT_OK
    return code, result


def _where(o) -> str:
    return f"{o.host}:{o.pid}" if o.host else ""


def gain_campaign(args: argparse.Namespace, argv: list[str]) -> int:
    """``nircam-gain`` as a campaign; returns the exit code."""
    from ..core.campaign import plan_gain
    from ..core.errors import NircamFileError
    from ..core.gain.run import REFERENCE_OPTIONS, GainOptions
    from ..core.options import option_info

    ref_fields = set(REFERENCE_OPTIONS.values())
    values = {k: v for k, v in vars(args).items() if k in option_info(GainOptions) and k not in ref_fields
              and k != "regions"}
    # reference files named one by one join the search: each is used for the detector it is for
    named = [getattr(args, f) for f in ref_fields if getattr(args, f, None)]
    regions = [*([args.regions] if getattr(args, "regions", None) else []), *args.campaign_regions]
    try:
        plan = plan_gain(args.files, values, refs=[*args.refs, *args.references, *named], regions=regions)
    except NircamFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if _refused(plan, "nircam-gain", args.keep_going):
        return EXIT_USAGE
    code, result = _run(plan, args, "nircam-gain", {"figures": not args.no_figures}, argv)
    if result is None:
        return code
    print(f"{'detector':10s} {'state':9s} {'pairs':>9s} {'mean gain':>9s} {'first pair':>10s} {'time':>7s}  worker")
    for det, o in result.outcomes.items():
        s = o.summary
        gains = [r["gain"] for r in s.get("sectors", []) if r["region"] == "normal"]
        mean = f"{sum(gains) / len(gains):9.4f}" if gains else f"{'':9s}"
        used = s.get("first_pair", {}).get("first_pair_used")
        fp = "" if used is None else ("used" if used else "dropped")
        pairs = f"{len(s.get('pairs_used', []))}/{s.get('n_pairs', 0)}" if s else ""
        print(f"{det:10s} {o.state:9s} {pairs:>9s} {mean} {fp:>10s} {o.seconds:6.1f}s  {_where(o)}")
    print(f"wrote {', '.join(os.path.basename(t) for t in result.tables)} and {os.path.basename(result.provenance)} "
          f"to {result.outdir}; per-detector products in {result.outdir}/<DETECTOR>/")
    return code


def skyflat_campaign(args: argparse.Namespace, argv: list[str], predictions) -> int:
    """``nircam-skyflat`` as a campaign; returns the exit code."""
    from ..core.campaign import plan_skyflat
    from ..core.errors import NircamFileError
    from ..core.options import from_args
    from ..core.skyflat.options import SkyflatOptions

    try:
        opt = from_args(SkyflatOptions, args)
    except ValueError as exc:
        print(f"nircam-skyflat: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.images_per_task is not None and args.images_per_task < 1:
            print(f"nircam-skyflat: --images-per-task must be at least 1 (got {args.images_per_task})",
                  file=sys.stderr)
            return EXIT_USAGE
        plan = plan_skyflat(args.files, opt, refs=args.refs, ground_flats=args.ground_flat,
                            ground_masks=args.ground_mask, images_per_task=args.images_per_task or 0)
    except NircamFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if _refused(plan, "nircam-skyflat", args.keep_going):
        return EXIT_USAGE
    code, result = _run(plan, args, "nircam-skyflat", {"figures": opt.figures, "predictions": predictions}, argv)
    if result is None:
        return code
    print(f"{'detector':10s} {'state':9s} {'images':>6s} {'flats':>5s} {'new dead':>8s} {'time':>7s}  worker")
    for det, o in result.outcomes.items():
        s = o.summary
        print(f"{det:10s} {o.state:9s} {s.get('n_images', ''):>6} {len(s.get('flats', [])) if s else '':>5} "
              f"{s.get('n_dead', ''):>8} {o.seconds:6.1f}s  {_where(o)}")
    print(f"wrote {', '.join(os.path.basename(t) for t in result.tables)} and {os.path.basename(result.provenance)} "
          f"to {result.outdir}; per-detector products in {result.outdir}/<DETECTOR>/")
    return code
