"""Lazy readers for NIRCam files: raw ramps, calibrated images, reference files.

Nothing here loads a whole ramp: raw ramps are uint16 FITS stored as int16 with
BZERO=32768, which astropy cannot memory-map, so groups are read on demand through
``ImageHDU.section`` (a chunk of groups at a time).

Supported layouts
-----------------
``uncal``
    JWST level-1b ``_uncal.fits``: ``SCI`` of shape (nints, ngroups, ny, nx), uint16.
``ramp``
    Pipeline ``_ramp.fits``: ``SCI`` (nints, ngroups, ny, nx) float32, with ``PIXELDQ``/``GROUPDQ``.
``ground_ramp``
    Ground-test cube, one integration per file: primary data (ngroups, ny, nx) uint16.
``cal`` / ``rate``
    2-D ``SCI``, ``ERR``, ``DQ`` images.
``reference``
    A JWST reference file, identified by its ``REFTYPE`` keyword.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.time import Time

from .detector import FULL_SIZE, get_detector, native_to_dms
from .errors import NircamFileError, NotFullFrameError

__all__ = [
    "ExposureMeta",
    "ImageFile",
    "RampFile",
    "ReferenceFile",
    "inspect",
    "is_fits",
    "open_image",
    "open_ramp",
    "open_reference",
    "require_full_frame",
]

FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz")
REFERENCE_TYPES = ("GAIN", "SUPERBIAS", "LINEARITY", "SATURATION", "MASK", "IPC", "FLAT", "READNOISE")
_SCA_IN_NAME = re.compile(r"_(48[1-9]|490)_")


def is_fits(path: str | os.PathLike) -> bool:
    """True when the name ends like a FITS file."""
    return str(path).lower().endswith(FITS_SUFFIXES)


@dataclass
class ExposureMeta:
    """What a file is and how it was taken; read from headers only.

    ``start_mjd`` is the exposure start (``EXPSTART``, or ``DATE-OBS``/``TIME-OBS``).
    ``xstart``/``ystart`` are 1-based, as in the ``SUBSTRT1``/``SUBSTRT2`` keywords.
    """

    path: str
    kind: str
    detector: str | None = None
    nints: int = 1
    ngroups: int = 1
    ny: int = 0
    nx: int = 0
    dtype: str = ""
    readpatt: str = ""
    nframes: int = 1
    groupgap: int = 0
    tframe: float | None = None
    tgroup: float | None = None
    subarray: str = ""
    xstart: int = 1
    ystart: int = 1
    filter: str = ""
    pupil: str = ""
    exp_type: str = ""
    start_mjd: float | None = None
    reftype: str = ""
    orientation: str = "dms"
    header: fits.Header = field(default_factory=fits.Header, repr=False)

    @property
    def is_full_frame(self) -> bool:
        """A full frame: subarray FULL (or no subarray given) starting at pixel 1,1.

        Simulated frames smaller than 2048 keep the full-frame layout and count as full.
        """
        sub = (self.subarray or "FULL").upper()
        return sub in ("FULL", "GENERIC") and self.xstart == 1 and self.ystart == 1

    @property
    def start_iso(self) -> str:
        """Exposure start as ISO time, or '' when unknown."""
        return Time(self.start_mjd, format="mjd").isot if self.start_mjd is not None else ""

    def summary(self) -> str:
        """One line for a file browser: detector, type, shape, filter."""
        parts = [self.detector or "?", self.reftype or self.kind]
        if self.kind in ("uncal", "ramp", "ground_ramp"):
            parts.append(f"{self.nints}x{self.ngroups} groups")
        parts.append(f"{self.nx}x{self.ny}")
        if self.filter:
            parts.append(self.filter + (f"/{self.pupil}" if self.pupil and self.pupil != "CLEAR" else ""))
        return "  ".join(parts)


def _header_value(headers: list[fits.Header], *keys: str, default=None):
    for key in keys:
        for h in headers:
            if key in h and h[key] not in (None, ""):
                return h[key]
    return default


def _start_mjd(headers: list[fits.Header]) -> float | None:
    mjd = _header_value(headers, "EXPSTART")
    if mjd is not None:
        return float(mjd)
    date = _header_value(headers, "DATE-OBS", "DATE-BEG")
    if not date:
        return None
    time = _header_value(headers, "TIME-OBS")
    text = str(date) if ("T" in str(date) or not time) else f"{date}T{time}"
    try:
        return float(Time(text, format="isot", scale="utc").mjd)
    except ValueError:
        return None


def _detector_name(headers: list[fits.Header], path: str) -> str | None:
    for key in ("DETECTOR", "SCA_ID", "SCA"):
        value = _header_value(headers, key)
        if value not in (None, ""):
            try:
                return get_detector(value).name
            except KeyError:
                pass
    match = _SCA_IN_NAME.search(os.path.basename(path))
    return get_detector(int(match.group(1))).name if match else None


def _classify(hdul: fits.HDUList) -> tuple[str, fits.hdu.base._BaseHDU | None]:
    """Kind of file and the HDU that carries its main data."""
    primary = hdul[0].header
    reftype = str(primary.get("REFTYPE", "")).upper()
    if reftype:
        return "reference", None
    names = [h.name for h in hdul]
    if "SCI" in names:
        sci = hdul["SCI"]
        naxis = sci.header.get("NAXIS", 0)
        if naxis == 4:
            bitpix = sci.header.get("BITPIX")
            return ("uncal" if bitpix in (8, 16) else "ramp"), sci
        if naxis in (2, 3):
            name = os.path.basename(hdul.filename() or "").lower()
            if "_rate" in name:
                return "rate", sci
            return "cal", sci
    if primary.get("NAXIS", 0) in (3, 4):
        return "ground_ramp", hdul[0]
    return "unknown", None


def _meta_from(hdul: fits.HDUList, path: str) -> ExposureMeta:
    kind, data_hdu = _classify(hdul)
    headers = [hdul[0].header] + ([data_hdu.header] if data_hdu is not None and data_hdu is not hdul[0] else [])
    meta = ExposureMeta(path=path, kind=kind, header=hdul[0].header)
    meta.detector = _detector_name(headers, path)
    meta.reftype = str(hdul[0].header.get("REFTYPE", "")).upper()
    if data_hdu is not None:
        shape = tuple(data_hdu.shape)
        meta.ny, meta.nx = shape[-2], shape[-1]
        if kind in ("uncal", "ramp"):
            meta.nints, meta.ngroups = shape[0], shape[1]
        elif kind == "ground_ramp":
            meta.nints, meta.ngroups = (shape[0], shape[1]) if len(shape) == 4 else (1, shape[0])
        meta.dtype = "uint16" if data_hdu.header.get("BITPIX") == 16 else str(
            fits.hdu.image.BITPIX2DTYPE.get(data_hdu.header.get("BITPIX"), "")
        )
    elif kind == "reference":
        for hdu in hdul[1:]:
            if hdu.name in ("SCI", "DQ", "COEFFS") and hdu.header.get("NAXIS", 0) >= 2:
                meta.ny, meta.nx = hdu.shape[-2], hdu.shape[-1]
                break
    meta.readpatt = str(_header_value(headers, "READPATT", default=""))
    meta.nframes = int(_header_value(headers, "NFRAMES", default=1))
    meta.groupgap = int(_header_value(headers, "GROUPGAP", default=0))
    tframe = _header_value(headers, "TFRAME")
    tgroup = _header_value(headers, "TGROUP")
    meta.tframe = float(tframe) if tframe is not None else None
    meta.tgroup = float(tgroup) if tgroup is not None else meta.tframe
    meta.subarray = str(_header_value(headers, "SUBARRAY", default="FULL" if meta.nx in (0, FULL_SIZE) else ""))
    meta.xstart = int(_header_value(headers, "SUBSTRT1", default=1))
    meta.ystart = int(_header_value(headers, "SUBSTRT2", default=1))
    meta.filter = str(_header_value(headers, "FILTER", default=""))
    meta.pupil = str(_header_value(headers, "PUPIL", default=""))
    meta.exp_type = str(_header_value(headers, "EXP_TYPE", default=""))
    meta.start_mjd = _start_mjd(headers)
    if kind == "ground_ramp":
        meta.orientation = str(hdul[0].header.get("NRCORIEN", "dms")).strip().lower()
        if meta.orientation not in ("dms", "native"):
            meta.orientation = "dms"
    return meta


def _open_fits(path: str | os.PathLike) -> fits.HDUList:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise NircamFileError(path, "file does not exist")
    if os.path.isdir(path):
        raise NircamFileError(path, "is a folder, not a FITS file")
    try:
        # no memory map: section reads of scaled uint16 data are faster without one, and
        # mapped pages would count against the process's memory as a ramp is streamed
        return fits.open(path, memmap=False)
    except (OSError, ValueError, TypeError) as exc:
        raise NircamFileError(path, f"not a readable FITS file ({exc})") from None


def inspect(path: str | os.PathLike) -> ExposureMeta:
    """Read only the headers of ``path`` and describe the file.

    Raises
    ------
    NircamFileError
        When the file is missing or not FITS.
    """
    with _open_fits(path) as hdul:
        return _meta_from(hdul, os.fspath(path))


def require_full_frame(meta: ExposureMeta, method: str) -> None:
    """Raise a clear :class:`NotFullFrameError` when ``method`` needs a full frame."""
    if not meta.is_full_frame:
        raise NotFullFrameError(
            meta.path,
            f"{method} needs full-frame data with reference pixels on all four sides; "
            f"this file is subarray {meta.subarray or '?'} ({meta.nx}x{meta.ny} at "
            f"x={meta.xstart}, y={meta.ystart})",
        )


class RampFile:
    """A raw or calibrated ramp file, read group by group.

    Use as a context manager, or call :meth:`close`. Data are returned in DMS
    orientation, shape ``(ngroups_read, ny, nx)``.

    Examples
    --------
    >>> with open_ramp("jw_uncal.fits") as ramp:           # doctest: +SKIP
    ...     for g0, chunk in ramp.iter_chunks(0, chunk=8):
    ...         ...
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        self._hdul = _open_fits(self.path)
        try:
            self.meta = _meta_from(self._hdul, self.path)
        except Exception:
            self._hdul.close()
            raise
        if self.meta.kind not in ("uncal", "ramp", "ground_ramp"):
            self._hdul.close()
            raise NircamFileError(
                self.path,
                f"not a ramp (found a {self.meta.kind} file; expected an _uncal/_ramp file with a 4-D SCI "
                "extension or a ground-test cube)",
            )
        self._hdu = self._hdul["SCI"] if self.meta.kind != "ground_ramp" else self._hdul[0]
        self._four_d = len(self._hdu.shape) == 4

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """``(nints, ngroups, ny, nx)``."""
        m = self.meta
        return m.nints, m.ngroups, m.ny, m.nx

    def read_groups(self, integration: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Read groups ``start..stop-1`` of one integration (0-based) without the rest."""
        nints, ngroups = self.meta.nints, self.meta.ngroups
        stop = ngroups if stop is None else stop
        if not 0 <= integration < nints:
            raise IndexError(f"{self.path}: integration {integration} out of range 0-{nints - 1}")
        if not 0 <= start < stop <= ngroups:
            raise IndexError(f"{self.path}: groups {start}-{stop - 1} out of range 0-{ngroups - 1}")
        try:
            if self._four_d:
                data = self._hdu.section[integration, start:stop]
            else:
                data = self._hdu.section[start:stop]
        except (OSError, ValueError) as exc:
            raise NircamFileError(self.path, f"could not read groups {start}-{stop - 1}: {exc}") from None
        if self.meta.orientation == "native" and self.meta.detector:
            data = np.ascontiguousarray(native_to_dms(data, self.meta.detector))
        return data

    def read_group(self, integration: int, group: int) -> np.ndarray:
        """One group, shape ``(ny, nx)``."""
        return self.read_groups(integration, group, group + 1)[0]

    def iter_chunks(self, integration: int, chunk: int = 8, stop: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first_group, data)`` chunks of at most ``chunk`` groups."""
        stop = self.meta.ngroups if stop is None else min(stop, self.meta.ngroups)
        for g0 in range(0, stop, chunk):
            yield g0, self.read_groups(integration, g0, min(g0 + chunk, stop))

    def read_extension(self, name: str) -> np.ndarray | None:
        """Whole small extension (``PIXELDQ``, ``GROUPDQ``...), or None if absent."""
        try:
            return np.asarray(self._hdul[name].data)
        except KeyError:
            return None

    def close(self) -> None:
        self._hdul.close()

    def __enter__(self) -> "RampFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_ramp(path: str | os.PathLike) -> RampFile:
    """Open a raw (``_uncal``, ground cube) or calibrated (``_ramp``) ramp lazily."""
    return RampFile(path)


class ImageFile:
    """A 2-D calibrated image (``_cal``/``_rate``): SCI, ERR, DQ read on first access."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        self._hdul = _open_fits(self.path)
        self.meta = _meta_from(self._hdul, self.path)
        if self.meta.kind not in ("cal", "rate"):
            self._hdul.close()
            raise NircamFileError(self.path, f"not a calibrated image (found a {self.meta.kind} file)")
        sci_shape = self._hdul["SCI"].shape
        if len(sci_shape) != 2:
            self._hdul.close()
            raise NircamFileError(self.path, f"SCI has shape {sci_shape}; a 2-D image is needed (not rateints)")

    def _ext(self, name: str) -> np.ndarray | None:
        try:
            return self._hdul[name].data
        except KeyError:
            return None

    @property
    def sci(self) -> np.ndarray:
        return self._ext("SCI")

    @property
    def err(self) -> np.ndarray | None:
        return self._ext("ERR")

    @property
    def dq(self) -> np.ndarray:
        dq = self._ext("DQ")
        return np.zeros(self.sci.shape, np.uint32) if dq is None else dq

    def close(self) -> None:
        self._hdul.close()

    def __enter__(self) -> "ImageFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_image(path: str | os.PathLike) -> ImageFile:
    """Open a ``_cal.fits`` or ``_rate.fits`` image lazily."""
    return ImageFile(path)


@dataclass
class ReferenceFile:
    """A JWST reference file's arrays and metadata.

    ``data`` is SCI (for IPC: the kernel as stored, a correction kernel), ``dq`` is DQ,
    ``coeffs`` the LINEARITY polynomial coefficients, lowest order first.
    """

    path: str
    reftype: str
    meta: ExposureMeta
    data: np.ndarray | None = None
    err: np.ndarray | None = None
    dq: np.ndarray | None = None
    coeffs: np.ndarray | None = None


def open_reference(path: str | os.PathLike, reftype: str | None = None) -> ReferenceFile:
    """Read a JWST reference file (GAIN, SUPERBIAS, LINEARITY, SATURATION, MASK, IPC, FLAT, READNOISE).

    Parameters
    ----------
    path : path-like
    reftype : str, optional
        Expected type; a file of another type raises :class:`NircamFileError`.
    """
    path = os.fspath(path)
    with _open_fits(path) as hdul:
        meta = _meta_from(hdul, path)
        found = meta.reftype
        if not found:
            raise NircamFileError(path, "not a JWST reference file (no REFTYPE keyword)")
        if reftype and found != reftype.upper():
            raise NircamFileError(path, f"is a {found} reference file, expected {reftype.upper()}")

        def ext(name: str) -> np.ndarray | None:
            return np.array(hdul[name].data) if name in hdul and hdul[name].data is not None else None

        ref = ReferenceFile(path=path, reftype=found, meta=meta)
        ref.data = ext("SCI")
        ref.err = ext("ERR")
        ref.dq = ext("DQ")
        ref.coeffs = ext("COEFFS")
    if found in ("GAIN", "SUPERBIAS", "SATURATION", "FLAT", "READNOISE", "IPC") and ref.data is None:
        raise NircamFileError(path, f"{found} reference file has no SCI array")
    if found == "LINEARITY" and ref.coeffs is None:
        raise NircamFileError(path, "LINEARITY reference file has no COEFFS array")
    if found == "MASK" and ref.dq is None:
        raise NircamFileError(path, "MASK reference file has no DQ array")
    return ref


def find_fits(folder: str | os.PathLike) -> list[Path]:
    """FITS files in ``folder`` (not recursive), sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and is_fits(p))
