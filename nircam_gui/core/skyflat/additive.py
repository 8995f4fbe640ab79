"""Additive scattered light kept out of the delta flat (wisps and claws, JWST-STScI-008304 sections 3.5-3.6).

A ``_cal`` image of the sky, calibrated with the ground flat, is ``(sky + wisp + claws) x D``
(additive light reaches the pixels like the sky). Normalised, image *i* of filter *f* reads

    Y_i = c_i D_f (1 + a_i T)

with ``D_f`` the delta flat (the same in every image of the filter), ``T`` the wisp's fixed
detector-space template, ``a_i`` its strength relative to the sky in this image and ``c_i``
the normalisation shift the wisp causes. A flat-field error keeps its share of every image;
the wisp's share changes with ``a_i``: that is what separates them.

The separation works on ``bin`` x ``bin`` block medians of the source-masked stack (NaN-aware):

1. **Rank-1 fit** by alternating least squares: ``D_f`` per block and filter, ``T`` per block
   (or a given template, binned), ``c_i`` and ``a_i`` per image; blocks whose residual is an
   outlier are left out (robust), and re-fitted until the model settles.
2. **Claws** (light present in few images at changing places): per image, connected groups of
   blocks with a significant positive residual are flagged; those pixels (one block around)
   are left out of that image.
3. **Zero point.** Image-to-image variation fixes ``T``'s shape and the differences of the
   ``a_i``, not their zero: ``D_f (1 - k T)`` and ``a_i + k`` fit the stack as well. The prior:
   the flat is smooth under the wisp. Per filter, ``D_f = P_f + k (D_f T)`` is fitted with ``P_f``
   a 3rd-order 2-D polynomial, iteratively 3-sigma clipped (a real flat feature under the wisp
   is rejected rather than taken for wisp); the stack is then re-fitted in that gauge, and the
   zero point checked again. The amplitudes are those of every image, so the median stack's
   amplitude (between the mean and the median of the ``a_i``) never enters.
4. **Source masks.** The fit reads block medians with the sources left in (outliers to it),
   because the report's mask also takes a wisp's bright ridges where it is strong; before the
   correction, the images whose light reaches the mask's threshold get their mask made again
   with the light divided out (``remask``), so the ridges stay in the stack.
5. **Correction.** Each image is divided by ``c_i s_f (1 + a_i T) / (1 - k_f T)`` at full
   resolution (``T`` interpolated with a bicubic spline from the block grid), which also undoes
   the shift of its normalisation; ``s_f`` keeps the corrected images at median 1. The combines
   that follow are the report's.

A component is applied only when it is significant: the fitted variation beats the noise by
:data:`DETECTION_Z` standard deviations and the template is spatially coherent (neighbouring
blocks correlate by :data:`MIN_COHERENCE`; a template fitted to noise does not); otherwise the
stack is left as it was, apart from claw regions. A fitted template is kept where it is
significant (with a margin) and set to 0 elsewhere, so that its noise is not divided into
every image.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import bottleneck as bn
import numpy as np
from astropy.table import Table
from scipy.interpolate import RectBivariateSpline
from scipy.ndimage import (binary_dilation, gaussian_filter, label, maximum_filter, median_filter,
                           minimum_filter)

from .largescale import image_blocks

__all__ = ["AdditiveResult", "DETECTION_Z", "bin_stack", "block_medians", "check_templates", "fit_additive", "read_templates",
           "separate_additive"]

#: significance (in standard deviations of a rank-1 fit to pure noise) a wisp must have to be applied
DETECTION_Z = 8.0
#: and the correlation of its neighbouring blocks (a template fitted to noise has ~0)
MIN_COHERENCE = 0.3
#: blocks with less than this fraction of valid pixels are left out
_MIN_VALID = 0.5


@dataclass
class AdditiveResult:
    """The additive part of one detector's stack (stack order throughout).

    Attributes
    ----------
    template : ndarray
        ``T`` at full resolution, peak 1 (zeros when nothing was detected).
    amplitudes, amplitude_errors : ndarray
        ``a_i``: strength of the template relative to the sky in each image, and its error.
    norm : ndarray
        ``c_i s_f``: what the correction divided each image by besides ``1 + a_i T``.
    zero_points : dict of str to float
        ``k`` per filter: how much of the template the smoothness prior moved out of the flat.
    flagged : ndarray of bool, (n_images,)
        Images with claw regions (scattered light rejected per region).
    flagged_count : ndarray of int16
        Per pixel, the images in which it was rejected as scattered light.
    detected, z : bool, float
        Whether a template was applied, and its significance.
    """

    files: list[str]
    filters: list[str]
    template: np.ndarray = field(repr=False)
    amplitudes: np.ndarray
    amplitude_errors: np.ndarray
    norm: np.ndarray
    zero_points: dict[str, float]
    flagged: np.ndarray
    flagged_blocks: list[int]
    flagged_count: np.ndarray = field(repr=False)
    detected: bool
    z: float
    bin: int
    source: str  # "fitted" or the template file's name
    remasked: list[str] = field(default_factory=list)

    def to_table(self) -> Table:
        """One row per image: amplitude, its error, normalisation, claws."""
        t = Table({"file": [f.split("/")[-1] for f in self.files], "filter": self.filters,
                   "amplitude": np.asarray(self.amplitudes, np.float64),
                   "amplitude_err": np.asarray(self.amplitude_errors, np.float64),
                   "norm": np.asarray(self.norm, np.float64), "claws": np.asarray(self.flagged, bool),
                   "claw_blocks": np.asarray(self.flagged_blocks, np.int32),
                   "remasked": [f in set(self.remasked) for f in self.files]})
        t["amplitude"].description = "peak strength of the additive template relative to the sky"
        t["amplitude_err"].description = "1-sigma error of the amplitude (block noise)"
        t["norm"].description = "normalisation the image was divided by besides (1 + amplitude * template)"
        t["claws"].description = "regions of this image were rejected as scattered light (claws)"
        t["claw_blocks"].description = f"{self.bin}x{self.bin} pixel blocks rejected in this image"
        t["remasked"].description = "source mask made again with the additive light divided out (it took the light)"
        t.meta.update({"detected": bool(self.detected), "significance": float(self.z), "bin": int(self.bin),
                       "template_source": self.source, "zero_points": {k: float(v) for k, v in self.zero_points.items()}})
        return t


def block_medians(image: np.ndarray, bin: int) -> np.ndarray:
    """Medians of ``bin`` x ``bin`` blocks of one image (NaN where under half the block is valid)."""
    blocks, _, _ = image_blocks(image, bin)
    med = bn.nanmedian(blocks, axis=-1)
    valid = np.count_nonzero(np.isfinite(blocks), axis=-1)
    med[valid < _MIN_VALID * bin * bin] = np.nan
    return med.astype(np.float32)


def block_centres(shape: tuple[int, int], bin: int) -> tuple[np.ndarray, np.ndarray]:
    """Centres (pixels) of the blocks of :func:`block_medians`."""
    ny, nx = shape
    iy, ix = np.arange(-(-ny // bin)), np.arange(-(-nx // bin))
    yc = (iy * bin + np.minimum(ny, (iy + 1) * bin) - 1) / 2
    xc = (ix * bin + np.minimum(nx, (ix + 1) * bin) - 1) / 2
    return yc, xc


def bin_stack(data: np.ndarray, bin: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-image :func:`block_medians` of a stack and the block centres ``yc, xc``."""
    out = np.stack([block_medians(data[i], bin) for i in range(data.shape[0])])
    yc, xc = block_centres(data.shape[1:], bin)
    return out, yc, xc


