"""How a ``_cal`` image was calibrated, and the one value a set of images must share.

A delta flat, and the re-flat-fielding of a validation, are measured against the flat an
image was calibrated with, so both analyses read the same three keywords of every image
(``S_FLAT``, ``R_FLAT``, ``BUNIT``) and refuse a set whose images disagree, blaming the odd
image rather than whichever file sorts first.
"""

from __future__ import annotations

from collections import Counter

from astropy.io import fits

from ..errors import NircamFileError
from ..references import crds_file_name

__all__ = ["calibration_keywords", "shared_value"]


def calibration_keywords(path: str) -> tuple[str, str, str]:
    """``S_FLAT`` (upper case), the file name ``R_FLAT`` names, and the SCI ``BUNIT`` of an image.

    Missing keywords are ``""``.

    Raises
    ------
    NircamFileError
        The header cannot be read.
    """
    try:
        with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
            primary = hdul[0].header
            sci = hdul["SCI"].header if "SCI" in hdul else primary
            return (str(primary.get("S_FLAT", "")).strip().upper(), crds_file_name(primary.get("R_FLAT", "")),
                    str(sci.get("BUNIT", primary.get("BUNIT", ""))).strip())
    except (OSError, ValueError) as exc:
        raise NircamFileError(path, f"could not read its header ({exc})") from None


def shared_value(members: list[tuple[str, str]], what: str, why: str) -> str:
    """The value all ``(path, value)`` members share (``""`` for no members).

    Parameters
    ----------
    members : list of (str, str)
        Each image's path and its value.
    what : str
        The value's name in the message (e.g. ``"BUNIT"``).
    why : str
        Why the values must agree, for the message.

    Raises
    ------
    NircamFileError
        Naming the first member whose value differs from the one most members have, and
        an image that has that value.
    """
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
