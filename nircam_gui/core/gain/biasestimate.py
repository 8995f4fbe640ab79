"""A superbias estimated from the flat-field ramps themselves, for runs given no SUPERBIAS.

Taking the first read as the bias of each integration removes, with the bias, the charge
collected before that read (one frame's worth). The linearity correction is then evaluated
on a signal short by that charge, which biases the gain by a few tenths of a percent
(measured on the simulator: +0.25% against a run with the true superbias). Under a flat
field the signal grows linearly over the first frames, so ``2 * read0 - read1`` is the
bias of each pixel at the start of the integration; averaged over the integrations it is
a superbias whose noise (read noise / sqrt(n)) is common to every integration, so it
cancels in the pair differences and shifts the summed means by a constant.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..readers import open_ramp
from ..reffiles import write_reference
from .pairs import Integration

__all__ = ["estimate_superbias", "write_estimated_superbias"]


def estimate_superbias(integrations: list[Integration], saturation: np.ndarray | None = None) -> np.ndarray:
    """Mean over the integrations of ``2 * read0 - read1`` (ADU, DMS orientation).

    An integration whose read 1 is saturated (at or above ``saturation``, raw DN; 65535
    without one) says nothing about the bias there and is left out of that pixel's mean;
    a pixel saturated in every integration keeps its mean first read.
    """
    total = count = first = None
    limit = np.float64(65535) if saturation is None else np.asarray(saturation, np.float64)
    for integ in integrations:
        with open_ramp(integ.path) as ramp:
            g = ramp.read_groups(integ.index, 0, 2).astype(np.float64)
        ok = g[1] < limit
        if total is None:
            total, count, first = np.zeros_like(g[0]), np.zeros(g[0].shape, np.int32), np.zeros_like(g[0])
        total += np.where(ok, 2.0 * g[0] - g[1], 0.0)
        count += ok
        first += g[0]
    bias = np.where(count > 0, total / np.maximum(count, 1), first / len(integrations))
    return bias.astype(np.float32)


def write_estimated_superbias(integrations: list[Integration], folder: str | os.PathLike, detector: str,
                              saturation: np.ndarray | None = None) -> Path:
    """:func:`estimate_superbias` as a SUPERBIAS reference file in ``folder``; returns its path."""
    if integrations[0].meta.ngroups < 2:
        raise ValueError("a superbias estimate needs two groups")
    bias = estimate_superbias(integrations, saturation)
    path = Path(folder) / "estimated_superbias.fits"
    write_reference(path, "SUPERBIAS", detector, {"data": bias},
                    description="superbias estimated from the flats: mean of 2 read0 - read1",
                    history=[f"estimated from {len(integrations)} integrations by nircam-gui"])
    return path