def _poly_basis(shape: tuple[int, int], order: int = 3) -> np.ndarray:
    ny, nx = shape
    y, x = np.meshgrid(np.linspace(-1, 1, ny), np.linspace(-1, 1, nx), indexing="ij")
    terms = [x ** i * y ** j for i in range(order + 1) for j in range(order + 1 - i)]
    return np.stack([t.ravel() for t in terms], axis=1)


def _robust_sigma(r: np.ndarray) -> float:
    v = r[np.isfinite(r)]
    if v.size < 10:
        return np.nan
    return float(1.4826 * np.median(np.abs(v - np.median(v))))


@dataclass
class _Fit:
    c: np.ndarray
    a: np.ndarray
    T: np.ndarray
    D: np.ndarray  # (n_filters, Q)
    w: np.ndarray  # (n, Q) bool
    sigma: np.ndarray


def _fill_weak(T: np.ndarray, info: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    # a block that few images see (a dead region, sources or claws in many images) has a T
    # poorly determined: it takes the Gaussian-weighted mean of its well-determined neighbours
    good = info > 0.5 * np.median(info[info > 0]) if np.any(info > 0) else np.zeros(T.shape, bool)
    if good.all() or not good.any():
        return T
    grid, g = T.reshape(shape), good.reshape(shape).astype(np.float64)
    num = gaussian_filter(np.where(g > 0, grid, 0.0), 1.0, mode="nearest")
    den = gaussian_filter(g, 1.0, mode="nearest")
    with np.errstate(invalid="ignore", divide="ignore"):
        fill = np.where(den > 1e-3, num / den, 0.0)
    return np.where(g > 0, grid, fill).ravel()


def _despike(T: np.ndarray, shape: tuple[int, int], nsig: float = 5.0) -> np.ndarray:
    # a block beyond the range of all its 8 neighbours by nsig noise takes their median (a
    # ridge is not beyond the blocks along it, so a sharp wisp survives); mirrored at the frame
    # edge, so that an edge block's outside neighbours are its inside ones, not itself
    grid = T.reshape(shape)
    ring = np.ones((3, 3), bool)
    ring[1, 1] = False
    hi = maximum_filter(grid, footprint=ring, mode="mirror")
    lo = minimum_filter(grid, footprint=ring, mode="mirror")
    s = _robust_sigma(grid - median_filter(grid, size=3, mode="mirror"))
    if not np.isfinite(s) or s == 0:
        return T
    spike = (grid > hi + nsig * s) | (grid < lo - nsig * s)
    if not spike.any():
        return T
    return np.where(spike, median_filter(grid, footprint=ring, mode="mirror"), grid).ravel()


def _als(Y: np.ndarray, w: np.ndarray, fidx: np.ndarray, nf: int, T: np.ndarray, a: np.ndarray, c: np.ndarray,
         D: np.ndarray, fixed_T: bool, centre: bool, iters: int, shape: tuple[int, int],
         support: np.ndarray | None = None) -> tuple:
    """Alternating least squares of ``Y_i = c_i D_f (1 + a_i T)`` over valid blocks ``w``."""
    n = Y.shape[0]
    Yz = np.where(w, Y, 0.0)
    wf = w.astype(np.float64)
    for _ in range(iters):
        # D per filter: mean of Y / (c (1 + a T)) over the filter's valid images
        g = c[:, None] * (1.0 + a[:, None] * T[None, :])
        for f in range(nf):
            sel = fidx == f
            num = (Yz[sel] * g[sel] * wf[sel]).sum(0)
            den = (g[sel] ** 2 * wf[sel]).sum(0)
            with np.errstate(invalid="ignore", divide="ignore"):
                D[f] = np.where(den > 0, num / den, np.nan)
        Dn = D[fidx]
        ok = w & np.isfinite(Dn)
        # per image: Y = c D + (c a) D T, linear in (c, c a)
        X1, X2 = np.where(ok, Dn, 0.0), np.where(ok, Dn * T[None, :], 0.0)
        Yo = np.where(ok, Y, 0.0)
        s11, s12, s22 = (X1 * X1).sum(1), (X1 * X2).sum(1), (X2 * X2).sum(1)
        b1, b2 = (X1 * Yo).sum(1), (X2 * Yo).sum(1)
        det = s11 * s22 - s12 ** 2
        if fixed_T or np.any(T != 0):
            good = det > 1e-12 * np.maximum(s11 * s22, 1e-300)
            c = np.where(good, (s22 * b1 - s12 * b2) / np.where(good, det, 1), b1 / np.maximum(s11, 1e-300))
            beta = np.where(good, (s11 * b2 - s12 * b1) / np.where(good, det, 1), 0.0)
            a = beta / c
        else:
            c = b1 / np.maximum(s11, 1e-300)
        if centre:
            for f in range(nf):
                sel = fidx == f
                a[sel] -= a[sel].mean()
        if not fixed_T:
            # T per block: (Y / (c D) - 1) = a T, over the valid images
            z = np.where(ok, Y / (c[:, None] * np.where(ok, Dn, 1.0)) - 1.0, 0.0)
            wgt = np.where(ok, (c[:, None] * Dn) ** 2, 0.0)
            num = (wgt * a[:, None] * z).sum(0)
            den = (wgt * a[:, None] ** 2).sum(0)
            with np.errstate(invalid="ignore", divide="ignore"):
                T = np.where(den > 0, num / den, 0.0)
            T = _fill_weak(T, den, shape)
            T = _despike(T, shape)
            if support is not None:
                T = T * support
            # T + b trades against the normalisations c_i: the template's zero is where most of
            # the frame is, which scattered light does not reach (the median block)
            T = T - np.median(T) if support is None else T
            # scale gauge: peak 1 (a robust peak: the 99.9th percentile of |T|)
            peak = np.percentile(np.abs(T), 99.9) if T.size else 0.0
            if peak > 0:
                T, a = T / peak, a * peak
    return T, a, c, D


def _coherence(T: np.ndarray) -> float:
    """Mean correlation of neighbouring blocks of ``T``: ~0 for a template fitted to noise, ~1 for a wisp."""
    if min(T.shape) < 3 or not np.any(T):
        return 0.0
    cx = np.corrcoef(T[:, :-1].ravel(), T[:, 1:].ravel())[0, 1]
    cy = np.corrcoef(T[:-1].ravel(), T[1:].ravel())[0, 1]
    return float(np.nan_to_num((cx + cy) / 2))


def _support(T: np.ndarray, nsig: float = 4.0, margin: int = 2) -> np.ndarray:
    """Where the template is significant: its 1-block Gaussian smoothing above ``nsig`` robust
    standard deviations, grown by ``margin`` blocks."""
    ts = gaussian_filter(T, 1.0, mode="nearest")
    noise = _robust_sigma(ts)
    if not np.isfinite(noise) or noise == 0:
        return np.ones(T.shape, bool)
    return binary_dilation(np.abs(ts) > nsig * noise, iterations=margin)


def _zero_point(D: np.ndarray, T: np.ndarray, basis: np.ndarray, sigma: float = 3.0, iters: int = 5) -> float:
    """``k`` of ``D = P + k D T`` (P a 3rd-order polynomial), iteratively clipped.

    ``T`` comes cleaned of noise outside the wisp (:func:`_support`): noise in a regressor
    would bias its coefficient towards 0.
    """
    ok = np.isfinite(D)
    X = np.column_stack([basis, np.where(ok, D * T, 0.0)])
    y = np.where(ok, D, 0.0)
    keep = ok.copy()
    k = 0.0
    for _ in range(iters):
        coef, *_ = np.linalg.lstsq(X[keep], y[keep], rcond=None)
        k = float(coef[-1])
        r = np.where(ok, y - X @ coef, np.nan)
        s = _robust_sigma(r[keep])
        new = ok & (np.abs(r) < sigma * s)
        if np.array_equal(new, keep):
            break
        keep = new
    return k


def fit_additive(Y: np.ndarray, groups: list[int], *, template: np.ndarray | None = None, iters: int = 40,
                 claw_sigma: float = 3.0, claw_blocks: int = 12, masked: np.ndarray | None = None) -> dict:
    """Separate ``Y_i = c_i D_f (1 + a_i T)`` on a block grid; claws flagged per image and block.

    Parameters
    ----------
    Y : ndarray, (n, nby, nbx)
        Block medians of the normalised, source-masked images (NaN = no data).
    groups : list of int
        Filter index of every image.
    template : ndarray, optional
        A given template on the same grid (then only amplitudes are fitted).
    claw_sigma, claw_blocks : float, int
        A claw region: at least ``claw_blocks`` connected blocks more than ``claw_sigma``
        robust standard deviations above the model.
    masked : ndarray, optional
        Block medians of the source-masked images, in which claws are looked for (default
        ``Y``): sources in ``Y`` would be taken for claws.

    Returns
    -------
    dict
        ``T, a, a_err, c, D, flags (n, nby, nbx bool), zero_points (per filter index), z, s (per filter)``:
        image *i* of filter *f* is ``c_i D_f (1 + a_i T) / (1 - k_f T)`` with ``D`` the flat (the
        zero points ``k`` applied) and ``a`` centred per filter.
    """
    n, nby, nbx = Y.shape
    Q = nby * nbx
    Yf = Y.reshape(n, Q).astype(np.float64)
    fidx = np.asarray(groups, int)
    nf = int(fidx.max()) + 1
    valid = np.isfinite(Yf)
    D = np.full((nf, Q), np.nan)
    for f in range(nf):
        D[f] = bn.nanmedian(np.where(valid[fidx == f], Yf[fidx == f], np.nan), axis=0)
    c = np.ones(n)
    # light in one or two images (claws, a bright source) would be the leading variation of
    # the stack and taken for the template: before any fit, a value far outside the spread
    # of all images at its block is left out (the wisp's own variation sets that spread)
    Z = np.where(valid, Yf / np.where(np.isfinite(D[fidx]), D[fidx], 1.0) - 1.0, np.nan)
    Z -= np.nanmedian(Z, axis=1, keepdims=True)
    centre = bn.nanmedian(Z, axis=0)
    spread = 1.4826 * bn.nanmedian(np.abs(Z - centre), axis=0)
    floor = _robust_sigma(Z - centre)
    with np.errstate(invalid="ignore"):
        w = valid & (np.abs(Z - centre) <= 5 * np.maximum(np.nan_to_num(spread), floor))
    fixed = template is not None
    if fixed:
        T = np.nan_to_num(np.asarray(template, np.float64).ravel())
        T = T / max(np.percentile(np.abs(T), 99.9), 1e-30)
    else:
        # start from the leading principal component of the within-filter variation
        _, _, vt = np.linalg.svd(np.where(w, Z, 0.0), full_matrices=False)
        T = vt[0] * np.sign(vt[0][np.argmax(np.abs(vt[0]))])
        T = T / max(np.percentile(np.abs(T), 99.9), 1e-30)
    a = np.zeros(n)
    flags = np.zeros((n, Q), bool)
    sigma = np.ones(n)
    for _round in range(3):  # fit, reject outliers and claws, fit again
        T, a, c, D = _als(Yf, w, fidx, nf, T, a, c, D, fixed, centre=True, iters=iters, shape=(nby, nbx))
        model = c[:, None] * D[fidx] * (1.0 + a[:, None] * T[None, :])
        with np.errstate(invalid="ignore", divide="ignore"):
            r = Yf / model - 1.0
        sigma = np.array([_robust_sigma(r[i]) for i in range(n)])
        if masked is not None:
            with np.errstate(invalid="ignore", divide="ignore"):
                rm = masked.reshape(n, Q) / model - 1.0
            sm = np.array([_robust_sigma(rm[i]) for i in range(n)])
        else:
            rm, sm = r, sigma
        flags[:] = False
        for i in range(n):
            hot = (rm[i] > claw_sigma * sm[i]).reshape(nby, nbx)
            lab, nlab = label(binary_dilation(hot), structure=np.ones((3, 3)))
            if nlab:
                sizes = np.bincount(lab.ravel(), weights=hot.ravel().astype(float))
                big = np.nonzero(sizes >= claw_blocks)[0]
                big = big[big > 0]
                if big.size:
                    flags[i] = binary_dilation(np.isin(lab, big)).ravel()
        w = valid & ~flags & ~(np.abs(r) > 5 * sigma[:, None])
    # significance of the image-to-image variation the template explains
    Dn = D[fidx]
    w &= np.isfinite(Dn)
    signal = np.where(w, (c[:, None] * Dn * a[:, None] * T[None, :]) ** 2 / sigma[:, None] ** 2, 0.0).sum()
    n_free = (nf if fixed else Q)
    n_eff = max(n - nf, 1)
    expected = n_eff if fixed else (np.sqrt(n_free) + np.sqrt(n_eff)) ** 2
    z = float((signal - expected) / np.sqrt(2.0 * (n_eff if fixed else n_free)))
    coherence = _coherence(T.reshape(nby, nbx))
    support = None
    if not fixed:
        # outside the wisp the fitted T is noise, which the correction would print into every
        # image (times a_i): keep T where it is significant (smoothed, with a margin), 0 elsewhere
        support = _support(T.reshape(nby, nbx)).ravel()
        T = T * support
        T, a, c, D = _als(Yf, w, fidx, nf, T, a, c, D, True, centre=True, iters=10, shape=(nby, nbx))
    # zero point per filter under the smooth-flat prior: D_f (1 - k_f T) is the flat. The model
    # is not closed under this shift for a shared T (it becomes T / (1 - k T)), so the fit is not
    # re-run in the new gauge: the correction divides by (1 + a_i T) / (1 - k_f T), exact in
    # the fitted model, and a_i + k_f is reported as the amplitude.
    basis = _poly_basis((nby, nbx))
    zero = np.array([_zero_point(D[f], T, basis) for f in range(nf)])
    # amplitude errors: block noise projected on the template
    Dn = D[fidx]
    w &= np.isfinite(Dn)
    info = np.where(w, (c[:, None] * Dn * T[None, :]) ** 2 / sigma[:, None] ** 2, 0.0).sum(1)
    a_err = 1.0 / np.sqrt(np.maximum(info, 1e-30))
    flat = D * (1.0 - zero[:, None] * T[None, :])
    s = np.array([np.nanmedian(flat[f][np.isfinite(flat[f])]) for f in range(nf)])
    return {"T": T.reshape(nby, nbx), "a": a, "a_err": a_err, "c": c, "D": flat.reshape(nf, nby, nbx),
            "flags": flags.reshape(n, nby, nbx), "zero_points": zero, "z": z, "s": s, "sigma": sigma,
            "coherence": coherence}


def _upsample(grid: np.ndarray, yc: np.ndarray, xc: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bicubic spline through the block centres; beyond the outermost centres the edge values
    hold (a cubic extrapolated over half a block can swing far off)."""
    ny, nx = shape
    if len(yc) < 4 or len(xc) < 4:
        return np.repeat(np.repeat(grid, -(-ny // len(yc)), 0), -(-nx // len(xc)), 1)[:ny, :nx].astype(np.float32)
    spline = RectBivariateSpline(yc, xc, np.nan_to_num(grid), kx=3, ky=3)
    return spline(np.clip(np.arange(ny), yc[0], yc[-1]), np.clip(np.arange(nx), xc[0], xc[-1])).astype(np.float32)


def separate_additive(data: np.ndarray, files: list[str], filters: list[str], *, bin: int = 16,
                      blocks: np.ndarray | None = None, remask=None,
                      template: np.ndarray | None = None, template_source: str = "fitted",
                      claw_sigma: float = 3.0, claw_blocks: int = 12) -> tuple[AdditiveResult, dict]:
    """Fit the additive part of a normalised stack and remove it from ``data`` in place.

    Parameters
    ----------
    data : ndarray, (n, ny, nx) float32
        Normalised, source-masked images (NaN = masked); corrected in place: divided by
        ``c_i s_f (1 + a_i T)`` when a template is detected, NaN on claw regions.
    files, filters : list of str
        Per image, in stack order.
    bin : int
        Block size of the fit (pixels).
    blocks : ndarray, optional
        The images' block medians to fit (default: those of ``data``). The stack's
        :attr:`~.stack.ImageStack.blocks` leave the sources in, so that the source mask, which
        takes the bright ridges of a wisp where it is strong, does not bias the fit; sources are
        rejected as outliers by the fit instead.
    template : ndarray, optional
        A given full-resolution template (e.g. an STScI or JADES wisp template).
    remask : callable, optional
        ``remask(i, light)`` with ``light`` the factor image *i*'s additive light multiplies its
        sky by: returns the image's normalised row with a source mask made without that light
        (or None to keep the row), before the correction.

    Returns
    -------
    AdditiveResult, dict
        The result and the block-grid fit (for diagnostics).
    """
    n, ny, nx = data.shape
    names = sorted(set(filters))
    fidx = [names.index(f) for f in filters]
    if blocks is None:
        Y, yc, xc = bin_stack(data, bin)
    else:
        Y = blocks
        yc, xc = block_centres((ny, nx), bin)
    tgrid = None
    if template is not None:
        tb, _, _ = image_blocks(np.asarray(template, np.float32), bin)
        tgrid = bn.nanmean(tb, axis=-1)
    masked = bin_stack(data, bin)[0] if blocks is not None else None
    fit = fit_additive(Y, fidx, template=tgrid, claw_sigma=claw_sigma, claw_blocks=claw_blocks, masked=masked)
    detected = fit["z"] > DETECTION_Z and fit["coherence"] > MIN_COHERENCE and bool(np.any(fit["T"] != 0))
    if detected:
        T_full = (np.asarray(template, np.float32) / np.float32(max(np.percentile(np.abs(tgrid), 99.9), 1e-30))
                  if template is not None else _upsample(fit["T"], yc, xc, (ny, nx)))
        # report the template with its full-resolution peak at 1 and the amplitudes to match;
        # (1 + a T) / (1 - k T) does not change
        peak = float(np.nanmax(np.abs(T_full))) or 1.0
        T_full = (T_full / np.float32(peak)).astype(np.float32)
        a = fit["a"] * peak
        k = fit["zero_points"][fidx] * peak
        a_err = fit["a_err"] * peak
        zero_points = {names[f]: float(fit["zero_points"][f] * peak) for f in range(len(names))}
        norm = fit["c"] * fit["s"][fidx]
    else:
        T_full = np.zeros((ny, nx), np.float32)
        a = k = a_err = np.zeros(n)
        zero_points = {name: 0.0 for name in names}
        norm = np.ones(n)
    flagged_count = np.zeros((ny, nx), np.int16)
    remasked = []
    for i in range(n):
        if detected and remask is not None:
            light = (np.float32(1.0) + np.float32(a[i]) * T_full) / (np.float32(1.0) - np.float32(k[i]) * T_full)
            row = remask(i, light)
            if row is not None:
                data[i] = row
                remasked.append(files[i])
        if detected:
            g = np.float32(norm[i]) * (np.float32(1.0) + np.float32(a[i]) * T_full) \
                / (np.float32(1.0) - np.float32(k[i]) * T_full)
            np.divide(data[i], g, out=data[i])
        fl = fit["flags"][i]
        if fl.any():
            full = np.repeat(np.repeat(fl, bin, 0), bin, 1)[:ny, :nx]
            data[i][full] = np.nan
            flagged_count += full
    result = AdditiveResult(
        files=list(files), filters=list(filters), template=T_full,
        amplitudes=(a + k).astype(np.float64) if detected else a, amplitude_errors=a_err,
        norm=np.asarray(norm, np.float64),
        zero_points=zero_points,
        flagged=fit["flags"].reshape(n, -1).any(1), flagged_blocks=fit["flags"].reshape(n, -1).sum(1).tolist(),
        flagged_count=flagged_count, detected=detected, z=fit["z"], bin=bin, source=template_source,
        remasked=remasked)
    return result, fit


def read_templates(paths) -> dict[str, tuple[str, np.ndarray]]:
    """Additive (wisp) templates from FITS files, by detector (``""`` = any detector).

    A template is the first 2-D image in the file (primary HDU or an extension such as
    ``SCI``), in detector space, DMS orientation (as STScI and JADES publish wisp templates);
    its scale does not matter (only its shape is used). The detector is the ``DETECTOR``
    keyword (``NRCA3`` or ``A3``), else the file is used for every detector.

    Raises
    ------
    NircamFileError
        A file that cannot be read, holds no 2-D image, or a second template for one detector.
    """
    import os

    from astropy.io import fits

    from ..detector import get_detector
    from ..errors import NircamFileError

    out: dict[str, tuple[str, np.ndarray]] = {}
    for p in paths:
        p = os.fspath(p)
        try:
            with fits.open(p) as hdul:
                hdu = next((h for h in hdul if h.data is not None and np.ndim(h.data) == 2), None)
                if hdu is None:
                    raise NircamFileError(p, "no 2-D image in this file: an additive template is an image")
                data = np.asarray(hdu.data, np.float32)
                det = str(hdul[0].header.get("DETECTOR", hdu.header.get("DETECTOR", ""))).strip()
        except OSError as exc:
            raise NircamFileError(p, f"could not read it as FITS ({exc})") from None
        if det:
            try:
                det = get_detector(det).name
            except (KeyError, ValueError):
                raise NircamFileError(p, f"DETECTOR {det!r} is not a NIRCam detector") from None
        if not np.isfinite(data).any() or np.nanmax(np.abs(data)) == 0:
            raise NircamFileError(p, "the template is empty (all zero or NaN)")
        if det in out:
            raise NircamFileError(p, f"a second template for {det or 'all detectors'} (the first: {out[det][0]})")
        out[det] = (p, np.nan_to_num(data))
    return out


def check_templates(paths, frames: dict[str, tuple[int, int]]) -> dict[str, tuple[str, np.ndarray]]:
    """Additive templates read (:func:`read_templates`) and matched to the detectors of a run.

    Parameters
    ----------
    paths : iterable of path-like
        The template files.
    frames : dict of str to (int, int)
        Frame shape ``(ny, nx)`` of the images of each detector of the run.

    Returns
    -------
    dict
        As :func:`read_templates`: ``{detector: (path, template)}``, ``""`` for a file that
        serves every detector.

    Raises
    ------
    NircamFileError
        As :func:`read_templates`, and for a template whose DETECTOR is none of the images'
        (it would be silently unused) or whose shape is not that of the images it serves.
    """
    from ..errors import NircamFileError

    templates = read_templates(paths)
    have = ", ".join(sorted(frames)) or "none"
    for det, (path, data) in templates.items():
        if det and det not in frames:
            raise NircamFileError(path, f"additive template for DETECTOR {det}, which none of the images is "
                                        f"(their detectors: {have})")
        for name in [det] if det else [d for d in frames if d not in templates]:
            if data.shape != tuple(frames[name]):
                raise NircamFileError(path, f"template of shape {data.shape}, the {name} images are "
                                            f"{frames[name][0]}x{frames[name][1]}")
    return templates
