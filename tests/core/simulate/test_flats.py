"""The flat-field simulator writes valid JWST files whose statistics match the injected truth."""

import json

import numpy as np
import pytest
from astropy.stats import sigma_clipped_stats
from stdatamodels.jwst import datamodels as dm

from nircam_gui.core.detector import amplifier_bounds
from nircam_gui.core.ipc import apply_kernel, variance_factor
from nircam_gui.core.readers import read_metadata, open_ramp, open_reference
from nircam_gui.core.regionsio import read_polygons
from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("flats")
    cfg = FlatSimConfig(detector="NRCB1", size=1024, nints=4, ngroups=6, seed=11, first_pair_anomaly=0.004)
    return cfg, simulate_flats(out, cfg)


def test_files_are_valid_jwst(small_set):
    cfg, res = small_set
    assert len(res.ramps) == cfg.nints
    model = dm.open(res.ramps[0])
    assert type(model).__name__ == "Level1bModel"
    assert model.data.shape == (1, cfg.ngroups, cfg.size, cfg.size)
    assert model.data.dtype == np.uint16
    assert model.meta.instrument.detector == "NRCB1"
    assert model.meta.exposure.readpatt == "RAPID"
    assert dm.RampModel(res.ramps[0]).data.shape == (1, cfg.ngroups, cfg.size, cfg.size)
    for reftype, path in res.references.items():
        ref = dm.open(path)
        ref.validate()
        assert ref.meta.reftype == reftype
        assert open_reference(path, reftype).reftype == reftype
    dm.open(res.truth_gain).validate()


def test_uncal_is_a_level1b_file_the_pipeline_opens_by_name(small_set):
    """ASDF extension, GROUP and INT_TIMES tables, FILENAME and honest SUBARRAY; calwebb_detector1's
    first steps run on the file name, offline, with the simulated reference files."""
    from astropy.io import fits
    from jwst.pipeline import Detector1Pipeline

    from nircam_gui.core.calibrate.jwst_offline import offline_crds

    cfg, res = small_set
    path = res.ramps[1]
    with fits.open(path) as hdul:
        assert {"SCI", "GROUP", "INT_TIMES", "ASDF"} <= {h.name for h in hdul}
        h = hdul[0].header
        assert h["FILENAME"] == path.name
        assert (h["SUBARRAY"], h["SUBSIZE1"], h["SUBSIZE2"]) == ("GENERIC", cfg.size, cfg.size)
        group = hdul["GROUP"].data
        assert list(group["group_number"]) == list(range(1, cfg.ngroups + 1))
        assert hdul["INT_TIMES"].data["int_start_MJD_UTC"][0] == pytest.approx(h["EXPSTART"])
        raw = hdul["SCI"].data[0].astype(float)
    r = res.references
    steps = {s: {"skip": True} for s in ("group_scale", "emicorr", "ipc", "refpix", "linearity", "persistence",
                                         "dark_current", "charge_migration", "jump", "ramp_fit", "gain_scale",
                                         "clean_flicker_noise", "reset", "rscd", "firstframe", "lastframe")}
    steps["dq_init"] = {"override_mask": str(r["MASK"])}
    steps["saturation"] = {"override_saturation": str(r["SATURATION"]), "override_superbias": str(r["SUPERBIAS"])}
    steps["superbias"] = {"override_superbias": str(r["SUPERBIAS"])}
    with offline_crds():
        out = Detector1Pipeline.call(str(path), steps=steps, save_results=False)
    assert (out.meta.cal_step.dq_init, out.meta.cal_step.saturation, out.meta.cal_step.superbias) == \
        ("COMPLETE",) * 3
    bias = fits.getdata(r["SUPERBIAS"], "SCI").astype(float)
    np.testing.assert_allclose(out.data[0, 2, 100:110, 100:110], raw[2, 100:110, 100:110] - bias[100:110, 100:110],
                               atol=1e-3)
    assert (out.pixeldq != 0).any()  # the MASK's flags arrived


