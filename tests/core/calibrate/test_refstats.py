"""The fused engine's reference-pixel statistics and medians equal numpy's and scipy's bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from nircam_gui.core.calibrate.evenodd import even_odd_offsets, side_reference_signal
from nircam_gui.core.calibrate.refstats import _sum_f32, even_odd_offsets_fast, side_reference_signal_fast
from nircam_gui.core.calibrate.selection import _histogram, _select, masked_median


def test_float32_sum_is_numpys_pairwise_sum():
    rng = np.random.default_rng(1)
    for n in [*range(1, 300), 1000, 1024, 5000, 9000, 20000]:
        a = (rng.normal(0, 5, n) + rng.uniform(-1e4, 1e4)).astype(np.float32)
        assert _sum_f32(a, n) == np.sum(a), n


def _frame(rng, ny, nx, trial):
    g = (rng.normal(0, rng.uniform(0.5, 8), (ny, nx)) + rng.uniform(-500, 500)).astype(np.float32)
    if trial % 3 == 0:
        g[rng.random((ny, nx)) < 0.01] += 200  # outliers the clipping removes
    if trial % 4 == 1:
        g = np.round(g)  # ties
    pdq = np.zeros((ny, nx), np.uint32)
    if trial % 2:
        pdq[rng.random((ny, nx)) < 0.05] = 1
    if trial == 7:
        pdq[:, :4] = 1  # no usable left column: the right side alone
    if trial == 9:
        pdq[:4, :] = 1
        pdq[-4:, : nx // 4] = 1  # amplifier 1 has no reference row: left alone
    if trial == 11:
        g[:4, :] = 3.0  # constant bottom rows: numpy's zero-std branch
    return g, pdq


@pytest.mark.parametrize("trial", range(14))
def test_reference_statistics_equal_evenodd(trial):
    rng = np.random.default_rng(trial)
    ny, nx = (2048, 2048) if trial < 2 else (int(rng.integers(20, 300)), 4 * int(rng.integers(4, 80)))
    g, pdq = _frame(rng, ny, nx, trial)
    rows = np.concatenate([g[:4], g[-4:]])
    rows_dnu = (np.concatenate([pdq[:4], pdq[-4:]]) & 1) != 0
    cols = np.concatenate([g[:, :4], g[:, -4:]], axis=1)
    cols_dnu = (np.concatenate([pdq[:, :4], pdq[:, -4:]], axis=1) & 1) != 0
    np.testing.assert_array_equal(even_odd_offsets_fast(rows, rows_dnu), even_odd_offsets(g, pdq))
    for length in (11, 4):
        np.testing.assert_array_equal(side_reference_signal_fast(cols, cols_dnu, length),
                                      side_reference_signal(g, pdq, length))


@pytest.mark.parametrize("trial", range(30))
def test_masked_median_equals_numpy(trial):
    rng = np.random.default_rng(100 + trial)
    ny, nx = (2048, 2048) if trial == 0 else (int(rng.integers(1, 300)), int(rng.integers(1, 300)))
    f = (rng.normal(0, rng.uniform(0.1, 1e4), (ny, nx)) + rng.uniform(-1e4, 1e4)).astype(np.float32)
    if trial % 5 == 1:
        f = np.round(f)
    if trial % 9 == 4:
        f += np.linspace(0, 1e5, ny)[:, None].astype(np.float32)  # rows unlike each other
    mask = rng.random((ny, nx)) < rng.uniform(0.05, 1)
    if trial == 3 and mask.any():
        f[np.nonzero(mask)[0][0], np.nonzero(mask)[1][0]] = np.nan
    expected = np.median(f[mask]) if mask.any() else np.nan
    got = masked_median(f, mask)
    assert got == expected or (np.isnan(got) and np.isnan(expected))


def test_radix_selection_equals_partition():
    """The fallback when the sampled bracket misses: exact k-th values from two digit histograms."""
    rng = np.random.default_rng(5)
    f = rng.standard_cauchy((300, 200)).astype(np.float32)
    f[rng.random(f.shape) < 0.1] *= -1
    mask = rng.random(f.shape) < 0.7
    values = np.sort(f[mask])
    bits = f.view(np.uint32)
    hist, nan = _histogram(bits, mask, np.uint32(0), False, 2)
    assert nan == 0 and hist.sum() == values.size
    ranks = [0, 17, values.size // 2, values.size - 1]
    assert _select(bits, mask, hist, ranks) == [values[r] for r in ranks]
