"""The products of a flat validation: :func:`write_validation_products` writes a
:class:`~.validate.ValidationResult` (for ``nircam-skyflat validate`` and the GUI alike).

``profiles_x.ecsv``, ``profiles_y.ecsv`` (Fig. 2 top), ``smoothed.fits`` (IMAGE_OLD,
IMAGE_NEW, STACK_OLD, STACK_NEW; Fig. 3), ``photometry.ecsv`` (per source, Fig. 2 bottom),
``measurements.ecsv`` (per source and image), ``summary.txt`` (the one-line summary), with
``--figures`` ``profiles.png``, ``smoothed.png``, ``photometry.png``; ``provenance.json``
last. Products are staged and moved in together (a failed or cancelled run leaves the
folder as it was); no input is ever overwritten.
"""

from __future__ import annotations

import os
import time

from .. import options as option_schema
from ..fileio import atomic_path, ensure_output_dir, sha256sum, staged_outputs, unstaged
from ..progress import CancelCheck, ProgressCallback, Reporter
from . import validate_figures as figs
from .products import write_image, write_json, write_table
from .validate import ValidationResult

__all__ = ["validate_and_write", "write_validation_products"]


def write_validation_products(result: ValidationResult, outdir: str | os.PathLike, *,
                              progress: ProgressCallback | None = None,
                              cancel: CancelCheck | None = None) -> list[str]:
    """Write every product of ``result`` to ``outdir`` (made if missing).

    Returns
    -------
    list of str
        The files written, ``provenance.json`` last.

    Raises
    ------
    OutputError
        A product that cannot be written (the folder is left as it was).
    Cancelled
        The folder is left as it was.
    """
    t0 = time.perf_counter()
    final = ensure_output_dir(outdir)
    opt = result.options
    options_doc = option_schema.provenance(opt)
    common = {"versions": result.versions, "options": options_doc, "created": result.created}
    protect = (*result.files, result.old_flat, result.new_flat, result.calibration_flat)
    prov = {**common, "inputs": result.inputs,
            "keywords": {"DETECTOR": result.detector, "FILTER": result.filter, "PUPIL": result.pupil,
                         "OLDFLAT": os.path.basename(result.old_flat), "NEWFLAT": os.path.basename(result.new_flat),
                         "CALFLAT": os.path.basename(result.calibration_flat), "NIMAGES": len(result.files)}}
    title = f"{result.detector} {result.filter}: old {os.path.basename(result.old_flat)}, new " \
            f"{os.path.basename(result.new_flat)}"
    rep = Reporter(2, progress, cancel)
    written: list[str] = []
    with staged_outputs(final, protect) as out:
        written.append(write_table(out / "profiles_x.ecsv", result.profile_x, common))
        written.append(write_table(out / "profiles_y.ecsv", result.profile_y, common))
        written.append(write_table(out / "photometry.ecsv", result.photometry, common))
        written.append(write_table(out / "measurements.ecsv", result.measurements, common))
        written.append(write_image(out / "smoothed.fits", result.smoothed,
                                   keywords={**prov["keywords"], "SMOOTHSG": (opt.smooth_sigma, "Gaussian sigma, pixel"),
                                             "BUNIT": ""}, provenance=prov))
        path = out / "summary.txt"
        with atomic_path(path) as tmp:
            tmp.write_text(result.summary_line() + "\n")
        written.append(os.fspath(path))
        rep.step("tables")
        if opt.figures:
            written.append(figs.plot_profiles(out / "profiles.png", title, result.profile_x, result.profile_y))
            written.append(figs.plot_smoothed(out / "smoothed.png", title, result.smoothed))
            s = result.summary
            written.append(figs.plot_photometry(
                out / "photometry.png", f"{result.detector} {result.filter}: {s['n_sources']} sources in >= "
                f"{opt.min_pointings} of {s['n_images']} pointings", result.photometry))
        rep.check()
        doc = {"created": result.created, "method": "JWST-STScI-008304 section 3.2, Figures 2 and 3 (flat validation)",
               "options": options_doc, "versions": result.versions, "inputs": result.inputs,
               "old_flat": result.old_flat, "new_flat": result.new_flat,
               "calibration_flat": result.calibration_flat, "calibrated_with": result.calibrated_with,
               "r_flat": result.r_flat, "bunit": result.bunit, "flux_unit": result.flux_unit,
               "summary": result.summary, "summary_line": result.summary_line(), "warnings": result.warnings,
               "outputs": [{"file": os.path.basename(w), "sha256": sha256sum(w)} for w in written],
               "seconds": result.seconds + time.perf_counter() - t0}
        written.append(write_json(out / "provenance.json", doc))
        rep.step("done")
    return [os.fspath(unstaged(w, out, final)) for w in written]


def validate_and_write(cal_files, outdir, *, progress: ProgressCallback | None = None,
                       cancel: CancelCheck | None = None, **kwargs) -> tuple[ValidationResult, list[str]]:
    """What ``nircam-skyflat validate`` does: :func:`~.validate.run_validation` then
    :func:`write_validation_products` into ``outdir``.

    The output folder is checked before the work; progress runs 0-0.9 for the analysis
    and 0.9-1 for the products. ``kwargs`` go to :func:`~.validate.run_validation`.
    """
    from .validate import run_validation

    ensure_output_dir(outdir)
    result = run_validation(cal_files, progress=progress and (lambda f, m: progress(0.9 * f, m)), cancel=cancel,
                            **kwargs)
    files = write_validation_products(result, outdir,
                                      progress=progress and (lambda f, m: progress(0.9 + 0.1 * f, m)), cancel=cancel)
    return result, files
