"""Export the products of a sky-flat run to a folder, optionally at another dead-pixel threshold.

:func:`~.run.run_skyflat` writes every product as it computes. An interactive session
(the GUI) runs into a work folder, lets the user move the dead-pixel threshold over the
grey delta flat it kept in memory, then exports: the products that do not depend on the
threshold are copied byte for byte, and the dead-pixel products (tables, MASK reference
file, the detector figure) are rewritten at the chosen threshold by the same functions and
writers the run uses. The exported folder therefore holds the same numbers as
``nircam-skyflat --dead-threshold T`` on the same inputs.
"""

from __future__ import annotations

import copy
import os
import shutil
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..errors import NircamFileError
from ..fileio import atomic_path, sha256sum, staged_outputs, unstaged
from ..progress import CancelCheck, ProgressCallback, Reporter
from ..readers import open_reference
from . import figures, products
from .run import DetectorSummary, SkyflatOptions, SkyflatResult, new_dead_pixels, write_dead_pixel_products

__all__ = ["dead_pixel_names", "export_skyflat", "rethreshold"]


def dead_pixel_names(detector: str) -> tuple[str, ...]:
    """Output files of one detector that depend on the dead-pixel threshold."""
    return (f"deadpix_{detector}.ecsv", f"clusters_{detector}.ecsv", f"deadpix_{detector}.fits",
            f"skyflat_{detector}.png")


def rethreshold(summary: DetectorSummary, options: SkyflatOptions, threshold: float):
    """New dead pixels and concentrations of one detector at ``threshold``, from its kept grey delta.

    Returns
    -------
    dead : DeadPixels
    clusters : astropy.table.Table
    """
    if summary.grey is None:
        raise ValueError(f"{summary.detector}: the run kept no grey delta flat")
    return new_dead_pixels(summary.grey, summary.coverage, summary.ground_dead, options, threshold)


def export_skyflat(
    result: SkyflatResult,
    outdir: str | os.PathLike,
    *,
    dead_threshold: float | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelCheck | None = None,
) -> list[str]:
    """Write the products of ``result`` to ``outdir``.

    Parameters
    ----------
    result : SkyflatResult
        A finished run whose files still exist.
    outdir : path-like
        Destination folder (made if missing); must not be the run's own folder.
    dead_threshold : float, optional
        Threshold for the dead-pixel products; the run's own by default.
    progress, cancel : callable, optional

    Returns
    -------
    list of str
        The files written, in the run's order.

    Raises
    ------
    NircamFileError
        A product of the run is missing, or ``outdir`` is the run's folder.
    Cancelled
        The folder is left as it was (the files are staged and moved in at the end).
    """
    opt = result.options or SkyflatOptions()
    threshold = opt.dead_threshold if dead_threshold is None else float(dead_threshold)
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"dead-pixel threshold {threshold} is not between 0 and 1")
    new_opt = replace(opt, dead_threshold=threshold)
    changed = threshold != opt.dead_threshold
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    if os.path.samefile(out, result.outdir):
        raise NircamFileError(out, "is the run's own folder; choose another folder to export to")
    doc = copy.deepcopy(result.provenance)
    protect = list(result.inputs) + list(doc.get("ground_flats", [])) + list(doc.get("ground_masks", []))
    regenerate = {name: det for det in result.detectors for name in dead_pixel_names(det)} if changed else {}
    rep = Reporter(len(result.files) + 1, progress, cancel)
    written: list[str] = []
    made: dict[str, dict[str, str]] = {}
    final = out
    # staged: a cancelled or failed export leaves the folder as it was
    with staged_outputs(final, tuple(protect)) as out:
        for src in result.files:
            name = os.path.basename(src)
            if name == "provenance.json":
                continue  # rewritten last, with the exported files' checksums
            if name in regenerate:
                det = regenerate[name]
                if det not in made:
                    made[det] = {os.path.basename(p): p for p in
                                 _write_dead_products(out, result, result.detectors[det], new_opt)}
                    written.extend(made[det].values())
                rep.step(f"{det} dead pixels at {threshold:g}")
                continue
            if not os.path.exists(src):
                raise NircamFileError(src, "product of the run is missing; run again before exporting")
            with atomic_path(out / name) as tmp:
                shutil.copyfile(src, tmp)
            written.append(os.fspath(out / name))
            rep.step(f"copied {name}")
        if doc:
            doc["options"] = {**doc.get("options", {}), "dead_threshold": threshold}
            doc["outputs"] = [{"file": os.path.basename(w), "sha256": sha256sum(w)} for w in written]
            if changed:
                doc["dead_pixels"] = {d: _count(out, d) for d in result.detectors}
            doc["exported"] = {"from": os.path.abspath(result.outdir),
                               "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")}
            written.append(products.write_json(out / "provenance.json", doc))
        rep.step("done")
    return [os.fspath(unstaged(w, out, final)) for w in written]


def _write_dead_products(out: Path, result: SkyflatResult, s: DetectorSummary, opt: SkyflatOptions) -> list[str]:
    dead, clusters = rethreshold(s, opt, opt.dead_threshold)
    ground_dq = None
    if s.mask_file:
        ground_dq = open_reference(s.mask_file, "MASK").dq.astype(np.uint32)
    # the provenance the run would have written with this threshold
    prov = {**s.provenance, "options": {**s.provenance.get("options", {}), "dead_threshold": opt.dead_threshold}}
    files = write_dead_pixel_products(out, s.detector, dead, clusters, ground_dq, s.mask_file, opt.dead_threshold,
                                      prov, result.useafter, result.pedigree, opt)
    if opt.figures and s.fit is not None:
        files.append(figures.plot_detector(out / f"skyflat_{s.detector}.png", s.detector, s.grey, s.fit,
                                           s.fit_method, dead.mask, clusters))
    return files


def _count(out: Path, detector: str) -> int:
    from astropy.table import Table

    return len(Table.read(out / f"deadpix_{detector}.ecsv"))
