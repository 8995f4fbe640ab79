"""Input checking of a sky-flat analysis: which ``_cal`` images, which ground references.

:func:`check_inputs` reads headers only, before any work. It refuses what the method
cannot use: a named file that is not a full-frame calibrated image, a ground reference
file of the wrong type, and what breaks the method's assumptions. A delta sky flat
measures how the flat changed since the flat an image was calibrated with (report
JWST-STScI-008304, section 3), so:

- every image must be flat-fielded (``S_FLAT = COMPLETE``); a ``_rate`` image is not;
- the images of one detector, filter and pupil must share one flat (``R_FLAT``);
- a new flat is built on the ground flat the images were calibrated with: the file named
  by their ``R_FLAT`` (``crds://jwst_nircam_flat_0312.fits`` -> ``jwst_nircam_flat_0312.fits``),
  found among the ground flats given (files, or folders such as a CRDS cache's
  ``references/jwst/nircam/``);
- all images share one BUNIT, the unit the backgrounds are reported in.

A conflict is an error naming the odd file, never a guess. A stack whose R_FLAT file is not
among the ground flats given gets no new flat (a warning says why). The ground MASK of each
detector is matched through :class:`~nircam_gui.core.references.ReferenceSet`.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from astropy.time import Time

from ..errors import NircamFileError
from ..readers import ExposureMeta, read_metadata, require_full_frame
from ..references import ReferenceSet, crds_file_name, expand_paths, files_by_name, reference_matches
from .calibration_keywords import calibration_keywords, shared_value

__all__ = ["SkyflatInputs", "check_flat_fielded", "check_inputs", "collect_calibrated", "filter_token", "flat_name"]

#: USEAFTER and PEDIGREE dates when no image has an exposure start
_DEFAULT_DATE = "2022-07-01"

#: the file name an ``R_FLAT`` value names
flat_name = crds_file_name


def filter_token(filt: str, pupil: str) -> str:
    """Name used in output files: ``F150W``, or ``F444W_F405N`` when the pupil holds a filter."""
    pupil = (pupil or "CLEAR").upper()
    return filt.upper() if pupil in ("CLEAR", "NONE", "") else f"{filt.upper()}_{pupil}"


def _key(meta: ExposureMeta) -> tuple[str, str, str]:
    return meta.detector, meta.filter.upper(), (meta.pupil or "CLEAR").upper()


@dataclass
class SkyflatInputs:
    """Checked inputs: images per detector (in stack order) and their ground references."""

    images: list[ExposureMeta]
    by_detector: dict[str, list[ExposureMeta]]
    #: the ground FLATs matched to the images (by R_FLAT) and the ground MASKs given
    references: ReferenceSet
    warnings: list[str] = field(default_factory=list)
    #: ground FLAT per (detector, filter, pupil): the file the images' R_FLAT names
    flats: dict[tuple[str, str, str], ExposureMeta] = field(default_factory=dict)
    #: R_FLAT file name per (detector, filter, pupil) ("" when the images do not say)
    r_flat: dict[tuple[str, str, str], str] = field(default_factory=dict)
    #: BUNIT of the images (the backgrounds' unit)
    bunit: str = "MJy/sr"

    def ground_flat(self, image: ExposureMeta) -> ExposureMeta | None:
        """The ground FLAT an image's stack was calibrated with (None when it is not among those given)."""
        return self.flats.get(_key(image))

    def ground_mask(self, detector: str) -> ExposureMeta | None:
        return self.references.find("MASK", detector=detector)

    def frame_shapes(self) -> dict[str, tuple[int, int]]:
        """``{detector: (ny, nx)}`` of the images (one frame size per detector: all are full frames)."""
        return {det: (metas[0].ny, metas[0].nx) for det, metas in self.by_detector.items()}

    def useafter_pedigree(self) -> tuple[str, str]:
        """USEAFTER (first exposure start) and PEDIGREE (INFLIGHT first last) of the products."""
        start = [m.start_mjd for m in self.images if m.start_mjd is not None]
        if not start:
            return f"{_DEFAULT_DATE}T00:00:00", f"INFLIGHT {_DEFAULT_DATE} {_DEFAULT_DATE}"
        first, last = Time(min(start), format="mjd").isot, Time(max(start), format="mjd").isot
        return first[:19], f"INFLIGHT {first[:10]} {last[:10]}"


