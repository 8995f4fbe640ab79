import numpy as np
import pytest
from astropy.io import fits

from nircam_gui.core.errors import NircamFileError
from nircam_gui.core.gain.maps import check_first_pair, combine_pairs
from nircam_gui.core.gain.pairs import PairingError, find_integrations, make_pairs
from nircam_gui.core.gain.ptcfit import FLAG_FEW_POINTS, fit_ptc


def _ramp(path, det="NRCB1", ngroups=3, n=64, nints=1, start="2014-09-01T05:00:00", readpatt="RAPID"):
    ph = fits.PrimaryHDU()
    ph.header.update(DETECTOR=det, NGROUPS=ngroups, NINTS=nints, READPATT=readpatt, SUBARRAY="FULL",
                     TGROUP=10.7, TFRAME=10.7)
    ph.header["DATE-OBS"], ph.header["TIME-OBS"] = start.split("T")
    fits.HDUList([ph, fits.ImageHDU(np.zeros((nints, ngroups, n, n), np.uint16), name="SCI")]).writeto(path)
    return str(path)


def test_pairs_follow_exposure_start_not_argument_order(tmp_path):
    files = [_ramp(tmp_path / f"f{i}_uncal.fits", start=f"2014-09-01T0{5 + (3 - i)}:00:00") for i in range(4)]
    ints = find_integrations(files)
    assert [i.path for i in ints] == files[::-1]
    pairs = make_pairs(ints)
    assert [(p.first.path, p.second.path) for p in pairs] == [(files[3], files[2]), (files[1], files[0])]


def test_pairs_inside_a_multi_integration_file(tmp_path):
    pairs = make_pairs(find_integrations([_ramp(tmp_path / "m_uncal.fits", nints=5)]))
    assert [(p.first.index, p.second.index) for p in pairs] == [(0, 1), (2, 3)]  # 5th left out


def test_incompatible_pair_has_a_clear_message(tmp_path):
    a = _ramp(tmp_path / "a_uncal.fits", start="2014-09-01T05:00:00")
    b = _ramp(tmp_path / "b_uncal.fits", det="NRCB2", start="2014-09-01T05:30:00")
    with pytest.raises(PairingError, match="detector differs"):
        make_pairs(find_integrations([a, b]))
    c = _ramp(tmp_path / "c_uncal.fits", ngroups=4, start="2014-09-01T05:30:00")
    with pytest.raises(PairingError, match="number of groups differs"):
        make_pairs(find_integrations([a, c]))
    with pytest.raises(PairingError, match="at least two integrations"):
        make_pairs(find_integrations([a]))


def test_a_cal_image_is_refused_by_name(tmp_path):
    p = tmp_path / "x_cal.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros((8, 8), np.float32), name="SCI")]).writeto(p)
    with pytest.raises(NircamFileError, match="x_cal.fits: not a flat-field ramp"):
        find_integrations([p])


def test_fit_recovers_slope_and_uses_points_below_limit():
    gain, rn2 = np.array([2.0, 2.5]), np.array([60.0, 40.0])
    mean = np.tile(np.arange(1, 9, dtype=float)[:, None] * 2000, (1, 2))[None]
    var = rn2 + mean / gain
    var[0, 7, :] *= 0.9  # non-linearity above the limit must not matter
    npix = np.full(mean.shape, 1000)
    fit = fit_ptc(mean, var, npix, np.array([1000, 1000]), summed_limit=14000)
    assert fit.npoints.tolist() == [[6, 6]]
    np.testing.assert_allclose(fit.gain[0], gain)
    np.testing.assert_allclose(fit.intercept[0], rn2)
    np.testing.assert_allclose(fit.read_noise[0], np.sqrt(rn2 / 2))
    few = fit_ptc(mean, var, npix, np.array([1000, 1000]), summed_limit=5000)
    assert (few.flags & FLAG_FEW_POINTS).all() and np.isnan(few.gain).all()


def _unit(v):
    return (v - v.mean()) / v.std()


def test_first_pair_rules_reproduce_report_table5():
    """Report Table 5: map#2-map#1 vs map#4-map#3 means and stds; B1, A1, BLONG kept, the rest dropped."""
    table5 = {"A1": (0.007, 0.021, 0.007, 0.019, True), "A3": (0.087, 0.043, 0.002, 0.023, False),
              "B1": (0.018, 0.024, 0.004, 0.023, True), "B4": (0.035, 0.024, 0.005, 0.021, False),
              "BLONG": (0.002, 0.020, 0.002, 0.020, True), "B2": (0.057, 0.045, 0.002, 0.023, False)}
    rng = np.random.default_rng(5)
    nbox = 64
    for det, (m21, s21, m43, s43, kept) in table5.items():
        base = 2.3 + rng.normal(0, 0.02, nbox)
        z = lambda: rng.standard_normal(nbox)  # noqa: E731
        maps = np.empty((5, nbox))
        maps[2] = base
        maps[3] = base + m43 + s43 * _unit(z())
        maps[1] = base + 0.001 * z()
        maps[0] = maps[1] - m21 - s21 * _unit(z())
        maps[4] = base
        check = check_first_pair(maps, "auto")
        assert check.used == kept, (det, check.reason)
    assert check_first_pair(maps, "keep").used and not check_first_pair(maps, "drop").used


def test_map_uncertainty_matches_injected_noise():
    rng = np.random.default_rng(2)
    nbox, npairs = 400, 4
    npix = rng.choice([16384, 65536], nbox)
    truth = 2.2 + 0.03 * rng.standard_normal(nbox)
    sigma = 5.0 / np.sqrt(npix)  # 1/sqrt(pixels), as photon statistics give
    gains = truth + sigma * rng.standard_normal((npairs, nbox))
    check = check_first_pair(gains, "keep")
    maps = combine_pairs(gains, npix, check)
    assert maps.unit_scatter == pytest.approx(5.0, rel=0.08)
    pull = (maps.mean_gain - truth) / maps.mean_err
    assert 0.85 < np.std(pull) < 1.15
    assert np.median(maps.scatter_err / maps.mean_err) == pytest.approx(1.0, rel=0.15)
