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
    clipper._cap = np.full_like(clipper._cap, 10)
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


def _astropy_pair(lab, a, b, valid, box):
    """Reference for one box: clip the sum, then the difference over the pixels the sum kept."""
    sel = (lab == box) & valid
    s = (a[sel].astype(np.float64) + b[sel])
    keep = ~sigma_clip(s, sigma=3, maxiters=None, cenfunc="mean", stdfunc="std").mask
    d = (a[sel].astype(np.float64) - b[sel])[keep]
    kd = d[~sigma_clip(d, sigma=3, maxiters=None, cenfunc="mean", stdfunc="std").mask]
    return s[keep], kd


def _assert_pair_matches_astropy(lab, a, b, valid, ps, pd, boxes):
    for box in boxes:
        ks, kd = _astropy_pair(lab, a, b, valid, box)
        assert ps.npix[box - 1] == ks.size, box
        assert pd.npix[box - 1] == kd.size, box
        assert ps.mean[box - 1] == pytest.approx(ks.mean(), rel=1e-9)
        assert pd.variance_raw[box - 1] == pytest.approx(kd.var(), rel=1e-7)


def _count_calls(monkeypatch):
    """Record the boxes handed to every call of the per-box kernel."""
    import nircam_gui.core.gain.clipstats as cs

    calls = []
    kernel = cs._clip_pair_boxes

    def spy(*args):
        calls.append(np.array(args[5]))
        return kernel(*args)

    monkeypatch.setattr(cs, "_clip_pair_boxes", spy)
    return calls


def test_non_finite_pixels_are_left_out_like_astropy(frames):
    lab, a, b, valid = frames
    a, b = a.copy(), b.copy()
    rng = np.random.default_rng(5)
    bad = rng.random(a.shape) < 5e-3
    a[bad] = np.nan
    b[rng.random(a.shape) < 2e-3] = np.inf
    clipper = BoxClipper(lab)
    ps, pd = clipper.clip_pair(a, b, valid)
    assert np.isfinite(ps.mean).all() and np.isfinite(pd.variance).all()
    s_ok = np.isfinite(a) & np.isfinite(b)
    _assert_pair_matches_astropy(lab, a, b, valid & s_ok, ps, pd, range(1, clipper.nbox + 1))
    # the general path agrees
    ss = clipper.clip(a, b, 1.0, valid, keep_mask=True)
    np.testing.assert_array_equal(ss.npix, ps.npix)


def test_pathological_boxes_are_redone_alone_and_end_like_astropy(frames, monkeypatch):
    """A start far off (the sample unlike the rest of the box) or missing (no valid sample
    pixel) is caught by the band check; only those boxes are done again."""
    lab, a, b, valid = frames
    a, b, valid = a.copy(), b.copy(), valid.copy()
    clipper = BoxClipper(lab)
    off_box, blind_box = 10, 20
    a.ravel()[clipper.sample_index[off_box - 1]] += 2000.0  # the sample reads 28 sigma high
    valid.ravel()[clipper.sample_index[blind_box - 1]] = False
    calls = _count_calls(monkeypatch)
    ps, pd = clipper.clip_pair(a, b, valid)
    assert len(calls) >= 2
    assert off_box in calls[1] and len(calls[1]) <= 3  # the retry takes the failing boxes only
    _assert_pair_matches_astropy(lab, a, b, valid, ps, pd, range(1, clipper.nbox + 1))


def test_exact_attempt_alone_equals_astropy(frames):
    """With a single attempt every box is clipped with all its pixels as candidates."""
    lab, a, b, valid = frames
    clipper = BoxClipper(lab)
    clipper._attempts = 1
    ps, pd = clipper.clip_pair(a, b, valid)
    _assert_pair_matches_astropy(lab, a, b, valid, ps, pd, range(1, clipper.nbox + 1))


def test_gaussian_frame_needs_one_pass(frames, monkeypatch):
    """On ordinary data (hot pixels, masked pixels) the start is close enough: no box is redone."""
    lab, a, b, valid = frames
    calls = _count_calls(monkeypatch)
    BoxClipper(lab).clip_pair(a, b, valid)
    assert len(calls) == 1


