"""The per-detector stage of a sky-flat analysis (JWST-STScI-008304 sections 3.1-3.4).

From one detector's stack of normalised images (:mod:`.stack`): the grey and per-filter
delta flats (sigma-clipped medians, :mod:`.combine`), the large-scale fit of the grey one
(:mod:`.largescale`), how each filter differs from grey, the new flats (ground flat x
fit) and the new dead pixels with their concentrations (:mod:`.deadpix`). Nothing is
written here; :func:`~.products.write_skyflat_products` writes the result.
"""

from __future__ import annotations

import numpy as np

from ..detector import get_detector
from ..dq import DEAD, DO_NOT_USE, NO_FLAT_FIELD, REFERENCE_PIXEL
from ..detector import reference_pixel_mask
from ..errors import NircamFileError
from ..progress import CancelCheck, Reporter
from ..readers import ExposureMeta, open_reference
from .additive import AdditiveResult, separate_additive
from .combine import combine_stack
from .filterdiff import filter_difference
from .inputs import SkyflatInputs
from .largescale import default_method, fit_large_scale
from .options import SkyflatOptions
from .result import DetectorResult, FilterDelta, NewFlat, new_dead_pixels
from .stack import ImageStack, remask_without_light

__all__ = ["analyse_detector", "new_flat", "separate_detector_additive"]


def separate_detector_additive(detector: str, metas: list[ExposureMeta], stack: ImageStack, options: SkyflatOptions,
                               template: np.ndarray | None, template_source: str,
                               warnings: list[str], reporter: Reporter | None = None) -> AdditiveResult | None:
    """Remove the additive scattered light from ``stack.data`` in place (:mod:`.additive`).

    Filters with fewer than 3 images cannot show image-to-image variation: with such a
    filter, or fewer than 3 images in all, nothing is done and a warning says so.
    """
    counts = {t: len(idx) for t, idx in stack.groups.items()}
    few = sorted(t for t, c in counts.items() if c < 3)
    if few:
        warnings.append(f"{detector}: additive light not separated: {', '.join(few)} has fewer than 3 images, "
                        "too few to tell additive light from the flat")
        return None
    tokens = [None] * len(metas)
    for t, idx in stack.groups.items():
        for j in idx:
            tokens[j] = t
    ny, nx = stack.data.shape[1:]

    def remask(i: int, light: np.ndarray) -> np.ndarray | None:
        # only where the light reaches the source mask's threshold (n_sigma x the image's noise)
        if reporter is not None:
            reporter.check()  # re-masking reads the image again: let Cancel in between
        rec = stack.records[i]
        strong = (light - 1.0) > 0.5 * options.n_sigma * rec["std"] / rec["background"]
        if np.count_nonzero(strong) < options.n_pixels:
            return None
        ys, xs = np.nonzero(strong)
        pad = options.box_size
        box = (max(int(ys.min()) - pad, 0), min(int(ys.max()) + pad + 1, ny),
               max(int(xs.min()) - pad, 0), min(int(xs.max()) + pad + 1, nx))
        return remask_without_light(metas[i].path, options, rec["background"], light, box, np.isnan(stack.data[i]))

    result, _ = separate_additive(stack.data, [m.path for m in metas], tokens, bin=options.additive_bin,
                                  blocks=stack.blocks if stack.block_bin == options.additive_bin else None,
                                  template=template, template_source=template_source, remask=remask)
    stack.blocks = None
    return result


