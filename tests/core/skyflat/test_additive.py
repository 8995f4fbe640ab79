"""Additive scattered light kept out of the delta flats, against injected truth (wisps and claws)."""

import json

import numpy as np
import pytest
from astropy.io import fits

from nircam_gui.core.errors import NircamFileError
from nircam_gui.core.progress import Reporter
from nircam_gui.core.simulate.images import CalSimConfig, simulate_cal_images
from nircam_gui.core.simulate.scattered_light import claw_image, wisp_template
from nircam_gui.core.skyflat.additive import check_templates, fit_additive, read_templates, separate_additive
from nircam_gui.core.skyflat.analysis import separate_detector_additive
from nircam_gui.core.skyflat.combine import combine_stack
from nircam_gui.core.skyflat.inputs import check_inputs
from nircam_gui.core.skyflat.largescale import bin_image
from nircam_gui.core.skyflat.options import SkyflatOptions
from nircam_gui.core.skyflat.stack import build_stack


def _grid_stack(n=12, shape=(64, 64), wisp=True, claws=(), seed=0, noise=0.002):
    """Block-grid images Y_i = c_i D_f (1 + a_i T) + noise (two filters), and the truth."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:shape[0], 0:shape[1]] / shape[0]
    D = 1 + 0.03 * (x - 0.5) - 0.02 * (y - 0.5) ** 2
    T = wisp_template(shape[0], "NRCA4") if wisp else np.zeros(shape)
    a = np.exp(np.linspace(np.log(0.04), np.log(0.12), n))
    rng.shuffle(a)
    groups = [i % 2 for i in range(n)]
    c = 1 / (1 + 0.3 * a)
    Y = np.empty((n, *shape))
    for i in range(n):
        Y[i] = c[i] * D * (1 + 0.01 * groups[i] * x) * (1 + a[i] * T) + noise * rng.standard_normal(shape)
        if i in claws:
            Y[i] += c[i] * D * claw_image(rng, shape[0], 0.05)
    return Y.astype(np.float32), groups, D, T, a


def test_rank_one_fit_recovers_template_amplitudes_and_zero_point():
    Y, groups, D, T, a = _grid_stack()
    fit = fit_additive(Y, groups)
    assert fit["z"] > 8 and fit["coherence"] > 0.3
    r = np.corrcoef(fit["T"].ravel(), T.ravel())[0, 1]
    assert r > 0.98
    # the additive light of every image, absolute (zero point from the smooth-flat prior):
    # (1 + a T) / (1 - k T) in the fitted model
    k = fit["zero_points"][groups]
    area = T > 0.05
    for i in range(len(Y)):
        err = ((1 + fit["a"][i] * fit["T"]) / (1 - k[i] * fit["T"]) - 1 - a[i] * T)[area]
        assert np.sqrt(np.mean(err ** 2)) < 0.004 and abs(np.mean(err)) < 0.002, i
    # the flat under the wisp is the smooth one, not flat + a constant times the wisp
    flat = fit["D"][0] / np.median(fit["D"][0])
    assert np.sqrt(np.mean((flat / (D / np.median(D)) - 1) ** 2)) < 0.002


def test_noise_alone_is_not_taken_for_a_wisp():
    Y, groups, *_ = _grid_stack(wisp=False, seed=4)
    data = np.repeat(np.repeat(Y, 4, 1), 4, 2)
    before = data.copy()
    res, fit = separate_additive(data, [f"f{i}" for i in range(len(Y))], ["A" if g else "B" for g in groups], bin=4)
    assert not res.detected
    assert np.all(res.amplitudes == 0) and not np.any(res.template)
    np.testing.assert_array_equal(data, before)


def test_claws_are_rejected_in_their_images_only():
    Y, groups, D, T, a = _grid_stack(wisp=False, claws=(3, 8), seed=2)
    fit = fit_additive(Y, groups)
    flagged = fit["flags"].reshape(len(Y), -1).any(1)
    assert flagged[3] and flagged[8]
    assert flagged.sum() == 2


def test_template_files_are_checked(tmp_path):
    good = tmp_path / "wisp_a4.fits"
    h = fits.PrimaryHDU(wisp_template(64, "NRCA4"))
    h.header["DETECTOR"] = "A4"
    h.writeto(good)
    assert list(read_templates([good])) == ["NRCA4"]
    empty = tmp_path / "empty.fits"
    fits.PrimaryHDU(np.zeros((64, 64), np.float32)).writeto(empty)
    with pytest.raises(NircamFileError, match="empty"):
        read_templates([empty])
    table = tmp_path / "table.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns([fits.Column("a", "E", array=[1.0])])]).writeto(table)
    with pytest.raises(NircamFileError, match="no 2-D image"):
        read_templates([table])
    with pytest.raises(NircamFileError, match="second template"):
        read_templates([good, good])


def test_templates_are_matched_to_the_run(tmp_path):
    def write(name, det, size=64):
        h = fits.PrimaryHDU(wisp_template(size, "NRCA4"))
        if det:
            h.header["DETECTOR"] = det
        h.writeto(tmp_path / name)
        return tmp_path / name

    a4, b3, anyd = write("a4.fits", "A4"), write("b3.fits", "NRCB3"), write("any.fits", "", 32)
    assert set(check_templates([a4], {"NRCA4": (64, 64), "NRCA3": (64, 64)})) == {"NRCA4"}
    with pytest.raises(NircamFileError, match=r"b3.fits: .*NRCB3.*NRCA3, NRCA4"):
        check_templates([a4, b3], {"NRCA4": (64, 64), "NRCA3": (64, 64)})
    with pytest.raises(NircamFileError, match=r"a4.fits: template of shape \(64, 64\), the NRCA4 images are 32x32"):
        check_templates([a4], {"NRCA4": (32, 32)})
    # a template without DETECTOR serves the detectors that have no template of their own
    assert set(check_templates([a4, anyd], {"NRCA4": (64, 64)})) == {"NRCA4", ""}
    with pytest.raises(NircamFileError, match=r"any.fits: .*NRCA3 images are 64x64"):
        check_templates([a4, anyd], {"NRCA4": (64, 64), "NRCA3": (64, 64)})


def _truth(sim):
    with fits.open(sim.truth_fits[0]) as t:
        arrays = {h.name: np.array(h.data) for h in t[1:]}
    return arrays, json.loads(open(sim.truth_json[0]).read())


def _rms(a, truth, area, bin):
    """rms of a / truth - 1 over the bins inside ``area``, both normalised to median 1 over the detector."""
    ma, mt = bin_image(a, bin)[0], bin_image(truth, bin)[0]
    inside = bin_image(area.astype(np.float32), bin)[0] > 0.5
    r = ma / mt
    r = r / np.nanmedian(r)
    ok = inside & np.isfinite(r)
    return float(np.sqrt(np.mean((r[ok] - 1) ** 2)))


def _plain_and_separate(sim, bin, template=None):
    """One stack: the report's combine, then the separation (with its re-masking) and the combine again."""
    inputs = check_inputs([sim.outdir])
    (name, metas), = inputs.by_detector.items()
    opt = SkyflatOptions(additive_bin=bin)
    stack = build_stack(name, metas, opt, Reporter(len(metas)), block_bin=bin)
    plain = combine_stack(stack.data).median
    warnings = []
    res = separate_detector_additive(name, metas, stack, opt, template, "given" if template is not None else "fitted",
                                     warnings)
    assert not warnings
    return metas, plain, combine_stack(stack.data).median, res, stack


