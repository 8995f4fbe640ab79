"""What the sky-flat method assumes of its inputs, checked before any work.

A delta sky flat measures how the flat changed since the flat an image was calibrated
with (report JWST-STScI-008304, section 3), so:

- every image must be flat-fielded (``S_FLAT = COMPLETE``); a ``_rate`` image is not;
- the images of one detector, filter and pupil must share one flat (``R_FLAT``);
- a new flat is built on the ground flat the images were calibrated with: the file named
  by their ``R_FLAT`` (``crds://jwst_nircam_flat_0312.fits`` -> ``jwst_nircam_flat_0312.fits``),
  found among the ground flats given (files, or folders such as a CRDS cache's
  ``references/jwst/nircam/``);
- all images share one BUNIT, the unit the backgrounds are reported in.

A conflict is an error naming the odd file, never a guess. A stack whose R_FLAT file is not
among the ground flats given gets no new flat (a warning says why).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from astropy.io import fits

from ..errors import NircamFileError
from ..readers import ExposureMeta, find_fits, inspect, is_fits, require_full_frame

__all__ = ["SkyflatInputs", "check_skyflat_inputs", "flat_name"]


@dataclass
class SkyflatInputs:
    """Images and the ground flats matched to them."""

    images: list[ExposureMeta]
    #: ground FLAT per (detector, filter, pupil), the file the images' R_FLAT names
    flats: dict[tuple[str, str, str], ExposureMeta] = field(default_factory=dict)
    #: R_FLAT file name per (detector, filter, pupil) ("" when the images do not say)
    r_flat: dict[tuple[str, str, str], str] = field(default_factory=dict)
    #: BUNIT of the images (the backgrounds' unit)
    bunit: str = "MJy/sr"
    warnings: list[str] = field(default_factory=list)


def flat_name(r_flat: str) -> str:
    """File name of an ``R_FLAT`` value: ``crds://jwst_nircam_flat_0312.fits`` -> ``jwst_nircam_flat_0312.fits``."""
    text = str(r_flat or "").strip()
    if text.lower().startswith("crds://"):
        text = text[len("crds://"):]
    return os.path.basename(text)


def _key(meta: ExposureMeta) -> tuple[str, str, str]:
    return meta.detector, meta.filter.upper(), (meta.pupil or "CLEAR").upper()


def _calibration_keywords(path: str) -> tuple[str, str, str]:
    """S_FLAT, R_FLAT (file name) and the SCI BUNIT of an image."""
    try:
        with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
            primary = hdul[0].header
            sci = hdul["SCI"].header if "SCI" in hdul else primary
            return (str(primary.get("S_FLAT", "")).strip().upper(), flat_name(primary.get("R_FLAT", "")),
                    str(sci.get("BUNIT", primary.get("BUNIT", ""))).strip())
    except (OSError, ValueError) as exc:
        raise NircamFileError(path, f"could not read its header ({exc})") from None


def _images(cal_files) -> tuple[list[ExposureMeta], list[str]]:
    from .run import expand_inputs

    metas, warnings = [], []
    given = {Path(p) for p in cal_files if not Path(p).is_dir()}
    for p in expand_inputs(cal_files):
        meta = inspect(p)
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
    return metas, warnings


def _flat_candidates(ground_flats) -> tuple[dict[str, list[Path]], list[Path]]:
    """FITS files by name (folders listed, not opened: a CRDS cache holds thousands) and the files named."""
    by_name: dict[str, list[Path]] = {}
    named = []
    for g in ground_flats:
        g = Path(g)
        if g.is_dir():
            files = find_fits(g)
        elif g.exists():
            files = [g]
            named.append(g)
        else:
            raise NircamFileError(g, "ground flat: file or folder does not exist")
        for f in files:
            if is_fits(f):
                by_name.setdefault(f.name, []).append(f)
    return by_name, named


