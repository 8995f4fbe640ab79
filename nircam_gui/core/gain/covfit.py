"""The full covariance model of the photon transfer curve (Astier et al. 2019, eq. 20).

For a flat of mean ``mu`` (ADU, one frame) the covariance at lag ``(i, j)`` is

    C_ij = mu/g delta_i0 delta_j0
         + (1/g^2) [ a_ij N^2 + 2/3 (a*a + ab)_ij N^3 + (1/3 a*a*a + 5/6 a*ab)_ij N^4 ] + n_ij / g^2

with ``N = mu g`` electrons, ``a`` the brighter-fatter (BFE) coefficients (1/e-), ``b``
their optional linear dependence on the charge, ``n`` the noise matrix (e-^2) and ``*``
the 2-D convolution of the matrices made symmetric over the four quadrants. This is the
model LSST cp_pipe fits (``PhotonTransferCurveSolveTask``, ``FULLCOVARIANCE`` and
``FULLCOVARIANCE_NO_B``); the implementation here is our own.

The fit is made in two stages, because a box of 256 px has too few pixel pairs to pin
the a-matrix:

1. per amplifier the covariances of its boxes (epoxy-void boxes left out), averaged with
   pixel weights, are fitted for gain, a, n (and b) up to the turnoff of the PTC; the
   epoxy-void boxes of all amplifiers are fitted the same way, for the record, and so
   are the normal boxes of all amplifiers together (``detector``);
2. per box and pair the variance alone gives the gain at zero signal and the noise,
   with the detector's a-matrix (and b) held fixed: the BFE terms are subtracted and
   the rest is a straight line, re-fitted until the gain used in the BFE terms settles.

The BFE is a property of the pixels, not of the amplifier reading them, and the
amplifiers' a-matrices agree within their errors on every simulated set; pooled over
the four, the a-matrix has half the error, and its error is what moves a box's
zero-signal gain (on full-frame flats without BFE, by up to 0.2% with an amplifier's
a-matrix, 0.1% with the pooled one). An amplifier whose own fit has no gain keeps its
boxes on the pooled matrix all the same; without a pooled fit each box takes its
amplifier's.

Statistics are those of :mod:`.covariances`: the mean of the summed frame and the
covariances of the differenced frame; both are halved to single-frame values.
Up-the-ramp groups of an integration are correlated: the pooled fits weight a pair's first
point and the steps between its groups, which are nearly independent (``_step_weights``);
the per-box fits treat the groups as independent, so their own errors are too small, and
the map-difference uncertainties (:mod:`.maps`) stay the honest ones.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

__all__ = ["CovModelFit", "CovarianceSolution", "cov_model", "find_turnoff", "fit_amp_covariances",
           "fit_box_gains", "ipc_coupling", "model_terms", "solve_covariance_model"]


def _symmetric(q: np.ndarray, size: int) -> np.ndarray:
    """Quadrant ``q[j, i]`` padded to ``size`` and mirrored over the four quadrants."""
    e = np.zeros((size, size))
    e[: q.shape[0], : q.shape[1]] = q
    full = np.zeros((2 * size - 1, 2 * size - 1))
    c = size - 1
    full[c:, c:] = e
    full[c:, c::-1] = e
    full[c::-1, c::-1] = e
    full[c::-1, c:] = e
    return full


def model_terms(a: np.ndarray, c: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The matrices of the model's powers of N: ``a``, ``a*a + c``, ``a*a*a/3 + 5/6 a*c`` (quadrants).

    Returns (t1, t2, t3, shape) with ``C g^2 = t1 N^2 + 2/3 t2 N^3 + t3 N^4`` besides shot
    and noise terms; ``c = a b``.
    """
    from scipy.signal import convolve2d  # scipy.signal loads scipy.stats (~1 s): only when a model is fitted

    m = a.shape[0]
    size = int(m * 1.5) + 1
    a_s = _symmetric(a, size)
    c = np.zeros_like(a) if c is None else c
    c_s = _symmetric(c, size)
    ctr = size - 1
    a2 = convolve2d(a_s, a_s, mode="same")
    a3 = convolve2d(a2, a_s, mode="same")
    ac = convolve2d(a_s, c_s, mode="same")

    def quad(x):
        return x[ctr:ctr + m, ctr:ctr + m]

    return a, quad(a2) + c, quad(a3) / 3.0 + 5.0 / 6.0 * quad(ac), np.array(a.shape)


