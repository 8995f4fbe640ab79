"""The box layout against a straightforward reference: the same boxes, bit for bit.

The reference is the layout as computed by whole-frame numpy passes (label image from
keys, relabel by first appearance, bincount, contacts by comparing shifted frames,
bounding boxes by ``scipy.ndimage.find_objects``); :func:`make_boxes` builds the same
thing in one pass over the frame. Every case compares the label image and every column
of the table, including their dtypes.
"""

import numpy as np
import pytest
from astropy.table import Table
from scipy.ndimage import find_objects

from nircam_gui.core.detector import REF_BORDER, amplifier_index, reference_pixel_mask
from nircam_gui.core.gain.boxes import make_boxes, merge_small_pieces
from nircam_gui.core.regionsio import polygons_mask
from nircam_gui.core.simulate.fields import epoxy_void_polygon


def _relabel(labels):
    flat = labels.ravel()
    uniq, first = np.unique(flat, return_index=True)
    keep = uniq > 0
    order = uniq[keep][np.argsort(first[keep])]
    lut = np.zeros(int(flat.max()) + 1, np.int32)
    lut[order] = np.arange(1, order.size + 1, dtype=np.int32)
    return lut[labels]


def _contacts(labels):
    pairs = []
    for a, b in ((labels[:, :-1], labels[:, 1:]), (labels[:-1, :], labels[1:, :])):
        sel = (a != b) & (a > 0) & (b > 0)
        pairs.append(np.stack([a[sel], b[sel]], axis=1))
    p = np.concatenate(pairs)
    if p.size == 0:
        return np.zeros((0, 3), np.int64)
    uniq, counts = np.unique(np.sort(p, axis=1), axis=0, return_counts=True)
    return np.column_stack([uniq, counts])


