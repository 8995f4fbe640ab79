"""``nircam-gain``: conversion-gain maps from pairs of flat-field ramps (PTC method).

Integrations are paired 1/2, 3/4, ... in order of exposure start, calibrated (report
JWST-STScI-004622 Table 1), measured in boxes per amplifier (epoxy voids on their own),
fitted below the signal limit, and combined over the pairs that are not anomalous.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._common import EXIT_ERROR, EXIT_USAGE, run_with_progress


def build_parser() -> argparse.ArgumentParser:
    from ..core.gain.run import GainOptions
    from ..core.options import add_arguments

    p = argparse.ArgumentParser(prog="nircam-gain", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="studies (report sections 5 and 6.3): nircam-gain study "
                                       "{consistency,box-size,signal-limit,ipc,external} -h")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="flat-field ramps (_uncal.fits or ground cubes); a folder makes a campaign (files of several "
                        "detectors: add --campaign)")
    p.add_argument("-o", "--outdir", required=True, help="output folder")
    add_arguments(p, GainOptions)
    p.add_argument("--references", nargs="+", default=[], metavar="PATH",
                   help="reference files or folders searched (by REFTYPE and DETECTOR) for the ones not given above")
    p.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    from .campaign import add_campaign_arguments

    add_campaign_arguments(p, regions=True)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "study":
        # studies of report sections 5 and 6.3: nircam-gain study STUDY INPUT... -o OUT
        from .gain_study import main as study_main

        return study_main(argv[1:])
    args = build_parser().parse_args(argv)
    from .campaign import gain_campaign, wants_campaign

    if wants_campaign(args, args.files, by_content=True):
        return gain_campaign(args, argv)
    from ..core.fileio import ensure_output_dir
    from ..core.gain.run import GainOptions, run_gain
    from ..core.gain.products import sectors_table, write_gain_products

    from ..core.errors import NircamFileError
    from ..core.gain.run import calibration_references
    from ..core.options import from_args

    try:
        found = calibration_references(args.files, args.references) if args.references else {}
    except NircamFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        opts = from_args(GainOptions, args, **{k: v for k, v in found.items() if getattr(args, k, None) is None})
    except ValueError as exc:
        print(f"nircam-gain: {exc}", file=sys.stderr)
        return EXIT_USAGE
    outdir = Path(args.outdir)

    def work(progress, cancel):
        ensure_output_dir(outdir)  # before the analysis, not after minutes of it
        result = run_gain(args.files, opts, lambda f, m: progress(0.97 * f, m), cancel)
        progress(0.98, "writing products")
        return result, write_gain_products(result, outdir, figures=not args.no_figures)

    code, out = run_with_progress(work, "nircam-gain", args.quiet)
    if out is None:
        return code
    result, paths = out
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(f"{result.detector}: {len(result.pairs)} pairs, {result.boxes.nbox} boxes of {opts.box} px, "
          f"signal limit {result.signal_limit:g} ADU, IPC {opts.ipc}, PTC model {opts.ptc_model}")
    if result.covariance is not None:
        for f in result.covariance.fits:
            print(f"  covariance fit {f.label}: gain {f.gain:.4f} e-/ADU, a00 {f.a[0, 0]:.3e} a10 {f.a[0, 1]:.3e} "
                  f"a01 {f.a[1, 0]:.3e} /e-, turnoff {f.turnoff:.0f} ADU")
    print(result.maps.first_pair.reason)
    print(f"pairs used: {[p.number for p, u in zip(result.pairs, result.maps.pair_used) if u]}")
    sectors = sectors_table(result)
    sectors.meta.clear()
    for c in ("gain", "gain_apparent", "gain_err", "box_gain_err"):
        sectors[c].format = ".4f"
    sectors.pprint(max_lines=-1, max_width=-1)
    if opts.ipc == "none":
        print("gain: not IPC-corrected (--ipc none), the apparent gain")
    else:
        held = "gain_apparent" if opts.reference_gain == "apparent" else "gain (IPC-corrected)"
        print(f"gain: IPC-corrected (report Table 7); gain_apparent: for the jwst pipeline; gain_map.fits holds {held}")
    print(f"wrote {len(paths)} files to {outdir}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
