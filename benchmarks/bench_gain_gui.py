"""How fast the Gain tab answers a click on a box, and how fast its box grid follows a region edit.

Measures, in a real (offscreen by default) window with a full-frame result:

- click-to-plot: from a mouse click on a box of the image (press and release on the
  canvas viewport) to the PTC panel repainted with that box's points, fit lines and
  residuals (target: 50 ms). Single boxes, and adding a second box with Ctrl;
- hover: the box description under the mouse;
- grid preview: from a region edit to the new box grid drawn (computed in a worker).

The result comes from the demo data set (four 2048x2048 NRCB1 integrations of 8 groups,
made once in the user's data folder), analysed with 128 px boxes; ``--size 512`` uses a
small simulated set instead (quick, for a smoke run).

Run::

    python benchmarks/bench_gain_gui.py
    QT_QPA_PLATFORM=xcb python benchmarks/bench_gain_gui.py   # on a real display
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("NIRCAM_GUI_SETTINGS", str(Path(tempfile.mkdtemp()) / "settings.ini"))

import numpy as np  # noqa: E402
from PySide6.QtCore import QEventLoop, QPoint, Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def settle(ms: int = 50) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_until(condition, timeout: float = 600.0) -> None:
    end = time.monotonic() + timeout
    while not condition() and time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.005)


def dataset(size: int) -> tuple[list[Path], dict, Path | None]:
    if size == 2048:
        from nircam_gui.core.simulate.demo import make_demo_dataset
        from nircam_gui.gui.settings import demo_folder

        folder = make_demo_dataset(demo_folder()) / "flats"
        ref = folder / "reference"
        refs = {p.stem.split("_")[-1].upper(): p for p in ref.glob("*.fits")}
        regs = sorted(folder.glob("*.reg"))
        return sorted(folder.glob("*_uncal.fits")), refs, (regs[0] if regs else None)
    from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats

    out = simulate_flats(Path(tempfile.mkdtemp()), FlatSimConfig(size=size, nints=4, ngroups=8, seed=1))
    return out.ramps, out.references, out.regions


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--box", type=int, default=128)
    ap.add_argument("--clicks", type=int, default=40)
    args = ap.parse_args()

    from nircam_gui.core.gain.run import GainOptions, run_gain
    from nircam_gui.gui.app import create_app
    from nircam_gui.gui.gain.panel import GainPanel
    from nircam_gui.gui.workers import TaskRunner

    ramps, refs, regions = dataset(args.size)
    opts = GainOptions(box=args.box, regions=str(regions) if regions else None, ipc="deconvolve",
                       ipc_kernel=str(refs["IPC"]), superbias=str(refs["SUPERBIAS"]),
                       linearity=str(refs["LINEARITY"]), saturation=str(refs["SATURATION"]), mask=str(refs["MASK"]))
    t0 = time.perf_counter()
    result = run_gain(ramps, opts)
    print(f"analysis: {args.size}x{args.size}, {len(result.pairs)} pairs, {result.boxes.nbox} boxes, "
          f"{time.perf_counter() - t0:.1f} s (not part of the click timing)")

    app = create_app()
    runner = TaskRunner(max_threads=2)
    panel = GainPanel(runner)
    panel.resize(1500, 900)
    panel.show()
    # the set-up as for the run, so the grid preview agrees with the result's grid
    panel.setup.box_combo.setCurrentText(str(args.box))
    panel.setup.set_reference("MASK", str(refs["MASK"]))
    if regions is not None:
        panel.load_regions(str(regions))
    panel.viewer.open(str(ramps[0]))
    wait_until(lambda: panel.viewer.frame is not None and panel.idle and not runner.active)
    panel.set_result(result, polygons=[p.copy() for p in panel.model.polygons])
    panel.canvas.zoom_fit()
    settle(300)

    rng = np.random.default_rng(0)
    ids = rng.choice(np.arange(1, result.boxes.nbox + 1), size=args.clicks, replace=True)
    port = panel.canvas.viewport()
    graphics = panel.ptc.graphics.viewport()

    from scipy.ndimage import distance_transform_edt

    def inner_pixel(box: int) -> tuple[int, int]:
        """The pixel of a box farthest from its edges: a click there cannot land next door."""
        r = result.boxes.table[box - 1]
        y0, x0 = int(r["ymin"]), int(r["xmin"])
        cut = result.boxes.labels[y0:int(r["ymax"]) + 1, x0:int(r["xmax"]) + 1] == box
        d = distance_transform_edt(np.pad(cut, 1))[1:-1, 1:-1]
        y, x = np.unravel_index(np.argmax(d), d.shape)
        return int(x + x0), int(y + y0)

    def click_box(box: int, modifier=Qt.KeyboardModifier.NoModifier) -> float:
        col, row = inner_pixel(box)
        p = panel.editor.to_screen(float(col), float(row))
        t = time.perf_counter()
        QTest.mouseClick(port, Qt.MouseButton.LeftButton, modifier, QPoint(round(p.x()), round(p.y())))
        graphics.repaint()  # synchronous paint of the plot: the user sees the points now
        return (time.perf_counter() - t) * 1e3

    single, pairs = [], []
    for box in ids:
        box = int(box)
        single.append(click_box(box))
        assert panel.selection == [box], (panel.selection, box)
        settle(5)
    for a, b in zip(ids[::2], ids[1::2]):
        click_box(int(a))
        pairs.append(click_box(int(b), Qt.KeyboardModifier.ControlModifier))
        settle(5)

    def stats(name, xs):
        xs = sorted(xs)
        print(f"{name:34s} median {statistics.median(xs):6.1f} ms   p90 {xs[int(0.9 * (len(xs) - 1))]:6.1f} ms   "
              f"max {xs[-1]:6.1f} ms   (n={len(xs)})")

    stats("click -> PTC painted (one box)", single)
    stats("ctrl+click -> PTC painted (two)", pairs)

    hover = []
    for box in ids[:20]:
        where = inner_pixel(int(box))
        t = time.perf_counter()
        panel._hovered(where)
        hover.append((time.perf_counter() - t) * 1e3)
    stats("hover -> box description", hover)

    # grid preview after a region edit (worker thread), full frame
    if regions is not None:
        times = []
        for k in range(3):
            done = []
            panel.preview_ready.connect(lambda: done.append(time.perf_counter()))
            t = time.perf_counter()
            panel.model.move_polygon(0, 3.0 if k % 2 == 0 else -3.0, 0.0)
            wait_until(lambda: bool(done), 60)
            panel.preview_ready.disconnect()
            times.append((done[0] - t) * 1e3)
        stats("region edit -> grid redrawn", times)
        print("  (includes the 120 ms debounce that lets a dragged vertex recompute once)")
    runner.shutdown(30)
    panel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
