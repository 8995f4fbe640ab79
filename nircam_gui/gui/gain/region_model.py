"""Epoxy-void regions as plain Python: polygons, undo/redo and an atomic autosave.

No Qt here (glue's idea: state apart from widgets), so the editing rules are tested
without a display and the widgets only draw the model and translate mouse events
into its methods.

Vertices are 0-based pixel coordinates ``(x, y)`` (pixel centres at integers), as in
:mod:`nircam_gui.core.regionsio`. Every vertex is normalised to what a DS9 file holds
(1-based, four decimals), so saving and loading a file gives back exactly the
polygons on screen.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ...core.regionsio import is_mask_file, read_polygons, void_polygons, write_polygons

__all__ = ["RegionModel", "ds9_round", "simplify"]

log = logging.getLogger("nircam_gui")

#: Decimals the DS9 writer keeps (``regionsio.write_polygons`` uses precision 4).
DS9_DECIMALS = 4
#: Undo steps kept; each step is a copy of a few small polygons.
MAX_UNDO = 200


def ds9_round(vertices: np.ndarray) -> np.ndarray:
    """Vertices as a DS9 file gives them back: 1-based, four decimals, then 0-based again.

    The operation is idempotent, so a normalised polygon survives any number of
    save/load round trips unchanged (``numpy.round`` is not used: its multiply-round-
    divide can differ by one unit in the last place from the decimal text written).
    """
    v = np.asarray(vertices, dtype=float).reshape(-1, 2)
    flat = [float(f"{x + 1:.{DS9_DECIMALS}f}") - 1 for x in v.ravel()]
    return np.array(flat, dtype=float).reshape(v.shape)


class RegionModel:
    """An editable list of polygons with undo/redo, change listeners and autosave.

    Parameters
    ----------
    autosave_path : path-like, optional
        Written (atomically) after every change; an empty model removes it.

    Attributes
    ----------
    polygons : list of ndarray
        ``(n, 2)`` arrays of 0-based ``x, y``; read-only for callers, change them
        through the methods so that undo and autosave see every edit.
    path : str
        The DS9 file last saved or loaded ('' for none).
    modified : bool
        Changed since the last save or load.
    """

    def __init__(self, autosave_path: str | os.PathLike | None = None) -> None:
        self.polygons: list[np.ndarray] = []
        self.path = ""
        self.modified = False
        self.autosave_path = Path(autosave_path) if autosave_path else None
        self._undo: list[tuple[list[np.ndarray], str]] = []
        self._redo: list[tuple[list[np.ndarray], str]] = []
        self._listeners: list[Callable[[], None]] = []
        self.autosave_error = ""

    # -- observers ------------------------------------------------------------------
    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after every change (edit, undo, redo, load)."""
        self._listeners.append(callback)

    def _changed(self, modified: bool = True) -> None:
        self.modified = modified or self.modified
        self.autosave()
        for cb in list(self._listeners):
            cb()

    # -- undo -----------------------------------------------------------------------
    def _snapshot(self) -> list[np.ndarray]:
        return [p.copy() for p in self.polygons]

    def _push(self, label: str) -> None:
        self._undo.append((self._snapshot(), label))
        del self._undo[:-MAX_UNDO]
        self._redo.clear()

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo_text(self) -> str:
        return self._undo[-1][1] if self._undo else ""

    def redo_text(self) -> str:
        return self._redo[-1][1] if self._redo else ""

    def undo(self) -> bool:
        """Go back one edit; False when there is none."""
        if not self._undo:
            return False
        state, label = self._undo.pop()
        self._redo.append((self._snapshot(), label))
        self.polygons = state
        self._changed()
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        state, label = self._redo.pop()
        self._undo.append((self._snapshot(), label))
        self.polygons = state
        self._changed()
        return True

    # -- edits ------------------------------------------------------------------------
    def add_polygon(self, vertices: np.ndarray) -> int:
        """Add a polygon (at least 3 distinct vertices); returns its index."""
        v = _clean(ds9_round(vertices))
        if len(v) < 3:
            raise ValueError("a region needs at least three distinct vertices")
        self._push("add region")
        self.polygons.append(v)
        self._changed()
        return len(self.polygons) - 1

    def delete_polygon(self, index: int) -> None:
        self._check(index)
        self._push("delete region")
        del self.polygons[index]
        self._changed()

    def move_vertex(self, index: int, vertex: int, x: float, y: float) -> None:
        self._check(index, vertex)
        self._push("move vertex")
        p = self.polygons[index].copy()
        p[vertex] = ds9_round([x, y])[0]
        self.polygons[index] = p
        self._changed()

    def insert_vertex(self, index: int, after: int, x: float, y: float) -> int:
        """Insert a vertex after vertex ``after``; returns the new vertex's index."""
        self._check(index, after)
        self._push("insert vertex")
        p = self.polygons[index]
        self.polygons[index] = np.insert(p, after + 1, ds9_round([x, y])[0], axis=0)
        self._changed()
        return after + 1

    def delete_vertex(self, index: int, vertex: int) -> bool:
        """Remove a vertex; a triangle keeps its three (False), delete the region instead."""
        self._check(index, vertex)
        if len(self.polygons[index]) <= 3:
            return False
        self._push("delete vertex")
        self.polygons[index] = np.delete(self.polygons[index], vertex, axis=0)
        self._changed()
        return True

    def move_polygon(self, index: int, dx: float, dy: float) -> None:
        self._check(index)
        self._push("move region")
        self.polygons[index] = ds9_round(self.polygons[index] + [dx, dy])
        self._changed()

    def clear(self) -> None:
        if self.polygons:
            self._push("delete all regions")
            self.polygons = []
            self._changed()

    def _check(self, index: int, vertex: int | None = None) -> None:
        if not 0 <= index < len(self.polygons):
            raise IndexError(f"no region {index}")
        if vertex is not None and not 0 <= vertex < len(self.polygons[index]):
            raise IndexError(f"region {index} has no vertex {vertex}")

    # -- files ------------------------------------------------------------------------
    def load(self, path: str | os.PathLike) -> None:
        """Replace the regions with those of a DS9 file or a FITS void mask (an undoable step).

        A mask is traced into editable polygons; they are saved as a DS9 file beside it
        (``<mask>.reg``), never over the mask.

        Raises
        ------
        NircamFileError
            The file is not a DS9 polygon file or a void mask (the regions are left as they were).
        """
        polygons = void_polygons(path)
        self._push("load regions")
        self.polygons = [ds9_round(p) for p in polygons]
        mask = is_mask_file(path)
        self.path = _mask_region_path(path) if mask else os.fspath(path)
        self.modified = mask
        self._changed(modified=mask)

    def save(self, path: str | os.PathLike | None = None) -> str:
        """Write the regions as a DS9 file (1-based image coordinates); returns the path."""
        path = os.fspath(path or self.path)
        if not path:
            raise ValueError("no file name to save the regions to")
        write_polygons(path, self.polygons)
        self.path = path
        self.modified = False
        for cb in list(self._listeners):
            cb()
        return path

    def autosave(self) -> None:
        """Write the regions to the autosave file (atomically), or remove it when empty.

        A failure is remembered in :attr:`autosave_error` (the editor shows it) but does
        not stop editing.
        """
        if self.autosave_path is None:
            return
        try:
            if self.polygons:
                write_polygons(self.autosave_path, self.polygons)
            elif self.autosave_path.exists():
                self.autosave_path.unlink()
            self.autosave_error = ""
        except OSError as exc:
            self.autosave_error = f"{self.autosave_path}: cannot autosave the regions ({exc.strerror or exc})"
            log.warning(self.autosave_error)

    def restore_autosave(self) -> int:
        """Load the autosaved regions (not an undo step); returns how many were restored."""
        if self.autosave_path is None or not self.autosave_path.exists():
            return 0
        self.polygons = [ds9_round(p) for p in read_polygons(self.autosave_path)]
        self.modified = bool(self.polygons)
        for cb in list(self._listeners):
            cb()
        return len(self.polygons)


