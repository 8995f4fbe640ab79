"""The window's Display panel for the sky-flat and dead-pixel image grids.

The grids show several maps side by side, each with a stretch chosen for what it shows
(a delta flat about 1, a fractional difference symmetric about 0). The Display panel
starts on :data:`~nircam_gui.gui.skyflat.images.PER_PANEL`, which keeps those; choosing a
stretch, a scaling, a colour map or typed levels applies it to every panel, as the Display
panel does for the Image and Gain tabs.
"""

from __future__ import annotations

from PySide6.QtCore import QObject

from ..core.detector import REF_BORDER
from ..core.display import display_sample
from .display_panel import DisplayPanel
from .skyflat.images import PER_PANEL, ImageGrid

__all__ = ["GridDisplay"]


class GridDisplay(QObject):
    """A :class:`DisplayPanel` bound to one :class:`ImageGrid`.

    Parameters
    ----------
    grid : ImageGrid
    """

    def __init__(self, grid: ImageGrid, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.grid = grid
        self.panel = DisplayPanel()
        self.panel.limits.insertItem(0, PER_PANEL)
        self.panel.colormap.insertItem(0, PER_PANEL)
        self.panel.limits.setToolTip("How the display limits are chosen; 'per panel' keeps each map's own "
                                     "(e.g. symmetric about 0 for a fractional difference)")
        self.state = {"limits": PER_PANEL, "scaling": "linear", "colormap": PER_PANEL, "manual_levels": None}
        self.panel.changed.connect(self.set_state)
        grid.drawn.connect(self._sync)
        self._sync()

    def set_state(self, name: str, value) -> None:
        """Change one display choice (``limits``, ``scaling``, ``colormap``, ``manual_levels``
        or ``nan_colour``)."""
        if name == "nan_colour":
            self.grid.set_nan_colour(value)
            self.panel.show_nan_colour(self.grid.nan_colour)
            return
        if name == "manual_levels":
            self.state["limits"] = "manual"
        self.state[name] = value
        s = self.state
        self.grid.set_display(s["limits"], s["scaling"], s["colormap"],
                              s["manual_levels"] if s["limits"] == "manual" else None)
        self._sync()

    def _sync(self) -> None:
        """Show the first panel's levels and histogram (all panels share them unless 'per panel')."""
        grid, s = self.grid, self.state
        levels = grid.levels[0] if grid.levels else (0.0, 1.0)
        sample = display_sample(grid.specs[0].image, border=REF_BORDER) if grid.specs else None
        self.panel.show_state(s["limits"], s["scaling"], s["colormap"], levels, sample)
        self.panel.show_nan_colour(grid.nan_colour)
