"""IPC convention of a gain: IPC-corrected (the report's) or apparent (the jwst pipeline's).

IPC spreads each pixel's charge to its neighbours; the mean is kept, the variance of
white (Poisson) noise is multiplied by the sum of the squares of the physical kernel,
``s = sum(k**2) < 1``. A PTC through data that were not IPC-corrected therefore measures
the *apparent* gain ``g_app = g / s``, ~5% above the IPC-corrected ``g`` at NIRCam's
coupling. The jwst pipeline skips the IPC step for NIRCam by default, so its ramp_fit
and jump steps need the apparent gain to predict the Poisson noise of the data they see;
the NIRCam GAIN files in CRDS are made from data that were not IPC-corrected
(spacetelescope/jwst issue 6247). Report JWST-STScI-004622 quotes IPC-corrected gains
(its Table 7), which give the number of detected electrons.

From an IPC-corrected gain the apparent one follows exactly with ``s`` computed from the
physical kernel (the inverse of the IPC reference file's correction kernel); a gain
corrected with the report's first-order factor goes back by that same factor.
"""

from __future__ import annotations

__all__ = ["CONVENTION_NOTE", "apparent_divisor", "is_ipc_corrected"]

CONVENTION_NOTE = (
    "gain: IPC-corrected (report JWST-STScI-004622 Table 7 convention: electrons detected); "
    "gain_apparent: the gain of data not IPC-corrected, what the jwst pipeline needs for NIRCam "
    "(its IPC step is skipped by default; spacetelescope/jwst issue 6247), = gain / ipc_variance_factor"
)


def is_ipc_corrected(ipc_mode: str) -> bool:
    """True when a run with this ``--ipc`` mode measures the IPC-corrected gain."""
    return ipc_mode != "none"


def apparent_divisor(ipc_mode: str, ipc_info: dict) -> float:
    """Factor f with ``gain_apparent = gain / f`` for a run's gains.

    Parameters
    ----------
    ipc_mode : {"none", "analytic", "exact", "deconvolve"}
    ipc_info : dict
        The run's IPC information (``analytic_factor``, ``exact_factor``).

    Returns
    -------
    float
        1 for ``none`` (the gain is already apparent); the factor applied for
        ``analytic``; the exact variance factor sum(k**2) of the physical kernel for
        ``exact`` and ``deconvolve``.
    """
    if ipc_mode == "none":
        return 1.0
    if ipc_mode == "analytic":
        return float(ipc_info["analytic_factor"])
    return float(ipc_info["exact_factor"])
