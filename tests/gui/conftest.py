"""GUI test set-up: headless Qt, isolated settings and data folders, small FITS files."""

from __future__ import annotations

import os

# before any Qt import: no display needed
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from fits_samples import make_cal, make_uncal  # noqa: E402 - tests/gui is on sys.path


@pytest.fixture(scope="session")
def _startup_objects_frozen():
    """As the application does after start-up: the modules loaded so far stay out of every scan."""
    import gc

    from nircam_gui.gui.gc_timer import freeze_startup_objects

    freeze_startup_objects()
    yield
    gc.unfreeze()


@pytest.fixture(autouse=True)
def _gc_in_gui_thread(qapp, _startup_objects_frozen):
    """As the application does: cyclic garbage is collected by a timer in the GUI thread, never
    by a worker thread that happens to allocate (whose collection can destroy Qt objects there
    while the GUI thread holds a Qt mutex: a deadlock). At teardown the test's garbage is
    collected here, then automatic collection is back on between tests."""
    from nircam_gui.gui.gc_timer import collect_in_gui_thread, stop_collecting_in_gui_thread

    collect_in_gui_thread(qapp)
    yield
    stop_collecting_in_gui_thread(qapp)


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory, monkeypatch):
    """Never read or write the user's real settings or data folder."""
    base = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("NIRCAM_GUI_SETTINGS", str(base / "settings.ini"))
    monkeypatch.setenv("NIRCAM_GUI_DATA", str(base / "data"))


@pytest.fixture
def data_dir(tmp_path):
    """A folder with one small ramp, one calibrated image, and files that are not FITS."""
    make_uncal(tmp_path / "jw_nrca1_uncal.fits")
    make_cal(tmp_path / "jw_nrcb1_cal.fits")
    (tmp_path / "notes.txt").write_text("not a FITS file")
    (tmp_path / "broken.fits").write_bytes(b"this is not FITS")
    return tmp_path


@pytest.fixture
def settings(tmp_path):
    from nircam_gui.gui.settings import Settings

    return Settings(tmp_path / "test-settings.ini")


@pytest.fixture
def window(qtbot, settings):
    from nircam_gui.gui.main_window import MainWindow

    win = MainWindow(settings=settings, restore_layout=False, modal_errors=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()
