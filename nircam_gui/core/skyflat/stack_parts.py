"""A detector's stack built in parts, on other processes or machines, and merged back.

A campaign splits the per-image stage of a sky flat (:func:`.stack.stack_image`: reading,
source mask, normalisation, background) into tasks, one per filter or chunk of images,
each run by a Dask worker on its own files. A part's normalised images are large (16.8 MB
a full frame), so a part is written into a folder every worker sees, as ``.npy`` files
(written in place of a temporary name, so a reader never sees half a part); only its
description (:class:`StackPart`: paths, image positions, background records) travels.
:func:`merge_stack_parts` reads the parts back (memory-mapped, one image at a time) into one
:class:`~.stack.ImageStack` in the detector's image order, whatever order the parts came in:
it holds the same bytes as :func:`~.stack.build_stack` makes, so the analysis gives the same
products.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import NircamFileError
from ..fileio import reserve
from ..progress import Reporter
from ..readers import ExposureMeta
from .background import BackgroundRecord
from .inputs import filter_token
from .options import SkyflatOptions
from .stack import ImageStack, frame_shape, stack_image

__all__ = ["StackPart", "build_stack_part", "merge_stack_parts", "split_by_filter"]


@dataclass
class StackPart:
    """Where one part of a detector's stack was written, and what it holds (small, picklable)."""

    detector: str
    #: positions of its images in the detector's stack order
    indices: list[int]
    #: the images' paths, in the order of ``indices``
    files: list[str]
    records: list[BackgroundRecord] = field(repr=False)
    shape: tuple[int, int] = (0, 0)
    #: (n, ny, nx) float32: the normalised images, NaN where masked
    data_path: str = ""
    #: (ny, nx) bool: DQ DEAD in any of its images
    dead_path: str = ""
    #: (n, by, bx) float32 block medians, when ``block_bin`` > 0
    blocks_path: str = ""
    block_bin: int = 0
    #: (n, nbytes) uint8 bit-packed source masks, when kept
    masks_path: str = ""

    def paths(self) -> list[str]:
        return [p for p in (self.data_path, self.dead_path, self.blocks_path, self.masks_path) if p]


def split_by_filter(metas: Sequence[ExposureMeta], max_images: int | None = None) -> dict[str, list[int]]:
    """Image positions per part: one part per filter (token), cut in chunks of at most ``max_images``.

    Names are the filter tokens (``F150W``), with ``-2``, ``-3``... for the further chunks.
    """
    by_token: dict[str, list[int]] = defaultdict(list)
    for i, m in enumerate(metas):
        by_token[filter_token(m.filter, m.pupil)].append(i)
    parts = {}
    for token, idx in sorted(by_token.items()):
        step = max_images if max_images and max_images > 0 else len(idx)
        for k, a in enumerate(range(0, len(idx), step)):
            parts[token if k == 0 else f"{token}-{k + 1}"] = idx[a:a + step]
    return parts


