"""Sky-flat inputs are checked against what the method assumes, before any work."""

import shutil

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from nircam_gui.cli import skyflat as skyflat_cli
from nircam_gui.core.errors import NircamFileError
from nircam_gui.core.skyflat.inputs import check_inputs, flat_name


@pytest.fixture
def copied(small_set, tmp_path):
    """The small set copied, so headers can be changed: (cal files, reference folder)."""
    _, sim = small_set
    cals = [shutil.copy(p, tmp_path / p.name if hasattr(p, "name") else tmp_path) for p in sim.cal_files]
    refs = tmp_path / "reference"
    shutil.copytree(sim.outdir + "/reference", refs)
    return sorted(cals), refs


def _set(path, **keys):
    with fits.open(path, mode="update") as hdul:
        for k, v in keys.items():
            hdul["SCI" if k == "BUNIT" else 0].header[k] = v


def test_flat_name():
    assert flat_name("crds://jwst_nircam_flat_0312.fits") == "jwst_nircam_flat_0312.fits"
    assert flat_name("/cache/references/jwst/nircam/jwst_nircam_flat_0312.fits") == "jwst_nircam_flat_0312.fits"


def test_simulated_set_passes_and_picks_the_r_flat(copied):
    cals, refs = copied
    checked = check_inputs(cals, [refs])
    assert checked.bunit == "MJy/sr" and len(checked.images) == len(cals)
    for key, meta in checked.flats.items():
        assert meta.path.endswith(checked.r_flat[key])


def test_not_flat_fielded_is_refused(copied, tmp_path, capsys):
    cals, refs = copied
    _set(cals[2], S_FLAT="SKIPPED")
    with pytest.raises(NircamFileError, match="not flat-fielded") as info:
        check_inputs(cals, [refs])
    assert info.value.path == str(cals[2])
    assert skyflat_cli.main([*map(str, cals), "-o", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err
    assert str(cals[2]) in err and "S_FLAT = SKIPPED" in err
    assert not (tmp_path / "out").exists()


def test_ground_flat_other_than_r_flat_is_refused(copied, tmp_path, capsys):
    cals, refs = copied
    r_flat = fits.getheader(cals[0])["R_FLAT"]
    other = tmp_path / "my_own_flat.fits"
    shutil.copy(refs / r_flat, other)
    assert skyflat_cli.main([*map(str, cals), "-o", str(tmp_path / "o"), "--ground-flat", str(other), "-q"]) == 2
    err = capsys.readouterr().err
    assert "my_own_flat.fits" in err and r_flat in err and "calibrated with" in err
    # a folder without the R_FLAT file: no flat is matched (never another one), and the user is told
    (refs / r_flat).unlink()
    checked = check_inputs(cals, [refs])
    key = next(k for k, v in checked.r_flat.items() if v == r_flat)
    assert key not in checked.flats
    assert any(f"calibrated with {r_flat} (R_FLAT), which is not among the ground flats" in w
               for w in checked.warnings)


def test_images_of_one_filter_with_different_flats_are_refused(copied):
    cals, refs = copied
    h0 = fits.getheader(cals[0])
    same = [c for c in cals if fits.getheader(c)["FILTER"] == h0["FILTER"]]
    _set(same[-1], R_FLAT="crds://jwst_nircam_flat_0999.fits")
    with pytest.raises(NircamFileError, match="jwst_nircam_flat_0999.fits") as info:
        check_inputs(cals)
    assert info.value.path == str(same[-1]) and "share one flat" in str(info.value)
    # the odd one out is blamed, whichever sorts first
    _set(same[0], R_FLAT="crds://jwst_nircam_flat_0998.fits")
    _set(same[-1], R_FLAT=h0["R_FLAT"])
    with pytest.raises(NircamFileError, match="jwst_nircam_flat_0998.fits") as info:
        check_inputs(cals)
    assert info.value.path == str(same[0])


def test_flat_picked_from_a_crds_cache_folder(copied, tmp_path):
    cals, refs = copied
    cache = tmp_path / "crds" / "references" / "jwst" / "nircam"
    cache.mkdir(parents=True)
    names = {}
    for i, c in enumerate(cals):
        r = fits.getheader(c)["R_FLAT"]
        names.setdefault(r, f"jwst_nircam_flat_{312 + len(names):04d}.fits")
        _set(c, R_FLAT=f"crds://{names[r]}")
    for r, new in names.items():
        shutil.copy(refs / r, cache / new)
    (cache / "jwst_nircam_gain_0097.fits").write_bytes(b"not opened")  # other files are left alone
    from skyflat_run import run_and_write as run_skyflat

    res = run_skyflat(cals, tmp_path / "out", ground_flats=[cache], options=None)
    flats = sorted((tmp_path / "out").glob("flat_*.fits"))
    assert len(flats) == len(names)
    assert {fits.getheader(f)["GRNDFLAT"] for f in flats} == set(names.values())
    assert not res.warnings or all("gain" not in w for w in res.warnings)
    assert set(res.provenance["r_flat"].values()) == set(names.values())


def test_backgrounds_in_the_images_bunit(copied, tmp_path):
    cals, refs = copied
    from nircam_gui.core.skyflat.options import SkyflatOptions
    from skyflat_run import run_and_write as run_skyflat

    for c in cals:
        _set(c, BUNIT="DN/s")
    run_skyflat(cals, tmp_path / "out", options=SkyflatOptions(figures=False, checksums=False))
    bg = Table.read(tmp_path / "out" / "backgrounds.ecsv")
    assert str(bg["background"].unit) == "DN / s"
    _set(cals[1], BUNIT="MJy/sr")
    with pytest.raises(NircamFileError, match="BUNIT") as info:
        check_inputs(cals)
    assert info.value.path == str(cals[1])
    assert np.isfinite(bg["background"]).all()
