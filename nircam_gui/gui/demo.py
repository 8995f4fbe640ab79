"""Making the demo data set for ``nircam-gui --demo``; no Qt, so it can run in a child process."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["make_demo"]


def make_demo(folder: str | os.PathLike, progress=None, cancel=None) -> str:
    """Make the demo data set in ``folder`` unless complete; return the folder to open.

    ``make_demo_dataset`` returns at once for a complete folder (it writes a marker last),
    so an interrupted run is finished next time rather than opened half-made.
    """
    from ..core.simulate.demo import make_demo_dataset

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    result = Path(make_demo_dataset(folder, progress=progress, cancel=cancel))
    return str(result if result.is_dir() else folder)
