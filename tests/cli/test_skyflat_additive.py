"""``nircam-sim images`` with wisps and claws, ``nircam-skyflat --additive ...`` from the command line."""

import argparse
import json

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from nircam_gui.cli import sim_images, skyflat


@pytest.fixture(scope="module")
def wisp_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli_wisp")
    parser = argparse.ArgumentParser()
    sim_images.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["images", "-o", str(out), "--size", "256", "--n-images", "5", "--filter", "F150W",
                              "F200W", "--detector", "A4", "--wisp", "0.1", "--wisp-ratio", "3", "--claws", "1",
                              "--seed", "8", "-q"])
    assert sim_images.run(args) == 0
    return out


def test_sim_writes_the_scattered_light_truth(wisp_dir):
    doc = json.loads((wisp_dir / "truth" / "truth_nrca4.json").read_text())
    assert doc["config"]["wisp"] == 0.1 and doc["config"]["claws"] == 1
    assert sum(r["claws"] for r in doc["images"]) == 1
    assert (wisp_dir / "truth" / "wisp_template_nrca4.fits").exists()


def test_bad_scattered_light_options(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    sim_images.add_parser(parser.add_subparsers(dest="command"))
    assert sim_images.run(parser.parse_args(["images", "-o", str(tmp_path), "--wisp-ratio", "0.5", "-q"])) == 2
    assert "--wisp-ratio" in capsys.readouterr().err


def test_given_template_is_fitted_and_written(wisp_dir, tmp_path):
    out = tmp_path / "out"
    template = wisp_dir / "truth" / "wisp_template_nrca4.fits"
    assert skyflat.main([str(wisp_dir), "-o", str(out), "--additive-template", str(template), "--additive-bin", "8",
                         "--no-figures", "-q"]) == 0
    with fits.open(out / "additive_NRCA4.fits") as h:
        assert h[0].header["ADDTMPL"] == template.name and h[0].header["ADDFOUND"]
        assert [x.name for x in h] == ["PRIMARY", "TEMPLATE", "FLAGGED", "AMPLITUDES"]
        amps = Table(h["AMPLITUDES"].data)
    doc = json.loads((wisp_dir / "truth" / "truth_nrca4.json").read_text())
    truth = {r["file"]: r["wisp_amplitude"] for r in doc["images"]}
    t = np.array([truth[f] for f in amps["file"]])
    assert np.corrcoef(np.asarray(amps["amplitude"]), t)[0, 1] > 0.95
    # the given template's shape is kept (its peak scaled to 1)
    assert np.allclose(np.asarray(amps["amplitude"]), t, atol=0.02)
    ecsv = Table.read(out / "additive_NRCA4.ecsv")
    assert list(ecsv.colnames) == ["file", "filter", "amplitude", "amplitude_err", "norm", "claws", "claw_blocks", "remasked"]
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["additive"]["NRCA4"]["template"] == template.name


def test_plain_method_and_bad_templates(wisp_dir, tmp_path, capsys):
    out = tmp_path / "plain"
    assert skyflat.main([str(wisp_dir), "-o", str(out), "--additive", "plain", "--no-figures", "-q"]) == 0
    assert not list(out.glob("additive_*"))
    bad = tmp_path / "bad.fits"
    fits.PrimaryHDU(np.zeros((8, 8), np.float32)).writeto(bad)
    assert skyflat.main([str(wisp_dir), "-o", str(tmp_path / "x"), "--additive-template", str(bad), "-q"]) == 2
    err = capsys.readouterr().err
    assert "bad.fits" in err and "empty" in err
    small = tmp_path / "small.fits"
    fits.PrimaryHDU(np.ones((8, 8), np.float32)).writeto(small)
    assert skyflat.main([str(wisp_dir), "-o", str(tmp_path / "y"), "--additive-template", str(small), "-q"]) == 2
    assert "small.fits" in capsys.readouterr().err
    other = tmp_path / "wisp_b3.fits"
    h = fits.PrimaryHDU(np.ones((256, 256), np.float32))
    h.header["DETECTOR"] = "NRCB3"
    h.writeto(other)
    assert skyflat.main([str(wisp_dir), "-o", str(tmp_path / "w"), "--additive-template", str(other), "-q"]) == 2
    err = capsys.readouterr().err
    assert "wisp_b3.fits" in err and "NRCB3" in err and "NRCA4" in err
    assert not (tmp_path / "w").exists()
    assert skyflat.main([str(wisp_dir), "-o", str(tmp_path / "z"), "--additive-bin", "1", "-q"]) == 2


def test_a_campaign_refuses_templates_it_would_not_use(wisp_dir, tmp_path, capsys):
    template = wisp_dir / "truth" / "wisp_template_nrca4.fits"
    assert skyflat.main([str(wisp_dir), "-o", str(tmp_path / "c"), "--refs", str(wisp_dir / "reference"),
                         "--additive-template", str(template), "-q"]) == 2
    assert "--additive-template" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()
