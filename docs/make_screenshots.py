"""Make the README screenshots from the demo data set.

Run under a display (for example ``xvfb-run -a -s "-screen 0 1600x1000x24" python
docs/make_screenshots.py``). It makes the demo data if missing (``nircam-gui --demo`` does
the same), opens a calibrated image and a ramp, points the mouse at a pixel so the
status bar shows a readout, and saves 8-bit PNGs (Pillow) small enough for the README.
Uses a throw-away settings file, so the user's layout is not changed.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("NIRCAM_GUI_SETTINGS", str(Path(tempfile.mkdtemp()) / "settings.ini"))

from PIL import Image  # noqa: E402
import numpy as np  # noqa: E402
from PySide6.QtCore import QEvent, QEventLoop, QPointF, Qt, QTimer  # noqa: E402
from PySide6.QtGui import QMouseEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from nircam_gui.gui.app import create_app  # noqa: E402
from nircam_gui.gui.demo import make_demo  # noqa: E402
from nircam_gui.gui.main_window import MainWindow  # noqa: E402
from nircam_gui.gui.settings import demo_folder  # noqa: E402

HERE = Path(__file__).parent


def wait(window: MainWindow, ms: int = 400) -> None:
    """Run the event loop until the window is idle, then a little longer."""
    loop = QEventLoop()
    timer = QTimer(interval=50)
    timer.timeout.connect(lambda: window.idle and loop.quit())
    timer.start()
    loop.exec()
    timer.stop()
    end = QEventLoop()
    QTimer.singleShot(ms, end.quit)
    end.exec()


def hover(window: MainWindow, column: int, row: int) -> None:
    canvas = window.viewer.canvas
    exact = canvas.viewportTransform().map(canvas.scene_pos_of(column, row))
    pos = QPointF(math.floor(exact.x()), math.floor(exact.y()))  # a real pointer is on whole pixels
    port = canvas.viewport()
    QApplication.sendEvent(port, QMouseEvent(QEvent.Type.MouseMove, pos, port.mapToGlobal(pos),
                                             Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
                                             Qt.KeyboardModifier.NoModifier))


def save(window: MainWindow, name: str) -> None:
    raw = HERE / f"{name}.full.png"
    window.save_screenshot(raw)
    with Image.open(raw) as img:
        img.convert("RGB").quantize(colors=128, method=Image.Quantize.FASTOCTREE,
                                    dither=Image.Dither.NONE).save(HERE / f"{name}.png", optimize=True)
    raw.unlink()
    print(HERE / f"{name}.png", (HERE / f"{name}.png").stat().st_size // 1024, "KB")


def main() -> int:
    app = create_app()
    folder = Path(make_demo(demo_folder()))
    window = MainWindow(restore_layout=False, modal_errors=False)
    window.resize(1280, 800)  # the image area holds incompressible noise: keep the PNGs small
    window.show()

    cal = sorted((folder / "images").glob("*_cal.fits"))[0]
    window.open_path(cal)
    wait(window)
    # zoom in around the dead pixel nearest the centre and point at it, to show the
    # decoded DQ flags in the status bar
    rows, columns = ((window.viewer.frame.dq & 1024) != 0).nonzero()
    i = int(np.argmin((rows - 1024) ** 2 + (columns - 1024) ** 2))
    row, column = int(rows[i]), int(columns[i])
    view = window.viewer.canvas.view
    view.setRange(xRange=(column - 200, column + 200), yRange=(row - 200, row + 200), padding=0)
    window.viewer.canvas.zoom_actual()
    window.viewer.canvas.zoom_by(2.0)  # zoom 2, as one looks at pixels in DS9
    wait(window, 200)
    hover(window, column, row)
    wait(window, 200)
    save(window, "screenshot-main")

    ramp = sorted((folder / "flats").glob("*_uncal.fits"))[0]
    window.open_path(ramp)
    wait(window)
    window.viewer.set_state(difference=True, colormap="heat", limits="99.5%")
    window.viewer.canvas.zoom_fit()  # a file of the same size keeps the zoom, as in DS9
    wait(window)
    hover(window, 1000, 330)  # inside the epoxy void of the demo flats
    wait(window, 200)
    save(window, "screenshot-ramp")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
