"""``nircam-skyflat``: delta sky flats, new flats, dead pixels and backgrounds from _cal images."""

from __future__ import annotations

import argparse

from ._common import not_built


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nircam-skyflat", description=__doc__)
    p.add_argument("files", nargs="+", metavar="CAL", help="_cal.fits images")
    p.add_argument("-o", "--outdir", required=True, help="output folder")
    p.add_argument("--ground-flat", nargs="+", default=[], metavar="PATH", help="FLAT reference files or folders")
    p.add_argument("--ground-mask", nargs="+", default=[], metavar="PATH", help="MASK reference files or folders")
    p.add_argument("--dead-threshold", type=float, default=0.8)
    p.add_argument("--fit", choices=("poly3", "median"), default=None,
                   help="large-scale fit (default poly3 for SW, median for LW)")
    return p


def main(argv: list[str] | None = None) -> int:
    build_parser().parse_args(argv)
    return not_built("nircam-skyflat", "the sky-flat analysis (issue: Sky flats)")


if __name__ == "__main__":
    raise SystemExit(main())
