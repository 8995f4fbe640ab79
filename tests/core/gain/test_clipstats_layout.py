"""The clipper's layout of a label image against a straightforward reference, bit for bit.

The reference builds every array :class:`BoxClipper` keeps with whole-frame numpy passes
(runs from ``np.diff``, the sample from a stable sort of the frame by label, per-box
bounds with ``ufunc.at``); the clipper builds them from one pass over the pixels and
passes over the runs. Odd shapes and edge cases included: labels with no pixel, a single
box, boxes cut by the frame edge, runs of one pixel.
"""

import numpy as np
import pytest

from nircam_gui.core.gain.boxes import make_boxes
from nircam_gui.core.gain.clipstats import BoxClipper


def reference_layout(labels, sample=512):
    """Every array the clipper keeps, the plain way (``_outside`` and the candidate buckets
    are work space: their sizes only)."""
    out = {}
    flat = np.ascontiguousarray(labels, dtype=np.int32).ravel()
    nbox = int(flat.max()) if flat.size else 0
    out["nbox"] = nbox
    out["flat_labels"] = flat
    out["labelled"] = flat > 0
    nx = labels.shape[1] if labels.ndim == 2 else max(flat.size, 1)
    edge = np.diff(flat) != 0
    edge[nx - 1::nx] = True
    change = np.flatnonzero(edge) + 1
    out["run_starts"] = np.concatenate([[0], change]).astype(np.int64)
    out["run_ends"] = np.concatenate([change, [flat.size]]).astype(np.int64)
    out["run_labels"] = flat[out["run_starts"]]
    npix = np.bincount(flat, minlength=nbox + 1)[1:]
    out["box_npix"] = npix
    order = np.argsort(flat, kind="stable")
    order = order[flat[order] > 0]
    first = np.concatenate([[0], np.cumsum(npix)[:-1]])
    block = 16 if sample % 16 == 0 else 1
    nblock = sample // block
    k = np.arange(sample)
    room = np.maximum(npix[:, None] - block, 0)
    idx = (k[None, :] // block) * room // max(nblock - 1, 1) + k[None, :] % block
    idx = first[:, None] + np.minimum(idx, np.maximum(npix[:, None] - 1, 0))
    out["sample_index"] = order[idx]
    out["_boxes"] = np.arange(1, nbox + 1)
    run_labels = out["run_labels"]
    runs = np.flatnonzero(run_labels > 0)
    runs = runs[np.argsort(run_labels[runs], kind="stable")]
    out["_box_runs"] = runs.astype(np.int64)
    out["_box_ptr"] = np.searchsorted(run_labels[runs], np.arange(nbox + 2)).astype(np.int64)
    starts, ends = out["run_starts"], out["run_ends"]
    x0 = starts % nx
    xmin = np.full(nbox + 1, nx, np.int64)
    xmax = np.zeros(nbox + 1, np.int64)
    np.minimum.at(xmin, run_labels, x0)
    np.maximum.at(xmax, run_labels, x0 + (ends - starts))
    out["_box_width"] = np.maximum(xmax - xmin, 1)
    out["_run_col"] = (x0 - xmin[run_labels]).astype(np.int64)
    longest = np.zeros(nbox + 1, np.int64)
    np.maximum.at(longest, run_labels, ends - starts)
    cap = np.zeros(nbox + 1, np.int64)
    cap[1:] = (0.12 * npix).astype(np.int64) + longest[1:]
    out["_cap"] = cap
    out["_off"] = np.concatenate([[0], np.cumsum(cap)[:-1]])
    return out


def _same(clipper, ref):
    assert clipper.nbox == ref["nbox"]
    for name, want in ref.items():
        if name == "nbox":
            continue
        got = getattr(clipper, name)
        assert got.dtype == want.dtype and got.shape == want.shape, name
        np.testing.assert_array_equal(got, want, err_msg=name)
    assert clipper._outside.shape == (ref["flat_labels"].size,) and clipper._outside.dtype == bool
    for cand in (clipper._cand_s, clipper._cand_d):
        assert cand.shape == (ref["_cap"].sum(),) and cand.dtype == np.float64


def _label_images():
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:150, 0:204]
    grid = ((yy // 37) * 6 + xx // 37 + 1).astype(np.int32)  # cells cut by the right and top edges
    holes = grid.copy()
    holes[rng.random(grid.shape) < 0.05] = 0  # runs of one pixel, excluded pixels
    gaps = grid.copy()
    gaps[np.isin(gaps, (3, 7, 8))] = 0  # labels with no pixel, in the middle of the range
    gaps[gaps == gaps.max()] = 0  # ... and below the largest (the largest must have pixels)
    noisy = rng.integers(0, 9, size=(40, 56)).astype(np.int32)  # labels interleaved pixel by pixel
    single = np.zeros((33, 17), np.int32)
    single[5:9, 2:15] = 1
    void = (yy - 90) ** 2 + (xx - 100) ** 2 < 40 ** 2
    boxes = make_boxes((152, 208), 32, void_mask=np.pad(void, ((0, 2), (0, 4))),
                       exclude=np.pad(rng.random(grid.shape) < 0.01, ((0, 2), (0, 4)))).labels
    return {"grid": grid, "holes": holes, "empty labels": gaps, "noisy": noisy, "single box": single,
            "no box": np.zeros((8, 12), np.int32), "voids and exclusions": boxes, "int64 labels": grid.astype(np.int64),
            "one row": grid[:1], "one column": np.ascontiguousarray(grid[:, :1])}


@pytest.mark.parametrize("name", list(_label_images()))
def test_layout_equals_reference(name):
    labels = _label_images()[name]
    for sample in (512, 64, 40):  # blocks of 16, and single pixels when not a multiple of 16
        _same(BoxClipper(labels, sample=sample), reference_layout(labels, sample))


def test_full_frame_layout_equals_reference():
    rng = np.random.default_rng(6)
    shape = (2048, 2048)
    yy, xx = np.mgrid[0:2048, 0:2048]
    void = (yy - 300) ** 2 + (xx - 1024) ** 2 < 250 ** 2
    labels = make_boxes(shape, 256, void_mask=void, exclude=rng.random(shape) < 1e-3).labels
    _same(BoxClipper(labels), reference_layout(labels))


def test_negative_labels_are_refused():
    labels = np.ones((8, 8), np.int32)
    labels[3, 3] = -1
    with pytest.raises(ValueError, match="box labels"):
        BoxClipper(labels)
