"""IPC coupling measured from the flats (report 004622 section 5.5), and the kernel algebra it needs.

Coupling from the flats
-----------------------
IPC correlates the noise of adjacent pixels. For white noise of variance ``s^2``
coupled by a kernel ``k``, the covariance at lag ``e`` is ``s^2 sum_j k_j k_{j+e}``,
so the correlation of horizontal (vertical) neighbours is

    rho_e = sum_j k_j k_{j+e} / sum_j k_j^2  ~=  2 alpha_e (1 + O(alpha))

with ``alpha_e`` the nearest-neighbour element of the physical kernel (~0.006 for
NIRCam: rho ~ 0.012). Read noise is added after IPC, is not coupled, and dilutes the
correlation. It is removed with a property of up-the-ramp data: the group-to-group
increments of the pair-difference frame carry independent photon noise, but two
consecutive increments share one read with opposite signs, so the mean product of
consecutive increments of a pixel is ``-Var(read)`` summed over the two integrations
and the read-noise variance of an increment is ``-2`` times it. Per increment frame

    rho_e = Cov_e(dD) / (Var(dD) - V_read)

Row-wise common-mode noise (the side reference-pixel correction, 1/f banding) would add
to the neighbour covariances: the mean of every amplifier row is removed from each
increment frame first, and the small bias that leaves (``(V + 2 C_h) / n`` for rows of
``n`` pixels) is corrected. Read noise is assumed uncorrelated between adjacent pixels (the table reports the
neighbour covariance of consecutive increments, which is ``-1/2`` of that correlated
part, as a check). Using increments instead of one high group also gives one
independent estimate per increment, which sets the precision. Pixels outside 5 sigma
(hot pixels, cosmic rays) are left out; 5 sigma truncation lowers a correlation by
< 1e-4 of itself, 3 sigma would lower it by 3%. The measured ``rho`` is turned into a
coupling by solving for the symmetric, unit-sum 3x3 kernel with those horizontal,
vertical and diagonal correlations; its sum of squares is the variance factor measured
from the flats. The diagonal correlation fixes the corners (~3e-4 for NIRCam): they
barely change rho_h and rho_v but lower the centre, hence the sum of squares, by
~0.002, as much as the difference between the report's formula and the exact factor.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from astropy.table import Table
import numba
from scipy import optimize

from ... import dq as dqbits
from ...calibrate import CalibrationConfig, calibrate_integration
from ...detector import amplifier_index, reference_pixel_mask
from ...ipc import physical_kernel, variance_factor
from ...progress import CancelCheck, ProgressCallback, Reporter
from ..clipstats import BoxClipper
from ..pairs import find_integrations, make_pairs
from ._common import scaled_progress
from .rundata import RunData

__all__ = [
    "CouplingResult",
    "covariance_coupling",
    "coupling_from_correlation",
    "kernel_correlation",
    "kernel_diagonal_correlation",
    "kernel_neighbours",
    "measure_coupling",
    "plot_coupling",
]

CLIP_SIGMA = 5.0


# --------------------------------------------------------------------------- kernels
def kernel_correlation(kernel: np.ndarray) -> tuple[float, float]:
    """Correlation of horizontal and vertical neighbours in white noise coupled by ``kernel``.

    ``sum_j k_j k_{j+e} / sum_j k_j^2`` for ``e`` = one pixel along x, then along y.
    """
    k = np.asarray(kernel, float)
    s2 = np.sum(k * k)
    h = np.sum(k[:, :-1] * k[:, 1:]) / s2
    v = np.sum(k[:-1, :] * k[1:, :]) / s2
    return float(h), float(v)


def kernel_diagonal_correlation(kernel: np.ndarray) -> float:
    """Correlation of diagonal neighbours (mean of the two diagonals) in white noise coupled by ``kernel``."""
    k = np.asarray(kernel, float)
    s2 = np.sum(k * k)
    return float(0.5 * (np.sum(k[:-1, :-1] * k[1:, 1:]) + np.sum(k[:-1, 1:] * k[1:, :-1])) / s2)


def kernel_neighbours(kernel: np.ndarray) -> tuple[float, float]:
    """Mean nearest-neighbour elements (horizontal: left/right; vertical: up/down) of a kernel."""
    k = np.asarray(kernel, float)
    c = k.shape[0] // 2
    return float(0.5 * (k[c, c - 1] + k[c, c + 1])), float(0.5 * (k[c - 1, c] + k[c + 1, c]))


def _symmetric_kernel(ah: float, av: float, corner: float = 0.0) -> np.ndarray:
    c = corner
    return np.array([[c, av, c], [ah, 1.0 - 2 * ah - 2 * av - 4 * c, ah], [c, av, c]])


def coupling_from_correlation(rho_h: float, rho_v: float,
                              rho_d: float | None = None) -> tuple[float, float, np.ndarray]:
    """Nearest-neighbour couplings (alpha_h, alpha_v) whose kernel has these correlations.

    The kernel is symmetric, sums to 1, and has zero corners unless the diagonal
    correlation ``rho_d`` is given (then the corner element is solved for as well; corners
    change rho_h and rho_v by ~1e-6 at NIRCam's coupling but the kernel's sum of squares
    by ~8 x corner). Solved exactly, not with the first-order ``rho = 2 alpha``.

    Returns
    -------
    alpha_h, alpha_v, kernel
    """
    if not (np.isfinite(rho_h) and np.isfinite(rho_v)) or (rho_d is not None and not np.isfinite(rho_d)):
        return np.nan, np.nan, np.full((3, 3), np.nan)
    if rho_d is None:
        def eq(a):
            h, v = kernel_correlation(_symmetric_kernel(*a))
            return [h - rho_h, v - rho_v]

        sol = optimize.fsolve(eq, [rho_h / 2, rho_v / 2])
    else:
        def eq(a):
            k = _symmetric_kernel(*a)
            h, v = kernel_correlation(k)
            return [h - rho_h, v - rho_v, kernel_diagonal_correlation(k) - rho_d]

        sol = optimize.fsolve(eq, [rho_h / 2, rho_v / 2, rho_d / 2])
    return float(sol[0]), float(sol[1]), _symmetric_kernel(*sol)


# --------------------------------------------------------------------------- measurement
@dataclass
class CouplingResult:
    """Measured neighbour correlations and couplings per region (one row each)."""

    table: Table
    frames: Table  # per (pair, increment, region): the individual estimates
    expected: dict  # from the IPC reference file, when given
    signal_limit: float
    notes: list[str] = field(default_factory=list)


def _region_labels(shape: tuple[int, int], void: np.ndarray | None) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """Label image: amplifier a (1-4) normal -> a, epoxy void -> 4 + a; 0 = reference pixels."""
    science = ~reference_pixel_mask(shape)
    amp = np.broadcast_to(amplifier_index(shape[1])[None, :] + 1, shape)
    lab = np.where(science, amp, 0)
    if void is not None:
        lab = np.where(science & void, amp + 4, lab)
    names = [(a, "normal") for a in range(1, 5)] + [(a, "epoxy") for a in range(1, 5)]
    return lab.astype(np.int32), names


@numba.njit(cache=True)
def _spatial_sums(xc, kept, lab, row_inv_n, amp, nlab):  # pragma: no cover - compiled
    """Per label: pixels, sum x^2, horizontal, vertical (and, rows 7-8, diagonal) neighbour counts and
    products, sum over pixels of 1/n_row (row 6)."""
    out = np.zeros((9, nlab))
    ny, nx = xc.shape
    for y in range(ny):
        for x in range(nx):
            if not kept[y, x]:
                continue
            lb = lab[y, x]
            v = np.float64(xc[y, x])
            out[0, lb] += 1.0
            out[1, lb] += v * v
            out[6, lb] += row_inv_n[y * 4 + amp[x]]
            if x + 1 < nx and kept[y, x + 1] and lab[y, x + 1] == lb:
                out[2, lb] += 1.0
                out[3, lb] += v * xc[y, x + 1]
            if y + 1 < ny and kept[y + 1, x] and lab[y + 1, x] == lb:
                out[4, lb] += 1.0
                out[5, lb] += v * xc[y + 1, x]
            if y + 1 < ny and x + 1 < nx and kept[y + 1, x + 1] and lab[y + 1, x + 1] == lb:
                out[7, lb] += 1.0
                out[8, lb] += v * xc[y + 1, x + 1]
            if y + 1 < ny and x >= 1 and kept[y + 1, x - 1] and lab[y + 1, x - 1] == lb:
                out[7, lb] += 1.0
                out[8, lb] += v * xc[y + 1, x - 1]
    return out


@numba.njit(cache=True)
def _cross_sums(xc, prev, both, lab, nlab):  # pragma: no cover - compiled
    """Products of consecutive increments: same pixel, and symmetrised horizontal/vertical neighbours."""
    out = np.zeros((6, nlab))
    ny, nx = xc.shape
    for y in range(ny):
        for x in range(nx):
            if not both[y, x]:
                continue
            lb = lab[y, x]
            out[0, lb] += 1.0
            out[1, lb] += np.float64(xc[y, x]) * prev[y, x]
            if x + 1 < nx and both[y, x + 1] and lab[y, x + 1] == lb:
                out[2, lb] += 1.0
                out[3, lb] += 0.5 * (np.float64(xc[y, x]) * prev[y, x + 1] + np.float64(xc[y, x + 1]) * prev[y, x])
            if y + 1 < ny and both[y + 1, x] and lab[y + 1, x] == lb:
                out[4, lb] += 1.0
                out[5, lb] += 0.5 * (np.float64(xc[y, x]) * prev[y + 1, x] + np.float64(xc[y + 1, x]) * prev[y, x])
    return out


class _Accumulator:
    """Per-frame sums for 8 regions: n, sum x^2, horizontal and vertical neighbour products."""

    def __init__(self, labels: np.ndarray) -> None:
        self.labels = labels
        self.clipper = BoxClipper(labels, nsigma=CLIP_SIGMA)
        self.nlab = 9  # 4 amplifiers x (normal, epoxy), label 0 left out
        # amplifier rows: the unit of common-mode noise (side reference-pixel correction, 1/f banding)
        amp = np.broadcast_to(amplifier_index(labels.shape[1])[None, :], labels.shape)
        self.amp_row = (np.arange(labels.shape[0])[:, None] * 4 + amp).astype(np.int64)
        self.amp = np.ascontiguousarray(amplifier_index(labels.shape[1]), dtype=np.int64)
        self.nrow = labels.shape[0] * 4

    def frame(self, x: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
        """Centred, clipped frame (0 where not kept), kept mask, and the spatial sums."""
        st = self.clipper.clip(x, valid=valid, keep_mask=True)
        kept = st.kept
        mu = np.concatenate([[0.0], np.nan_to_num(st.mean)]).astype(np.float32)
        xc = np.where(kept, x - mu[self.labels], np.float32(0.0)).astype(np.float32)
        # remove the mean of every amplifier row: row-wise common-mode noise (the side
        # reference-pixel correction, 1/f banding) would otherwise add to the horizontal
        # and vertical covariances; the small bias this leaves is corrected in _summarise
        rl = self.amp_row[kept]
        rcount = np.bincount(rl, minlength=self.nrow).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            rmean = np.bincount(rl, weights=xc[kept], minlength=self.nrow) / rcount
            inv_n = np.where(rcount > 0, 1.0 / rcount, 0.0)
        xc[kept] -= rmean[rl].astype(np.float32)
        o = _spatial_sums(xc, kept, self.labels, inv_n, self.amp, self.nlab)[:, 1:]
        sums = {"n": o[0], "s0": o[1], "nh": o[2], "sh": o[3], "nv": o[4], "sv": o[5],
                "inv_n": o[6], "nd": o[7], "sd": o[8]}  # inv_n: sum over pixels of 1/(pixels in its amplifier row)
        return xc, kept, sums

    def temporal(self, xc: np.ndarray, kept: np.ndarray, prev: np.ndarray, prev_kept: np.ndarray) -> dict:
        """Products of consecutive increments: same pixel, and horizontal/vertical neighbours."""
        o = _cross_sums(xc, prev, kept & prev_kept, self.labels, self.nlab)[:, 1:]
        return {"nt": o[0], "t0": o[1], "nth": o[2], "th": o[3], "ntv": o[4], "tv": o[5]}


def measure_coupling(
    files: Sequence[str | os.PathLike],
    calibration: CalibrationConfig | None = None,
    void_mask: np.ndarray | None = None,
    signal_limit: float | None = None,
    correction_kernel: np.ndarray | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelCheck | None = None,
) -> CouplingResult:
    """Measure the IPC coupling from the pair-difference frames of flat-field ramps.

    Parameters
    ----------
    files : list of path-like
        Raw ramps, paired 1/2, 3/4, ... as the engine pairs them.
    calibration : CalibrationConfig, optional
        Must not deconvolve IPC (its IPC step is switched off here).
    void_mask : ndarray of bool, optional
        Epoxy-void pixels; they form their own regions.
    signal_limit : float, optional
        Groups whose median single-frame signal (both integrations) exceeds this are
        not used (default: the detector's PTC limit). A low limit keeps the
        brighter-fatter effect, which raises neighbour correlations with signal, out.
    correction_kernel : ndarray, optional
        The IPC reference file's kernel, for the expected values.
    """
    pairs = make_pairs(find_integrations(list(files)))
    meta = pairs[0].first.meta
    shape = (meta.ny, meta.nx)
    if signal_limit is None:
        from ...detector import get_detector

        signal_limit = get_detector(meta.detector).signal_limit if meta.detector else 5000.0
    base = calibration or CalibrationConfig()
    import dataclasses

    cfg = dataclasses.replace(base, ipc_step=False, ipc=None, signal_limit=float(signal_limit))
    labels, names = _region_labels(shape, void_mask)
    acc = _Accumulator(labels)
    rep = Reporter(len(pairs), progress, cancel)
    frames = []  # (pair, increment, sums dict, temporal dict or None)
    for p, pair in enumerate(pairs):
        sub = scaled_progress(progress, p / len(pairs), (p + 1) / len(pairs), f"pair {pair.number}: ")
        ga = calibrate_integration(pair.first.path, pair.first.index, cfg, progress=sub, cancel=cancel)
        gb = calibrate_integration(pair.second.path, pair.second.index, cfg, cancel=cancel)
        prev_d = prev_valid = None
        prev_x = prev_kept = None
        for ca, cb in zip(ga, gb):
            usable = ((ca.pixeldq | cb.pixeldq) & np.uint32(dqbits.DO_NOT_USE)) == 0
            for k in range(min(ca.data.shape[0], cb.data.shape[0])):
                g = ca.first_group + k
                if max(ca.median_signal[k], cb.median_signal[k]) > signal_limit:
                    break
                d = ca.data[k] - cb.data[k]
                valid = usable & (ca.groupdq[k] == 0) & (cb.groupdq[k] == 0)
                if prev_d is not None:
                    x, kept, sums = acc.frame(d - prev_d, valid & prev_valid)
                    temp = acc.temporal(x, kept, prev_x, prev_kept) if prev_x is not None else None
                    frames.append((pair.number, g, sums, temp))
                    prev_x, prev_kept = x, kept
                prev_d, prev_valid = d, valid
            else:
                continue
            break
        ga.close()
        gb.close()
        rep.step(f"pair {pair.number} of {len(pairs)}")
    return _summarise(frames, names, signal_limit, correction_kernel)


def _kernel_fit(rho: np.ndarray, rho_err: np.ndarray) -> tuple[float, ...]:
    """Kernel from (rho_h, rho_v, rho_d) and errors propagated through a numerical Jacobian.

    Returns alpha_h, its error, alpha_v, its error, alpha, its error, corner, its error,
    variance factor, its error.
    """

    def solve(r):
        ah, av, k = coupling_from_correlation(r[0], r[1], r[2])
        return np.array([ah, av, 0.5 * (ah + av), k[0, 0], variance_factor(k)])

    base = solve(rho)
    jac = np.empty((5, 3))
    for j in range(3):
        step = np.zeros(3)
        step[j] = 1e-5
        jac[:, j] = (solve(rho + step) - base) / 1e-5
    err = np.sqrt((jac**2) @ np.nan_to_num(rho_err, nan=np.inf) ** 2)
    return tuple(float(x) for pair in zip(base[[0, 1, 2, 3, 4]], err[[0, 1, 2, 3, 4]]) for x in pair)


def _summarise(frames, names, signal_limit, correction_kernel) -> CouplingResult:
    notes = []
    nreg = len(names)
    if not frames:
        raise ValueError(f"no two consecutive groups below the signal limit ({signal_limit:g} ADU): "
                         "raise --ipc-signal-limit")
    # read-noise variance of an increment, pooled over all consecutive increments, per region
    t0 = np.zeros(nreg)
    nt = np.zeros(nreg)
    th = np.zeros(nreg)
    nth = np.zeros(nreg)
    tv = np.zeros(nreg)
    ntv = np.zeros(nreg)
    for _, _, _, temp in frames:
        if temp is not None:
            t0 += temp["t0"]
            nt += temp["nt"]
            th += temp["th"]
            nth += temp["nth"]
            tv += temp["tv"]
            ntv += temp["ntv"]
    with np.errstate(invalid="ignore", divide="ignore"):
        v_read = -2.0 * t0 / nt
        c_read_h = -2.0 * th / nth
        c_read_v = -2.0 * tv / ntv
    if not np.any(nt > 0):
        notes.append("only one increment per pair: read noise not removed (correlations are diluted)")
        v_read = np.zeros(nreg)
    v_read = np.where(np.isfinite(v_read), v_read, 0.0)
    rows_f = []
    for pnum, g, s, _ in frames:
        with np.errstate(invalid="ignore", divide="ignore"):
            # subtracting the mean of a row of n pixels lowers the variance and the
            # horizontal covariance by (V + 2 C_h) / n and the vertical covariance by C_v / n
            var_y, ch_y, cv_y = s["s0"] / s["n"], s["sh"] / s["nh"], s["sv"] / s["nv"]
            f = s["inv_n"] / s["n"]  # mean 1/n over the region's pixels
            bias = (var_y + 2 * ch_y) * f / (1 - 3 * f)
            var = var_y + bias
            ch = ch_y + bias
            cv = cv_y / (1 - f)
            cd = (s["sd"] / s["nd"]) / (1 - f)
            rh = ch / (var - v_read)
            rv = cv / (var - v_read)
            rd = cd / (var - v_read)
        for r, (amp, region) in enumerate(names):
            if s["n"][r] > 0:
                rows_f.append((pnum, g, amp, region, int(s["n"][r]), var[r], rh[r], rv[r], rd[r]))
    ft = Table(rows=rows_f, names=("pair", "group", "amp", "region", "npix", "variance", "rho_h", "rho_v", "rho_d"),
               dtype=(int, int, int, "U6", int, float, float, float, float))
    ft["variance"].unit = "adu2"
    ft.meta["comments"] = ["One row per increment frame (group g minus g-1 of the pair difference) and region; "
                           "rho corrected for read noise."]
    expected = {}
    if correction_kernel is not None:
        phys = physical_kernel(correction_kernel)
        eh, ev = kernel_correlation(phys)
        ah, av = kernel_neighbours(phys)
        c = phys.shape[0] // 2
        corner = float(np.mean(phys[[c - 1, c - 1, c + 1, c + 1], [c - 1, c + 1, c - 1, c + 1]]))
        expected = {"rho_h": eh, "rho_v": ev, "rho_d": kernel_diagonal_correlation(phys), "alpha_h": ah,
                    "alpha_v": av, "corner": corner,
                    "variance_factor": variance_factor(phys), "physical_kernel": phys.tolist()}
    rows = []
    groups = [((a, reg), (ft["amp"] == a) & (ft["region"] == reg)) for a, reg in names]
    groups += [(("all", "normal"), ft["region"] == "normal"), (("all", "epoxy"), ft["region"] == "epoxy")]
    for (amp, region), sel in groups:
        if not np.any(sel):
            continue
        sub = ft[sel]
        if amp == "all":
            # several amplifiers: average each frame's regions weighted by pixels first
            keys = sorted(set(zip(sub["pair"], sub["group"])))
            per_frame = []
            for key in keys:
                m = (sub["pair"] == key[0]) & (sub["group"] == key[1])
                w = np.asarray(sub["npix"][m], float)
                per_frame.append([np.sum(w * sub[c][m]) / w.sum() for c in ("rho_h", "rho_v", "rho_d")])
            rho_f = np.array(per_frame)
            idx = [r for r, (a, reg) in enumerate(names) if reg == region]
            vr = float(np.nansum(v_read[idx] * nt[idx]) / max(np.nansum(nt[idx]), 1))
            crh = float(np.nansum(np.nan_to_num(c_read_h[idx]) * nth[idx]) / max(np.nansum(nth[idx]), 1))
            crv = float(np.nansum(np.nan_to_num(c_read_v[idx]) * ntv[idx]) / max(np.nansum(ntv[idx]), 1))
        else:
            rho_f = np.column_stack([np.asarray(sub[c]) for c in ("rho_h", "rho_v", "rho_d")])
            r = names.index((amp, region))
            vr, crh, crv = float(v_read[r]), float(c_read_h[r]), float(c_read_v[r])
        n = rho_f.shape[0]
        rho = rho_f.mean(axis=0)
        rho_err = rho_f.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.full(3, np.nan)
        fit = _kernel_fit(rho, rho_err)
        mean_var = float(np.mean(sub["variance"]))
        npix = int(np.max(sub["npix"])) if amp != "all" else int(
            sum(np.max(ft["npix"][(ft["amp"] == a) & (ft["region"] == region)]) for a in range(1, 5)
                if np.any((ft["amp"] == a) & (ft["region"] == region))))
        rows.append((str(amp), region, npix, n, rho[0], rho_err[0], rho[1], rho_err[1], rho[2], rho_err[2],
                     *fit, mean_var, vr, vr / mean_var if mean_var else np.nan, crh, crv))
    t = Table(rows=rows, names=("amp", "region", "npix", "n_frames", "rho_h", "rho_h_err", "rho_v", "rho_v_err",
                                "rho_d", "rho_d_err", "alpha_h", "alpha_h_err", "alpha_v", "alpha_v_err", "alpha",
                                "alpha_err", "corner", "corner_err", "variance_factor", "variance_factor_err",
                                "increment_variance", "read_variance", "read_fraction", "read_cov_h", "read_cov_v"))
    for c in ("increment_variance", "read_variance", "read_cov_h", "read_cov_v"):
        t[c].unit = "adu2"
    for c in t.colnames[4:20]:
        t[c].format = ".5f"
    for key in ("rho_h", "rho_v", "rho_d", "alpha_h", "alpha_v", "corner", "variance_factor"):
        if key in expected:
            t[f"{key}_expected"] = expected[key]
            t[f"{key}_expected"].format = ".5f"
    t.meta.update({
        "signal_limit_adu": signal_limit, "clip_sigma": CLIP_SIGMA,
        "expected_from_reference": {k: v for k, v in expected.items() if k != "physical_kernel"},
        "comments": [
            "rho_h/rho_v: correlation of horizontal/vertical neighbours in the group-to-group increments of the "
            "pair-difference frames, read noise removed (read_variance, from consecutive increments); mean over "
            "increment frames, err = std / sqrt(n_frames).",
            "rho_d: the same for diagonal neighbours (mean of both diagonals).",
            "alpha_h/alpha_v/corner: elements of the symmetric 3x3 physical kernel (unit sum) with these three "
            "correlations; alpha = mean of alpha_h and alpha_v; variance_factor = sum of squares of that kernel "
            "(what a PTC through uncorrected data is divided by). Errors propagated from the rho errors.",
            "read_cov_h/v: neighbour covariance of the read noise (should be ~0: it is assumed uncorrelated).",
            "*_expected: from the IPC reference file (physical kernel = inverse of the correction kernel).",
        ],
    })
    return CouplingResult(t, ft, expected, float(signal_limit), notes)


def covariance_coupling(run: RunData) -> Table | None:
    """Nearest-neighbour coupling per region from a run's covariances (data not IPC-corrected).

    The shot-noise part of the lag-1 covariances at zero signal (see
    :func:`~nircam_gui.core.gain.covfit.ipc_coupling`); None when the run has no covariances.
    """
    if run.cov is None:
        return None
    from ..covfit import ipc_coupling

    rows = []
    normal = np.flatnonzero(run.regions == "normal")
    for region in ("normal", "epoxy"):
        sel = np.flatnonzero(run.regions == region)
        if sel.size:
            # the void is too small to pin its own brighter-fatter terms: the normal boxes give them
            quad = normal if region == "epoxy" and normal.size else None
            c = ipc_coupling(run.mean, run.cov, sel, run.box_npix, quadratic_boxes=quad)
            rows.append((region, c["x"], c["x_err"], c["y"], c["y_err"], c["ratio_x"], c["ratio_y"], c["chi2_x"],
                         c["chi2_y"], c["npoints"], c["npairs"], quad is not None))
    t = Table(rows=rows, names=("region", "alpha_x", "alpha_x_err", "alpha_y", "alpha_y_err", "c10_over_c00",
                                "c01_over_c00", "chi2_x", "chi2_y", "npoints", "npairs", "bfe_from_normal"),
              dtype=("U6", float, float, float, float, float, float, float, float, int, int, bool))
    for c in t.colnames[1:9]:
        t[c].format = ".5f"
    t.meta["comments"] = ["Coupling of a 3x3 kernel from the slopes of C10, C01 and C00 against the mean at "
                          "zero signal: weighted fits to their group-to-group steps up to the PTC turnoff (read "
                          "noise and row/column corrections cancel, brighter-fatter quadratic), all pairs together; "
                          "errors from the fit, scaled by sqrt(chi2) where chi2 > 1. bfe_from_normal: the "
                          "quadratic terms taken from the normal boxes. ipc_coupling.ecsv (pixel-level "
                          "increments) is the more precise measurement."]
    return t


def plot_coupling(result: CouplingResult):
    """Measured neighbour coupling per region with error bars and the reference file's values."""
    import matplotlib.pyplot as plt

    t = result.table
    labels = [f"amp {a}\n{r}" if a != "all" else f"all\n{r}" for a, r in zip(t["amp"], t["region"])]
    x = np.arange(len(t))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.8 * len(t)), 4.0), layout="constrained")
    ax.errorbar(x - 0.1, 100 * t["alpha_h"], yerr=100 * t["alpha_h_err"], fmt="o", capsize=3, label="horizontal")
    ax.errorbar(x + 0.1, 100 * t["alpha_v"], yerr=100 * t["alpha_v_err"], fmt="s", capsize=3, label="vertical")
    if "alpha_h" in result.expected:
        ax.axhline(100 * result.expected["alpha_h"], color="C0", ls=":", lw=1, label="reference file, horizontal")
        ax.axhline(100 * result.expected["alpha_v"], color="C1", ls=":", lw=1, label="reference file, vertical")
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_ylabel("nearest-neighbour coupling α (%)")
    ax.set_title("IPC coupling measured from the flat-field pair differences", fontsize=9)
    ax.legend(fontsize=7)
    return fig
