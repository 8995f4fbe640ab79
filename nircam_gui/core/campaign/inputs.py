"""Campaign inputs: any mix of files and folders, grouped into one job per detector.

Headers only are read here, on the machine that plans the campaign; the work and the
reading of the pixels happen on the Dask workers. A detector whose inputs are missing or
inconsistent gets its problems listed by name (:attr:`DetectorJob.problems`): the
campaign refuses to start, or skips it with ``keep_going``, and never mixes files of two
detectors.

Reference files come from the ``--refs`` folders (CRDS-style files recognised by REFTYPE
and matched on DETECTOR and SUBARRAY, e.g. a CRDS cache's ``references/jwst/nircam/``),
scanned once for the whole campaign; without them, from beside each detector's inputs
(and their ``reference`` subfolder), as a single-detector run finds them. Epoxy-void
regions are DS9 region files or FITS masks whose file name holds the detector's name
(``epoxy_void_nrcb4.reg``, ``NRCB4_low_epoxy.fits``) or, for a FITS mask, whose
``DETECTOR`` keyword says it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from astropy.io import fits

from ..detector import DETECTORS
from ..errors import NircamFileError
from ..readers import ExposureMeta, is_fits, read_metadata
from ..references import REFERENCE_SUBFOLDER, ReferenceSet
from ..regionsio import is_mask_file

__all__ = ["DetectorJob", "collect_inputs", "find_regions", "scan_folder"]

#: folders the simulator (and people) keep beside a data set that hold no inputs
_NOT_INPUTS = {REFERENCE_SUBFOLDER, "truth"}
_REGION_SUFFIXES = (".reg",)
#: words in the name of a FITS epoxy-void mask found in a folder (STScI's are "low_epoxy" masks)
_MASK_WORDS = ("epoxy", "void")


@dataclass
class DetectorJob:
    """Everything one detector's task needs: small, picklable, paths only.

    Attributes
    ----------
    detector : str
        Detector name (``NRCA1`` ... ``NRCBLONG``).
    files : list of str
        Its input files (ramps or ``_cal`` images), in the order given.
    references : dict
        What the analysis needs beside the inputs, as ``{name: path}`` (GainOptions
        fields for the gain; ``ground_flats``/``ground_masks`` lists for sky flats).
    regions : str or None
        Its epoxy-void region file or mask.
    keys : list of str
        FILTER/PUPIL groups of its inputs (sky flats), for the tables.
    split : dict
        Sky flats: the stack parts (one Dask task each), ``{name: [image positions]}``.
    problems : list of str
        Why it cannot run (``<file>: <problem>``); empty when it can.
    notes : list of str
        What was found that did not stop it (e.g. a reference type not found).
    options : object
        The analysis' options for this detector (its own reference files and regions).
    """

    detector: str
    files: list[str]
    references: dict = field(default_factory=dict)
    regions: str | None = None
    keys: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: the analysis' options object for this detector (None until its inputs are checked)
    options: object = None
    #: tasks its main work splits into (gain: its pairs; sky flats: its stack parts; each is a Dask task)
    parts: int = 1
    #: sky flats: image positions (in stack order) of each stack part, by part name (filter token)
    split: dict = field(default_factory=dict)
    #: sky flats: at most this many images per stack part (0: one part per filter)
    images_per_task: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def scan_folder(folder: Path) -> list[Path]:
    """FITS files under ``folder``, recursively, sorted; hidden entries and the ``reference``
    and ``truth`` subfolders (reference files and the simulator's truth) are left out."""
    out: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _NOT_INPUTS)
        out.extend(Path(root) / f for f in sorted(files) if not f.startswith(".") and is_fits(Path(root) / f))
    return out


