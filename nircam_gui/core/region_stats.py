"""Numbers for the viewer's pixel tools: the values around a pixel, statistics of a box.

Qt-free, so the same numbers can be scripted and tested: the GUI only shows them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.stats import sigma_clipped_stats

__all__ = ["BoxStatistics", "box_statistics", "line_profile", "pixel_window"]


def pixel_window(image: np.ndarray, column: int, row: int, half: int = 4) -> tuple[np.ndarray, int, int]:
    """The ``(2 half + 1)`` square of values centred on ``(column, row)`` (0-based), NaN outside the image.

    Returns
    -------
    (ndarray, int, int)
        The window (row-major, row 0 at the bottom as in the image) and the 0-based column
        and row of its first element.
    """
    size = 2 * half + 1
    out = np.full((size, size), np.nan, dtype=np.float64)
    ny, nx = image.shape
    x0, y0 = column - half, row - half
    xs, ys = max(x0, 0), max(y0, 0)
    xe, ye = min(x0 + size, nx), min(y0 + size, ny)
    if xs < xe and ys < ye:
        out[ys - y0:ye - y0, xs - x0:xe - x0] = image[ys:ye, xs:xe]
    return out, x0, y0


@dataclass
class BoxStatistics:
    """Statistics of the finite pixels of a box (DS9's region statistics, plus clipped ones).

    ``x0, x1, y0, y1`` are 0-based and inclusive; ``npix`` counts the finite pixels used,
    ``n_clipped`` those the sigma clipping rejected.
    """

    x0: int
    x1: int
    y0: int
    y1: int
    npix: int
    mean: float
    median: float
    std: float
    clipped_mean: float
    clipped_median: float
    clipped_std: float
    n_clipped: int
    minimum: float
    maximum: float

    def text(self) -> str:
        """A few lines for the window, 1-based corners as in DS9."""
        return (f"box x {self.x0 + 1}-{self.x1 + 1}, y {self.y0 + 1}-{self.y1 + 1}: {self.npix} pixels\n"
                f"mean {self.mean:.6g}   median {self.median:.6g}   std {self.std:.4g}\n"
                f"3σ clipped: mean {self.clipped_mean:.6g}   median {self.clipped_median:.6g}   "
                f"σ {self.clipped_std:.4g}   ({self.n_clipped} rejected)\n"
                f"min {self.minimum:.6g}   max {self.maximum:.6g}")


def box_statistics(image: np.ndarray, x0: int, x1: int, y0: int, y1: int, sigma: float = 3.0,
                   maxiters: int = 5, exclude: np.ndarray | None = None) -> BoxStatistics:
    """Statistics of ``image[y0:y1+1, x0:x1+1]`` (0-based inclusive corners, clipped to the image).

    Parameters
    ----------
    sigma, maxiters
        Iterative clipping about the median (:func:`astropy.stats.sigma_clipped_stats`).
    exclude : ndarray of bool, optional
        Pixels to leave out (e.g. DO_NOT_USE in the DQ), same shape as ``image``.

    Raises
    ------
    ValueError
        The box holds no finite pixel.
    """
    ny, nx = image.shape
    x0, x1 = sorted((int(x0), int(x1)))
    y0, y1 = sorted((int(y0), int(y1)))
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, nx - 1), min(y1, ny - 1)
    if x1 < x0 or y1 < y0:
        raise ValueError("the box lies outside the image")
    cut = np.asarray(image[y0:y1 + 1, x0:x1 + 1], dtype=np.float64)
    good = np.isfinite(cut)
    if exclude is not None:
        good &= ~exclude[y0:y1 + 1, x0:x1 + 1]
    values = cut[good]
    if values.size == 0:
        raise ValueError(f"the box x {x0 + 1}-{x1 + 1}, y {y0 + 1}-{y1 + 1} holds no finite pixel")
    cmean, cmedian, cstd = sigma_clipped_stats(values, sigma=sigma, maxiters=maxiters, cenfunc="median",
                                               stdfunc="std")
    lo, hi = cmedian - sigma * cstd, cmedian + sigma * cstd
    kept = int(np.count_nonzero((values >= lo) & (values <= hi))) if cstd > 0 else values.size
    return BoxStatistics(x0, x1, y0, y1, int(values.size), float(values.mean()), float(np.median(values)),
                         float(values.std()), float(cmean), float(cmedian), float(cstd), int(values.size - kept),
                         float(values.min()), float(values.max()))


def line_profile(image: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> tuple[np.ndarray, np.ndarray,
                                                                                          np.ndarray, np.ndarray]:
    """Values along the line from ``(x0, y0)`` to ``(x1, y1)`` (0-based pixel centres), one sample per pixel step.

    Each sample is the pixel containing the point (nearest pixel, no interpolation, so the
    values are the data's own); points outside the image are NaN.

    Returns
    -------
    (distance, x, y, values)
        Distance from the start in pixels, the 0-based pixel of each sample, and its value.
    """
    length = float(np.hypot(x1 - x0, y1 - y0))
    n = max(int(np.ceil(length)) + 1, 2)
    t = np.linspace(0.0, 1.0, n)
    xs = np.floor(x0 + t * (x1 - x0) + 0.5).astype(np.int64)
    ys = np.floor(y0 + t * (y1 - y0) + 0.5).astype(np.int64)
    ny, nx = image.shape
    inside = (xs >= 0) & (xs < nx) & (ys >= 0) & (ys < ny)
    values = np.full(n, np.nan)
    values[inside] = image[ys[inside], xs[inside]]
    return t * length, xs, ys, values
