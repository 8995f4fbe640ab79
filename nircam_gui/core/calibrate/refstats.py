"""Reference-pixel statistics of the fused calibration, equal bit for bit to :mod:`.evenodd`.

The even/odd and side-column corrections use only the reference pixels (8 rows and
8 columns of a frame), but :mod:`.evenodd` spends ~16 ms a full-frame group on them
in numpy and scipy (32 clipped means, 2 x 2048 running medians), as much as the
whole fused pass over the science pixels. These kernels compute the same numbers in
a fraction of a millisecond, with the arithmetic numpy uses, so that the result is
identical, not merely close (a clipping decision that flips on a rounding difference
would move a column offset by ~0.01 ADU):

* ``numpy.sum`` of float32 is a pairwise sum with eight float32 accumulators in
  blocks of 128 (``_pairwise_f32``); ``mean``/``var`` divide that sum by the count
  in float64 and round to float32; ``std`` is the float32 square root of ``var``;
* ``scipy.stats.sigmaclip`` compares with ``mean -/+ std * sigma`` in float32;
* a float64 ``numpy.std`` of float32 data casts through an 8192-element buffer, each
  buffer summed pairwise in float64;
* ``numpy.median`` of an even count is the float32 mean of the two middle values.

Tests compare every function here with its numpy/scipy original on random and
simulated frames, bit for bit.
"""

from __future__ import annotations

import numba
import numpy as np

from ..detector import REF_BORDER
from ..dq import DO_NOT_USE

__all__ = ["even_odd_offsets_fast", "side_reference_signal_fast"]

_PW_BLOCK = 128  # numpy's PW_BLOCKSIZE
_CAST_BUFFER = 8192  # numpy's default ufunc buffer size (float32 -> float64 reductions)


