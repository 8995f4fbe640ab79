"""The fused calibration: report 004622 Table 1 in one streamed pass per chunk of groups.

The step-by-step engine (:func:`.steps.calibrate_chunk_fast`) makes a float32 copy of
the chunk, then a pass over every full frame for each step, plus temporaries. Here
the groups of a chunk are read as raw 16-bit words (:mod:`.rawread`) and one numba
kernel (parallel over blocks of rows, ``NUMBA_NUM_THREADS`` threads) decodes, subtracts
the bias, the even/odd and reference-pixel corrections, applies the IPC deconvolution
as a stencil on the rows it holds in a small per-block buffer, flags saturation (the
running tally and its growth) and linearises, writing only the calibrated frames and
their group DQ.

The loop over groups is inside the loop over row blocks: a block's bias, saturation
thresholds and linearity coefficients (~30 bytes a pixel, more than the raw words and
the output together) are read from memory once per chunk instead of once per group.
The even/odd and side-column corrections depend only on the reference pixels, which
the IPC step does not change: they are computed first, for every group of the chunk,
from those 8 rows and 8 columns (:mod:`.refstats`). Every operation is the step-by-step
engine's, in the same order and precision (float32 values, float64 offsets and IPC
sums, stcal's float32 Horner polynomial, ``scipy.ndimage.convolve``'s order of terms),
so the two agree bit for bit; tests check it. No fastmath: the numbers do not depend on
how numba compiled the kernel."""

from __future__ import annotations

import numba
import numpy as np

from ..detector import REF_BORDER
from ..dq import DO_NOT_USE, SATURATED
from .buffers import BufferPool
from .config import CalibrationConfig, CalibrationPlan
from .rawread import RawGroupReader
from .refstats import _even_odd_offsets, _side_signal, dnu_mask
from .saturation import AD_FLOOR
from .steps import References

__all__ = ["FusedCalibrator"]

_BLOCK = 32  # rows per parallel work item; the halo rows cost 2 / 32 extra
_SAT = np.uint8(SATURATED)
_LOW = np.uint8(AD_FLOOR | DO_NOT_USE)


# The inner loops run over whole 1-D row views from index 0: numba then knows the indices
# are not negative and LLVM vectorises them (an offset index kept them scalar, 3-4x slower).


@numba.njit(cache=True)
def _decode_row(src, encoded, row):
    """Raw values of one row as float32 (exact: they are 16-bit integers)."""
    if encoded:
        for x in range(row.size):
            u = np.int32(src[x])
            row[x] = np.float32(((u & 0xFF) << 8 | (u >> 8)) ^ 0x8000)
    else:
        for x in range(row.size):
            row[x] = np.float32(src[x])


@numba.njit(cache=True)
def _biased(raw, y, x, encoded, bias, has_bias):
    if encoded:
        u = np.int32(raw[y, x])
        v = np.float32(((u & 0xFF) << 8 | (u >> 8)) ^ 0x8000)
    else:
        v = np.float32(raw[y, x])
    if has_bias:
        v = v - bias[y, x]
    return v


@numba.njit(cache=True)
def _reference_pixels(raw, encoded, bias, has_bias, border, rows, cols):
    """Bias-subtracted reference rows (bottom then top) and side columns (left then right)."""
    ny, nx = raw.shape
    for r in range(border):
        for x in range(nx):
            rows[r, x] = _biased(raw, r, x, encoded, bias, has_bias)
            rows[border + r, x] = _biased(raw, ny - border + r, x, encoded, bias, has_bias)
    for y in range(ny):
        for c in range(border):
            cols[y, c] = _biased(raw, y, c, encoded, bias, has_bias)
            cols[y, border + c] = _biased(raw, y, nx - border + c, encoded, bias, has_bias)


@numba.njit(cache=True)
def _column_offsets_into(off, out):
    """The offset of each column (float64) from the (4, 2) [amplifier, column parity] offsets;
    0 for an amplifier left alone (NaN: no usable pixel; x - 0.0 is x, exactly)."""
    nx = out.size
    width = nx // 4
    for x in range(nx):
        a = x // width
        out[x] = 0.0 if np.isnan(off[a, 0]) or np.isnan(off[a, 1]) else off[a, x % 2]


