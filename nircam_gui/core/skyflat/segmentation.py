"""Sources found by image segmentation (photutils), for source masks and star detection alike."""

from __future__ import annotations

import warnings

import numpy as np
from photutils.segmentation import SegmentationImage, detect_sources
from photutils.utils.exceptions import NoDetectionsWarning

__all__ = ["segment_sources"]


def segment_sources(data: np.ndarray, threshold: np.ndarray | float, n_pixels: int,
                    mask: np.ndarray | None = None) -> SegmentationImage | None:
    """Segmentation image of the groups of ``n_pixels`` connected pixels above ``threshold``.

    :func:`photutils.segmentation.detect_sources` (8-connectivity) under both of its
    keyword spellings (photutils 3 renamed ``npixels`` to ``n_pixels``), without its
    warning on an empty field, which is a valid answer.

    Parameters
    ----------
    data : ndarray
        The (background-subtracted, usually smoothed) image.
    threshold : ndarray or float
        Per-pixel or single threshold, in the units of ``data``.
    n_pixels : int
        Connected pixels a source needs.
    mask : ndarray of bool, optional
        Pixels left out of the detection.

    Returns
    -------
    SegmentationImage or None
        None when nothing is found.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoDetectionsWarning)
        try:
            return detect_sources(data, threshold, n_pixels=n_pixels, mask=mask)
        except TypeError:  # pragma: no cover - photutils < 3
            return detect_sources(data, threshold, npixels=n_pixels, mask=mask)