@contextlib.contextmanager
def _written(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path``, renamed onto it when the body succeeds.

    Unlike :func:`~nircam_gui.core.fileio.atomic_path` it never makes the folder: a part's
    folder that is gone (its campaign ended) is a ``FileNotFoundError``, not a folder made again.
    """
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _save(path: Path, array: np.ndarray) -> None:
    with _written(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array)


def build_stack_part(detector: str, metas: Sequence[ExposureMeta], indices: Sequence[int], options: SkyflatOptions,
                     folder: str | os.PathLike, name: str, reporter: Reporter | None = None,
                     keep_masks: bool = False, block_bin: int = 0) -> StackPart:
    """Stack ``metas[indices]`` (:func:`~.stack.stack_image` each) into ``folder/<name>*.npy``.

    The images are written one at a time into a memory-mapped file, so the process holds
    one image's work, not the part's.

    Parameters
    ----------
    detector : str
    metas : sequence of ExposureMeta
        All the detector's images, in stack order (their frame sizes are checked together).
    indices : sequence of int
        The positions of this part's images in ``metas``.
    options : SkyflatOptions
    folder : path-like
        Where the part's files go (every process that merges must see it).
    name : str
        File name stem of the part (unique within ``folder``).
    reporter : Reporter, optional
        Takes one step per image (and checks cancel).
    keep_masks, block_bin
        As :func:`~.stack.build_stack`.

    Raises
    ------
    NircamFileError
        Images of different sizes, or an image with no usable sky.
    Cancelled
        When the reporter's cancel check returned True (nothing is left in ``folder``).
    FileNotFoundError
        ``folder`` does not exist (it is never made here).
    """
    ny, nx = frame_shape(detector, list(metas))
    folder = Path(folder)
    indices = [int(i) for i in indices]
    part = StackPart(detector, indices, [metas[i].path for i in indices], [], (ny, nx), block_bin=block_bin)
    dead = np.zeros((ny, nx), bool)
    blocks, masks = [], []
    with _written(folder / f"{name}.npy") as tmp:
        data = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(len(indices), ny, nx))
        with open(tmp, "r+b") as f:
            reserve(f, 0, os.path.getsize(tmp))
        try:
            for k, i in enumerate(indices):
                one = stack_image(detector, metas[i], options, keep_masks, block_bin)
                data[k] = one.row
                dead |= one.dead
                part.records.append(one.record)
                if one.block is not None:
                    blocks.append(one.block)
                if one.mask is not None:
                    masks.append(one.mask)
                del one
                if reporter is not None:
                    reporter.step(f"{detector} {name} mask {k + 1}/{len(indices)}")
            data.flush()
        finally:
            del data
    part.data_path = os.fspath(folder / f"{name}.npy")
    part.dead_path = os.fspath(folder / f"{name}.dead.npy")
    _save(Path(part.dead_path), dead)
    if blocks:
        part.blocks_path = os.fspath(folder / f"{name}.blocks.npy")
        _save(Path(part.blocks_path), np.stack(blocks).astype(np.float32))
    if masks:
        part.masks_path = os.fspath(folder / f"{name}.masks.npy")
        _save(Path(part.masks_path), np.stack(masks))
    return part


def merge_stack_parts(detector: str, metas: Sequence[ExposureMeta], parts: Sequence[StackPart]) -> ImageStack:
    """One :class:`~.stack.ImageStack` from its parts, in the order of ``metas``.

    Parameters
    ----------
    detector : str
    metas : sequence of ExposureMeta
        The detector's images in stack order (as the parts were built with).
    parts : sequence of StackPart
        In any order; together they must hold every image exactly once.

    Raises
    ------
    NircamFileError
        Parts that miss an image, hold one twice, hold other images than ``metas`` at their
        positions, or whose files are not the size they should be.
    """
    n = len(metas)
    seen = np.zeros(n, int)
    for p in parts:
        for i, path in zip(p.indices, p.files):
            if not 0 <= i < n or os.path.abspath(metas[i].path) != os.path.abspath(path):
                raise NircamFileError(path, f"a {detector} stack part holds this image at position {i}, which is "
                                            f"{metas[i].path if 0 <= i < n else 'outside the stack'}")
            seen[i] += 1
    if (seen != 1).any():
        odd = int(np.flatnonzero(seen != 1)[0])
        raise NircamFileError(metas[odd].path, f"in {seen[odd]} of the {detector} stack parts (must be in one)")
    ny, nx = frame_shape(detector, list(metas))
    stack = np.empty((n, ny, nx), np.float32)
    dq_dead = np.zeros((ny, nx), bool)
    records: list = [None] * n
    kept: dict[int, np.ndarray] = {}
    blocks = None
    block_bin = max((p.block_bin for p in parts), default=0)
    for p in parts:
        data = np.load(p.data_path, mmap_mode="r")
        if data.shape != (len(p.indices), ny, nx):
            raise NircamFileError(p.data_path, f"holds {data.shape}, expected {(len(p.indices), ny, nx)}")
        for k, i in enumerate(p.indices):
            stack[i] = data[k]
            records[i] = p.records[k]
        del data
        dq_dead |= np.load(p.dead_path)
        if p.blocks_path:
            b = np.load(p.blocks_path)
            if blocks is None:
                blocks = np.empty((n, *b.shape[1:]), np.float32)
            blocks[p.indices] = b
        if p.masks_path:
            m = np.load(p.masks_path)
            kept.update({i: m[k] for k, i in enumerate(p.indices)})
    groups: dict[str, list[int]] = defaultdict(list)
    for i, m in enumerate(metas):
        groups[filter_token(m.filter, m.pupil)].append(i)
    masks = {metas[i].path: kept[i] for i in sorted(kept)}
    return ImageStack(stack, dict(groups), records, dq_dead, masks, blocks, block_bin if blocks is not None else 0)
