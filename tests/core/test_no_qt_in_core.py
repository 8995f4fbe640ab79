"""The core/gui boundary: nothing under nircam_gui.core (or the CLI) may load Qt."""

import pkgutil
import subprocess
import sys

import nircam_gui.cli
import nircam_gui.core

QT_MODULES = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph", "superqt", "qtpy")


def _modules(pkg):
    return [m.name for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")]


def test_core_and_cli_never_import_qt():
    names = _modules(nircam_gui.core) + [n for n in _modules(nircam_gui.cli) if n != "nircam_gui.cli.gui"]
    assert "nircam_gui.core.readers" in names
    code = (
        "import importlib, sys\n"
        f"for n in {names!r}: importlib.import_module(n)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"Qt modules loaded by core: {out.stdout}"