def test_metadata_and_start_times_increase(small_set):
    cfg, res = small_set
    metas = [read_metadata(p) for p in res.ramps]
    assert all(m.detector == "NRCB1" and m.ngroups == cfg.ngroups and m.is_full_frame for m in metas)
    starts = [m.start_mjd for m in metas]
    assert np.all(np.diff(starts) > 0)


def test_epoxy_void_region_matches_truth(small_set):
    cfg, res = small_set
    truth = json.loads(res.truth_json.read_text())
    polys = read_polygons(res.regions)
    assert len(polys) == 1
    np.testing.assert_allclose(polys[0], np.array(truth["epoxy_void_polygon_xy0"]), atol=1e-4)


def _calibrate(res, ramp_path, groups):
    """Minimal truth-informed calibration (test only): bias, even/odd, linearity, IPC."""
    sb = open_reference(res.references["SUPERBIAS"]).data
    coeffs = open_reference(res.references["LINEARITY"]).coeffs
    kc = open_reference(res.references["IPC"]).data
    with open_ramp(ramp_path) as ramp:
        data = ramp.read_groups(0, 0, groups).astype(np.float64) - sb
    n = data.shape[-1]
    for x0, x1 in amplifier_bounds(n):
        for parity in (0, 1):
            cols = slice(x0 + parity, x1, 2)
            refrows = np.concatenate([data[:, :4, cols], data[:, -4:, cols]], axis=1)
            data[:, :, cols] -= np.median(refrows, axis=(1, 2))[:, None, None]
    def linearize(d):
        return sum(coeffs[i] * d**i for i in range(coeffs.shape[0]))

    # the report's order: IPC removal before the linearity correction
    return linearize(data), linearize(np.stack([apply_kernel(g, kc) for g in data]))


def _ptc_gain(a, b, sel):
    means, variances = [], []
    for g in range(a.shape[0]):
        m, _, _ = sigma_clipped_stats((a[g] + b[g])[sel], sigma=3, maxiters=None)
        _, _, s = sigma_clipped_stats((a[g] - b[g])[sel], sigma=3, maxiters=None)
        means.append(m)
        variances.append(s**2 / 0.9699)  # converged 3-sigma clipping keeps 0.9699 of a Gaussian variance
    slope = np.polyfit(means, variances, 1)[0]
    return 1.0 / slope


def test_ptc_recovers_injected_gain_and_ipc(small_set):
    """A PTC through the data returns the true gain; without IPC removal, gain / variance factor."""
    cfg, res = small_set
    truth = json.loads(res.truth_json.read_text())
    from astropy.io import fits

    void = fits.getdata(res.truth_fits, "VOID").astype(bool)
    raw3, ipc3 = _calibrate(res, res.ramps[2], 5)
    raw4, ipc4 = _calibrate(res, res.ramps[3], 5)
    x0, x1 = amplifier_bounds(cfg.size)[0]
    sel = np.zeros(void.shape, bool)
    sel[8:-8, x0 + 8 : x1 - 8] = True
    sel &= ~void
    true_gain = next(s["gain"] for s in truth["sector_gains"] if s["amp"] == 1 and s["region"] == "normal")
    g_ipc = _ptc_gain(ipc3, ipc4, sel)
    g_raw = _ptc_gain(raw3, raw4, sel)
    # 250k pixels x 5 groups: ~0.5% statistical error per pair
    assert g_ipc == pytest.approx(true_gain, rel=0.02)
    vf = variance_factor(np.array(truth["ipc_physical_kernel"]))
    assert g_raw * vf == pytest.approx(true_gain, rel=0.02)
    assert g_raw / g_ipc == pytest.approx(1 / vf, rel=0.01)  # ~5% apart, as the report found


def test_anomalous_first_pair_has_excess_variance(small_set):
    cfg, res = small_set
    a1, _ = _calibrate(res, res.ramps[0], 5)
    a2, _ = _calibrate(res, res.ramps[1], 5)
    a3, _ = _calibrate(res, res.ramps[2], 5)
    a4, _ = _calibrate(res, res.ramps[3], 5)
    s = (slice(16, -16), slice(16, 240))
    v12 = np.var((a1[4] - a2[4])[s])
    v34 = np.var((a3[4] - a4[4])[s])
    # (0.004 * ~5,400 ADU)^2 = 470 ADU^2 on top of ~4,800: about 10% more variance
    assert v12 / v34 > 1.05


