"""Worker functions of the Gain tab (no Qt: they run in threads or child processes).

- :func:`inspect_ramps`: pairing (``core.gain.pairs``) and the per-integration signal
  check, before any run;
- :func:`preview_boxes`: the box grid for the regions on screen, through the engine's own
  :func:`~nircam_gui.core.gain.run.build_boxes`, so the preview is the grid a run uses;
  :func:`warm_box_layout` loads its compiled kernels ahead of the first preview;
- :func:`find_references`: calibration reference files beside the ramps, by REFTYPE;
- :func:`export_products`: every product through the ``nircam-gain`` writers.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...core.errors import NircamFileError
from ...core.gain.run import GainOptions, build_boxes
from ...core.gain.pairs import Integration, Pair, find_integrations, make_pairs
from ...core.gain.studies.consistency import quick_signal, signal_flags
from ...core.regionsio import check_polygons, write_polygons
from .geometry import grid_segments

__all__ = ["RampCheck", "export_products", "find_references", "inspect_ramps", "preview_boxes", "run_analysis",
           "warm_box_layout"]

REFTYPES = ("SUPERBIAS", "LINEARITY", "SATURATION", "MASK", "IPC")


@dataclass
class RampCheck:
    """Integrations, their pairing and the signal of each (last group minus first, raw ADU)."""

    integrations: list[Integration]
    pairs: list[Pair]
    pairing_error: str = ""
    signal: list[float] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    shape: tuple[int, int] = (0, 0)
    detector: str = ""


def inspect_ramps(paths: list[str], progress=None, cancel=None) -> RampCheck:
    """Pair the integrations of ``paths`` and measure each one's signal.

    The signal check follows report 004622 section 5.4 (Figure 9): a lamp that is still
    warming up shows as an integration with a different group N - group 0 signal.

    Raises
    ------
    NircamFileError
        A file that is not a full-frame ramp.
    """
    integrations = find_integrations(paths)
    check = RampCheck(integrations, [])
    if integrations:
        m = integrations[0].meta
        check.shape, check.detector = (m.ny, m.nx), m.detector or ""
    try:
        check.pairs = make_pairs(integrations)
    except NircamFileError as exc:
        check.pairing_error = str(exc)
    for k, integ in enumerate(integrations):
        if cancel is not None and cancel():
            return check
        check.signal.append(quick_signal(integ.path, integ.index, integ.meta.ngroups))
        if progress is not None:
            progress((k + 1) / len(integrations), f"signal of {integ.label}")
    check.flags = signal_flags(check.signal)
    return check


def preview_boxes(polygons: list[np.ndarray], box: int, mask: str | None, shape: tuple[int, int]):
    """The box grid a run would use for these regions and outline segments to draw it.

    The polygons go through a temporary DS9 file so that the grid comes from
    :func:`build_boxes` itself, with the same region reading as a run.
    """
    if polygons:
        check_polygons(polygons, shape, "the regions on screen")
    with tempfile.TemporaryDirectory(prefix="nircam-gain-") as tmp:
        regions = None
        if polygons:
            regions = os.path.join(tmp, "regions.reg")
            write_polygons(regions, polygons)
        grid = build_boxes(GainOptions(box=box, ipc="none", regions=regions, mask=mask or None), shape)
    return grid, grid_segments(grid)


def warm_box_layout() -> None:
    """Lay out a small grid with a void, as a preview does: numba's start-up and the loading of
    the layout's kernels from its cache happen here, not at the first preview.

    numba's start-up (~0.3 s of imports and set-up) holds the interpreter lock for up to ~0.1 s
    at a time; in a thread at application start that pause falls before the user acts, where
    at the first preview it froze the window under the user's hand.
    """
    from ...core.gain.boxes import make_boxes

    void = np.zeros((64, 64), bool)
    void[20:40, 20:40] = True
    make_boxes((64, 64), 16, void_mask=void)


def find_references(ramps: list[str]) -> dict[str, str]:
    """Reference files (SUPERBIAS, LINEARITY, SATURATION, MASK, IPC) for ``ramps``, found beside
    them (their folders and ``reference`` subfolders) by REFTYPE, DETECTOR and SUBARRAY."""
    from ...core.gain.run import REFERENCE_OPTIONS, calibration_references

    by_option = {v: k for k, v in REFERENCE_OPTIONS.items()}
    return {by_option[k]: v for k, v in calibration_references(ramps).items()}


def export_products(result, outdir: str, polygons: list[np.ndarray], formats: tuple[str, ...] = ("png", "pdf"),
                    progress=None, cancel=None, boxes: list[int] | None = None) -> dict[str, str]:
    """Write the products of a run exactly as ``nircam-gain`` does, plus PDF figures and
    the region file of the run. ``boxes`` are the PTCs the figure shows (those on screen).

    Returns
    -------
    dict
        Product name -> path.
    """
    from ...core.gain.figures import write_figures
    from ...core.gain.products import write_gain_products

    if progress:
        progress(0.05, "writing the GAIN reference file and tables")
    out = {k: os.fspath(v) for k, v in write_gain_products(result, outdir, figures=False).items()}
    if progress:
        progress(0.5, "writing figures")
    out.update({k: os.fspath(v) for k, v in write_figures(result, outdir, formats=tuple(formats), boxes=boxes).items()})
    if polygons:
        path = Path(outdir) / "epoxy_voids.reg"
        write_polygons(path, polygons)
        out["regions"] = os.fspath(path)
    if progress:
        progress(1.0, "done")
    return out


def run_analysis(files: list[str], options: GainOptions, progress=None, cancel=None):
    """:func:`~nircam_gui.core.gain.run.run_gain`, plus the outline of its box grid.

    Returns
    -------
    (GainResult, GridGeometry)
    """
    from ...core.gain.run import run_gain

    result = run_gain(files, options, progress, cancel)
    return result, grid_segments(result.boxes)