def new_flat(ground: np.ndarray, ground_err: np.ndarray | None, ground_dq: np.ndarray | None,
             fit: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """New flat = ground flat x large-scale fit, renormalised (report section 3.2).

    The product is scaled so its median over good science pixels equals the ground
    flat's median there: the new flat changes the shape, not the photometric zero point
    the ground flat was calibrated with. Pixels the ground flat does not flat-field
    (DO_NOT_USE / NO_FLAT_FIELD, reference pixels) keep their ground values.
    """
    ground = np.asarray(ground, np.float32)
    dq = np.zeros(ground.shape, np.uint32) if ground_dq is None else np.asarray(ground_dq, np.uint32)
    keep = ((dq & (DO_NOT_USE | NO_FLAT_FIELD | REFERENCE_PIXEL)) != 0) | reference_pixel_mask(ground.shape)
    keep |= ~np.isfinite(fit) | ~np.isfinite(ground)
    prod = ground * fit
    good = ~keep
    scale = np.median(ground[good]) / np.median(prod[good]) if good.any() else 1.0
    data = np.where(keep, ground, prod * scale).astype(np.float32)
    if ground_err is None:
        err = np.zeros(ground.shape, np.float32)
    else:
        err = np.where(keep, ground_err, np.asarray(ground_err) * fit * scale).astype(np.float32)
    return data, err, dq.copy()


def analyse_detector(detector: str, metas: list[ExposureMeta], stack: ImageStack, inputs: SkyflatInputs,
                     options: SkyflatOptions, reporter: Reporter, cancel: CancelCheck | None = None,
                     warnings: list[str] | None = None, template: np.ndarray | None = None,
                     template_source: str = "fitted") -> DetectorResult:
    """Delta flats, fit, filter dependence, new flats and dead pixels of one detector.

    Parameters
    ----------
    detector : str
    metas : list of ExposureMeta
        The images, in the order of ``stack``.
    stack : ImageStack
        From :func:`~.stack.build_stack`; its data are released here.
    inputs : SkyflatInputs
        Where the ground FLAT and MASK files are found.
    options : SkyflatOptions
    reporter : Reporter
        Takes ``len(metas) + 1`` steps (the combines, the fit).
    cancel : callable, optional
    warnings : list of str, optional
        Appended to: filters without a ground FLAT, no ground MASK.
    template, template_source : ndarray, str, optional
        A given additive (wisp) template and its file name (``options.additive == "separate"``).

    Raises
    ------
    NircamFileError
        A ground reference file whose shape does not match the images.
    """
    opt = options
    warnings = [] if warnings is None else warnings
    ny, nx = stack.data.shape[1:]
    n = len(metas)
    additive = None
    if opt.additive == "separate":
        additive = separate_detector_additive(detector, metas, stack, opt, template, template_source, warnings,
                                              reporter)
    crep = reporter.sub(len(stack.groups) + 1, 0, n)
    grey = combine_stack(stack.data, None, sigma=opt.sigma, maxiters=opt.maxiters, method=opt.combine_method,
                         cancel=cancel)
    crep.step(f"{detector} grey")
    combined = {}
    for token, idx in sorted(stack.groups.items()):
        combined[token] = combine_stack(stack.data, idx, sigma=opt.sigma, maxiters=opt.maxiters,
                                        method=opt.combine_method, cancel=cancel)
        crep.step(f"{detector} {token}")
    reporter.done += n  # the combines' share, reported through crep
    stack.data = np.empty((0, ny, nx), np.float32)  # 336 MB for 20 full frames: not kept
    method = opt.fit or default_method(get_detector(detector).is_longwave)
    fit_kw = {"bin": opt.fit_bin}
    if method == "median":
        fit_kw["filter_size"] = opt.median_filter
    fit = fit_large_scale(grey.median, method, **fit_kw)
    reporter.step(f"{detector} fit")

    deltas: dict[str, FilterDelta] = {}
    flats: dict[str, NewFlat] = {}
    for token, res in combined.items():
        idx = stack.groups[token]
        m0 = metas[idx[0]]
        filt, pupil = m0.filter.upper(), (m0.pupil or "CLEAR").upper()
        delta = FilterDelta(filt, pupil, [metas[j].path for j in idx], res.median, res.error, res.coverage,
                            grey.median, filter_difference(res.median, grey.median, opt.fit_bin))
        deltas[token] = delta
        ground = inputs.ground_flat(m0)
        if ground is None:
            warnings.append(f"{detector} {token}: no ground FLAT given, flat_{detector}_{token}.fits not written")
            continue
        gref = open_reference(ground.path, "FLAT")
        if gref.data.shape != (ny, nx):
            raise NircamFileError(ground.path, f"FLAT shape {gref.data.shape} does not match the images ({ny}, {nx})")
        flats[token] = NewFlat(ground.path, *new_flat(gref.data, gref.err, gref.dq, fit))

    mask_meta = inputs.ground_mask(detector)
    ground_dq = None
    if mask_meta is not None:
        ground_dq = open_reference(mask_meta.path, "MASK").dq.astype(np.uint32)
        if ground_dq.shape != (ny, nx):
            raise NircamFileError(mask_meta.path, f"MASK shape {ground_dq.shape} does not match ({ny}, {nx})")
        ground_dead = (ground_dq & DEAD) != 0
    else:
        warnings.append(f"{detector}: no ground MASK given; ground DEAD pixels taken from the images' DQ")
        ground_dead = stack.dq_dead
    dead, clusters = new_dead_pixels(grey.median, grey.coverage, ground_dead, opt)
    return DetectorResult(
        detector=detector, files=[m.path for m in metas],
        groups={t: [metas[j].path for j in idx] for t, idx in sorted(stack.groups.items())},
        grey=grey.median, grey_error=grey.error, coverage=grey.coverage, fit=fit, fit_method=method,
        filter_deltas=deltas, flats=flats, ground_dead=ground_dead,
        mask_file=mask_meta.path if mask_meta is not None else "", ground_mask_dq=ground_dq,
        dead=dead, clusters=clusters, source_masks=stack.masks, additive=additive)