def collect_calibrated(cal_files: list, full_frame_for: str | None = None) -> tuple[list[ExposureMeta], list[str]]:
    """Header metadata of the calibrated images among ``cal_files`` (files or folders).

    Other files in a folder are skipped with a warning; a file given by name that is not a
    calibrated image, or an image without DETECTOR, is an error. With ``full_frame_for`` (the
    method's name, for the message) a subarray image is an error too.

    Returns
    -------
    metas, warnings
    """
    warnings: list[str] = []
    metas = []
    given = {Path(p) for p in cal_files if not Path(p).is_dir()}
    for p in expand_paths(cal_files):
        meta = read_metadata(p)
        if meta.kind not in ("cal", "rate") or meta.reftype:
            if p not in given:  # other files in a folder are skipped, a named one is an error
                warnings.append(f"{p}: skipped, not a calibrated image")
                continue
            raise NircamFileError(p, f"not a calibrated image; found {meta.description}")
        if full_frame_for:
            require_full_frame(meta, full_frame_for)
        if not meta.detector:
            raise NircamFileError(p, "no DETECTOR keyword")
        metas.append(meta)
    return metas, warnings


def check_flat_fielded(images: list[ExposureMeta], keywords: dict, why: str) -> None:
    """Refuse an image that is a ``_rate`` file or whose S_FLAT is not COMPLETE.

    ``keywords`` maps each path to :func:`.calibration_keywords.calibration_keywords`; ``why`` says, in the message,
    why the analysis needs flat-fielded images.
    """
    for m in images:
        s_flat = keywords[m.path][0]
        if m.kind == "rate" or s_flat != "COMPLETE":
            what = "a _rate image" if m.kind == "rate" else f"S_FLAT = {s_flat or '(missing)'}"
            raise NircamFileError(m.path, f"not flat-fielded ({what}): {why}")


def _images(cal_files: list) -> tuple[list[ExposureMeta], list[str]]:
    metas, warnings = collect_calibrated(cal_files, "the sky-flat method")
    if not metas:
        given_list = [os.fspath(p) for p in cal_files]
        where = ", ".join(given_list[:3]) + ("..." if len(given_list) > 3 else "") or "(no files)"
        folder = len(given_list) == 1 and Path(given_list[0]).is_dir()
        raise NircamFileError(where, "no _cal images found" + (" in this folder" if folder else ""))
    return metas, warnings


def _ground_flats(ground_flats: list, r_flat: dict, groups: dict, warnings: list[str]) -> dict:
    """The ground FLAT of each stack: the file its R_FLAT names, among ``ground_flats``."""
    by_name, named = files_by_name(ground_flats)
    named_refs = ReferenceSet.scan(named, ["FLAT"], given_as="a ground FLAT")  # a named file must be a FLAT
    named_meta = dict(zip(named, named_refs.files))
    flats = {}
    for key, name in r_flat.items():
        path = groups[key][0][0]
        if not name:
            warnings.append(f"{path}: no R_FLAT keyword, so the flat the {' '.join(key)} images were calibrated "
                            "with is unknown; no ground flat is matched to them and no new flat is made")
            continue
        found = by_name.get(name, [])
        if not found:
            warnings.append(f"{path}: calibrated with {name} (R_FLAT), which is not among the ground flats "
                            f"given; no new flat for {' '.join(key)} (give that file, or the folder holding it, "
                            "e.g. a CRDS cache's references/jwst/nircam/)")
            continue
        meta = named_meta.get(found[0]) or read_metadata(found[0])
        if (meta.reftype or "").upper() != "FLAT":
            raise NircamFileError(found[0], f"named by the R_FLAT of {path}, but it is {meta.description}")
        if not reference_matches(meta, detector=key[0], filter=key[1], pupil=key[2]):
            raise NircamFileError(found[0], f"named by the R_FLAT of {path}, but it is the flat for "
                                            f"{' '.join(_key(meta))}, the image {' '.join(key)}")
        flats[key] = meta
    used = {Path(m.path).resolve() for m in flats.values()}
    for p, meta in named_meta.items():
        if p.resolve() in used:
            continue
        key = _key(meta)
        if key in groups:
            raise NircamFileError(p, f"given as the ground flat for {' '.join(key)}, but those images were "
                                     f"calibrated with {r_flat[key] or '(no R_FLAT)'}, e.g. {groups[key][0][0]}: "
                                     "a new flat must be built on the flat the images were calibrated with")
        # silently unused, the user would read "no ground FLAT given" and not know why
        warnings.append(f"{p}: FLAT reference file for {' '.join(key)} matches none of the images "
                        f"({', '.join(sorted(' '.join(k) for k in groups))}); not used")
    return flats


