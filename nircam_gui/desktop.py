"""The application's shipped resources (icon, desktop entry, style sheet, default settings)
and the freedesktop menu entry that ``nircam-gui --install-desktop`` puts in place.

No Qt here: installing the menu entry must work without a display.
"""

from __future__ import annotations

import configparser
import os
from pathlib import Path

__all__ = ["resource_path", "default_settings", "install_desktop_entry", "DESKTOP_FILE", "ICON_NAME"]

ICON_NAME = "nircam-gui"
DESKTOP_FILE = "nircam-gui.desktop"


def resource_path(name: str) -> Path:
    """Path of a shipped resource file (``resources/`` in the source tree, package data in a wheel).

    Raises
    ------
    FileNotFoundError
        The installation lacks the file (a broken install): the message names it.
    """
    path = Path(__file__).resolve().parent / "resources" / name
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the application resource {name!r} is missing from this installation")
    return path


def default_settings() -> dict[str, str]:
    """``section/key -> value`` from ``resources/settings.ini`` (the values before the user chooses)."""
    parser = configparser.ConfigParser()
    parser.read(resource_path("settings.ini"), encoding="utf-8")
    return {f"{section}/{key}": value for section in parser.sections() for key, value in parser[section].items()}


def _data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def install_desktop_entry(data_home: str | os.PathLike | None = None) -> list[Path]:
    """Put the menu entry and the icon where freedesktop menus look for them.

    Writes ``applications/nircam-gui.desktop`` and ``icons/hicolor/scalable/apps/nircam-gui.svg``
    under ``data_home`` (``$XDG_DATA_HOME`` or ``~/.local/share``); the entry's ``Exec`` is this
    installation's ``nircam-gui`` when it can be found, so the menu starts the right environment.

    Returns
    -------
    list of Path
        The files written.
    """
    from shutil import which

    home = Path(data_home) if data_home is not None else _data_home()
    entry = resource_path(DESKTOP_FILE).read_text(encoding="utf-8")
    exe = which("nircam-gui")
    if exe:
        entry = entry.replace("Exec=nircam-gui", f"Exec={exe}")
    targets = {
        home / "applications" / DESKTOP_FILE: entry.encode(),
        home / "icons" / "hicolor" / "scalable" / "apps" / f"{ICON_NAME}.svg":
            resource_path(f"{ICON_NAME}.svg").read_bytes(),
        home / "icons" / "hicolor" / "256x256" / "apps" / f"{ICON_NAME}.png":
            resource_path(f"{ICON_NAME}.png").read_bytes(),
    }
    written = []
    for target, data in targets.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)  # atomic: a menu never reads a half-written entry
        written.append(target)
    return written
