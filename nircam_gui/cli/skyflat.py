"""``nircam-skyflat``: delta sky flats, new flats, dead pixels and backgrounds from _cal images.

The method of JWST-STScI-008304 (NIRCam flight flats), section 3: photutils source masks,
normalisation by the sigma-clipped median, sigma-clipped median through the stack per
detector and filter and all filters together ("grey"), a large-scale fit (poly3 for SW,
median 8x8 on a 32x32 grid for LW), new FLAT reference files, new dead pixels (MASK) and
sky backgrounds.

``nircam-skyflat validate IMAGES... --old-flat FILE --new-flat FILE -o OUTDIR`` compares two
flats on dithered images (``nircam-skyflat validate -h``); a folder named ``validate`` is
given as ``./validate``.
"""

from __future__ import annotations

import argparse
import sys

from ._common import EXIT_ERROR, EXIT_USAGE, run_with_progress


def build_parser() -> argparse.ArgumentParser:
    from ..core.options import add_arguments
    from ..core.skyflat.options import SkyflatOptions

    p = argparse.ArgumentParser(prog="nircam-skyflat", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", metavar="CAL", help="_cal.fits images, or folders of them")
    p.add_argument("-o", "--outdir", required=True, help="output folder")
    p.add_argument("--ground-flat", nargs="+", default=[], metavar="PATH",
                   help="FLAT reference files or folders (e.g. a CRDS cache's references/jwst/nircam/): each "
                        "image's new flat is built on the file its R_FLAT names")
    p.add_argument("--ground-mask", nargs="+", default=[], metavar="PATH", help="MASK reference files or folders")
    p.add_argument("--predictions", metavar="TABLE",
                   help="predicted backgrounds (columns filter, background in MJy/sr [, detector])")
    p.add_argument("--additive-template", nargs="+", default=[], metavar="FITS",
                   help="wisp templates to fit (FITS images in detector space, e.g. STScI's or JADES'; matched on "
                        "DETECTOR, a file without one serves every detector) instead of a fitted template")
    add_arguments(p, SkyflatOptions)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    from .campaign import add_campaign_arguments

    add_campaign_arguments(p, stack_parts=True)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["validate"]:  # a subcommand on the first word, so `nircam-skyflat IMAGES...` is unchanged
        from . import skyflat_validate

        return skyflat_validate.main(argv[1:])
    args = build_parser().parse_args(argv)
    from ..core.errors import NircamFileError
    from ..core.options import from_args
    from ..core.skyflat.background import read_predictions
    from ..core.skyflat.inputs import check_inputs
    from ..core.skyflat.options import SkyflatOptions
    from ..core.skyflat.run import check_fit_grid, run_and_write

    try:
        opt = from_args(SkyflatOptions, args)
    except ValueError as exc:
        print(f"nircam-skyflat: {exc}", file=sys.stderr)
        return EXIT_USAGE
    predictions = None
    if args.predictions:
        try:
            predictions = read_predictions(args.predictions)
        except (OSError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_ERROR
    from .campaign import skyflat_campaign, wants_campaign

    if wants_campaign(args, args.files, by_content=False):
        if args.additive_template:  # a campaign's detector runs take no templates: refused, not dropped
            print("nircam-skyflat: --additive-template is not taken by a campaign; run the detectors that have "
                  "a template without the campaign options", file=sys.stderr)
            return EXIT_USAGE
        return skyflat_campaign(args, argv, predictions)
    try:  # images and flats the method cannot use are refused before any work
        inputs = check_inputs(args.files, args.ground_flat)
        check_fit_grid(inputs, opt)
        if args.additive_template:
            from ..core.skyflat.additive import check_templates

            check_templates(args.additive_template, inputs.frame_shapes())
    except NircamFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE

    def work(progress, cancel):
        return run_and_write(args.files, args.outdir, ground_flats=args.ground_flat, ground_masks=args.ground_mask,
                             predictions=predictions, options=opt, progress=progress, cancel=cancel,
                             additive_templates=args.additive_template)

    code, out = run_with_progress(work, "sky flats", args.quiet)
    if out is None:
        return code
    result, files = out
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(f"{'detector':10s} {'images':>6s} {'fit':>6s} {'new dead':>8s} {'concentr.':>9s}  filters")
    for name, s in result.detectors.items():
        print(f"{name:10s} {s.n_images:6d} {s.fit_method:>6s} {s.n_dead:8d} {s.n_clusters:9d}  "
              + ", ".join(f"{f} ({100 * r:.1f}% range vs grey)" for f, r in s.filter_range.items()))
    summ = result.background_summary
    for row in summ:
        ratio = f"  measured/predicted {row['ratio']:.3f}" if row["ratio"] == row["ratio"] else ""
        print(f"background {row['detector']} {row['filter']}: {row['mean']:.4f} {summ['mean'].unit} "
              f"({row['n_images']} images){ratio}")
    print(f"wrote {len(files)} files to {args.outdir} in {result.seconds:.1f} s")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
