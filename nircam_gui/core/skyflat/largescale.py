"""Large-scale fits to a delta flat (report JWST-STScI-008304, section 3.2).

``poly3`` (default SW)
    A 3rd-order 2-D polynomial (:class:`astropy.modeling.models.Polynomial2D`, linear
    least squares) fitted to sigma-clipped medians of ``bin`` x ``bin`` pixel blocks:
    binning first makes the fit robust to dead pixels and residual sources and fast.
``median`` (default LW)
    The report's "8x8 filter on top of a 32x32 low resolution filter": sigma-clipped
    medians of 32x32 pixel blocks, a median filter of 8x8 blocks on that grid
    (:func:`scipy.ndimage.median_filter`), then a bicubic spline back to full size.
    photutils' ``Background2D`` would do this but only accepts odd filter sizes, so we
    compose it from scipy and take care of the half-cell shift an even window implies.

Fits are normalised to a median of 1 over the pixels that had data.
"""

from __future__ import annotations

import bottleneck as bn
import numpy as np
from astropy.modeling import fitting, models
from scipy.interpolate import RectBivariateSpline
from scipy.ndimage import median_filter

from .combine import clip_along_last_axis

__all__ = ["FIT_METHODS", "bin_image", "block_median", "image_blocks", "smooth_background", "default_method", "fit_large_scale", "fit_median", "fit_poly"]

FIT_METHODS = ("poly3", "median")


def default_method(longwave: bool) -> str:
    """The report's choice: ``poly3`` for SW, ``median`` for LW."""
    return "median" if longwave else "poly3"


