"""Sky-flat FLAT and MASK products as a CRDS delivery."""

from pathlib import Path

import pytest
from astropy.io import fits

from nircam_gui.core.skyflat.options import SkyflatOptions
from skyflat_run import run_and_write as run_skyflat


def test_delivery_options_reach_the_files(small_set, tmp_path):
    cfg, sim = small_set
    opt = SkyflatOptions(figures=False, checksums=False, author="A. Tester", useafter="2022-09-01",
                         pedigree="INFLIGHT 2022-07-12 2022-08-30", descrip="test delivery", history="why: a test")
    res = run_skyflat(sim.cal_files, tmp_path, ground_flats=[Path(sim.outdir) / "reference"],
                      ground_masks=[Path(sim.outdir) / "reference"], options=opt)
    products = sorted(tmp_path.glob("flat_*.fits")) + sorted(tmp_path.glob("deadpix_*.fits"))
    assert len(products) == 3
    for p in products:
        h = fits.getheader(p)
        assert (h["AUTHOR"], h["USEAFTER"], h["PEDIGREE"], h["DESCRIP"]) == \
            ("A. Tester", "2022-09-01T00:00:00", "INFLIGHT 2022-07-12 2022-08-30", "test delivery")
        assert "why: a test" in str(h["HISTORY"])
        if h["REFTYPE"] == "MASK":  # CRDS selects NIRCam MASKs on DETECTOR and FILTER
            assert h["FILTER"] == "N/A"
        else:  # FLATs on DETECTOR, FILTER and PUPIL
            assert h["FILTER"].startswith("F") and h["PUPIL"] == "CLEAR"
    assert res.useafter == "2022-09-01T00:00:00"


def test_bad_delivery_options_are_refused():
    with pytest.raises(ValueError, match="PEDIGREE"):
        SkyflatOptions(pedigree="FLIGHT")
    with pytest.raises(ValueError, match="USEAFTER"):
        SkyflatOptions(useafter="soon")


@pytest.mark.slow
def test_full_frame_flat_and_mask_pass_crds_certify(full_frame_run, crds_certify):
    _, sim, res = full_frame_run
    out = Path(res.outdir)
    files = sorted(out.glob("flat_NRCA4_*.fits")) + [out / "deadpix_NRCA4.fits"]
    assert len(files) == 3
    h = fits.getheader(files[0])
    assert h["SUBARRAY"] == "FULL" and h["USEAFTER"] == res.useafter and h["PEDIGREE"].startswith("INFLIGHT ")
    errors, warnings, text = crds_certify(*files)
    assert (errors, warnings) == (0, 0), text
