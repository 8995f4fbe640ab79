"""The whole sky-flat analysis over a set of ``_cal`` images: files in, :class:`SkyflatResult` out.

The method of JWST-STScI-008304 section 3, in the order a newcomer can follow it:

1. :func:`.inputs.check_inputs`: headers only; images per detector, ground FLAT/MASK matched;
2. per detector, :func:`.stack.build_stack`: source masks, normalisation, sky backgrounds;
3. per detector, :func:`.analysis.analyse_detector`: delta flats, large-scale fit, filter
   dependence, new flats, dead pixels;
4. the tables over all detectors (backgrounds, their summary, filter dependence).

Nothing is written: :func:`~.products.write_skyflat_products` writes a result, for the
command line and the GUI's Export alike.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone

import numpy as np
from astropy.table import Table

from ..errors import NircamFileError
from ..fileio import ensure_output_dir
from ..progress import CancelCheck, ProgressCallback, Reporter
from ..provenance import file_checksum, software_versions
from .additive import check_templates
from .analysis import analyse_detector
from .background import backgrounds_table, summarise_backgrounds
from .inputs import SkyflatInputs, check_inputs
from .largescale import grid_problem
from .options import SkyflatOptions
from .products import write_skyflat_products
from .result import DetectorResult, SkyflatResult
from .stack import ImageStack, build_stack

__all__ = ["check_fit_grid", "filter_dependence_table", "run_and_write", "run_skyflat"]


def filter_dependence_table(detectors: dict[str, DetectorResult]) -> Table:
    """One row per detector and filter: how its delta flat differs from the grey one."""
    rows = [(name, d.filter, d.pupil, len(d.files), d.range_max, d.range_2_98, d.rms, d.slope_x, d.slope_y)
            for name, det in detectors.items() for _, d in sorted(det.filter_deltas.items())]
    fd = Table(rows=rows or None, names=("detector", "filter", "pupil", "n_images", "range", "range_2_98", "rms",
                                         "slope_x", "slope_y"),
               dtype=(str, str, str, np.int32, np.float32, np.float32, np.float32, np.float32, np.float32))
    fd["range"].description = ("max - min of (filter delta / grey delta - 1) in blocks of fit_bin pixels (clipped "
                               "block medians of each delta, then their ratio)")
    fd["range_2_98"].description = "2nd-98th percentile range of the same bins"
    fd["rms"].description = "rms of the same bins"
    fd["slope_x"].description = "plane fitted to the bins: change per half frame along x (x' from -1 to 1)"
    fd["slope_y"].description = "the same along y"
    return fd


def check_fit_grid(inputs: SkyflatInputs, options: SkyflatOptions) -> None:
    """Refuse frames too small for the large-scale fit at ``options.fit_bin``, before any work.

    Raises
    ------
    NircamFileError
        Naming an image of the first detector whose frames hold fewer than
        :data:`~.largescale.MIN_BLOCKS_PER_AXIS` blocks along an axis, and the largest
        ``--fit-bin`` that would do.
    """
    for metas in inputs.by_detector.values():
        problem = grid_problem(metas[0].ny, metas[0].nx, options.fit_bin)
        if problem:
            raise NircamFileError(metas[0].path, problem)


def _check_given_stack(detector: str, metas: list, stack: ImageStack, block_bin: int) -> None:
    """Refuse a stack made of other images, or another order, than this run's."""
    files = [r["file"] for r in stack.records]
    if files != [os.path.basename(m.path) for m in metas] or stack.data.shape[0] != len(metas):
        raise NircamFileError(metas[0].path, f"the {detector} stack given holds other images or another order "
                                             f"({len(files)} images) than the run's {len(metas)}")
    if stack.block_bin != block_bin:
        raise NircamFileError(metas[0].path, f"the {detector} stack given was made with block_bin "
                                             f"{stack.block_bin}, the run needs {block_bin}")