@pytest.mark.slow
def test_wisp_is_kept_out_of_the_grey_delta_flat(tmp_path_factory):
    """20 full frames, wisps 3x apart in strength within each filter (the issue's accuracy set)."""
    cfg = CalSimConfig(detectors=("NRCA4",), filters=("F150W", "F200W"), n_images=10, size=2048, seed=20,
                       wisp=0.08, wisp_ratio=3.0)
    sim = simulate_cal_images(tmp_path_factory.mktemp("wisp"), cfg)
    arrays, doc = _truth(sim)
    metas, plain, corrected, res, _ = _plain_and_separate(sim, 16)
    area = arrays["WISP"] > 0.1
    truth = arrays["DELTA_GREY"]
    err_plain, err = _rms(plain, truth, area, 16), _rms(corrected, truth, area, 16)
    assert err < 0.003, err
    assert err_plain > 0.015, err_plain  # the report's method keeps the wisp in the flat
    ref = np.zeros(truth.shape, bool)
    ref[4:-4, 4:-4] = True
    assert np.corrcoef(res.template[ref], arrays["WISP"][ref])[0, 1] >= 0.9
    # amplitudes follow the injected ones (same order of images, template scale aside)
    true_amp = {r["file"]: r["wisp_amplitude"] for r in doc["images"]}
    t = np.array([true_amp[m.path.split("/")[-1]] for m in metas])
    assert np.corrcoef(res.amplitudes, t)[0, 1] > 0.99
    assert res.amplitudes.max() / res.amplitudes.min() > 2.5
    # the source mask no longer takes the wisp's ridges in the images where it is strong
    assert len(res.remasked) >= 10
    # away from the wisp the correction adds nothing
    away = ref & (arrays["WISP"] == 0)
    assert _rms(corrected, truth, away, 16) < 1.1 * _rms(plain, truth, away, 16) + 2e-4


@pytest.mark.slow
def test_claws_are_kept_out_of_the_delta_flat(tmp_path_factory):
    """Claws in 2 of 10 images (1024 px frames)."""
    cfg = CalSimConfig(detectors=("NRCA4",), filters=("F200W",), n_images=10, size=1024, seed=21, claws=2,
                       claw_amplitude=0.1)
    sim = simulate_cal_images(tmp_path_factory.mktemp("claws"), cfg)
    arrays, doc = _truth(sim)
    metas, plain, corrected, res, stack = _plain_and_separate(sim, 8)
    fell = (arrays["CLAWS"] > 0.005).any(0)
    truth = arrays["DELTA_GREY"]
    err_plain, err = _rms(plain, truth, fell, 8), _rms(corrected, truth, fell, 8)
    assert err < 0.003, (err, err_plain)
    assert err < err_plain
    with_claws = [r["file"] for r in doc["images"] if r["claws"]]
    flagged = {m.path.split("/")[-1] for m, f in zip(metas, res.flagged) if f}
    assert flagged and flagged <= set(with_claws)  # no image without claws loses regions
    # where a claw is bright (a quarter of its peak) its image is not used: rejected as a claw
    # region or already taken by the source mask
    names = [m.path.split("/")[-1] for m in metas]
    for k, f in enumerate(with_claws):
        bright = arrays["CLAWS"][k] > 0.025
        assert np.mean(np.isnan(stack.data[names.index(f)][bright])) > 0.9, f
