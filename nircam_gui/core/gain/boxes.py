"""Boxes for the PTC: a square grid per amplifier, with epoxy-void boxes overlaid.

Report 004622, sections 4 and 5.1: each sector (amplifier) is divided into a grid of
boxes; pixels in the epoxy voids form their own, irregular boxes; any box with fewer
than half the pixels of a nominal box is joined to a neighbouring box of the same kind
in the same amplifier. Boxes never cross amplifiers and never hold reference pixels
or masked pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.table import Table
from scipy.ndimage import find_objects

from ..detector import REF_BORDER, amplifier_index, reference_pixel_mask

__all__ = ["BoxGrid", "make_boxes"]

NORMAL, EPOXY = "normal", "epoxy"


@dataclass
class BoxGrid:
    """A label image and the description of every box.

    Attributes
    ----------
    labels : ndarray of int32, shape (ny, nx)
        0 outside every box, else the box id (1-based, as in ``table['box_id']``).
    table : astropy.table.Table
        ``box_id, amp, region, npix, xmin, xmax, ymin, ymax`` (0-based, inclusive bounds);
        ``amp`` is 1-4.
    box_size : int
        Nominal box side in pixels.
    """

    labels: np.ndarray
    table: Table
    box_size: int

    @property
    def nbox(self) -> int:
        return len(self.table)

    def region_of(self) -> np.ndarray:
        """Region name of every box, in box-id order."""
        return np.asarray(self.table["region"])


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Consecutive ids 1..n in order of first appearance in raster order."""
    flat = labels.ravel()
    # a label first appears where one of its runs along the raster starts: the runs are few
    starts = np.flatnonzero(np.concatenate([[True], flat[1:] != flat[:-1]])) if flat.size else np.zeros(0, int)
    run_label = flat[starts]
    uniq, first = np.unique(run_label[run_label > 0], return_index=True)
    order = uniq[np.argsort(first)]
    lut = np.zeros(int(flat.max()) + 1 if flat.size else 1, np.int32)
    lut[order] = np.arange(1, order.size + 1, dtype=np.int32)
    return lut[labels]


def _one_pixel_each(labels: np.ndarray) -> np.ndarray:
    """Flat index of one pixel of each label 0..max (labels 1..max all present)."""
    flat = labels.ravel()
    starts = np.flatnonzero(np.concatenate([[True], flat[1:] != flat[:-1]]))
    pix = np.zeros(int(flat.max()) + 1, np.int64)
    pix[flat[starts]] = starts  # the runs of a label all lie in it: any one will do
    return pix


def _neighbour_contacts(labels: np.ndarray) -> np.ndarray:
    """Pairs (a, b, count) of 4-connected label contacts, a != b, both > 0."""
    pairs = []
    for a, b in ((labels[:, :-1], labels[:, 1:]), (labels[:-1, :], labels[1:, :])):
        sel = (a != b) & (a > 0) & (b > 0)
        pairs.append(np.stack([a[sel], b[sel]], axis=1))
    p = np.concatenate(pairs)
    if p.size == 0:
        return np.zeros((0, 3), np.int64)
    p = np.sort(p, axis=1)
    uniq, counts = np.unique(p, axis=0, return_counts=True)
    return np.column_stack([uniq, counts])


def _merge_contacts(contacts: np.ndarray, b: int, best: int) -> np.ndarray:
    """Contacts after label ``b`` became ``best``: its pairs move to ``best``, counts add up,
    the pair (b, best) disappears; sorted as :func:`_neighbour_contacts` gives them."""
    c = contacts.copy()
    ab = c[:, :2]
    ab[ab == b] = best
    c = c[ab[:, 0] != ab[:, 1]]
    if c.size == 0:
        return np.zeros((0, 3), np.int64)
    pairs = np.sort(c[:, :2], axis=1)
    uniq, inv = np.unique(pairs, axis=0, return_inverse=True)
    counts = np.bincount(inv.ravel(), weights=c[:, 2], minlength=len(uniq)).astype(np.int64)
    return np.column_stack([uniq, counts])