def test_huge_values_in_the_sample_cost_no_precision():
    """Values of 1e20-3e38 (fill values, corrupt pixels) in a box's sample must not pull the start
    so far off that the sums about it lose the data: the result is still sigma_clip's."""
    rng = np.random.default_rng(21)
    lab = np.zeros((64, 64), np.int32)
    lab[:, :32] = 1
    lab[:, 32:] = 2
    a = (rng.standard_normal((64, 64)) * 20 + 1000).astype(np.float32)
    b = (rng.standard_normal((64, 64)) * 20 + 1000).astype(np.float32)
    clipper = BoxClipper(lab)
    s1 = clipper.sample_index[0]
    a.ravel()[s1[:2]] = [1e30, 1e20]
    a.ravel()[clipper.sample_index[1][:3]] = [3e38, -3e38, np.inf]
    valid = np.ones(lab.shape, bool)
    ps, pd = clipper.clip_pair(a, b, valid)
    _assert_pair_matches_astropy(lab, a, b, np.isfinite(a) & np.isfinite(b), ps, pd, (1, 2))
    ss = clipper.clip(a, b, 1.0)
    np.testing.assert_array_equal(ss.npix, ps.npix)
    np.testing.assert_allclose(ss.mean, ps.mean, rtol=1e-12)


@pytest.mark.parametrize("iterations", [1, 2, 3])
def test_iteration_limit_gives_the_statistics_of_the_last_mask(iterations):
    """Out of iterations, the result is that of sigma_clip with the same ``maxiters``."""
    rng = np.random.default_rng(iterations)
    lab = np.ones((64, 64), np.int32)
    a = (rng.standard_normal((64, 64)) * 20 + 1000).astype(np.float32)
    a.ravel()[:400] += np.geomspace(50, 5e5, 400).astype(np.float32)  # a long graded tail
    b = (rng.standard_normal((64, 64)) * 20 + 1000).astype(np.float32)
    clipper = BoxClipper(lab, max_iter=iterations)
    clipper._attempts = 1  # exact from the start: all pixels kept, as sigma_clip starts
    ps, pd = clipper.clip_pair(a, b)
    s = a.ravel().astype(np.float64) + b.ravel()
    keep = ~sigma_clip(s, sigma=3, maxiters=iterations, cenfunc="mean", stdfunc="std").mask
    d = (a.ravel().astype(np.float64) - b.ravel())[keep]
    kd = d[~sigma_clip(d, sigma=3, maxiters=iterations, cenfunc="mean", stdfunc="std").mask]
    assert ps.npix[0] == keep.sum() and ps.mean[0] == pytest.approx(s[keep].mean(), rel=1e-12)
    assert pd.npix[0] == kd.size and pd.variance_raw[0] == pytest.approx(kd.var(), rel=1e-9)


def test_frames_of_another_shape_are_refused(frames):
    lab, a, b, valid = frames
    clipper = BoxClipper(lab)
    with pytest.raises(ValueError, match="shape"):
        clipper.clip_pair(a[:64, :64], b[:64, :64])
    with pytest.raises(ValueError, match="valid mask"):
        clipper.clip_pair(a, b, valid[:, :-1])
    with pytest.raises(ValueError, match="shape"):
        clipper.clip(a.ravel())


def test_group_dq_equals_the_valid_array_it_stands_for(frames):
    """The pair's group DQ read in the pass gives what ``valid & ((dq_a | dq_b) == 0)`` gives."""
    lab, a, b, valid = frames
    rng = np.random.default_rng(4)
    ga = np.where(rng.random(a.shape) < 0.01, 2, 0).astype(np.uint8)
    gb = np.where(rng.random(a.shape) < 0.01, 4, 0).astype(np.uint8)
    clipper = BoxClipper(lab)
    for v in (None, valid):
        both = ((ga | gb) == 0) if v is None else (v & ((ga | gb) == 0))
        with_dq = clipper.clip_pair(a, b, v, (ga, gb))
        explicit = clipper.clip_pair(a, b, both)
        for x, y in zip(with_dq, explicit):
            for name in ("mean", "variance", "variance_raw", "npix"):
                np.testing.assert_array_equal(getattr(x, name), getattr(y, name), err_msg=name)
    with pytest.raises(ValueError, match="group DQ"):
        clipper.clip_pair(a, b, valid, (ga[:, :-1], gb))


def test_same_numbers_on_one_thread_and_two(frames):
    """Boxes are done in parallel; each box's sums are in a fixed order, whatever the threads."""
    import numba

    lab, a, b, valid = frames
    clipper = BoxClipper(lab)
    before = numba.get_num_threads()
    try:
        out = []
        for n in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(n)
            out.append(clipper.clip_pair(a, b, valid))
    finally:
        numba.set_num_threads(before)
    for x, y in zip(*out):
        np.testing.assert_array_equal(x.mean, y.mean)
        np.testing.assert_array_equal(x.variance_raw, y.variance_raw)
        np.testing.assert_array_equal(x.npix, y.npix)