def simplify(vertices: np.ndarray, tolerance: float = 0.5) -> np.ndarray:
    """Ramer-Douglas-Peucker: drop vertices closer than ``tolerance`` pixels to the outline
    without them. A freehand stroke samples the mouse every few screen pixels; this keeps
    its shape to half a detector pixel with a region file a person can still edit."""
    v = np.asarray(vertices, float)
    if len(v) <= 3:
        return v
    keep = np.zeros(len(v), bool)
    keep[0] = keep[-1] = True
    stack = [(0, len(v) - 1)]
    while stack:
        i, j = stack.pop()
        if j <= i + 1:
            continue
        a, b = v[i], v[j]
        seg = b - a
        pts = v[i + 1:j] - a
        length = np.hypot(*seg)
        if length == 0:
            d = np.hypot(pts[:, 0], pts[:, 1])
        else:
            d = np.abs(seg[0] * pts[:, 1] - seg[1] * pts[:, 0]) / length
        k = int(np.argmax(d))
        if d[k] > tolerance:
            keep[i + 1 + k] = True
            stack += [(i, i + 1 + k), (i + 1 + k, j)]
    out = v[keep]
    return out if len(out) >= 3 else v


def _clean(v: np.ndarray) -> np.ndarray:
    """Drop consecutive duplicate vertices (a double click adds the same point twice)."""
    if len(v) == 0:
        return v
    keep = np.ones(len(v), bool)
    keep[1:] = np.any(np.diff(v, axis=0) != 0, axis=1)
    v = v[keep]
    if len(v) > 1 and np.array_equal(v[0], v[-1]):
        v = v[:-1]
    return v


def _mask_region_path(path: str | os.PathLike) -> str:
    """DS9 file name for polygons traced from a mask: the mask's name with ``.reg``."""
    path = os.fspath(path)
    for suffix in (".fits.gz", ".fits", ".fit", ".fts"):
        if path.lower().endswith(suffix):
            return path[: -len(suffix)] + ".reg"
    return path + ".reg"
