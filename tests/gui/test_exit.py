"""Processes that showed the main window exit with code 0 (DESIGN.md: PySide6 6.12.0 aborts).

Each test runs a fresh interpreter, because the failure happens at interpreter exit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

from PySide6.QtGui import QImage


def run_python(code: str, tmp_path, timeout: float = 90) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               NIRCAM_GUI_SETTINGS=str(tmp_path / "settings.ini"), NIRCAM_GUI_DATA=str(tmp_path / "data"))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_process_that_showed_the_window_exits_cleanly(tmp_path, data_dir):
    out = run_python(f"""
        import sys
        import numpy as np
        import pyqtgraph as pg
        from PySide6.QtCore import QTimer
        from nircam_gui.gui.app import create_app
        from nircam_gui.gui.main_window import MainWindow

        app = create_app()
        win = MainWindow(modal_errors=False)
        win.show()
        win.open_path({str(data_dir / "jw_nrcb1_cal.fits")!r})
        # pyqtgraph's own ImageView, the widget that made 6.12.0 abort at exit
        view = pg.ImageView()
        view.setImage(np.random.default_rng(0).normal(size=(64, 64)))
        view.show()

        def done():
            if win.viewer.frame is None:
                QTimer.singleShot(50, done)
                return
            print("shown", win.viewer.frame.image.shape)
            view.close()
            win.close()

        QTimer.singleShot(100, done)
        sys.exit(app.exec())
    """, tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "shown (64, 64)" in out.stdout
    assert "Fatal" not in out.stderr


def test_closing_during_a_run_exits_zero(tmp_path):
    out = run_python("""
        import sys, time
        from PySide6.QtCore import QTimer
        from nircam_gui.core.progress import Reporter
        from nircam_gui.gui.app import create_app
        from nircam_gui.gui.main_window import MainWindow

        def slow(progress=None, cancel=None):
            rep = Reporter(10**6, progress, cancel)
            for _ in range(10**6):
                time.sleep(0.002)
                rep.step("working")

        app = create_app()
        win = MainWindow(modal_errors=False)
        win.show()
        worker = win.runner.run(slow, name="slow")
        worker.aborted.connect(lambda: print("aborted"))
        QTimer.singleShot(400, win.close)
        t0 = time.monotonic()
        code = app.exec()
        print("running", worker.is_running, "closed after", round(time.monotonic() - t0, 2))
        sys.exit(code)
    """, tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "running False" in out.stdout


def test_cli_screenshot_writes_a_png_and_exits_zero(tmp_path, data_dir):
    png = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               NIRCAM_GUI_SETTINGS=str(tmp_path / "settings.ini"), NIRCAM_GUI_DATA=str(tmp_path / "data"))
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "nircam_gui.cli.gui", str(data_dir / "jw_nrca1_uncal.fits"),
                          "--screenshot", str(png)], capture_output=True, text=True, timeout=90, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    image = QImage(str(png))
    assert image.width() >= 1000 and image.height() >= 700
    assert time.monotonic() - t0 < 60
    # the user's settings were not touched by a documentation run
    assert not (tmp_path / "settings.ini").exists() or "geometry" not in (tmp_path / "settings.ini").read_text()


def test_cli_reports_a_missing_path(tmp_path):
    out = subprocess.run([sys.executable, "-m", "nircam_gui.cli.gui", str(tmp_path / "nope.fits")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert f"{tmp_path / 'nope.fits'}: no such file or folder" in out.stderr


def test_closing_during_a_process_run_exits_zero(tmp_path):
    """The demo data are made in a child process: closing the window stops it cleanly."""
    script = tmp_path / "close_during_demo.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        from nircam_gui.gui.app import create_app
        from nircam_gui.gui.main_window import MainWindow

        if __name__ == "__main__":  # the child process imports this file again
            app = create_app()
            win = MainWindow(modal_errors=False)
            win.show()
            win.open_demo({str(tmp_path / "demo")!r})
            worker = win._demo_worker
            worker.aborted.connect(lambda: print("aborted", flush=True))
            closed = []

            def first_progress(fraction, message):
                if not closed:  # close as soon as the child reports work under way
                    closed.append(time.monotonic())
                    win.close()

            worker.progressed.connect(first_progress)
            code = app.exec()
            print("running", worker.is_running, "stopped in", round(time.monotonic() - closed[0], 1))
            sys.exit(code)
    """))
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", NIRCAM_GUI_SETTINGS=str(tmp_path / "settings.ini"))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "aborted" in out.stdout and "running False" in out.stdout
    stopped = float(out.stdout.split("stopped in")[1].split()[0])
    assert stopped < 15
