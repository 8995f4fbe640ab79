"""``nircam-skyflat validate`` and ``nircam-sim starfield`` from the command line."""

import shutil

import pytest
from astropy.io import fits
from astropy.table import Table

from nircam_gui.cli import sim, skyflat


@pytest.fixture(scope="module")
def field(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli_starfield")
    assert sim.main(["starfield", "-o", str(out), "--size", "128", "--n-pointings", "4", "--n-stars", "10",
                     "--flat-error", "0.06", "-q"]) == 0
    return out


def _flats(field):
    return str(field / "reference" / "nrca1_f150w_clear_flat.fits"), str(field / "truth" / "true_flat_nrca1_f150w.fits")


def test_sim_starfield_wrote_truth(field):
    assert len(list(field.glob("*_cal.fits"))) == 4
    cat = Table.read(field / "truth" / "starfield_catalogue_nrca1.ecsv")
    assert len(cat) == 10 and {"ra", "dec", "flux", "flux_ujy"} <= set(cat.colnames)
    pos = Table.read(field / "truth" / "starfield_positions_nrca1.ecsv")
    assert len(pos) == 40


def test_validate_command(field, tmp_path, capsys):
    old, true = _flats(field)
    out = tmp_path / "val"
    code = skyflat.main(["validate", str(field), "--old-flat", old, "--new-flat", true, "-o", str(out),
                         "--min-pointings", "2", "-q"])
    assert code == 0
    text = capsys.readouterr().out
    assert "median photometric scatter" in text and "(old flat) ->" in text and "the old flat" in text
    for name in ("photometry.ecsv", "profiles_x.ecsv", "profiles_y.ecsv", "smoothed.fits", "photometry.png",
                 "profiles.png", "smoothed.png", "provenance.json", "summary.txt"):
        assert (out / name).exists(), name
    phot = Table.read(out / "photometry.ecsv")
    assert len(phot) >= 5
    assert (phot["n"] >= 2).all()  # the accuracy against the truth is tested in tests/core/skyflat/test_validate.py


def test_validate_bad_inputs_exit_2_naming_the_file(field, tmp_path, capsys):
    old, true = _flats(field)
    other = tmp_path / "unrelated_flat.fits"
    shutil.copy(true, other)
    assert skyflat.main(["validate", str(field), "--old-flat", str(other), "--new-flat", true,
                         "-o", str(tmp_path / "o1"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "_cal.fits" in err and "--calibration-flat" in err
    assert "Traceback" not in err
    assert skyflat.main(["validate", str(field), "--old-flat", str(tmp_path / "missing.fits"), "--new-flat", true,
                         "-o", str(tmp_path / "o2"), "-q"]) == 2
    assert "missing.fits" in capsys.readouterr().err
    nowcs = tmp_path / "nowcs_cal.fits"
    shutil.copy(next(field.glob("*_cal.fits")), nowcs)
    with fits.open(nowcs, mode="update") as h:
        del h["SCI"].header["CTYPE1"], h["SCI"].header["CTYPE2"]
    assert skyflat.main(["validate", str(nowcs), *map(str, sorted(field.glob("*_cal.fits"))[1:]), "--old-flat", old,
                         "--new-flat", true, "-o", str(tmp_path / "o3"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "nowcs_cal.fits" in err and "WCS" in err
    assert skyflat.main(["validate", str(field), "--old-flat", old, "--new-flat", true, "-o", str(tmp_path / "o4"),
                         "--aperture-radius", "20", "-q"]) == 2
    assert not (tmp_path / "o1").exists() or not list((tmp_path / "o1").iterdir())


def test_sim_starfield_bad_options(tmp_path, capsys):
    assert sim.main(["starfield", "-o", str(tmp_path), "--n-pointings", "1", "-q"]) == 2
    assert "--n-pointings" in capsys.readouterr().err
