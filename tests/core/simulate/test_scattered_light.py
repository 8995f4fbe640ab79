"""Wisps and claws in the _cal simulator: where they are, how strong, and that the truth says so."""

import json

import numpy as np
import pytest
from astropy.io import fits

from nircam_gui.core.simulate.images import CalSimConfig, simulate_cal_images
from nircam_gui.core.simulate.scattered_light import claw_image, wisp_amplitudes, wisp_template

SIZE = 256


def test_wisp_template_sits_where_the_report_shows_it():
    for det, side in (("NRCA4", "bottom"), ("NRCB3", "bottom"), ("NRCA3", "top"), ("NRCB4", "top")):
        t = wisp_template(SIZE, det)
        assert t.max() == pytest.approx(1.0)
        rows = t.sum(axis=1)
        low, high = rows[: SIZE // 2].sum(), rows[SIZE // 2:].sum()
        assert (low > 5 * high) if side == "bottom" else (high > 5 * low), det
        # centred in x, zero far from its edge
        cols = t.sum(axis=0)
        assert abs(np.average(np.arange(SIZE), weights=cols) - SIZE / 2) < SIZE / 8
    assert wisp_template(2048, "NRCA4")[1800:].max() == 0


def test_amplitudes_span_the_ratio_and_follow_the_filter():
    rng = np.random.default_rng(1)
    a = wisp_amplitudes(rng, 10, 0.08, 3.0, "F200W")
    assert a.max() / a.min() == pytest.approx(3.0)
    assert np.median(a) == pytest.approx(0.08, rel=0.1)
    b = wisp_amplitudes(np.random.default_rng(1), 10, 0.08, 3.0, "F090W")
    assert b.max() < a.max()  # bluer: weaker (report section 3.5)


def test_claws_move_with_the_pointing():
    c1 = claw_image(np.random.default_rng(1), SIZE, 0.05)
    c2 = claw_image(np.random.default_rng(2), SIZE, 0.05)
    assert c1.max() == pytest.approx(0.05, rel=1e-5) and c2.max() == pytest.approx(0.05, rel=1e-5)
    m1, m2 = c1 > 0.005, c2 > 0.005
    assert 0.001 < m1.mean() < 0.2
    assert (m1 & m2).sum() < 0.5 * min(m1.sum(), m2.sum())


@pytest.fixture(scope="module")
def scattered(tmp_path_factory):
    out = tmp_path_factory.mktemp("scattered")
    cfg = CalSimConfig(detectors=("NRCA4",), filters=("F150W", "F200W"), n_images=4, size=SIZE, seed=3,
                       wisp=0.1, wisp_ratio=3.0, claws=2, claw_amplitude=0.08, n_stars=0, n_galaxies=0,
                       n_cosmic=0, noise=0.001, row_noise=0.0)
    plain = CalSimConfig(**{**cfg.__dict__, "wisp": 0.0, "claws": 0})
    return cfg, simulate_cal_images(out / "w", cfg), simulate_cal_images(out / "p", plain)


def test_truth_holds_template_amplitudes_and_claws(scattered):
    cfg, res, _ = scattered
    doc = json.loads(open(res.truth_json[0]).read())
    amps = [r["wisp_amplitude"] for r in doc["images"]]
    assert len(amps) == 8 and all(a > 0 for a in amps)
    assert sum(r["claws"] for r in doc["images"]) == 2
    with fits.open(res.truth_fits[0]) as t:
        assert t["WISP"].data.max() == pytest.approx(1.0)
        assert t["CLAWS"].data.shape == (2, SIZE, SIZE)
    with fits.open(res.outdir + "/truth/wisp_template_nrca4.fits") as t:
        assert t[0].header["DETECTOR"] == "NRCA4"
        np.testing.assert_array_equal(t[0].data, wisp_template(SIZE, "NRCA4"))


def test_images_carry_the_injected_light(scattered):
    cfg, res, plain = scattered
    doc = json.loads(open(res.truth_json[0]).read())
    with fits.open(res.truth_fits[0]) as t:
        wisp, delta = t["WISP"].data, t["DELTA_F150W"].data
        claws = t["CLAWS"].data
    k = 0
    for i, row in enumerate(doc["images"]):
        sky = row["sky"]
        with fits.open(res.cal_files[i]) as a, fits.open(plain.cal_files[i]) as b:
            extra = (a["SCI"].data - b["SCI"].data) / sky
        with fits.open(res.truth_fits[0]) as t:
            t_delta = t[f"DELTA_{row['filter']}"].data
        expect = row["wisp_amplitude"] * wisp * t_delta
        if row["claws"]:
            expect = expect + claws[k] * t_delta
            k += 1
        ok = np.isfinite(extra)
        # same noise draws in both sets: the difference is the scattered light through the flat
        assert np.max(np.abs(extra[ok] - expect[ok])) < 5e-3
    assert k == 2
