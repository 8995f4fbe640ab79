import numpy as np
import pytest
from astropy.stats import sigma_clip

from nircam_gui.core.gain.clipstats import BoxClipper, clip_variance_factor


def test_clip_factors_match_design_numbers():
    assert clip_variance_factor(3, iterations=1) == pytest.approx(0.9733, abs=1e-4)
    assert clip_variance_factor(3) == pytest.approx(0.9699, abs=1e-4)


def test_factor_matches_monte_carlo():
    """The converged factor is what clipping Gaussian noise actually does."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal(2_000_000)
    kept = x[~sigma_clip(x, sigma=3, maxiters=None, cenfunc="mean", stdfunc="std").mask]
    assert kept.var() == pytest.approx(clip_variance_factor(3), rel=2e-3)


@pytest.fixture(scope="module")
def frames():
    rng = np.random.default_rng(0)
    n = 256
    lab = np.zeros((n, n), np.int32)
    yy, xx = np.mgrid[0:n, 0:n]
    lab[4:-4, 4:-4] = ((yy // 32) * 8 + (xx // 32) + 1)[4:-4, 4:-4]
    lab[100:140, 100:180] = 65  # an extra box cutting through the grid
    a = (rng.standard_normal((n, n)) * 50 + 5000 + xx).astype(np.float32)
    b = (rng.standard_normal((n, n)) * 50 + 5000 + xx).astype(np.float32)
    hot = rng.random((n, n)) < 2e-3
    a[hot] += rng.uniform(300, 30000, hot.sum())
    valid = rng.random((n, n)) > 0.02
    return lab, a, b, valid


def _astropy(values):
    v = values.astype(np.float64)
    return v[~sigma_clip(v, sigma=3, maxiters=None, cenfunc="mean", stdfunc="std").mask]


def test_sum_then_difference_equals_astropy_loop(frames):
    lab, a, b, valid = frames
    clipper = BoxClipper(lab)
    ss = clipper.clip(a, b, 1.0, valid, keep_mask=True)
    sd = clipper.clip(a, b, -1.0, ss.kept)
    s, d = a + b, a - b
    for box in range(1, clipper.nbox + 1):
        sel = (lab == box) & valid
        v = s[sel].astype(np.float64)
        keep = ~sigma_clip(v, sigma=3, maxiters=None, cenfunc="mean", stdfunc="std").mask
        kd = _astropy(d[sel][keep])  # pixels rejected in the sum are left out of the difference
        assert ss.npix[box - 1] == keep.sum()
        assert ss.mean[box - 1] == pytest.approx(v[keep].mean(), abs=1e-3)
        assert sd.npix[box - 1] == kd.size
        assert sd.variance_raw[box - 1] == pytest.approx(kd.var(), rel=1e-6)
        assert sd.variance[box - 1] == pytest.approx(kd.var() / clip_variance_factor(3), rel=1e-6)


def test_single_pass_pair_equals_two_clips(frames):
    lab, a, b, valid = frames
    clipper = BoxClipper(lab)
    for v in (None, valid):
        ss = clipper.clip(a, b, 1.0, v, keep_mask=True)
        sd = clipper.clip(a, b, -1.0, ss.kept)
        ps, pd = clipper.clip_pair(a, b, v)
        np.testing.assert_array_equal(ps.npix, ss.npix)
        np.testing.assert_array_equal(pd.npix, sd.npix)
        np.testing.assert_allclose(ps.mean, ss.mean, rtol=1e-12)
        np.testing.assert_allclose(pd.variance, sd.variance, rtol=1e-9)
    # a frame with more candidates than the buffer takes the general path, same answer
    clipper._cap = 10
    ps, pd = clipper.clip_pair(a, b, valid)
    np.testing.assert_array_equal(pd.npix, sd.npix)
    np.testing.assert_allclose(pd.variance, sd.variance, rtol=1e-9)


def test_empty_and_constant_boxes_do_not_break(frames):
    lab, a, b, _ = frames
    valid = np.ones(lab.shape, bool)
    valid[lab == 1] = False  # box 1 has no valid pixel
    const = a.copy()
    const[lab == 2] = 7.0
    st = BoxClipper(lab).clip(const, valid=valid)
    assert st.npix[0] == 0 and np.isnan(st.mean[0])
    assert st.mean[1] == 7.0 and st.variance_raw[1] == 0.0
