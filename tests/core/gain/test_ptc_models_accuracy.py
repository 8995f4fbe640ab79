"""The two PTC models against injected truth: brighter-fatter effect, IPC in the void, 1/f noise.

Small frames keep CI short, so the BFE here has the strength of 10 um pixels (a00 = -2.6e-6
/e-, ten times the simulator's NIRCam default): the linear model then reads ~3% high at
the report's 5,000 ADU limit and ~9% at 15,000, far outside what the covariance model must
meet, so a wrong model fails. The full-frame numbers at NIRCam strength come from
``benchmarks/validate_ptc_models.py``.
"""

import json

import numpy as np
import pytest

from nircam_gui.core.gain.covfit import ipc_coupling, solve_covariance_model
from nircam_gui.core.gain.run import GainOptions, run_gain
from nircam_gui.core.gain.maps import check_first_pair, combine_pairs, sector_table
from nircam_gui.core.gain.ptcfit import fit_ptc
from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats


GAINS = (2.02, 2.15, 2.28, 2.40)


def _options(sim, **kw):
    r = sim.references
    return GainOptions(regions=str(sim.regions), ipc_kernel=str(r["IPC"]), superbias=str(r["SUPERBIAS"]),
                       linearity=str(r["LINEARITY"]), saturation=str(r["SATURATION"]), mask=str(r["MASK"]), **kw)


def _truth(sim):
    return json.loads(sim.truth_json.read_text())


def _sector_truth(sim):
    return {(s["amp"], s["region"]): s["gain"] for s in _truth(sim)["sector_gains"]}


def _sectors(res, gains):
    npix = np.asarray(res.boxes.table["npix"])
    maps = combine_pairs(gains, npix, check_first_pair(gains, "keep"))
    return {(int(r["amp"]), str(r["region"])): float(r["gain"]) for r in sector_table(res.boxes.table, maps)}


def _at_cap(res, cap):
    npix = np.asarray(res.boxes.table["npix"])
    lin = fit_ptc(res.ptc.mean, res.ptc.variance, res.ptc.npix_diff, npix, 2 * cap).gain * res.ipc_factor
    sol = solve_covariance_model(res.ptc.mean, res.ptc.variance, res.ptc.cov, res.ptc.npix_diff, res.boxes.table,
                                 cap=cap, ipc_factor=res.ipc_factor)
    return _sectors(res, lin), _sectors(res, sol.pair_gain)


@pytest.fixture(scope="module")
def strong_bfe(tmp_path_factory):
    cfg = FlatSimConfig(detector="NRCB1", size=512, nints=8, ngroups=26, seed=11, sector_gains=GAINS, bfe=True,
                        bfe_a00=-2.6e-6)
    sim = simulate_flats(tmp_path_factory.mktemp("bfe"), cfg)
    return sim, run_gain(sim.ramps, _options(sim, box=128, ptc_model="covariance"))


@pytest.mark.slow
def test_covariance_model_recovers_gain_where_the_line_rises(strong_bfe):
    sim, res = strong_bfe
    truth = _sector_truth(sim)
    linear_rise = []
    for cap in (5000.0, 10000.0, 15000.0):
        lin, cov = _at_cap(res, cap)
        dev = {k: round(100 * (g / truth[k] - 1), 3) for k, g in cov.items()}
        lin_dev = {k: round(100 * (g / truth[k] - 1), 3) for k, g in lin.items()}
        print(f"cap {cap:g}: covariance - truth (%) {dev}; linear {lin_dev}")
        for key, d in dev.items():
            # a normal sector here holds ~60k pixels, its model gain is good to ~0.4% (1 sigma); the
            # epoxy-void sectors hold a few thousand
            assert abs(d) < (1.2 if key[1] == "normal" else 3.0), f"cap {cap:g}: {dev}"
        rel_cov = np.mean([g / truth[k] - 1 for k, g in cov.items() if k[1] == "normal"])
        rel_lin = np.mean([g / truth[k] - 1 for k, g in lin.items() if k[1] == "normal"])
        assert abs(rel_cov) < 0.004
        linear_rise.append(rel_lin)
    # the straight line reads high and rises with the cap, as report Table 3 (and ten times more)
    assert linear_rise[0] > 0.02
    assert linear_rise[1] - linear_rise[0] > 0.015 and linear_rise[2] - linear_rise[1] > 0.015


