"""Straight-line fits of variance against mean, for every box and pair at once.

The variance of the differenced frame against the mean of the summed frame has slope
1/gain (both are sums of two frames, so the factors of two cancel); the intercept is
twice the single-frame read (and, unless groups are referenced to the first read, reset)
noise variance. Groups of one integration share their cumulative signal, so the points
are correlated and the least-squares slope error is too small: the honest uncertainty
comes from comparing maps (see :mod:`nircam_gui.core.gain.maps`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PTCFit", "fit_ptc"]

FLAG_FEW_POINTS = 1
FLAG_FEW_PIXELS = 2
FLAG_BAD_SLOPE = 4


@dataclass
class PTCFit:
    """Fit results, arrays of shape (npairs, nbox); ``used`` and ``residuals`` add the group axis."""

    slope: np.ndarray
    intercept: np.ndarray
    slope_err: np.ndarray
    npoints: np.ndarray
    used: np.ndarray  # (npairs, ngroups, nbox) bool
    residuals: np.ndarray  # (npairs, ngroups, nbox), NaN where not measured
    flags: np.ndarray  # bit flags, see FLAG_*

    @property
    def gain(self) -> np.ndarray:
        """1 / slope, NaN where flagged."""
        with np.errstate(divide="ignore", invalid="ignore"):
            g = 1.0 / self.slope
        return np.where(self.flags == 0, g, np.nan)

    @property
    def read_noise(self) -> np.ndarray:
        """sqrt(intercept / 2): single-frame noise at zero signal (ADU)."""
        return np.sqrt(np.clip(self.intercept, 0, None) / 2.0)


def fit_ptc(
    mean: np.ndarray,
    variance: np.ndarray,
    npix: np.ndarray,
    box_npix: np.ndarray,
    summed_limit: float,
    min_points: int = 3,
    min_pixel_fraction: float = 0.5,
) -> PTCFit:
    """Fit variance = intercept + slope * mean over the groups below the signal limit.

    Parameters
    ----------
    mean, variance, npix : ndarray, shape (npairs, ngroups, nbox)
        Clipped mean of the summed frame, bias-corrected clipped variance of the
        differenced frame, pixels kept in the differenced frame.
    box_npix : ndarray, shape (nbox,)
        Pixels in each box.
    summed_limit : float
        Upper limit on the summed-frame mean (twice the single-frame signal limit).
    min_points : int
        Fewer usable groups flag the fit (FLAG_FEW_POINTS).
    min_pixel_fraction : float
        A group whose kept pixels fall below this fraction of the box is not used;
        when that removes points, FLAG_FEW_PIXELS is set if too few remain.
    """
    finite = np.isfinite(mean) & np.isfinite(variance)
    enough_pix = npix >= min_pixel_fraction * box_npix[None, None, :]
    used = finite & (mean < summed_limit) & enough_pix
    w = used.astype(float)
    n = w.sum(axis=1)
    x = np.where(used, mean, 0.0)
    y = np.where(used, variance, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        xm = (w * x).sum(axis=1) / n
        ym = (w * y).sum(axis=1) / n
        dx = np.where(used, mean - xm[:, None, :], 0.0)
        dy = np.where(used, variance - ym[:, None, :], 0.0)
        sxx = (dx * dx).sum(axis=1)
        slope = (dx * dy).sum(axis=1) / sxx
        intercept = ym - slope * xm
        fitted = intercept[:, None, :] + slope[:, None, :] * mean
        residuals = np.where(finite, variance - fitted, np.nan)
        rss = np.where(used, residuals, 0.0) ** 2
        dof = n - 2
        slope_err = np.sqrt(rss.sum(axis=1) / np.where(dof > 0, dof, np.nan) / sxx)
    flags = np.zeros(slope.shape, np.int32)
    few_points = n < min_points
    # a group lost for want of pixels: below the limit, or with no statistics at all (every
    # pixel of the box saturated, NaN or masked leaves a NaN mean whose signal is unknown)
    lost_pixels = ((~finite | (mean < summed_limit)) & ~enough_pix).any(axis=1)
    flags[few_points] |= FLAG_FEW_POINTS
    flags[few_points & lost_pixels] |= FLAG_FEW_PIXELS
    # no signal: the fitted points' means not above zero, or spread over less than the noise
    # of one pixel (sqrt of their mean variance). Whatever the slope of such points, it is
    # no photon transfer (a flat field spreads them over thousands of ADU)
    with np.errstate(invalid="ignore"):
        span = np.where(used, mean, -np.inf).max(axis=1) - np.where(used, mean, np.inf).min(axis=1)
        no_signal = ~(xm > 0) | ~(span > np.sqrt(np.clip(ym, 0, None)))
    flags[~(slope > 0) | no_signal] |= FLAG_BAD_SLOPE
    return PTCFit(slope, intercept, slope_err, n.astype(int), used, residuals, flags)
