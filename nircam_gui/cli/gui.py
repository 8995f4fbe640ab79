"""``nircam-gui``: the desktop application."""

from __future__ import annotations

import argparse
import os
import sys


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nircam-gui", description=__doc__)
    p.add_argument("path", nargs="?", help="a FITS file or a folder to open")
    p.add_argument("--demo", action="store_true",
                   help="open a simulated demo data set (made in the user's data folder if missing)")
    p.add_argument("--screenshot", metavar="FILE",
                   help="render the main window to a PNG after loading, then exit")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.path and not os.path.exists(args.path):
        print(f"nircam-gui: {args.path}: no such file or folder", file=sys.stderr)
        return 2
    # Qt is imported only here, so `nircam-gui --help` is instant and needs no display
    from ..gui.app import run

    return run(path=args.path, demo=args.demo, screenshot=args.screenshot)


if __name__ == "__main__":
    raise SystemExit(main())