@numba.njit(cache=True)
def _block_sum(a, start, n, zero):
    # numpy's pairwise_sum for n <= PW_BLOCKSIZE; ``zero`` sets the accumulator type
    if n < 8:
        res = zero
        for i in range(n):
            res += a[start + i]
        return res
    r0 = zero + a[start]
    r1 = zero + a[start + 1]
    r2 = zero + a[start + 2]
    r3 = zero + a[start + 3]
    r4 = zero + a[start + 4]
    r5 = zero + a[start + 5]
    r6 = zero + a[start + 6]
    r7 = zero + a[start + 7]
    i = 8
    stop = n - n % 8
    while i < stop:
        r0 += a[start + i]
        r1 += a[start + i + 1]
        r2 += a[start + i + 2]
        r3 += a[start + i + 3]
        r4 += a[start + i + 4]
        r5 += a[start + i + 5]
        r6 += a[start + i + 6]
        r7 += a[start + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[start + i]
        i += 1
    return res


@numba.njit(cache=True)
def _pairwise(a, start, n, zero):
    """numpy's pairwise sum of ``a[start:start + n]``: halves (rounded to multiples of 8) down
    to blocks of 128, left + right. Iterative with an explicit stack (numba does not cache
    recursive functions reliably)."""
    if n <= _PW_BLOCK:
        return _block_sum(a, start, n, zero)
    starts = np.empty(128, np.int64)
    sizes = np.empty(128, np.int64)
    combine = np.empty(128, np.bool_)
    values = np.empty(64, a.dtype)
    sp = 0
    nv = 0
    starts[0], sizes[0], combine[0] = start, n, False
    sp = 1
    while sp > 0:
        sp -= 1
        s, m, c = starts[sp], sizes[sp], combine[sp]
        if c:
            values[nv - 2] = values[nv - 2] + values[nv - 1]
            nv -= 1
        elif m <= _PW_BLOCK:
            values[nv] = _block_sum(a, s, m, zero)
            nv += 1
        else:
            n2 = m // 2
            n2 -= n2 % 8
            starts[sp], sizes[sp], combine[sp] = s, m, True
            starts[sp + 1], sizes[sp + 1], combine[sp + 1] = s + n2, m - n2, False
            starts[sp + 2], sizes[sp + 2], combine[sp + 2] = s, n2, False
            sp += 3
    return values[0]


@numba.njit(cache=True)
def _pairwise_f32(a, start, n):
    return _pairwise(a, start, n, np.float32(0.0))


@numba.njit(cache=True)
def _pairwise_f64(a, start, n):
    return _pairwise(a, start, n, 0.0)


@numba.njit(cache=True)
def _sum_f32(a, n):
    """``numpy.sum`` of the first ``n`` float32 values of ``a`` (float32 result)."""
    return np.float32(0.0) + _pairwise_f32(a, 0, n)


@numba.njit(cache=True)
def _sum_cast_f64(a64, n):
    """``numpy.sum(x, dtype=float64)`` of float32 ``x`` (``a64`` holds it cast): buffer by buffer."""
    total = 0.0
    i = 0
    while i < n:
        m = min(_CAST_BUFFER, n - i)
        total += _pairwise_f64(a64, i, m)
        i += m
    return total


@numba.njit(cache=True)
def _std_is_zero(v, n, scratch):
    """``numpy.std(v[:n], dtype=float64) == 0`` with numpy's own arithmetic."""
    for i in range(n):
        scratch[i] = np.float64(v[i])
    mean = _sum_cast_f64(scratch, n) / n
    for i in range(n):
        d = np.float64(v[i]) - mean
        scratch[i] = d * d
    return _pairwise_f64(scratch, 0, n) / n == 0.0


@numba.njit(cache=True)
def _mean_f32(v, n):
    return np.float32(np.float64(_sum_f32(v, n)) / n)


@numba.njit(cache=True)
def _std_f32(v, n, dev):
    mean = _mean_f32(v, n)
    for i in range(n):
        d = v[i] - mean
        dev[i] = d * d
    var = np.float32(np.float64(_sum_f32(dev, n)) / n)
    return np.float32(np.sqrt(var))


@numba.njit(cache=True)
def _clipped_mean(v, n, sigma, dev, scratch):
    """:func:`.evenodd.clipped_mean` of ``v[:n]`` (the usable values, in numpy's order).

    Returns ``(value, kind)``: kind 0 no usable pixel, 1 a float32 mean (sigmaclip),
    2 a float64 mean (all values equal).
    """
    if n == 0:
        return 0.0, 0
    if _std_is_zero(v, n, scratch):
        for i in range(n):
            scratch[i] = np.float64(v[i])
        return _sum_cast_f64(scratch, n) / n, 2
    sig = np.float32(sigma)
    size = n
    while True:
        std = _std_f32(v, size, dev)
        mean = _mean_f32(v, size)
        lo = mean - std * sig
        hi = mean + std * sig
        m = 0
        for i in range(size):
            x = v[i]
            if x >= lo and x <= hi:
                v[m] = x
                m += 1
        if m == size:
            break
        size = m
    return np.float64(_mean_f32(v, size)), 1


@numba.njit(cache=True)
def _average(a, ka, b, kb):
    # evenodd._average on (value, kind) pairs: float32 arithmetic unless a float64 is involved
    if ka == 0:
        return b, kb
    if kb == 0:
        return a, ka
    if ka == 1 and kb == 1:
        return np.float64(np.float32(0.5) * (np.float32(a) + np.float32(b))), 1
    return 0.5 * (a + b), 2


@numba.njit(cache=True)
def _even_odd_offsets(rows, dnu, sigma, border, out):
    """``rows`` (2 * border, nx): the bottom then the top reference rows; ``dnu`` their DO_NOT_USE."""
    nx = rows.shape[1]
    width = nx // 4
    cap = border * (width // 2 + 1)
    v = np.empty(cap, np.float32)
    dev = np.empty(cap, np.float32)
    scratch = np.empty(cap, np.float64)
    for a in range(4):
        x0 = a * width
        for p in range(2):
            first = x0 + p if x0 % 2 == 0 else x0 + 1 - p
            vals = np.zeros(2)
            kinds = np.zeros(2, np.int64)
            for side in range(2):  # top, then bottom, as evenodd.even_odd_offsets
                r0 = border if side == 0 else 0
                n = 0
                for r in range(r0, r0 + border):
                    for x in range(first, x0 + width, 2):
                        if not dnu[r, x]:
                            v[n] = rows[r, x]
                            n += 1
                vals[side], kinds[side] = _clipped_mean(v, n, sigma, dev, scratch)
            m, k = _average(vals[0], kinds[0], vals[1], kinds[1])
            out[a, p] = m if k != 0 else np.nan


def even_odd_offsets_fast(rows: np.ndarray, dnu: np.ndarray, sigma: float = 3.0,
                          border: int = REF_BORDER) -> np.ndarray:
    """:func:`.evenodd.even_odd_offsets` of a frame from its reference rows only.

    Parameters
    ----------
    rows : ndarray
        float32 ``(2 * border, nx)``: the frame's bottom ``border`` rows, then its top ones.
    dnu : ndarray
        bool, same shape: DO_NOT_USE of those pixels.

    Returns
    -------
    ndarray
        ``(4, 2)`` float64 [amplifier, column parity]; NaN where no pixel is usable.
    """
    out = np.empty((4, 2))
    _even_odd_offsets(np.ascontiguousarray(rows, dtype=np.float32), np.ascontiguousarray(dnu, dtype=np.bool_),
                      float(sigma), int(border), out)
    return out


@numba.njit(cache=True)
def _reflected_row(r, ny, half):
    # evenodd._reflect: mirror about the edge rows without repeating them
    if r < 0:
        return -r
    if r >= ny:
        return 2 * (ny - 1) - r
    return r


@numba.njit(cache=True)
def _insert_sorted(v, n, x):
    j = n - 1
    while j >= 0 and v[j] > x:
        v[j + 1] = v[j]
        j -= 1
    v[j + 1] = x


@numba.njit(cache=True)
def _remove_sorted(v, n, x):
    # remove one element equal to x (present: it entered the window earlier)
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) // 2
        if v[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    for j in range(lo, n - 1):
        v[j] = v[j + 1]


@numba.njit(cache=True)
def _side_signal(cols, dnu, smoothing_length, border, out):
    """``cols`` (ny, 2 * border): the left then the right reference columns.

    Each side's window is kept sorted as it slides down the rows: one row's usable
    pixels leave it and one row's enter, in place of a sort per row.
    """
    ny = cols.shape[0]
    half = smoothing_length // 2
    win = np.empty((2, smoothing_length * border), np.float32)
    count = np.zeros(2, np.int64)
    for s in range(2):
        for dy in range(-half, half + 1):
            r = _reflected_row(dy, ny, half)
            for c in range(s * border, (s + 1) * border):
                if not dnu[r, c]:
                    _insert_sorted(win[s], count[s], cols[r, c])
                    count[s] += 1
    med = np.empty(2)
    for y in range(ny):
        if y > 0:
            r_out = _reflected_row(y - 1 - half, ny, half)
            r_in = _reflected_row(y + half, ny, half)
            for s in range(2):
                for c in range(s * border, (s + 1) * border):
                    if not dnu[r_out, c]:
                        _remove_sorted(win[s], count[s], cols[r_out, c])
                        count[s] -= 1
                for c in range(s * border, (s + 1) * border):
                    if not dnu[r_in, c]:
                        _insert_sorted(win[s], count[s], cols[r_in, c])
                        count[s] += 1
        for s in range(2):
            n = count[s]
            v = win[s]
            if n == 0:
                med[s] = np.nan
            elif n % 2:
                med[s] = np.float64(v[n // 2])
            else:
                med[s] = np.float64((v[n // 2 - 1] + v[n // 2]) / np.float32(2.0))
        left, right = med[0], med[1]
        if np.isnan(left):
            val = right
        elif np.isnan(right):
            val = left
        else:
            val = 0.5 * (left + right)
        out[y] = 0.0 if np.isnan(val) else val


def side_reference_signal_fast(cols: np.ndarray, dnu: np.ndarray, smoothing_length: int = 11,
                               border: int = REF_BORDER) -> np.ndarray:
    """:func:`.evenodd.side_reference_signal` of a frame from its side reference columns only.

    Parameters
    ----------
    cols : ndarray
        float32 ``(ny, 2 * border)``: the frame's left ``border`` columns, then its right ones.
    dnu : ndarray
        bool, same shape: DO_NOT_USE of those pixels.
    """
    if smoothing_length % 2 == 0:
        smoothing_length += 1
    if smoothing_length // 2 >= cols.shape[0]:
        raise ValueError(f"side smoothing length {smoothing_length} is longer than the frame ({cols.shape[0]} rows)")
    out = np.empty(cols.shape[0])
    _side_signal(np.ascontiguousarray(cols, dtype=np.float32), np.ascontiguousarray(dnu, dtype=np.bool_),
                 int(smoothing_length), int(border), out)
    return out


def dnu_mask(pixeldq: np.ndarray) -> np.ndarray:
    """DO_NOT_USE of a PIXELDQ array as bool."""
    return (pixeldq & DO_NOT_USE) != 0
