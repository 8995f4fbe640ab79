"""Exact median of the selected pixels of a frame, without sorting or copying the frame.

``numpy.median(frame.ravel()[index])`` copies the selected pixels and partitions them:
~40-120 ms a full-frame group. Here a sample of every 32nd row brackets the median
(its rank +- 6 standard deviations of a sample quantile); one pass over the frame
counts the values below the bracket and collects those inside it (~2% of them), and
``numpy.partition`` of those picks the exact value. If the bracket missed (a
frame whose rows are not alike), a radix selection takes over: two passes counting
the float32 values' order-preserving 32-bit keys in 16-bit digits. Either way the
result is the value ``numpy.median`` returns (NaN if a selected value is NaN; the
float32 mean of the two middle values for an even count).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["masked_median"]

_BINS = 1 << 16


@numba.njit(cache=True)
def _keys_hist(bits, mask, row0, row1, hi_digit, use_hi, hist):
    nx = bits.shape[1]
    nan = 0
    for y in range(row0, row1):
        for x in range(nx):
            if not mask[y, x]:
                continue
            b = bits[y, x]
            if (b & np.uint32(0x7F800000)) == np.uint32(0x7F800000) and (b & np.uint32(0x007FFFFF)) != 0:
                nan += 1
                continue
            if b & np.uint32(0x80000000):
                k = ~b
            else:
                k = b | np.uint32(0x80000000)
            if use_hi:
                if (k >> np.uint32(16)) == hi_digit:
                    hist[k & np.uint32(0xFFFF)] += 1
            else:
                hist[k >> np.uint32(16)] += 1
    return nan


@numba.njit(parallel=True, cache=True, nogil=True)
def _histogram(bits, mask, hi_digit, use_hi, nt):
    ny = bits.shape[0]
    hists = np.zeros((nt, _BINS), np.int64)
    nans = np.zeros(nt, np.int64)
    for t in numba.prange(nt):
        r0 = ny * t // nt
        r1 = ny * (t + 1) // nt
        nans[t] = _keys_hist(bits, mask, r0, r1, hi_digit, use_hi, hists[t])
    total = np.zeros(_BINS, np.int64)
    for t in range(nt):
        for i in range(_BINS):
            total[i] += hists[t, i]
    return total, nans.sum()


@numba.njit(cache=True)
def _find(hist, rank):
    # the bin holding the rank-th (0-based) element, and the rank inside that bin
    acc = 0
    for i in range(hist.shape[0]):
        if acc + hist[i] > rank:
            return i, rank - acc
        acc += hist[i]
    return -1, 0


def _value(key: int) -> np.float32:
    bits = key & 0x7FFFFFFF if key & 0x80000000 else ~key & 0xFFFFFFFF
    return np.array([bits], np.uint32).view(np.float32)[0]


def _select(bits: np.ndarray, mask: np.ndarray, hist_hi: np.ndarray, ranks: list[int]) -> list[np.float32]:
    out = []
    cache: dict[int, np.ndarray] = {}
    for rank in ranks:
        hi, r = _find(hist_hi, rank)
        if hi not in cache:
            cache[hi] = _histogram(bits, mask, np.uint32(hi), True, numba.get_num_threads())[0]
        lo, _ = _find(cache[hi], r)
        out.append(_value((int(hi) << 16) | int(lo)))
    return out


_SAMPLE_STEP = 32  # rows


@numba.njit(parallel=True, cache=True, nogil=True)
def _bracket(frame, mask, lo, hi, cap, nt):
    """Count the selected values below ``lo``, NaN, and collect those in [lo, hi] (up to cap per thread).

    Row by row: one loop counts and flags (no branch, no dependency from pixel to pixel, so
    it vectorises), then the flags, eight at a time, pick the few values inside the bracket.
    """
    ny, nx = frame.shape
    below = np.zeros(nt, np.int64)
    inside = np.zeros(nt, np.int64)
    nans = np.zeros(nt, np.int64)
    buf = np.empty((nt, cap + 1), np.float32)
    nwords = (nx + 7) // 8
    for t in numba.prange(nt):
        nb = 0
        ni = 0
        nn = 0
        out = buf[t]
        flag = np.zeros(8 * nwords, np.uint8)
        words = flag.view(np.uint64)
        for y in range(ny * t // nt, ny * (t + 1) // nt):
            row = frame[y]
            m = mask[y]
            for x in range(nx):
                v = row[x]
                use = m[x]
                nb += use & (v < lo)
                nn += use & (v != v)
                flag[x] = np.uint8(use & (v >= lo) & (v <= hi))
            for w in range(nwords):
                if words[w] != 0:
                    for x in range(8 * w, 8 * w + 8):
                        if flag[x]:
                            out[min(ni, cap)] = row[x]
                            ni += 1
        below[t] = nb
        inside[t] = ni
        nans[t] = nn
    return below, inside, nans, buf


def _bracketed(frame: np.ndarray, mask: np.ndarray, n: int, ranks: list[int]) -> list[np.float32] | None:
    """The values of the given ranks through a sampled bracket, or None if it missed them."""
    sample = frame[::_SAMPLE_STEP][mask[::_SAMPLE_STEP]]
    m = sample.size
    if m < 64:
        return None
    q0, q1 = ranks[0] / n, ranks[-1] / n
    spread = 6.0 * np.sqrt(m * 0.25) + 8
    j0 = int(np.floor(q0 * m - spread))
    j1 = int(np.ceil(q1 * m + spread))
    kth = [j for j in (j0, j1) if 0 <= j < m]
    part = np.partition(sample, kth) if kth else sample
    lo = part[j0] if j0 >= 0 else np.float32(-np.inf)
    hi = part[j1] if j1 < m else np.float32(np.inf)
    if not (lo <= hi):  # NaN in the sample
        return None
    nt = numba.get_num_threads()
    cap = max(1024, int(4 * (j1 - j0) * n / m) // nt)
    below, inside, nans, buf = _bracket(frame, mask, np.float32(lo), np.float32(hi), cap, nt)
    if nans.sum() or (inside > cap).any():
        return None
    b = int(below.sum())
    if not all(b <= r < b + inside.sum() for r in ranks):
        return None
    values = np.concatenate([buf[t, :inside[t]] for t in range(len(inside))])
    picked = np.partition(values, [r - b for r in ranks])
    return [picked[r - b] for r in ranks]


def masked_median(frame: np.ndarray, mask: np.ndarray) -> float:
    """``numpy.median(frame[mask])`` for a float32 frame, exactly, without copying.

    Parameters
    ----------
    frame : ndarray
        float32 ``(ny, nx)``, C-contiguous.
    mask : ndarray
        bool ``(ny, nx)``: the pixels to take.

    Returns
    -------
    float
        NaN when no pixel is selected or a selected pixel is NaN.
    """
    frame = np.ascontiguousarray(frame, dtype=np.float32)
    mask = np.ascontiguousarray(mask, dtype=np.bool_)
    n = int(np.count_nonzero(mask))
    if n:
        ranks = [(n - 1) // 2] if n % 2 else [n // 2 - 1, n // 2]
        found = _bracketed(frame, mask, n, ranks)
        if found is not None:
            if len(found) == 1:
                return float(found[0])
            return float((found[0] + found[1]) / np.float32(2.0))
    bits = frame.view(np.uint32)
    hist, nan = _histogram(bits, mask, np.uint32(0), False, numba.get_num_threads())
    n = int(hist.sum())
    if nan or n == 0:
        return float("nan")
    k = (n - 1) // 2
    if n % 2:
        return float(_select(bits, mask, hist, [k])[0])
    a, b = _select(bits, mask, hist, [k, k + 1])
    return float((a + b) / np.float32(2.0))
