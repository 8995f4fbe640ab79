import json

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from stdatamodels.jwst import datamodels as dm

from nircam_gui.cli import gain as gain_cli
from nircam_gui.core.gain.run import GainOptions, run_gain
from nircam_gui.core.gain.products import read_ptc_points, write_gain_products
from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    sim = simulate_flats(tmp_path_factory.mktemp("sm"), FlatSimConfig(detector="NRCB4", size=512, nints=4,
                                                                      ngroups=6, seed=3))
    r = sim.references
    args = ["--box", "64", "--regions", str(sim.regions), "--ipc-kernel", str(r["IPC"]), "--superbias",
            str(r["SUPERBIAS"]), "--linearity", str(r["LINEARITY"]), "--saturation", str(r["SATURATION"]),
            "--mask", str(r["MASK"])]
    opts = GainOptions(box=64, regions=str(sim.regions), ipc_kernel=str(r["IPC"]), superbias=str(r["SUPERBIAS"]),
                       linearity=str(r["LINEARITY"]), saturation=str(r["SATURATION"]), mask=str(r["MASK"]))
    return sim, args, opts


def test_command_writes_every_product(small, tmp_path, capsys):
    sim, args, opts = small
    out = tmp_path / "out"
    before = {p: p.read_bytes() for p in sim.ramps}
    assert gain_cli.main([*map(str, sim.ramps), "-o", str(out), "-q", *args]) == 0
    assert "pairs used: [1, 2]" in capsys.readouterr().out
    names = {p.name for p in out.iterdir()}
    assert {"gain_map.fits", "boxes.ecsv", "sectors.ecsv", "pairs.ecsv", "ptc_points.fits", "provenance.json",
            "gain_map.png", "ptc_examples.png", "gain_hist.png"} <= names
    assert all(p.read_bytes() == b for p, b in before.items())  # inputs untouched

    model = dm.open(out / "gain_map.fits")
    model.validate()
    assert model.meta.reftype == "GAIN" and model.meta.instrument.detector == "NRCB4"
    assert any("clipping bias" in str(h) for h in model.history)
    dq = fits.getdata(out / "gain_mask.fits", "DQ")
    assert (dq[:4] != 0).all() and np.isfinite(model.data).all()

    boxes = Table.read(out / "boxes.ecsv")
    for col in ("box_id", "amp", "region", "npix", "xmin", "xmax", "ymin", "ymax", "gain", "gain_err",
                "read_noise", "n_pairs", "gain_pair1", "gain_pair2"):
        assert col in boxes.colnames
    assert set(boxes["region"]) == {"normal", "epoxy"}
    assert boxes.meta["clip_variance_factor"] == pytest.approx(0.96992, abs=1e-5)
    sectors = Table.read(out / "sectors.ecsv")
    assert set(sectors.colnames) >= {"amp", "region", "gain", "gain_err", "n_boxes"}
    pairs = Table.read(out / "pairs.ecsv")
    assert list(pairs["used"]) == [True, True] and "reason" in pairs.meta
    prov = json.loads((out / "provenance.json").read_text())
    assert len(prov["inputs"]) == 4 and all(len(i["sha256"]) == 64 for i in prov["inputs"])
    assert prov["options"]["box"] == 64 and "linearity" in json.dumps(prov["calibration"])

    # a box of the mean map in the GAIN file (apparent by default) equals the table
    row = boxes[len(boxes) // 2]
    assert model.data[row["ymin"] + 1, row["xmin"] + 1] == pytest.approx(row["gain_apparent"], rel=1e-6) or \
        fits.getdata(out / "box_labels.fits")[row["ymin"] + 1, row["xmin"] + 1] != row["box_id"]


def test_ptc_points_round_trip_equals_engine(small, tmp_path):
    sim, _, opts = small
    res = run_gain(sim.ramps, opts)
    write_gain_products(res, tmp_path, figures=False, checksums=False)
    pts = read_ptc_points(tmp_path / "ptc_points.fits")
    np.testing.assert_array_equal(pts["mean"], res.ptc.mean)
    np.testing.assert_array_equal(pts["variance"], res.ptc.variance)
    np.testing.assert_array_equal(pts["used"], res.fit.used)


def test_clear_errors(small, tmp_path, capsys):
    sim, args, _ = small
    assert gain_cli.main([str(sim.ramps[0]), "-o", str(tmp_path), "-q", *args]) == 1
    assert "at least two integrations" in capsys.readouterr().err
    assert gain_cli.main([str(sim.ramps[0]), "-o", str(tmp_path), "--ipc", "analytic"]) == 2
    assert "needs an IPC reference file" in capsys.readouterr().err
    bad = [a if a != str(sim.references["MASK"]) else str(sim.references["IPC"]) for a in args]
    assert gain_cli.main([*map(str, sim.ramps), "-o", str(tmp_path / "o2"), "-q", *bad]) == 1
    assert "is an IPC reference file, expected MASK" in capsys.readouterr().err


def test_covariance_products_read_back(small, tmp_path, capsys):
    """--ptc-model covariance: covariances.fits and bfe.ecsv re-read; both models' gains in the tables."""
    from nircam_gui.core.gain.products import read_covariances

    sim, args, _ = small
    out = tmp_path / "cov"
    assert gain_cli.main([*map(str, sim.ramps), "-o", str(out), "-q", "--no-figures", "--ptc-model", "covariance",
                          "--cov-lag", "2", *args]) == 0
    assert "covariance fit amp1" in capsys.readouterr().out
    cov = read_covariances(out / "covariances.fits")
    pts = read_ptc_points(out / "ptc_points.fits")
    assert cov["cov"].shape == pts["variance"].shape + (3, 3)
    assert np.allclose(cov["cov"][..., 0, 0], pts["variance"], rtol=1e-6, equal_nan=True)
    assert {"amp1", "amp2", "amp3", "amp4", "epoxy", "detector"} == set(cov["fits"])
    f = cov["fits"]["amp1"]
    assert f["a"].shape == (3, 3) and f["model"].shape == f["cov"].shape
    bfe = Table.read(out / "bfe.ecsv", format="ascii.ecsv")
    assert str(bfe["a"].unit) == "1 / electron" and len(bfe) == 6 * 9
    row = bfe[(bfe["fit"] == "amp1") & (bfe["i"] == 1) & (bfe["j"] == 0)][0]
    assert row["a"] == pytest.approx(f["a"][0, 1])
    boxes = Table.read(out / "boxes.ecsv", format="ascii.ecsv")
    sectors = Table.read(out / "sectors.ecsv", format="ascii.ecsv")
    for t in (boxes, sectors):
        assert {"gain_linear", "gain_linear_err", "gain_covariance", "gain_covariance_err"} <= set(t.colnames)
        assert np.allclose(t["gain"], t["gain_covariance"], equal_nan=True)
    assert np.array_equal(boxes["turnoff_group"], cov["turnoff"]["turnoff_group"])
    assert boxes.meta["ptc_model"] == "covariance"


def test_linear_run_measures_covariances_only_when_asked(small, tmp_path):
    """The linear model needs no covariances: none measured unless --cov-lag is given, and the
    linear model's products are the same either way."""
    import dataclasses

    sim, _, opts = small
    plain = run_gain(sim.ramps, opts)
    assert plain.options.measured_lag is None and plain.ptc.cov is None and plain.covariance is None
    assert plain.timings["covariances_s"] == 0.0
    asked = run_gain(sim.ramps, dataclasses.replace(opts, cov_lag=2))
    assert asked.ptc.cov.shape[-2:] == (3, 3) and asked.covariance is not None
    for name in ("mean", "variance", "npix_diff"):
        np.testing.assert_array_equal(getattr(plain.ptc, name), getattr(asked.ptc, name))
    np.testing.assert_array_equal(plain.maps.mean_gain, asked.maps.mean_gain)
    a, b = tmp_path / "plain", tmp_path / "asked"
    write_gain_products(plain, a, figures=False, checksums=False)
    write_gain_products(asked, b, figures=False, checksums=False)
    assert not (a / "covariances.fits").exists() and not (a / "bfe.ecsv").exists()
    assert (b / "covariances.fits").exists() and (b / "bfe.ecsv").exists()
    sa = Table.read(a / "sectors.ecsv", format="ascii.ecsv")
    sb = Table.read(b / "sectors.ecsv", format="ascii.ecsv")
    for col in sa.colnames:
        assert np.array_equal(sa[col], sb[col]), col
    assert "gain_covariance" in sb.colnames and "gain_covariance" not in sa.colnames
    assert np.array_equal(fits.getdata(a / "gain_map.fits"), fits.getdata(b / "gain_map.fits"))
    with pytest.raises(ValueError, match="no covariances are measured"):
        GainOptions(fit_lag=1)


def test_provenance_records_the_inputs_sha256(small, tmp_path):
    """The inputs are hashed beside the run; the digests are those of the files."""
    import hashlib

    sim, _, opts = small
    res = run_gain(sim.ramps, opts)
    write_gain_products(res, tmp_path, figures=False)
    prov = json.loads((tmp_path / "provenance.json").read_text())
    for entry in prov["inputs"]:
        with open(entry["path"], "rb") as f:
            assert entry["sha256"] == hashlib.sha256(f.read()).hexdigest()
