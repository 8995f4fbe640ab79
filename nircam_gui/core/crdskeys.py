"""Keywords a CRDS delivery needs: USEAFTER, PEDIGREE, subarray, selection keywords.

CRDS selects NIRCam reference files on the keywords of its rules (the ``parkey`` of the
crds package's ``jwst/specs/nircam_<type>.spec``): GAIN and MASK on DETECTOR and FILTER,
FLAT on DETECTOR, FILTER and PUPIL. A file that lacks one of them fails ``crds certify``.
"""

from __future__ import annotations

from datetime import datetime

from .detector import FULL_SIZE
from .options import option

__all__ = ["DELIVERY_GROUP", "SELECTION_KEYWORDS", "check_delivery", "check_pedigree", "check_useafter",
           "delivery_option", "subarray_keywords"]

#: ``--help`` group of the delivery options of every analysis that writes reference files
DELIVERY_GROUP = "CRDS delivery keywords of the reference files"

_UNSET = object()
#: default and help of each delivery option, shared by the analyses' options schemas
_DELIVERY_OPTIONS = {
    "author": ("nircam-gui", "AUTHOR of the reference files"),
    "useafter": (None, "USEAFTER of the reference files, e.g. 2014-08-01T00:00:00 (default: the first input's "
                       "exposure start)"),
    "pedigree": (None, "PEDIGREE: GROUND, MODEL, DUMMY, SIMULATION or 'INFLIGHT YYYY-MM-DD YYYY-MM-DD'"),
    "descrip": (None, "DESCRIP of the reference files (default: what each file holds)"),
    "history": (None, "extra HISTORY text of the reference files"),
}

#: keywords the CRDS rules for NIRCam select on, besides DETECTOR (crds jwst specs)
SELECTION_KEYWORDS = {"GAIN": ("FILTER",), "MASK": ("FILTER",), "FLAT": ("FILTER", "PUPIL")}

_PEDIGREES_PLAIN = ("GROUND", "MODEL", "DUMMY", "SIMULATION")


def delivery_option(name: str, default=_UNSET, help_extra: str = ""):
    """The options-schema field of delivery keyword ``name`` (author, useafter, pedigree, descrip, history).

    ``default`` replaces the shared default where an analysis has its own (the gain's
    PEDIGREE is GROUND, a sky flat's the INFLIGHT dates of its images); ``help_extra`` is
    appended to the help text.
    """
    shared_default, help_text = _DELIVERY_OPTIONS[name]
    return option(shared_default if default is _UNSET else default, help_text + help_extra, group=DELIVERY_GROUP)


def check_useafter(text: str) -> str:
    """``text`` as the ``YYYY-MM-DDTHH:MM:SS`` a JWST USEAFTER needs; ValueError if it is not a date.

    A date alone (``2014-08-01``) means its midnight.
    """
    s = str(text).strip().replace(" ", "T")
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d"):
        try:
            return datetime.strptime(s, fmt).strftime("%Y-%m-%dT%H:%M:%S")
        except ValueError:
            continue
    raise ValueError(f"USEAFTER {text!r}: use a date and time like 2014-08-01T00:00:00")


def check_pedigree(text: str) -> str:
    """A valid JWST PEDIGREE (GROUND, MODEL, DUMMY, SIMULATION or INFLIGHT YYYY-MM-DD YYYY-MM-DD)."""
    words = str(text).strip().upper().split()
    if len(words) == 1 and words[0] in _PEDIGREES_PLAIN:
        return words[0]
    if len(words) == 3 and words[0] in ("INFLIGHT", "MODEL"):
        try:
            start, stop = (datetime.strptime(w, "%Y-%m-%d") for w in words[1:])
        except ValueError:
            start = stop = None
        if start is not None and start <= stop:
            return " ".join(words)
    raise ValueError(f"PEDIGREE {text!r}: use GROUND, MODEL, DUMMY, SIMULATION or "
                     "'INFLIGHT YYYY-MM-DD YYYY-MM-DD' (start not after stop)")


def check_delivery(author: str, useafter: str | None, pedigree: str | None) -> tuple[str, str | None, str | None]:
    """Validated AUTHOR, USEAFTER, PEDIGREE as an analysis's options give them (None: the default).

    Raises
    ------
    ValueError
        With a message saying which keyword is wrong and what is expected.
    """
    if not str(author or "").strip():
        raise ValueError("AUTHOR is empty: CRDS needs the name of the person delivering the file")
    return (str(author).strip(), None if useafter is None else check_useafter(useafter),
            None if pedigree is None else check_pedigree(pedigree))


def subarray_keywords(shape: tuple[int, ...]) -> dict[str, object]:
    """SUBARRAY, SUBSTRT1/2, SUBSIZE1/2 that say what a frame of ``shape`` is.

    A 2048x2048 frame is FULL. A smaller frame made by the simulator keeps the full-frame
    layout (reference border, four amplifier stripes), so it is no standard NIRCam
    subarray: it is GENERIC, starting at pixel 1, 1 with its own size.
    """
    ny, nx = int(shape[-2]), int(shape[-1])
    name = "FULL" if (ny, nx) == (FULL_SIZE, FULL_SIZE) else "GENERIC"
    return {"name": name, "xstart": 1, "ystart": 1, "xsize": nx, "ysize": ny}
