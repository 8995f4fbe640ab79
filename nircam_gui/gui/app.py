"""Application start-up: the QApplication, the main window, and ``--screenshot`` runs."""

from __future__ import annotations

import logging
import sys
import threading
import time

import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from .gain.tasks import warm_box_layout
from .gc_timer import collect_in_gui_thread, freeze_startup_objects
from .main_window import MainWindow
from .settings import APPLICATION, ORGANIZATION, Settings

__all__ = ["create_app", "run"]

#: Longest a --screenshot run waits for loading (making the demo data included).
SCREENSHOT_TIMEOUT = 300.0


def create_app(argv: list[str] | None = None) -> QApplication:
    """The QApplication, created once, with the project's defaults."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv is not None else [sys.argv[0]])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("NIRCam GUI")
    app.setStyle("Fusion")  # the same look on every platform and under Xvfb
    app.setDesktopFileName("nircam-gui")  # Wayland/X11 taskbars match the window to the menu entry
    _apply_resources(app)
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)
    # Workers run numpy code that releases and re-takes the GIL many times per frame; with
    # the default 5 ms switch interval each re-take can wait 5 ms behind the other thread.
    # 1 ms keeps both the GUI and the workers moving (measured in benchmarks/bench_viewer.py).
    sys.setswitchinterval(min(sys.getswitchinterval(), 0.001))
    return app


def _apply_resources(app: QApplication) -> None:
    """The application icon (window and taskbar) and the default style sheet."""
    import logging

    from PySide6.QtGui import QIcon

    from ..desktop import resource_path

    try:
        icon = QIcon(str(resource_path("nircam-gui.svg")))
        icon.addFile(str(resource_path("nircam-gui.png")))
        app.setWindowIcon(icon)
        app.setStyleSheet(resource_path("style.qss").read_text(encoding="utf-8"))
    except (FileNotFoundError, OSError) as exc:  # a broken install still starts, plainer
        logging.getLogger("nircam_gui").warning("%s", exc)


def run(path: str | None = None, demo: bool = False, screenshot: str | None = None,
        settings: Settings | None = None, geometry: tuple[int, int] | None = None,
        tab: str | None = None) -> int:
    """Show the main window, open ``path`` and/or the demo data, and run the event loop.

    With ``screenshot``, wait until everything is loaded, save the window as a PNG and
    return 0 (1 when loading failed or timed out, so scripted checks notice). ``geometry``
    ``(width, height)`` sizes the window (and so the picture); ``tab`` is the tab shown
    first ("image", "gain", "skyflat", "deadpix").
    """
    app = create_app()
    window = MainWindow(settings=settings, restore_layout=screenshot is None and geometry is None,
                        modal_errors=screenshot is None)
    if screenshot is not None:
        window._save_on_close = False  # a documentation run must not change the user's layout
    # the window and every module are loaded: later full collections need not scan them again
    freeze_startup_objects()
    collect_in_gui_thread(app)  # Qt objects are never destroyed by a collection in a worker thread
    if geometry is not None:
        window.resize(*geometry)
    if tab is not None:
        window.show_tab(tab)

        def keep_tab(*_):  # the first file opened must not take the chosen tab away
            window.viewer.loaded.disconnect(keep_tab)
            window.show_tab(tab)

        window.viewer.loaded.connect(keep_tab)
    window.show()
    _report_unexpected_errors(window)
    # compiled kernels the GUI process itself runs (the Gain tab's box preview), loaded while the
    # window appears rather than at the first preview
    threading.Thread(target=_warm_kernels, name="warm-kernels", daemon=True).start()
    if demo:
        window.open_demo()
    if path:
        window.open_path(path)
    if screenshot is None:
        return app.exec()
    return _screenshot_when_idle(app, window, screenshot)


def _warm_kernels() -> None:
    try:
        warm_box_layout()
    except Exception:  # noqa: BLE001 - only a warm-up: the first preview then pays for it
        logging.getLogger("nircam_gui").debug("kernel warm-up failed", exc_info=True)


def _report_unexpected_errors(window: MainWindow) -> None:
    """A bug in a slot must not print a traceback at the user: show one line, log the rest."""
    import traceback

    from .workers import error_message

    def hook(kind, exc, tb):
        logging.getLogger("nircam_gui").debug("".join(traceback.format_exception(kind, exc, tb)))
        if isinstance(exc, KeyboardInterrupt):
            QApplication.quit()
            return
        window.show_error(f"Unexpected error, please report it: {error_message(exc)}")

    sys.excepthook = hook


def _screenshot_when_idle(app: QApplication, window: MainWindow, path: str) -> int:
    status = {"code": 1, "quiet_since": None}
    start = time.monotonic()

    def check() -> None:
        now = time.monotonic()
        if window.idle:
            # idle for a moment: queued results have been drawn
            status["quiet_since"] = status["quiet_since"] or now
            if now - status["quiet_since"] < 0.3:
                return
            window.viewer.canvas.zoom_fit()
            app.processEvents()
            ok = window.save_screenshot(path)
            status["code"] = 0 if ok and not window.last_error else 1
            if window.last_error:
                print(f"nircam-gui: {window.last_error}", file=sys.stderr)
            timer.stop()
            window.close()
        else:
            status["quiet_since"] = None
            if now - start > SCREENSHOT_TIMEOUT:
                print(f"nircam-gui: loading did not finish within {SCREENSHOT_TIMEOUT:.0f} s; "
                      "no screenshot written", file=sys.stderr)
                timer.stop()
                window.close()

    timer = QTimer(interval=100)
    timer.timeout.connect(check)
    timer.start()
    app.exec()
    return status["code"]


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(run(*(sys.argv[1:2] or [None])))
