"""The per-image stage of a sky-flat analysis: source masks, normalisation, backgrounds.

Each ``_cal`` image of one detector is read once: its sources are masked (photutils,
report section 3.1) together with DQ DO_NOT_USE, it is divided by its source-masked,
sigma-clipped median (that median is also its sky background, section 3.7) and put into
one float32 stack (20 full frames: 336 MB) from which the delta flats are combined.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from ..dq import DEAD, DO_NOT_USE
from ..errors import NircamFileError
from ..progress import Reporter
from ..readers import ExposureMeta, open_image
from .background import BackgroundRecord
from .inputs import filter_token
from .normalise import clipped_level, normalise
from .options import SkyflatOptions
from .sourcemask import source_mask

__all__ = ["ImageStack", "StackedImage", "build_stack", "frame_shape", "remask_without_light", "stack_image"]


@dataclass
class ImageStack:
    """Normalised, source-masked images of one detector (NaN where masked)."""

    data: np.ndarray = field(repr=False)  # (n_images, ny, nx) float32
    #: image indices per filter token, in stack order
    groups: dict[str, list[int]]
    records: list[BackgroundRecord]
    #: pixels flagged DEAD in any image's DQ
    dq_dead: np.ndarray = field(repr=False)
    #: bit-packed source masks by file (only when kept)
    masks: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    #: per image, medians of ``block_bin`` pixel blocks of the normalised image with only the
    #: unusable pixels masked (not the sources): what the additive separation fits, since the
    #: source mask also takes the bright ridges of scattered light in the images where they are strong
    blocks: np.ndarray | None = field(default=None, repr=False)
    block_bin: int = 0


def frame_shape(detector: str, metas: list[ExposureMeta]) -> tuple[int, int]:
    """The one frame size (ny, nx) of a detector's images (headers).

    Raises
    ------
    NircamFileError
        Naming an image whose size differs from the others'.
    """
    shapes = Counter((m.ny, m.nx) for m in metas)
    if len(shapes) != 1:
        # blame the odd one out, not whichever file sorts first
        (cy, cx), _ = shapes.most_common(1)[0]
        odd = next(m for m in metas if (m.ny, m.nx) != (cy, cx))
        raise NircamFileError(odd.path, f"{detector} images of different sizes: this one is "
                                        f"{odd.nx}x{odd.ny}, {shapes[(cy, cx)]} other(s) {cx}x{cy}")
    return next(iter(shapes))


@dataclass
class StackedImage:
    """One image after :func:`stack_image`: its normalised row and what the stack keeps of it."""

    row: np.ndarray = field(repr=False)  # (ny, nx) float32, NaN where masked
    dead: np.ndarray = field(repr=False)  # DQ DEAD
    record: BackgroundRecord
    mask: np.ndarray | None = field(default=None, repr=False)  # bit-packed source mask (when kept)
    block: np.ndarray | None = field(default=None, repr=False)  # block medians (when block_bin > 0)


def stack_image(detector: str, meta: ExposureMeta, options: SkyflatOptions, keep_mask: bool = False,
                block_bin: int = 0) -> StackedImage:
    """Read one ``_cal`` image, mask its sources, normalise it by its sky (one row of a stack).

    Raises
    ------
    NircamFileError
        An image with no usable sky, or whose DQ and SCI differ in shape.
    """
    opt, m = options, meta
    with open_image(m.path) as img:
        sci = np.array(img.sci, dtype=np.float32)
        dq = np.array(img.dq)
    if sci.shape != dq.shape:
        raise NircamFileError(m.path, f"DQ has shape {dq.shape}, SCI {sci.shape}")
    n_usable = int(np.count_nonzero(np.isfinite(sci) & ((dq & DO_NOT_USE) == 0)))
    if n_usable == 0:
        raise NircamFileError(m.path, "no usable sky: every SCI pixel is NaN or flagged DO_NOT_USE")
    try:
        mask = source_mask(sci, dq, n_sigma=opt.n_sigma, n_pixels=opt.n_pixels, kernel_fwhm=opt.kernel_fwhm,
                           kernel_size=opt.kernel_size, dilate=opt.dilate, box_size=opt.box_size)
    except ValueError as exc:  # photutils, when too few pixels are left for a background
        raise NircamFileError(m.path, f"no source mask could be made ({exc}); {n_usable} usable "
                                      "pixels") from None
    level = clipped_level(sci, mask, opt.sigma, opt.maxiters)
    if not np.isfinite(level.median) or level.median <= 0:
        raise NircamFileError(m.path, f"no usable sky: the clipped background is {level.median:g}; a sky "
                                      "flat needs a positive sky level")
    block = None
    if block_bin > 0:
        from .additive import block_medians

        block = block_medians(normalise(sci, (dq & DO_NOT_USE) != 0, level.median), block_bin)
    record = BackgroundRecord(file=os.path.basename(m.path), detector=detector, filter=m.filter.upper(),
                              pupil=(m.pupil or "CLEAR").upper(), background=level.median, std=level.std,
                              n_pixels=level.n_used, masked_fraction=float(mask.mean()),
                              start_mjd=m.start_mjd if m.start_mjd is not None else np.nan)
    return StackedImage(normalise(sci, mask, level.median), (dq & DEAD) != 0, record,
                        np.packbits(mask, axis=None) if keep_mask else None, block)


def build_stack(detector: str, metas: list[ExposureMeta], options: SkyflatOptions, reporter: Reporter,
                keep_masks: bool = False, block_bin: int = 0) -> ImageStack:
    """Mask, normalise and stack the images of one detector.

    The images are done one at a time (:func:`stack_image`); :mod:`.stack_parts` does the
    same over parts of them, on other processes or machines, and merges the parts.

    Parameters
    ----------
    detector : str
    metas : list of ExposureMeta
        The detector's images in stack order.
    options : SkyflatOptions
        Source-mask and clipping options.
    reporter : Reporter
        Takes one step per image.
    keep_masks : bool
        Keep every image's source mask (bit-packed, 0.5 MB a full frame).
    block_bin : int
        When > 0, also keep :attr:`ImageStack.blocks` (block medians without the source mask).

    Raises
    ------
    NircamFileError
        Images of different sizes, or an image with no usable sky.
    """
    ny, nx = frame_shape(detector, metas)
    stack = np.empty((len(metas), ny, nx), np.float32)
    groups: dict[str, list[int]] = defaultdict(list)
    dq_dead = np.zeros((ny, nx), bool)
    records: list[BackgroundRecord] = []
    kept: dict[str, np.ndarray] = {}
    blocks = None
    for i, m in enumerate(metas):
        one = stack_image(detector, m, options, keep_masks, block_bin)
        if one.block is not None:
            if blocks is None:
                blocks = np.empty((len(metas), *one.block.shape), np.float32)
            blocks[i] = one.block
        stack[i] = one.row
        dq_dead |= one.dead
        if one.mask is not None:
            kept[m.path] = one.mask
        groups[filter_token(m.filter, m.pupil)].append(i)
        records.append(one.record)
        del one
        reporter.step(f"{detector} mask {i + 1}/{len(metas)}")
    return ImageStack(stack, dict(groups), records, dq_dead, kept, blocks, block_bin)


def remask_without_light(path: str, options: SkyflatOptions, level: float, light: np.ndarray,
                         box: tuple[int, int, int, int], old: np.ndarray, margin: int = 16) -> np.ndarray:
    """An image's normalised row again, its source mask made with a model of its additive light divided out.

    The report's source mask flags anything 1 sigma above a 64 px background map over 4
    pixels, so it also takes the bright ridges of a wisp where the wisp is strong: those
    images then drop out of the stack exactly where the wisp is. Inside ``box`` (y0, y1, x0,
    x1: where the light is) the mask is made again on ``SCI / light``; outside it, and within
    ``margin`` pixels of its edge (where a source may straddle the box), the ``old`` mask holds.

    Parameters
    ----------
    path : str
        The image.
    options : SkyflatOptions
    level : float
        The image's normalisation (kept).
    light : ndarray
        Full-frame factor the additive light multiplies the sky by (``1 + a T``).
    box : tuple of int
    old : ndarray of bool
        The image's first mask.

    Returns
    -------
    ndarray
        ``SCI / level``, NaN where masked (the additive light still in it).
    """
    opt = options
    with open_image(path) as img:
        sci = np.array(img.sci, dtype=np.float32)
        dq = np.array(img.dq)
    y0, y1, x0, x1 = box
    cut = sci[y0:y1, x0:x1] / light[y0:y1, x0:x1]
    try:
        inner = source_mask(cut, dq[y0:y1, x0:x1], n_sigma=opt.n_sigma, n_pixels=opt.n_pixels,
                            kernel_fwhm=opt.kernel_fwhm, kernel_size=opt.kernel_size, dilate=opt.dilate,
                            box_size=opt.box_size)
    except ValueError:  # too few pixels for a background: keep the first mask
        return normalise(sci, old, level)
    mask = old.copy()
    keep = np.ones(inner.shape, bool)  # True where the old mask is kept (the box's rim)
    ny, nx = sci.shape
    keep[margin if y0 > 0 else 0:inner.shape[0] - (margin if y1 < ny else 0),
         margin if x0 > 0 else 0:inner.shape[1] - (margin if x1 < nx else 0)] = False
    region = mask[y0:y1, x0:x1]
    mask[y0:y1, x0:x1] = np.where(keep, region | inner, inner | ((dq[y0:y1, x0:x1] & DO_NOT_USE) != 0))
    mask |= ~np.isfinite(sci)
    return normalise(sci, mask, level)
