"""The "Sky flat" and "Dead pixels" tabs (report JWST-STScI-008304, section 3).

Kept free of imports so a child process can run :func:`.state.run_task` without loading Qt.
"""

from __future__ import annotations

__all__ = ["install_skyflat_tabs"]


def install_skyflat_tabs(window):
    """Create the shared session and both tabs, and put them in ``window`` (a MainWindow).

    Returns
    -------
    (SkyflatPanel, DeadPixelPanel)
    """
    from .deadpix_panel import DeadPixelPanel
    from .panel import SkyflatPanel
    from .session import SkyflatSession

    session = SkyflatSession(window.runner, window)
    sky = SkyflatPanel(session)
    dead = DeadPixelPanel(session)
    dead.export_button.clicked.connect(sky.choose_export)
    for panel in (sky, dead):
        panel.error.connect(window.show_error)
    # errors of the run itself reach the window once, through the sky-flat panel;
    # the pointer's readout goes to the window's one status line
    dead.grid.readout.connect(lambda t: window.set_pointer_text(dead, t))
    sky.detector_view.grid.readout.connect(lambda t: window.set_pointer_text(sky, t))
    for grid in (dead.grid, sky.detector_view.grid):
        grid.readout_label.hide()
    window.set_analysis_panel("Sky flat", sky)
    window.set_analysis_panel("Dead pixels", dead)
    window.skyflat_session = session
    return sky, dead
