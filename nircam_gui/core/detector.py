"""NIRCam detector model: names, channels, amplifiers, reference pixels, orientation.

All pixel coordinates here are 0-based, in DMS (science) orientation, row-major
``array[y, x]``: x is the column, read by one of four amplifiers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "DETECTORS",
    "FULL_SIZE",
    "N_AMPLIFIERS",
    "REF_BORDER",
    "Detector",
    "amplifier_bounds",
    "amplifier_index",
    "dms_to_native",
    "get_detector",
    "native_to_dms",
    "reference_pixel_mask",
    "science_slices",
]

FULL_SIZE = 2048
N_AMPLIFIERS = 4
#: Reference pixels: the outer 4 rows and 4 columns of a full frame.
REF_BORDER = 4


@dataclass(frozen=True)
class Detector:
    """One NIRCam sensor chip assembly (SCA).

    Attributes
    ----------
    name : str
        DMS name, as in the ``DETECTOR`` keyword (``NRCA1`` ... ``NRCBLONG``).
    ground_name : str
        Name used in ground testing (``A1`` ... ``BLONG``).
    sca : int
        SCA number (481-490).
    channel : str
        ``"SW"`` (short wave) or ``"LW"`` (long wave).
    fastaxis, slowaxis : int
        DMS ``FASTAXIS``/``SLOWAXIS`` keywords: how the native read-out order maps to
        DMS orientation (sign gives the direction, 1 = x, 2 = y).
    """

    name: str
    ground_name: str
    sca: int
    channel: str
    fastaxis: int
    slowaxis: int

    @property
    def module(self) -> str:
        """Module, ``"A"`` or ``"B"``."""
        return self.name[3]

    @property
    def is_longwave(self) -> bool:
        return self.channel == "LW"

    @property
    def signal_limit(self) -> float:
        """Default upper single-frame signal (ADU) for the PTC fit (report 004622, 5.3)."""
        return 7500.0 if self.is_longwave else 5000.0


# FASTAXIS/SLOWAXIS follow the DMS orientation convention of the NIRCam team's
# re-orientation scripts: A2, A4, B1, B3, BLONG read along +x; the others along -x.
_TABLE = [
    ("NRCA1", "A1", 481, "SW", -1, 2),
    ("NRCA2", "A2", 482, "SW", 1, -2),
    ("NRCA3", "A3", 483, "SW", -1, 2),
    ("NRCA4", "A4", 484, "SW", 1, -2),
    ("NRCALONG", "ALONG", 485, "LW", -1, 2),
    ("NRCB1", "B1", 486, "SW", 1, -2),
    ("NRCB2", "B2", 487, "SW", -1, 2),
    ("NRCB3", "B3", 488, "SW", 1, -2),
    ("NRCB4", "B4", 489, "SW", -1, 2),
    ("NRCBLONG", "BLONG", 490, "LW", 1, -2),
]

DETECTORS: dict[str, Detector] = {row[0]: Detector(*row) for row in _TABLE}

_ALIASES: dict[str, str] = {}
for _d in DETECTORS.values():
    for _alias in (_d.name, _d.ground_name, str(_d.sca), "NRC" + _d.ground_name):
        _ALIASES[_alias.upper()] = _d.name
# Ground files call the long-wave arrays A5 and B5.
_ALIASES.update({"A5": "NRCALONG", "B5": "NRCBLONG", "NRCA5": "NRCALONG", "NRCB5": "NRCBLONG"})


def get_detector(name: str | int | Detector) -> Detector:
    """Look up a detector by DMS name, ground name or SCA number.

    Parameters
    ----------
    name : str or int
        ``"NRCB1"``, ``"B1"``, ``486``, ``"NRCA5"`` (= ALONG) and similar, any case.

    Returns
    -------
    Detector

    Raises
    ------
    KeyError
        With the list of known names, when ``name`` is not a NIRCam detector.
    """
    if isinstance(name, Detector):
        return name
    key = str(name).strip().upper()
    try:
        return DETECTORS[_ALIASES[key]]
    except KeyError:
        known = ", ".join(DETECTORS)
        raise KeyError(f"unknown NIRCam detector {name!r} (known: {known})") from None


def amplifier_bounds(nx: int = FULL_SIZE) -> list[tuple[int, int]]:
    """Column ranges ``[start, stop)`` of the four amplifiers.

    A full frame has 512 columns per amplifier. Smaller simulated frames that keep the
    full-frame layout (reference border on all sides) are split the same way, into four
    equal stripes.
    """
    if nx % N_AMPLIFIERS:
        raise ValueError(f"frame width {nx} is not divisible into {N_AMPLIFIERS} amplifiers")
    w = nx // N_AMPLIFIERS
    return [(i * w, (i + 1) * w) for i in range(N_AMPLIFIERS)]


def amplifier_index(nx: int = FULL_SIZE) -> np.ndarray:
    """Amplifier number (0-3) of every column, shape ``(nx,)``."""
    w = nx // N_AMPLIFIERS
    if nx % N_AMPLIFIERS:
        raise ValueError(f"frame width {nx} is not divisible into {N_AMPLIFIERS} amplifiers")
    return np.arange(nx) // w


def reference_pixel_mask(shape: tuple[int, int], border: int = REF_BORDER) -> np.ndarray:
    """Boolean mask, True on the reference-pixel border of a full-layout frame."""
    mask = np.zeros(shape, dtype=bool)
    mask[:border, :] = mask[-border:, :] = True
    mask[:, :border] = mask[:, -border:] = True
    return mask


def science_slices(shape: tuple[int, int], border: int = REF_BORDER) -> tuple[slice, slice]:
    """``(yslice, xslice)`` of the light-sensitive pixels inside the reference border."""
    ny, nx = shape
    return slice(border, ny - border), slice(border, nx - border)


def _flip_axes(det: Detector) -> tuple[bool, bool, bool]:
    # native arrays are read fast along their last axis; DMS x is the fast axis
    # when |FASTAXIS| == 1, otherwise the axes are transposed.
    transpose = abs(det.fastaxis) != 1
    flip_x = det.fastaxis < 0 if not transpose else det.slowaxis < 0
    flip_y = det.slowaxis < 0 if not transpose else det.fastaxis < 0
    return transpose, flip_y, flip_x


def native_to_dms(array: np.ndarray, detector: str | Detector) -> np.ndarray:
    """Turn an image (or stack, last two axes y, x) from native read-out order to DMS.

    NIRCam's FASTAXIS/SLOWAXIS are +-1/+-2, so the transform is a flip of x and/or y.
    """
    det = detector if isinstance(detector, Detector) else get_detector(detector)
    transpose, flip_y, flip_x = _flip_axes(det)
    out = array
    if transpose:
        out = np.swapaxes(out, -1, -2)
    if flip_y:
        out = out[..., ::-1, :]
    if flip_x:
        out = out[..., :, ::-1]
    return out


def dms_to_native(array: np.ndarray, detector: str | Detector) -> np.ndarray:
    """Inverse of :func:`native_to_dms`."""
    det = detector if isinstance(detector, Detector) else get_detector(detector)
    transpose, flip_y, flip_x = _flip_axes(det)
    out = array
    if flip_x:
        out = out[..., :, ::-1]
    if flip_y:
        out = out[..., ::-1, :]
    if transpose:
        out = np.swapaxes(out, -1, -2)
    return out
