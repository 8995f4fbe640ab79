"""Gain products as a CRDS delivery: IPC convention, delivery keywords, crds certify."""

import json

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from nircam_gui.cli import gain as gain_cli
from nircam_gui.core.gain.run import GainOptions
from nircam_gui.core.ipc import invert_kernel, variance_factor
from nircam_gui.core.readers import read_metadata
from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats


def _args(sim, box):
    r = sim.references
    return ["--box", str(box), "--regions", str(sim.regions), "--ipc-kernel", str(r["IPC"]), "--superbias",
            str(r["SUPERBIAS"]), "--linearity", str(r["LINEARITY"]), "--saturation", str(r["SATURATION"]),
            "--mask", str(r["MASK"]), "-q", "--no-figures"]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    root = tmp_path_factory.mktemp("deliv")
    sim = simulate_flats(root / "sim", FlatSimConfig(detector="NRCB4", size=512, nints=4, ngroups=6, seed=3))
    out = {}
    for name, extra in (("deconvolve", []), ("none", ["--ipc", "none"]),
                        ("corrected", ["--reference-gain", "ipc-corrected", "--useafter", "2014-08-01",
                                       "--author", "A. Tester", "--pedigree", "GROUND", "--descrip",
                                       "CV3 gain for NRCB4", "--history", "delivered for a test"])):
        out[name] = root / name
        assert gain_cli.main([*map(str, sim.ramps), "-o", str(out[name]), *_args(sim, 64), *extra]) == 0
    return sim, out


def test_reference_gain_is_apparent_by_default_and_exact(small):
    sim, out = small
    d = out["deconvolve"]
    ref = fits.open(d / "gain_map.fits")
    cor = fits.open(d / "gain_map_ipc_corrected.fits")
    assert ref[0].header["IPCCORR"] is False and cor[0].header["IPCCORR"] is True
    # the exact factor from the physical kernel, independent of the writer
    kernel = fits.getdata(sim.references["IPC"], "SCI").astype(float)
    s = variance_factor(invert_kernel(kernel, size=5))
    assert ref[0].header["IPCVARF"] == pytest.approx(s, rel=1e-5)
    np.testing.assert_allclose(ref["SCI"].data, cor["SCI"].data / s, rtol=1e-6)
    assert 1.045 < 1 / s < 1.055  # the apparent gain is ~5% above the IPC-corrected one
    for name in ("boxes", "sectors"):
        t = Table.read(d / f"{name}.ecsv")
        np.testing.assert_allclose(t["gain_apparent"], t["gain"] / s, rtol=1e-6)
        assert "jwst issue 6247" in " ".join(t.meta["comments"])
    assert "DQ" not in [h.name for h in ref]  # GainModel has no DQ: the flags are in gain_mask.fits
    mask = fits.open(d / "gain_mask.fits")
    assert mask[0].header["REFTYPE"] == "MASK" and (mask["DQ"].data[:4] != 0).all()
    assert ref["SCI"].header["BUNIT"] == "ELECTRONS/DN"
    boxes = Table.read(d / "boxes.ecsv")
    for c in ("xmin", "xmax", "ymin", "ymax"):
        np.testing.assert_array_equal(boxes[f"{c}_ds9"], boxes[c] + 1)


def test_apparent_gain_agrees_with_a_run_without_ipc_correction(small):
    """Deconvolving then converting back gives what the uncorrected data measure."""
    _, out = small
    app = Table.read(out["deconvolve"] / "sectors.ecsv")
    raw = Table.read(out["none"] / "sectors.ecsv")
    np.testing.assert_allclose(raw["gain"], raw["gain_apparent"])
    rel = np.asarray(app["gain_apparent"]) / np.asarray(raw["gain"]) - 1
    assert np.all(np.abs(rel) < 0.003), rel
    assert fits.getheader(out["none"] / "gain_map.fits")["IPCCORR"] is False
    assert not (out["none"] / "gain_map_ipc_corrected.fits").exists()


def test_delivery_keywords(small):
    sim, out = small
    h = fits.getheader(out["corrected"] / "gain_map.fits")
    assert h["IPCCORR"] is True and h["AUTHOR"] == "A. Tester" and h["USEAFTER"] == "2014-08-01T00:00:00"
    assert h["DESCRIP"] == "CV3 gain for NRCB4" and h["PEDIGREE"] == "GROUND"
    assert "delivered for a test" in str(h["HISTORY"])
    assert h["FILTER"] == "N/A" and h["DETECTOR"] == "NRCB4"
    # 512 px simulated frames are no full frame
    assert (h["SUBARRAY"], h["SUBSIZE1"], h["SUBSIZE2"]) == ("GENERIC", 512, 512)
    # default USEAFTER: the first integration's exposure start
    h0 = fits.getheader(out["deconvolve"] / "gain_map.fits")
    assert h0["USEAFTER"] == read_metadata(sim.ramps[0]).start_iso[:19]
    prov = json.loads((out["corrected"] / "provenance.json").read_text())
    assert prov["options"]["reference_gain"] == "ipc-corrected" and prov["options"]["author"] == "A. Tester"


@pytest.mark.parametrize("extra, message", [
    (["--useafter", "August 2014"], "USEAFTER"),
    (["--pedigree", "INFLIGHT 2022-09-01 2022-08-01"], "PEDIGREE"),
    (["--author", " "], "AUTHOR"),
    (["--ipc", "none", "--reference-gain", "ipc-corrected"], "needs an IPC correction"),
])
def test_bad_delivery_options_exit_2(small, tmp_path, capsys, extra, message):
    sim, _ = small
    assert gain_cli.main([*map(str, sim.ramps), "-o", str(tmp_path / "o"), *_args(sim, 64), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_options_validate():
    with pytest.raises(ValueError, match="reference gain"):
        GainOptions(ipc="none", reference_gain="both")


@pytest.mark.slow
def test_full_frame_products_pass_crds_certify(tmp_path, crds_certify):
    sim = simulate_flats(tmp_path / "sim", FlatSimConfig(detector="NRCB4", size=2048, nints=4, ngroups=5, seed=3))
    out = tmp_path / "out"
    assert gain_cli.main([*map(str, sim.ramps), "-o", str(out), *_args(sim, 256), "--author", "A. Tester"]) == 0
    assert fits.getheader(out / "gain_map.fits")["SUBARRAY"] == "FULL"
    # one delivery holds one GAIN per detector: certify would rightly refuse two that match alike
    for files in ((out / "gain_map.fits", out / "gain_mask.fits"), (out / "gain_map_ipc_corrected.fits",)):
        errors, warnings, text = crds_certify(*files)
        assert (errors, warnings) == (0, 0), text
