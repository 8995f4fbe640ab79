"""The built-in demo data set: flat-field ramps with reference files, and _cal images."""

from __future__ import annotations

import os
from pathlib import Path

from ..progress import CancelCheck, ProgressCallback
from .flats import FlatSimConfig, simulate_flats

__all__ = ["DEMO_MARKER", "make_demo_dataset"]

#: written last, so a folder holding it is complete
DEMO_MARKER = "DEMO_COMPLETE"


def make_demo_dataset(
    folder: str | os.PathLike,
    progress: ProgressCallback | None = None,
    cancel: CancelCheck | None = None,
    size: int = 2048,
    seed: int = 2026,
) -> Path:
    """Make (once) a small NIRCam data set to explore: ``flats/`` and ``images/``.

    ``flats/`` holds 4 full-frame NRCB1 flat-field integrations of 8 groups with their
    reference files and epoxy-void region file; ``images/`` holds dithered NRCA4
    ``_cal.fits`` images in two filters with ground flats and mask. A folder that is
    already complete is returned untouched.

    Returns
    -------
    Path
        ``folder``.
    """
    folder = Path(folder)
    if (folder / DEMO_MARKER).exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    simulate_flats(folder / "flats", FlatSimConfig(detector="NRCB1", nints=4, ngroups=8, size=size, seed=seed),
                   progress=_scaled(progress, 0.0, 0.6), cancel=cancel)
    from .images import CalSimConfig, simulate_cal_images

    cfg = CalSimConfig(detectors=("NRCA4",), filters=("F150W", "F200W"), n_images=3, size=size, seed=seed)
    simulate_cal_images(folder / "images", cfg, progress=_scaled(progress, 0.6, 1.0), cancel=cancel)
    (folder / DEMO_MARKER).write_text("nircam-gui demo data set\n")
    return folder


def _scaled(progress: ProgressCallback | None, lo: float, hi: float) -> ProgressCallback | None:
    if progress is None:
        return None
    return lambda f, msg: progress(lo + (hi - lo) * f, msg)
