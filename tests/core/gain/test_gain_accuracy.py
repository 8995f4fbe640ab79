"""The gain engine against injected truth on simulated full-frame data (issue: Gain engine, item 8).

Data: NRCB1 layout with sector gains spanning 2.0-2.4 e-/ADU, the report's B1 IPC kernel,
non-linearity, read noise, kTC, unflagged dead and hot pixels (half of them are not in the
MASK file) and an epoxy void 5% low. 12 integrations (6 pairs) of 9 groups with 700 ADU per
group put 7 points below the 5,000 ADU limit: a sector is then measured to ~0.07%, so the
0.25% bound is a 3.5-sigma test, not a coin toss.
"""

import json

import numpy as np
import pytest
from astropy.io import fits

from nircam_gui.core.gain.run import GainOptions, run_gain
from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats


def _options(sim, **kw):
    r = sim.references
    kw.setdefault("box", 256)
    return GainOptions(regions=str(sim.regions), ipc="deconvolve", ipc_kernel=str(r["IPC"]),
                       superbias=str(r["SUPERBIAS"]), linearity=str(r["LINEARITY"]),
                       saturation=str(r["SATURATION"]), mask=str(r["MASK"]), **kw)


@pytest.fixture(scope="module")
def full_frame(tmp_path_factory):
    cfg = FlatSimConfig(detector="NRCB1", size=2048, nints=12, ngroups=9, adu_per_group=700.0, seed=2024,
                        sector_gains=(2.02, 2.15, 2.28, 2.40))
    sim = simulate_flats(tmp_path_factory.mktemp("ff"), cfg)
    return sim, run_gain(sim.ramps, _options(sim))


def _truth(sim):
    return {(s["amp"], s["region"]): s["gain"] for s in json.loads(sim.truth_json.read_text())["sector_gains"]}


def test_sector_gains_within_quarter_percent(full_frame):
    sim, res = full_frame
    truth = _truth(sim)
    assert {(int(r["amp"]), str(r["region"])) for r in res.sectors} == set(truth)
    for row in res.sectors:
        rel = row["gain"] / truth[(row["amp"], row["region"])] - 1
        bound = 0.0025 if row["region"] == "normal" else 0.005
        assert abs(rel) < bound, f"amp {row['amp']} {row['region']}: {100 * rel:+.3f}%"


def test_uncertainties_are_honest(full_frame):
    """(measured - truth) / uncertainty over boxes has a spread between 0.7 and 1.4."""
    sim, res = full_frame
    tgain = fits.getdata(sim.truth_fits, "GAIN")
    lab = res.boxes.labels
    truth_box = np.bincount(lab.ravel(), weights=tgain.ravel())[1:] / np.bincount(lab.ravel())[1:]
    pull = (res.maps.mean_gain - truth_box) / res.maps.mean_err
    assert np.isfinite(pull).all()
    assert 0.7 < np.std(pull) < 1.4
    # the report's map-difference estimate and the scatter of the pair values agree
    assert 0.8 < np.median(res.maps.scatter_err / res.maps.mean_err) < 1.25


def test_stable_first_pair_is_kept_and_all_fits_are_clean(full_frame):
    _, res = full_frame
    assert res.maps.pair_used.all()
    assert not res.maps.first_pair.anomalous
    assert (res.fit.flags == 0).all()
    # 7 points below the limit, 6 where the 4% illumination gradient lifts the signal
    assert set(np.unique(res.fit.npoints)) <= {6, 7} and np.median(res.fit.npoints) == 7


def test_without_clipping_correction_gains_would_be_3_percent_high(full_frame):
    _, res = full_frame
    from nircam_gui.core.gain.ptcfit import fit_ptc

    raw = fit_ptc(res.ptc.mean, res.ptc.variance_raw, res.ptc.npix_diff, np.asarray(res.boxes.table["npix"]),
                  2 * res.signal_limit)
    ratio = np.nanmedian(raw.gain / res.fit.gain)
    assert ratio == pytest.approx(1 / 0.96992, rel=2e-3)


def test_anomalous_first_pair_is_dropped(tmp_path):
    cfg = FlatSimConfig(detector="NRCA4", size=1024, nints=8, ngroups=6, seed=77, first_pair_anomaly=0.003,
                        first_int_flux_step=-0.01)
    sim = simulate_flats(tmp_path, cfg)
    res = run_gain(sim.ramps, _options(sim, box=128))
    assert res.maps.first_pair.anomalous, res.maps.first_pair.reason
    assert not res.maps.pair_used[0] and res.maps.pair_used[1:].all()
    # pair 1 reads several per cent low, as the report's Table 5 detectors did
    assert np.nanmean(res.maps.pair_gain[0] / res.maps.mean_gain) < 0.97
    kept = run_gain(sim.ramps, _options(sim, box=128, first_pair="keep"))
    assert kept.maps.pair_used.all()


def test_apparent_sector_gains_match_truth_without_ipc(full_frame):
    """The GAIN reference file's convention: the injected gain / the simulator's IPC variance factor."""
    from nircam_gui.core.gain.products import sectors_table

    sim, res = full_frame
    truth = _truth(sim)
    s_true = json.loads(sim.truth_json.read_text())["ipc_variance_factor"]
    for row in sectors_table(res):
        rel = row["gain_apparent"] / (truth[(row["amp"], row["region"])] / s_true) - 1
        bound = 0.0025 if row["region"] == "normal" else 0.005
        assert abs(rel) < bound, f"amp {row['amp']} {row['region']}: {100 * rel:+.3f}%"


@pytest.mark.slow
def test_without_superbias_sector_gains_agree_within_a_tenth_percent(full_frame):
    """Without a SUPERBIAS the bias is estimated from the ramps (2 read0 - read1), not taken as the first
    read (which made group 0 an exact (0, 0) point and the gains 1-1.6% low)."""
    sim, res = full_frame
    opts = _options(sim)
    opts.superbias = None
    nosb = run_gain(sim.ramps, opts)
    assert any("bias was estimated" in n for n in nosb.maps.notes)
    assert nosb.ptc.mean[:, 0].min() > 0.5 * res.ptc.mean[:, 0].min()  # group 0 keeps its frame of signal
    for a, b in zip(res.sectors, nosb.sectors):
        rel = b["gain"] / a["gain"] - 1
        assert abs(rel) < 0.001, f"amp {a['amp']} {a['region']}: {100 * rel:+.3f}%"
