"""Iteratively sigma-clipped box statistics, vectorised over boxes, for whole frames.

For every box (a label in a label image) this computes what a loop of
``astropy.stats.sigma_clip`` would (3-sigma, mean-centred, iterated to convergence;
non-finite and invalid pixels left out), without a Python loop over boxes and without
reordering the frame:

* a start per box: the same clip on a fixed sample of 512 of its pixels (blocks of 16
  neighbours, cheap to gather). It fixes a band ``|x - c| <= 2.49 s`` whose pixels are
  certainly kept by the clip of the whole box;
* for a pair of frames (:meth:`BoxClipper.clip_pair`) every box is done on its own, the
  boxes in parallel (numba, ``NUMBA_NUM_THREADS`` threads): its start, then one pass over
  its runs (stretches of a row) that forms the summed and the differenced frame on the fly,
  sums the pixels inside both bands in float64 per column of the box (vectorised; the
  columns are added in a fixed order, so the result does not depend on the threads) and
  writes the others, ~3% of them, to the box's bucket;
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
def _sample_clip(x, m, nsigma, max_iter):  # pragma: no cover - jitted
    """The clip of ``x[:m]`` as sigma_clip does it: (clipped mean, clipped deviation or inf)."""
    if m == 0:
        return 0.0, np.inf
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
    return mu, (sig if sig > 0 else np.inf)


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
        out[0, j], out[1, j] = _sample_clip(x, m, nsigma, max_iter)
    return out


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
def _box_start(a, b, valid, use_valid, ga, gb, use_dq, idx, nsigma, max_iter):  # pragma: no cover - jitted
    """:func:`_sample_start` of one box (sample ``idx``) for the sum and for the difference:
    (centre, deviation) of each. A pixel is valid where ``valid`` (if used) is true and,
    if used, ``ga | gb`` is 0."""
    xs = np.empty(idx.size)
    xd = np.empty(idx.size)
    m = 0
    for k in range(idx.size):
        i = idx[k]
        ai = np.float64(a[i])
        bi = np.float64(b[i])
        ok = np.isfinite(a[i]) and np.isfinite(b[i])
        if use_valid:
            ok = ok and valid[i]
        if use_dq:
            ok = ok and (ga[i] | gb[i]) == 0
        xs[m] = ai + bi
        xd[m] = ai - bi
        m += 1 if ok else 0
    mu_s, sig_s = _sample_clip(xs, m, nsigma, max_iter)
    mu_d, sig_d = _sample_clip(xd, m, nsigma, max_iter)
    return mu_s, sig_s, mu_d, sig_d


@numba.njit(cache=True)
def _box_pass(a, b, valid, use_valid, ga, gb, use_dq, runs, starts, ends, run_col, width, cs, bs, cd, bd,
              base, cap, cand_s, cand_d, sums):  # pragma: no cover - jitted
    """One box's pass over its runs (stretches of a row, in image order).

    Pixels inside both bands (sum and difference) are certainly kept by both clips and
    only summed, per column of the box (``run_col`` is a run's first column): no
    dependency from pixel to pixel, so the loops vectorise; the column sums are added in
    column order at the end, a fixed order. Every other valid pixel is a candidate: its sum
    and difference relative to the centres go to the bucket ``cand_s/cand_d[base:base +
    cap]``. Each loop runs over whole views from index 0 and writes at most three arrays
    (LLVM then vectorises it). ``sums`` receives (n, t1, t2) of the sum band, then of the difference
    band. Returns the number of candidates, or -1 when the bucket would overflow.
    """
    acc = np.zeros((4, width))
    w8 = (width + 7) // 8 * 8
    xs_w = np.empty(width)
    xd_w = np.empty(width)
    v_w = np.ones(width, np.uint8)
    in_w = np.empty(width, np.uint8)
    ind_w = np.empty(width, np.uint8)
    cf_w = np.zeros(w8, np.uint8)
    words = cf_w.view(np.uint64)
    n_s = 0
    n_d = 0
    fill = 0
    for r in runs:
        lo = starts[r]
        n = ends[r] - lo
        if fill + n > cap:
            return -1
        c0 = run_col[r]
        a_r = a[lo:lo + n]
        b_r = b[lo:lo + n]
        xs = xs_w[:n]
        xd = xd_w[:n]
        vm = v_w[:n]
        ins = in_w[:n]
        ind = ind_w[:n]
        cf = cf_w[:n]
        for t in range(n):
            ai = np.float64(a_r[t])
            bi = np.float64(b_r[t])
            xs[t] = (ai + bi) - cs
            xd[t] = (ai - bi) - cd
        if use_valid and use_dq:
            v_r = valid[lo:lo + n]
            ga_r = ga[lo:lo + n]
            gb_r = gb[lo:lo + n]
            for t in range(n):
                vm[t] = np.uint8(v_r[t]) & np.uint8((ga_r[t] | gb_r[t]) == 0)
        elif use_valid:
            v_r = valid[lo:lo + n]
            for t in range(n):
                vm[t] = np.uint8(v_r[t])
        elif use_dq:
            ga_r = ga[lo:lo + n]
            gb_r = gb[lo:lo + n]
            for t in range(n):
                vm[t] = np.uint8((ga_r[t] | gb_r[t]) == 0)
        for t in range(n):
            i_s = vm[t] & np.uint8(abs(xs[t]) <= bs)
            i_d = i_s & np.uint8(abs(xd[t]) <= bd)
            ins[t] = i_s
            ind[t] = i_d
            cf[t] = vm[t] & (i_d ^ np.uint8(1))
        k_s = 0
        k_d = 0
        for t in range(n):
            k_s += ins[t]
            k_d += ind[t]
        n_s += k_s
        n_d += k_d
        s1 = acc[0, c0:c0 + n]
        s2 = acc[1, c0:c0 + n]
        for t in range(n):
            w = xs[t] if ins[t] else 0.0
            s1[t] += w
            s2[t] += w * w
        d1 = acc[2, c0:c0 + n]
        d2 = acc[3, c0:c0 + n]
        for t in range(n):
            w = xd[t] if ind[t] else 0.0
            d1[t] += w
            d2[t] += w * w
        # the candidates, ~3% of the pixels: eight flags at a time
        for t in range(n, (n + 7) // 8 * 8):
            cf_w[t] = 0
        m = base + fill
        for w in range((n + 7) // 8):
            if words[w] != 0:
                for t in range(8 * w, 8 * w + 8):
                    if cf_w[t]:
                        cand_s[m] = xs_w[t]
                        cand_d[m] = xd_w[t]
                        m += 1
        fill = m - base
    t = np.zeros(4)
    for k in range(4):
        for c in range(width):
            t[k] += acc[k, c]
    sums[0] = n_s
    sums[1] = t[0]
    sums[2] = t[1]
    sums[3] = n_d
    sums[4] = t[2]
    sums[5] = t[3]
    return fill


@numba.njit(parallel=True, cache=True, nogil=True)
def _clip_pair_boxes(a, b, valid, use_valid, ga, boxes, gb, use_dq, box_ptr, box_runs, starts, ends, run_col,
                     box_width, sample_index, new_start, band, cs, sig_s, cd, sig_d, bs, bd, off, cap, nsigma,
                     max_iter, res, cand_s, cand_d):  # pragma: no cover - jitted
    """Both clips of a pair for the given boxes, each box on its own, boxes in parallel.

    With ``new_start`` a box's start (``cs``, ``sig_s``, ``cd``, ``sig_d``) is first the
    clip of its sample (:func:`_box_start`) and its bands ``band`` times the deviations
    (-1, no band, where ``band`` < 0 or the deviation is inf); otherwise ``bs``, ``bd``
    are given. Then the pass (:func:`_box_pass`) and the clips to convergence: the sum
    over its candidates (pixels outside the sum band); the difference over the pixels
    inside the sum band but outside the difference band, and the sum candidates the sum
    kept. Results go to ``res[:, box]`` (rows ``_N_S`` ... ``_OVER``).
    """
    for q in numba.prange(boxes.size):
        j = boxes[q]
        if new_start:
            cs[j], sig_s[j], cd[j], sig_d[j] = _box_start(a, b, valid, use_valid, ga, gb, use_dq,
                                                          sample_index[j - 1], nsigma, max_iter)
            bs[j] = band * sig_s[j] if band >= 0 and np.isfinite(sig_s[j]) else -1.0
            bd[j] = band * sig_d[j] if band >= 0 and np.isfinite(sig_d[j]) else -1.0
        o = off[j]
        sums = np.zeros(6)
        fill = _box_pass(a, b, valid, use_valid, ga, gb, use_dq, box_runs[box_ptr[j]:box_ptr[j + 1]], starts,
                         ends, run_col, box_width[j], cs[j], bs[j], cd[j], bd[j], o, cap[j], cand_s, cand_d,
                         sums)
        over = fill < 0
        res[_OVER, j] = 1.0 if over else 0.0
        if over:
            res[_OK_S, j] = res[_OK_D, j] = 0.0
            continue
        m = fill
        k2 = o
        for k in range(o, o + m):  # drop the non-finite pixels (compacting the bucket)
            if np.isfinite(cand_s[k]) and np.isfinite(cand_d[k]):
                cand_s[k2] = cand_s[k]
                cand_d[k2] = cand_d[k]
                k2 += 1
        m = k2 - o
        xs_c = np.empty(max(m, 1))
        keep_s = np.empty(max(m, 1), np.bool_)
        xd_c = np.empty(max(m, 1))
        keep_d = np.empty(max(m, 1), np.bool_)
        bsl = bs[j]
        k3 = 0
        for k in range(o, o + m):
            if not abs(cand_s[k]) <= bsl:
                xs_c[k3] = cand_s[k]
                k3 += 1
        _clip_box(xs_c, keep_s, k3, sums[0], sums[1], sums[2], bsl, nsigma, max_iter, res, _N_S, j)
        md = 0
        q2 = 0
        for k in range(o, o + m):
            if abs(cand_s[k]) <= bsl:
                xd_c[md] = cand_d[k]
                md += 1
            else:
                if keep_s[q2]:
                    xd_c[md] = cand_d[k]
                    md += 1
                q2 += 1
        _clip_box(xd_c, keep_d, md, sums[3], sums[4], sums[5], bd[j], nsigma, max_iter, res, _N_D, j)


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


@numba.njit(cache=True, nogil=True)
def _label_runs(flat, nx):  # pragma: no cover - jitted
    """The runs of a flat label image (stretches of one label within a row of ``nx``) and
    what the clipper keeps of them, in one pass over the pixels and one over the runs.

    Returns ``labelled`` (label > 0 per pixel); the runs' ``starts``, ``ends`` (int64) and
    ``labels`` (int32); per label 0..max: pixel count, the first column and one past the
    last column of its runs (``nx`` and 0 for a label without runs) and its longest run;
    the labelled runs grouped by label (a counting sort: image order within a label) and
    ``ptr`` (``ptr[j]:ptr[j + 1]`` are label j's, ``j >= 1``).
    """
    n = flat.size
    labelled = np.empty(n, np.bool_)
    for i in range(n):
        labelled[i] = flat[i] > 0
    starts = np.empty(n, np.int64)  # at most one run per pixel; pages never written stay untouched
    nr = 0
    top = 0
    for r0 in range(0, n, nx):
        r1 = min(r0 + nx, n)
        starts[nr] = r0
        nr += 1
        for i in range(r0 + 1, r1):
            if flat[i] != flat[i - 1]:
                starts[nr] = i
                nr += 1
    run_starts = starts[:nr].copy()
    run_ends = np.empty(nr, np.int64)
    run_labels = np.empty(nr, np.int32)
    for r in range(nr):
        run_ends[r] = run_starts[r + 1] if r + 1 < nr else n
        run_labels[r] = flat[run_starts[r]]
        top = max(top, run_labels[r])
    npix = np.zeros(top + 1, np.int64)
    xmin = np.full(top + 1, nx, np.int64)
    xmax = np.zeros(top + 1, np.int64)
    longest = np.zeros(top + 1, np.int64)
    ptr = np.zeros(top + 2, np.int64)
    for r in range(nr):
        lab = run_labels[r]
        if lab < 0:  # the caller refuses such labels
            continue
        length = run_ends[r] - run_starts[r]
        x0 = run_starts[r] % nx
        npix[lab] += length
        xmin[lab] = min(xmin[lab], x0)
        xmax[lab] = max(xmax[lab], x0 + length)
        longest[lab] = max(longest[lab], length)
        if lab > 0:
            ptr[lab + 1] += 1
    for j in range(1, top + 1):
        ptr[j + 1] += ptr[j]
    box_runs = np.empty(ptr[top + 1], np.int64)
    fill = ptr[:top + 1].copy()
    for r in range(nr):
        lab = run_labels[r]
        if lab > 0:
            box_runs[fill[lab]] = r
            fill[lab] += 1
    return labelled, run_starts, run_ends, run_labels, npix, box_runs, ptr, xmin, xmax, longest


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
        self.flat_labels = flat
        # runs: stretches of one label within a row
        nx = labels.shape[1] if labels.ndim == 2 else max(flat.size, 1)
        (self.labelled, self.run_starts, self.run_ends, self.run_labels, box_npix, box_runs, box_ptr, xmin,
         xmax, longest) = _label_runs(flat, nx)
        if self.run_labels.size and self.run_labels.min() < 0:
            raise ValueError("box labels must be 0 (no box) or positive")
        self.nbox = box_npix.size - 1
        self.box_npix = box_npix[1:]
        # The start is the clip of a per-box sample of n pixels: its mean is off by ~1/sqrt(n)
        # of the clipped deviation s, and s by ~0.75/sqrt(n) of itself. The band |x - c| <=
        # band * s of certainly kept pixels stays inside the converged limits (nsigma s) unless
        # the start is ~4 of those errors off: band = 2.49 for n = 512, 2.27 for 256. A box
        # where it does not is simply done again.
        e = 4.0 / np.sqrt(sample)
        self.band = (nsigma - e) / (1.0 + 0.75 * e)
        # the sample: blocks of 16 neighbouring pixels of the box (one cache line of a float32
        # frame, so gathering it costs little), spread evenly over the box's pixels; position p
        # of the boxes' pixels in label order (each box's in raster order) is found through the
        # lengths of the boxes' runs, which come in that order, without sorting the frame
        first = np.concatenate([[0], np.cumsum(self.box_npix)[:-1]])
        block = 16 if sample % 16 == 0 else 1
        nblock = sample // block
        k = np.arange(sample)
        room = np.maximum(self.box_npix[:, None] - block, 0)
        idx = (k[None, :] // block) * room // max(nblock - 1, 1) + k[None, :] % block
        pos = first[:, None] + np.minimum(idx, np.maximum(self.box_npix[:, None] - 1, 0))
        run_first = np.concatenate([[0], np.cumsum(self.run_ends[box_runs] - self.run_starts[box_runs])])
        q = np.searchsorted(run_first, pos, side="right") - 1
        self.sample_index = self.run_starts[box_runs[q]] + (pos - run_first[q])
        self._outside = np.empty(flat.size, bool)
        self._dummy_valid = np.ones(1, bool)
        # clip_pair: labelled runs in image order, and per box a bucket for its candidates:
        # ~3% of Gaussian pixels fall outside the two bands; the bucket holds 12% plus the
        # box's longest run (a run is checked against the space left before it is read)
        self._boxes = np.arange(1, self.nbox + 1)
        # each box's runs in image order, and the column of the box each run starts at
        self._box_runs = box_runs
        self._box_ptr = box_ptr
        self._box_width = np.maximum(xmax - xmin, 1)
        self._run_col = (self.run_starts % nx - xmin[self.run_labels]).astype(np.int64)
        self._no_dq = np.zeros(1, np.uint8)
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

    def clip_pair(self, a: np.ndarray, b: np.ndarray, valid: np.ndarray | None = None,
                  groupdq: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[ClippedStats, ClippedStats]:
        """Clipped statistics of the summed frame, and of the differenced frame without the
        pixels rejected in the sum, from a single pass over ``a`` and ``b``.

        Equal to ``clip(a, b, 1, valid, keep_mask=True)`` followed by
        ``clip(a, b, -1, kept)``. Boxes whose band from the sample start is not enclosed
        by the converged limits, or whose candidates overflow their bucket, are done again
        (only their runs) from the converged values; the last attempt clips them exactly,
        with every pixel a candidate, as ``sigma_clip`` would.

        Parameters
        ----------
        a, b : ndarray, shape (ny, nx)
            The two frames (float32).
        valid : ndarray of bool, optional
            Pixels that may be used.
        groupdq : (ndarray, ndarray), optional
            The two frames' group DQ (uint8): only pixels where both are 0 are used (as if
            ``valid & ((dq_a | dq_b) == 0)`` were given, without making that array).
        """
        a = self._frame(a, "first frame", np.float32)
        b = self._frame(b, "second frame", np.float32)
        v = self._dummy_valid if valid is None else self._frame(valid, "valid mask", bool)
        if groupdq is None:
            ga = gb = self._no_dq
        else:
            ga, gb = (self._frame(g, "group DQ", np.uint8) for g in groupdq)
        use_valid, use_dq = valid is not None, groupdq is not None
        nb = self.nbox + 1
        cs, sig_s, cd, sig_d, bs, bd = np.zeros((6, nb))
        res = np.full((13, nb), np.nan)
        boxes = self._boxes
        exact = np.zeros(nb, bool)
        for attempt in range(self._attempts + self._exact_rounds - 1):
            if attempt >= self._attempts - 1:
                # the boxes still to do take all their pixels as candidates (band -1): exact,
                # like sigma_clip; so does a box without a usable start (inf sigma)
                exact[boxes] = True
            if attempt:
                bs = np.where(np.isfinite(sig_s) & ~exact, self.band * sig_s, -1.0)
                bd = np.where(np.isfinite(sig_d) & ~exact, self.band * sig_d, -1.0)
            if attempt == 0 and not exact.any():
                off, cap, cand_s, cand_d = self._off, self._cap, self._cand_s, self._cand_d
            else:  # few boxes: buckets as large as the boxes, which cannot overflow
                cap = np.zeros(nb, np.int64)
                cap[boxes] = self.box_npix[boxes - 1]
                off = np.concatenate([[0], np.cumsum(cap)[:-1]])
                cand_s, cand_d = np.empty(cap.sum()), np.empty(cap.sum())
            # the first attempt also takes each box's start from its sample, in the same pass
            _clip_pair_boxes(a, b, v, use_valid, ga, boxes, gb, use_dq, self._box_ptr, self._box_runs,
                             self.run_starts, self.run_ends, self._run_col, self._box_width, self.sample_index,
                             attempt == 0, -1.0 if exact.any() else self.band, cs, sig_s, cd, sig_d, bs, bd,
                             off, cap, self.nsigma, self.max_iter, res, cand_s, cand_d)
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
        return (self._result(cs[1:], res[_N_S, 1:], res[_T1_S, 1:], res[_T2_S, 1:], self.factor),
                self._result(cd[1:], res[_N_D, 1:], res[_T1_D, 1:], res[_T2_D, 1:], self.factor))
