import numpy as np

from nircam_gui.core.dq import DO_NOT_USE
from nircam_gui.core.skyflat.sourcemask import source_mask


def _image(n=256, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:n, :n]
    sky = 1.0 + 0.08 * x / n  # a gradient larger than the noise must not be flagged
    return (sky + 0.02 * rng.standard_normal((n, n))).astype(np.float32), x, y


def test_sources_and_dq_are_masked_gradient_is_not():
    img, x, y = _image()
    star = 0.5 * np.exp(-((x - 100) ** 2 + (y - 120) ** 2) / (2 * 1.5**2))
    img += star.astype(np.float32)
    dq = np.zeros(img.shape, np.uint32)
    dq[10, 10] = DO_NOT_USE
    img[20, 20] = np.nan
    mask = source_mask(img, dq)
    assert mask[120, 100] and mask[120, 103]  # core and wing
    assert mask[10, 10] and mask[20, 20]
    # pure noise on a gradient: only a small fraction of pixels is flagged
    assert mask.mean() < 0.05
    assert mask[:, :128].mean() < 0.05 and mask[:, 128:].mean() < 0.05


def test_threshold_and_dilation_options():
    img, x, y = _image(seed=1)
    img += (0.3 * np.exp(-((x - 60) ** 2 + (y - 60) ** 2) / 8.0)).astype(np.float32)
    base = source_mask(img)
    strict = source_mask(img, n_sigma=5.0)
    grown = source_mask(img, dilate=3)
    assert strict.sum() < base.sum() < grown.sum()
    assert strict[60, 60] and grown[60, 66]


def test_nothing_found_returns_dq_mask_only():
    img = np.ones((128, 128), np.float32)  # no noise: photutils finds no source (returns None)
    dq = np.zeros(img.shape, np.uint32)
    dq[5, 6] = DO_NOT_USE
    mask = source_mask(img, dq)
    assert mask.sum() == 1 and mask[5, 6]


def test_edges_of_a_sloped_sky_are_not_flagged():
    # photutils Background2D holds edge boxes flat; on this slope it flags ~30 % of the
    # last columns. The spline background must not.
    img, x, y = _image(seed=4)
    mask = source_mask(img)
    assert mask[:, -8:].mean() < 0.03 and mask[:, :8].mean() < 0.03
