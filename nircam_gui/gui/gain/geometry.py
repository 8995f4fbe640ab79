"""Outline geometry of a box grid, plain numpy (no Qt: it runs in workers and child processes).

View coordinates follow :class:`~nircam_gui.gui.image_viewer.ImageCanvas`: pixel
``(col, row)`` covers ``[col, col+1) x [row, row+1)``, so box edges fall on integers.
Segments are returned as x, y arrays of point pairs (pyqtgraph ``connect='pairs'``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...core.gain.boxes import BoxGrid

__all__ = ["GridGeometry", "grid_segments", "mask_segments"]


def _runs(edge: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of True along the last axis: (line index, start, stop) with stop exclusive."""
    n = edge.shape[0]
    padded = np.zeros((n, edge.shape[1] + 2), np.int8)
    padded[:, 1:-1] = edge
    d = np.diff(padded, axis=1)
    line, start = np.nonzero(d == 1)
    _, stop = np.nonzero(d == -1)
    return line, start, stop


def _segments(vertical: np.ndarray, horizontal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x, y arrays (pairs of points) for edge masks.

    ``vertical[y, i]``: an edge between columns i and i+1 of row y (drawn at x = i+1);
    ``horizontal[j, x]``: an edge between rows j and j+1 of column x (drawn at y = j+1).
    """
    col, y0, y1 = _runs(vertical.T)
    row, x0, x1 = _runs(horizontal)
    xs = np.concatenate([np.repeat(col + 1, 2), np.column_stack([x0, x1]).ravel()]).astype(float)
    ys = np.concatenate([np.column_stack([y0, y1]).ravel(), np.repeat(row + 1, 2)]).astype(float)
    return xs, ys


@dataclass
class GridGeometry:
    """Line segments of a box grid (``connect='pairs'`` arrays in view coordinates)."""

    normal: tuple[np.ndarray, np.ndarray]
    void: tuple[np.ndarray, np.ndarray]
    shape: tuple[int, int]


def grid_segments(grid: BoxGrid) -> GridGeometry:
    """Outline segments between boxes; edges between a normal and a void box apart.

    Edges towards pixels in no box (reference pixels, masked pixels) are not drawn: a
    masked hot pixel would otherwise add a tiny square to the grid.
    """
    labels = grid.labels
    is_void = np.concatenate([[False], np.asarray(grid.table["region"]) == "epoxy"])
    out = {}
    for kind in ("normal", "void"):
        masks = []
        for a, b in ((labels[:, :-1], labels[:, 1:]), (labels[:-1, :], labels[1:, :])):
            edge = (a != b) & (a > 0) & (b > 0)
            cross = is_void[a] != is_void[b]
            masks.append(edge & (cross if kind == "void" else ~cross))
        out[kind] = _segments(*masks)
    return GridGeometry(out["normal"], out["void"], labels.shape)


def mask_segments(mask: np.ndarray, x0: int = 0, y0: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Outline of a boolean mask (its cutout starting at ``x0, y0``)."""
    m = np.pad(mask.astype(bool), 1)
    xs, ys = _segments(m[:, :-1] != m[:, 1:], m[:-1, :] != m[1:, :])
    return xs + x0 - 1, ys + y0 - 1
