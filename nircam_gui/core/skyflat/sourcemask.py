"""Source masks for sky flats (report JWST-STScI-008304, section 3.1).

The report smooths each ``_cal`` image with a 3x3 Gaussian kernel and flags any 4
connected pixels 1 sigma above the background as source, plus every DQ DO_NOT_USE pixel.
"Background" here is a smooth map of sigma-clipped medians of 64 px boxes (and the rms a
map of their clipped std): the delta flat itself is a 6-8 % gradient, larger than the
per-pixel noise, so a single background level would flag whole bright corners as
"source". The map is :func:`.largescale.smooth_background`, not photutils'
``Background2D``, because Background2D holds the edge boxes flat and so flags the
upward-sloping frame edges (tests/core/skyflat/test_sourcemask.py shows it).
"""

from __future__ import annotations

import numpy as np
from astropy.convolution import convolve
from photutils.segmentation import make_2dgaussian_kernel
from scipy.ndimage import binary_dilation

from ..dq import DO_NOT_USE
from .largescale import smooth_background
from .segmentation import segment_sources

__all__ = ["source_mask"]


def source_mask(
    sci: np.ndarray,
    dq: np.ndarray | None = None,
    *,
    n_sigma: float = 1.0,
    n_pixels: int = 4,
    kernel_fwhm: float = 3.0,
    kernel_size: int = 3,
    dilate: int = 0,
    box_size: int = 64,
) -> np.ndarray:
    """Boolean mask, True on sources and on pixels that must not be used.

    Parameters
    ----------
    sci : ndarray
        Calibrated image (MJy/sr); NaN pixels count as masked.
    dq : ndarray, optional
        DQ array; pixels with DO_NOT_USE are masked.
    n_sigma : float
        Detection threshold above the background, in units of the background rms
        of the *unsmoothed* image (report: 1).
    n_pixels : int
        Minimum number of connected pixels (8-connectivity) above threshold (report: 4).
    kernel_fwhm, kernel_size : float, int
        Gaussian smoothing kernel, applied with :func:`astropy.convolution.convolve`
        (report: 3x3 pixels).
    dilate : int
        Grow the source mask by this many pixels (0 = as the report).
    box_size : int
        Box of the background map (pixels).

    Returns
    -------
    ndarray of bool
    """
    sci = np.asarray(sci, dtype=np.float32)
    bad = ~np.isfinite(sci)
    if dq is not None:
        bad |= (np.asarray(dq) & DO_NOT_USE) != 0
    box = int(min(box_size, max(8, min(sci.shape) // 4)))
    background, rms = smooth_background(np.where(bad, np.nan, sci), box)
    # NaN / DO_NOT_USE pixels are filled with 0 after background subtraction, so they
    # neither create nor hide sources in the smoothed image
    resid = np.where(bad, 0.0, sci - background).astype(np.float32)
    kernel = make_2dgaussian_kernel(kernel_fwhm, size=kernel_size)
    smooth = convolve(resid, kernel, boundary="extend", normalize_kernel=True)
    segm = segment_sources(smooth, n_sigma * rms, n_pixels, bad)
    mask = bad.copy()
    if segm is not None:  # photutils returns None when nothing is found
        src = segm.data > 0
        if dilate > 0:
            src = binary_dilation(src, iterations=int(dilate))
        mask |= src
    return mask