def make_boxes(
    shape: tuple[int, int],
    box_size: int = 256,
    void_mask: np.ndarray | None = None,
    exclude: np.ndarray | None = None,
    border: int = REF_BORDER,
    min_fraction: float = 0.5,
) -> BoxGrid:
    """Build the box label image.

    Parameters
    ----------
    shape : (ny, nx)
        Frame shape (full-frame layout: four amplifiers, reference border).
    box_size : int
        Side of the square boxes; the grid is aligned on multiples of it from pixel 0,
        so boxes fit the 512-column amplifiers for 128, 256 and 512.
    void_mask : ndarray of bool, optional
        Epoxy-void pixels (e.g. from :func:`nircam_gui.core.regionsio.polygons_mask`).
    exclude : ndarray of bool, optional
        Pixels to leave out (DQ, MASK reference file, a user mask).
    min_fraction : float
        Pieces with fewer than this fraction of ``box_size**2`` pixels are joined to a
        neighbour of the same kind in the same amplifier (the one they share the longest
        border with). A piece with no such neighbour stays on its own.

    Returns
    -------
    BoxGrid
    """
    ny, nx = shape
    if box_size < 4:
        raise ValueError(f"box size {box_size} is too small")
    usable = ~reference_pixel_mask(shape, border)
    if exclude is not None:
        usable &= ~np.asarray(exclude, bool)
    void = np.zeros(shape, bool) if void_mask is None else (np.asarray(void_mask, bool) & usable)
    cells_x = -(-nx // box_size)
    cell_row = (np.arange(ny, dtype=np.int32) // box_size) * cells_x
    cell_col = np.arange(nx, dtype=np.int32) // box_size
    # cell x amplifier x kind: amplifiers split cells that straddle a boundary; the key is made
    # of a row and a column part, so the frame is built in one int32 pass
    ncell = int(cell_row[-1] + cell_col[-1]) + 1
    col_key = (cell_col + ncell * amplifier_index(nx).astype(np.int32)) * 2 + 1
    labels = (cell_row * 2)[:, None] + col_key[None, :]
    labels += void
    labels *= usable
    labels = _relabel(labels)

    nominal = box_size * box_size
    # every pixel of a piece has its amplifier and kind: one pixel of each tells them
    amp_x = amplifier_index(nx)
    pix = _one_pixel_each(labels)
    box_amp = amp_x[pix % nx].astype(np.int64)
    box_void = void.ravel()[pix]
    # one piece merged at a time, smallest first; pixel counts and contacts are carried along
    # (merging adds them up) instead of recounted over the frame after every merge
    npix = np.bincount(labels.ravel(), minlength=labels.max() + 1)
    contacts = _neighbour_contacts(labels)
    target = np.arange(npix.size, dtype=np.int32)
    while True:
        live = np.flatnonzero(npix[1:]) + 1
        top = int(live[-1]) + 1 if live.size else 1  # the length a recount would give
        small = [b for b in np.argsort(npix[:top]) if b > 0 and 0 < npix[b] < min_fraction * nominal]
        if not small:
            break
        merged = False
        for b in small:
            rows = contacts[(contacts[:, 0] == b) | (contacts[:, 1] == b)]
            other = np.where(rows[:, 0] == b, rows[:, 1], rows[:, 0])
            same = (box_amp[other] == box_amp[b]) & (box_void[other] == box_void[b])
            if not same.any():
                continue
            cand, count = other[same], rows[same, 2]
            # longest shared border; ties go to the smaller neighbour
            best = cand[np.lexsort((npix[cand], -count))[0]]
            target[target == b] = best
            npix[best] += npix[b]
            npix[b] = 0
            contacts = _merge_contacts(contacts, b, best)
            merged = True
            break
        if not merged:
            break
    # the labels are numbered in order of first appearance in the raster, so a merged box first
    # appears where its lowest member does: the final numbering, pixel counts, bounds and one
    # pixel of each box follow from its members', without another pass over the frame
    n0 = npix.size - 1
    member = np.arange(1, n0 + 1)
    lowest = np.full(n0 + 1, n0 + 1, np.int64)
    np.minimum.at(lowest, target[1:], member)
    kept = np.flatnonzero(lowest <= n0)
    kept = kept[np.argsort(lowest[kept], kind="stable")]  # final box k + 1 is kept[k]
    final = np.zeros(n0 + 1, np.int32)
    final[kept] = np.arange(1, kept.size + 1, dtype=np.int32)
    lut = final[target]
    n = int(kept.size)
    bounds = find_objects(labels, max_label=n0)  # bounding slices of the members 1..n0 (all present)
    labels = lut[labels]
    owner = lut[1:].astype(np.int64) - 1
    ymin = np.full(n, np.iinfo(np.int64).max, np.int64)
    xmin = ymin.copy()
    ymax = np.full(n, -1, np.int64)
    xmax = ymax.copy()
    np.minimum.at(ymin, owner, np.array([b[0].start for b in bounds], np.int64))
    np.maximum.at(ymax, owner, np.array([b[0].stop - 1 for b in bounds], np.int64))
    np.minimum.at(xmin, owner, np.array([b[1].start for b in bounds], np.int64))
    np.maximum.at(xmax, owner, np.array([b[1].stop - 1 for b in bounds], np.int64))
    npix = npix[kept]
    pix = pix[lowest[kept]]
    box_amp_out = amp_x[pix % nx].astype(np.int64)
    box_void_out = void.ravel()[pix]
    table = Table(
        {
            "box_id": np.arange(1, n + 1),
            "amp": box_amp_out + 1,
            "region": np.where(box_void_out, EPOXY, NORMAL),
            "npix": npix,
            "xmin": xmin,
            "xmax": xmax,
            "ymin": ymin,
            "ymax": ymax,
        }
    )
    table.meta["box_size"] = box_size
    return BoxGrid(labels, table, box_size)