def collect_inputs(paths: Iterable[str | os.PathLike], kinds: Iterable[str], what: str
                   ) -> tuple[dict[str, list[ExposureMeta]], list[str]]:
    """Input files of ``kinds`` among files and folders, grouped by DETECTOR.

    Parameters
    ----------
    paths : iterable of path-like
        Files and folders (searched recursively, see :func:`scan_folder`).
    kinds : iterable of str
        :attr:`ExposureMeta.kind` values accepted (``uncal``, ``ground_ramp``, ``cal`` ...).
    what : str
        What the inputs are, for messages ("flat-field ramps").

    Returns
    -------
    (by_detector, skipped)
        ``{detector: [meta, ...]}`` in detector order, each list in the order found, and
        the files of folders that were skipped (``<file>: <what it is>``).

    Raises
    ------
    NircamFileError
        A path that does not exist, a file given by name that is not one of ``kinds``
        or has no detector, or no input at all.
    """
    kinds = set(kinds)
    by_det: dict[str, list[ExposureMeta]] = {}
    skipped: list[str] = []
    seen: set[str] = set()
    given = [Path(p) for p in paths]
    for p in given:
        if not p.exists():
            raise NircamFileError(p, "file does not exist")
        named = not p.is_dir()
        for f in ([p] if named else scan_folder(p)):
            key = os.path.abspath(f)
            if key in seen:
                continue
            seen.add(key)
            try:
                meta = read_metadata(f)
            except NircamFileError as exc:
                if named:
                    raise
                skipped.append(str(exc))
                continue
            if meta.kind not in kinds or meta.reftype:
                if named:
                    raise NircamFileError(f, f"given as one of the {what}, but it is {meta.description}")
                if not meta.reftype:
                    skipped.append(f"{f}: {meta.description}")
                continue
            if not meta.detector:
                raise NircamFileError(f, "no detector in the header (DETECTOR or SCA_ID): it cannot be given to "
                                         "a detector of the campaign")
            by_det.setdefault(meta.detector, []).append(meta)
    if not by_det:
        where = ", ".join(os.fspath(p) for p in given[:3]) + ("..." if len(given) > 3 else "")
        raise NircamFileError(where or "(no files)", f"no {what} found")
    order = {d: i for i, d in enumerate(DETECTORS)}
    return dict(sorted(by_det.items(), key=lambda kv: (order.get(kv[0], 99), kv[0]))), skipped


def _region_candidates(paths: Iterable[str | os.PathLike]) -> list[Path]:
    out = []
    for p in map(Path, paths):
        if not p.exists():
            raise NircamFileError(p, "region file or folder does not exist")
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _NOT_INPUTS)
                # in a folder beside ramps and reference files, a FITS mask says what it is in its name
                out.extend(Path(root) / f for f in sorted(files)
                           if f.lower().endswith(_REGION_SUFFIXES)
                           or (is_mask_file(f) and any(w in f.lower() for w in _MASK_WORDS)))
        else:
            out.append(p)
    return out


def _names_detector(path: Path, detector: str) -> bool:
    """Whether the file name holds the detector's name (``nrcb4``, ``NRCB4``; ``b4`` as a word)."""
    stem = path.name.lower()
    full = detector.lower()
    if full in stem:  # no NIRCam detector's name holds another's
        return True
    short = full.removeprefix("nrc")
    return re.search(rf"(?<![a-z0-9]){short}(?![a-z0-9])", stem) is not None


def _header_detector(path: Path) -> str:
    try:
        with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
            for hdu in hdul:
                value = str(hdu.header.get("DETECTOR", "")).strip().upper()
                if value:
                    return value
    except (OSError, ValueError):
        return ""
    return ""


def find_regions(paths: Iterable[str | os.PathLike], detectors: Iterable[str]) -> tuple[dict[str, str], dict]:
    """The epoxy-void region file of each detector among ``paths`` (files or folders).

    In folders (searched recursively, ``reference`` and ``truth`` left out), DS9 ``.reg``
    files and FITS masks with "epoxy" or "void" in their name are candidates; files given
    by name are candidates whatever their name.

    Returns
    -------
    (found, ambiguous)
        ``{detector: path}``, and ``{detector: [paths]}`` for detectors that more than one
        file names (a problem for that detector: which one is meant is unknown).
    """
    candidates = _region_candidates(paths)
    headers = {c: _header_detector(c) for c in candidates if is_mask_file(c)}
    found: dict[str, str] = {}
    ambiguous: dict[str, list[str]] = {}
    for det in detectors:
        hits = [c for c in candidates if _names_detector(c, det) or headers.get(c) == det.upper()]
        if len(hits) == 1:
            found[det] = os.fspath(hits[0])
        elif hits:
            ambiguous[det] = [os.fspath(h) for h in hits]
    return found, ambiguous


def scan_references(paths: Iterable[str | os.PathLike], reftypes: Iterable[str]) -> ReferenceSet:
    """The reference files in ``paths`` (each folder with its ``reference`` subfolder), read once."""
    return ReferenceSet.scan(list(paths), list(reftypes), subfolder=True)
