"""Drive the real main window in a process of its own (offscreen), for the crash and end-to-end tests.

Run as ``python gui_driver.py <mode> <json arguments>``; prints ``STATE <json>`` lines and, in
``edit`` mode, ``READY`` before waiting to be killed. Settings and data live where the environment
variables ``NIRCAM_GUI_SETTINGS`` and ``NIRCAM_GUI_DATA`` say (the test's temporary folder).
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from nircam_gui.gui.app import create_app  # noqa: E402
from nircam_gui.gui.main_window import MainWindow  # noqa: E402
from nircam_gui.gui.settings import Settings  # noqa: E402

#: a safety net for a hung GUI, not a performance requirement
PATIENCE_S = 600.0


def wait_until(condition, what: str) -> None:
    start = time.monotonic()
    end = start + PATIENCE_S
    while not condition():
        if time.monotonic() > end:
            raise SystemExit(f"gave up waiting for {what}")
        QTest.qWait(20)
    # on stderr, for whoever wonders where the time goes (nothing asserts on it)
    print(f"waited {time.monotonic() - start:.1f} s for {what}", file=sys.stderr, flush=True)


def click(panel, x: float, y: float, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    p = panel.editor.to_screen(x, y)
    QTest.mouseClick(panel.canvas.viewport(), Qt.MouseButton.LeftButton, modifier, QPoint(round(p.x()), round(p.y())))


def report(**state) -> None:
    print("STATE " + json.dumps(state), flush=True)


def gain_state(panel) -> dict:
    s = panel.setup
    return {"polygons": [p.tolist() for p in panel.model.polygons], "box": s.box_combo.currentText(),
            "files": s.files, "refs": {r: e.text() for r, e in s.ref_edits.items()},
            "signal_limit": s.limit_spin.value()}


def prepare_gain(window, args, in_process: bool = False) -> object:
    """Ramps, references and options chosen; the first ramp on screen; no regions yet."""
    panel = window.gain_panel
    panel.run_in_process = in_process
    window.tabs.setCurrentWidget(panel)
    for reftype, path in args["refs"].items():
        panel.setup.set_reference(reftype, path)
    panel.setup.box_combo.setCurrentText(args["box"])
    panel.setup.limit_spin.setValue(args["signal_limit"])
    panel.set_files(args["ramps"])
    wait_until(lambda: panel.check is not None and panel.viewer.frame is not None, "the ramps to be checked")
    wait_until(lambda: panel.idle and not panel.runner.active, "the gain tab to settle")
    panel.model.clear()  # the simulator's region file beside the ramps is loaded: draw our own
    panel.canvas.zoom_fit()
    return panel


def draw_polygon(panel, corners) -> None:
    """Click the corners in draw mode and close with Enter, as a user does."""
    panel.editor.set_mode("draw")
    for x, y in corners:
        click(panel, x, y)
    panel.canvas.setFocus()
    QTest.keyClick(panel.canvas, Qt.Key.Key_Return)
    panel.editor.set_mode("navigate")


def mode_edit(window, args) -> None:
    panel = prepare_gain(window, args)
    draw_polygon(panel, args["corners"])
    report(**gain_state(panel))
    print("READY", flush=True)
    sys.stdin.read()  # edits done, nothing saved by hand: wait to be killed


def mode_restore(window, args) -> None:
    panel = window.gain_panel
    wait_until(lambda: panel.idle and not panel.runner.active, "the gain tab to settle")
    report(**gain_state(panel))


def mode_workflow(window, args) -> None:
    out = args["out"]
    # 1. open: the folder of ramps in the browser, the first one on screen
    window.open_path(args["ramp_folder"])
    wait_until(lambda: window.viewer.source is not None and window.idle, "the first ramp on screen")
    opened = os.path.basename(window.viewer.source.path)
    # 2. gain: draw a region, run, click a box, export
    # long work in child processes, as the application does it (and no GIL shared with the GUI)
    panel = prepare_gain(window, args, in_process=True)
    draw_polygon(panel, args["corners"])
    done = []
    panel.result_ready.connect(lambda *a: done.append(1))
    assert panel.run() is not None
    wait_until(lambda: done and panel.idle and not panel.runner.active, "the gain analysis")
    result = panel.result
    labels = result.boxes.labels
    box = int(result.boxes.table["box_id"][list(result.boxes.table["region"]).index("epoxy")])
    rows, cols = np.nonzero(labels == box)
    i = int(np.argmin((cols - np.median(cols)) ** 2 + (rows - np.median(rows)) ** 2))
    click(panel, float(cols[i]), float(rows[i]))
    selection = list(panel.selection)
    ptc_points = int(panel.ptc._items[0]["used"].getData()[0].size) if panel.ptc._items else 0
    exported = []
    panel.exported.connect(lambda paths: exported.append(paths))
    panel.export_to(os.path.join(out, "gain"))
    wait_until(lambda: exported and panel.idle and not panel.runner.active, "the gain export")
    # 3. sky flat: images and references from their folder, run, export
    sky = window.analysis_panels["Sky flat"]
    dead = window.analysis_panels["Dead pixels"]
    window.tabs.setCurrentWidget(sky)
    sky.setup.add_paths([args["cal_folder"]])
    wait_until(lambda: not sky.setup.busy and sky.session.setup.images, "the _cal headers")
    ran = []
    sky.session.result_changed.connect(lambda *a: ran.append(1))
    sky.setup.run_button.click()
    wait_until(lambda: ran and window.idle and sky.idle and dead.idle, "the sky-flat run")
    sky_files = []
    sky.session.exported.connect(lambda outdir, files: sky_files.extend(files))
    sky.session.export(os.path.join(out, "skyflat"))
    wait_until(lambda: sky_files and window.idle and sky.idle and dead.idle, "the sky-flat export")
    report(opened=opened, polygons=len(panel.model.polygons), regions_file=result.options.regions, clicked=box, selection=selection, ptc_points=ptc_points,
           gain_products=sorted(exported[0]), sky_detectors=sorted(sky.session.result.detectors),
           sky_files=[os.path.basename(f) for f in sky_files], errors=window.last_error)


def main() -> int:
    mode, args = sys.argv[1], json.loads(sys.argv[2])
    app = create_app([sys.argv[0]])
    window = MainWindow(Settings(), modal_errors=False)
    window.resize(1400, 900)
    window.show()
    QTest.qWaitForWindowExposed(window)
    {"edit": mode_edit, "restore": mode_restore, "workflow": mode_workflow}[mode](window, args)
    window.close()
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
