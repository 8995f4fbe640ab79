"""``nircam-gui``: the desktop application."""

from __future__ import annotations

import argparse

from ._common import not_built


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nircam-gui", description=__doc__)
    p.add_argument("path", nargs="?", help="a FITS file or a folder to open")
    p.add_argument("--demo", action="store_true", help="open a simulated demo data set")
    p.add_argument("--screenshot", metavar="FILE", help="render the main window to a PNG and exit")
    return p


def main(argv: list[str] | None = None) -> int:
    build_parser().parse_args(argv)
    return not_built("nircam-gui", "the desktop application (issue: The desktop application)")


if __name__ == "__main__":
    raise SystemExit(main())
