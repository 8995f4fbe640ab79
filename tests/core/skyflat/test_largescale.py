import numpy as np
import pytest

from nircam_gui.core.skyflat.largescale import bin_image, default_method, fit_large_scale

N = 512


def _field(n=N, seed=0, noise=0.02):
    rng = np.random.default_rng(seed)
    u = (np.arange(n) - (n - 1) / 2) / (n / 2)
    x, y = u[None, :], u[:, None]
    smooth = 1 + 0.035 * x - 0.02 * y + 0.01 * x * y + 0.008 * x**2 - 0.004 * x**3
    img = (smooth + noise * rng.standard_normal((n, n))).astype(np.float32)
    img[:4] = img[-4:] = np.nan
    img[:, :4] = img[:, -4:] = np.nan
    dead = rng.random((n, n)) < 0.002
    img[dead] = 0.3
    return img, (smooth / np.median(smooth[4:-4, 4:-4])).astype(np.float32)


def test_default_methods():
    assert default_method(False) == "poly3" and default_method(True) == "median"
    with pytest.raises(ValueError):
        fit_large_scale(np.ones((64, 64)), "spline")


def test_bin_image_handles_partial_blocks():
    img = np.arange(100 * 70, dtype=np.float32).reshape(100, 70)
    med, cnt, yc, xc = bin_image(img, 32)
    assert med.shape == (4, 3)
    assert yc[-1] == pytest.approx(97.5) and xc[-1] == pytest.approx(66.5)
    assert med[0, 0] == pytest.approx(np.median(img[:32, :32]))


@pytest.mark.parametrize("method, tol", [("poly3", 0.0015), ("median", 0.003)])
def test_fit_recovers_a_smooth_field(method, tol):
    img, truth = _field()
    fit = fit_large_scale(img, method)
    assert fit.shape == img.shape and np.isfinite(fit).all()
    sl = slice(4, N - 4)
    ratio = fit[sl, sl] / truth[sl, sl]
    assert np.sqrt(np.mean((ratio / np.median(ratio) - 1) ** 2)) < tol


def test_poly3_is_exact_on_a_cubic():
    img, truth = _field(noise=0.0)
    img[img == 0.3] = np.nan
    fit = fit_large_scale(img, "poly3")
    sl = slice(4, N - 4)
    # binning to 32-px medians of a curved field costs a little; well below 0.1 %
    assert np.max(np.abs(fit[sl, sl] / truth[sl, sl] - 1)) < 5e-4
