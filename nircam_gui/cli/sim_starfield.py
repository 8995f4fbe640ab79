"""``nircam-sim starfield``: dithered star fields for validating a flat on photometry."""

from __future__ import annotations

import argparse
import sys

from ..core.detector import DETECTORS
from ..core.fileio import ensure_output_dir
from ._common import EXIT_USAGE, run_with_progress

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``starfield`` subcommand to ``nircam-sim``'s subparsers."""
    from ..core.simulate.starfield import StarfieldConfig

    d = StarfieldConfig.__dataclass_fields__
    p = subparsers.add_parser(
        "starfield", help="dithered star field _cal.fits + old FLAT (known error) + true FLAT (for validate)",
        description="Write N dithered _cal.fits images of one star field (the same stars, known fluxes, a Moffat "
                    "profile, on sky) calibrated with an old flat that is off by a known large-scale error, with a "
                    "WCS per pointing; the old FLAT and MASK (reference/), and the truth (truth/): the true FLAT, the "
                    "star catalogue (RA, Dec, fluxes) and every star's detector position per pointing.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("-o", "--outdir", required=True, help="output folder")
    p.add_argument("--detector", default=d["detector"].default, help=f"one of {', '.join(DETECTORS)} (or A1, ...)")
    p.add_argument("--filter", default=d["filter"].default)
    p.add_argument("--n-pointings", type=int, default=d["n_pointings"].default, help="dithered images")
    p.add_argument("--n-stars", type=int, default=d["n_stars"].default)
    p.add_argument("--flat-error", type=float, default=d["flat_error"].default,
                   help="peak-to-peak large-scale error of the old flat (fraction)")
    p.add_argument("--dither", type=float, default=d["dither"].default,
                   help="pointings span +- this fraction of the frame in x and y")
    p.add_argument("--size", type=int, default=d["size"].default,
                   help="frame size (2048 = full frame; smaller keeps the full-frame layout)")
    p.add_argument("--seed", type=int, default=d["seed"].default)
    p.add_argument("-q", "--quiet", action="store_true")
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``nircam-sim starfield``; returns the exit code."""
    from ..core.detector import get_detector
    from ..core.simulate.starfield import StarfieldConfig, simulate_starfield

    try:
        cfg = StarfieldConfig(detector=get_detector(args.detector).name, filter=args.filter.upper(),
                              n_pointings=args.n_pointings, n_stars=args.n_stars, flat_error=args.flat_error,
                              dither=args.dither, size=args.size, seed=args.seed)
        if cfg.size % 4 or cfg.size < 64 or cfg.n_pointings < 2 or cfg.n_stars < 1 or not 0 <= cfg.flat_error < 1:
            raise ValueError("--size must be a multiple of 4 and >= 64, --n-pointings >= 2, --n-stars >= 1, "
                             "--flat-error between 0 and 1")
    except (KeyError, ValueError) as exc:
        print(f"nircam-sim starfield: {exc.args[0]}", file=sys.stderr)
        return EXIT_USAGE
    code, result = run_with_progress(lambda p, c: simulate_starfield(ensure_output_dir(args.outdir), cfg, p, c),
                                     "simulating a star field", args.quiet)
    if result is not None:
        print(f"wrote {len(result.cal_files)} _cal images, the old FLAT and MASK (reference/) and the truth "
              f"(true FLAT, star catalogue, positions; truth/) to {args.outdir} in {result.seconds:.1f} s")
    return code
