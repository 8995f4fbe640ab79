"""Finding CRDS reference files: from files, folders, or beside the inputs.

One finder for every analysis, the command line and the GUI. A reference file is
recognised by its header (``REFTYPE``), never by its name, and matched to the data on
``DETECTOR``, ``FILTER``/``PUPIL`` (when the reference file has them) and ``SUBARRAY``.
Where the data name the file they were calibrated with (a ``_cal`` image's ``R_FLAT``),
:func:`files_by_name` finds that file by its name, in folders as large as a CRDS cache.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import NircamFileError
from .readers import ExposureMeta, find_fits, is_fits, read_metadata

__all__ = ["ReferenceSet", "crds_file_name", "expand_paths", "files_by_name", "reference_matches"]

#: the folder beside a data set where the simulator (and people) keep its reference files
REFERENCE_SUBFOLDER = "reference"


def expand_paths(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given, folders expanded to the FITS files they hold.

    Raises
    ------
    NircamFileError
        A path that does not exist.
    """
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out.extend(find_fits(p))
        elif p.exists():
            out.append(p)
        else:
            raise NircamFileError(p, "file does not exist")
    return out


def crds_file_name(value: str | None) -> str:
    """File name of a reference named in a header: ``crds://jwst_nircam_flat_0312.fits`` -> ``jwst_nircam_flat_0312.fits``."""
    text = str(value or "").strip()
    if text.lower().startswith("crds://"):
        text = text[len("crds://"):]
    return os.path.basename(text)


def files_by_name(paths: Iterable[str | os.PathLike]) -> tuple[dict[str, list[Path]], list[Path]]:
    """FITS files among ``paths`` by file name, none of them opened, and the files given by name.

    Folders are listed, not read: a CRDS cache's ``references/jwst/nircam/`` holds thousands
    of files, of which a run needs the few its data name.

    Raises
    ------
    NircamFileError
        A path that does not exist.
    """
    by_name: dict[str, list[Path]] = {}
    named: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files = find_fits(p)
        elif p.exists():
            files = [p]
            named.append(p)
        else:
            raise NircamFileError(p, "file does not exist")
        for f in files:
            if is_fits(f):
                by_name.setdefault(f.name, []).append(f)
    return by_name, named


def _norm(value: str | None, blank: str = "") -> str:
    value = (value or "").strip().upper()
    return blank if value in ("", "N/A", "ANY", "NONE") else value


def reference_matches(ref: ExposureMeta, *, detector: str | None = None, filter: str | None = None,
                      pupil: str | None = None, subarray: str | None = None) -> bool:
    """Whether reference file ``ref`` applies to data with these keywords.

    A keyword the reference file does not set (e.g. no FILTER in a SUPERBIAS) matches
    anything; one the caller does not give (None) is not checked. PUPIL is compared only
    when FILTER is, a missing PUPIL reads as CLEAR.
    """
    if detector is not None and _norm(ref.detector) and _norm(ref.detector) != _norm(detector):
        return False
    if filter is not None and _norm(ref.filter):
        if _norm(ref.filter) != _norm(filter):
            return False
        if pupil is not None and _norm(ref.pupil, "CLEAR") != _norm(pupil, "CLEAR"):
            return False
    if subarray is not None and _norm(ref.subarray) and _norm(subarray):
        sub_ref, sub = _norm(ref.subarray), _norm(subarray)
        if sub_ref != sub and not ({sub_ref, sub} <= {"FULL", "GENERIC"}):
            return False
    return True


@dataclass
class ReferenceSet:
    """Reference files found in files and folders, searched by type and keywords.

    The first file found for a match wins: files and folders in the order given, files of
    a folder in name order.
    """

    files: list[ExposureMeta] = field(default_factory=list)
    #: files that could not be read while folders were scanned ("<file>: <why>")
    problems: list[str] = field(default_factory=list)

    @classmethod
    def scan(cls, paths: Iterable[str | os.PathLike], reftypes: Iterable[str] | None = None, *,
             subfolder: bool = False, given_as: str = "") -> ReferenceSet:
        """Reference files among ``paths`` (files or folders).

        Parameters
        ----------
        paths : iterable of path-like
            Files and folders. A file given by name must be a reference file of one of
            ``reftypes``; in a folder, other files are skipped.
        reftypes : iterable of str, optional
            REFTYPEs to keep (all reference files when None).
        subfolder : bool
            Also look in each folder's ``reference`` subfolder (beside the inputs).
        given_as : str
            What a named file was given as, for the message when it is not one
            (e.g. "a ground FLAT"); by default the wanted REFTYPEs.

        Raises
        ------
        NircamFileError
            A path that does not exist, or a file given by name that is not a wanted
            reference file.
        """
        wanted = None if reftypes is None else {r.upper() for r in reftypes}
        found = cls()
        for p in paths:
            p = Path(p)
            if not p.exists():
                raise NircamFileError(p, "file does not exist")
            if p.is_dir():
                folders = [p]
                if subfolder and (p / REFERENCE_SUBFOLDER).is_dir():
                    folders.append(p / REFERENCE_SUBFOLDER)
                for folder in folders:
                    for f in find_fits(folder):
                        try:
                            meta = read_metadata(f)
                        except NircamFileError as exc:
                            found.problems.append(str(exc))
                            continue
                        if meta.reftype and (wanted is None or meta.reftype.upper() in wanted):
                            found.files.append(meta)
                continue
            meta = read_metadata(p)
            if not meta.reftype or (wanted is not None and meta.reftype.upper() not in wanted):
                what = given_as or f"a {' or '.join(sorted(wanted)) if wanted else ''} reference file"
                raise NircamFileError(p, f"given as {what}, but it is {meta.description}")
            found.files.append(meta)
        return found

    def of_type(self, reftype: str) -> list[ExposureMeta]:
        """Every file of ``reftype``, in the order found."""
        return [m for m in self.files if m.reftype.upper() == reftype.upper()]

    def find(self, reftype: str, *, detector: str | None = None, filter: str | None = None,
             pupil: str | None = None, subarray: str | None = None) -> ExposureMeta | None:
        """The first reference file of ``reftype`` that applies to data with these keywords."""
        for m in self.of_type(reftype):
            if reference_matches(m, detector=detector, filter=filter, pupil=pupil, subarray=subarray):
                return m
        return None

    def find_for(self, data: ExposureMeta, reftypes: Iterable[str]) -> dict[str, str]:
        """``{REFTYPE: path}`` of the files that apply to the exposure ``data``."""
        out = {}
        for reftype in reftypes:
            m = self.find(reftype, detector=data.detector, filter=data.filter, pupil=data.pupil,
                          subarray=data.subarray or None)
            if m is not None:
                out[reftype.upper()] = m.path
        return out