def run_skyflat(
    cal_files,
    *,
    ground_flats=(),
    ground_masks=(),
    predictions: Table | None = None,
    options: SkyflatOptions | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelCheck | None = None,
    keep_masks: bool = False,
    additive_templates=(),
    stacks: Mapping[str, ImageStack | Callable[[], ImageStack]] | None = None,
) -> SkyflatResult:
    """Delta sky flats, new flats, dead pixels and backgrounds from ``_cal`` images.

    Parameters
    ----------
    cal_files : iterable of path-like
        ``_cal.fits`` files or folders of them.
    ground_flats, ground_masks : iterable of path-like
        FLAT and MASK reference files, or folders. Each stack's new flat is built on the
        ground FLAT its images' ``R_FLAT`` names; a MASK is matched on the detector.
    predictions : astropy.table.Table, optional
        Predicted backgrounds (columns ``filter``, ``background`` [, ``detector``]).
    options : SkyflatOptions, optional
    progress, cancel : callable, optional
    keep_masks : bool
        Keep every image's source mask in the result (bit-packed, 0.5 MB a full frame),
        for display; the products do not change.
    additive_templates : iterable of path-like
        Wisp templates (FITS images, matched on DETECTOR) to fit instead of a fitted template
        (with ``options.additive == "separate"``).
    stacks : mapping, optional
        Per detector, its stack built elsewhere (e.g. in parts by a campaign's workers,
        :func:`~.stack_parts.merge_stack_parts`), or a callable that returns it when the
        detector's turn comes; it must hold the detector's images in the order this run
        stacks them (built with the same options). Other detectors are stacked here.

    Returns
    -------
    SkyflatResult

    Raises
    ------
    NircamFileError
        A file that is not a usable full-frame, flat-fielded ``_cal`` image, a ground
        reference file that does not fit the images (:func:`~.inputs.check_inputs`), frames
        too small for the large-scale fit at ``options.fit_bin``, or
        predictions in MJy/sr for images in another BUNIT.
    Cancelled
        When ``cancel()`` returned True.
    """
    opt = options or SkyflatOptions()
    t0 = time.perf_counter()
    created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    rep = Reporter(100, progress, cancel)
    inputs = check_inputs(cal_files, ground_flats, ground_masks)
    templates = check_templates(additive_templates, inputs.frame_shapes()) if opt.additive == "separate" else {}
    if predictions is not None and inputs.bunit not in ("", "MJy/sr"):
        raise NircamFileError(inputs.images[0].path,
                              f"BUNIT is {inputs.bunit!r}; the background predictions are in MJy/sr")
    check_fit_grid(inputs, opt)
    warnings = list(inputs.warnings)
    checks: dict[str, str] = {}
    records = []
    detectors: dict[str, DetectorResult] = {}
    n_total, done = len(inputs.images), 0
    for name, metas in inputs.by_detector.items():
        n = len(metas)
        drep = rep.sub(2 * n + 1, int(100 * done / n_total), int(100 * (done + n) / n_total))
        if n < opt.min_coverage:
            warnings.append(f"{name}: only {n} image(s): a pixel needs {opt.min_coverage} to be "
                            "judged dead, so no dead pixels can be found, and the median of so few images "
                            "does not reject sources and cosmic rays")
        tsource, template = templates.get(name, templates.get("", ("fitted", None)))
        block_bin = opt.additive_bin if opt.additive == "separate" else 0
        if stacks is not None and name in stacks:
            given = stacks[name]
            stack = given() if callable(given) else given
            _check_given_stack(name, metas, stack, block_bin)
            drep.step(f"{name}: {n} images stacked", n)
        else:
            stack = build_stack(name, metas, opt, drep, keep_masks, block_bin=block_bin)
        records += stack.records
        if opt.checksums:
            checks.update({m.path: file_checksum(m.path) for m in metas})
        detectors[name] = analyse_detector(name, metas, stack, inputs, opt, drep.sub(n + 1, n, 2 * n + 1), cancel,
                                           warnings, template=template,
                                           template_source=os.path.basename(tsource))
        done += n
    bg = backgrounds_table(records, inputs.bunit)
    useafter, pedigree = inputs.useafter_pedigree()
    useafter, pedigree = opt.useafter or useafter, opt.pedigree or pedigree
    result = SkyflatResult(
        options=opt, detectors=detectors, backgrounds=bg,
        background_summary=summarise_backgrounds(bg, predictions, inputs.bunit),
        filter_dependence=filter_dependence_table(detectors),
        inputs=[{"file": m.path, "sha256": checks.get(m.path, ""), "detector": m.detector, "filter": m.filter,
                 "pupil": m.pupil} for m in inputs.images],
        ground_flats=[m.path for m in inputs.references.of_type("FLAT")],
        ground_masks=[m.path for m in inputs.references.of_type("MASK")],
        r_flat={" ".join(k): v for k, v in inputs.r_flat.items()}, bunit=inputs.bunit,
        useafter=useafter, pedigree=pedigree, versions=software_versions(), created=created, warnings=warnings,
        seconds=time.perf_counter() - t0)
    return result


def run_and_write(cal_files, outdir, *, progress: ProgressCallback | None = None, cancel: CancelCheck | None = None,
                  **kwargs) -> tuple[SkyflatResult, list[str]]:
    """What ``nircam-skyflat`` does: :func:`run_skyflat` then :func:`write_skyflat_products` into ``outdir``.

    The output folder is checked before the analysis, not after minutes of it; progress runs
    0-0.9 for the analysis and 0.9-1 for the products. ``kwargs`` go to :func:`run_skyflat`.
    Returns the result and the files written.
    """
    ensure_output_dir(outdir)
    result = run_skyflat(cal_files, progress=progress and (lambda f, m: progress(0.9 * f, m)), cancel=cancel,
                         **kwargs)
    files = write_skyflat_products(result, outdir, progress=progress and (lambda f, m: progress(0.9 + 0.1 * f, m)),
                                   cancel=cancel)
    return result, files