def check_inputs(cal_files, ground_flats=(), ground_masks=()) -> SkyflatInputs:
    """Read the headers of the inputs and check them against what the sky-flat method assumes.

    Parameters
    ----------
    cal_files : iterable of path-like
        ``_cal.fits`` files or folders of them (other files in a folder are skipped with a
        warning; a file given by name must be a calibrated image).
    ground_flats : iterable of path-like
        FLAT reference files or folders (folders are listed, not read); each stack's new
        flat is built on the file its images' ``R_FLAT`` names.
    ground_masks : iterable of path-like
        MASK reference files or folders, matched on the detector.

    Returns
    -------
    SkyflatInputs

    Raises
    ------
    NircamFileError
        Naming the file and the problem: a missing file, a named file that is not a
        full-frame ``_cal`` image (or not a FLAT/MASK where one was given), an image
        without DETECTOR, no images at all, an image that is not flat-fielded, images
        of one detector and filter calibrated with different flats, a ground flat given
        for images calibrated with another, mixed BUNIT.
    """
    cal_files, ground_flats, ground_masks = list(cal_files), list(ground_flats), list(ground_masks)
    images, warnings = _images(cal_files)
    keywords = {m.path: calibration_keywords(m.path) for m in images}
    check_flat_fielded(images, keywords, "a delta sky flat is measured against the flat an image was calibrated "
                                         "with; give _cal images (calwebb_image2 with its flat_field step)")
    # one unit and one flat per stack; the odd one out is blamed, not whichever file sorts first
    units = [(m.path, keywords[m.path][2]) for m in images if keywords[m.path][2]]
    bunit = shared_value(units, "BUNIT", "backgrounds of one run need one unit")
    groups: dict[tuple[str, str, str], list[tuple[str, str]]] = {}
    for m in images:
        groups.setdefault(_key(m), []).append((m.path, keywords[m.path][1]))
    r_flat = {key: shared_value(members, "flat (R_FLAT)", f"images of one detector, filter and pupil "
                             f"({' '.join(key)}) are stacked together and must share one flat; recalibrate "
                             "them with one flat or run them separately")
              for key, members in groups.items()}
    flats = _ground_flats(ground_flats, r_flat, groups, warnings) if ground_flats else {}
    masks = ReferenceSet.scan(ground_masks, ["MASK"], given_as="a ground MASK")
    named = {Path(p) for p in ground_masks if not Path(p).is_dir()}
    detectors = {m.detector for m in images}
    for ref in masks.files:
        if Path(ref.path) in named and not any(reference_matches(ref, detector=d) for d in detectors):
            warnings.append(f"{ref.path}: MASK reference file for {ref.detector} matches none of the images "
                            f"({', '.join(sorted(' '.join(k) for k in groups))}); not used")
    by_det: dict[str, list[ExposureMeta]] = defaultdict(list)
    for m in images:
        by_det[m.detector].append(m)
    for dmetas in by_det.values():
        dmetas.sort(key=lambda m: (m.filter, m.pupil, m.start_mjd or 0, m.path))
    return SkyflatInputs(images, dict(sorted(by_det.items())), ReferenceSet([*flats.values(), *masks.files]),
                         warnings, flats, r_flat, bunit)