@pytest.mark.slow
def test_a_matrix_per_amplifier(strong_bfe):
    sim, res = strong_bfe
    a_true = np.array(_truth(sim)["bfe"]["a_matrix"])
    fits = [f for f in res.covariance.fits if f.label.startswith("amp")]
    assert len(fits) == 4
    for f in fits:
        assert f.a[0, 0] / a_true[0, 0] == pytest.approx(1, abs=0.15), f.label
        assert f.a[0, 1] / a_true[0, 1] == pytest.approx(1, abs=0.25), f.label
    print("a00, a10, a01 / truth:", [(f.label, round(f.a[0, 0] / a_true[0, 0], 3), round(f.a[0, 1] / a_true[0, 1], 3),
                                       round(f.a[1, 0] / a_true[1, 0], 3)) for f in fits])
    mean_a = np.mean([f.a for f in fits], axis=0)
    assert mean_a[0, 0] / a_true[0, 0] == pytest.approx(1, abs=0.08)
    assert mean_a[0, 1] / a_true[0, 1] == pytest.approx(1, abs=0.15)
    assert mean_a[1, 0] / a_true[1, 0] == pytest.approx(1, abs=0.15)
    # the run's own maps are the covariance model's (the data never turn over: no turnoff)
    assert res.maps is res.model_maps["covariance"]
    assert (res.covariance.turnoff_group == res.ptc.mean.shape[1] - 1).all()


@pytest.fixture(scope="module")
def no_bfe(tmp_path_factory):
    """No BFE, IPC 0.8 times weaker in the void; the same photons again with 1/f and ACN noise."""
    kw = dict(detector="NRCB1", size=1024, nints=8, ngroups=12, seed=12, sector_gains=GAINS, void_ipc_scale=0.8)
    sim = simulate_flats(tmp_path_factory.mktemp("plain"), FlatSimConfig(**kw))
    noisy = simulate_flats(tmp_path_factory.mktemp("noisy"), FlatSimConfig(**kw, one_over_f_rms=2.0, acn_rms=0.5))
    opts = dict(box=256, ptc_model="covariance", signal_limit=5000.0)
    return (sim, run_gain(sim.ramps, _options(sim, ipc="deconvolve", **opts)),
            run_gain(sim.ramps, _options(sim, ipc="none", **opts)),
            run_gain(noisy.ramps, _options(noisy, ipc="deconvolve", **opts)))


@pytest.mark.slow
def test_without_bfe_both_models_agree_and_meet_truth(no_bfe):
    sim, res, _, _ = no_bfe
    truth = _sector_truth(sim)
    lin = {(int(r["amp"]), str(r["region"])): float(r["gain"]) for r in res.model_sectors["linear"]}
    cov = {(int(r["amp"]), str(r["region"])): float(r["gain"]) for r in res.model_sectors["covariance"]}
    dev = {k: (round(100 * (cov[k] / lin[k] - 1), 3), round(100 * (lin[k] / truth[k] - 1), 3),
               round(100 * (cov[k] / truth[k] - 1), 3)) for k in lin}
    print("no BFE: (cov/lin, lin/truth, cov/truth) - 1 in %", dev)
    for key, (d_models, d_lin, d_cov) in dev.items():
        # at 1/4 of a full frame the a-matrix error moves the zero-signal gain by ~0.1% (1 sigma)
        assert abs(d_models) < (0.35 if key[1] == "normal" else 1.0), dev
        if key[1] == "normal":
            assert abs(d_lin) < 0.5 and abs(d_cov) < 0.5, dev
    for f in res.covariance.fits:
        assert abs(f.a[0, 0]) < 3 * f.a_err[0, 0] + 2e-8, f.label


