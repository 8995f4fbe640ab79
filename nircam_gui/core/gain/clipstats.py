"""Iteratively sigma-clipped box statistics, vectorised over boxes, for whole frames.

For every box (a label in a label image) this computes what a loop of
``astropy.stats.sigma_clip`` would (3-sigma, mean-centred, iterated to convergence;
non-finite and invalid pixels left out), without a Python loop over boxes and without
reordering the frame:

* a start per box: the same clip on a fixed sample of 512 of its pixels (blocks of 16
  neighbours, cheap to gather). It fixes a band ``|x - c| <= 2.49 s`` whose pixels are
  certainly kept by the clip of the whole box;
* one fused pass over the two frames of a pair in image order (a numba kernel) forms the
  summed and the differenced frame on the fly, sums the pixels inside both bands in
  float64 (branch-free, per run of a row) and writes the others, ~3% of them, to their
  box's bucket;
* box by box, the iteration to convergence runs on the bucket alone: first the sum, then
  the difference over the pixels the sum kept.

A box whose converged limits do not enclose its band (a start far off, as in a
pathological box), or whose bucket overflows, is done again, alone, from the converged
values; the last attempt takes every pixel of the box as a candidate, which is exactly
``sigma_clip``'s procedure.

The variance of clipped Gaussian data is biased low. For clipping at ``k`` sigma
iterated to convergence, the kept fraction of the variance is the fixed point of
``r = T(k sqrt(r))`` with ``T(t) = 1 - 2 t phi(t) / (2 Phi(t) - 1)`` (variance of a
Gaussian truncated at +-t sigma): 0.97334 after one pass and 0.96995 at convergence
for k = 3. :func:`~nircam_gui.core.clipping.clip_variance_factor` computes it; the statistics
divide by it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from ..clipping import clip_variance_factor

__all__ = ["BoxClipper", "ClippedStats", "clip_variance_factor"]

_CHUNKS = 64  # row blocks of the general pass, each with its own accumulators
# All passes are serial: the GUI thread and the simulator's threads share two cores, where
# a parallel pass measured slower.


# No fastmath in the kernels: with reassociation allowed, numba's freshly compiled code and
# the code it loads from its cache summed in different orders, so a GUI run (child process)
# and the command line disagreed in the last bit; strict IEEE order costs ~10% here.
# (Under reassoc + nsz LLVM also folded isfinite(a + b) to True: finiteness is tested on the
# loaded inputs.)

# rows of the per-box result array of _clip_pair_boxes
_N_S, _T1_S, _T2_S, _MU_S, _VAR_S, _OK_S, _N_D, _T1_D, _T2_D, _MU_D, _VAR_D, _OK_D, _OVER = range(13)


@dataclass
class ClippedStats:
    """Per-box results for one frame: clipped mean, clipped variance (bias-corrected), counts."""

    mean: np.ndarray
    variance: np.ndarray
    variance_raw: np.ndarray
    npix: np.ndarray
    kept: np.ndarray | None = None  # boolean image of kept pixels (only when asked for)


@numba.njit(cache=True)
def _band_pass(a, b, sign, starts, ends, run_labels, valid, use_valid, center, band, nbox, outside):  # pragma: no cover
    """Sums over the pixels inside each box's band; marks the valid ones outside it.

    Loops over runs (stretches of a row with one label) so the inner loop has scalar
    accumulators; sums are float64.
    """
    nr = starts.size
    step = (nr + _CHUNKS - 1) // _CHUNKS
    s1 = np.zeros((_CHUNKS, nbox + 1))
    s2 = np.zeros((_CHUNKS, nbox + 1))
    cnt = np.zeros((_CHUNKS, nbox + 1))
    for c in range(_CHUNKS):
        for r in range(c * step, min(nr, (c + 1) * step)):
            lab = run_labels[r]
            lo = starts[r]
            hi = ends[r]
            if lab == 0:
                for i in range(lo, hi):
                    outside[i] = False
                continue
            cc = center[lab]
            bd = band[lab]
            acc1 = 0.0
            acc2 = 0.0
            k = 0.0
            for i in range(lo, hi):
                xc = (np.float64(a[i]) + sign * np.float64(b[i])) - cc
                v = np.isfinite(a[i]) and np.isfinite(b[i]) and (valid[i] if use_valid else True)
                inside = (abs(xc) <= bd) and v
                outside[i] = v and not inside
                w = xc if inside else 0.0
                acc1 += w
                acc2 += w * w
                k += 1.0 if inside else 0.0
            s1[c, lab] += acc1
            s2[c, lab] += acc2
            cnt[c, lab] += k
    return s1.sum(axis=0)[1:], s2.sum(axis=0)[1:], cnt.sum(axis=0)[1:]


@numba.njit(cache=True)
def _sample_start(a, b, sign, valid, use_valid, sample_index, nsigma, max_iter):  # pragma: no cover
    """The clip itself, on each box's fixed subsample of ``a + sign * b``: a start for the frame.

    Returns an array (2, nbox): the clipped mean and clipped standard deviation of every
    box's sample (the same estimator as the result, so the start has no bias to allow
    for); the deviation is inf where the sample has no valid pixel or no spread.
    """
    nbox, ns = sample_index.shape
    out = np.empty((2, nbox))
    x = np.empty(ns)
    for j in range(nbox):
        m = 0
        for k in range(ns):
            i = sample_index[j, k]
            v = np.float64(a[i]) + sign * np.float64(b[i])
            ok = np.isfinite(a[i]) and np.isfinite(b[i])
            if use_valid:
                ok = ok and valid[i]
            x[m] = v
            m += 1 if ok else 0
        if m == 0:
            out[0, j] = 0.0
            out[1, j] = np.inf
            continue
        # as sigma_clip: the mean of the kept values, then the variance about it (two passes
        # on the raw values: a mean pulled far off by a huge outlier must not cost precision)
        mu = 0.0
        var = 0.0
        lim = np.inf
        kept = -1.0
        for _ in range(max_iter):
            n = 0.0
            t1 = 0.0
            for k in range(m):
                inside = abs(x[k] - mu) <= lim
                t1 += x[k] if inside else 0.0
                n += 1.0 if inside else 0.0
            if n == 0:
                break
            new_mu = t1 / n
            t2 = 0.0
            for k in range(m):
                d = x[k] - new_mu
                t2 += d * d if abs(x[k] - mu) <= lim else 0.0
            mu = new_mu
            var = t2 / n
            lim = nsigma * np.sqrt(var)
            if n == kept:
                break
            kept = n
        sig = np.sqrt(var)
        out[0, j] = mu
        out[1, j] = sig if sig > 0 else np.inf
    return out


@numba.njit(cache=True)
def _pair_runs(a, b, valid, use_valid, runs, starts, ends, run_labels, cs, bs, cd, bd,
               off, cap, fill, sums, cand_s, cand_d, over):  # pragma: no cover - jitted
    """One pass over the given runs (stretches of a row with one label) of a pair of frames.

    Pixels inside both bands (sum and difference) are certainly kept by both clips and
    only summed. Every other valid pixel is a candidate: its sum and difference relative
    to the start centres go to its box's bucket (``off[lab]``, at most ``cap[lab]``). The
    loop has no branch: every pixel is written at the bucket's end, and a candidate is kept
    by advancing the fill. A box whose bucket would overflow is marked in ``over``.
    """
    for q in range(runs.size):
        r = runs[q]
        lab = run_labels[r]
        lo = starts[r]
        hi = ends[r]
        f = fill[lab]
        if f + (hi - lo) > cap[lab]:
            over[lab] = True
            continue
        base = off[lab] + f
        csl = cs[lab]
        bsl = bs[lab]
        cdl = cd[lab]
        bdl = bd[lab]
        s1 = 0.0
        s2 = 0.0
        ns = 0.0
        d1 = 0.0
        d2 = 0.0
        nd = 0.0
        m = 0
        for i in range(lo, hi):
            ai = np.float64(a[i])
            bi = np.float64(b[i])
            xs = (ai + bi) - csl
            xd = (ai - bi) - cdl
            # a non-finite pixel is outside the bands (comparisons with NaN are false); it
            # goes to the bucket, where the box stage drops it (cheaper than a test here)
            v = valid[i] if use_valid else True
            ins = v and abs(xs) <= bsl
            ind = ins and abs(xd) <= bdl
            ws = xs if ins else 0.0
            wd = xd if ind else 0.0
            s1 += ws
            s2 += ws * ws
            ns += 1.0 if ins else 0.0
            d1 += wd
            d2 += wd * wd
            nd += 1.0 if ind else 0.0
            cand_s[base + m] = xs
            cand_d[base + m] = xd
            m += 1 if (v and not ind) else 0
        fill[lab] = f + m
        sums[0, lab] += ns
        sums[1, lab] += s1
        sums[2, lab] += s2
        sums[3, lab] += nd
        sums[4, lab] += d1
        sums[5, lab] += d2


@numba.njit(cache=True)
def _converge_box(x, keep, m, n0, t10, t20, nsigma, max_iter):  # pragma: no cover - jitted
    """Clip ``x[:m]`` (one box's candidates) to convergence on top of the certainly-kept sums.

    ``keep[:m]`` ends as the candidates kept. Returns (n, t1, t2, mu, var, lim) of the
    kept pixels, relative to the start centre.
    """
    for k in range(m):
        keep[k] = True
    for it in range(max_iter + 1):
        n = n0
        t1 = t10
        t2 = t20
        for k in range(m):
            w = x[k] if keep[k] else 0.0
            n += 1.0 if keep[k] else 0.0
            t1 += w
            t2 += w * w
        if n > 0:
            mu = t1 / n
            var = max(t2 / n - mu * mu, 0.0)
        else:
            mu = var = np.nan
        lim = nsigma * np.sqrt(var)
        if it == max_iter:  # out of iterations: the statistics of the last mask, as sigma_clip
            break
        changed = 0
        for k in range(m):
            new = abs(x[k] - mu) <= lim
            changed += 1 if new != keep[k] else 0
            keep[k] = new
        if changed == 0:
            break
    return n, t1, t2, mu, var, lim


@numba.njit(cache=True)
def _clip_box(x, keep, m, n0, t10, t20, band, nsigma, max_iter, res, row, j):  # pragma: no cover - jitted
    """:func:`_converge_box`, then the result to ``res[row:row + 6, j]`` (n, t1, t2, mu, var,
    and 1 when every certainly-kept pixel, ``|x| <= band``, lies inside the converged limits)."""
    n, t1, t2, mu, var, lim = _converge_box(x, keep, m, n0, t10, t20, nsigma, max_iter)
    ok = n0 == 0 or band < 0 or max(abs(band - mu), abs(band + mu)) <= lim
    res[row, j] = n
    res[row + 1, j] = t1
    res[row + 2, j] = t2
    res[row + 3, j] = mu
    res[row + 4, j] = var
    res[row + 5, j] = 1.0 if ok else 0.0


@numba.njit(cache=True)
def _clip_pair_boxes(a, b, valid, use_valid, runs, boxes, starts, ends, run_labels, cs, bs, cd, bd,
                     off, cap, nsigma, max_iter, res, cand_s, cand_d):  # pragma: no cover - jitted
    """Both clips of a pair for the given boxes (their runs): pass, then box by box to convergence.

    The sum is clipped over its candidates (pixels outside the sum band); the difference
    over the pixels inside the sum band but outside the difference band, and the sum
    candidates the sum kept. Results go to ``res[:, box]`` (rows ``_N_S`` ... ``_OVER``).
    """
    nb = cs.size
    fill = np.zeros(nb, np.int64)
    sums = np.zeros((6, nb))
    over = np.zeros(nb, np.bool_)
    _pair_runs(a, b, valid, use_valid, runs, starts, ends, run_labels, cs, bs, cd, bd,
               off, cap, fill, sums, cand_s, cand_d, over)
    width = 1
    for j in boxes:
        width = max(width, fill[j])
    xs_c = np.empty(width)
    keep_s = np.empty(width, np.bool_)
    xd_c = np.empty(width)
    keep_d = np.empty(width, np.bool_)
    for j in boxes:
        res[_OVER, j] = 1.0 if over[j] else 0.0
        if over[j]:
            res[_OK_S, j] = res[_OK_D, j] = 0.0
            continue
        o = off[j]
        m = fill[j]
        k3 = 0
        k2 = o
        for k in range(o, o + m):  # drop the non-finite pixels (compacting the bucket)
            if np.isfinite(cand_s[k]) and np.isfinite(cand_d[k]):
                cand_s[k2] = cand_s[k]
                cand_d[k2] = cand_d[k]
                k2 += 1
        m = k2 - o
        for k in range(o, o + m):
            if not abs(cand_s[k]) <= bs[j]:
                xs_c[k3] = cand_s[k]
                k3 += 1
        _clip_box(xs_c, keep_s, k3, sums[0, j], sums[1, j], sums[2, j], bs[j], nsigma, max_iter, res, _N_S, j)
        md = 0
        q = 0
        for k in range(o, o + m):
            if abs(cand_s[k]) <= bs[j]:
                xd_c[md] = cand_d[k]
                md += 1
            else:
                if keep_s[q]:
                    xd_c[md] = cand_d[k]
                    md += 1
                q += 1
        _clip_box(xd_c, keep_d, md, sums[3, j], sums[4, j], sums[5, j], bd[j], nsigma, max_iter, res, _N_D, j)


@numba.njit(cache=True)
def _converge_nb(n0, s1, s2, labels, x, nsigma, max_iter):  # pragma: no cover - jitted
    """Clip the candidates to convergence; see :meth:`BoxClipper._converge`."""
    m = n0.size
    keep = np.ones(x.size, np.bool_)
    n = np.empty(m)
    t1 = np.empty(m)
    t2 = np.empty(m)
    mu = np.empty(m)
    var = np.empty(m)
    lim = np.empty(m)
    for it in range(max_iter + 1):
        n[:] = n0
        t1[:] = s1
        t2[:] = s2
        for k in range(x.size):
            if keep[k]:
                j = labels[k] - 1
                n[j] += 1.0
                t1[j] += x[k]
                t2[j] += x[k] * x[k]
        for j in range(m):
            if n[j] > 0:
                mu[j] = t1[j] / n[j]
                var[j] = max(t2[j] / n[j] - mu[j] * mu[j], 0.0)
            else:
                mu[j] = np.nan
                var[j] = np.nan
            lim[j] = nsigma * np.sqrt(var[j])
        if it == max_iter:  # out of iterations: the statistics of the last mask
            break
        changed = False
        for k in range(x.size):
            j = labels[k] - 1
            new = abs(x[k] - mu[j]) <= lim[j]
            if new != keep[k]:
                keep[k] = new
                changed = True
        if not changed:
            break
    return keep, n, t1, t2, mu, var, lim


class BoxClipper:
    """Precomputed layout of a label image; clips frames box by box.

    Parameters
    ----------
    labels : ndarray of int, shape (ny, nx)
        0 = pixel not in any box; 1..nbox = box id.
    nsigma : float
        Clipping limit.
    sample : int
        Pixels per box in the fixed sample whose clip gives the starting point
        (default 512; a multiple of 16 is gathered in blocks of 16 neighbours).
    max_iter : int
        Limit on clipping iterations (convergence takes ~5-10).
    """

    def __init__(self, labels: np.ndarray, nsigma: float = 3.0, sample: int = 512,
                 max_iter: int = 100) -> None:
        self.shape = labels.shape
        self.nsigma = float(nsigma)
        self.max_iter = max_iter
        self.factor = clip_variance_factor(nsigma)
        flat = np.ascontiguousarray(labels, dtype=np.int32).ravel()
        self.nbox = int(flat.max()) if flat.size else 0
        self.flat_labels = flat
        self.labelled = flat > 0
        change = np.flatnonzero(np.diff(flat)) + 1
        self.run_starts = np.concatenate([[0], change]).astype(np.int64)
        self.run_ends = np.concatenate([change, [flat.size]]).astype(np.int64)
        self.run_labels = flat[self.run_starts]
        self.box_npix = np.bincount(flat, minlength=self.nbox + 1)[1:]
        # The start is the clip of a per-box sample of n pixels: its mean is off by ~1/sqrt(n)
        # of the clipped deviation s, and s by ~0.75/sqrt(n) of itself. The band |x - c| <=
        # band * s of certainly kept pixels stays inside the converged limits (nsigma s) unless
        # the start is ~4 of those errors off: band = 2.49 for n = 512, 2.27 for 256. A box
        # where it does not is simply done again.
        e = 4.0 / np.sqrt(sample)
        self.band = (nsigma - e) / (1.0 + 0.75 * e)
        # the sample: blocks of 16 neighbouring pixels of the box (one cache line of a float32
        # frame, so gathering it costs little), spread evenly over the box's pixels
        order = np.argsort(flat, kind="stable")
        order = order[flat[order] > 0]
        first = np.concatenate([[0], np.cumsum(self.box_npix)[:-1]])
        block = 16 if sample % 16 == 0 else 1
        nblock = sample // block
        k = np.arange(sample)
        room = np.maximum(self.box_npix[:, None] - block, 0)
        idx = (k[None, :] // block) * room // max(nblock - 1, 1) + k[None, :] % block
        idx = first[:, None] + np.minimum(idx, np.maximum(self.box_npix[:, None] - 1, 0))
        self.sample_index = order[idx]
        self._outside = np.empty(flat.size, bool)
        self._dummy_valid = np.ones(1, bool)
        # clip_pair: labelled runs in image order, and per box a bucket for its candidates:
        # ~3% of Gaussian pixels fall outside the two bands; the bucket holds 12% plus the
        # box's longest run (a run is checked against the space left before it is read)
        self._runs = np.flatnonzero(self.run_labels > 0)
        self._boxes = np.arange(1, self.nbox + 1)
        longest = np.zeros(self.nbox + 1, np.int64)
        np.maximum.at(longest, self.run_labels, self.run_ends - self.run_starts)
        self._cap = np.zeros(self.nbox + 1, np.int64)
        self._cap[1:] = (0.12 * self.box_npix).astype(np.int64) + longest[1:]
        self._off = np.concatenate([[0], np.cumsum(self._cap)[:-1]])
        self._cand_s = np.empty(int(self._cap.sum()))
        self._cand_d = np.empty(int(self._cap.sum()))
        self._attempts = 4  # the last one exact
        self._exact_rounds = 3  # exact attempts at most, re-centring a box each time

    def clip(
        self,
        a: np.ndarray,
        b: np.ndarray | None = None,
        sign: float = 1.0,
        valid: np.ndarray | None = None,
        keep_mask: bool = False,
    ) -> ClippedStats:
        """Clipped statistics of every box of ``a + sign * b`` (or of ``a``).

        Parameters
        ----------
        a, b : ndarray, shape (ny, nx)
            Frames; the summed (``sign=1``) or differenced (``sign=-1``) frame is formed
            on the fly.
        valid : ndarray of bool, optional
            Pixels that may be used (not saturated, not rejected elsewhere).
        keep_mask : bool
            Also return the boolean image of the pixels kept.
        """
        a = self._frame(a, "frame", np.float32)
        b = a if b is None else self._frame(b, "second frame", np.float32)
        sign = 0.0 if b is a else float(sign)
        v = None if valid is None else self._frame(valid, "valid mask", bool)
        center, sigma = _sample_start(a, b, sign, self._dummy_valid if v is None else v, v is not None,
                                      self.sample_index, self.nsigma, self.max_iter)
        outside = self._outside
        ok = np.zeros(self.nbox, bool)
        exact = np.zeros(self.nbox, bool)
        for attempt in range(self._attempts + self._exact_rounds - 1):
            if attempt >= self._attempts - 1:  # boxes still failing: every pixel a candidate
                exact |= ~ok
            band = np.where(np.isfinite(sigma) & ~exact, self.band * sigma, -1.0)
            s1, s2, n0 = _band_pass(a, b, sign, self.run_starts, self.run_ends, self.run_labels,
                                    self._dummy_valid if v is None else v,
                                    v is not None, np.concatenate([[0.0], center]),
                                    np.concatenate([[0.0], band]), self.nbox, outside)
            cand = np.flatnonzero(outside)
            cl = self.flat_labels[cand]
            cx = (a[cand].astype(np.float64) + sign * b[cand]) - center[cl - 1]
            keep_c, n, s1_t, s2_t, mu, var, lim = self._converge(n0, s1, s2, cl, cx)
            # every band pixel must lie inside the converged limits, else rebuild the band; an
            # exact box must be centred, else it is done again about its mean, for precision
            ok = np.where(exact, self._centred(n, mu, var), self._band_inside(band, mu, lim, n0))
            if ok.all():
                break
            center = center + np.where(ok, 0.0, np.nan_to_num(mu))
            sigma = np.where(ok, sigma, np.sqrt(var))
            sigma[~np.isfinite(sigma) | (sigma <= 0)] = np.inf
        stats = self._result(center, n, s1_t, s2_t, self.factor)
        if keep_mask:
            kept = self.labelled.copy() if v is None else (self.labelled & v)
            kept[cand[~keep_c]] = False
            stats.kept = kept.reshape(self.shape)
        return stats

    def _frame(self, x: np.ndarray, what: str, dtype) -> np.ndarray:
        """``x`` flat and contiguous; the kernels do not check bounds, so the shape is checked here."""
        x = np.asarray(x)
        if x.shape != self.shape:
            raise ValueError(f"{what} has shape {x.shape}, the box layout {self.shape}")
        return np.ascontiguousarray(x, dtype=dtype).ravel()

    def _converge(self, n0, s1, s2, labels, x):
        """Iterate the clip on the candidates (``x`` relative to the start centre) to convergence.

        ``n0, s1, s2`` are the count and sums of the certainly-kept pixels of every box.
        Returns (keep, n, s1_total, s2_total, mu, var, lim) with ``mu`` relative to the centre.
        """
        return _converge_nb(np.asarray(n0, float), np.asarray(s1, float), np.asarray(s2, float),
                            np.asarray(labels, np.int64), np.asarray(x, float), self.nsigma, self.max_iter)

    @staticmethod
    def _centred(n, mu, var) -> np.ndarray:
        """True where the clipped mean lies within one deviation of the centre the sums were
        taken about: the sums then lost no precision to a centre far from the data."""
        with np.errstate(invalid="ignore"):
            return (n == 0) | (np.abs(mu) <= np.sqrt(var))

    @staticmethod
    def _band_inside(band, mu, lim, n0) -> np.ndarray:
        """True where every certainly-kept pixel (|x| <= band) lies inside the converged limits."""
        with np.errstate(invalid="ignore"):
            return (np.maximum(np.abs(band - mu), np.abs(band + mu)) <= lim) | (n0 == 0) | (band < 0)

    @staticmethod
    def _result(center, n, s1_t, s2_t, factor) -> ClippedStats:
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = center + s1_t / n
            variance_raw = (s2_t - s1_t * s1_t / n) / n
        return ClippedStats(mean, variance_raw / factor, variance_raw, n.astype(np.int64))

    def clip_pair(self, a: np.ndarray, b: np.ndarray, valid: np.ndarray | None = None) -> tuple[ClippedStats, ClippedStats]:
        """Clipped statistics of the summed frame, and of the differenced frame without the
        pixels rejected in the sum, from a single pass over ``a`` and ``b``.

        Equal to ``clip(a, b, 1, valid, keep_mask=True)`` followed by
        ``clip(a, b, -1, kept)``. Boxes whose band from the sample start is not enclosed
        by the converged limits, or whose candidates overflow their bucket, are done again
        (only their runs) from the converged values; the last attempt clips them exactly,
        with every pixel a candidate, as ``sigma_clip`` would.
        """
        a = self._frame(a, "first frame", np.float32)
        b = self._frame(b, "second frame", np.float32)
        v = self._dummy_valid if valid is None else self._frame(valid, "valid mask", bool)
        nb = self.nbox + 1
        start = np.zeros((4, nb))
        for q, sign in ((0, 1.0), (2, -1.0)):
            start[q:q + 2, 1:] = _sample_start(a, b, sign, v, valid is not None, self.sample_index,
                                               self.nsigma, self.max_iter)
        cs, sig_s, cd, sig_d = start
        res = np.full((13, nb), np.nan)
        runs, boxes = self._runs, self._boxes
        exact = np.zeros(nb, bool)
        for attempt in range(self._attempts + self._exact_rounds - 1):
            if attempt >= self._attempts - 1:
                # the boxes still to do take all their pixels as candidates (band -1): exact,
                # like sigma_clip; so does a box without a usable start (inf sigma)
                exact[boxes] = True
            bs = np.where(np.isfinite(sig_s) & ~exact, self.band * sig_s, -1.0)
            bd = np.where(np.isfinite(sig_d) & ~exact, self.band * sig_d, -1.0)
            if attempt == 0 and not exact.any():
                off, cap, cand_s, cand_d = self._off, self._cap, self._cand_s, self._cand_d
            else:  # few boxes: buckets as large as the boxes, which cannot overflow
                cap = np.zeros(nb, np.int64)
                cap[boxes] = self.box_npix[boxes - 1]
                off = np.concatenate([[0], np.cumsum(cap)[:-1]])
                cand_s, cand_d = np.empty(cap.sum()), np.empty(cap.sum())
            _clip_pair_boxes(a, b, v, valid is not None, runs, boxes, self.run_starts, self.run_ends,
                             self.run_labels, cs, bs, cd, bd, off, cap, self.nsigma, self.max_iter, res,
                             cand_s, cand_d)
            r = res[:, boxes]
            ex = exact[boxes]
            # a box is done when its band is inside the converged limits, or, done exactly,
            # when it is centred (sums about a centre far from the data lose precision)
            bad_s = np.where(ex, ~self._centred(r[_N_S], r[_MU_S], r[_VAR_S]), r[_OK_S] == 0)
            bad_d = np.where(ex, ~self._centred(r[_N_D], r[_MU_D], r[_VAR_D]), r[_OK_D] == 0)
            redo = bad_s | bad_d
            if not redo.any():
                break
            # restart from the converged values of the clip that failed (an overflowed box
            # keeps its start)
            fix_s = boxes[bad_s & (r[_OVER] == 0)]
            fix_d = boxes[bad_d & (r[_OVER] == 0)]
            cs[fix_s] += np.nan_to_num(res[_MU_S, fix_s])
            sig_s[fix_s] = np.sqrt(res[_VAR_S, fix_s])
            cd[fix_d] += np.nan_to_num(res[_MU_D, fix_d])
            sig_d[fix_d] = np.sqrt(res[_VAR_D, fix_d])
            for sig in (sig_s, sig_d):
                sig[~np.isfinite(sig) | (sig <= 0)] = np.inf
            boxes = boxes[redo]
            runs = np.flatnonzero(np.isin(self.run_labels, boxes))
        return (self._result(cs[1:], res[_N_S, 1:], res[_T1_S, 1:], res[_T2_S, 1:], self.factor),
                self._result(cd[1:], res[_N_D, 1:], res[_T1_D, 1:], res[_T2_D, 1:], self.factor))
