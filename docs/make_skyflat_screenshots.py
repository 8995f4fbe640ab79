"""Screenshots of the Sky flat and Dead pixels tabs, and the threshold slider's update time.

Run under a display, for example::

    nircam-sim images -o /tmp/sky --detector B1 --filter F090W F150W F200W --n-images 4
    xvfb-run -a -s "-screen 0 1600x1000x24" python docs/make_skyflat_screenshots.py /tmp/sky

Without a folder it uses the demo data set's ``images/`` (made if missing). It adds the
folder in the Sky flat tab (images grouped by detector and filter, ground flats and masks
found beside them), runs, shows the filter comparison of the first detector, then the dead
pixels of the detector with the most concentrations, and saves 8-bit PNGs.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NIRCAM_GUI_SETTINGS", str(Path(tempfile.mkdtemp()) / "settings.ini"))

from PIL import Image  # noqa: E402
from PySide6.QtCore import QEvent, QEventLoop, QPointF, Qt, QTimer  # noqa: E402
from PySide6.QtGui import QMouseEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from nircam_gui.gui.app import create_app  # noqa: E402
from nircam_gui.gui.demo import make_demo  # noqa: E402
from nircam_gui.gui.main_window import MainWindow  # noqa: E402
from nircam_gui.gui.settings import demo_folder  # noqa: E402

HERE = Path(__file__).parent


def wait(window: MainWindow, ms: int = 400) -> None:
    """Run the event loop until the window and both tabs are idle, then a little longer."""
    sky, dead = window.analysis_panels["Sky flat"], window.analysis_panels["Dead pixels"]
    loop = QEventLoop()
    timer = QTimer(interval=50)
    timer.timeout.connect(lambda: (window.idle and sky.idle and dead.idle) and loop.quit())
    timer.start()
    loop.exec()
    timer.stop()
    end = QEventLoop()
    QTimer.singleShot(ms, end.quit)
    end.exec()


def hover(window: MainWindow, grid, panel: int, column: int, row: int) -> None:
    """Point the mouse at pixel ``(column, row)`` (0-based) of one panel, for the readout."""
    scene = grid.items[panel].mapToScene(QPointF(column + 0.5, row + 0.5))
    widget = grid.layout_widget
    pos = QPointF(widget.mapFromScene(scene))
    port = widget.viewport()
    QApplication.sendEvent(port, QMouseEvent(QEvent.Type.MouseMove, pos, port.mapToGlobal(pos),
                                             Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
                                             Qt.KeyboardModifier.NoModifier))


def save(window: MainWindow, name: str) -> None:
    raw = HERE / f"{name}.full.png"
    window.save_screenshot(raw)
    for colours in (128, 64, 32):  # the images hold pixel noise: fewer colours until it is small
        with Image.open(raw) as img:
            img.convert("RGB").quantize(colors=colours, method=Image.Quantize.FASTOCTREE,
                                        dither=Image.Dither.NONE).save(HERE / f"{name}.png", optimize=True)
        if (HERE / f"{name}.png").stat().st_size < 290_000:
            break
    raw.unlink()
    print(HERE / f"{name}.png", (HERE / f"{name}.png").stat().st_size // 1024, "KB")


def main(folder: str | None = None) -> int:
    app = create_app()
    if folder is None:
        folder = str(Path(make_demo(demo_folder())) / "images")
    window = MainWindow(restore_layout=False, modal_errors=False)
    window.resize(1440, 880)
    window.show()
    window.log_dock.hide()  # room for the images
    window.files_dock.hide()
    window.display_dock.hide()
    sky, dead = window.analysis_panels["Sky flat"], window.analysis_panels["Dead pixels"]
    window.tabs.setCurrentWidget(sky)
    sky.setup.add_paths([folder])
    wait(window)
    pred = Path(folder) / "predictions.ecsv"
    if pred.exists():
        sky.setup.set_predictions(str(pred))
    t0 = time.perf_counter()
    sky.setup.run_button.click()
    wait(window, 800)
    if sky.session.result is None:
        print("the run failed:", window.last_error, file=sys.stderr)
        return 1
    print(f"run: {time.perf_counter() - t0:.1f} s for {len(sky.session.setup.images)} images")
    sky.detector_view.show_view("Filters")
    sky.detector_view.smooth_combo.setCurrentIndex(2)  # 8x8 medians: the large-scale shape, as in Fig. 4
    wait(window, 600)
    grid = sky.detector_view.grid
    hover(window, grid, len(grid.specs) - 1, 1500, 1700)
    wait(window, 200)
    save(window, "screenshot-skyflat")

    window.tabs.setCurrentWidget(dead)
    best = max(sky.session.result.detectors.values(), key=lambda s: (s.n_clusters, s.n_dead))
    dead.detector_combo.setCurrentText(best.detector)
    wait(window, 600)
    # the slider: time from a new threshold to the dead pixels drawn, over many positions
    times, painted = [], []
    for k in range(60):
        t = 0.5 + 0.4 * k / 59
        start = time.perf_counter()
        dead.set_threshold(t)
        QApplication.processEvents()  # includes the repaint of the view
        times.append(dead.last_update_ms)
        painted.append(1000 * (time.perf_counter() - start))
    print(f"threshold update: median {statistics.median(times):.2f} ms, max {max(times):.2f} ms "
          f"(map drawn after events processed: median {statistics.median(painted):.1f} ms, "
          f"max {max(painted):.1f} ms)")
    dead.set_threshold(0.8)
    wait(window, 600)
    if dead.clusters is not None and len(dead.clusters):
        c = dead.clusters[0]
        hover(window, dead.grid, 0, int(round(c["x"])), int(round(c["y"])))
        wait(window, 200)
    save(window, "screenshot-deadpix")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else None))
