"""Boxes for the PTC: a square grid per amplifier, with epoxy-void boxes overlaid.

Report 004622, sections 4 and 5.1: each sector (amplifier) is divided into a grid of
boxes; pixels in the epoxy voids form their own, irregular boxes; any box with fewer
than half the pixels of a nominal box is joined to a neighbouring box of the same kind
in the same amplifier. Boxes never cross amplifiers and never hold reference pixels
or masked pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from astropy.table import Table

from ..detector import REF_BORDER, amplifier_index

__all__ = ["BoxGrid", "make_boxes", "merge_small_pieces"]

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


@numba.njit(cache=True)
def _run_contacts(run_x, run_lab, row_ptr, nx, n, key, weight):  # pragma: no cover - jitted
    """Contacts of pieces from the runs of :func:`_label_pieces`: the number of entries, and,
    when ``key`` has room for them, each entry's pair ``a * (n + 1) + b`` (``a < b``) and
    its count of 4-connected pixel pairs (a pair may have several entries)."""
    fill = key.size > 0
    m = 0
    for y in range(row_ptr.size - 1):
        r0 = row_ptr[y]
        r1 = row_ptr[y + 1]
        for r in range(r0 + 1, r1):  # side by side: one pixel pair per run boundary
            a = run_lab[r - 1]
            b = run_lab[r]
            if a > 0 and b > 0 and a != b:
                if fill:
                    key[m] = min(a, b) * (n + 1) + max(a, b)
                    weight[m] = 1
                m += 1
        if y == 0:
            continue
        i = row_ptr[y - 1]
        j = r0
        while i < r0 and j < r1:  # the runs of the row above against this row's, in step
            ei = run_x[i + 1] if i + 1 < r0 else nx
            ej = run_x[j + 1] if j + 1 < r1 else nx
            a = run_lab[i]
            b = run_lab[j]
            if a > 0 and b > 0 and a != b:
                if fill:
                    key[m] = min(a, b) * (n + 1) + max(a, b)
                    weight[m] = min(ei, ej) - max(run_x[i], run_x[j])
                m += 1
            if ei <= ej:
                i += 1
            if ej <= ei:
                j += 1
    return m


# the frame kernels release the GIL (nogil): the GUI builds its box preview in a worker thread
@numba.njit(cache=True, nogil=True)
def _label_pieces(rowref, colref, row_key, col_key, exclude, exclude_bits, use_exclude, void, use_void,
                  nkey):  # pragma: no cover - jitted
    """The pieces (cell x amplifier x kind) of a frame, in one pass over it.

    A usable pixel (not in ``rowref`` or ``colref``, no ``exclude_bits`` set in ``exclude``)
    has the key ``row_key[y] + col_key[x] + void`` (the others 0); the pieces are
    numbered 1..n in order of first appearance in raster order. Each row is handled as runs
    of one key, so counts and bounds cost per run, and the contacts between pieces are found
    from the runs afterwards (side by side in a row, overlapping in two consecutive rows)
    rather than pixel by pixel.

    Returns
    -------
    labels : int32 (ny, nx)
    npix, first, ymin, ymax, xmin, xmax : int64 (n + 1,)
        Pixel count, flat index of the first pixel and inclusive bounds of every piece
        (entry 0 unused).
    key, weight : int64 (m,)
        Contacts of two pieces ``a < b`` (4-connected), as ``a * (n + 1) + b``, and the
        number of pixel pairs across their border; a pair may have several entries.
    """
    ny = rowref.size
    nx = colref.size
    labels = np.empty((ny, nx), np.int32)
    lut = np.zeros(nkey, np.int32)
    size = min(nkey, ny * nx) + 1
    npix = np.zeros(size, np.int64)
    first = np.zeros(size, np.int64)
    ymin = np.zeros(size, np.int64)
    ymax = np.zeros(size, np.int64)
    xmin = np.zeros(size, np.int64)
    xmax = np.zeros(size, np.int64)
    # runs, row after row: start column and piece (at most one run per pixel; the pages of
    # these buffers that are never written are never touched)
    run_x = np.empty(ny * nx, np.int64)
    run_lab = np.empty(ny * nx, np.int32)
    row_ptr = np.zeros(ny + 1, np.int64)
    no_exclude = np.zeros(nx, exclude.dtype)  # the row of a mask not given
    no_void = np.zeros(nx, void.dtype)
    n = 0
    nr = 0
    for y in range(ny):
        row = labels[y]
        if rowref[y]:
            for x in range(nx):
                row[x] = 0
            run_x[nr] = 0
            run_lab[nr] = 0
            nr += 1
            row_ptr[y + 1] = nr
            continue
        rk = row_key[y]
        ex = exclude[y] if use_exclude else no_exclude
        vd = void[y] if use_void else no_void
        # one run open at a time: it ends where the key changes
        pk = -1
        lab = 0
        x0 = 0
        for x in range(nx):
            usable = colref[x] == 0 and (ex[x] & exclude_bits) == 0
            k = rk + col_key[x] + (1 if vd[x] != 0 else 0) if usable else 0
            if k != pk:
                if pk > 0:
                    xmax[lab] = max(xmax[lab], x - 1)
                    npix[lab] += x - x0
                pk = k
                x0 = x
                lab = 0
                if k != 0:
                    lab = lut[k]
                    if lab == 0:
                        n += 1
                        lab = n
                        lut[k] = n
                        first[n] = y * nx + x0
                        ymin[n] = y
                        xmin[n] = x0
                        xmax[n] = x0
                    else:
                        xmin[lab] = min(xmin[lab], x0)
                    ymax[lab] = y
                run_x[nr] = x0
                run_lab[nr] = lab
                nr += 1
            row[x] = lab
        if pk > 0:
            xmax[lab] = max(xmax[lab], nx - 1)
            npix[lab] += nx - x0
        row_ptr[y + 1] = nr
    # contacts: counted first, then written (no growing buffer)
    m = _run_contacts(run_x, run_lab, row_ptr, nx, n, np.empty(0, np.int64), np.empty(0, np.int64))
    key = np.empty(m, np.int64)
    weight = np.empty(m, np.int64)
    _run_contacts(run_x, run_lab, row_ptr, nx, n, key, weight)
    return labels, npix[:n + 1], first[:n + 1], ymin[:n + 1], ymax[:n + 1], xmin[:n + 1], xmax[:n + 1], \
        key, weight


@numba.njit(cache=True, nogil=True)
def _remap(labels, lut):  # pragma: no cover - jitted
    """``labels[...] = lut[labels]``, in place."""
    flat = labels.ravel()
    for i in range(flat.size):
        flat[i] = lut[flat[i]]


def _neighbour_contacts(key: np.ndarray, weight: np.ndarray, m: int) -> np.ndarray:
    """Pairs (a, b, count) of label contacts, a < b, sorted by (a, b), from the entries
    ``key = a * m + b`` and their counts (a pair may have several entries)."""
    if key.size == 0:
        return np.zeros((0, 3), np.int64)
    order = np.argsort(key, kind="stable")
    key = key[order]
    starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
    pair = key[starts]
    return np.column_stack([pair // m, pair % m, np.add.reduceat(weight[order], starts)])


def merge_small_pieces(npix: np.ndarray, contacts: np.ndarray, box_amp: np.ndarray, box_void: np.ndarray,
                       limit: float) -> np.ndarray:
    """Join every piece of fewer than ``limit`` pixels to a neighbour of the same amplifier and kind.

    One piece is merged at a time, smallest first, into the neighbour it shares the longest
    border with (ties: the smaller neighbour); pixel counts and contacts are carried along
    (merging adds them up) instead of recounted over the frame after every merge. A piece with
    no such neighbour stays on its own.

    Parameters
    ----------
    npix : ndarray of int, shape (n + 1,)
        Pixels of each piece (index 0: outside every piece); updated in place.
    contacts : ndarray of int, shape (m, 3)
        ``(a, b, shared border)`` of neighbouring pieces, ``a < b``, sorted.
    box_amp, box_void : ndarray, shape (n + 1,)
        Each piece's amplifier and whether it is epoxy void.
    limit : float

    Returns
    -------
    ndarray of int32, shape (n + 1,)
        The piece each piece became.
    """
    target = np.arange(npix.size, dtype=np.int32)
    while True:
        live = np.flatnonzero(npix[1:]) + 1
        top = int(live[-1]) + 1 if live.size else 1  # the length a recount would give
        small = [b for b in np.argsort(npix[:top]) if b > 0 and 0 < npix[b] < limit]
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
            best = cand[np.lexsort((npix[cand], -count))[0]]
            target[target == b] = best
            npix[best] += npix[b]
            npix[b] = 0
            contacts = _merge_contacts(contacts, b, best)
            merged = True
            break
        if not merged:
            break
    return target


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


def _frame_flags(mask: np.ndarray | None, shape: tuple[int, int], what: str,
                 bits: int | None = None) -> tuple[np.ndarray, np.generic]:
    """``mask`` as the kernel reads it, C-contiguous unsigned words, and the bits that count
    in them (all, unless ``bits`` is given); a 1x1 stand-in when None."""
    if mask is None:
        return np.zeros((1, 1), np.uint8), np.uint8(0)
    mask = np.asarray(mask)
    if mask.shape != tuple(shape):
        raise ValueError(f"{what} has shape {mask.shape}, the frame {tuple(shape)}")
    if mask.dtype.kind not in "biu":
        mask = mask != 0
    mask = np.ascontiguousarray(mask)
    words = mask.view(f"u{mask.dtype.itemsize}")  # a bit test reads signed words and booleans alike
    top = np.iinfo(words.dtype).max
    return words, words.dtype.type(top if bits is None or mask.dtype == bool else int(bits) & top)


def make_boxes(
    shape: tuple[int, int],
    box_size: int = 256,
    void_mask: np.ndarray | None = None,
    exclude: np.ndarray | None = None,
    border: int = REF_BORDER,
    min_fraction: float = 0.5,
    exclude_bits: int | None = None,
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
    exclude : ndarray of bool or of integers, optional
        Pixels to leave out (DQ, MASK reference file, a user mask): true or non-zero, or,
        with ``exclude_bits``, having any of those bits set.
    min_fraction : float
        Pieces with fewer than this fraction of ``box_size**2`` pixels are joined to a
        neighbour of the same kind in the same amplifier (the one they share the longest
        border with). A piece with no such neighbour stays on its own.
    exclude_bits : int, optional
        With an integer ``exclude`` (e.g. DQ words), the bits that leave a pixel out
        (ignored for a boolean one).

    Returns
    -------
    BoxGrid
    """
    ny, nx = shape
    if box_size < 4:
        raise ValueError(f"box size {box_size} is too small")
    # the reference border as a row and a column flag (the same slices as reference_pixel_mask)
    rowref = np.zeros(ny, bool)
    rowref[:border] = rowref[-border:] = True
    colref = np.zeros(nx, bool)
    colref[:border] = colref[-border:] = True
    use_exclude, use_void = exclude is not None, void_mask is not None
    exclude, exclude_bits = _frame_flags(exclude, shape, "exclusion mask", exclude_bits)
    void, _ = _frame_flags(void_mask, shape, "void mask")
    cells_x = -(-nx // box_size)
    cell_row = (np.arange(ny, dtype=np.int64) // box_size) * cells_x
    cell_col = np.arange(nx, dtype=np.int64) // box_size
    # cell x amplifier x kind: amplifiers split cells that straddle a boundary; the key is made
    # of a row and a column part (odd, plus 1 in a void), so it costs an addition per pixel
    ncell = int(cell_row[-1] + cell_col[-1]) + 1
    amp_x = amplifier_index(nx)
    col_key = (cell_col + ncell * amp_x) * 2 + 1
    labels, npix, pix, ymin0, ymax0, xmin0, xmax0, key, weight = _label_pieces(
        rowref, colref, cell_row * 2, col_key, exclude, exclude_bits, use_exclude, void, use_void, 8 * ncell + 2)
    contacts = _neighbour_contacts(key, weight, npix.size)
    npix[0] = labels.size - npix[1:].sum()

    nominal = box_size * box_size
    # every pixel of a piece has its amplifier and kind: its first pixel tells them
    box_amp = amp_x[pix % nx].astype(np.int64)
    box_void = void.ravel()[pix] != 0 if use_void else np.zeros(npix.size, bool)
    target = merge_small_pieces(npix, contacts, box_amp, box_void, min_fraction * nominal)
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
    if not np.array_equal(lut, np.arange(n0 + 1)):
        _remap(labels, lut)
    owner = lut[1:].astype(np.int64) - 1
    ymin = np.full(n, np.iinfo(np.int64).max, np.int64)
    xmin = ymin.copy()
    ymax = np.full(n, -1, np.int64)
    xmax = ymax.copy()
    np.minimum.at(ymin, owner, ymin0[1:])
    np.maximum.at(ymax, owner, ymax0[1:])
    np.minimum.at(xmin, owner, xmin0[1:])
    np.maximum.at(xmax, owner, xmax0[1:])
    npix = npix[kept]
    first_member = lowest[kept]  # a box's amplifier and kind are its first member's
    table = Table(
        {
            "box_id": np.arange(1, n + 1),
            "amp": box_amp[first_member] + 1,
            "region": np.where(box_void[first_member], EPOXY, NORMAL),
            "npix": npix,
            "xmin": xmin,
            "xmax": xmax,
            "ymin": ymin,
            "ymax": ymax,
        }
    )
    table.meta["box_size"] = box_size
    return BoxGrid(labels, table, box_size)
