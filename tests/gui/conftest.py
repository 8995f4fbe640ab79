"""GUI test set-up: headless Qt, isolated settings and data folders, small FITS files."""

from __future__ import annotations

import os

# before any Qt import: no display needed
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from fits_samples import make_cal, make_uncal  # noqa: E402 - tests/gui is on sys.path


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
