import bottleneck as bn
import numpy as np
import pytest
from astropy.stats import sigma_clip

from nircam_gui.core.progress import Cancelled
from nircam_gui.core.skyflat.combine import combine_stack
from nircam_gui.core.skyflat.normalise import clipped_level, normalise


def test_clipped_level_ignores_mask_and_outliers():
    rng = np.random.default_rng(3)
    img = (2.0 + 0.05 * rng.standard_normal((200, 200))).astype(np.float32)
    mask = np.zeros(img.shape, bool)
    img[:20] = 50.0  # masked sources
    mask[:20] = True
    img[100, 100:120] = 9.0  # unmasked outliers: clipped
    level = clipped_level(img, mask)
    assert level.median == pytest.approx(2.0, abs=0.002)
    assert level.std == pytest.approx(0.05, rel=0.05)
    assert level.n_unmasked == 180 * 200
    out = normalise(img, mask, level.median)
    assert np.isnan(out[:20]).all() and np.nanmedian(out) == pytest.approx(1.0, abs=0.001)


@pytest.fixture(scope="module")
def stack():
    rng = np.random.default_rng(5)
    s = (1.0 + 0.03 * rng.standard_normal((15, 96, 80))).astype(np.float32)
    s[rng.random(s.shape) < 0.1] = np.nan
    s[rng.random(s.shape) < 0.02] = 3.0  # residual sources / cosmic rays
    return s


@pytest.mark.parametrize("method", ["bottleneck", "astropy"])
def test_combine_matches_astropy_sigma_clip(stack, method):
    res = combine_stack(stack, sigma=3, maxiters=5, method=method, rows_per_block=17)
    ref = sigma_clip(stack, sigma=3, maxiters=5, axis=0, cenfunc="median", stdfunc="std", masked=False)
    np.testing.assert_allclose(res.median, bn.nanmedian(ref, axis=0), rtol=0, atol=1e-7)
    np.testing.assert_array_equal(res.coverage, np.isfinite(ref).sum(axis=0))
    # outliers at 3.0 are gone
    assert np.nanmax(res.median) < 1.2


def test_combine_subset_and_error_map(stack):
    res = combine_stack(stack, indices=[0, 2, 4, 6, 8, 10, 12, 14])
    assert res.coverage.max() <= 8
    # the error map is the standard error of a median of ~7 values of rms 0.03
    expected = 1.2533 * 0.03 / np.sqrt(res.coverage)
    assert np.nanmedian(res.error / expected) == pytest.approx(1.0, abs=0.15)
    # and it predicts the scatter of the median itself
    assert np.nanstd(res.median) == pytest.approx(np.nanmedian(res.error), rel=0.2)


def test_combine_cancel(stack):
    with pytest.raises(Cancelled):
        combine_stack(stack, cancel=lambda: True)
