"""Clipped pixel covariances of the differenced frame, box by box, at small lags.

For a pair of frames ``a``, ``b`` the covariance at lag ``(dx, dy)`` of the differenced
frame ``d = a - b`` is measured over the same pixels as its variance
(:meth:`~nircam_gui.core.gain.clipstats.BoxClipper.clip_pair`: valid, kept by the clip
of the summed frame and by the clip of the differenced frame); a pixel pair counts when
both pixels are kept and lie in the same box. As in Astier et al. (2019, appendix) and
LSST cp_pipe, the lags ``(dx, dy)`` and ``(-dx, dy)`` are averaged, so the result is the
quadrant ``cov[dy, dx]`` for ``0 <= dx, dy <= maxlag``; ``cov[0, 0]`` is the variance.

Clipping and covariances
------------------------
The clip keeps ``|x| < k s`` for each pixel separately. For two Gaussian pixels with a
small correlation, the covariance of the pairs where both are kept is reduced by the
square of the variance ratio ``r`` that the clip keeps (to first order in the
correlation: ``E[xy | kept] = rho sigma^2 r^2``), where the variance is reduced by ``r``
alone. The lag terms are therefore divided by ``r^2``, the variance by ``r``.
"""

from __future__ import annotations

import numba
import numpy as np

from .clipstats import BoxClipper, ClippedStats

__all__ = ["BoxCovariances", "lag_pairs"]


def lag_pairs(maxlag: int) -> np.ndarray:
    """Lags ``(dx, dy)`` measured: ``dy = 0`` with ``dx >= 0``, and ``dy > 0`` with any ``dx``."""
    lags = [(dx, 0) for dx in range(maxlag + 1)]
    lags += [(dx, dy) for dy in range(1, maxlag + 1) for dx in range(-maxlag, maxlag + 1)]
    return np.array(lags, np.int64)


# Products are summed in integers: a kept pixel of the differenced frame lies within the
# clip limit L of its box, so q = round(v / L * 2^20) fits in 21 bits, a product in 42 and
# a box's sum (at most 2^21 pixels per lag) in 63. Integer sums are exact and associative,
# so the compiler vectorises them and the result does not depend on the order of the
# additions; the quantisation (L 2^-20, a millionth of the clip limit) is far below any
# covariance measured.
_QBITS = 20


@numba.njit(cache=True, nogil=True)
def _kept_runs(a, b, valid, use_valid, nx, rows, starts, ends, labels, mu_s, lim_s, mu_d, lim_d,
               q, klab):  # pragma: no cover - jitted
    """The pixels the clips kept (box label, else 0) and the quantised, centred differenced
    frame (0 elsewhere).

    At convergence the clip keeps exactly the pixels within its limits of its mean, so the
    selection follows from the statistics: inside the sum's limits, then the difference's.
    """
    scale = 2.0 ** _QBITS
    for r in range(starts.size):
        lab = labels[r]
        base = rows[r] * nx
        ms = mu_s[lab]
        ls = lim_s[lab]
        md = mu_d[lab]
        ld = lim_d[lab]
        f = scale / ld if ld > 0 else 0.0
        for x in range(starts[r], ends[r]):
            p = base + x
            ai = np.float64(a[p])
            bi = np.float64(b[p])
            xd = (ai - bi) - md
            ok = abs((ai + bi) - ms) <= ls and abs(xd) <= ld
            if use_valid:
                ok = ok and valid[p]
            q[p] = np.int32(np.rint(xd * f)) if ok else 0
            klab[p] = lab if ok else 0


@numba.njit(cache=True, nogil=True)
def _dot(a, b, la, lb, lab):  # pragma: no cover - jitted
    """Sum of ``a * b`` where ``lb == lab``, and the count where both labels are ``lab``."""
    acc = np.int64(0)
    cnt = np.int64(0)
    for i in range(a.size):
        s2 = np.int64(lb[i] == lab)
        acc += np.int64(a[i]) * np.int64(b[i]) * s2
        cnt += np.int64(la[i] == lab) & s2
    return acc, cnt


@numba.njit(cache=True, nogil=True)
def _cov_runs(q, klab, nx, ny, rows, starts, ends, labels, lags, sums, counts):  # pragma: no cover - jitted
    """Per box and lag: sum of ``q[p] q[p + lag]`` over kept pixel pairs of that box, and their number.

    ``q`` is zero at pixels not kept; ``klab`` holds the box label of kept pixels and 0
    elsewhere. Runs are stretches of one row with one box label.
    """
    for r in range(starts.size):
        lab = labels[r]
        y = rows[r]
        for k in range(lags.shape[0]):
            dx = lags[k, 0]
            dy = lags[k, 1]
            if y + dy >= ny:
                continue
            x0 = max(starts[r], -dx)
            x1 = min(ends[r], nx - dx)
            if x1 <= x0:
                continue
            p = y * nx + x0
            p2 = p + dy * nx + dx
            m = x1 - x0
            acc, cnt = _dot(q[p:p + m], q[p2:p2 + m], klab[p:p + m], klab[p2:p2 + m], lab)
            sums[lab, k] += acc
            counts[lab, k] += cnt