def test_even_odd_and_linearity_truth(small_set):
    cfg, res = small_set
    truth = json.loads(res.truth_json.read_text())
    sb = open_reference(res.references["SUPERBIAS"]).data
    with open_ramp(res.ramps[1]) as ramp:
        g0 = ramp.read_group(0, 0).astype(float) - sb
    x0, x1 = amplifier_bounds(cfg.size)[2]
    even = np.median(g0[:4, x0:x1:2])
    odd = np.median(g0[:4, x0 + 1 : x1 : 2])
    eo = np.array(truth["evenodd_offsets_adu"])[1, 2]
    drift0 = np.array(truth["drift_adu"])[1, 0, 2]
    # reference rows see superbias-subtracted bias only: the injected offsets + drift (+kTC, read noise)
    assert even == pytest.approx(eo[0] + drift0, abs=3)
    assert odd == pytest.approx(eo[1] + drift0, abs=3)
    assert abs(even - odd) > 700  # the report's ~1,000 ADU even/odd effect

    lin, _ = _calibrate(res, res.ramps[1], cfg.ngroups)
    steps = np.diff(np.median(lin[:, 100:-100, 100:-100], axis=(1, 2)))
    np.testing.assert_allclose(steps, cfg.adu_per_group, rtol=0.01)


def test_ground_layout_reads_back_as_uncal(tmp_path):
    """Ground cubes are written in native orientation; the reader returns DMS, equal to the uncal data."""
    kw = dict(detector="NRCA1", size=128, nints=2, ngroups=3, seed=5)  # A1 has FASTAXIS=-1: flips matter
    a = simulate_flats(tmp_path / "u", FlatSimConfig(layout="uncal", **kw))
    b = simulate_flats(tmp_path / "g", FlatSimConfig(layout="ground", **kw))
    m = read_metadata(b.ramps[1])
    assert m.kind == "ground_ramp" and m.detector == "NRCA1" and m.orientation == "native"
    assert "_481_" in b.ramps[1].name
    with open_ramp(a.ramps[1]) as ra, open_ramp(b.ramps[1]) as rb:
        np.testing.assert_array_equal(ra.read_groups(0), rb.read_groups(0))


def test_multi_integration_layout(tmp_path):
    kw = dict(detector="NRCALONG", size=128, nints=3, ngroups=2, seed=5)
    a = simulate_flats(tmp_path / "u", FlatSimConfig(layout="uncal", **kw))
    b = simulate_flats(tmp_path / "m", FlatSimConfig(layout="uncal_multi", **kw))
    assert len(b.ramps) == 1
    with open_ramp(b.ramps[0]) as rb:
        assert rb.shape == (3, 2, 128, 128)
        for k in range(3):
            with open_ramp(a.ramps[k]) as ra:
                np.testing.assert_array_equal(ra.read_groups(0), rb.read_groups(k))


def test_same_seed_same_data_and_cancel_leaves_nothing(tmp_path):
    kw = dict(size=64, nints=2, ngroups=2, seed=9, threads=1)
    a = simulate_flats(tmp_path / "a", FlatSimConfig(**kw))
    b = simulate_flats(tmp_path / "b", FlatSimConfig(**kw))
    with open_ramp(a.ramps[1]) as ra, open_ramp(b.ramps[1]) as rb:
        np.testing.assert_array_equal(ra.read_groups(0), rb.read_groups(0))

    from nircam_gui.core.progress import Cancelled

    calls = []
    with pytest.raises(Cancelled):
        simulate_flats(tmp_path / "c", FlatSimConfig(**kw), cancel=lambda: len(calls) > 1,
                       progress=lambda f, m: calls.append(f))
    assert not list((tmp_path / "c").glob("*.fits")) and not list((tmp_path / "c").glob(".*part*"))


def test_bad_config_is_refused():
    with pytest.raises(KeyError, match="unknown NIRCam detector"):
        FlatSimConfig(detector="NRCC9")
    with pytest.raises(ValueError, match="layout"):
        FlatSimConfig(layout="zip")
