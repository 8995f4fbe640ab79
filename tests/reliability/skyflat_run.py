"""What ``nircam-skyflat`` does, for tests: compute the result, then write it."""

from __future__ import annotations

import os
from dataclasses import dataclass

from nircam_gui.core.skyflat.result import SkyflatResult
from nircam_gui.core.skyflat.run import run_and_write as core_run_and_write


@dataclass
class Written:
    """A result and where its products went; result attributes read through."""

    result: SkyflatResult
    outdir: str
    files: list[str]

    def __getattr__(self, name):
        return getattr(self.result, name)


def run_and_write(cal_files, outdir, *, progress=None, cancel=None, **kwargs) -> Written:
    """:func:`~nircam_gui.core.skyflat.run.run_and_write`, with the result and its folder kept together."""
    result, files = core_run_and_write(cal_files, outdir, progress=progress, cancel=cancel, **kwargs)
    return Written(result, os.fspath(outdir), files)
