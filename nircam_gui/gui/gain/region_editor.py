"""Draw and edit epoxy-void polygons on the image with the mouse.

The editor draws a :class:`~nircam_gui.gui.gain.region_model.RegionModel` in an
:class:`~nircam_gui.gui.image_viewer.ImageCanvas` and turns mouse events on the
canvas viewport into model edits. Modes:

``navigate``
    The mouse pans and zooms; regions are only drawn.
``draw``
    Click to add vertices; close the polygon by clicking its first vertex, double-
    clicking, or pressing Enter (Backspace removes the last vertex, Esc abandons it).
    Or press and drag to draw a freehand outline, closed on release. A closed polygon
    returns the editor to ``navigate``, so the next click selects a box again.
``edit``
    Drag a vertex to move it; drag inside a region to move the region; double-click on
    an edge to insert a vertex; right-click a vertex to delete it; click a region to
    select it (Delete removes it). Dragging elsewhere pans.

Events the editor does not use go on to pyqtgraph, so wheel zoom works in every mode.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, Qt, Signal

from .region_model import RegionModel, simplify

__all__ = ["RegionEditor", "MODES"]

MODES = ("navigate", "draw", "edit")
#: Screen pixels within which a click hits a vertex or an edge.
PICK_RADIUS = 8.0
#: Screen pixels the mouse must move with the button down before a press becomes a drag.
DRAG_THRESHOLD = 5.0
#: Screen pixels between two freehand points.
FREEHAND_STEP = 4.0

_REGION_PEN = pg.mkPen(0, 255, 120, 255, width=2, cosmetic=True)
_SELECTED_PEN = pg.mkPen(255, 255, 255, 255, width=3, cosmetic=True)
_DRAFT_PEN = pg.mkPen(0, 255, 120, 255, width=2, cosmetic=True, style=Qt.PenStyle.DashLine)


class RegionEditor(QObject):
    """Mouse editing of a :class:`RegionModel` on an ImageCanvas.

    Parameters
    ----------
    canvas : ImageCanvas
    model : RegionModel

    Signals
    -------
    mode_changed(str)
    message(str)
        A hint for the status line (what the next click does).
    selection_changed(int)
        Index of the selected region, -1 for none.
    """

    mode_changed = Signal(str)
    message = Signal(str)
    selection_changed = Signal(int)

    def __init__(self, canvas, model: RegionModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.canvas = canvas
        self.model = model
        self.mode = "navigate"
        self.selected = -1
        self.draft: list[tuple[float, float]] = []  # vertices of the polygon being drawn
        self._press = None  # (screen QPointF, region point (x, y), target)
        self._dragging = False
        self._freehand: list[tuple[float, float]] = []
        self._drag_preview: np.ndarray | None = None
        self._ignore_release = False
        #: called when a new polygon is started; a non-empty text is shown to the user (the
        #: panel uses it to say that a new region makes the results on screen out of date)
        self.draw_warning = lambda: ""
        self._items: list[pg.PlotDataItem] = []
        self._draft_item = pg.PlotDataItem(pen=_DRAFT_PEN, symbol="o", symbolSize=7,
                                           symbolBrush=(0, 255, 120), symbolPen=None)
        self._draft_item.setZValue(40)
        canvas.view.addItem(self._draft_item)
        model.subscribe(self.redraw)
        canvas.viewport().installEventFilter(self)
        canvas.installEventFilter(self)  # keys: Enter, Esc, Backspace, Delete
        self.redraw()

    # -- modes ----------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode {mode!r}: use one of {', '.join(MODES)}")
        if mode != "draw":
            self.draft = []
        self.mode = mode
        self.canvas.viewport().setCursor(Qt.CursorShape.CrossCursor if mode == "draw" else
                                         Qt.CursorShape.ArrowCursor)
        self.redraw()
        self.mode_changed.emit(mode)
        self.message.emit({
            "navigate": "Drag to pan, wheel to zoom.",
            "draw": "Click vertices, then click the first vertex, double-click or press Enter to close; "
                    "or press and drag to draw freehand.",
            "edit": "Drag a vertex or a region; double-click an edge to add a vertex; right-click a vertex "
                    "to delete it; Delete removes the selected region.",
        }[mode])

    def select(self, index: int) -> None:
        self.selected = index if 0 <= index < len(self.model.polygons) else -1
        self.redraw()
        self.selection_changed.emit(self.selected)

    def delete_selected(self) -> bool:
        if 0 <= self.selected < len(self.model.polygons):
            self.model.delete_polygon(self.selected)
            self.select(-1)
            return True
        return False

    # -- coordinates ----------------------------------------------------------------
    def to_region(self, screen: QPointF) -> tuple[float, float]:
        """0-based region coordinates (pixel centres at integers) of a viewport position."""
        p = self.canvas.image.mapFromScene(self.canvas.mapToScene(screen.toPoint()))
        return p.x() - 0.5, p.y() - 0.5

    def to_screen(self, x: float, y: float) -> QPointF:
        """Viewport position of 0-based region coordinates."""
        scene = self.canvas.image.mapToScene(QPointF(x + 0.5, y + 0.5))
        return QPointF(self.canvas.mapFromScene(scene))

    def _pick_vertex(self, screen: QPointF) -> tuple[int, int] | None:
        best, where = PICK_RADIUS, None
        for i, poly in enumerate(self.model.polygons):
            for j, (x, y) in enumerate(poly):
                s = self.to_screen(x, y)
                d = math.hypot(s.x() - screen.x(), s.y() - screen.y())
                if d <= best:
                    best, where = d, (i, j)
        return where

    def _pick_edge(self, screen: QPointF) -> tuple[int, int, float, float] | None:
        """(region, vertex before, x, y) of the nearest edge point within the pick radius."""
        best, where = PICK_RADIUS, None
        for i, poly in enumerate(self.model.polygons):
            pts = [self.to_screen(x, y) for x, y in poly]
            for j in range(len(pts)):
                a, b = pts[j], pts[(j + 1) % len(pts)]
                ax, ay, bx, by = a.x(), a.y(), b.x(), b.y()
                L2 = (bx - ax) ** 2 + (by - ay) ** 2
                t = 0.0 if L2 == 0 else max(0.0, min(1.0, ((screen.x() - ax) * (bx - ax) +
                                                           (screen.y() - ay) * (by - ay)) / L2))
                px, py = ax + t * (bx - ax), ay + t * (by - ay)
                d = math.hypot(px - screen.x(), py - screen.y())
                if d <= best:
                    best, where = d, (i, j, *self.to_region(QPointF(px, py)))
        return where

    def _pick_region(self, x: float, y: float) -> int:
        """Top-most region containing the point, -1 for none."""
        for i in range(len(self.model.polygons) - 1, -1, -1):
            if _inside(self.model.polygons[i], x, y):
                return i
        return -1

    # -- drawing --------------------------------------------------------------------
    def redraw(self) -> None:
        polys = self.model.polygons
        if self.selected >= len(polys):
            self.selected = -1
        while len(self._items) < len(polys):
            item = pg.PlotDataItem()
            item.setZValue(30)
            self.canvas.view.addItem(item)
            self._items.append(item)
        show_vertices = self.mode == "edit"
        for i, item in enumerate(self._items):
            if i < len(polys):
                p = polys[i]
                if self._drag_preview is not None and self._press is not None and self._press[2][1] == i:
                    p = self._drag_preview
                closed = np.vstack([p, p[:1]]) + 0.5
                sel = i == self.selected
                item.setData(closed[:, 0], closed[:, 1], pen=_SELECTED_PEN if sel else _REGION_PEN,
                             symbol="s" if show_vertices else None, symbolSize=8 if sel else 6,
                             symbolBrush=(255, 255, 255) if sel else (0, 255, 120), symbolPen=None)
                item.setVisible(True)
            else:
                item.setData([], [])
                item.setVisible(False)
        pts = self._freehand if self._freehand else self.draft
        if pts:
            d = np.asarray(pts) + 0.5
            self._draft_item.setData(d[:, 0], d[:, 1], symbol=None if self._freehand else "o")
        else:
            self._draft_item.setData([], [])

    def finish_draft(self) -> bool:
        """Close the polygon being drawn; False if it has fewer than three vertices."""
        pts = self.draft
        self.draft = []
        if len(pts) < 3:
            self.redraw()
            self.message.emit("A region needs at least three vertices.")
            return False
        try:
            index = self.model.add_polygon(np.asarray(pts))
        except ValueError as exc:
            self.message.emit(str(exc))
            self.redraw()
            return False
        self.select(index)
        self.set_mode("navigate")
        self.message.emit(f"Region {index + 1} added ({len(self.model.polygons[index])} vertices); back to Pan. "
                          "Press P to draw another.")
        return True

    # -- events ---------------------------------------------------------------------
    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt override
        t = event.type()
        if obj is self.canvas:
            if t in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress):
                return self._key(event, t == QEvent.Type.ShortcutOverride)
            return False
        if self.mode == "navigate":
            return False
        if t == QEvent.Type.MouseButtonPress:
            return self._pressed(event)
        if t == QEvent.Type.MouseMove:
            return self._moved(event)
        if t == QEvent.Type.MouseButtonRelease:
            return self._released(event)
        if t == QEvent.Type.MouseButtonDblClick:
            return self._double_clicked(event)
        return False

    def _key(self, event, override: bool) -> bool:
        key = event.key()
        drawing = self.mode == "draw" and bool(self.draft)
        wanted = {
            Qt.Key.Key_Return: drawing, Qt.Key.Key_Enter: drawing, Qt.Key.Key_Escape: drawing,
            Qt.Key.Key_Backspace: drawing or (self.mode == "edit" and self.selected >= 0),
            Qt.Key.Key_Delete: self.mode == "edit" and self.selected >= 0,
        }.get(key, False)
        if not wanted:
            return False
        if override:  # take the key before window shortcuts (Esc cancels tasks there)
            event.accept()
            return True
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.finish_draft()
        elif key == Qt.Key.Key_Escape:
            self.draft = []
            self.redraw()
        elif key == Qt.Key.Key_Backspace and drawing:
            self.draft.pop()
            self.redraw()
        else:
            self.delete_selected()
        return True

    def _pressed(self, event) -> bool:
        self._ignore_release = False  # a new click: whatever a double click left is over
        pos = event.position()
        xy = self.to_region(pos)
        if event.button() == Qt.MouseButton.RightButton:
            if self.mode == "edit":
                hit = self._pick_vertex(pos)
                if hit is not None:
                    if not self.model.delete_vertex(*hit):
                        self.message.emit("A region keeps at least three vertices: delete the region instead.")
                    self._ignore_release = True
                    return True
            return self.mode == "draw"  # no context menu while drawing
        if event.button() != Qt.MouseButton.LeftButton:
            return False
        if self.mode == "draw":
            self._press = (pos, xy, ("draw", -1, -1))
            self._dragging = False
            return True
        hit = self._pick_vertex(pos)
        if hit is not None:
            self._press = (pos, xy, ("vertex", *hit))
            self.select(hit[0])
            return True
        region = self._pick_region(*xy)
        if region >= 0:
            self._press = (pos, xy, ("region", region, -1))
            self.select(region)
            return True
        self.select(-1)
        return False  # pan

    def _moved(self, event) -> bool:
        if self._press is None:
            return False
        if not event.buttons() & Qt.MouseButton.LeftButton:
            return False
        pos = event.position()
        start, xy0, (kind, i, j) = self._press
        if not self._dragging and math.hypot(pos.x() - start.x(), pos.y() - start.y()) < DRAG_THRESHOLD:
            return True
        self._dragging = True
        xy = self.to_region(pos)
        if kind == "draw":
            if self.draft:  # a drag while clicking vertices only moves the mouse
                return True
            if not self._freehand:
                self._freehand = [xy0]
            last = self.to_screen(*self._freehand[-1])
            if math.hypot(pos.x() - last.x(), pos.y() - last.y()) >= FREEHAND_STEP:
                self._freehand.append(xy)
                self.redraw()
        elif kind == "vertex":
            p = self.model.polygons[i].copy()
            p[j] = xy
            self._drag_preview = p
            self.redraw()
        elif kind == "region":
            self._drag_preview = self.model.polygons[i] + [xy[0] - xy0[0], xy[1] - xy0[1]]
            self.redraw()
        return True

    def _released(self, event) -> bool:
        if self._ignore_release:
            self._ignore_release = False
            return True
        if self._press is None or event.button() != Qt.MouseButton.LeftButton:
            return False
        start, xy0, (kind, i, j) = self._press
        xy = self.to_region(event.position())
        dragged = self._dragging
        self._press, self._dragging, self._drag_preview = None, False, None
        if kind == "draw":
            if dragged and self._freehand:
                pts, self._freehand = self._freehand + [xy], []
                self.draft = [tuple(p) for p in simplify(np.asarray(pts))]
                self.finish_draft()
                return True
            self._add_click_vertex(event.position(), xy)
            return True
        if dragged and kind == "vertex":
            self.model.move_vertex(i, j, *xy)
        elif dragged and kind == "region":
            self.model.move_polygon(i, xy[0] - xy0[0], xy[1] - xy0[1])
        else:
            self.redraw()
        return True

    def _add_click_vertex(self, screen: QPointF, xy: tuple[float, float]) -> None:
        if len(self.draft) >= 3:
            first = self.to_screen(*self.draft[0])
            if math.hypot(screen.x() - first.x(), screen.y() - first.y()) <= PICK_RADIUS:
                self.finish_draft()
                return
        self.draft.append(xy)
        self.redraw()
        warning = self.draw_warning() if len(self.draft) == 1 else ""
        self.message.emit((f"{warning} " if warning else "")
                          + f"{len(self.draft)} vertices; click the first vertex, double-click or press Enter "
                          "to close; Esc abandons it.")

    def _double_clicked(self, event) -> bool:
        if event.button() != Qt.MouseButton.LeftButton:
            return False
        self._ignore_release = True
        self._press, self._dragging = None, False
        if self.mode == "draw":
            # the double click's point closes the polygon; when its first click already
            # added the point, the model drops the repeated vertex
            self.draft.append(self.to_region(event.position()))
            self.finish_draft()
            return True
        hit = self._pick_edge(event.position())
        if hit is not None and self._pick_vertex(event.position()) is None:
            i, j, x, y = hit
            self.model.insert_vertex(i, j, x, y)
            self.select(i)
            return True
        return False


def _inside(poly: np.ndarray, x: float, y: float) -> bool:
    """Even-odd rule point-in-polygon test."""
    xs, ys = poly[:, 0], poly[:, 1]
    xj, yj = np.roll(xs, 1), np.roll(ys, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cross = ((ys > y) != (yj > y)) & (x < (xj - xs) * (y - ys) / (yj - ys) + xs)
    return bool(np.count_nonzero(cross) % 2)
