"""``nircam-skyflat`` and ``nircam-sim images`` from the command line."""

import os

import pytest
from astropy.table import Table

from nircam_gui.cli import sim_images, skyflat


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory):
    import argparse

    out = tmp_path_factory.mktemp("cli_sim")
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    sim_images.add_parser(sub)
    args = parser.parse_args(["images", "-o", str(out), "--size", "128", "--n-images", "3", "--filter", "F150W",
                              "F090W", "--detector", "A1", "-q"])
    assert sim_images.run(args) == 0
    return out


def test_sim_images_wrote_files(sim_dir):
    cals = sorted(p for p in os.listdir(sim_dir) if p.endswith("_cal.fits"))
    assert len(cals) == 6 and all("nrca1" in p for p in cals)
    assert (sim_dir / "reference" / "nrca1_mask.fits").exists()
    assert (sim_dir / "truth" / "truth_nrca1.json").exists()


def test_sim_images_bad_detector(tmp_path, capsys):
    import argparse

    parser = argparse.ArgumentParser()
    sim_images.add_parser(parser.add_subparsers(dest="command"))
    assert sim_images.run(parser.parse_args(["images", "-o", str(tmp_path), "--detector", "NRCX9", "-q"])) == 2
    assert "unknown NIRCam detector" in capsys.readouterr().err


def test_skyflat_command(sim_dir, tmp_path, capsys):
    pred = tmp_path / "pred.ecsv"
    Table({"filter": ["F150W", "F090W"], "background": [0.25, 0.2]}).write(pred)
    out = tmp_path / "out"
    code = skyflat.main([str(sim_dir), "-o", str(out), "--ground-flat", str(sim_dir / "reference"),
                         "--ground-mask", str(sim_dir / "reference" / "nrca1_mask.fits"), "--fit", "median",
                         "--predictions", str(pred), "--no-figures", "-q"])
    assert code == 0
    text = capsys.readouterr().out
    assert "NRCA1" in text and "measured/predicted" in text and "new dead" in text
    for name in ("delta_NRCA1_F150W.fits", "delta_NRCA1_F090W.fits", "delta_NRCA1_grey.fits",
                 "fit_NRCA1_grey.fits", "flat_NRCA1_F150W.fits", "flat_NRCA1_F090W.fits", "deadpix_NRCA1.fits",
                 "deadpix_NRCA1.ecsv", "clusters_NRCA1.ecsv", "backgrounds.ecsv", "provenance.json"):
        assert (out / name).exists(), name
    assert not list(out.glob("*.png"))


def test_skyflat_errors(sim_dir, tmp_path, capsys):
    assert skyflat.main([str(sim_dir / "nope_cal.fits"), "-o", str(tmp_path), "-q"]) == 2  # refused before work
    assert "does not exist" in capsys.readouterr().err
    assert skyflat.main([str(sim_dir), "-o", str(tmp_path), "--dead-threshold", "1.5", "-q"]) == 2
    with pytest.raises(SystemExit):
        skyflat.main([str(sim_dir), "-o", str(tmp_path), "--fit", "spline"])


def test_frames_too_small_for_the_fit_are_refused_by_name(sim_dir, tmp_path, capsys):
    # 128 px frames in 64 px blocks: a 2x2 grid cannot carry the cubic large-scale fit
    out = tmp_path / "out"
    assert skyflat.main([str(sim_dir), "-o", str(out), "--fit-bin", "64", "--no-figures", "-q"]) == 2
    err = capsys.readouterr().err
    assert "_cal.fits" in err and "2x2 blocks of --fit-bin 64" in err and "--fit-bin 32 or less" in err
    assert "Traceback" not in err and not any(out.glob("*.fits"))
