"""``nircam-sim images``: dithered ``_cal.fits`` sets with a known delta flat, for sky flats."""

from __future__ import annotations

import argparse
import sys

from ..core.detector import DETECTORS
from ..core.fileio import ensure_output_dir
from ._common import EXIT_USAGE, run_with_progress

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``images`` subcommand to ``nircam-sim``'s subparsers."""
    from ..core.simulate.images import CalSimConfig

    d = CalSimConfig.__dataclass_fields__
    p = subparsers.add_parser(
        "images", help="dithered _cal.fits images + ground FLAT/MASK + truth (for nircam-skyflat)",
        description="Write N dithered level-2 _cal.fits images per detector and filter, calibrated with a "
                    "ground flat that is off by a known delta flat, with sky, stars, galaxies, new dead pixels "
                    "and concentrations; the ground FLAT per filter, the ground MASK and the truth.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("-o", "--outdir", required=True, help="output folder")
    p.add_argument("--detector", nargs="+", default=list(d["detectors"].default),
                   help=f"detectors ({', '.join(DETECTORS)}, or A4, 484, ...)")
    p.add_argument("--filter", nargs="+", default=list(d["filters"].default), help="filters")
    p.add_argument("--pupil", default=d["pupil"].default)
    p.add_argument("--n-images", type=int, default=d["n_images"].default, help="images per detector and filter")
    p.add_argument("--size", type=int, default=d["size"].default,
                   help="frame size (2048 = full frame; smaller keeps the full-frame layout)")
    p.add_argument("--seed", type=int, default=d["seed"].default)
    p.add_argument("--gradient", type=float, default=d["gradient"].default,
                   help="peak-to-peak large-scale delta-flat gradient (fraction)")
    p.add_argument("--noise", type=float, default=d["noise"].default, help="per-pixel noise relative to the sky")
    p.add_argument("--n-dead", type=int, default=d["n_dead"].default, help="isolated new dead pixels per full frame")
    p.add_argument("--n-clusters", type=int, default=d["n_clusters"].default,
                   help="concentrations of 100-300 dead pixels per full frame")
    p.add_argument("--wisp", type=float, default=d["wisp"].default,
                   help="wisp peak strength relative to the sky at F200W, median pointing (0 = no wisp)")
    p.add_argument("--wisp-ratio", type=float, default=d["wisp_ratio"].default,
                   help="strongest / weakest wisp among the images of one filter")
    p.add_argument("--claws", type=int, default=d["claws"].default, help="images per detector with claws")
    p.add_argument("--claw-amplitude", type=float, default=d["claw_amplitude"].default,
                   help="claw peak strength relative to the sky")
    p.add_argument("-q", "--quiet", action="store_true")
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``nircam-sim images``; returns the exit code."""
    from ..core.detector import get_detector
    from ..core.simulate.images import CalSimConfig, simulate_cal_images

    try:
        dets = tuple(get_detector(d).name for d in args.detector)
        cfg = CalSimConfig(detectors=dets, filters=tuple(f.upper() for f in args.filter), pupil=args.pupil.upper(),
                           n_images=args.n_images, size=args.size, seed=args.seed, gradient=args.gradient,
                           noise=args.noise, n_dead=args.n_dead, n_clusters=args.n_clusters,
                           wisp=args.wisp, wisp_ratio=args.wisp_ratio, claws=args.claws,
                           claw_amplitude=args.claw_amplitude)
        if cfg.size % 4 or cfg.size < 64 or cfg.n_images < 1:
            raise ValueError("--size must be a multiple of 4 and >= 64, --n-images >= 1")
        if cfg.wisp < 0 or cfg.wisp_ratio < 1 or cfg.claws < 0 or cfg.claw_amplitude < 0:
            raise ValueError("--wisp, --claws and --claw-amplitude must be >= 0, --wisp-ratio >= 1")
    except (KeyError, ValueError) as exc:
        print(f"nircam-sim images: {exc.args[0]}", file=sys.stderr)
        return EXIT_USAGE
    code, result = run_with_progress(lambda p, c: simulate_cal_images(ensure_output_dir(args.outdir), cfg, p, c),
                                     "simulating _cal images", args.quiet)
    if result is not None:
        print(f"wrote {len(result.cal_files)} _cal images, {len(result.flat_files)} ground FLAT and "
              f"{len(result.mask_files)} MASK reference files (reference/) and the truth (truth/) to {args.outdir} "
              f"in {result.seconds:.1f} s")
    return code
