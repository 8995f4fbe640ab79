"""Input checking of a sky-flat analysis: which ``_cal`` images, which ground references.

:func:`check_inputs` reads headers only. It refuses what the method cannot use (a named
file that is not a full-frame calibrated image, a ground reference file of the wrong
type), groups the images by detector and matches the ground FLAT (detector, filter,
pupil) and MASK (detector) of each through :class:`~nircam_gui.core.references.ReferenceSet`.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from astropy.time import Time

from ..errors import NircamFileError
from ..readers import ExposureMeta, read_metadata, require_full_frame
from ..references import ReferenceSet, expand_paths, reference_matches

__all__ = ["SkyflatInputs", "check_inputs", "filter_token"]

#: USEAFTER and PEDIGREE dates when no image has an exposure start
_DEFAULT_DATE = "2022-07-01"


def filter_token(filt: str, pupil: str) -> str:
    """Name used in output files: ``F150W``, or ``F444W_F405N`` when the pupil holds a filter."""
    pupil = (pupil or "CLEAR").upper()
    return filt.upper() if pupil in ("CLEAR", "NONE", "") else f"{filt.upper()}_{pupil}"


@dataclass
class SkyflatInputs:
    """Checked inputs: images per detector (in stack order) and their ground references."""

    images: list[ExposureMeta]
    by_detector: dict[str, list[ExposureMeta]]
    references: ReferenceSet
    warnings: list[str] = field(default_factory=list)

    def ground_flat(self, image: ExposureMeta) -> ExposureMeta | None:
        """The ground FLAT for an image's detector, filter and pupil."""
        return self.references.find("FLAT", detector=image.detector, filter=image.filter,
                                    pupil=image.pupil or "CLEAR")

    def ground_mask(self, detector: str) -> ExposureMeta | None:
        return self.references.find("MASK", detector=detector)

    def useafter_pedigree(self) -> tuple[str, str]:
        """USEAFTER (first exposure start) and PEDIGREE (INFLIGHT first last) of the products."""
        start = [m.start_mjd for m in self.images if m.start_mjd is not None]
        if not start:
            return f"{_DEFAULT_DATE}T00:00:00", f"INFLIGHT {_DEFAULT_DATE} {_DEFAULT_DATE}"
        first, last = Time(min(start), format="mjd").isot, Time(max(start), format="mjd").isot
        return first[:19], f"INFLIGHT {first[:10]} {last[:10]}"


def check_inputs(cal_files, ground_flats=(), ground_masks=()) -> SkyflatInputs:
    """Read the headers of the inputs and check that the method can use them.

    Parameters
    ----------
    cal_files : iterable of path-like
        ``_cal.fits`` files or folders of them (other files in a folder are skipped with a
        warning; a file given by name must be a calibrated image).
    ground_flats, ground_masks : iterable of path-like
        FLAT and MASK reference files, or folders of them.

    Raises
    ------
    NircamFileError
        A missing file, a named file that is not a full-frame ``_cal`` image (or not a
        FLAT/MASK where one was given), an image without DETECTOR, no images at all.
    """
    cal_files = list(cal_files)
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
        require_full_frame(meta, "the sky-flat method")
        if not meta.detector:
            raise NircamFileError(p, "no DETECTOR keyword")
        metas.append(meta)
    if not metas:
        given_list = [os.fspath(p) for p in cal_files]
        where = ", ".join(given_list[:3]) + ("..." if len(given_list) > 3 else "") or "(no files)"
        folder = len(given_list) == 1 and Path(given_list[0]).is_dir()
        raise NircamFileError(where, "no _cal images found" + (" in this folder" if folder else ""))
    flats = ReferenceSet.scan(ground_flats, ["FLAT"], given_as="a ground FLAT")
    masks = ReferenceSet.scan(ground_masks, ["MASK"], given_as="a ground MASK")
    refs = ReferenceSet(flats.files + masks.files)
    image_keys = {(m.detector, m.filter.upper(), (m.pupil or "CLEAR").upper()) for m in metas}
    named = {Path(p) for p in [*ground_flats, *ground_masks] if not Path(p).is_dir()}
    for ref in refs.files:
        used = any(reference_matches(ref, detector=d, **({} if ref.reftype == "MASK" else {"filter": f, "pupil": pu}))
                   for d, f, pu in image_keys)
        if not used and Path(ref.path) in named:
            # silently unused, the user would read "no ground FLAT given" and not know why
            key = ref.detector if ref.reftype == "MASK" else \
                f"{ref.detector} {ref.filter.upper()} {(ref.pupil or 'CLEAR').upper()}"
            warnings.append(f"{ref.path}: {ref.reftype} reference file for {key} matches none of the images "
                            f"({', '.join(sorted(' '.join(k) for k in image_keys))}); not used")
    by_det: dict[str, list[ExposureMeta]] = defaultdict(list)
    for m in metas:
        by_det[m.detector].append(m)
    for dmetas in by_det.values():
        dmetas.sort(key=lambda m: (m.filter, m.pupil, m.start_mjd or 0, m.path))
    return SkyflatInputs(metas, dict(sorted(by_det.items())), refs, warnings)

