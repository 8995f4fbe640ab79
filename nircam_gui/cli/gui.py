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
    p.add_argument("--geometry", metavar="WxH", type=parse_geometry,
                   help="window size in pixels, e.g. 1366x768 (with --screenshot, the size of the picture)")
    p.add_argument("--tab", choices=("image", "gain", "skyflat", "deadpix"),
                   help="the tab to show first")
    p.add_argument("--install-desktop", action="store_true",
                   help="put the application's menu entry and icon in the user's data folders, then exit")
    return p


def parse_geometry(text: str) -> tuple[int, int]:
    """``"1366x768"`` -> ``(1366, 768)``; argparse reports anything else as a usage error."""
    parts = text.lower().replace("×", "x").split("x")
    try:
        width, height = (int(v) for v in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give the size as WIDTHxHEIGHT, e.g. 1366x768") from None
    if not (320 <= width <= 16384 and 240 <= height <= 16384):
        raise argparse.ArgumentTypeError(f"{text!r}: the size must be between 320x240 and 16384x16384")
    return width, height


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.install_desktop:
        from ..desktop import install_desktop_entry

        try:
            written = install_desktop_entry()
        except OSError as exc:
            print(f"nircam-gui: cannot install the desktop entry: {exc}", file=sys.stderr)
            return 1
        for path in written:
            print(path)
        return 0
    if args.path and not os.path.exists(args.path):
        print(f"nircam-gui: {args.path}: no such file or folder", file=sys.stderr)
        return 2
    # Qt is imported only here, so `nircam-gui --help` is instant and needs no display
    from ..gui.app import run

    return run(path=args.path, demo=args.demo, screenshot=args.screenshot, geometry=args.geometry,
               tab=args.tab)


if __name__ == "__main__":
    raise SystemExit(main())