def reference_boxes(shape, box_size=256, void_mask=None, exclude=None, border=REF_BORDER, min_fraction=0.5):
    """The layout :func:`make_boxes` documents, the plain way."""
    ny, nx = shape
    usable = ~reference_pixel_mask(shape, border)
    if exclude is not None:
        usable &= ~np.asarray(exclude, bool)
    void = np.zeros(shape, bool) if void_mask is None else (np.asarray(void_mask, bool) & usable)
    cells_x = -(-nx // box_size)
    cell_row = (np.arange(ny, dtype=np.int32) // box_size) * cells_x
    cell_col = np.arange(nx, dtype=np.int32) // box_size
    ncell = int(cell_row[-1] + cell_col[-1]) + 1
    col_key = (cell_col + ncell * amplifier_index(nx).astype(np.int32)) * 2 + 1
    labels = (cell_row * 2)[:, None] + col_key[None, :]
    labels += void
    labels *= usable
    labels = _relabel(labels)
    amp_x = amplifier_index(nx)
    pix = np.zeros(int(labels.max()) + 1, np.int64)
    flat = labels.ravel()
    pix[flat[::-1]] = np.arange(flat.size)[::-1]  # the first pixel of each label
    box_amp = amp_x[pix % nx].astype(np.int64)
    box_void = void.ravel()[pix]
    npix = np.bincount(flat, minlength=labels.max() + 1)
    contacts = _contacts(labels)
    # the merge order itself is the engine's (shared: it works on counts and contacts, which
    # this reference computes its own way from the whole frame)
    target = merge_small_pieces(npix, contacts, box_amp, box_void, min_fraction * box_size * box_size)
    # merged labels renumbered by first appearance, recounted and bounded over the frame
    merged_labels = target[labels]
    labels = _relabel(merged_labels) if merged_labels.max() > 0 else merged_labels.astype(np.int32)
    n = int(labels.max())
    flat = labels.ravel()
    pix = np.zeros(n + 1, np.int64)
    pix[flat[::-1]] = np.arange(flat.size)[::-1]
    bounds = find_objects(labels, max_label=n)
    table = Table({
        "box_id": np.arange(1, n + 1),
        "amp": amp_x[pix[1:] % nx].astype(np.int64) + 1,
        "region": np.where(void.ravel()[pix[1:]], "epoxy", "normal"),
        "npix": np.bincount(flat, minlength=n + 1)[1:],
        "xmin": np.array([b[1].start for b in bounds], np.int64),
        "xmax": np.array([b[1].stop - 1 for b in bounds], np.int64),
        "ymin": np.array([b[0].start for b in bounds], np.int64),
        "ymax": np.array([b[0].stop - 1 for b in bounds], np.int64),
    })
    return labels, table


def _same(grid, labels, table):
    assert grid.labels.dtype == np.int32 and grid.labels.flags.c_contiguous
    np.testing.assert_array_equal(grid.labels, labels)
    assert grid.table.colnames == table.colnames
    for name in table.colnames:
        assert grid.table[name].dtype == table[name].dtype, name
        np.testing.assert_array_equal(np.asarray(grid.table[name]), np.asarray(table[name]), err_msg=name)


def _blobs(rng, shape, n, radius):
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    mask = np.zeros(shape, bool)
    for _ in range(n):
        cy, cx = rng.uniform(0, shape[0]), rng.uniform(0, shape[1])
        r = rng.uniform(0.3, 1.0) * radius
        mask |= (yy - cy) ** 2 + ((xx - cx) * rng.uniform(0.5, 2)) ** 2 < r * r
    return mask


CASES = {
    # voids of many sizes (small pieces merge into neighbours, some cannot) and scattered exclusions
    "voids and exclusions": dict(shape=(256, 256), box=32, voids=12, radius=20, excluded=0.01),
    # the grid does not divide the frame: cells cut at the right and top edges and at amplifiers
    "odd grid": dict(shape=(203, 300), box=24, voids=5, radius=30, excluded=0.02),
    # boxes wider than an amplifier: every cell split by amplifier boundaries
    "cells across amplifiers": dict(shape=(96, 160), box=64, voids=3, radius=15, excluded=0.0),
    # most pixels excluded: pieces in bits, many without a neighbour of their kind
    "mostly excluded": dict(shape=(128, 128), box=16, voids=6, radius=12, excluded=0.7),
}


@pytest.mark.parametrize("seed,case", list(enumerate(CASES)))
def test_layout_equals_reference(seed, case):
    c = CASES[case]
    rng = np.random.default_rng(seed)
    shape = c["shape"]
    void = _blobs(rng, shape, c["voids"], c["radius"])
    exclude = rng.random(shape) < c["excluded"]
    for kw in (dict(), dict(void_mask=void), dict(exclude=exclude), dict(void_mask=void, exclude=exclude)):
        labels, table = reference_boxes(shape, c["box"], **kw)
        _same(make_boxes(shape, c["box"], **kw), labels, table)


def test_full_frame_with_epoxy_void_and_mask_equals_reference():
    rng = np.random.default_rng(1)
    shape = (2048, 2048)
    void = polygons_mask([epoxy_void_polygon(rng, 2048)], shape)
    exclude = rng.random(shape) < 1e-3
    for box in (128, 256):
        labels, table = reference_boxes(shape, box, void_mask=void, exclude=exclude)
        _same(make_boxes(shape, box, void_mask=void, exclude=exclude), labels, table)


def test_integer_exclusion_counts_as_non_zero():
    rng = np.random.default_rng(2)
    shape = (128, 128)
    dq = np.where(rng.random(shape) < 0.05, np.uint32(1024), np.uint32(0))
    labels, table = reference_boxes(shape, 32, exclude=dq != 0)
    _same(make_boxes(shape, 32, exclude=dq), labels, table)


def test_edge_cases_equal_reference():
    shape = (64, 64)
    # a box whose every pixel is excluded: it is no box at all, the others are numbered on
    exclude = np.zeros(shape, bool)
    exclude[:32, :16] = True
    labels, table = reference_boxes(shape, 16, exclude=exclude)
    _same(make_boxes(shape, 16, exclude=exclude), labels, table)
    # one box in the whole frame (a single amplifier-wide cell in one amplifier)
    exclude = np.ones(shape, bool)
    exclude[10:20, 5:12] = False
    labels, table = reference_boxes(shape, 16, exclude=exclude)
    grid = make_boxes(shape, 16, exclude=exclude)
    assert grid.nbox == 1
    _same(grid, labels, table)
    # a void touching a single pixel, and a void over the whole frame
    void = np.zeros(shape, bool)
    void[30, 30] = True
    for v in (void, np.ones(shape, bool)):
        labels, table = reference_boxes(shape, 16, void_mask=v)
        _same(make_boxes(shape, 16, void_mask=v), labels, table)


def test_nothing_usable_gives_no_box():
    grid = make_boxes((32, 32), 8, exclude=np.ones((32, 32), bool))
    assert grid.nbox == 0 and not grid.labels.any()


def test_mask_of_another_shape_is_refused():
    with pytest.raises(ValueError, match="exclusion mask has shape"):
        make_boxes((64, 64), 16, exclude=np.zeros((64, 32), bool))
    with pytest.raises(ValueError, match="void mask has shape"):
        make_boxes((64, 64), 16, void_mask=np.zeros((32, 64), bool))


def test_exclusion_bits_of_integer_words():
    rng = np.random.default_rng(3)
    shape = (96, 128)
    for dtype in (np.uint32, np.int16, np.uint8):
        values = [0, 1, 4, 8, 2] + ([1024, 1028] if dtype != np.uint8 else [])
        dq = rng.choice(np.array(values), size=shape).astype(dtype)
        labels, table = reference_boxes(shape, 32, exclude=(dq.astype(np.int64) & (1 | 1024)) != 0)
        _same(make_boxes(shape, 32, exclude=dq, exclude_bits=1 | 1024), labels, table)


def test_run_layout_with_a_mask_file_equals_reference(tmp_path):
    from astropy.io import fits

    from nircam_gui.core.gain.run import GainOptions, build_boxes
    from nircam_gui.core.regionsio import write_polygons

    rng = np.random.default_rng(4)
    shape = (256, 256)
    dq = np.zeros(shape, np.uint32)
    dq[rng.random(shape) < 0.02] = 1024  # DEAD: left out
    dq[rng.random(shape) < 0.02] |= 4  # another flag: kept
    dq[rng.random(shape) < 0.01] |= 2**31  # REFERENCE_PIXEL: kept, and the top bit of the stored word
    prim = fits.PrimaryHDU()
    prim.header.update(REFTYPE="MASK", DETECTOR="NRCB1")
    fits.HDUList([prim, fits.ImageHDU(dq, name="DQ")]).writeto(tmp_path / "mask.fits")
    poly = np.array([[40.0, 30.0], [200.0, 60.0], [150.0, 200.0], [60.0, 170.0]])
    write_polygons(tmp_path / "void.reg", [poly])
    opt = GainOptions(box=32, ipc="none", mask=str(tmp_path / "mask.fits"), regions=str(tmp_path / "void.reg"))
    excluded = (dq & (1 | 1024 | 2048)) != 0  # DO_NOT_USE, DEAD, HOT
    labels, table = reference_boxes(shape, 32, void_mask=polygons_mask([poly], shape), exclude=excluded)
    _same(build_boxes(opt, shape, "NRCB1"), labels, table)
