"""What ``nircam-skyflat`` does, for tests: compute the result, then write it."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from nircam_gui.core.fileio import ensure_output_dir
from nircam_gui.core.skyflat.products import write_skyflat_products
from nircam_gui.core.skyflat.result import SkyflatResult
from nircam_gui.core.skyflat.run import run_skyflat


@dataclass
class Written:
    """A result and where its products went; result attributes read through."""

    result: SkyflatResult
    outdir: str
    files: list[str]

    @property
    def provenance(self) -> dict:
        """The run's ``provenance.json``."""
        with open(os.path.join(self.outdir, "provenance.json")) as f:
            return json.load(f)

    def __getattr__(self, name):
        return getattr(self.result, name)


def run_and_write(cal_files, outdir, *, progress=None, cancel=None, **kwargs) -> Written:
    """:func:`run_skyflat` (progress 0-0.9) then :func:`write_skyflat_products` (0.9-1)."""
    ensure_output_dir(outdir)
    result = run_skyflat(cal_files, progress=progress and (lambda f, m: progress(0.9 * f, m)), cancel=cancel,
                         **kwargs)
    files = write_skyflat_products(result, outdir, progress=progress and (lambda f, m: progress(0.9 + 0.1 * f, m)),
                                   cancel=cancel)
    return Written(result, os.fspath(outdir), files)
