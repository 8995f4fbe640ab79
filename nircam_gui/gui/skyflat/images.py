"""A grid of linked detector images (one or many panels), drawn like the main viewer.

Each panel is mapped to colours in a worker with the main viewer's display math
(:func:`~nircam_gui.core.display.limits` on a :func:`display_sample`, then
:func:`render_rgba`), so the GUI thread only hands finished pictures to Qt. All panels
share one zoom and pan, as the report's figures compare filters pixel for pixel; the
readout under the mouse is 1-based x, y as in DS9. An optional boolean overlay (a source
mask) is drawn translucent over every panel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from ...core.detector import REF_BORDER
from ...core.display import NAN_COLOUR, display_sample, limits, render_rgba
from ...core.skyflat.largescale import block_median
from ..colormaps import lookup_table
from ..workers import TaskRunner

__all__ = ["ImageGrid", "PanelSpec"]


@dataclass
class PanelSpec:
    """One image of the grid.

    Parameters
    ----------
    title : str
        Shown above the panel and in the readout.
    image : ndarray
        2-D data, row-major, pixel (0, 0) at the bottom left.
    stretch : str or (float, float)
        A limit method of the main viewer (``"zscale"``, ``"99.5%"``, ``"minmax"``),
        ``"sym:<centre>"`` (symmetric about centre, 98% of the pixels inside), or explicit levels.
    colormap : str
        A name from :data:`nircam_gui.gui.colormaps.COLORMAPS`.
    fmt : str
        Format of the value in the readout.
    values : ndarray, optional
        What the readout reports, when it is not the picture (a blank background).
    smooth : int
        Show the median of ``smooth`` x ``smooth`` blocks (display only: the readout keeps
        the pixel's own value), to bring out large-scale structure as the report's figures do.
    """

    title: str
    image: np.ndarray
    stretch: str | tuple[float, float] = "99.5%"
    colormap: str = "gray"
    fmt: str = ".5g"
    values: np.ndarray | None = None
    smooth: int = 1
    #: panels with the same non-empty group share one scale (the widest of their own)
    group: str = ""
    #: unit of the values, in the panel's title beside its limits ('' for ratios)
    unit: str = ""


def panel_levels(image: np.ndarray, stretch) -> tuple[float, float]:
    """Display limits of ``image`` for ``stretch`` (reference border left out, as the viewer does)."""
    if not isinstance(stretch, str):
        return float(stretch[0]), float(stretch[1])
    if stretch.startswith("sym:"):
        centre = float(stretch[4:])
        lo, hi = panel_levels(image, "98%")
        h = max(abs(lo - centre), abs(hi - centre), 1e-4)
        return centre - h, centre + h
    sample = display_sample(image, border=REF_BORDER)
    rng = (float(np.nanmin(sample)), float(np.nanmax(sample))) if stretch == "minmax" and sample.size else None
    return limits(sample, stretch, rng)


#: what a grid's display choice says when each panel keeps its own stretch or colours
PER_PANEL = "per panel"


def _render(specs: list[PanelSpec], overlay: np.ndarray | None, colour: tuple[int, int, int, int],
            display: tuple[str, str, str, tuple[float, float] | None] | None = None,
            nan_colour: tuple[int, int, int] = NAN_COLOUR):
    """Worker: levels and RGBA pictures of every panel, and of the overlay.

    ``display`` = ``(limits, scaling, colormap, manual_levels)`` from the window's Display
    panel overrides each panel's stretch and colours, except where it says :data:`PER_PANEL`.
    """
    limits_choice, scaling, cmap, manual = display or (PER_PANEL, "linear", PER_PANEL, None)
    if limits_choice == "manual" and manual is not None:
        specs = [replace(s, stretch=tuple(manual), group="") for s in specs]
    elif limits_choice not in (PER_PANEL, "manual"):
        specs = [replace(s, stretch=limits_choice, group="") for s in specs]
    if cmap != PER_PANEL:
        specs = [replace(s, colormap=cmap) for s in specs]
    images = [block_median(s.image, s.smooth) if s.smooth > 1 else s.image for s in specs]
    levels = [panel_levels(im, s.stretch) for im, s in zip(images, specs)]
    for group in {s.group for s in specs if s.group}:
        members = [k for k, s in enumerate(specs) if s.group == group]
        shared = (min(levels[k][0] for k in members), max(levels[k][1] for k in members))
        for k in members:
            levels[k] = shared
    out = [(lv, render_rgba(im, lv, lookup_table(s.colormap, scaling), nan_colour))
           for im, lv, s in zip(images, levels, specs)]
    over = None
    if overlay is not None:
        over = np.zeros(overlay.shape + (4,), np.uint8)
        over[overlay] = colour
    return out, over


class _Title(pg.LabelItem):
    """A panel title that does not hold its column wider than the image below it."""

    def updateMin(self) -> None:
        super().updateMin()
        self.setMinimumWidth(0)


def level_text(lo: float, hi: float) -> str:
    """Display limits, short: ``±0.98%`` about 0, ``1 ± 2.1%`` about 1, else ``[0.948, 1.04]``."""
    if hi > 0 and abs(lo + hi) <= 1e-9 * hi:
        return f"±{100 * hi:.2g}%"
    if abs((lo + hi) / 2 - 1.0) < 1e-9 and hi - 1 < 0.5:
        return f"1 ± {100 * (hi - 1):.2g}%"
    return f"[{lo:.4g}, {hi:.4g}]"


class _Layout(pg.GraphicsLayoutWidget):
    """The layout widget; reports every mouse move (the scene's signal is rate-limited)."""

    moved = Signal(object)

    def mouseMoveEvent(self, event) -> None:
        self.moved.emit(self.mapToScene(event.position().toPoint()))
        super().mouseMoveEvent(event)

    def leaveEvent(self, event) -> None:
        self.moved.emit(None)
        super().leaveEvent(event)


class ImageGrid(QWidget):
    """Linked image panels with titles, a shared overlay and a DS9-style readout.

    Parameters
    ----------
    runner : TaskRunner
        Where the pictures are drawn.

    Signals
    -------
    readout(str)
        Text for the pixel under the mouse ('' outside the images).
    drawn()
        New pictures are on screen.
    """

    readout = Signal(str)
    drawn = Signal()

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.specs: list[PanelSpec] = []
        self.levels: list[tuple[float, float]] = []
        self.views: list[pg.ViewBox] = []
        self.items: list[pg.ImageItem] = []
        self.overlay_items: list[pg.ImageItem] = []
        self.colour_bars: list[pg.ColorBarItem] = []
        self._titles: list[pg.LabelItem] = []
        self._overlay: np.ndarray | None = None
        self._overlay_colour = (255, 60, 40, 110)
        self._inflight = False
        self._pending: tuple | None = None
        self._fit_next = True
        self._ncols = 0
        #: the window's Display choices (limits, scaling, colormap, manual levels), or None
        self.display: tuple | None = None
        self.nan_colour: tuple[int, int, int] = NAN_COLOUR

        self.layout_widget = _Layout()
        self.layout_widget.setBackground(pg.mkColor(*NAN_COLOUR))
        self.layout_widget.ci.setSpacing(2)
        self.readout_label = QLabel(" ")
        self.readout_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.readout_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.readout_label.setToolTip("Pixel under the mouse: 1-based x, y as in DS9")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.layout_widget, 1)
        layout.addWidget(self.readout_label)
        self.layout_widget.moved.connect(self._moved)
        self.readout.connect(lambda t: self.readout_label.setText(t or " "))

    # -- content ----------------------------------------------------------------------
    def set_panels(self, specs: list[PanelSpec], ncols: int | None = None) -> None:
        """Show ``specs``; the zoom is kept when the images keep their shape."""
        ncols = ncols or max(1, math.ceil(math.sqrt(len(specs))))
        shape = self.specs[0].image.shape if self.specs else None
        if not specs or specs[0].image.shape != shape:
            self._fit_next = True
        if len(specs) != len(self.views) or ncols != self._ncols:
            self._build(len(specs), ncols)
        self.specs = list(specs)
        self._request()

    def set_overlay(self, mask: np.ndarray | None, colour: tuple[int, int, int, int] | None = None) -> None:
        """Draw a boolean ``mask`` translucent over every panel (None removes it)."""
        self._overlay = mask
        if colour is not None:
            self._overlay_colour = colour
        self._request()

    def set_display(self, limits: str, scaling: str, colormap: str,
                    manual_levels: tuple[float, float] | None = None) -> None:
        """Stretch and colour every panel the same way (:data:`PER_PANEL` keeps each panel's own)."""
        display = (limits, scaling, colormap, manual_levels)
        if display != self.display:
            self.display = display
            self._request()

    def set_nan_colour(self, rgb: tuple[int, int, int]) -> None:
        """Colour of NaN pixels and of the space between the panels."""
        rgb = tuple(int(c) for c in rgb)
        if rgb != self.nan_colour:
            self.nan_colour = rgb
            self.layout_widget.setBackground(pg.mkColor(*rgb))
            self._request()

    def clear(self) -> None:
        self.specs = []
        self._build(0, 1)

    @property
    def busy(self) -> bool:
        return self._inflight or self._pending is not None

    def _build(self, n: int, ncols: int) -> None:
        lw = self.layout_widget
        lw.clear()
        self.views, self.items, self.overlay_items, self._titles, self.colour_bars = [], [], [], [], []
        self._ncols = ncols
        for k in range(n):
            r, c = divmod(k, ncols)
            title = _Title("", size="9pt")
            lw.addItem(title, row=3 * r, col=c)
            vb = lw.addViewBox(row=3 * r + 1, col=c, lockAspect=True, enableMenu=False, invertY=False)
            # each panel's own colour bar: panels may differ in stretch, colours and unit
            bar = pg.ColorBarItem(values=(0.0, 1.0), width=8, interactive=False, orientation="horizontal",
                                  colorMapMenu=False)
            bar.getAxis("bottom").setStyle(tickLength=-4)
            lw.addItem(bar, row=3 * r + 2, col=c)
            self.colour_bars.append(bar)
            item = pg.ImageItem(axisOrder="row-major")
            over = pg.ImageItem(axisOrder="row-major")
            over.setZValue(5)
            vb.addItem(item)
            vb.addItem(over)
            if self.views:
                vb.setXLink(self.views[0])
                vb.setYLink(self.views[0])
            self.views.append(vb)
            self.items.append(item)
            self.overlay_items.append(over)
            self._titles.append(title)
        self._fit_next = True

    def _request(self) -> None:
        job = (list(self.specs), self._overlay, self._overlay_colour, self.display, self.nan_colour)
        if self._inflight:
            self._pending = job  # the latest request replaces any waiting one
            return
        if not job[0]:
            return
        self._inflight = True
        self.runner.run(_render, *job, name="Drawing sky-flat images", on_result=lambda r, j=job: self._show(j, r),
                        on_finished=self._done)

    def _done(self) -> None:
        self._inflight = False
        pending, self._pending = self._pending, None
        if pending is not None:
            self.specs, self._overlay, self._overlay_colour, self.display, self.nan_colour = pending
            self._request()

    def _show(self, job, result) -> None:
        specs = job[0]
        if self._pending is not None or len(specs) != len(self.items):
            return  # stale: a newer request is on its way
        pictures, over = result
        self.levels = [lv for lv, _ in pictures]
        _, scaling, cmap, _ = job[3] or (PER_PANEL, "linear", PER_PANEL, None)
        for spec, item, over_item, title, bar, (lv, pic) in zip(specs, self.items, self.overlay_items,
                                                                self._titles, self.colour_bars, pictures):
            item.setImage(pic, autoLevels=False, levels=None, lut=None)
            lut = lookup_table(spec.colormap if cmap == PER_PANEL else cmap, scaling)
            bar.setColorMap(pg.ColorMap(np.linspace(0.0, 1.0, len(lut)), lut))
            bar.setLevels(lv)
            bar.setVisible(spec.values is None)  # a blank background has no scale to show
            if over is not None and over.shape[:2] == pic.shape[:2]:
                over_item.setImage(over, autoLevels=False, levels=None, lut=None)
                over_item.show()
            else:
                over_item.hide()
            # short: four titles side by side must not widen the window
            unit = f" {spec.unit}" if spec.unit else ""
            title.setText(f"<b>{spec.title}</b> <span style='color:#bbb'>{level_text(*lv)}{unit}</span>")
            title.setToolTip(f"{spec.title}: display limits {lv[0]:.6g} to {lv[1]:.6g}"
                             + (f", {spec.smooth}x{spec.smooth} block medians" if spec.smooth > 1 else ""))
        if self._fit_next:
            self.zoom_fit()
            self._fit_next = False
        self.drawn.emit()

    # -- navigation -------------------------------------------------------------------
    def zoom_fit(self) -> None:
        if self.views and self.specs:
            ny, nx = self.specs[0].image.shape
            self.views[0].setRange(QRectF(0, 0, nx, ny), padding=0.01)

    def zoom_to(self, x0: float, x1: float, y0: float, y1: float) -> None:
        """Show the 0-based pixel rectangle ``[x0, x1] x [y0, y1]`` (all panels follow)."""
        if self.views:
            self.views[0].setRange(xRange=(x0, x1 + 1), yRange=(y0, y1 + 1), padding=0)

    def view_rect(self) -> QRectF:
        return self.views[0].viewRect() if self.views else QRectF()

    # -- readout ----------------------------------------------------------------------
    def pixel_text(self, panel: int, column: int, row: int) -> str:
        """Readout of 0-based ``(column, row)`` in ``panel``: 1-based x, y as in DS9."""
        spec = self.specs[panel]
        ny, nx = spec.image.shape
        if not (0 <= column < nx and 0 <= row < ny):
            return ""
        v = float((spec.values if spec.values is not None else spec.image)[row, column])
        value = "nan" if not math.isfinite(v) else format(v, spec.fmt)
        text = f"{spec.title}:   x {column + 1}   y {row + 1}   value {value}"
        if self._overlay is not None and self._overlay.shape == spec.image.shape and self._overlay[row, column]:
            text += "   (masked)"
        return text

    def _moved(self, scene_pos: QPointF | None) -> None:
        if scene_pos is None or not self.specs:
            self.readout.emit("")
            return
        for k, (vb, item) in enumerate(zip(self.views, self.items)):
            if k < len(self.specs) and vb.sceneBoundingRect().contains(scene_pos) and item.image is not None:
                p = item.mapFromScene(scene_pos)
                self.readout.emit(self.pixel_text(k, math.floor(p.x()), math.floor(p.y())))
                return
        self.readout.emit("")
