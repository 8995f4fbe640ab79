"""Make the README screenshot of the Gain tab from the demo data set.

Run under a display, e.g. ``xvfb-run -a -s "-screen 0 1600x1000x24" python
docs/make_screenshot_gain.py``. It makes the demo data if missing, opens the Gain tab
with the demo flats (their reference files and epoxy-void region file are found beside
them), runs the analysis in its child process as a user would, selects a normal and an
epoxy-void box, and saves ``docs/screenshot-gain.png`` (8-bit PNG). Extra views are saved
with ``--all`` (maps, scatter, pairs) for checking, not for the README. Uses throw-away
settings and data folders, so the user's regions and layout are untouched.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

_tmp = Path(tempfile.mkdtemp())
os.environ.setdefault("NIRCAM_GUI_SETTINGS", str(_tmp / "settings.ini"))

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402

from nircam_gui.gui.app import create_app  # noqa: E402
from nircam_gui.gui.demo import make_demo  # noqa: E402
from nircam_gui.gui.main_window import MainWindow  # noqa: E402
from nircam_gui.gui.settings import demo_folder  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from make_screenshots import save  # noqa: E402

import math  # noqa: E402

from PySide6.QtCore import QEvent, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QMouseEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def hover(canvas, column: int, row: int) -> None:
    """Move the mouse over a pixel of ``canvas`` (the hover line shows the box under it)."""
    exact = canvas.viewportTransform().map(canvas.scene_pos_of(column, row))
    pos = QPointF(math.floor(exact.x()), math.floor(exact.y()))
    port = canvas.viewport()
    QApplication.sendEvent(port, QMouseEvent(QEvent.Type.MouseMove, pos, port.mapToGlobal(pos),
                                             Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
                                             Qt.KeyboardModifier.NoModifier))



def wait_until(condition, timeout: float = 600.0, settle_ms: int = 400) -> None:
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


def main() -> int:
    app = create_app()
    folder = Path(make_demo(demo_folder()))
    os.environ["NIRCAM_GUI_DATA"] = str(_tmp / "data")  # autosaved regions go here, not to the user's
    window = MainWindow(restore_layout=False, modal_errors=False)
    window.resize(1500, 900)
    window.show()
    window.error.connect(lambda m: print("error:", m))
    window.open_path(folder / "flats")
    wait_until(lambda: window.idle)
    panel = window.gain_panel
    window.tabs.setCurrentWidget(panel)
    window.log_dock.hide()
    window.display_dock.hide()
    window.files_dock.hide()  # the Gain tab needs the width; the set-up lists the files
    panel.setup.use_browser_folder()
    wait_until(lambda: panel.check is not None and panel.idle and not window.runner.active)
    panel.setup.box_combo.setCurrentText("128")
    wait_until(lambda: panel.idle and not window.runner.active)
    t0 = time.monotonic()
    panel.run()
    wait_until(lambda: panel.run_worker is None and window.idle)
    print(f"run took {time.monotonic() - t0:.1f} s")
    panel.viewer.set_state(colormap="gray", limits="zscale")
    wait_until(lambda: window.idle)
    # point at an epoxy-void box, so the hover line shows its gain
    r = panel.result
    void = [b for b in range(1, r.boxes.nbox + 1) if r.boxes.table["region"][b - 1] == "epoxy"]
    if void:
        import numpy as np

        rows, cols = np.nonzero(r.boxes.labels == void[len(void) // 2])
        hover(panel.canvas, int(np.median(cols)), int(np.median(rows)))
    wait_until(lambda: True, settle_ms=300)
    save(window, "screenshot-gain")
    if "--all" in sys.argv:
        for index, name in ((1, "maps"), (2, "scatter"), (4, "pairs"), (3, "sectors")):
            panel.views.setCurrentIndex(index)
            wait_until(lambda: True, settle_ms=300)
            save(window, f"check-gain-{name}")
        panel.views.setCurrentIndex(0)
        panel.editor.set_mode("edit")
        panel.canvas.view.setRange(xRange=(700, 1400), yRange=(150, 650), padding=0)
        wait_until(lambda: True, settle_ms=300)
        save(window, "check-gain-regions")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
