"""A stack built in parts (as a campaign's filter tasks do) and merged is the stack built in one go."""

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

import numpy as np
import pytest

from nircam_gui.core.errors import NircamFileError
from nircam_gui.core.progress import Reporter
from nircam_gui.core.simulate.images import CalSimConfig, simulate_cal_images
from nircam_gui.core.skyflat.inputs import check_inputs
from nircam_gui.core.skyflat.options import SkyflatOptions
from nircam_gui.core.skyflat.run import run_skyflat
from nircam_gui.core.skyflat.stack import build_stack
from nircam_gui.core.skyflat.stack_parts import build_stack_part, merge_stack_parts, split_by_filter


@pytest.fixture(scope="module")
def three_filters(tmp_path_factory):
    root = tmp_path_factory.mktemp("stack_parts")
    simulate_cal_images(root, CalSimConfig(detectors=("NRCA2",), filters=("F150W", "F200W", "F090W"), n_images=3,
                                           size=128, seed=8))
    inputs = check_inputs([root], [root / "reference"], [root / "reference"])
    (name, metas), = inputs.by_detector.items()
    return root, inputs, name, metas


def _same_stack(a, b):
    assert a.data.tobytes() == b.data.tobytes()
    assert a.groups == b.groups and a.records == b.records
    assert np.array_equal(a.dq_dead, b.dq_dead) and a.block_bin == b.block_bin
    assert (a.blocks is None) == (b.blocks is None)
    if a.blocks is not None:
        assert a.blocks.tobytes() == b.blocks.tobytes()
    assert list(a.masks) == list(b.masks) and all(np.array_equal(a.masks[k], b.masks[k]) for k in a.masks)


def test_split_by_filter_and_chunks(three_filters):
    _, _, _, metas = three_filters
    parts = split_by_filter(metas)
    assert sorted(parts) == ["F090W", "F150W", "F200W"] and sorted(sum(parts.values(), [])) == list(range(9))
    chunks = split_by_filter(metas, max_images=2)
    assert sorted(chunks) == ["F090W", "F090W-2", "F150W", "F150W-2", "F200W", "F200W-2"]
    assert sorted(sum(chunks.values(), [])) == list(range(9)) and max(map(len, chunks.values())) == 2


def test_parts_finishing_in_any_order_merge_to_the_one_go_stack(three_filters, tmp_path):
    """Parts of interleaved images, built on threads that finish in a shuffled order, merged in
    the order they finished: the merged stack is byte for byte the stack built in one go."""
    _, _, name, metas = three_filters
    opt = SkyflatOptions()
    whole = build_stack(name, metas, opt, Reporter(len(metas)), keep_masks=True, block_bin=opt.additive_bin)
    # interleaved positions (not one filter's run of images): the merge must place by position
    chunks = {f"c{k}": list(range(k, len(metas), 4)) for k in range(4)}
    delays = dict(zip(chunks, random.Random(3).sample([0.0, 0.3, 0.6, 0.9], 4)))
    finished = []
    lock = threading.Lock()

    def run(key):
        time.sleep(delays[key])
        part = build_stack_part(name, metas, chunks[key], opt, tmp_path, key, keep_masks=True,
                                block_bin=opt.additive_bin)
        with lock:
            finished.append(key)
        return part

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(run, k) for k in chunks]
        parts = [f.result() for f in as_completed(futures)]
    assert [p.indices for p in parts] != sorted((p.indices for p in parts))  # not in stack order
    _same_stack(merge_stack_parts(name, metas, parts), whole)
    for order in (parts[::-1], random.Random(1).sample(parts, len(parts))):
        _same_stack(merge_stack_parts(name, metas, order), whole)


def test_run_with_a_merged_stack_gives_the_same_result(three_filters, tmp_path):
    root, _, name, metas = three_filters
    refs = [root / "reference"]
    parts = [build_stack_part(name, metas, idx, SkyflatOptions(), tmp_path, key,
                              block_bin=SkyflatOptions().additive_bin)
             for key, idx in reversed(split_by_filter(metas).items())]
    a = run_skyflat([root], ground_flats=refs, ground_masks=refs)
    b = run_skyflat([root], ground_flats=refs, ground_masks=refs,
                    stacks={name: lambda: merge_stack_parts(name, metas, parts)})
    da, db = a.detectors[name], b.detectors[name]
    assert da.grey.tobytes() == db.grey.tobytes() and da.grey_error.tobytes() == db.grey_error.tobytes()
    assert da.fit.tobytes() == db.fit.tobytes() and da.n_dead == db.n_dead
    for token in da.flats:
        assert da.flats[token].data.tobytes() == db.flats[token].data.tobytes()
    assert list(a.backgrounds["file"]) == list(b.backgrounds["file"])
    assert np.array_equal(a.backgrounds["background"], b.backgrounds["background"])


def test_merge_refuses_missing_doubled_or_misplaced_images(three_filters, tmp_path):
    _, _, name, metas = three_filters
    split = split_by_filter(metas)
    parts = {k: build_stack_part(name, metas, idx, SkyflatOptions(additive="plain"), tmp_path, k)
             for k, idx in split.items()}
    some = list(parts.values())
    with pytest.raises(NircamFileError, match="in 0 of the NRCA2 stack parts"):
        merge_stack_parts(name, metas, some[:-1])
    with pytest.raises(NircamFileError, match="in 2 of"):
        merge_stack_parts(name, metas, some + some[:1])
    moved = some[0]
    moved.indices = [i + 1 for i in moved.indices]
    with pytest.raises(NircamFileError, match="holds this image at position"):
        merge_stack_parts(name, metas, some)


def test_run_refuses_a_stack_of_other_images(three_filters, tmp_path):
    root, _, name, metas = three_filters
    opt = SkyflatOptions(additive="plain")
    stack = build_stack(name, metas[::-1], opt, Reporter(len(metas)))
    with pytest.raises(NircamFileError, match="other images or another order"):
        run_skyflat([root], options=opt, stacks={name: stack})