def cov_model(mu: np.ndarray, gain: float, a: np.ndarray, noise: np.ndarray, c: np.ndarray | None = None) -> np.ndarray:
    """Covariances (ADU^2) of the model at single-frame means ``mu`` (ADU): shape (n, m, m).

    Parameters
    ----------
    mu : ndarray, shape (n,)
    gain : float
        e-/ADU.
    a, noise : ndarray, shape (m, m)
        BFE coefficients (1/e-) and noise matrix (e-^2), quadrants ``[dy, dx]``.
    c : ndarray, shape (m, m), optional
        ``a b`` (1/e-^2); None for the model without b.
    """
    t1, t2, t3, _ = model_terms(a, c)
    n = np.asarray(mu, float)[:, None, None] * gain
    out = (t1 * n**2 + 2.0 / 3.0 * t2 * n**3 + t3 * n**4 + noise) / gain**2
    out[:, 0, 0] += np.asarray(mu, float) / gain
    return out


def find_turnoff(mean: np.ndarray, variance: np.ndarray, npix: np.ndarray, box_npix: np.ndarray,
                 min_pixel_fraction: float = 0.5, npix_drop: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """The last group before each box's PTC turns over.

    Per box, on the pair-averaged PTC: the turnoff is the last group before the first one
    whose variance does not rise above the previous group's, whose statistics are missing,
    or whose kept pixels fall by more than ``npix_drop`` below the most the box kept
    (pixels flagged saturated leave the statistics as the brightest saturate first).

    Parameters
    ----------
    mean, variance, npix : ndarray, shape (npairs, ngroups, nbox)
    box_npix : ndarray, shape (nbox,)

    Returns
    -------
    group : ndarray of int, shape (nbox,)
        Index of the last group below the turnoff (-1 when none).
    level : ndarray, shape (nbox,)
        Single-frame mean signal (ADU) at that group (NaN when none).
    """
    with warnings.catch_warnings():  # groups without statistics in any pair (all saturated) stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        m = np.nanmean(np.where(np.isfinite(variance), mean, np.nan), axis=0)
        v = np.nanmean(variance, axis=0)
        n = np.nanmean(npix.astype(float), axis=0)
    ngroups, nbox = v.shape
    good = np.isfinite(v) & np.isfinite(m) & (n >= min_pixel_fraction * box_npix[None, :])
    nmax = np.nanmax(np.where(good, n, np.nan), axis=0) if good.any() else np.zeros(nbox)
    good &= n >= (1.0 - npix_drop) * nmax[None, :]
    rising = np.ones_like(good)
    rising[1:] = v[1:] > v[:-1]
    ok = good & rising
    # the first failure ends the PTC
    last = np.where(ok.all(axis=0), ngroups - 1, np.argmin(ok, axis=0) - 1)
    level = np.full(nbox, np.nan)
    has = last >= 0
    level[has] = m[last[has], np.flatnonzero(has)] / 2.0
    return last.astype(int), level


@dataclass
class CovModelFit:
    """Full-covariance fit of one set of boxes (an amplifier, or the epoxy void)."""

    label: str
    boxes: np.ndarray  # box indices (0-based) pooled
    gain: float
    gain_err: float
    a: np.ndarray  # (m, m) 1/e-
    a_err: np.ndarray
    noise: np.ndarray  # (m, m) e-^2
    noise_err: np.ndarray
    b: np.ndarray | None  # (m, m) 1/e- (c / a), None without the b term
    c: np.ndarray | None
    mu: np.ndarray  # (npoints,) single-frame mean (ADU)
    cov: np.ndarray  # (npoints, m, m) single-frame covariances (ADU^2)
    used: np.ndarray  # (npoints,) bool
    chi2_dof: float
    turnoff: float  # single-frame ADU, the lowest of the pooled boxes
    notes: list[str] = field(default_factory=list)

    def model(self, mu: np.ndarray) -> np.ndarray:
        """The fitted covariances at ``mu``: shape (n, m, m)."""
        return cov_model(mu, self.gain, self.a, self.noise, self.c)


def _pool(mean, cov, boxes, weights):
    """Pixel-weighted mean of the boxes' statistics, halved to single frames: (npoints,), (npoints, m, m)."""
    w = weights[boxes].astype(float)
    mm = mean[:, :, boxes]
    cc = cov[:, :, boxes]
    ok = np.isfinite(mm) & np.isfinite(cc).all(axis=(-1, -2))
    ww = np.where(ok, w[None, None, :], 0.0)
    tot = ww.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = (np.where(ok, mm, 0.0) * ww).sum(-1) / tot
        c = (np.where(ok[..., None, None], cc, 0.0) * ww[..., None, None]).sum(2) / tot[..., None, None]
    return mu / 2.0, c / 2.0, tot


def _step_weights(used: np.ndarray, var: np.ndarray, npix: float, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Predecessor of every used point and the noise of its step, for fits to cumulative frames.

    The covariances of one integration's groups are measured on cumulative frames, so their
    errors are strongly correlated: a group's estimate holds the previous one's plus the
    products of the new charge with everything collected before. The steps between
    consecutive points of a pair are nearly independent, with variance
    ``(V_g^2 - V_{g-1}^2) / N`` at a lag and twice that for the variance (``V`` the
    single-frame variance, ``N`` the pixels), and the first point of a pair has ``V^2 / N``.
    Fitting the residuals of the first point and of the steps, with these errors, is the
    least-squares fit with the covariance of the cumulative points (read noise, not
    shared between groups, is neglected in it).

    Parameters
    ----------
    used : ndarray of bool, shape (npairs, ngroups)
    var : ndarray, shape (nused,)
        Variance at every used point (pair-major, as ``mu[used]``).
    npix : float
    m : int
        Size of the lag matrices.

    Returns
    -------
    prev : ndarray of int, shape (nused,)
        Index of the previous used point of the same pair (-1 for a pair's first).
    sig : ndarray, shape (nused, m, m)
    """
    idx = np.cumsum(used.ravel()).reshape(used.shape) - 1
    prev = np.full(int(used.sum()), -1)
    for p in range(used.shape[0]):
        g = np.flatnonzero(used[p])
        prev[idx[p, g[1:]]] = idx[p, g[:-1]]
    v2 = np.asarray(var, float) ** 2
    step = np.where(prev >= 0, v2 - np.where(prev >= 0, v2[prev], 0.0), v2)
    # a variance that did not rise (noise at the top of the PTC) keeps a tenth of its level's weight
    step = np.maximum(step, 0.1 * v2)
    sig = np.repeat(np.sqrt(step / npix)[:, None, None], m, axis=1).repeat(m, axis=2)
    sig[:, 0, 0] *= np.sqrt(2.0)
    return prev, sig


def fit_amp_covariances(label: str, boxes: np.ndarray, mean: np.ndarray, cov: np.ndarray, npix: np.ndarray,
                        box_npix: np.ndarray, turnoff_group: np.ndarray, fit_lag: int = 3,
                        with_b: bool = False) -> CovModelFit:
    """Fit the full covariance model to the pooled covariances of ``boxes``.

    Parameters
    ----------
    label : str
    boxes : ndarray of int
        0-based indices of the boxes pooled.
    mean : ndarray, shape (npairs, ngroups, nbox)
        Clipped mean of the summed frame (ADU).
    cov : ndarray, shape (npairs, ngroups, nbox, m, m)
        Covariances of the differenced frame (ADU^2).
    npix : ndarray, shape (npairs, ngroups, nbox)
        Pixels kept in the differenced frame.
    box_npix : ndarray, shape (nbox,)
    turnoff_group : ndarray of int, shape (nbox,)
        Last group below each box's turnoff.
    fit_lag : int
        Largest lag fitted (the matrices are ``fit_lag + 1`` square).
    with_b : bool
        Fit the b term too.
    """
    m = fit_lag + 1
    npairs, ngroups = mean.shape[:2]
    mu, c, _ = _pool(mean, cov[..., :m, :m], boxes, box_npix)
    mu = mu.reshape(-1)
    c = c.reshape(-1, m, m)
    last = int(np.min(turnoff_group[boxes])) if len(boxes) else -1
    gidx = np.tile(np.arange(ngroups), npairs)
    used = np.isfinite(mu) & np.isfinite(c).all(axis=(1, 2)) & (gidx <= last)
    nan = np.full((m, m), np.nan)
    turn = float(np.nanmax(np.where(used, mu, np.nan))) if used.any() else np.nan
    npar = 2 * m * m + 1 + (m * m if with_b else 0)
    if used.sum() * m * m <= npar or used.sum() < 4:
        return CovModelFit(label, boxes, np.nan, np.nan, nan, nan, nan, nan, None, None, mu, c, used, np.nan, turn,
                           [f"{label}: {int(used.sum())} usable points, too few for the covariance model"])
    # a variance that is not positive (no photon noise: not a flat) carries no weight
    used &= c[:, 0, 0] > 0
    if used.sum() * m * m <= npar or used.sum() < 4:
        return CovModelFit(label, boxes, np.nan, np.nan, nan, nan, nan, nan, None, None, mu, c, used, np.nan, turn,
                           [f"{label}: {int(used.sum())} points with a positive variance, too few for the "
                            "covariance model"])
    x = mu[used]
    y = c[used]
    npix_pooled = float(np.sum(box_npix[boxes]))
    prev, sig = _step_weights(used.reshape(npairs, ngroups), y[:, 0, 0], npix_pooled, m)
    # start: per lag a parabola (C_ij = a_ij mu^2 + ... in ADU, since N^2 / g^2 = mu^2)
    a0 = np.zeros((m, m))
    n0 = np.zeros((m, m))
    with warnings.catch_warnings():  # a poorly conditioned start is still a start
        warnings.simplefilter("ignore")
        p00 = np.polyfit(x, y[:, 0, 0], 2)
        g0 = 1.0 / p00[1] if p00[1] > 0 else 2.0
        for j in range(m):
            for i in range(m):
                p = np.polyfit(x, y[:, j, i], 2)
                a0[j, i] = p[0]
                n0[j, i] = p[2] * g0**2
    if not (np.isfinite(a0).all() and np.isfinite(n0).all()):
        a0, n0 = np.zeros((m, m)), np.zeros((m, m))
    k = m * m

    def unpack(p):
        a = p[:k].reshape(m, m)
        nz = p[k:2 * k].reshape(m, m)
        cc = p[2 * k:3 * k].reshape(m, m) if with_b else None
        return a, nz, cc, p[-1]

    def resid(p):
        a, nz, cc, g = unpack(p)
        d = cov_model(x, g, a, nz, cc) - y
        return ((d - np.where(prev[:, None, None] >= 0, d[prev], 0.0)) / sig).ravel()

    from scipy.optimize import least_squares

    p0 = np.concatenate([a0.ravel(), n0.ravel()] + ([np.zeros(k)] if with_b else []) + [[g0]])
    try:
        # parameters of very different sizes: let the solver scale them by the Jacobian
        res = least_squares(resid, p0, x_scale="jac", method="lm", xtol=1e-12, ftol=1e-12, max_nfev=2000)
    except (ValueError, np.linalg.LinAlgError) as exc:  # degenerate points (e.g. constant frames)
        return CovModelFit(label, boxes, np.nan, np.nan, nan, nan, nan, nan, None, None, mu, c, used, np.nan, turn,
                           [f"{label}: covariance model not fitted ({exc})"])
    a, nz, cc, g = unpack(res.x)
    dof = max(res.fun.size - res.x.size, 1)
    chi2 = float(np.sum(res.fun**2) / dof)
    try:
        cov_p = np.linalg.inv(res.jac.T @ res.jac) * max(chi2, 1.0)
        err = np.sqrt(np.clip(np.diag(cov_p), 0, None))
    except np.linalg.LinAlgError:
        err = np.full(res.x.size, np.nan)
    notes = []
    if not res.success:
        notes.append(f"{label}: covariance fit did not converge ({res.message})")
    b = None
    if with_b:
        with np.errstate(invalid="ignore", divide="ignore"):
            b = cc / a
    return CovModelFit(label, boxes, float(g), float(err[-1]), a, err[:k].reshape(m, m), nz,
                       err[k:2 * k].reshape(m, m), b, cc, mu, c, used, chi2, turn, notes)


def fit_box_gains(mean: np.ndarray, variance: np.ndarray, npix: np.ndarray, box_npix: np.ndarray,
                  turnoff_group: np.ndarray, fits: list[CovModelFit], box_fit: np.ndarray,
                  cap: float | None = None, min_points: int = 3, min_pixel_fraction: float = 0.5,
                  iterations: int = 6) -> dict[str, np.ndarray]:
    """Gain at zero signal of every pair and box, with the a-matrix of the box's fit held fixed.

    Parameters
    ----------
    mean, variance, npix : ndarray, shape (npairs, ngroups, nbox)
        Summed-frame mean, differenced-frame variance (clipping-corrected), kept pixels.
    box_npix : ndarray, shape (nbox,)
    turnoff_group : ndarray of int, shape (nbox,)
    fits : list of CovModelFit
    box_fit : ndarray of int, shape (nbox,)
        Index into ``fits`` for every box (-1: none): the detector's pooled fit, or the
        box's amplifier's where there is no pooled fit.
    cap : float, optional
        Upper single-frame signal (ADU) of the groups used.

    Returns
    -------
    dict of arrays (npairs, nbox): ``gain``, ``gain_err``, ``noise`` (single-frame, ADU^2),
    ``npoints``; and ``used`` (npairs, ngroups, nbox).
    """
    npairs, ngroups, nbox = mean.shape
    mu = mean / 2.0
    y = variance / 2.0
    g_idx = np.arange(ngroups)[None, :, None]
    used = (np.isfinite(mu) & np.isfinite(y) & (npix >= min_pixel_fraction * box_npix[None, None, :])
            & (g_idx <= turnoff_group[None, None, :]) & (box_fit >= 0)[None, None, :])
    if cap is not None:
        used &= mu < cap
    # the BFE terms of C00 per fit: t1 N^2 + 2/3 t2 N^3 + t3 N^4
    t = np.zeros((3, nbox))
    for k, f in enumerate(fits):
        sel = box_fit == k
        if not np.isfinite(f.gain):
            used[:, :, sel] = False
            continue
        t1, t2, t3, _ = model_terms(f.a, f.c)
        t[:, sel] = np.array([t1[0, 0], t2[0, 0], t3[0, 0]])[:, None]
    w = np.where(used, 1.0, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = w / np.where(used, y, 1.0) ** 2  # noise of a variance grows with it
    x = np.where(used, mu, 0.0)
    n = used.sum(axis=1)
    g = np.full((npairs, nbox), 2.0)
    slope = intercept = slope_err = np.full((npairs, nbox), np.nan)
    for _ in range(iterations):
        ne = x * g[:, None, :]
        bfe = (t[0] * ne**2 + 2.0 / 3.0 * t[1] * ne**3 + t[2] * ne**4) / g[:, None, :] ** 2
        yy = np.where(used, y - bfe, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            sw = w.sum(1)
            xm = (w * x).sum(1) / sw
            ym = (w * yy).sum(1) / sw
            dx = np.where(used, x - xm[:, None, :], 0.0)
            dy = np.where(used, yy - ym[:, None, :], 0.0)
            sxx = (w * dx * dx).sum(1)
            slope = (w * dx * dy).sum(1) / sxx
            intercept = ym - slope * xm
            new = 1.0 / slope
        g = np.where(np.isfinite(new) & (new > 0), new, g)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(used, yy - intercept[:, None, :] - slope[:, None, :] * x, 0.0)
        dof = n - 2
        s2 = (w * r * r).sum(1) / np.where(dof > 0, dof, np.nan)
        slope_err = np.sqrt(s2 / sxx)
        gain = np.where((n >= min_points) & (slope > 0), 1.0 / slope, np.nan)
        gain_err = slope_err / slope**2
    return {"gain": gain, "gain_err": np.where(np.isfinite(gain), gain_err, np.nan), "noise": intercept,
            "npoints": n, "used": used}


@dataclass
class CovarianceSolution:
    """The covariance model of a run: per-amplifier fits, turnoffs and per-pair box gains."""

    fits: list[CovModelFit]
    box_fit: np.ndarray  # (nbox,) index into fits
    turnoff_group: np.ndarray  # (nbox,)
    turnoff: np.ndarray  # (nbox,) single-frame ADU
    cap: float | None
    pair_gain: np.ndarray  # (npairs, nbox), IPC factor applied
    gain_err_fit: np.ndarray  # (npairs, nbox)
    noise: np.ndarray  # (npairs, nbox) single-frame variance at zero signal (ADU^2)
    used: np.ndarray  # (npairs, ngroups, nbox)
    with_b: bool
    fit_lag: int


def solve_covariance_model(mean: np.ndarray, variance: np.ndarray, cov: np.ndarray, npix: np.ndarray,
                           box_table, cap: float | None = None, fit_lag: int = 3, with_b: bool = False,
                           ipc_factor: float = 1.0) -> CovarianceSolution:
    """Turnoffs, the a-matrix per amplifier (and for the epoxy void), and box gains at zero signal.

    Parameters
    ----------
    mean, variance, npix : ndarray, shape (npairs, ngroups, nbox)
    cov : ndarray, shape (npairs, ngroups, nbox, m, m)
    box_table : astropy.table.Table
        The boxes (``amp``, ``region``, ``npix``).
    cap : float, optional
        Single-frame signal cap (ADU) of the box gain fits.
    fit_lag : int
        Largest lag in the model (at most the lag measured).
    with_b : bool
        Fit the b term.
    ipc_factor : float
        Factor applied to the gains (1 when the data were deconvolved).
    """
    fit_lag = min(fit_lag, cov.shape[-1] - 1)
    box_npix = np.asarray(box_table["npix"])
    amps = np.asarray(box_table["amp"])
    regions = np.asarray(box_table["region"])
    turn_g, turn = find_turnoff(mean, variance, npix, box_npix)
    fits: list[CovModelFit] = []
    box_fit = np.full(len(box_npix), -1)
    # every box takes the pooled a-matrix, epoxy-void boxes too: the void fit (a few hundred
    # thousand pixels) is reported, but its a-matrix is several times noisier
    for a in np.unique(amps):
        idx = np.flatnonzero((amps == a) & (regions != "epoxy"))
        if idx.size == 0:
            continue
        box_fit[amps == a] = len(fits)
        fits.append(fit_amp_covariances(f"amp{a}", idx, mean, cov, npix, box_npix, turn_g, fit_lag, with_b))
    void = np.flatnonzero(regions == "epoxy")
    if void.size:
        fits.append(fit_amp_covariances("epoxy", void, mean, cov, npix, box_npix, turn_g, fit_lag, with_b))
    normal = np.flatnonzero(regions != "epoxy")
    if len(np.unique(amps[normal])) > 1:
        pooled = fit_amp_covariances("detector", normal, mean, cov, npix, box_npix, turn_g, fit_lag, with_b)
        if np.isfinite(pooled.gain) and np.isfinite(pooled.a).all():
            box_fit[:] = len(fits)
        fits.append(pooled)
    res = fit_box_gains(mean, variance, npix, box_npix, turn_g, fits, box_fit, cap)
    return CovarianceSolution(fits, box_fit, turn_g, turn, cap, res["gain"] * ipc_factor,
                              res["gain_err"] * ipc_factor, res["noise"], res["used"], with_b, fit_lag)


def _region_points(mean: np.ndarray, cov: np.ndarray, boxes: np.ndarray, box_npix: np.ndarray,
                   max_signal: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Pooled single-frame means (npairs, ngroups), lag-0/1 covariances (npairs, ngroups, 2, 2),
    the groups used (up to the pooled turnoff or below ``max_signal``) and the pixels pooled."""
    mu, c, _ = _pool(mean, cov[..., :2, :2], boxes, box_npix)
    ok = np.isfinite(mu) & np.isfinite(c).all(axis=(-1, -2))
    if max_signal is not None:
        ok &= mu < max_signal
    else:
        v = np.where(ok, c[..., 0, 0], np.nan)[..., None]
        m2 = np.where(ok, 2.0 * mu, np.nan)[..., None]
        last, _ = find_turnoff(m2, v, np.ones_like(v), np.ones(1))
        ok &= np.arange(mu.shape[1])[None, :] <= last[0]
    return mu, c, ok, float(np.sum(box_npix[boxes]))


def _step_fit(mu: np.ndarray, c: np.ndarray, ok: np.ndarray, npix: float,
              quadratic: dict | None = None) -> dict:
    """Weighted fit of the group-to-group steps of C00, C10 and C01: ``dC = s dmu + q d(mu^2)``.

    The steps of the sample covariances of one integration's cumulative frames are nearly
    independent, with variance ``k (V_g^2 - V_{g-1}^2) / npix`` (``V`` the variance, ``k`` = 2
    at lag 0 and 1 at lag 1): a group adds its own noise and its products with what the
    frame already held. The constant terms (read noise, kTC, the calibration's row and
    column corrections) cancel in the steps. ``quadratic`` holds ``q`` per lag to use
    instead of fitting it. Returns per lag (``"00"``, ``"10"``, ``"01"``): slope, its error,
    ``q``, reduced chi^2 and the number of steps.
    """
    dmu, dmu2, var, dc = [], [], [], []
    for p in range(mu.shape[0]):
        g = np.flatnonzero(ok[p])
        g = g[np.isin(g - 1, g)]
        v = c[p, :, 0, 0]
        dmu.append(mu[p, g] - mu[p, g - 1])
        dmu2.append(mu[p, g] ** 2 - mu[p, g - 1] ** 2)
        var.append(v[g] ** 2 - v[g - 1] ** 2)
        dc.append(c[p, g] - c[p, g - 1])
    dmu, dmu2, var = np.concatenate(dmu), np.concatenate(dmu2), np.concatenate(var)
    dc = np.concatenate(dc) if dc else np.zeros((0, 2, 2))
    good = var > 0
    dmu, dmu2, var, dc = dmu[good], dmu2[good], var[good], dc[good]
    out = {}
    nfree = 1 if quadratic is not None else 2
    for key, (j, i) in (("00", (0, 0)), ("10", (0, 1)), ("01", (1, 0))):
        if dmu.size <= nfree:
            out[key] = (np.nan, np.nan, np.nan, np.nan, int(dmu.size))
            continue
        w = npix / ((2.0 if key == "00" else 1.0) * var)
        y = dc[:, j, i]
        if quadratic is None:
            a = np.stack([dmu, dmu2], axis=1)
            m = a.T @ (a * w[:, None])
            try:
                sol = np.linalg.solve(m, a.T @ (w * y))
                err = float(np.sqrt(np.linalg.inv(m)[0, 0]))
            except np.linalg.LinAlgError:
                out[key] = (np.nan, np.nan, np.nan, np.nan, int(dmu.size))
                continue
            s, q = float(sol[0]), float(sol[1])
        else:
            q = float(quadratic[key])
            s = float(np.sum(w * dmu * (y - q * dmu2)) / np.sum(w * dmu * dmu))
            err = float(np.sqrt(1.0 / np.sum(w * dmu * dmu)))
        r = y - s * dmu - q * dmu2
        out[key] = (s, err, q, float(np.sum(w * r * r) / (y.size - nfree)), int(y.size))
    return out


def ipc_coupling(mean: np.ndarray, cov: np.ndarray, boxes: np.ndarray, box_npix: np.ndarray,
                 max_signal: float | None = None, quadratic_boxes: np.ndarray | None = None) -> dict:
    """Nearest-neighbour IPC coupling read from the covariances at zero signal, with its error.

    On data not corrected for IPC, the shot-noise (linear in the mean) parts of the
    covariances of the pooled ``boxes`` are those of white noise through the physical
    kernel: ``C_l / C_00 = sum_x K(x) K(x + l) / sum_x K(x)^2``. Per lag,
    ``C_l = n_l + s_l mu + q_l mu^2``: ``n_l`` holds the read noise, kTC and the
    calibration's row and column corrections, ``q_l`` the brighter-fatter effect. The
    couplings ``alpha_x``, ``alpha_y`` of a 3x3 kernel with centre ``1 - 2 alpha_x - 2 alpha_y``
    are solved for from ``s_10 / s_00`` and ``s_01 / s_00``.

    The slopes come from the group-to-group steps of the covariances (``n_l`` cancels),
    all pairs together, each step weighted by the inverse of its variance
    ``(V_g^2 - V_{g-1}^2) / npix``: a group's step carries its products with everything the
    cumulative frame already holds, so early groups are far more precise than late ones,
    and an unweighted parabola through the covariances themselves is ~1.5 times noisier.
    Every group up to the PTC turnoff is used by default. The errors are those of the
    weighted fit (scaled up by the reduced chi^2 when it exceeds 1); on simulated flats
    over many seeds their pulls have unit spread.

    A small region (an epoxy void of ~10^5 pixels) pins its ``q_l`` poorly, and a free
    ``q_l`` doubles the error of ``s_l``: ``quadratic_boxes`` (the normal boxes) then gives
    ``q_l``, which is a property of the pixels (BFE) seen through nearly the same IPC. A
    ``q_l`` 20% off moves the coupling by ~2%.

    What the covariances of the cumulative frames can give is limited by those products:
    on a full frame with 10 integrations of 20 groups, ~3% (1 sigma) outside the void and
    ~13% inside a void of 1.2 x 10^5 pixels. The pixel-level increments of
    :func:`nircam_gui.core.gain.studies.ipc_coupling.measure_coupling` carry no such
    products and do several times better.

    Parameters
    ----------
    mean : ndarray, shape (npairs, ngroups, nbox)
    cov : ndarray, shape (npairs, ngroups, nbox, m, m)
    boxes : ndarray of int
        Boxes pooled (0-based).
    box_npix : ndarray, shape (nbox,)
    max_signal : float, optional
        Single-frame signal (ADU) below which the groups are used (default: up to the
        turnoff of the pooled variance).
    quadratic_boxes : ndarray of int, optional
        Boxes (0-based) whose pooled fit gives the quadratic (brighter-fatter) terms.

    Returns
    -------
    dict with ``x``, ``y`` (couplings), ``x_err``, ``y_err``, ``ratio_x``, ``ratio_y``
    (the slope ratios), ``ratio_x_err``, ``ratio_y_err``, ``chi2_x``, ``chi2_y`` (reduced
    chi^2 of the lag fits), ``npoints`` (groups used), ``nsteps`` and ``npairs`` (pairs
    with steps).
    """
    boxes = np.asarray(boxes)
    out = {"x": np.nan, "y": np.nan, "x_err": np.nan, "y_err": np.nan, "ratio_x": np.nan, "ratio_y": np.nan,
           "ratio_x_err": np.nan, "ratio_y_err": np.nan, "chi2_x": np.nan, "chi2_y": np.nan, "npoints": 0,
           "nsteps": 0, "npairs": 0}
    mu, c, ok, npix = _region_points(mean, cov, boxes, box_npix, max_signal)
    quadratic = None
    if quadratic_boxes is not None and len(quadratic_boxes):
        qb = np.asarray(quadratic_boxes)
        ref = _step_fit(*_region_points(mean, cov, qb, box_npix, max_signal))
        if all(np.isfinite(ref[k][2]) for k in ref):
            quadratic = {k: ref[k][2] for k in ref}
    steps = ok[:, 1:] & ok[:, :-1]
    out.update(npoints=int(ok.sum()), nsteps=int(steps.sum()), npairs=int(steps.any(axis=1).sum()))
    if out["nsteps"] < 3 or npix <= 0:
        return out
    f = _step_fit(mu, c, ok, npix, quadratic)
    s00, e00 = f["00"][0], f["00"][1]
    if not s00 > 0:
        return out
    ratios = {}
    for key, axis in (("10", "x"), ("01", "y")):
        s, e, _, chi2, _ = f[key]
        r = s / s00
        # the lag-1 slope dominates the error; the two are nearly independent (correlation ~rho)
        err = abs(r) * np.hypot(e / s, e00 / s00) if s else e / s00
        err *= np.sqrt(max(chi2, 1.0)) if np.isfinite(chi2) else np.nan
        ratios[axis] = (r, err)
        out.update({f"ratio_{axis}": float(r), f"ratio_{axis}_err": float(err), f"chi2_{axis}": chi2})
    ax, ay = _coupling_from_ratios(ratios["x"][0], ratios["y"][0])
    # the solution is linear in the ratios to 1e-4 of itself: errors scale with them
    out.update(x=ax, y=ay,
               x_err=abs(ax) * ratios["x"][1] / abs(ratios["x"][0]) if ratios["x"][0] else np.nan,
               y_err=abs(ay) * ratios["y"][1] / abs(ratios["y"][0]) if ratios["y"][0] else np.nan)
    return out


def _coupling_from_ratios(rx: float, ry: float) -> tuple[float, float]:
    """Couplings of a 3x3 kernel (no corners) whose lag-1 autocorrelations are ``rx``, ``ry``."""
    ax, ay = rx / 2.0, ry / 2.0
    for _ in range(50):
        k = np.array([[0.0, ay, 0.0], [ax, 1.0 - 2 * ax - 2 * ay, ax], [0.0, ay, 0.0]])
        k0 = k[1, 1]
        ss = np.sum(k**2)
        # lag-1 autocorrelation of the kernel along x: 2 k0 alpha_x (nothing else at lag 1)
        ax_new = rx * ss / (2.0 * k0)
        ay_new = ry * ss / (2.0 * k0)
        if abs(ax_new - ax) < 1e-12 and abs(ay_new - ay) < 1e-12:
            ax, ay = ax_new, ay_new
            break
        ax, ay = ax_new, ay_new
    return float(ax), float(ay)
