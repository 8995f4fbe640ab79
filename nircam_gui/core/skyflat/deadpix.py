"""New dead pixels from a grey delta flat (report JWST-STScI-008304, section 3.4).

A pixel is newly dead when its grey delta is below the threshold (0.8), it is not
exactly 0 or 1 (the report: those are other bad-pixel types, e.g. flagged in all groups
or reference pixels), it is not already DEAD in the ground mask, and enough images
covered it (``min_coverage``; the report is silent, we default to 3 so that a pixel
seen once is not judged on a single noisy value).

Concentrations: dead pixels closer than ``link`` pixels are joined
(:func:`scipy.ndimage.binary_dilation` then :func:`scipy.ndimage.label`, 8-connected);
a group with at least ``min_npix`` dead pixels is a concentration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.table import Table
from scipy import ndimage

from ..detector import reference_pixel_mask
from ..ds9coords import add_ds9_columns

__all__ = ["DeadPixelIndex", "DeadPixels", "dead_candidates", "find_clusters", "find_dead_pixels"]


@dataclass
class DeadPixels:
    """New dead pixels: a boolean map and the table (``x, y`` 0-based, ``value``)."""

    mask: np.ndarray
    table: Table
    threshold: float


def dead_candidates(grey: np.ndarray, threshold: float, *, ground_dead: np.ndarray | None = None,
                    coverage: np.ndarray | None = None, min_coverage: int = 3,
                    exclude_reference: bool = True) -> np.ndarray:
    """The report's rule: pixels whose grey delta is below ``threshold``, not exactly 0 or 1,
    not already dead on the ground, covered by ``min_coverage`` images, not reference pixels.

    Parameters are those of :func:`find_dead_pixels`; returns a boolean map.
    """
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(grey) & (grey < threshold) & (grey != 0.0) & (grey != 1.0)
    if ground_dead is not None:
        ok &= ~np.asarray(ground_dead, dtype=bool)
    if coverage is not None:
        ok &= np.asarray(coverage) >= min_coverage
    if exclude_reference:
        ok &= ~reference_pixel_mask(grey.shape)
    return ok


def find_dead_pixels(
    grey: np.ndarray,
    *,
    threshold: float = 0.8,
    ground_dead: np.ndarray | None = None,
    coverage: np.ndarray | None = None,
    min_coverage: int = 3,
    exclude_reference: bool = True,
) -> DeadPixels:
    """New dead pixels in a grey delta flat.

    Parameters
    ----------
    grey : ndarray
        Grey delta flat (NaN = no data).
    threshold : float
        Below this a pixel is dead (report: 0.8).
    ground_dead : ndarray of bool, optional
        Pixels already DEAD in the ground mask; left out.
    coverage : ndarray of int, optional
        Images that contributed to each pixel; pixels below ``min_coverage`` are left out.
    exclude_reference : bool
        Leave out the 4-pixel reference border.

    Returns
    -------
    DeadPixels
    """
    grey = np.asarray(grey)
    dead = dead_candidates(grey, threshold, ground_dead=ground_dead, coverage=coverage, min_coverage=min_coverage,
                           exclude_reference=exclude_reference)
    y, x = np.nonzero(dead)
    table = Table({"x": x.astype(np.int32), "y": y.astype(np.int32), "value": grey[y, x].astype(np.float32)})
    table["x"].description = "column, 0-based, DMS orientation"
    table["y"].description = "row, 0-based, DMS orientation"
    table["value"].description = "grey delta-flat value (response relative to ground)"
    add_ds9_columns(table)
    table.meta["threshold"] = float(threshold)
    table.meta["min_coverage"] = int(min_coverage)
    return DeadPixels(dead, table, threshold)


def find_clusters(dead: np.ndarray, grey: np.ndarray, *, link: int = 3, min_npix: int = 20) -> tuple[Table, np.ndarray]:
    """Concentrations of dead pixels.

    Parameters
    ----------
    dead : ndarray of bool
        Dead-pixel map.
    grey : ndarray
        Grey delta flat, for the mean value.
    link : int
        Dead pixels within this many pixels of each other belong to one group.
    min_npix : int
        Smallest number of dead pixels that makes a concentration.

    Returns
    -------
    table : astropy.table.Table
        ``x, y`` (centre, mean of the dead pixels, 0-based), ``npix``, ``mean_value``,
        ``radius`` (rms distance from the centre), ``xmin, xmax, ymin, ymax``; sorted by
        ``npix``, largest first.
    labels : ndarray of int
        Label image of the concentrations (0 = none), numbered as the table rows + 1.
    """
    grown = ndimage.binary_dilation(dead, iterations=int(link)) if link > 0 else dead
    labels, n = ndimage.label(grown, structure=np.ones((3, 3), bool))
    labels = np.where(dead, labels, 0)
    rows = []
    if n:
        idx = np.arange(1, n + 1)
        npix = ndimage.sum_labels(dead, labels, idx).astype(int)
        keep = idx[npix >= min_npix]
        objects = ndimage.find_objects(labels)
        for lab in keep:
            sl = objects[lab - 1]
            sub = labels[sl] == lab
            yy, xx = np.nonzero(sub)
            yy = yy + sl[0].start
            xx = xx + sl[1].start
            cx, cy = xx.mean(), yy.mean()
            rows.append((lab, cx, cy, yy.size, float(np.mean(grey[yy, xx])),
                         float(np.sqrt(np.mean((xx - cx) ** 2 + (yy - cy) ** 2))),
                         int(xx.min()), int(xx.max()), int(yy.min()), int(yy.max())))
    rows.sort(key=lambda r: -r[3])
    out_labels = np.zeros(dead.shape, np.int32)
    for k, r in enumerate(rows, start=1):
        out_labels[labels == r[0]] = k
    names = ("x", "y", "npix", "mean_value", "radius", "xmin", "xmax", "ymin", "ymax")
    dtypes = (np.float64, np.float64, np.int32, np.float32, np.float32, np.int32, np.int32, np.int32, np.int32)
    table = Table(rows=[r[1:] for r in rows] if rows else None, names=names, dtype=dtypes)
    table["x"].description = "centre column (mean of the dead pixels), 0-based"
    table["y"].description = "centre row (mean of the dead pixels), 0-based"
    table["npix"].description = "number of new dead pixels in the concentration"
    table["mean_value"].description = "mean grey delta-flat value of those pixels"
    add_ds9_columns(table, ("x", "y", "xmin", "xmax", "ymin", "ymax"))
    table.meta["link"] = int(link)
    table.meta["min_npix"] = int(min_npix)
    return table, out_labels


class DeadPixelIndex:
    """The pixels :func:`find_dead_pixels` can call dead, sorted by grey value, for instant re-thresholding.

    Built once from a grey delta flat (a sort of the eligible pixels below ``max_threshold``,
    ~0.2 s for a full frame); then the dead pixels at any threshold up to ``max_threshold``
    are a prefix of the sorted arrays, found by binary search in microseconds. The
    criteria are :func:`dead_candidates`, as for :func:`find_dead_pixels`, so ``mask(t)`` equals
    ``find_dead_pixels(grey, threshold=t, ...).mask``.

    Parameters
    ----------
    grey, ground_dead, coverage, min_coverage, exclude_reference
        As for :func:`find_dead_pixels`.
    max_threshold : float
        Highest threshold that will be asked for.
    """

    def __init__(self, grey: np.ndarray, *, ground_dead: np.ndarray | None = None,
                 coverage: np.ndarray | None = None, min_coverage: int = 3, exclude_reference: bool = True,
                 max_threshold: float = 1.0) -> None:
        grey = np.asarray(grey)
        self.shape = grey.shape
        self.max_threshold = float(max_threshold)
        ok = dead_candidates(grey, self.max_threshold, ground_dead=ground_dead, coverage=coverage,
                             min_coverage=min_coverage, exclude_reference=exclude_reference)
        y, x = np.nonzero(ok)
        values = grey[y, x]
        order = np.argsort(values, kind="stable")
        self.values = values[order]  # grey's dtype: compared exactly as find_dead_pixels compares
        self.x = x[order].astype(np.int32)
        self.y = y[order].astype(np.int32)

    def count(self, threshold: float) -> int:
        """Number of dead pixels at ``threshold``."""
        if threshold > self.max_threshold:
            raise ValueError(f"threshold {threshold} above the index's maximum {self.max_threshold}")
        # strict "<": searchsorted "left" gives the number of values below threshold
        return int(np.searchsorted(self.values, np.asarray(threshold).astype(self.values.dtype), side="left"))

    def pixels(self, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(x, y, value)`` of the dead pixels at ``threshold``, 0-based, lowest value first."""
        k = self.count(threshold)
        return self.x[:k], self.y[:k], self.values[:k]

    def mask(self, threshold: float) -> np.ndarray:
        """Boolean dead-pixel map at ``threshold``."""
        x, y, _ = self.pixels(threshold)
        out = np.zeros(self.shape, bool)
        out[y, x] = True
        return out
