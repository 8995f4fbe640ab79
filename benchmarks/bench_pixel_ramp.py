"""The Pixel ramp dock's read: one pixel's ramp through the file section vs reading the groups.

Usage: ``python benchmarks/bench_pixel_ramp.py [ramp.fits]`` (default: the first demo flat).
Prints the median time of each way over a few pixels and their ratio, measured side by side.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

from nircam_gui.core.pixel_ramp import read_pixel_ramp
from nircam_gui.core.readers import open_ramp


def main(argv: list[str]) -> int:
    if argv:
        path = argv[0]
    else:
        from nircam_gui.gui.settings import demo_folder

        found = sorted((Path(demo_folder()) / "flats").glob("*_uncal.fits"))
        if not found:
            print("no ramp given and no demo data (run nircam-gui --demo once)", file=sys.stderr)
            return 1
        path = str(found[0])
    rng = np.random.default_rng(0)
    with open_ramp(path) as ramp:
        m = ramp.meta
    pixels = [(int(rng.integers(0, m.nx)), int(rng.integers(0, m.ny))) for _ in range(5)]
    section, frames = [], []
    for x, y in pixels:
        t0 = time.perf_counter()
        values = read_pixel_ramp(path, 0, x, y).values
        section.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        with open_ramp(path) as ramp:
            full = ramp.read_groups(0)[:, y, x]
        frames.append(time.perf_counter() - t0)
        assert np.array_equal(values, full.astype(np.float64))
    a, b = statistics.median(section), statistics.median(frames)
    print(f"{path}: {m.ngroups} groups of {m.nx}x{m.ny}")
    print(f"pixel ramp through the section: {1000 * a:.1f} ms; reading the groups: {1000 * b:.1f} ms; "
          f"ratio {b / a:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
