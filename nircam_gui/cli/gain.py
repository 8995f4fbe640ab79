"""``nircam-gain``: conversion-gain maps from pairs of flat-field ramps (PTC method)."""

from __future__ import annotations

import argparse

from ._common import not_built


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nircam-gain", description=__doc__)
    p.add_argument("files", nargs="+", metavar="FILE", help="flat-field ramps (_uncal.fits or ground cubes)")
    p.add_argument("-o", "--outdir", required=True, help="output folder")
    p.add_argument("--box", type=int, default=256, help="box size in pixels (default 256)")
    p.add_argument("--signal-limit", type=float, default=None,
                   help="upper single-frame signal in ADU (default 5000 SW, 7500 LW)")
    p.add_argument("--groups", type=int, default=None, help="use only the first N groups")
    p.add_argument("--regions", help="DS9 region file with epoxy-void polygons")
    p.add_argument("--ipc", choices=("none", "analytic", "deconvolve"), default="deconvolve")
    p.add_argument("--ipc-kernel", help="IPC reference file")
    for ref in ("superbias", "linearity", "saturation", "mask"):
        p.add_argument(f"--{ref}", help=f"{ref.upper()} reference file")
    p.add_argument("--first-pair", choices=("auto", "keep", "drop"), default="auto")
    return p


def main(argv: list[str] | None = None) -> int:
    build_parser().parse_args(argv)
    return not_built("nircam-gain", "the gain engine (issue: Gain engine)")


if __name__ == "__main__":
    raise SystemExit(main())
