"""Input checking of a flat validation: dithered ``_cal`` images, an old and a new flat.

A ``_cal`` image has been divided by the flat it was calibrated with: the file its
``R_FLAT`` names (``S_FLAT = COMPLETE``). To see the image as another flat ``F`` would
have made it, that division is undone and ``F``'s is applied: ``SCI * F_cal / F``. So
the flat the images were calibrated with must be known exactly, not guessed: it is the
``--old-flat`` or the ``--new-flat`` when ``R_FLAT`` names one of them (the usual cases:
images calibrated with the old flat, or already with the new one), else a third file
given as the calibration flat, which must be the one ``R_FLAT`` names. Dividing by a
different file than the one used would imprint the two files' pixel-to-pixel difference
on both results.

All images must be flat-fielded, of one detector, filter and pupil, calibrated with one
flat, and share one BUNIT; the flats must be FLAT reference files for that detector,
filter and pupil, covering the images (full-frame flats are cut to a subarray image at
its SUBSTRT). Every image needs a celestial WCS in its SCI header, as the pipeline's
assign_wcs writes it: sources are matched across the pointings on the sky. Every refusal
names the file and the problem.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import NircamFileError
from ..readers import ExposureMeta, read_metadata
from .calibration_keywords import calibration_keywords, shared_value
from .inputs import check_flat_fielded, collect_calibrated, filter_token

__all__ = ["ValidationInputs", "check_validation_inputs"]


@dataclass
class ValidationInputs:
    """Checked inputs of a validation."""

    images: list[ExposureMeta]
    old_flat: ExposureMeta
    new_flat: ExposureMeta
    #: the flat the images were divided by (one of the two above, or a third file)
    calibration_flat: ExposureMeta
    #: "old", "new" or "other": which flat ``calibration_flat`` is
    calibrated_with: str
    detector: str
    filter: str
    pupil: str
    bunit: str
    r_flat: str
    warnings: list[str] = field(default_factory=list)

    @property
    def token(self) -> str:
        return filter_token(self.filter, self.pupil)


def _sci_wcs(path: str):
    from astropy.io import fits

    from .dither_photometry import celestial_wcs

    try:
        with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
            header = hdul["SCI"].header if "SCI" in hdul else hdul[0].header
    except (OSError, ValueError, KeyError) as exc:
        raise NircamFileError(path, f"could not read its SCI header ({exc})") from None
    return celestial_wcs(header, path)


def _flat(path, role: str, detector: str, filt: str, pupil: str, images: list[ExposureMeta]) -> ExposureMeta:
    p = Path(path)
    if not p.exists():
        raise NircamFileError(p, f"does not exist (given as the {role})")
    if p.is_dir():
        raise NircamFileError(p, f"is a folder; give the {role} as one FLAT reference file")
    meta = read_metadata(p)
    if (meta.reftype or "").upper() != "FLAT":
        raise NircamFileError(p, f"given as the {role}, but it is {meta.description}, not a FLAT reference file")
    if meta.detector and meta.detector != detector:
        raise NircamFileError(p, f"given as the {role}, but it is the flat of {meta.detector}; the images are "
                                 f"{detector}")
    ff, fp = (meta.filter or "").upper(), (meta.pupil or "CLEAR").upper()
    if ff and (ff != filt or fp not in (pupil, "ANY", "N/A")):
        raise NircamFileError(p, f"given as the {role}, but it is the flat of {ff}/{fp}; the images are "
                                 f"{filt}/{pupil}")
    for m in images:
        x1, y1 = m.xstart - 1 + m.nx, m.ystart - 1 + m.ny
        if meta.nx < x1 or meta.ny < y1:
            raise NircamFileError(p, f"given as the {role}, but it is {meta.nx}x{meta.ny} pixels and does not cover "
                                     f"{m.path} ({m.nx}x{m.ny} at x={m.xstart}, y={m.ystart})")
    return meta


def check_validation_inputs(cal_files, old_flat, new_flat, calibration_flat=None) -> ValidationInputs:
    """Read the headers of the inputs and check them.

    Parameters
    ----------
    cal_files : iterable of path-like
        Dithered ``_cal.fits`` images, or folders of them (other files in a folder are skipped).
    old_flat, new_flat : path-like
        The two FLAT reference files to compare.
    calibration_flat : path-like, optional
        The flat the images were calibrated with, needed only when their ``R_FLAT`` names
        neither ``old_flat`` nor ``new_flat``.

    Returns
    -------
    ValidationInputs

    Raises
    ------
    NircamFileError
        Naming the file and the problem.
    """
    cal_files = list(cal_files)
    images, warnings = collect_calibrated(cal_files)
    if len(images) < 2:
        where = ", ".join(os.fspath(p) for p in cal_files[:3]) or "(no files)"
        raise NircamFileError(where, f"{len(images)} _cal image(s) found; the validation needs dithered images of "
                                     "one field, at least 2 (the report used 9)")
    keywords = {m.path: calibration_keywords(m.path) for m in images}
    check_flat_fielded(images, keywords, "re-flat-fielding undoes the flat an image was calibrated with; give _cal "
                                         "images")
    for m in images:  # sources are matched across pointings on the sky
        _sci_wcs(m.path)
    why = "the images of one validation are measured together"
    detector = shared_value([(m.path, m.detector) for m in images], "DETECTOR", why)
    filt = shared_value([(m.path, (m.filter or "").upper()) for m in images], "FILTER", why)
    pupil = shared_value([(m.path, (m.pupil or "CLEAR").upper()) for m in images], "PUPIL", why)
    bunit = shared_value([(m.path, keywords[m.path][2]) for m in images], "BUNIT", why)
    r_flat = shared_value([(m.path, keywords[m.path][1]) for m in images], "flat (R_FLAT)",
                       "images calibrated with different flats cannot be re-flat-fielded with one file")
    old = _flat(old_flat, "old flat", detector, filt, pupil, images)
    new = _flat(new_flat, "new flat", detector, filt, pupil, images)
    if Path(old.path).resolve() == Path(new.path).resolve():
        raise NircamFileError(new.path, "is given as both the old and the new flat")
    names = {"old": Path(old.path).name, "new": Path(new.path).name}
    if calibration_flat is not None:
        cal = _flat(calibration_flat, "calibration flat", detector, filt, pupil, images)
        if r_flat and Path(cal.path).name != r_flat:
            raise NircamFileError(cal.path, f"given as the calibration flat, but the images say they were calibrated "
                                            f"with {r_flat} (R_FLAT), e.g. {images[0].path}")
        role = next((k for k, v in (("old", old), ("new", new)) if Path(v.path).resolve() == Path(cal.path).resolve()),
                    "other")
    elif r_flat in (names["old"], names["new"]):
        role = "old" if r_flat == names["old"] else "new"
        cal = old if role == "old" else new
    else:
        raise NircamFileError(images[0].path, (f"calibrated with {r_flat} (R_FLAT), which is neither the old flat "
                                               f"({names['old']}) nor the new flat ({names['new']}); give that file as "
                                               "the calibration flat (--calibration-flat)") if r_flat else
                              "no R_FLAT keyword, so the flat it was divided by is unknown; give that file as the "
                              "calibration flat (--calibration-flat)")
    images.sort(key=lambda m: (m.start_mjd or 0, m.path))
    return ValidationInputs(images, old, new, cal, role, detector, filt, pupil, bunit, r_flat, warnings)
