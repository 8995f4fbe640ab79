"""The window fits a laptop: at 1366x768 and 1440x900 every tab, with results on screen,
keeps the asked size, and no control, label or column is clipped or pushed out of sight."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractScrollArea,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLabel,
    QSizePolicy,
    QTabBar,
    QWidget,
)

from nircam_gui.core.gain.run import GainOptions
from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats
from nircam_gui.gui.gain.tasks import run_analysis

SIZES = [(1366, 768), (1440, 900)]


@pytest.fixture(scope="module")
def gain_out(tmp_path_factory):
    """A real gain result on small ramps (its tables and combo boxes fill the Gain tab)."""
    sim = simulate_flats(tmp_path_factory.mktemp("layout_flats"),
                         FlatSimConfig(detector="NRCB1", size=128, nints=4, ngroups=5, seed=4))
    out = run_analysis([str(p) for p in sim.ramps], GainOptions(box=32, regions=str(sim.regions), ipc="none"))
    return out, str(sim.ramps[0])


def _in_scroll_area(w: QWidget) -> bool:
    a = w.parentWidget()
    while a is not None:
        if isinstance(a, QAbstractScrollArea):
            return True
        a = a.parentWidget()
    return False


def clipped_widgets(root: QWidget) -> list[str]:
    """Visible controls and labels narrower than they need, or reaching out of their parent."""
    problems = []
    for w in root.findChildren(QWidget):
        if not w.isVisible() or w.width() <= 0 or isinstance(w.parentWidget(), QTabBar):
            continue  # a tab bar's scroll arrows are Qt's own
        if w.visibleRegion().isEmpty():
            continue  # e.g. a dock tabbed behind another: Qt parks it outside the window
        parent = w.parentWidget()
        if parent is not None and not _in_scroll_area(w) and not isinstance(w, QTabBar):
            inside = parent.rect()
            if w.geometry().right() > inside.right() + 1 or w.geometry().left() < inside.left() - 1:
                problems.append(f"{type(w).__name__} {getattr(w, 'text', lambda: '')()!r} reaches outside "
                                f"its {type(parent).__name__} ({w.geometry()} in {inside})")
        if not isinstance(w, (QLabel, QAbstractButton, QComboBox, QAbstractSpinBox)):
            continue
        if w.sizePolicy().horizontalPolicy() == QSizePolicy.Policy.Ignored:
            continue  # elides or clips on purpose (file names, the status line)
        if isinstance(w, QLabel):
            if w.wordWrap() or not w.text().strip():
                continue
            need = w.minimumSizeHint().width()
        else:
            need = w.minimumWidth() or w.minimumSizeHint().width()
        if w.width() + 1 < need:
            text = w.text() if hasattr(w, "text") else w.currentText() if isinstance(w, QComboBox) else ""
            problems.append(f"{type(w).__name__} {text!r} is {w.width()} px wide but needs {need}")
    return problems


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_tab_fits_with_results(qtbot, settings, gain_out, size):
    from nircam_gui.gui.main_window import MainWindow

    window = MainWindow(settings=settings, restore_layout=False, modal_errors=False)
    qtbot.addWidget(window)
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    out, ramp = gain_out
    # a ramp in both viewers: their group and integration bars are the widest rows
    window.open_path(ramp)
    window.gain_panel.viewer.open(ramp)
    qtbot.waitUntil(lambda: window.idle and window.gain_panel.viewer.frame is not None, timeout=20000)
    window.gain_panel.set_result(*out)
    try:
        for name in ("image", "gain", "skyflat", "deadpix"):
            window.show_tab(name)
            views = getattr(window.tabs.currentWidget(), "views", None)
            for page in range(views.count() if views is not None else 1):
                if views is not None:
                    views.setCurrentIndex(page)
                for _ in range(3):
                    QApplication.processEvents()
                assert (window.width(), window.height()) == size, f"{name}: the window grew to {window.size()}"
                assert window.minimumSizeHint().width() <= size[0]
                problems = clipped_widgets(window)
                assert not problems, f"{name} at {size}: " + "; ".join(problems[:6])
    finally:
        window.close()