class BoxCovariances:
    """Covariances of the differenced frame for the boxes of a :class:`BoxClipper`.

    Parameters
    ----------
    clipper : BoxClipper
        The layout (and clipping limit) the variance is measured with.
    maxlag : int
        Largest lag in x and in y (default 3).
    """

    def __init__(self, clipper: BoxClipper, maxlag: int = 3) -> None:
        if maxlag < 0:
            raise ValueError(f"maxlag {maxlag}: must be >= 0")
        self.clipper = clipper
        self.maxlag = int(maxlag)
        self.lags = lag_pairs(self.maxlag)
        ny, nx = clipper.shape
        lab2 = clipper.flat_labels.reshape(ny, nx)
        # runs that never cross a row end
        brk = np.zeros((ny, nx), bool)
        brk[:, 0] = True
        brk[:, 1:] = lab2[:, 1:] != lab2[:, :-1]
        starts = np.flatnonzero(brk.ravel())
        ends = np.concatenate([starts[1:], [ny * nx]])
        rows = starts // nx
        ends = np.minimum(ends, (rows + 1) * nx)
        keep = clipper.flat_labels[starts] > 0
        self._rows = rows[keep].astype(np.int64)
        self._starts = (starts[keep] - rows[keep] * nx).astype(np.int64)
        self._ends = (ends[keep] - rows[keep] * nx).astype(np.int64)
        self._labels = clipper.flat_labels[starts[keep]].astype(np.int64)
        r = clipper.factor
        self.factors = np.full((self.maxlag + 1, self.maxlag + 1), r * r)
        self.factors[0, 0] = r

    def kept(self, a: np.ndarray, b: np.ndarray, valid: np.ndarray | None, ss: ClippedStats,
             sd: ClippedStats) -> tuple[np.ndarray, np.ndarray]:
        """Box label of every pixel the variance of the differenced frame used (0 elsewhere),
        the differenced frame about its clipped mean (0 where not used) quantised in units of
        ``lim / 2^20``, both flat, and ``lim`` (the clip limit per label, 0 first)."""
        c = self.clipper
        n = c.nsigma

        def per_label(x):
            out = np.full(c.nbox + 1, np.nan)
            out[1:] = x
            return out

        with np.errstate(invalid="ignore"):
            lim_s = per_label(n * np.sqrt(ss.variance_raw))
            lim_d = per_label(n * np.sqrt(sd.variance_raw))
        af = np.ascontiguousarray(a, np.float32).ravel()
        bf = np.ascontiguousarray(b, np.float32).ravel()
        use_valid = valid is not None
        vf = np.ascontiguousarray(valid, bool).ravel() if use_valid else np.ones(1, bool)
        q = np.zeros(af.size, np.int32)
        klab = np.zeros(af.size, np.int32)
        _kept_runs(af, bf, vf, use_valid, c.shape[1], self._rows, self._starts, self._ends, self._labels,
                   per_label(ss.mean), lim_s, per_label(sd.mean), lim_d, q, klab)
        return klab, q, lim_d

    def measure(self, a: np.ndarray, b: np.ndarray, valid: np.ndarray | None, ss: ClippedStats,
                sd: ClippedStats) -> tuple[np.ndarray, np.ndarray]:
        """Clipping-corrected covariances and pixel-pair counts of every box.

        Parameters
        ----------
        a, b : ndarray, shape (ny, nx)
            The two frames of a pair (one group).
        valid : ndarray of bool, optional
            As given to ``clip_pair``.
        ss, sd : ClippedStats
            ``clip_pair``'s statistics of the summed and differenced frame.

        Returns
        -------
        cov : ndarray, shape (nbox, maxlag + 1, maxlag + 1)
            ``cov[k, dy, dx]`` of the differenced frame (ADU^2), NaN without pairs.
        npairs : ndarray of int, same shape
        """
        klab, q, lim = self.kept(a, b, valid, ss, sd)
        ny, nx = self.clipper.shape
        nb = self.clipper.nbox
        nl = len(self.lags)
        isums = np.zeros((nb + 1, nl), np.int64)
        counts = np.zeros((nb + 1, nl), np.int64)
        _cov_runs(q, klab, nx, ny, self._rows, self._starts, self._ends, self._labels, self.lags, isums, counts)
        with np.errstate(invalid="ignore"):
            sums = isums * (lim[:, None] * 2.0**-_QBITS) ** 2
        m = self.maxlag + 1
        s = np.zeros((nb, m, m))
        c = np.zeros((nb, m, m))
        for q, (dx, dy) in enumerate(self.lags):
            s[:, dy, abs(dx)] += sums[1:, q]
            c[:, dy, abs(dx)] += counts[1:, q]
        with np.errstate(invalid="ignore", divide="ignore"):
            cov = s / c / self.factors[None]
        return cov, c.astype(np.int64)
