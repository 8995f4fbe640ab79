"""How a filter's delta flat differs from the grey one (JWST-STScI-008304 section 3.3, Figs. 4-6).

The difference is a large-scale effect of ~1-2 %, far below the per-pixel noise of a delta
flat, so it is measured on ``bin`` x ``bin`` blocks: the sigma-clipped median of each delta
flat in every block, then their ratio minus 1. Taking per-pixel ratios first and their block
medians after is biased: wherever the filter's median and the grey median pick the same
image value, the ratio is exactly 1 (with 2 filters, ~7 % of pixels), and that spike at 0
pulls every block median, and the gradient they show, towards 0.

The difference map (``FILTDIFF``) is the block grid brought to full size with a bicubic
spline; the statistics are those of the blocks; the gradient is a plane fitted to them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import RectBivariateSpline

from .largescale import bin_image

__all__ = ["FilterDifference", "filter_difference"]


@dataclass
class FilterDifference:
    """Block grid of ``filter delta / grey delta - 1`` and its statistics."""

    grid: np.ndarray
    yc: np.ndarray
    xc: np.ndarray
    shape: tuple[int, int]
    range_max: float
    range_2_98: float
    rms: float
    #: plane ``c + slope_x x' + slope_y y'`` fitted to the blocks, with x', y' from -1 to 1 over the frame
    slope_x: float
    slope_y: float

    def image(self) -> np.ndarray:
        """The difference at full size (bicubic spline through the blocks; NaN on empty blocks)."""
        ny, nx = self.shape
        grid = self.grid
        ok = np.isfinite(grid)
        if not ok.any():
            return np.full(self.shape, np.nan, np.float32)
        filled = np.where(ok, grid, np.nanmedian(grid))
        if len(self.yc) < 4 or len(self.xc) < 4:
            full = np.repeat(np.repeat(filled, -(-ny // len(self.yc)), 0), -(-nx // len(self.xc)), 1)[:ny, :nx]
        else:
            spline = RectBivariateSpline(self.yc, self.xc, filled, kx=3, ky=3,
                                         bbox=[min(0, self.yc[0]), max(ny - 1, self.yc[-1]),
                                               min(0, self.xc[0]), max(nx - 1, self.xc[-1])])
            full = spline(np.arange(ny), np.arange(nx))
        by, bx = -(-ny // len(self.yc)), -(-nx // len(self.xc))
        empty = np.repeat(np.repeat(~ok, by, 0), bx, 1)[:ny, :nx]
        return np.where(empty, np.nan, full).astype(np.float32)


def filter_difference(delta: np.ndarray, grey: np.ndarray, bin: int = 32) -> FilterDifference:
    """``delta / grey - 1`` on ``bin`` x ``bin`` blocks (clipped block medians of each, then the ratio)."""
    md, _, yc, xc = bin_image(delta, bin)
    mg = bin_image(grey, bin)[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        grid = (md / mg - 1.0).astype(np.float64)
    ok = np.isfinite(grid)
    v = grid[ok]
    ny, nx = delta.shape
    if v.size == 0:
        return FilterDifference(grid, yc, xc, (ny, nx), np.nan, np.nan, np.nan, np.nan, np.nan)
    yy, xx = np.meshgrid((yc - (ny - 1) / 2) / (ny / 2), (xc - (nx - 1) / 2) / (nx / 2), indexing="ij")
    sx = sy = np.nan
    if v.size >= 3:
        X = np.column_stack([np.ones(v.size), xx[ok], yy[ok]])
        (_, sx, sy), *_ = np.linalg.lstsq(X, v, rcond=None)
    return FilterDifference(grid, yc, xc, (ny, nx), float(v.max() - v.min()),
                            float(np.percentile(v, 98) - np.percentile(v, 2)), float(np.std(v)), float(sx), float(sy))
