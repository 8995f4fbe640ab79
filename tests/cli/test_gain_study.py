"""``nircam-gain study ...``: every study from the command line, saved runs reused, errors explained.

Small frames (256x256, 4 integrations of 5 groups) keep this about the wiring; the science
is tested against injected truth in tests/core/gain/studies.
"""

import json

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from nircam_gui.cli import gain as gain_cli
from nircam_gui.core.reffiles import write_reference
from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    sim = simulate_flats(tmp_path_factory.mktemp("small"),
                         FlatSimConfig(detector="NRCB1", size=256, nints=4, ngroups=5, seed=4, threads=1))
    r = sim.references
    refs = ["--superbias", str(r["SUPERBIAS"]), "--linearity", str(r["LINEARITY"]), "--saturation",
            str(r["SATURATION"]), "--mask", str(r["MASK"]), "--regions", str(sim.regions)]
    return sim, [str(p) for p in sim.ramps], refs, str(r["IPC"])


def test_plain_nircam_gain_still_works(small, tmp_path, capsys):
    sim, files, refs, ipc = small
    assert gain_cli.main([*files, "-o", str(tmp_path / "g"), "--box", "64", "--ipc-kernel", ipc, "--no-figures",
                          "-q", *refs]) == 0
    assert (tmp_path / "g" / "ptc_points.fits").exists()


def test_box_size_then_reuse_saved_runs(small, tmp_path, capsys):
    sim, files, refs, ipc = small
    out = tmp_path / "box"
    code = gain_cli.main(["study", "box-size", *files, "-o", str(out), "--boxes", "32", "64", "--ipc-kernel", ipc,
                          "-q", *refs])
    assert code == 0
    text = capsys.readouterr().out
    assert "single-map uncertainty" in text and "sector means" in text
    for name in ("boxsize_uncertainty.ecsv", "boxsize_sectors.ecsv", "boxsize_scatter.png", "boxsize_maps.png",
                 "boxsize_uncertainty.png", "box_size_provenance.json"):
        assert (out / name).exists(), name
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert runs == ["box32_ipc-deconvolve", "box64_ipc-deconvolve"]
    t = Table.read(out / "boxsize_uncertainty.ecsv", format="ascii.ecsv")
    assert list(t["box"]) == [32, 64] and np.all(t["single_err"] > 0)
    prov = json.loads((out / "box_size_provenance.json").read_text())
    assert prov["command"][:3] == ["nircam-gain", "study", "box-size"]

    # the saved runs stand in for the ramps: nothing is recomputed
    saved = [str(out / "runs" / r) for r in runs]
    out2 = tmp_path / "box2"
    assert gain_cli.main(["study", "box-size", *saved, "-o", str(out2), "--boxes", "32", "64", "-q",
                          "--no-figures"]) == 0
    assert not (out2 / "runs").exists()
    t2 = Table.read(out2 / "boxsize_uncertainty.ecsv", format="ascii.ecsv")
    np.testing.assert_allclose(t2["single_err"], t["single_err"])
    # with the ramps and a matching saved run, only the missing size is computed
    out3 = tmp_path / "box3"
    assert gain_cli.main(["study", "box-size", *files, saved[1], "-o", str(out3), "--boxes", "32", "64",
                          "--ipc-kernel", ipc, "-q", "--no-figures", *refs]) == 0
    assert sorted(p.name for p in (out3 / "runs").iterdir()) == ["box32_ipc-deconvolve"]

    # signal limit and external map from one saved run
    out4 = tmp_path / "sl"
    assert gain_cli.main(["study", "signal-limit", saved[1], "-o", str(out4), "--limits", "3000", "4500", "-q"]) == 0
    assert (out4 / "signal_limit.ecsv").exists() and (out4 / "signal_limit.png").exists()
    assert "ratio_mean_percent" in capsys.readouterr().out
    ext = tmp_path / "ext_gain.fits"
    g = fits.getdata(sim.truth_gain, "SCI") * 0.9
    write_reference(ext, "GAIN", "NRCB1", {"data": g.astype(np.float32)}, description="x0.9", pedigree="DUMMY")
    out5 = tmp_path / "ext"
    assert gain_cli.main(["study", "external", saved[1], "--external", str(ext), "-o", str(out5), "-q"]) == 0
    s = Table.read(out5 / "external_summary.ecsv", format="ascii.ecsv")
    assert s["mean_percent"][0] == pytest.approx(-10, abs=1.5)  # 4 pairs of 256x256 frames: ~1% per box
    assert (out5 / "external_comparison.png").exists() and (out5 / "external_gridded.fits").exists()


def test_ipc_and_consistency(small, tmp_path, capsys):
    sim, files, refs, ipc = small
    out = tmp_path / "ipc"
    assert gain_cli.main(["study", "ipc", *files, "-o", str(out), "--box", "64", "--ipc-kernel", ipc, "-q",
                          *refs]) == 0
    text = capsys.readouterr().out
    assert "deconvolved / uncorrected" in text and "coupling measured from the flats" in text
    for name in ("ipc_factors.ecsv", "ipc_comparison.ecsv", "ipc_boxes.ecsv", "ipc_coupling.ecsv", "ipc_maps.png",
                 "ipc_coupling.png"):
        assert (out / name).exists(), name
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["box64_ipc-deconvolve", "box64_ipc-none"]
    out2 = tmp_path / "cons"
    assert gain_cli.main(["study", "consistency", *files, "-o", str(out2), "--last-group", "4", "-q", *refs]) == 0
    assert "step between integrations 1 and 2" in capsys.readouterr().out
    t = Table.read(out2 / "signal_consistency.ecsv", format="ascii.ecsv")
    assert len(t) == 4 and t.meta["last_group"] == 4


def test_usage_errors_exit_2(small, tmp_path, capsys):
    sim, files, refs, ipc = small
    assert gain_cli.main(["study", "box-size", *files, "-o", str(tmp_path / "a"), "--boxes", "64", "-q"]) == 2
    assert "at least two box sizes" in capsys.readouterr().err
    assert gain_cli.main(["study", "ipc", *files, "-o", str(tmp_path / "b"), "-q"]) == 2
    assert "--ipc-kernel" in capsys.readouterr().err
    assert gain_cli.main(["study", "signal-limit", str(tmp_path), "-o", str(tmp_path / "c"), "-q"]) == 2
    assert "not a nircam-gain output" in capsys.readouterr().err
    assert gain_cli.main(["study", "consistency", *files[:2], "-o", str(tmp_path / "d"), "--first-group", "9",
                          "-q"]) == 2
    with pytest.raises(SystemExit):
        gain_cli.main(["study", "nonsense", *files, "-o", str(tmp_path / "e")])
