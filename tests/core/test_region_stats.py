"""Pixel windows and box statistics against injected truth."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.stats import sigma_clipped_stats

from nircam_gui.core.region_stats import box_statistics, pixel_window


def test_pixel_window_values_and_edges():
    image = np.arange(20 * 30, dtype=np.float32).reshape(20, 30)
    win, x0, y0 = pixel_window(image, 10, 5, half=4)
    assert win.shape == (9, 9) and (x0, y0) == (6, 1)
    np.testing.assert_array_equal(win, image[1:10, 6:15])
    corner, x0, y0 = pixel_window(image, 0, 19, half=2)
    assert (x0, y0) == (-2, 17)
    assert np.isnan(corner[:, :2]).all() and np.isnan(corner[3:, :]).all()
    np.testing.assert_array_equal(corner[:3, 2:], image[17:20, 0:3])


def test_box_statistics_recovers_injected_truth():
    rng = np.random.default_rng(11)
    image = rng.normal(1000.0, 5.0, size=(400, 400))
    hot = rng.choice(200 * 200, 400, replace=False)
    box = image[100:300, 100:300].copy()
    box.flat[hot] += 5000.0  # 1% hot pixels
    image[100:300, 100:300] = box
    image[150, 150] = np.nan
    s = box_statistics(image, 299, 100, 100, 299)  # corners in any order
    assert (s.x0, s.x1, s.y0, s.y1) == (100, 299, 100, 299)
    assert s.npix == 200 * 200 - 1
    # the clipped numbers find the truth despite the hot pixels; the plain mean does not
    assert s.clipped_mean == pytest.approx(1000.0, abs=0.1)
    assert s.clipped_std == pytest.approx(5.0, rel=0.03)
    assert s.mean > 1040 and s.n_clipped >= 400
    ref = sigma_clipped_stats(box[np.isfinite(box)], sigma=3, maxiters=5)
    assert s.clipped_median == pytest.approx(ref[1])
    assert "200 x" not in s.text() and "x 101-300, y 101-300: 39999 pixels" in s.text()


def test_box_statistics_edges_and_errors():
    image = np.ones((10, 10))
    s = box_statistics(image, -5, 3, 8, 20)
    assert (s.x0, s.x1, s.y0, s.y1) == (0, 3, 8, 9) and s.npix == 8 and s.clipped_std == 0
    with pytest.raises(ValueError, match="outside"):
        box_statistics(image, 20, 30, 0, 3)
    with pytest.raises(ValueError, match="no finite pixel"):
        box_statistics(np.full((5, 5), np.nan), 0, 4, 0, 4)
    mask = np.zeros((10, 10), bool)
    mask[:, :5] = True
    assert box_statistics(image, 0, 9, 0, 9, exclude=mask).npix == 50


def test_line_profile_rows_columns_and_diagonals():
    from nircam_gui.core.region_stats import line_profile

    y, x = np.mgrid[0:50, 0:60]
    image = (1000 * y + x).astype(float)
    d, xs, ys, v = line_profile(image, 5, 7, 25, 7)  # along row 7
    assert d[0] == 0 and d[-1] == pytest.approx(20) and len(v) == 21
    np.testing.assert_array_equal(v, image[7, 5:26])
    d, xs, ys, v = line_profile(image, 3, 40, 3, 10)  # down column 3
    np.testing.assert_array_equal(v, image[40:9:-1, 3])
    d, xs, ys, v = line_profile(image, 0, 0, 10, 10)  # the diagonal hits the diagonal pixels
    assert set(zip(xs, ys)) >= {(k, k) for k in range(11)}
    assert np.all(v == image[ys, xs])
    d, xs, ys, v = line_profile(image, 55, 5, 70, 5)  # leaving the image: NaN outside
    assert np.isfinite(v[:5]).all() and np.isnan(v[5:]).all()
