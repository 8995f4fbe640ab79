"""Settings remembered between runs (QSettings), and the user's data folder.

``NIRCAM_GUI_SETTINGS`` (an .ini path) and ``NIRCAM_GUI_DATA`` (a folder) override the
defaults, so tests and scripted runs never touch the user's real settings or data.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

__all__ = ["Settings", "data_folder", "demo_folder"]

ORGANIZATION = "nircam-gui"
APPLICATION = "nircam-gui"
MAX_RECENT = 10


def data_folder() -> Path:
    """Where the application keeps its data (``~/.local/share/nircam-gui`` on Linux)."""
    env = os.environ.get("NIRCAM_GUI_DATA")
    if env:
        return Path(env)
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation)
    return Path(base or Path.home() / ".local" / "share") / APPLICATION


def demo_folder() -> Path:
    """The simulated demo data set made by ``nircam-gui --demo``."""
    return data_folder() / "demo"


class Settings:
    """Typed access to the few things the window remembers.

    Parameters
    ----------
    path : path-like, optional
        An .ini file; by default ``NIRCAM_GUI_SETTINGS`` or the platform's user settings.
    """

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        path = path or os.environ.get("NIRCAM_GUI_SETTINGS")
        if path:
            self.qsettings = QSettings(os.fspath(path), QSettings.Format.IniFormat)
        else:
            self.qsettings = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                                       ORGANIZATION, APPLICATION)

    # -- plain values ---------------------------------------------------------------
    def get(self, key: str, default=None, type_=None):
        value = self.qsettings.value(key, default)
        if value is None or type_ is None:
            return value
        try:
            if type_ is bool:
                return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
            return type_(value)
        except (TypeError, ValueError):
            return default

    def set(self, key: str, value) -> None:
        self.qsettings.setValue(key, value)

    def sync(self) -> None:
        self.qsettings.sync()

    # -- window layout --------------------------------------------------------------
    def geometry(self, key: str) -> QByteArray | None:
        value = self.qsettings.value(key)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    # -- recent files ---------------------------------------------------------------
    def recent(self) -> list[str]:
        value = self.qsettings.value("recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or []) if v]

    def add_recent(self, path: str | os.PathLike) -> list[str]:
        path = os.path.abspath(os.fspath(path))
        items = [path] + [p for p in self.recent() if p != path]
        items = items[:MAX_RECENT]
        self.qsettings.setValue("recent", items)
        return items

    def clear_recent(self) -> None:
        self.qsettings.setValue("recent", [])
