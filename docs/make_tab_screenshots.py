"""Screenshots of every tab at one window size, as a user sees them after a full session.

Run under a display, e.g. ``xvfb-run -a -s "-screen 0 1366x768x24" python
docs/make_tab_screenshots.py --geometry 1366x768``. It makes the demo data if missing,
opens a ramp in the Image tab, runs the gain analysis on the demo flats and the sky flats
on the demo images in their child processes, and saves ``screenshot-<tab>-<W>x<H>.png``
(8-bit PNG) for the Image, Gain, Sky flat and Dead pixels tabs into ``--out`` (docs/ by
default). The window keeps its default layout (every dock shown), so the pictures show
whether everything fits. Throw-away settings and data folders: the user's are untouched.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

_tmp = Path(tempfile.mkdtemp())
os.environ.setdefault("NIRCAM_GUI_SETTINGS", str(_tmp / "settings.ini"))

from PIL import Image  # noqa: E402
from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402

from nircam_gui.cli.gui import parse_geometry  # noqa: E402
from nircam_gui.gui.app import create_app  # noqa: E402
from nircam_gui.gui.demo import make_demo  # noqa: E402
from nircam_gui.gui.main_window import MainWindow  # noqa: E402
from nircam_gui.gui.settings import demo_folder  # noqa: E402


def wait_until(condition, timeout: float = 900.0, settle_ms: int = 500) -> None:
    """Run the event loop until ``condition()`` holds, then a little longer."""
    end = time.monotonic() + timeout
    loop = QEventLoop()
    timer = QTimer(interval=50)
    timer.timeout.connect(lambda: (condition() or time.monotonic() > end) and loop.quit())
    timer.start()
    loop.exec()
    timer.stop()
    settle = QEventLoop()
    QTimer.singleShot(settle_ms, settle.quit)
    settle.exec()


def save(window: MainWindow, path: Path, max_bytes: int = 260_000) -> None:
    """An 8-bit PNG, with fewer colours until it is small enough for a README."""
    raw = path.with_suffix(".full.png")
    window.save_screenshot(raw)
    for colours in (128, 64, 32):
        with Image.open(raw) as img:
            img.convert("RGB").quantize(colors=colours, method=Image.Quantize.FASTOCTREE,
                                        dither=Image.Dither.NONE).save(path, optimize=True)
        if path.stat().st_size < max_bytes:
            break
    raw.unlink()
    print(path, path.stat().st_size // 1024, "KB")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--geometry", type=parse_geometry, default=(1366, 768))
    p.add_argument("--out", type=Path, default=Path(__file__).parent)
    p.add_argument("--tabs", default="image,gain,skyflat,deadpix")
    args = p.parse_args(argv)
    tabs = args.tabs.split(",")
    width, height = args.geometry
    app = create_app()
    folder = Path(make_demo(demo_folder()))
    os.environ["NIRCAM_GUI_DATA"] = str(_tmp / "data")  # autosaved regions go here, not to the user's
    window = MainWindow(restore_layout=False, modal_errors=False)
    window.resize(width, height)
    window.show()
    window.error.connect(lambda m: print("error:", m, file=sys.stderr))
    args.out.mkdir(parents=True, exist_ok=True)

    def name(tab: str) -> Path:
        return args.out / f"screenshot-{tab}-{width}x{height}.png"

    ramps = sorted((folder / "flats").glob("*_uncal.fits"))
    window.open_path(ramps[0])
    wait_until(lambda: window.idle)
    if "image" in tabs:
        window.viewer.canvas.zoom_fit()
        window.ramp_plot_at(1000, 1100) if hasattr(window, "ramp_plot_at") else None
        wait_until(lambda: window.idle)
        save(window, name("image"))

    if "gain" in tabs:
        panel = window.gain_panel
        window.show_tab("gain")
        panel.set_files([str(p) for p in ramps])
        wait_until(lambda: panel.check is not None and panel.idle and not window.runner.active)
        panel.setup.box_combo.setCurrentText("256")
        wait_until(lambda: panel.idle and not window.runner.active)
        panel.run()
        wait_until(lambda: panel.run_worker is None and window.idle)
        save(window, name("gain"))

    if {"skyflat", "deadpix"} & set(tabs):
        sky, dead = window.analysis_panels["Sky flat"], window.analysis_panels["Dead pixels"]
        window.show_tab("skyflat")
        sky.setup.add_paths([str(folder / "images")])
        wait_until(lambda: window.idle and sky.idle)
        pred = folder / "images" / "predictions.ecsv"
        if pred.exists():
            sky.setup.set_predictions(str(pred))
        sky.setup.run_button.click()
        wait_until(lambda: window.idle and sky.idle and dead.idle and sky.session.result is not None, settle_ms=800)
        if "skyflat" in tabs:
            save(window, name("skyflat"))
        if "deadpix" in tabs:
            window.show_tab("deadpix")
            wait_until(lambda: window.idle and dead.idle, settle_ms=800)
            save(window, name("deadpix"))
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
