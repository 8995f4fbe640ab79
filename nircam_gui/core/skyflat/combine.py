"""Sigma-clipped median through a stack of normalised, source-masked images.

The report (section 3.1) combines with 3 sigma, 5 iterations. Two implementations:

``"bottleneck"`` (default)
    Our own loop: rows of the stack are taken a block at a time, transposed so the
    image axis is contiguous, and clipped with ``bottleneck.nanmedian``/``nanstd``,
    re-examining only the pixels whose kept set changed. Same bounds as astropy
    (centre = median, half-width = sigma x population std, iterate until nothing
    changes or ``maxiters``). It is measurably faster and bounded in memory; see
    ``benchmarks/bench_skyflat.py``.
``"astropy"``
    :func:`astropy.stats.sigma_clip` with ``axis=0`` per block of rows, then
    ``bottleneck.nanmedian``: the reference the benchmark compares against.

Both return the median, a coverage map (images kept after clipping) and an error map:
the standard error of the median of a Gaussian sample, ``1.2533 * std / sqrt(n)``, with
the clipped std (ddof=1) divided by the square root of the variance one clipping pass
keeps (0.97334 at 3 sigma, :func:`~nircam_gui.core.clipping.clip_variance_factor`),
because clipping removes the Gaussian tails and biases the variance low by that factor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import warnings

import bottleneck as bn
import numpy as np

from astropy.utils.exceptions import AstropyUserWarning

from ..clipping import clip_variance_factor
from ..progress import CancelCheck, ProgressCallback, Reporter

__all__ = ["CombineResult", "clip_along_last_axis", "combine_stack"]

#: sqrt(pi/2): standard error of the median relative to that of the mean (Gaussian).
MEDIAN_EFFICIENCY = 1.2533


@dataclass
class CombineResult:
    """Result of :func:`combine_stack`; arrays have the image shape."""

    median: np.ndarray
    error: np.ndarray
    coverage: np.ndarray
    method: str
    sigma: float
    maxiters: int


def clip_along_last_axis(block: np.ndarray, sigma: float = 3.0, maxiters: int = 5) -> tuple[np.ndarray, ...]:
    """Sigma-clip ``block`` (..., n) along its last axis in place; NaN = missing.

    Returns
    -------
    median, std, count : ndarray
        Of the kept values, shapes ``block.shape[:-1]``; ``std`` uses ddof=1.
    """
    flat = block.reshape(-1, block.shape[-1])
    active = np.arange(flat.shape[0])
    sub = flat
    for _ in range(maxiters):
        med = bn.nanmedian(sub, axis=-1)
        std = bn.nanstd(sub, axis=-1)
        with np.errstate(invalid="ignore"):
            out = np.abs(sub - med[:, None]) > (sigma * std)[:, None]
        changed = out.any(axis=-1)
        if not changed.any():
            break
        sub = np.where(out, np.float32(np.nan), sub)
        flat[active[changed]] = sub[changed]
        # only rows whose kept set changed need another pass
        active = active[changed]
        sub = sub[changed]
    med = bn.nanmedian(flat, axis=-1)
    std = bn.nanstd(flat, axis=-1, ddof=1)
    count = np.count_nonzero(np.isfinite(flat), axis=-1)
    shape = block.shape[:-1]
    return med.reshape(shape), std.reshape(shape), count.reshape(shape)


def combine_stack(
    stack: np.ndarray,
    indices: Sequence[int] | None = None,
    *,
    sigma: float = 3.0,
    maxiters: int = 5,
    method: str = "bottleneck",
    rows_per_block: int = 64,
    progress: ProgressCallback | None = None,
    cancel: CancelCheck | None = None,
) -> CombineResult:
    """Sigma-clipped median through ``stack[indices]`` along the first axis.

    Parameters
    ----------
    stack : ndarray, shape (n_images, ny, nx)
        Normalised images, NaN where masked. Not modified.
    indices : sequence of int, optional
        Images to combine (default all), so per-filter and grey flats share one stack.
    sigma, maxiters : float, int
        Clipping (report: 3 sigma, 5 iterations).
    method : {"bottleneck", "astropy"}
    rows_per_block : int
        Rows processed at a time: bounds the extra memory to a few blocks.

    Returns
    -------
    CombineResult
    """
    idx = np.arange(stack.shape[0]) if indices is None else np.asarray(indices, dtype=int)
    ny, nx = stack.shape[1:]
    median = np.full((ny, nx), np.nan, np.float32)
    error = np.full((ny, nx), np.nan, np.float32)
    coverage = np.zeros((ny, nx), np.int16)
    kept_variance = clip_variance_factor(sigma, iterations=1)
    starts = range(0, ny, rows_per_block)
    rep = Reporter(len(starts), progress, cancel)
    for r0 in starts:
        r1 = min(r0 + rows_per_block, ny)
        if method == "bottleneck":
            # (n, rows, nx) -> (rows, nx, n): the image axis contiguous for bottleneck
            block = np.ascontiguousarray(np.moveaxis(stack[idx, r0:r1], 0, -1), dtype=np.float32)
            med, std, cnt = clip_along_last_axis(block, sigma, maxiters)
        elif method == "astropy":
            from astropy.stats import sigma_clip

            block = stack[idx, r0:r1]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", AstropyUserWarning)  # "NaNs were clipped": expected
                clipped = sigma_clip(block, sigma=sigma, maxiters=maxiters, axis=0, cenfunc="median",
                                     stdfunc="std", masked=False, copy=True)
            med = bn.nanmedian(clipped, axis=0)
            std = bn.nanstd(clipped, axis=0, ddof=1)
            cnt = np.count_nonzero(np.isfinite(clipped), axis=0)
        else:
            raise ValueError(f"unknown combine method {method!r} (bottleneck or astropy)")
        median[r0:r1] = med
        with np.errstate(invalid="ignore", divide="ignore"):
            err = MEDIAN_EFFICIENCY * std / np.sqrt(kept_variance) / np.sqrt(cnt)
        error[r0:r1] = np.where(cnt >= 2, err, np.nan)
        coverage[r0:r1] = cnt
        rep.step(f"combine rows {r0}-{r1 - 1}")
    return CombineResult(median, error, coverage, method, sigma, maxiters)
