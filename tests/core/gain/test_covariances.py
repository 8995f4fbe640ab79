"""Clipped pixel covariances of the differenced frame, against brute force and known fields."""

import numpy as np
import pytest
from scipy import ndimage

from nircam_gui.core.gain.boxes import make_boxes
from nircam_gui.core.gain.clipstats import BoxClipper
from nircam_gui.core.gain.covariances import BoxCovariances


def _pair(rng, shape, kernel=None, sigma=20.0):
    def frame():
        w = rng.standard_normal(shape)
        if kernel is not None:
            w = ndimage.convolve(w, kernel, mode="wrap")
        return (1000.0 + sigma * w).astype(np.float32)

    return frame(), frame()


def _brute(a, b, labels, kept_lab, mu_d, maxlag, factor):
    """Loop over boxes and lags with plain numpy: the definition, slowly."""
    d = a.astype(float) - b.astype(float)
    nb = labels.max()
    m = maxlag + 1
    out = np.full((nb, m, m), np.nan)
    ny, nx = d.shape
    for k in range(1, nb + 1):
        v = np.where(kept_lab == k, d - mu_d[k - 1], 0.0)
        w = (kept_lab == k).astype(float)
        for dy in range(m):
            for dx in range(m):
                s = c = 0.0
                for sx in ((1, -1) if dx and dy else (1,)):
                    ddx = sx * dx
                    x0, x1 = max(0, -ddx), min(nx, nx - ddx)
                    p = v[: ny - dy, x0:x1] * v[dy:, x0 + ddx:x1 + ddx]
                    q = w[: ny - dy, x0:x1] * w[dy:, x0 + ddx:x1 + ddx]
                    s += p.sum()
                    c += q.sum()
                out[k - 1, dy, dx] = s / c / (factor if dx == dy == 0 else factor**2)
    return out


def test_same_pixels_as_the_variance_and_equal_to_brute_force():
    rng = np.random.default_rng(4)
    shape = (192, 192)
    void = np.zeros(shape, bool)
    yy, xx = np.mgrid[:192, :192]
    void[(yy - 60) ** 2 + (xx - 96) ** 2 < 30**2] = True  # an irregular (round) box across amplifiers
    boxes = make_boxes(shape, 32, void_mask=void)
    clipper = BoxClipper(boxes.labels)
    cov = BoxCovariances(clipper, maxlag=3)
    a, b = _pair(rng, shape, np.array([[0, 0.1, 0], [0.2, 1, 0.2], [0, 0.1, 0]]))
    a[10, 10] = 1e5  # outliers the clips reject
    b[50, 70] = -1e5
    valid = rng.random(shape) > 0.01
    ss, sd = clipper.clip_pair(a, b, valid)
    c, npairs = cov.measure(a, b, valid, ss, sd)
    assert np.array_equal(npairs[:, 0, 0], sd.npix)  # the variance's own pixels
    # quantised to a millionth of the clip limit: equal to ~1e-7
    assert np.allclose(c[:, 0, 0], sd.variance, rtol=1e-6)
    klab, _, _ = cov.kept(a, b, valid, ss, sd)
    expected = _brute(a, b, boxes.labels, klab.reshape(shape), sd.mean, 3, clipper.factor)
    assert np.allclose(c, expected, rtol=1e-5, atol=1e-6 * np.nanmax(np.abs(expected)))


def test_clipping_correction_recovers_known_covariances():
    """A correlated Gaussian field: every lag within its noise of the true covariance."""
    rng = np.random.default_rng(5)
    shape = (1024, 1024)
    k = np.array([[0, 0.1, 0], [0.15, 1, 0.15], [0, 0.1, 0]])
    a, b = _pair(rng, shape, k, sigma=30.0)
    boxes = make_boxes(shape, 256)
    clipper = BoxClipper(boxes.labels)
    c, _ = BoxCovariances(clipper, 2).measure(a, b, None, *clipper.clip_pair(a, b))
    kk = np.zeros((7, 7))
    kk[2:5, 2:5] = k
    truth = np.array([[2 * 900 * np.sum(kk * np.roll(kk, (j, i), (0, 1))) for i in range(3)] for j in range(3)])
    got = np.average(c, axis=0, weights=np.asarray(boxes.table["npix"]))
    # ~1M pixel pairs: noise ~1e-3 of the variance; uncorrected lags would be 6% low
    assert np.allclose(got, truth, atol=3e-3 * truth[0, 0])
    assert got[0, 1] / truth[0, 1] == pytest.approx(1, abs=0.02)
    assert got[1, 0] / truth[1, 0] == pytest.approx(1, abs=0.02)
