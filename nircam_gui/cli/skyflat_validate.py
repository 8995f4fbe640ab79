"""``nircam-skyflat validate``: an old and a new flat compared on dithered ``_cal`` images.

The images are re-flat-fielded with each flat (the flat they were calibrated with, named
by R_FLAT, is undone first) and compared as report JWST-STScI-008304 did (section 3.2,
Figures 2 and 3): collapsed background profiles along x and y, Gaussian-smoothed images,
and the scatter of each source's aperture photometry over the dithered pointings (sources
found in each image and matched on the sky through the images' WCS).
"""

from __future__ import annotations

import argparse
import sys

from ._common import EXIT_USAGE, run_with_progress

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    from ..core.options import add_arguments
    from ..core.skyflat.validate_options import ValidationOptions

    p = argparse.ArgumentParser(prog="nircam-skyflat validate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", metavar="CAL",
                   help="dithered _cal.fits images of one detector and filter, or folders of them")
    p.add_argument("--old-flat", required=True, metavar="FILE", help="FLAT reference file: the old flat")
    p.add_argument("--new-flat", required=True, metavar="FILE", help="FLAT reference file: the new flat")
    p.add_argument("--calibration-flat", metavar="FILE",
                   help="the flat the images were calibrated with, when their R_FLAT names neither the old nor the "
                        "new flat")
    p.add_argument("-o", "--outdir", required=True, help="output folder")
    add_arguments(p, ValidationOptions)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ..core.errors import NircamFileError
    from ..core.options import from_args
    from ..core.skyflat.validate_inputs import check_validation_inputs
    from ..core.skyflat.validate_options import ValidationOptions
    from ..core.skyflat.validate_products import validate_and_write

    try:
        opt = from_args(ValidationOptions, args)
    except ValueError as exc:
        print(f"nircam-skyflat validate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:  # inputs the validation cannot use are refused before any work
        inputs = check_validation_inputs(args.files, args.old_flat, args.new_flat, args.calibration_flat)
    except NircamFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE

    code, out = run_with_progress(lambda p, c: validate_and_write(None, args.outdir, inputs=inputs, options=opt,
                                                                  progress=p, cancel=c),
                                  "flat validation", args.quiet)
    if out is None:
        return code
    result, files = out
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(f"images calibrated with {result.r_flat or '(no R_FLAT)'}: the {result.calibrated_with} flat"
          + ("" if result.calibrated_with != "other" else f" ({result.calibration_flat})"))
    print(result.summary_line())
    print(f"wrote {len(files)} files to {args.outdir} in {result.seconds:.1f} s")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
