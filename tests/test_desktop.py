"""Shipped resources and the freedesktop menu entry."""

from __future__ import annotations

import configparser
import subprocess
import sys

from nircam_gui.desktop import default_settings, install_desktop_entry, resource_path


def test_resources_are_shipped():
    for name in ("nircam-gui.svg", "nircam-gui.png", "nircam-gui.desktop", "style.qss", "settings.ini"):
        assert resource_path(name).stat().st_size > 0
    assert resource_path("nircam-gui.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    settings = default_settings()
    from nircam_gui.core.display import LIMIT_METHODS, SCALINGS

    assert settings["display/limits"] in LIMIT_METHODS and settings["display/scaling"] in SCALINGS


def test_install_desktop_entry(tmp_path):
    written = install_desktop_entry(tmp_path)
    entry = tmp_path / "applications" / "nircam-gui.desktop"
    assert entry in written and (tmp_path / "icons/hicolor/scalable/apps/nircam-gui.svg").is_file()
    assert (tmp_path / "icons/hicolor/256x256/apps/nircam-gui.png").is_file()
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(entry)
    d = parser["Desktop Entry"]
    assert d["Type"] == "Application" and d["Icon"] == "nircam-gui" and d["Exec"].split()[0].endswith("nircam-gui")
    assert "Science" in d["Categories"]


def test_install_desktop_command(tmp_path):
    env = {"XDG_DATA_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "nircam_gui.cli.gui", "--install-desktop"], capture_output=True,
                         text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "applications" / "nircam-gui.desktop").is_file()
