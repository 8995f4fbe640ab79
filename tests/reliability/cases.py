"""The bad inputs a user can give, built once, as (files, options, file to blame, words of the message).

The same cases drive the core tests (``NircamFileError`` naming the file) and the command-line
tests (exit 1 and one ``error: <file>: <problem>`` line), so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import os
from pathlib import Path

import numpy as np
from astropy.io import fits

from .conftest import copy_with, truncated_copy, uncal_sci


@dataclass
class Case:
    files: list[str]
    blame: str
    words: str
    options: dict = field(default_factory=dict)

    def cli_args(self) -> list[str]:
        args = [*self.files]
        for key, value in self.options.items():
            args += [f"--{key.replace('_', '-')}", str(value)]
        return args


GAIN_CASES = [
    "not_fits", "empty_file", "truncated_data", "truncated_header", "no_sci", "sci_1d", "sci_5d", "cal_image",
    "subarray", "other_detector", "other_shape", "single_integration", "all_saturated", "zero_variance",
    "missing_file", "malformed_region", "region_misspelt", "region_physical", "region_outside", "region_circle", "region_sky", "ipc_wrong_type",
    "superbias_wrong_type", "superbias_wrong_detector", "superbias_wrong_shape", "saturation_wrong_detector",
    "linearity_wrong_shape", "mask_wrong_detector", "mask_wrong_shape", "ipc_wrong_detector", "reference_not_fits",
    "bad_header_number",
]


def gain_case(name: str, tmp: Path, flats, flats_b1, flats_64, cals) -> Case:
    """Build the files of one bad-input case for the gain analysis in ``tmp``."""
    ramps = [str(p) for p in flats.ramps]
    refs = {k: str(v) for k, v in flats.references.items()}
    good = ramps[1]
    b1 = {k: str(v) for k, v in flats_b1.references.items()}
    small = {k: str(v) for k, v in flats_64.references.items()}

    def bad(path: Path, words: str, others=(good,), **options) -> Case:
        return Case([str(path), *others], str(path), words, options)

    def ref(kind: str, path: str, words: str) -> Case:
        return Case(ramps, path, words, {kind: path})

    if name == "not_fits":
        p = tmp / "notes_uncal.fits"
        p.write_text("observing log, not FITS\n" * 50)
        return bad(p, "does not begin with a FITS header")
    if name == "empty_file":
        p = tmp / "empty_uncal.fits"
        p.write_bytes(b"")
        return bad(p, "is empty")
    if name == "truncated_data":
        return bad(truncated_copy(ramps[0], tmp / "cut_uncal.fits", 0.6), "is truncated")
    if name == "truncated_header":
        return bad(truncated_copy(ramps[0], tmp / "cuthdr_uncal.fits", 0.01), "truncated or damaged")
    if name == "no_sci":
        p = tmp / "nosci.fits"
        fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros((4, 4)), name="ERR")]).writeto(p)
        return bad(p, "no SCI extension")
    if name == "sci_1d":
        p = tmp / "sci1d.fits"
        fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros(16), name="SCI")]).writeto(p)
        return bad(p, "SCI extension is 1-D")
    if name == "sci_5d":
        p = tmp / "sci5d.fits"
        fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros((2, 2, 2, 2, 2)), name="SCI")]).writeto(p)
        return bad(p, "SCI extension is 5-D")
    if name == "cal_image":
        return bad(Path(cals.cal_files[0]), "not a flat-field ramp; found a calibrated image")
    if name == "subarray":
        p = copy_with(ramps[0], tmp / "sub_uncal.fits", primary={"SUBARRAY": "SUB160", "SUBSTRT1": 100})
        return bad(p, "needs full-frame data")
    if name == "other_detector":
        p = copy_with(ramps[1], tmp / "b3_uncal.fits", primary={"DETECTOR": "NRCB3"})
        return Case([ramps[0], str(p)], str(p), "detector differs (NRCB4 vs NRCB3)")
    if name == "other_shape":
        return Case([ramps[0], str(flats_64.ramps[1])], str(flats_64.ramps[1]), "frame size differs")
    if name == "single_integration":
        return Case([ramps[0]], ramps[0], "needs at least two integrations")
    if name == "all_saturated":
        sci = np.full(uncal_sci(ramps[0]).shape, 65535, np.uint16)
        a = copy_with(ramps[0], tmp / "sat1_uncal.fits", sci=sci)
        b = copy_with(ramps[1], tmp / "sat2_uncal.fits", sci=sci)
        return Case([str(a), str(b)], str(a), "no box gave a usable photon-transfer fit",
                    {"saturation": refs["SATURATION"]})
    if name == "zero_variance":
        sci = np.full(uncal_sci(ramps[0]).shape, 12000, np.uint16)
        sci += np.arange(sci.shape[1], dtype=np.uint16)[None, :, None, None] * 500  # signal, but no noise
        a = copy_with(ramps[0], tmp / "zv1_uncal.fits", sci=sci)
        b = copy_with(ramps[1], tmp / "zv2_uncal.fits", sci=sci)
        return Case([str(a), str(b)], str(a), "variance that does not grow with the signal")
    if name == "missing_file":
        return bad(tmp / "nope_uncal.fits", "file does not exist")
    if name == "malformed_region":
        p = tmp / "bad.reg"
        p.write_text("# Region file format: DS9\nimage\npolygon(10,20,30\n")
        return Case(ramps, str(p), "needs at least 3", {"regions": str(p)})
    if name == "region_misspelt":  # regions itself only warns and drops the line
        p = tmp / "misspelt.reg"
        p.write_text("image\npolygon(10,20,60,20,40,60)\npolgon(70,20,120,20,100,60)\n")
        return Case(ramps, str(p), 'line 3 is not a region DS9 understands: "polgon(70,20', {"regions": str(p)})
    if name == "region_physical":
        p = tmp / "physical.reg"
        p.write_text("physical\npolygon(10,20,60,20,40,60)\n")
        return Case(ramps, str(p), "is in physical coordinates; only image coordinates", {"regions": str(p)})
    if name == "region_outside":
        p = tmp / "outside.reg"
        p.write_text("image\npolygon(5000,5000,5100,5000,5100,5100)\n")
        return Case(ramps, str(p), "covers no pixel of the 128x128 frame", {"regions": str(p)})
    if name == "region_circle":
        p = tmp / "circle.reg"
        p.write_text("image\ncircle(50,50,10)\n")
        return Case(ramps, str(p), "only polygons in image coordinates", {"regions": str(p)})
    if name == "region_sky":
        p = tmp / "sky.reg"
        p.write_text("fk5\npolygon(10,10,10.1,10,10.1,10.1)\n")
        return Case(ramps, str(p), "only polygons in image coordinates", {"regions": str(p)})
    if name == "ipc_wrong_type":
        return Case(ramps, refs["SUPERBIAS"], "is a SUPERBIAS reference file, expected IPC",
                    {"ipc": "exact", "ipc_kernel": refs["SUPERBIAS"]})
    if name == "ipc_wrong_detector":
        return Case(ramps, b1["IPC"], "for NRCB1, but the ramps are from NRCB4",
                    {"ipc": "exact", "ipc_kernel": b1["IPC"]})
    if name == "superbias_wrong_type":
        return ref("superbias", refs["MASK"], "is a MASK reference file, expected SUPERBIAS")
    if name == "superbias_wrong_detector":
        return ref("superbias", b1["SUPERBIAS"], "for NRCB1, but the ramps are from NRCB4")
    if name == "superbias_wrong_shape":
        return ref("superbias", small["SUPERBIAS"], "SUPERBIAS has shape (64, 64), the ramp (128, 128)")
    if name == "saturation_wrong_detector":
        return ref("saturation", b1["SATURATION"], "for NRCB1, but the ramps are from NRCB4")
    if name == "linearity_wrong_shape":
        return ref("linearity", small["LINEARITY"], "LINEARITY COEFFS has shape (64, 64)")
    if name == "mask_wrong_detector":
        return ref("mask", b1["MASK"], "for NRCB1, but the ramps are from NRCB4")
    if name == "mask_wrong_shape":
        return ref("mask", small["MASK"], "MASK is 64x64, the ramps 128x128")
    if name == "reference_not_fits":
        p = tmp / "superbias.fits"
        p.write_text("not FITS")
        return ref("superbias", str(p), "does not begin with a FITS header")
    if name == "bad_header_number":
        p = copy_with(ramps[0], tmp / "hdr_uncal.fits", primary={"NFRAMES": "four"})
        return bad(p, "header keyword NFRAMES = 'four' is not an integer")
    raise KeyError(name)


SKYFLAT_CASES = [
    "not_fits", "truncated", "raw_ramp", "all_nan", "zero_sky", "subarray", "other_shape", "rateints",
    "flat_wrong_type", "mask_wrong_type", "flat_wrong_shape", "empty_folder",
]


#: cases the sky-flat input check refuses before any work (exit 2); the others fail during the run (exit 1)
SKYFLAT_REFUSED_BEFORE_WORK = {"not_fits", "truncated", "raw_ramp", "subarray", "flat_wrong_type", "empty_folder"}


def skyflat_case(name: str, tmp: Path, flats, cals) -> Case:
    """Build one bad-input case for the sky-flat analysis."""
    images = [str(p) for p in cals.cal_files]
    flat, mask = str(cals.flat_files[0]), str(cals.mask_files[0])
    with fits.open(images[0]) as hdul:
        sci = np.array(hdul["SCI"].data)

    def bad(path: Path, words: str, **options) -> Case:
        return Case([str(path), *images[1:]], str(path), words, options)

    if name == "not_fits":
        p = tmp / "x_cal.fits"
        p.write_text("x" * 3000)
        return bad(p, "does not begin with a FITS header")
    if name == "truncated":
        # cut inside the header of the last extension: astropy alone would read the rest quietly
        return bad(truncated_copy(images[0], tmp / "cut_cal.fits", 2 / 3), "is truncated")
    if name == "raw_ramp":
        return bad(Path(flats.ramps[0]), "not a calibrated image; found a raw _uncal ramp")
    if name == "all_nan":
        return bad(copy_with(images[0], tmp / "nan_cal.fits", sci=np.full_like(sci, np.nan)), "no usable sky")
    if name == "zero_sky":
        return bad(copy_with(images[0], tmp / "zero_cal.fits", sci=np.zeros_like(sci)), "no usable sky")
    if name == "subarray":
        return bad(copy_with(images[0], tmp / "sub_cal.fits", primary={"SUBARRAY": "SUB64P", "SUBSTRT1": 5}),
                   "needs full-frame data")
    if name == "other_shape":
        p = tmp / "small_cal.fits"
        with fits.open(images[0]) as hdul:
            fits.HDUList([hdul[0].copy(), fits.ImageHDU(sci[:64, :64], header=hdul["SCI"].header,
                                                        name="SCI")]).writeto(p)
        return Case([*images, str(p)], str(p), "images of different sizes: this one is 64x64")
    if name == "rateints":
        p = tmp / "ints_cal.fits"
        with fits.open(images[0]) as hdul:
            fits.HDUList([hdul[0].copy(), fits.ImageHDU(np.stack([sci, sci]), name="SCI")]).writeto(p)
        return bad(p, "a 2-D image is needed")
    if name == "flat_wrong_type":
        return Case(images, mask, "given as a ground FLAT, but it is a MASK reference file", {"ground_flat": mask})
    if name == "mask_wrong_type":
        return Case(images, flat, "given as a ground MASK, but it is a FLAT reference file", {"ground_mask": flat})
    if name == "flat_wrong_shape":
        # named as the images' R_FLAT, so it is the flat they were calibrated with, but cut down
        (tmp / "cut").mkdir(exist_ok=True)
        p = tmp / "cut" / os.path.basename(flat)
        with fits.open(flat) as hdul:
            fits.HDUList([hdul[0].copy()] + [fits.ImageHDU(h.data[:64, :64], header=h.header, name=h.name)
                                             for h in hdul[1:] if h.is_image and h.data is not None]).writeto(p)
        return Case(images, str(p), "FLAT shape (64, 64) does not match", {"ground_flat": str(p)})
    if name == "empty_folder":
        d = tmp / "nothing_here"
        d.mkdir()
        return Case([str(d)], str(d), "no _cal images found in this folder")
    raise KeyError(name)