def image_blocks(image: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pixels of ``size`` x ``size`` blocks, each block contiguous, and the blocks' centres.

    A frame not divisible by ``size`` is padded with NaN.

    Returns
    -------
    blocks : ndarray, shape (nby, nbx, size * size), float32
    yc, xc : ndarray
        Block centres in pixel coordinates: the centre of the pixels a block spans, not
        of its padding.
    """
    ny, nx = image.shape
    nby, nbx = -(-ny // size), -(-nx // size)
    pad = np.full((nby * size, nbx * size), np.nan, np.float32)
    pad[:ny, :nx] = image
    blocks = np.ascontiguousarray(pad.reshape(nby, size, nbx, size).transpose(0, 2, 1, 3).reshape(nby, nbx, size * size))
    iy, ix = np.arange(nby), np.arange(nbx)
    yc = np.minimum(iy * size + (size - 1) / 2, (iy * size + np.minimum(ny, (iy + 1) * size) - 1) / 2)
    xc = np.minimum(ix * size + (size - 1) / 2, (ix * size + np.minimum(nx, (ix + 1) * size) - 1) / 2)
    return blocks, yc, xc


def block_median(image: np.ndarray, size: int) -> np.ndarray:
    """Median of ``size`` x ``size`` blocks (NaN ignored, no clipping), repeated back to the image's shape.

    A display smoothing; :func:`bin_image` is the clipped one the fits use.
    """
    ny, nx = image.shape
    blocks, _, _ = image_blocks(image, size)
    med = bn.nanmedian(blocks, axis=-1)  # all-NaN blocks stay NaN, without a warning
    return np.repeat(np.repeat(med, size, axis=0), size, axis=1)[:ny, :nx]


def bin_image(image: np.ndarray, bin: int = 32, sigma: float = 3.0, maxiters: int = 5,
              min_fraction: float = 0.25) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sigma-clipped medians of ``bin`` x ``bin`` blocks (NaN = no data).

    A frame not divisible by ``bin`` is padded with NaN. Blocks with less than
    ``min_fraction`` of their pixels valid are NaN.

    Returns
    -------
    medians, counts : ndarray, shape (nby, nbx)
    yc, xc : ndarray
        Block centres in pixel coordinates (mean of the pixels the block spans).
    """
    ny, nx = image.shape
    blocks, yc, xc = image_blocks(image, bin)
    nby, nbx = blocks.shape[:2]
    med, _, cnt = clip_along_last_axis(blocks, sigma, maxiters)
    valid = np.isfinite(image).astype(np.float32)
    vpad = np.zeros((nby * bin, nbx * bin), np.float32)
    vpad[:ny, :nx] = valid
    nvalid = vpad.reshape(nby, bin, nbx, bin).sum(axis=(1, 3))
    med = np.where(nvalid >= min_fraction * bin * bin, med, np.nan)
    return med.astype(np.float32), cnt, yc, xc


def _normalise(fit: np.ndarray, data: np.ndarray) -> np.ndarray:
    norm = np.nanmedian(fit[np.isfinite(data)]) if np.isfinite(data).any() else np.nanmedian(fit)
    return (fit / norm).astype(np.float32)


def fit_poly(delta: np.ndarray, order: int = 3, bin: int = 32) -> np.ndarray:
    """2-D polynomial of ``order`` fitted to the binned ``delta``; full-size, median 1."""
    med, cnt, yc, xc = bin_image(delta, bin)
    yy, xx = np.meshgrid(yc, xc, indexing="ij")
    ok = np.isfinite(med)
    if ok.sum() < (order + 1) * (order + 2) // 2:
        raise ValueError("too few valid blocks for a polynomial fit")
    ny, nx = delta.shape
    # scaled coordinates keep the normal equations well conditioned
    sx, sy = (nx - 1) / 2, (ny - 1) / 2
    model = models.Polynomial2D(order)
    fitter = fitting.LinearLSQFitter()
    w = np.sqrt(cnt[ok].astype(float))
    fitted = fitter(model, (xx[ok] - sx) / sx, (yy[ok] - sy) / sy, med[ok], weights=w)
    x = (np.arange(nx) - sx) / sx
    y = (np.arange(ny) - sy) / sy
    fit = fitted(x[np.newaxis, :], y[:, np.newaxis])
    return _normalise(fit, delta)


def fit_median(delta: np.ndarray, bin: int = 32, filter_size: int = 8) -> np.ndarray:
    """Median filter ``filter_size`` on the ``bin``-pixel low-resolution grid; full-size, median 1."""
    med, _, yc, xc = bin_image(delta, bin)
    # empty blocks take the median of their neighbours before filtering
    if not np.isfinite(med).all():
        from scipy.ndimage import generic_filter

        filled = generic_filter(med, np.nanmedian, size=3, mode="nearest")
        med = np.where(np.isfinite(med), med, filled)
        med = np.where(np.isfinite(med), med, np.nanmedian(med))
    filt = median_filter(med, size=filter_size, mode="nearest")
    # an even window spans offsets -k/2 .. k/2-1: its value belongs half a block lower
    shift = 0.5 * bin if filter_size % 2 == 0 else 0.0
    ny, nx = delta.shape
    # bbox = the whole frame: the spline extrapolates its end pieces to the edges
    # instead of clamping to the value at the outermost block centre
    spline = RectBivariateSpline(yc - shift, xc - shift, filt, kx=min(3, len(yc) - 1), ky=min(3, len(xc) - 1),
                                 bbox=[min(0, yc[0] - shift), max(ny - 1, yc[-1]),
                                       min(0, xc[0] - shift), max(nx - 1, xc[-1])])
    fit = spline(np.arange(ny), np.arange(nx))
    return _normalise(fit, delta)


#: blocks along each axis the large-scale fit needs: a cubic in x and y has 10 terms, and a
#: median filter over fewer blocks than this only returns the mean
MIN_BLOCKS_PER_AXIS = 4


def grid_problem(ny: int, nx: int, bin: int) -> str | None:
    """Why a ``ny`` x ``nx`` frame is too small for the large-scale fit on ``bin`` pixel blocks
    (None when it is not)."""
    nby, nbx = -(-ny // bin), -(-nx // bin)
    if min(nby, nbx) >= MIN_BLOCKS_PER_AXIS:
        return None
    largest = max(1, min(ny, nx) // MIN_BLOCKS_PER_AXIS)
    return (f"a {ny}x{nx} frame holds {nby}x{nbx} blocks of --fit-bin {bin} pixels; the large-scale fit needs "
            f"at least {MIN_BLOCKS_PER_AXIS} along each axis: give --fit-bin {largest} or less, or larger frames")


def fit_large_scale(delta: np.ndarray, method: str = "poly3", **kwargs) -> np.ndarray:
    """Dispatch to :func:`fit_poly` (``"poly3"``) or :func:`fit_median` (``"median"``)."""
    if method == "poly3":
        return fit_poly(delta, 3, **kwargs)
    if method == "median":
        return fit_median(delta, **kwargs)
    raise ValueError(f"unknown large-scale fit {method!r}; choose from {FIT_METHODS}")


def smooth_background(image: np.ndarray, box: int = 64, filter_size: int = 3, sigma: float = 3.0,
                      maxiters: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Background and rms maps: sigma-clipped median/std of ``box`` blocks, a median
    filter of ``filter_size`` blocks, a bicubic spline back to full size.

    Like photutils ``Background2D`` with a median estimator, except at the frame edges:
    Background2D holds the outermost box value constant over the last half box, which on
    a sloped sky (a delta flat is a 6-8 % gradient) leaves the edges under-subtracted;
    the spline here extrapolates the slope.
    """
    ny, nx = image.shape
    blocks, yc, xc = image_blocks(image, box)
    med, std, cnt = clip_along_last_axis(blocks, sigma, maxiters)
    maps = []
    for grid in (med, std):
        ok = (cnt >= 0.25 * box * box) & np.isfinite(grid)
        grid = np.where(ok, grid, np.nanmedian(grid[ok]) if ok.any() else 0.0)
        if filter_size > 1:
            grid = median_filter(grid, size=filter_size, mode="nearest")
        if len(yc) < 2 or len(xc) < 2:
            maps.append(np.full((ny, nx), float(np.median(grid)), np.float32))
            continue
        spline = RectBivariateSpline(yc, xc, grid, kx=min(3, len(yc) - 1), ky=min(3, len(xc) - 1),
                                     bbox=[min(0, yc[0]), max(ny - 1, yc[-1]), min(0, xc[0]), max(nx - 1, xc[-1])])
        maps.append(spline(np.arange(ny), np.arange(nx)).astype(np.float32))
    return maps[0], maps[1]