@numba.njit(cache=True)
def _subtract_offsets(rows, cols, off, ref_x, with_rows):
    # float64 offsets subtracted from float32 values, rounded back: evenodd.subtract_even_odd
    if with_rows:
        for r in range(rows.shape[0]):
            for x in range(rows.shape[1]):
                rows[r, x] = np.float32(np.float64(rows[r, x]) - off[x])
    for y in range(cols.shape[0]):
        for c in range(cols.shape[1]):
            cols[y, c] = np.float32(np.float64(cols[y, c]) - off[ref_x[c]])


@numba.njit(cache=True, nogil=True)
def _reference_corrections(raw, encoded, bias, has_bias, border, dnu_rows, dnu_cols, ref_x, sigma, smoothing,
                           side_gain, even_odd, refpix, off1, off2, side):
    """The even/odd offsets (``off1``), the reference-pixel step's offsets (``off2``) and side
    signal (``side``) of every group of a chunk: :mod:`.refstats` on the reference rows and
    columns, as :mod:`.evenodd` computes them, bit for bit. One thread: ~1.5 ms a full-frame
    group, where a parallel loop lost more than that waiting for a busy core."""
    n, ny, nx = raw.shape
    for k in range(n):
        rows = np.empty((2 * border, nx), np.float32)
        cols = np.empty((ny, 2 * border), np.float32)
        eo = np.empty((4, 2))
        _reference_pixels(raw[k], encoded, bias, has_bias, border, rows, cols)
        if even_odd:
            _even_odd_offsets(rows, dnu_rows, sigma, border, eo)
            _column_offsets_into(eo, off1[k])
            _subtract_offsets(rows, cols, off1[k], ref_x, True)
        if refpix:
            _even_odd_offsets(rows, dnu_rows, sigma, border, eo)
            _column_offsets_into(eo, off2[k])
            _subtract_offsets(rows, cols, off2[k], ref_x, False)
            signal = np.empty(ny)
            _side_signal(cols, dnu_cols, smoothing, border, signal)
            for y in range(ny):
                side[k, y] = np.float32(side_gain * signal[y])


@numba.njit(cache=True)
def _offset_row(row, bias, has_bias, off, out):
    """A decoded row after the bias and the first even/odd correction (``off`` per column, 0 = none)."""
    if has_bias:
        for x in range(row.size):
            out[x] = np.float32(np.float64(row[x] - bias[x]) - off[x])
    else:
        for x in range(row.size):
            out[x] = np.float32(np.float64(row[x]) - off[x])