def check_skyflat_inputs(cal_files, ground_flats=()) -> SkyflatInputs:
    """Check images and ground flats against what the sky-flat method assumes.

    Parameters
    ----------
    cal_files : iterable of path-like
        ``_cal.fits`` files or folders of them.
    ground_flats : iterable of path-like
        FLAT reference files or folders; per image the file its ``R_FLAT`` names is used.

    Returns
    -------
    SkyflatInputs

    Raises
    ------
    NircamFileError
        Naming the file and the problem: not a flat-fielded image, images of one
        detector and filter calibrated with different flats, the flat an image was
        calibrated with not among the ground flats, mixed BUNIT.
    """
    images, warnings = _images(cal_files)
    out = SkyflatInputs(images=images, warnings=warnings)
    keywords = {m.path: _calibration_keywords(m.path) for m in images}
    for m in images:
        s_flat = keywords[m.path][0]
        if m.kind == "rate" or s_flat != "COMPLETE":
            what = "a _rate image" if m.kind == "rate" else f"S_FLAT = {s_flat or '(missing)'}"
            raise NircamFileError(m.path, f"not flat-fielded ({what}): a delta sky flat is measured against the "
                                          "flat an image was calibrated with; give _cal images (calwebb_image2 "
                                          "with its flat_field step)")
    # one unit and one flat per stack; the odd one out is blamed, not whichever file sorts first
    units = [(m.path, keywords[m.path][2]) for m in images if keywords[m.path][2]]
    out.bunit = _majority(units, "BUNIT", "backgrounds of one run need one unit")
    groups: dict[tuple[str, str, str], list[tuple[str, str]]] = {}
    for m in images:
        groups.setdefault(_key(m), []).append((m.path, keywords[m.path][1]))
    for key, members in groups.items():
        out.r_flat[key] = _majority(members, "flat (R_FLAT)", f"images of one detector, filter and pupil "
                                    f"({' '.join(key)}) are stacked together and must share one flat; recalibrate "
                                    "them with one flat or run them separately")
    if not ground_flats:
        return out
    by_name, named = _flat_candidates(ground_flats)
    named_meta = {}
    for p in named:
        meta = inspect(p)
        if meta.reftype != "FLAT":
            raise NircamFileError(p, f"given as a ground FLAT, but it is {meta.description}")
        named_meta[p] = meta
    for key, name in out.r_flat.items():
        path = groups[key][0][0]
        if not name:
            out.warnings.append(f"{path}: no R_FLAT keyword, so the flat the {' '.join(key)} images were calibrated "
                                "with is unknown; no ground flat is matched to them and no new flat is made")
            continue
        found = by_name.get(name, [])
        if not found:
            out.warnings.append(f"{path}: calibrated with {name} (R_FLAT), which is not among the ground flats "
                                f"given; no new flat for {' '.join(key)} (give that file, or the folder holding it, "
                                "e.g. a CRDS cache's references/jwst/nircam/)")
            continue
        meta = named_meta.get(found[0]) or inspect(found[0])
        if meta.reftype != "FLAT":
            raise NircamFileError(found[0], f"named by the R_FLAT of {path}, but it is {meta.description}")
        if _key(meta) != key:
            raise NircamFileError(found[0], f"named by the R_FLAT of {path}, but it is the flat for "
                                            f"{' '.join(_key(meta))}, the image {' '.join(key)}")
        out.flats[key] = meta
    used = {Path(m.path).resolve() for m in out.flats.values()}
    for p, meta in named_meta.items():
        if p.resolve() in used:
            continue
        key = _key(meta)
        if key in groups:
            raise NircamFileError(p, f"given as the ground flat for {' '.join(key)}, but those images were "
                                     f"calibrated with {out.r_flat[key] or '(no R_FLAT)'}, e.g. {groups[key][0][0]}: "
                                     "a new flat must be built on the flat the images were calibrated with")
        out.warnings.append(f"{p}: FLAT reference file for {' '.join(key)} matches none of the images "
                            f"({', '.join(sorted(' '.join(k) for k in groups))}); not used")
    return out


def _majority(members: list[tuple[str, str]], what: str, why: str) -> str:
    """The value most members have; a NircamFileError naming the first member that differs."""
    if not members:
        return ""
    counts = Counter(v for _, v in members)
    common, n = counts.most_common(1)[0]
    odd = next(((p, v) for p, v in members if v != common), None)
    if odd is not None:
        other = next(p for p, v in members if v == common)
        raise NircamFileError(odd[0], f"{what} is {odd[1] or '(missing)'}, but {n} other image(s), e.g. {other}, "
                                      f"have {common or '(missing)'}: {why}")
    return common
