"""``nircam-gain study``: the studies of report JWST-STScI-004622 sections 5 and 6.3.

  consistency   signal of group N minus group 0 per integration (Figure 9)
  box-size      single-map uncertainty and sector means per box size (Table 2, Figure 7)
  signal-limit  mean maps at several fit limits, ratios to the lowest (Table 3)
  ipc           deconvolved vs analytic vs exact IPC corrections; coupling measured from the flats
  external      comparison with an external per-pixel GAIN map (section 6.3, Figures 10-12)

INPUT is flat-field ramps and/or folders written by ``nircam-gain`` (they hold the
PTC points of every pair, group and box): a study re-fits saved points instead of
re-reading ramps wherever it can, and the runs it has to compute are saved in
OUT/runs/ for the next study to reuse.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._common import EXIT_USAGE, run_with_progress

STUDIES = ("consistency", "box-size", "signal-limit", "ipc", "external")


def _engine_options(p: argparse.ArgumentParser, box_default: int = 256) -> None:
    g = p.add_argument_group("gain engine options (for runs the study computes)")
    g.add_argument("--box", type=int, default=box_default, help=f"box size in pixels (default {box_default})")
    g.add_argument("--signal-limit", type=float, default=None,
                   help="single-frame fit limit in ADU (default 5000 SW, 7500 LW)")
    g.add_argument("--groups", type=int, default=None, help="use only the first N groups (faster)")
    g.add_argument("--regions", help="epoxy voids: a DS9 region file (polygons) or a FITS mask (non-zero = void, DMS)")
    g.add_argument("--ipc", choices=("none", "analytic", "exact", "deconvolve"), default=None,
                   help="IPC correction (default: deconvolve with --ipc-kernel, else none)")
    g.add_argument("--ipc-kernel", help="IPC reference file (correction kernel)")
    for ref in ("superbias", "linearity", "saturation", "mask"):
        g.add_argument(f"--{ref}", help=f"{ref.upper()} reference file")
    g.add_argument("--first-pair", choices=("auto", "keep", "drop"), default=None,
                   help="first pair in the mean maps (default: the engine's decision, held for every map)")
    g.add_argument("--ptc-model", choices=("linear", "covariance"), default="linear",
                   help="PTC model of the maps (default linear, the report's); the signal-limit study "
                        "shows both side by side")
    g.add_argument("--cov-lag", type=int, default=None,
                   help="largest pixel lag of the covariances measured (default 3 where a study or the model uses "
                        "them: the signal-limit and IPC studies, --ptc-model covariance)")


def _common(p: argparse.ArgumentParser, inputs_help: str) -> None:
    p.add_argument("inputs", nargs="+", metavar="INPUT", help=inputs_help)
    p.add_argument("-o", "--outdir", required=True, help="output folder")
    p.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nircam-gain study", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="study", required=True, metavar="STUDY")
    ramps_or_runs = "flat-field ramps and/or nircam-gain output folders"

    s = sub.add_parser("consistency", help="signal of group N - group 0 per integration (report Fig. 9)")
    _common(s, "flat-field ramps")
    s.add_argument("--first-group", type=int, default=0, help="0-based first group (default 0)")
    s.add_argument("--last-group", type=int, default=10, help="0-based last group (default 10, the report's)")
    _engine_options(s)

    s = sub.add_parser("box-size", help="uncertainty and sector means per box size (report Table 2, Fig. 7)")
    _common(s, ramps_or_runs + " (one per box size)")
    s.add_argument("--boxes", type=int, nargs="+", default=[128, 256, 512],
                   help="box sizes (default 128 256 512)")
    _engine_options(s)

    s = sub.add_parser("signal-limit", help="mean maps at several fit limits (report Table 3)")
    _common(s, ramps_or_runs)
    s.add_argument("--limits", type=float, nargs="+", default=None,
                   help="single-frame limits in ADU (default: the detector's, x2, x3: 5000 10000 15000 SW)")
    _engine_options(s)

    s = sub.add_parser("ipc", help="IPC corrections compared, coupling measured from the flats (report 5.5)")
    _common(s, ramps_or_runs + "; ramps are needed to measure the coupling")
    s.add_argument("--coupling-signal-limit", type=float, default=None,
                   help="highest single-frame signal (ADU) of the groups used for the coupling "
                        "(default: the fit limit)")
    s.add_argument("--no-coupling", action="store_true", help="do not measure the coupling from the flats")
    _engine_options(s)

    s = sub.add_parser("external", help="compare with an external per-pixel GAIN map (report 6.3)")
    _common(s, ramps_or_runs)
    s.add_argument("--external", required=True, help="external GAIN reference file (per pixel)")
    _engine_options(s)
    return p


def _split_inputs(inputs: list[str]):
    from ..core.errors import NircamFileError
    from ..core.gain.studies.rundata import RunData, is_run_folder

    files, runs = [], []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            if not is_run_folder(path):
                raise NircamFileError(path, "is a folder but not a nircam-gain output (no ptc_points.fits ...)")
            runs.append(RunData.load(path))
        else:
            files.append(item)
    return files, runs


def _options(args):
    from ..core.gain.run import GainOptions

    ipc = args.ipc or ("deconvolve" if args.ipc_kernel else "none")
    return GainOptions(box=args.box, signal_limit=args.signal_limit, groups=args.groups, regions=args.regions,
                       ipc=ipc, ipc_kernel=args.ipc_kernel, superbias=args.superbias, linearity=args.linearity,
                       saturation=args.saturation, mask=args.mask, first_pair=args.first_pair or "auto",
                       ptc_model=args.ptc_model, cov_lag=args.cov_lag)


def _provenance(args, argv, outdir: Path, protect, extra: dict) -> None:
    from .. import __version__
    from ..core.gain.studies._common import write_json

    write_json({"command": ["nircam-gain", "study", *argv], "study": args.study, "software": __version__,
                "options": {k: v for k, v in vars(args).items() if k not in ("quiet",)}, **extra},
               outdir / f"{args.study.replace('-', '_')}_provenance.json", protect)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[2:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    from ..core.errors import NircamFileError

    try:
        opts = _options(args)
        files, saved = _split_inputs(args.inputs)
    except (ValueError, NircamFileError) as exc:
        print(f"nircam-gain study {args.study}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    outdir = Path(args.outdir)
    protect = tuple(files) + tuple(f for r in saved for f in r.files)
    figures = not args.no_figures
    runner = {"consistency": _consistency, "box-size": _box_size, "signal-limit": _signal_limit, "ipc": _ipc,
              "external": _external}[args.study]
    try:
        work = runner(args, opts, files, saved, outdir, protect, figures)
    except (ValueError, NircamFileError) as exc:
        print(f"nircam-gain study {args.study}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    def guarded(progress, cancel):
        # parameters the data refuse (a group beyond the ramp, no point below a limit) are
        # usage errors, said in one line, as the ones found before the work starts
        try:
            return work(progress, cancel)
        except ValueError as exc:
            return _Usage(str(exc))

    code, out = run_with_progress(guarded, f"nircam-gain study {args.study}", args.quiet)
    if out is None:
        return code
    if isinstance(out, _Usage):
        print(f"nircam-gain study {args.study}: {out.message}", file=sys.stderr)
        return EXIT_USAGE
    report, paths, extra = out
    _provenance(args, argv, outdir, protect, extra)
    print(report)
    print(f"wrote {len(paths) + 1} files to {outdir}")
    return code


# ----------------------------------------------------------------------------- studies
class _Usage:
    def __init__(self, message: str) -> None:
        self.message = message


def _need_files(files, what: str) -> None:
    if not files:
        raise ValueError(f"{what} needs the flat-field ramps (FILE...)")


def _consistency(args, opts, files, saved, outdir, protect, figures):
    from ..core.gain.studies._common import calibration_for
    from ..core.gain.studies.consistency import signal_consistency, write_consistency

    _need_files(files, "the consistency study")
    cal = calibration_for(opts)

    def work(progress, cancel):
        res = signal_consistency(files, cal, args.first_group, args.last_group, progress, cancel)
        paths = write_consistency(res, outdir, _detector(files), protect, figures)
        t = res.table["integration", "pair", "file", "int_in_file", "signal", "signal_std", "step_from_previous",
                      "step_err"]
        lines = [*t.pformat(max_lines=-1, max_width=-1),
                 f"step between integrations 1 and 2: {res.step_12:+.2f} ± {res.step_12_err:.2f} ADU "
                 f"({res.step_12_percent:+.3f}%)", *res.notes]
        return "\n".join(lines), paths, {"inputs": files}

    return work


def _detector(files) -> str:
    from ..core.readers import read_metadata

    try:
        return read_metadata(files[0]).detector or ""
    except Exception:  # noqa: BLE001 - a label only
        return ""


def _runs(specs, files, opts, saved, outdir, progress, cancel):
    from ..core.gain.studies.rundata import obtain_runs

    return obtain_runs(specs, files, opts, saved, outdir / "runs", progress, cancel)


def _box_size(args, opts, files, saved, outdir, protect, figures):
    from ..core.gain.studies.boxsize import box_size_study, write_box_size

    boxes = sorted(set(args.boxes))
    if len(boxes) < 2:
        raise ValueError("give at least two box sizes")

    def work(progress, cancel):
        runs = _runs([{"box": b} for b in boxes], files, opts, saved, outdir, progress, cancel)
        res = box_size_study(runs, args.box if args.box in boxes else None, args.signal_limit, args.first_pair)
        paths = write_box_size(res, outdir, protect, figures)
        u = res.uncertainty["box", "n_boxes", "n_maps", "diff_std", "single_err", "single_err_percent",
                            "mean2_err", "mean2_expected", "ratio_to_next"]
        s = res.sectors["box", "amp", "region", "gain", "diff_to_ref", "diff_to_ref_percent"]
        lines = ["single-map uncertainty per box size (std of map differences / sqrt 2):",
                 *u.pformat(max_lines=-1, max_width=-1), "", "sector means:", *s.pformat(max_lines=-1, max_width=-1),
                 *res.notes]
        return "\n".join(lines), paths, {"runs": {b: r.source for b, r in res.runs.items()}}

    return work


def _default_limits(run) -> list[float]:
    base = run.signal_limit
    return [base, 2 * base, 3 * base]


def _signal_limit(args, opts, files, saved, outdir, protect, figures):
    from ..core.gain.studies.signallimit import signal_limit_study, write_signal_limit

    def work(progress, cancel):
        # both PTC models side by side: the run measures covariances
        run = _runs([{"box": opts.box, "cov_lag": _lag(opts)}], files, opts, saved, outdir, progress, cancel)[0] \
            if files else (saved[0] if len(saved) == 1 else _pick_box(saved, opts.box))
        limits = args.limits or _default_limits(run)
        res = signal_limit_study(run, limits, args.first_pair)
        paths = write_signal_limit(res, outdir, protect, figures)
        t = res.summary["signal_limit", "groups_median", "mean_gain", "ratio_mean_percent", "ratio_std_percent"]
        lines = [f"box {run.box_size} px, pairs averaged: {res.summary.meta['pairs_averaged']}",
                 *t.pformat(max_lines=-1, max_width=-1), *res.notes]
        return "\n".join(lines), paths, {"run": run.source}

    return work


def _lag(opts) -> int:
    """Covariance lag of the runs a study needs covariances from."""
    from ..core.gain.run import DEFAULT_COV_LAG

    return opts.cov_lag if opts.cov_lag is not None else DEFAULT_COV_LAG


def _pick_box(saved, box):
    for r in saved:
        if r.box_size == box:
            return r
    return saved[0]


def _ipc(args, opts, files, saved, outdir, protect, figures):
    import dataclasses

    from ..core.gain.studies._common import calibration_for
    from ..core.gain.studies.ipc_coupling import measure_coupling
    from ..core.gain.studies.ipc_maps import compare_ipc_maps, write_ipc
    from ..core.readers import open_reference

    if not opts.ipc_kernel:
        raise ValueError("the IPC study needs the IPC reference file (--ipc-kernel)")
    if not args.no_coupling:
        _need_files(files, "measuring the coupling (leave it out with --no-coupling)")
    kc = open_reference(opts.ipc_kernel, "IPC").data
    base = dataclasses.replace(opts, ipc="deconvolve")

    def work(progress, cancel):
        from ..core.gain.studies._common import scaled_progress

        share = 0.8 if not args.no_coupling else 1.0
        # the uncorrected run's covariances give the coupling at zero signal
        specs = [{"box": opts.box, "ipc": "deconvolve"}, {"box": opts.box, "ipc": "none", "cov_lag": _lag(opts)}]
        dec, unc = _runs(specs, files, base,
                         saved, outdir, scaled_progress(progress, 0, share), cancel)
        coupling = None
        if not args.no_coupling:
            void = None
            if opts.regions:
                from ..core.regionsio import void_mask

                void = void_mask(opts.regions, dec.labels.shape)
            coupling = measure_coupling(files, calibration_for(base, ipc_step=False), void,
                                        args.coupling_signal_limit or dec.signal_limit, kc,
                                        scaled_progress(progress, share, 1.0, "coupling: "), cancel)
        res = compare_ipc_maps(dec, unc, kc, coupling, args.signal_limit)
        paths = write_ipc(res, outdir, protect, figures)
        lines = ["IPC factors (multiply a gain measured without IPC correction):",
                 *res.factors["factor", "value", "minus_analytic", "minus_analytic_percent"].pformat(max_width=-1),
                 "", "map comparisons (ratio - 1, %):",
                 *res.comparison["comparison", "region", "n_boxes", "mean_percent", "std_percent", "min_percent",
                                 "max_percent"].pformat(max_lines=-1, max_width=-1)]
        if coupling is not None:
            cols = ["amp", "region", "npix", "n_frames", "rho_h", "rho_h_err", "rho_v", "rho_v_err", "alpha_h",
                    "alpha_h_err", "alpha_v", "alpha_v_err"]
            cols += [c for c in ("alpha_h_expected", "alpha_v_expected") if c in coupling.table.colnames]
            lines += ["", "coupling measured from the flats (rho: neighbour correlation, alpha: kernel element):",
                      *coupling.table[cols].pformat(max_lines=-1, max_width=-1), *coupling.notes]
        return "\n".join(lines), paths, {"runs": {"deconvolved": dec.source, "uncorrected": unc.source}}

    return work


def _external(args, opts, files, saved, outdir, protect, figures):
    from ..core.gain.studies.external import compare_external, write_external

    def work(progress, cancel):
        run = _runs([{"box": opts.box}], files, opts, saved, outdir, progress, cancel)[0] if files else \
            (saved[0] if len(saved) == 1 else _pick_box(saved, opts.box))
        res = compare_external(run, args.external, args.signal_limit, args.first_pair)
        paths = write_external(res, outdir, protect, figures)
        lines = [f"external / ours - 1 (%), box {run.box_size} px, external {args.external}:",
                 *res.summary.pformat(max_lines=-1, max_width=-1), *res.notes]
        return "\n".join(lines), paths, {"run": run.source, "external": args.external}

    return work


if __name__ == "__main__":
    raise SystemExit(main())