@numba.njit(parallel=True, cache=True, nogil=True)
def _fused_chunk(raw, encoded, bias, has_bias, off1, ky, kx, kw, has_ipc, halo, off2, ipc3,
                 side, coeffs, has_lin, thr, has_sat, ever_in, ever_out, grow,
                 dnu, has_dnu, border, out, gdq):
    """Every group of a chunk, one block of rows at a time.

    The loop over groups is inside the loop over row blocks: a block's reference rows
    (bias, thresholds, the linearity coefficients: ~30 bytes a pixel) are read from
    memory once per chunk and stay in cache for all its groups, where a loop over
    whole frames re-read them for every group. A block keeps its own running
    saturation tally of its rows and the ``grow`` rows either side (the same OR of
    the same comparisons as its neighbours make), so blocks never wait for each other;
    ``ever_out`` receives the tally of its own rows after the last group. The tally holds
    the SATURATED bit itself (0 or ``_SAT``), so that every DQ operation stays in bytes.

    The IPC terms are summed in float64 from a float64 copy of the input rows (each value
    converted once, not once per term); a full 3x3 kernel (``ipc3``) has its nine terms
    unrolled and summed in a register, as is a cubic linearity polynomial. Each inner loop
    writes one array, over views from index 0, so that LLVM vectorises it.
    """
    ng, ny, nx = raw.shape
    nblocks = (ny + _BLOCK - 1) // _BLOCK
    nterms = kw.shape[0]
    ncoef = coeffs.shape[0]
    nsci = nx - 2 * border
    ipc_halo = halo if has_ipc else 0
    sat_halo = grow if has_sat else 0
    ext = max(ipc_halo, sat_halo)
    for b in numba.prange(nblocks):
        y0 = b * _BLOCK
        y1 = min(ny, y0 + _BLOCK)
        ylo = max(0, y0 - ext)
        yhi = min(ny, y1 + ext)
        # raw values of the block's rows and halo rows, decoded once per group
        dec = np.empty((yhi - ylo, nx), np.float32)
        cur = np.empty(nx, np.float32)
        acc = np.zeros(nsci)
        res = np.empty(nx, np.float32)
        # IPC input (bias and even/odd corrected science pixels, zero elsewhere), rows y0-halo .. y1+halo
        nr_ipc = y1 - y0 + 2 * halo if has_ipc else 0
        ipc_in = np.zeros((nr_ipc, nx + 2 * halo))
        # saturation: the running tally of rows y0-grow .. y1+grow (zero-padded along x), grown along x
        nr_sat = y1 - y0 + 2 * grow if has_sat else 0
        tally = np.zeros((nr_sat, nx + 2 * grow), np.uint8)
        grown_x = np.zeros((nr_sat, nx), np.uint8)
        for r in range(nr_sat):
            y = y0 - grow + r
            if 0 <= y < ny:
                t_mid = tally[r, grow:grow + nx]
                t_in = ever_in[y]
                for x in range(nx):
                    t_mid[x] = t_in[x]
        for k in range(ng):
            rk = raw[k]
            for y in range(ylo, yhi):
                _decode_row(rk[y], encoded, dec[y - ylo])
            o1 = off1[k]
            o2 = off2[k]
            for r in range(nr_ipc):
                y = y0 - halo + r
                if y < border or y >= ny - border:
                    continue
                dst = ipc_in[r, halo + border:halo + nx - border]
                d_sci = dec[y - ylo][border:nx - border]
                o_sci = o1[border:nx - border]
                if has_bias:
                    b_sci = bias[y][border:nx - border]
                    for x in range(nsci):
                        dst[x] = np.float64(np.float32(np.float64(d_sci[x] - b_sci[x]) - o_sci[x]))
                else:
                    for x in range(nsci):
                        dst[x] = np.float64(np.float32(np.float64(d_sci[x]) - o_sci[x]))
            for r in range(nr_sat):
                y = y0 - grow + r
                if y < 0 or y >= ny:
                    continue
                d_row = dec[y - ylo]
                t_thr = thr[y]
                t_row = tally[r]
                t_mid = t_row[grow:grow + nx]
                for x in range(nx):
                    t_mid[x] |= _SAT if d_row[x] >= t_thr[x] else np.uint8(0)
                g_row = grown_x[r]
                for x in range(nx):
                    g_row[x] = t_row[x]
                for d in range(1, 2 * grow + 1):
                    t_d = t_row[d:d + nx]
                    for x in range(nx):
                        g_row[x] |= t_d[x]
            sk = side[k]
            for y in range(y0, y1):
                rawrow = dec[y - ylo]
                if has_ipc and border <= y < ny - border:
                    # the science pixels come from the IPC below: only the reference columns here
                    b_row = bias[y] if has_bias else bias[0]
                    for x in range(border):
                        v = rawrow[x] - b_row[x] if has_bias else rawrow[x]
                        cur[x] = np.float32(np.float64(v) - o1[x])
                    for x in range(nx - border, nx):
                        v = rawrow[x] - b_row[x] if has_bias else rawrow[x]
                        cur[x] = np.float32(np.float64(v) - o1[x])
                else:
                    _offset_row(rawrow, bias[y] if has_bias else bias[0], has_bias, o1, cur)
                if has_ipc and border <= y < ny - border and ipc3:
                    # a full 3x3 kernel: its nine terms in scipy's order, summed in a register
                    r = y - y0 + halo
                    c = halo + border
                    rm = ipc_in[r - 1]
                    r0 = ipc_in[r]
                    rp = ipc_in[r + 1]
                    m0 = rm[c - 1:c - 1 + nsci]
                    m1 = rm[c:c + nsci]
                    m2 = rm[c + 1:c + 1 + nsci]
                    z0 = r0[c - 1:c - 1 + nsci]
                    z1 = r0[c:c + nsci]
                    z2 = r0[c + 1:c + 1 + nsci]
                    p0 = rp[c - 1:c - 1 + nsci]
                    p1 = rp[c:c + nsci]
                    p2 = rp[c + 1:c + 1 + nsci]
                    w0, w1, w2, w3, w4, w5, w6, w7, w8 = kw[0], kw[1], kw[2], kw[3], kw[4], kw[5], kw[6], kw[7], kw[8]
                    sci = cur[border:nx - border]
                    for x in range(nsci):
                        v = 0.0 + m0[x] * w0
                        v += m1[x] * w1
                        v += m2[x] * w2
                        v += z0[x] * w3
                        v += z1[x] * w4
                        v += z2[x] * w5
                        v += p0[x] * w6
                        v += p1[x] * w7
                        v += p2[x] * w8
                        sci[x] = np.float32(v)
                elif has_ipc and border <= y < ny - border:
                    r = y - y0 + halo
                    acc[:] = 0.0
                    # scipy.ndimage.convolve's terms, in its order, each in float64
                    for t in range(nterms):
                        o = halo + border + kx[t]
                        src = ipc_in[r + ky[t], o:o + nsci]
                        w = kw[t]
                        for x in range(nsci):
                            acc[x] += src[x] * w
                    sci = cur[border:nx - border]
                    for x in range(nsci):
                        sci[x] = np.float32(acc[x])
                s = sk[y]
                fuse_lin = has_lin and ncoef == 4
                if not fuse_lin:
                    for x in range(nx):
                        cur[x] = np.float32(np.float64(cur[x]) - o2[x]) - s
                flags = gdq[k, y]
                if has_sat and grow == 1:
                    g_a = grown_x[y - y0]
                    g_b = grown_x[y - y0 + 1]
                    g_c = grown_x[y - y0 + 2]
                    if has_dnu:
                        d_row = dnu[y]
                        for x in range(nx):
                            flags[x] = (d_row[x] | g_a[x] | g_b[x] | g_c[x]
                                        | (_LOW if rawrow[x] <= 0 else np.uint8(0)))
                    else:
                        for x in range(nx):
                            flags[x] = g_a[x] | g_b[x] | g_c[x] | (_LOW if rawrow[x] <= 0 else np.uint8(0))
                else:
                    if has_dnu:
                        flags[:] = dnu[y]
                    else:
                        flags[:] = 0
                    if has_sat:
                        gr = y - y0
                        for d in range(2 * grow + 1):
                            g_row = grown_x[gr + d]
                            for x in range(nx):
                                flags[x] |= g_row[x]
                        for x in range(nx):
                            flags[x] |= _LOW if rawrow[x] <= 0 else np.uint8(0)
                o_row = out[k, y]
                if has_lin and ncoef == 4:
                    # a cubic: the same Horner steps, in registers
                    c3 = coeffs[3, y]
                    c2 = coeffs[2, y]
                    c1 = coeffs[1, y]
                    c0 = coeffs[0, y]
                    for x in range(nx):
                        cx = np.float32(np.float64(cur[x]) - o2[x]) - s
                        v = ((c3[x] * cx + c2[x]) * cx + c1[x]) * cx + c0[x]
                        o_row[x] = cx if flags[x] & _SAT else v
                elif has_lin:
                    # stcal apply_polynomial: Horner in float32, in this order; saturated values kept
                    c_last = coeffs[ncoef - 1, y]
                    for x in range(nx):
                        res[x] = c_last[x] * cur[x]
                    for j in range(ncoef - 2, 0, -1):
                        c_j = coeffs[j, y]
                        for x in range(nx):
                            res[x] = (res[x] + c_j[x]) * cur[x]
                    c_0 = coeffs[0, y]
                    for x in range(nx):
                        v = res[x] + c_0[x]
                        o_row[x] = cur[x] if flags[x] & _SAT else v
                else:
                    for x in range(nx):
                        o_row[x] = cur[x]
        if has_sat:
            for y in range(y0, y1):
                t_out = ever_out[y]
                t_mid = tally[y - y0 + grow, grow:grow + nx]
                for x in range(nx):
                    t_out[x] = t_mid[x]


