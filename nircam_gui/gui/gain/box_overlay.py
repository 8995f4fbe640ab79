"""The box grid drawn over the image: outlines, amplifier boundaries, gain colours, selection.

Geometry (the outline segments) is computed from the label image by
:func:`grid_segments`, plain numpy that runs in a worker for full frames; the overlay
only hands the arrays to pyqtgraph. View coordinates follow
:class:`~nircam_gui.gui.image_viewer.ImageCanvas`: pixel ``(col, row)`` covers
``[col, col+1) x [row, row+1)``, so box edges fall on integers.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from scipy.ndimage import binary_fill_holes
from PySide6.QtCore import QObject, Qt

from ...core.gain.boxes import BoxGrid
from .geometry import GridGeometry, grid_segments, mask_segments

__all__ = ["BoxOverlay", "GridGeometry", "grid_segments", "mask_segments", "BOX_COLOURS"]

#: Colours of selected boxes, in selection order; the PTC panel uses the same ones.
BOX_COLOURS = ((0, 220, 255), (255, 140, 0), (120, 255, 80), (255, 80, 200), (255, 255, 90), (180, 140, 255))
_NORMAL_PEN = pg.mkPen(255, 255, 255, 110, width=1, cosmetic=True)
_VOID_PEN = pg.mkPen(255, 60, 200, 230, width=2, cosmetic=True)
_AMP_PEN = pg.mkPen(255, 210, 0, 230, width=3, cosmetic=True)
_BORDER_PEN = pg.mkPen(255, 210, 0, 160, width=1, cosmetic=True, style=Qt.PenStyle.DashLine)


class BoxOverlay(QObject):
    """Draws a :class:`BoxGrid` in a ViewBox and answers which box is under a pixel.

    Parameters
    ----------
    view : pyqtgraph.ViewBox
        The image's view (items are added above the image).
    """

    def __init__(self, view: pg.ViewBox, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.grid: BoxGrid | None = None
        self.values: np.ndarray | None = None
        self.errors: np.ndarray | None = None
        self.selected: list[int] = []
        self.gain_image = pg.ImageItem(axisOrder="row-major")
        self.gain_image.setOpacity(0.75)
        self.gain_image.setZValue(5)
        self.normal_lines = pg.PlotCurveItem(pen=_NORMAL_PEN, connect="pairs")
        self.void_lines = pg.PlotCurveItem(pen=_VOID_PEN, connect="pairs")
        self.amp_lines = pg.PlotCurveItem(pen=_AMP_PEN, connect="pairs")
        self.border = pg.PlotCurveItem(pen=_BORDER_PEN)
        for z, item in enumerate((self.normal_lines, self.border, self.amp_lines, self.void_lines), start=10):
            item.setZValue(z)
        self._selection_items: list[pg.PlotCurveItem] = []
        for item in (self.gain_image, self.normal_lines, self.void_lines, self.amp_lines, self.border):
            view.addItem(item)
        self.colorbar = pg.ColorBarItem(values=(0, 1), colorMap=pg.colormap.get("viridis"), interactive=False,
                                        label="gain (e-/ADU)", width=16)
        self.colorbar.setImageItem(self.gain_image)
        self.visible = True

    # -- grid -----------------------------------------------------------------------
    def set_grid(self, grid: BoxGrid | None, geometry: GridGeometry | None) -> None:
        """Show a new grid (outlines only: colours belong to a computed result)."""
        self.grid = grid
        self.values = self.errors = None
        self.gain_image.clear()
        self.gain_image.setVisible(False)
        if grid is None or geometry is None:
            for item in (self.normal_lines, self.void_lines, self.amp_lines, self.border):
                item.setData([], [])
            self.set_selection([])
            return
        self.normal_lines.setData(*geometry.normal, connect="pairs")
        self.void_lines.setData(*geometry.void, connect="pairs")
        ny, nx = geometry.shape
        xs = np.repeat(np.arange(1, 4) * (nx // 4), 2).astype(float)
        ys = np.tile([0.0, float(ny)], 3)
        self.amp_lines.setData(xs, ys, connect="pairs")
        b = 4  # reference pixels: the outer four rows and columns
        self.border.setData([b, nx - b, nx - b, b, b], [b, b, ny - b, ny - b, b])
        self.set_selection([s for s in self.selected if s <= grid.nbox])

    def set_values(self, values: np.ndarray | None, errors: np.ndarray | None = None,
                   levels: tuple[float, float] | None = None) -> None:
        """Colour every box by ``values`` (one per box, NaN for none); None removes the colours."""
        self.values, self.errors = values, errors
        if values is None or self.grid is None:
            self.gain_image.clear()
            self.gain_image.setVisible(False)
            return
        lut = np.concatenate([[np.nan], np.asarray(values, float)]).astype(np.float32)
        image = lut[self.grid.labels]
        finite = np.asarray(values)[np.isfinite(values)]
        if levels is None:
            levels = tuple(np.percentile(finite, [1, 99])) if finite.size else (0.0, 1.0)
            if levels[1] <= levels[0]:
                levels = (levels[0] - 0.01, levels[1] + 0.01)
        self.gain_image.setImage(image, autoLevels=False)
        self.colorbar.setLevels(levels)
        self.gain_image.setVisible(self.visible)

    def set_visible(self, on: bool) -> None:
        self.visible = on
        for item in (self.normal_lines, self.void_lines, self.amp_lines, self.border, *self._selection_items):
            item.setVisible(on)
        self.gain_image.setVisible(on and self.values is not None)

    # -- queries --------------------------------------------------------------------
    def box_at(self, column: int, row: int) -> int:
        """Box id (1-based) at a 0-based pixel, 0 for none."""
        if self.grid is None:
            return 0
        ny, nx = self.grid.labels.shape
        if not (0 <= column < nx and 0 <= row < ny):
            return 0
        return int(self.grid.labels[row, column])

    def describe(self, box_id: int) -> str:
        """One line: box id, amplifier, region, gain +- error, pixels."""
        if self.grid is None or not 1 <= box_id <= self.grid.nbox:
            return ""
        row = self.grid.table[box_id - 1]
        text = f"box {box_id} · amp {int(row['amp'])} · {row['region']} · {int(row['npix'])} px"
        if self.values is not None:
            g = self.values[box_id - 1]
            e = self.errors[box_id - 1] if self.errors is not None else np.nan
            text += (f" · gain {g:.4f} ± {e:.4f} e-/ADU" if np.isfinite(g) else " · no gain (fit flagged)")
        return text

    # -- selection ------------------------------------------------------------------
    def set_selection(self, box_ids: list[int]) -> None:
        """Outline the selected boxes, each in its colour of :data:`BOX_COLOURS`."""
        self.selected = list(box_ids)
        while len(self._selection_items) < len(box_ids):
            item = pg.PlotCurveItem(connect="pairs")
            item.setZValue(20)
            self.view.addItem(item)
            self._selection_items.append(item)
        for k, item in enumerate(self._selection_items):
            if k < len(box_ids) and self.grid is not None:
                b = box_ids[k]
                r = self.grid.table[b - 1]
                x0, x1, y0, y1 = int(r["xmin"]), int(r["xmax"]), int(r["ymin"]), int(r["ymax"])
                # masked pixels inside a box are holes in its label: outline the box, not them
                cut = binary_fill_holes(self.grid.labels[y0:y1 + 1, x0:x1 + 1] == b)
                item.setData(*mask_segments(cut, x0, y0), connect="pairs")
                item.setPen(pg.mkPen(*BOX_COLOURS[k % len(BOX_COLOURS)], width=3, cosmetic=True))
                item.setVisible(self.visible)
            else:
                item.setData([], [])
