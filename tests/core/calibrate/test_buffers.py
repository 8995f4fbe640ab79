"""Calibration into lent arrays: the same numbers, the same memory for every integration."""

from __future__ import annotations

import numpy as np
import pytest

from nircam_gui.core.calibrate import calibrate_integration
from nircam_gui.core.calibrate.buffers import BufferPool


def _copied(chunks):
    # with a pool a chunk's arrays are valid until the next chunk: copy them as they come
    return [(c.first_group, c.data.copy(), c.groupdq.copy()) for c in chunks]


def test_pool_gives_the_same_numbers_and_reuses_its_arrays(bright):
    cfg = bright.config(chunk=5)
    plain = [_copied(calibrate_integration(bright.ramps[i], 0, cfg)) for i in (0, 1)]
    pool = BufferPool()
    seen = []
    lent = []
    for i in (0, 1):
        chunks = []
        for c in calibrate_integration(bright.ramps[i], 0, cfg, buffers=pool):
            chunks.append((c.first_group, c.data.copy(), c.groupdq.copy()))
            seen.append(c.data.base if c.data.base is not None else c.data)
        lent.append(chunks)
    for a, b in zip(plain, lent):
        assert [g for g, _, _ in a] == [g for g, _, _ in b] == [0, 5, 10, 15]
        for (_, da, qa), (_, db, qb) in zip(a, b):
            np.testing.assert_array_equal(da, db)
            np.testing.assert_array_equal(qa, qb)
    # every chunk of both integrations was calibrated into one and the same array
    assert all(s is seen[0] for s in seen)


def test_pool_hands_out_an_array_once_until_it_is_given_back():
    pool = BufferPool()
    a = pool.take((3, 4), np.float32)
    b = pool.take((3, 4), np.float32)
    assert a is not b
    pool.give(a)
    assert pool.take((3, 4), np.uint8) is not a  # another type: a new array
    assert pool.take((3, 4), np.float32) is a
    assert pool.take((3, 4), np.float32) is not a


def test_shared_dq_arrays_are_read_only(bright):
    chunk = next(calibrate_integration(bright.ramps[0], 0, bright.config(chunk=4)))
    again = next(calibrate_integration(bright.ramps[1], 0, bright.config(chunk=4)))
    assert chunk.pixeldq is again.pixeldq  # the run's integrations share one PIXELDQ
    with pytest.raises(ValueError):
        chunk.pixeldq[0, 0] = 0