def _convolution_terms(kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """``scipy.ndimage.convolve``'s terms: row/column offsets and float64 weights in its order.

    convolve = correlate with the flipped kernel, centred at size // 2 (size // 2 - 1 for an
    even size), over the non-zero weights in C order.
    """
    flipped = np.asarray(kernel)[::-1, ::-1]
    kh, kw = flipped.shape
    cy = kh // 2 - (0 if kh % 2 else 1)
    cx = kw // 2 - (0 if kw % 2 else 1)
    ii, jj = np.nonzero(flipped)
    ky = (ii - cy).astype(np.int64)
    kx = (jj - cx).astype(np.int64)
    weights = flipped[ii, jj].astype(np.float64)
    halo = int(max(np.abs(ky).max(initial=0), np.abs(kx).max(initial=0)))
    return ky, kx, weights, halo


class FusedCalibrator:
    """Calibrates the integrations of one ramp, chunk by chunk, with the fused kernel.

    Parameters
    ----------
    ramp : RampFile
    refs : References
    plan : CalibrationPlan
    config : CalibrationConfig
    buffers : BufferPool, optional
        Calibrate every chunk into the same arrays, taken from this pool (and given back
        by :meth:`close`): each chunk's arrays are then valid until the next call.
        Without it every chunk is a new pair of arrays.
    """

    def __init__(self, ramp, refs: References, plan: CalibrationPlan, config: CalibrationConfig,
                 buffers: BufferPool | None = None) -> None:
        self.buffers = buffers
        self._taken: list[np.ndarray] = []
        self.reader = RawGroupReader(ramp, buffers)
        self.refs, self.plan, self.config = refs, plan, config
        ny, nx = refs.shape
        self.shape = (ny, nx)
        b = REF_BORDER
        pdq = refs.pixeldq_before_saturation
        self._dnu_rows = dnu_mask(np.concatenate([pdq[:b], pdq[ny - b:]]))
        self._dnu_cols = dnu_mask(np.concatenate([pdq[:, :b], pdq[:, nx - b:]], axis=1))
        self._ref_x = np.concatenate([np.arange(b), np.arange(nx - b, nx)])
        empty2 = np.zeros((1, 1), np.float32)
        self._superbias = refs.superbias
        if refs.ipc_kernel is not None:
            self._ky, self._kx, self._kw, self._halo = _convolution_terms(refs.ipc_kernel.astype(np.float32))
        else:
            self._ky = self._kx = np.zeros(0, np.int64)
            self._kw, self._halo = np.zeros(0), 0
        # a full 3x3 kernel (NIRCam's) takes the kernel's unrolled path
        self._ipc3 = bool(self._ky.size == 9 and (self._ky == np.repeat([-1, 0, 1], 3)).all()
                          and (self._kx == np.tile([-1, 0, 1], 3)).all())
        self._coeffs = refs.lin_coeffs if refs.lin_coeffs is not None else np.zeros((1, 1, 1), np.float32)
        sat = refs.saturation
        self._thr = sat.threshold if sat is not None else empty2
        self._grow = max(int(sat.n_grow), 0) if sat is not None else 0
        if refs.mask_dq is not None:
            self._dnu = refs.derived("do_not_use_u8", lambda: (refs.mask_dq & DO_NOT_USE).astype(np.uint8))
        else:
            self._dnu = np.zeros((1, 1), np.uint8)
        self._ever = [self._take(self.shape if sat is not None else (1, 1), np.uint8) for _ in range(2)]
        self._out = None
        if buffers is not None:
            chunk = config.chunk if config.max_groups is None else min(config.chunk, config.max_groups)
            self._out = (self._take((chunk, ny, nx), np.float32), self._take((chunk, ny, nx), np.uint8))
        self._first_read: np.ndarray | None = None
        self._integration = None
        self._next_group = 0

    def _take(self, shape, dtype) -> np.ndarray:
        if self.buffers is None:
            return np.empty(shape, dtype)
        arr = self.buffers.take(shape, dtype)
        self._taken.append(arr)
        return arr

    def close(self) -> None:
        """Close the file; give the arrays back to the pool."""
        self.reader.close()
        if self.buffers is not None:
            for arr in self._taken:
                self.buffers.give(arr)
        self._taken = []
        self._out = None

    def start(self, integration: int) -> None:
        """Begin an integration: reset the saturation tally, take the first read if it is the bias."""
        self._integration = integration
        self._next_group = 0
        for e in self._ever:
            e[:] = 0
        self._first_read = None
        if self.plan.steps["superbias"] == "first read":
            raw, encoded = self.reader.read(integration, 0, 1)
            self._first_read = _decoded_float32(raw[0], encoded)

    def calibrate(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Calibrate groups ``start .. stop - 1`` (in order); returns ``(data float32, groupdq uint8)``.

        With ``buffers`` the arrays are the calibrator's own, overwritten by the next call.
        """
        if start != self._next_group:
            raise ValueError(f"groups must be calibrated in order: expected group {self._next_group}, got {start}")
        raw, encoded = self.reader.read(self._integration, start, stop)
        n = stop - start
        ny, nx = self.shape
        data, gdq = self._outputs(n)
        plan, cfg = self.plan, self.config
        b = REF_BORDER
        bias = self._superbias if self._superbias is not None else self._first_read
        has_bias = bias is not None
        bias_arr = bias if has_bias else np.zeros((1, 1), np.float32)
        # the even/odd and side-column corrections of every group first: they need only the
        # reference rows and columns, which no later step changes
        off1 = np.zeros((n, nx))
        off2 = np.zeros((n, nx))
        side = np.zeros((n, ny), np.float32)
        smoothing = int(cfg.side_smoothing_length)
        if smoothing % 2 == 0:
            smoothing += 1
        if plan.runs("refpix") and smoothing // 2 >= ny:
            raise ValueError(f"side smoothing length {smoothing} is longer than the frame ({ny} rows)")
        _reference_corrections(raw, encoded, bias_arr, has_bias, b, self._dnu_rows, self._dnu_cols, self._ref_x,
                               float(cfg.sigma), smoothing, float(cfg.side_gain), plan.runs("even_odd"),
                               plan.runs("refpix"), off1, off2, side)
        has_sat = self.refs.saturation is not None
        ever_in, ever_out = self._ever
        _fused_chunk(raw, encoded, bias_arr, has_bias, off1, self._ky, self._kx, self._kw,
                     self.refs.ipc_kernel is not None, self._halo, off2, self._ipc3,
                     side, self._coeffs, self.refs.lin_coeffs is not None,
                     self._thr, has_sat, ever_in, ever_out, self._grow,
                     self._dnu, self.refs.mask_dq is not None, b, data, gdq)
        if has_sat:
            self._ever.reverse()
        self._next_group = stop
        return data, gdq

    def _outputs(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        ny, nx = self.shape
        if self._out is None or self._out[0].shape[0] < n:
            return np.empty((n, ny, nx), np.float32), np.empty((n, ny, nx), np.uint8)
        return self._out[0][:n], self._out[1][:n]


def _decoded_float32(raw: np.ndarray, encoded: bool) -> np.ndarray:
    if encoded:
        return (raw.byteswap() ^ np.uint16(0x8000)).astype(np.float32)
    return raw.astype(np.float32)
