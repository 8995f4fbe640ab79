"""The Campaign window (Tasks ▸ Campaign...): many detectors on Dask, each result opened in the
Gain and Sky-flat tabs."""

from __future__ import annotations

__all__ = ["install_campaign_window"]


def install_campaign_window(window):
    """Add Tasks ▸ Campaign... to ``window`` (a MainWindow); the window is made on first use.

    Returns
    -------
    QAction
    """
    from PySide6.QtGui import QAction, QKeySequence

    menu = next((a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == "Tasks"), None)
    action = QAction("Ca&mpaign (all detectors, on Dask)...", window)
    action.setShortcut(QKeySequence("Ctrl+Shift+M"))
    action.triggered.connect(lambda: show_campaign_window(window))
    if menu is not None:
        menu.addAction(action)
    else:
        window.addAction(action)
    window.campaign_panel = None
    return action


def show_campaign_window(window):
    """The Campaign window of ``window``, made and wired on first call, brought to the front."""
    from PySide6.QtCore import Qt

    from .panel import CampaignPanel

    panel = getattr(window, "campaign_panel", None)
    if panel is None:
        session = getattr(window, "skyflat_session", None)
        panel = CampaignPanel(window.runner,
                              skyflat_options=(lambda: session.setup.options) if session is not None else None,
                              parent=window)
        panel.setWindowFlag(Qt.WindowType.Window, True)
        panel.setWindowTitle("Campaign: every detector, on Dask")
        panel.resize(900, 600)
        panel.error.connect(window.show_error)

        def opened(analysis: str, result) -> None:
            if analysis == "gain":
                window.gain_panel.set_result(result)
                window.show_tab("gain")
            elif session is not None:
                # the dead-pixel indexes are built in the background, as after a run of the tab itself
                from ..skyflat.state import build_indexes

                window.runner.run(build_indexes, result, name="Indexing dead pixels",
                                  on_result=lambda idx, r=result: session.restore(r, idx),
                                  on_error=window.show_error)
                window.show_tab("skyflat")
            window.raise_()
            window.activateWindow()

        panel.opened.connect(opened)
        window.campaign_panel = panel
    panel.show()
    panel.raise_()
    return panel