@pytest.mark.slow
def test_ipc_coupling_inside_and_outside_the_void(no_bfe):
    sim, _, raw, _ = no_bfe
    truth = _truth(sim)["ipc_coupling"]
    reg = np.asarray(raw.boxes.table["region"])
    npix = np.asarray(raw.boxes.table["npix"])
    got, pulls = {}, {}
    for region in ("normal", "epoxy"):
        quad = np.flatnonzero(reg == "normal") if region == "epoxy" else None
        c = ipc_coupling(raw.ptc.mean, raw.ptc.cov, np.flatnonzero(reg == region), npix, quadratic_boxes=quad)
        assert c["npairs"] == 4
        got.update({(region, axis): round(c[axis] / truth[region][axis] - 1, 3) for axis in ("x", "y")})
        pulls.update({(region, axis): (c[axis] - truth[region][axis]) / c[f"{axis}_err"] for axis in ("x", "y")})
    # the void holds ~30k pixels here: its lag-1 slopes are good to ~30%, the normal region's to ~10%
    # (full frame: see benchmarks/validate_ptc_models.py); the void must still read lower than outside
    print("IPC coupling / truth - 1:", got, "pulls:", pulls)
    for (region, axis), d in got.items():
        assert abs(d) < (0.1 if region == "normal" else 0.5), got
    # the errors (the weighted fit's, whose pulls have unit spread over simulated seeds) say how far
    # off the values are
    for key, pull in pulls.items():
        assert abs(pull) < 3.0, pulls
    c_in = ipc_coupling(raw.ptc.mean, raw.ptc.cov, np.flatnonzero(reg == "epoxy"), npix,
                        quadratic_boxes=np.flatnonzero(reg == "normal"))
    c_out = ipc_coupling(raw.ptc.mean, raw.ptc.cov, np.flatnonzero(reg == "normal"), npix)
    assert c_in["x"] + c_in["y"] < c_out["x"] + c_out["y"]


@pytest.mark.slow
def test_one_over_f_and_acn_do_not_move_the_gains(no_bfe):
    _, res, _, noisy = no_bfe
    for model in ("linear", "covariance"):
        a = {(int(r["amp"]), str(r["region"])): float(r["gain"]) for r in res.model_sectors[model]}
        b = {(int(r["amp"]), str(r["region"])): float(r["gain"]) for r in noisy.model_sectors[model]}
        moved = {k: round(100 * (b[k] / a[k] - 1), 3) for k in a}
        print(f"1/f + ACN, {model}: change (%) {moved}")
        for key, d in moved.items():
            assert abs(d) < (0.1 if key[1] == "normal" else 0.3), (model, moved)


def test_turnoff_found_before_saturation(tmp_path):
    """Ramps that run into full well: each box is fitted up to its turnoff, which sits below the
    groups where pixels saturate; the straight line at 5,000 ADU has too few groups to fit at all."""
    cfg = FlatSimConfig(detector="NRCB1", size=256, nints=4, ngroups=20, adu_per_group=2600.0, seed=21,
                        sector_gains=GAINS)
    sim = simulate_flats(tmp_path, cfg)
    res = run_gain(sim.ramps, _options(sim, box=64, ptc_model="covariance"))
    assert "linear" not in res.model_maps and any("linear model has no gain" in w for w in res.warnings)
    sol = res.covariance
    npix = np.nanmean(res.ptc.npix_diff, axis=0)  # (ngroups, nbox)
    for b, g in enumerate(sol.turnoff_group):
        assert 8 <= g < res.ptc.mean.shape[1] - 1
        assert npix[g, b] >= 0.99 * np.nanmax(npix[:, b])  # no pixel lost to saturation yet
        assert npix[g + 1:, b].min() < 0.99 * np.nanmax(npix[:, b]) or not np.isfinite(npix[g + 1:, b]).all()
    truth = _sector_truth(sim)
    dev = {(int(r["amp"]), str(r["region"])): round(100 * (r["gain"] / truth[(r["amp"], r["region"])] - 1), 2)
           for r in res.sectors}
    # 2 pairs of 256x256: the a-matrix of ~30k pixels leaves ~1% on a sector (the void pieces
    # here hold a few hundred pixels: not tested)
    assert all(abs(d) < 2.5 for k, d in dev.items() if k[1] == "normal"), str(dev)
