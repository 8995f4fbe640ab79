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
from ._quiet import quiet_warnings
from .errors import NircamFileError, NotFullFrameError

__all__ = [
    "ExposureMeta",
    "ImageFile",
    "RampFile",
    "ReferenceFile",
    "read_metadata",
    "reference_flags",
    "is_fits",
    "open_image",
    "open_ramp",
    "open_reference",
    "require_full_frame",
    "require_same_detector",
]

FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz")
REFERENCE_TYPES = ("GAIN", "SUPERBIAS", "LINEARITY", "SATURATION", "MASK", "IPC", "FLAT", "READNOISE")
_SCA_IN_NAME = re.compile(r"_(48[1-9]|490)_")


def _a(word: str) -> str:
    """The article for a reference type as it is read aloud: "an IPC", "a MASK"."""
    return "an" if word[:1].upper() in "AEIO" and word[:1] else "a"


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
    #: why the file is of ``kind`` "unknown" (empty otherwise), for messages
    problem: str = ""
    header: fits.Header = field(default_factory=fits.Header, repr=False)

    @property
    def description(self) -> str:
        """What the file was found to be, for messages: "a cal image", "an unrecognised file (...)"."""
        if self.kind == "unknown":
            return f"an unrecognised file: {self.problem}" if self.problem else "an unrecognised file"
        what = {"uncal": "a raw _uncal ramp", "ramp": "a calibrated _ramp file", "ground_ramp": "a ground-test ramp",
                "cal": "a calibrated image", "rate": "a rate image"}.get(self.kind, f"a {self.kind} file")
        return f"{_a(self.reftype)} {self.reftype} reference file" if self.reftype else what

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


class _BadKeyword(ValueError):
    """A header keyword whose value is not of the type it must have."""


def _number(headers: list[fits.Header], key: str, kind: type, default=None):
    """``kind(value)`` of a header keyword; a value that cannot be converted names the keyword."""
    value = _header_value(headers, key, default=default)
    if value is None:
        return None
    try:
        number = kind(value)
    except (TypeError, ValueError, OverflowError):
        raise _BadKeyword(f"header keyword {key} = {value!r} is not {'an integer' if kind is int else 'a number'}")
    if kind is float and not np.isfinite(number):
        raise _BadKeyword(f"header keyword {key} = {value!r} is not a finite number")
    return number


def _start_mjd(headers: list[fits.Header]) -> float | None:
    mjd = _number(headers, "EXPSTART", float)
    if mjd is not None:
        return mjd
    date = _header_value(headers, "DATE-OBS", "DATE-BEG")
    if not date:
        return None
    time = _header_value(headers, "TIME-OBS")
    text = str(date) if ("T" in str(date) or not time) else f"{date}T{time}"
    try:
        return float(Time(text, format="isot", scale="utc").mjd)
    except (ValueError, TypeError):
        return None


def _detector_name(headers: list[fits.Header], path: str) -> str | None:
    for key in ("DETECTOR", "SCA_ID", "SCA"):
        value = _header_value(headers, key)
        if value not in (None, ""):
            try:
                return get_detector(value).name
            except (KeyError, ValueError, TypeError):
                pass
    match = _SCA_IN_NAME.search(os.path.basename(path))
    return get_detector(int(match.group(1))).name if match else None


def _unknown_reason(hdul: fits.HDUList) -> str:
    """Why a file is none of the supported layouts, in the words of the layouts."""
    names = [h.name for h in hdul]
    if "SCI" in names:
        sci = hdul["SCI"]
        return (f"its SCI extension is {sci.header.get('NAXIS', 0)}-D, where a ramp has 4 axes "
                "[integration, group, y, x] and an image 2")
    naxis = hdul[0].header.get("NAXIS", 0)
    what = "no data" if not naxis else f"{naxis}-D data"
    return f"it has no SCI extension, and its primary HDU holds {what}, not a 3-D or 4-D ground-test ramp"


def _classify(hdul: fits.HDUList) -> tuple[str, fits.hdu.base._BaseHDU | None]:
    """Kind of file and the HDU that carries its main data."""
    primary = hdul[0].header
    reftype = str(primary.get("REFTYPE", "")).upper()
    if reftype:
        return "reference", None
    names = [h.name for h in hdul]
    if "SCI" in names:
        sci = hdul["SCI"]
        if not isinstance(sci, (fits.ImageHDU, fits.PrimaryHDU, fits.CompImageHDU)):
            return "unknown", None
        naxis = sci.header.get("NAXIS", 0)
        if naxis == 4:
            bitpix = sci.header.get("BITPIX")
            return ("uncal" if bitpix in (8, 16) else "ramp"), sci
        if naxis in (2, 3):
            name = os.path.basename(hdul.filename() or "").lower()
            if "_rate" in name:
                return "rate", sci
            return "cal", sci
    if primary.get("NAXIS", 0) in (3, 4) and isinstance(hdul[0], fits.PrimaryHDU):
        return "ground_ramp", hdul[0]
    return "unknown", None


def _meta_from(hdul: fits.HDUList, path: str) -> ExposureMeta:
    kind, data_hdu = _classify(hdul)
    headers = [hdul[0].header] + ([data_hdu.header] if data_hdu is not None and data_hdu is not hdul[0] else [])
    meta = ExposureMeta(path=path, kind=kind, header=hdul[0].header)
    if kind == "unknown":
        meta.problem = _unknown_reason(hdul)
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
    meta.nframes = _number(headers, "NFRAMES", int, default=1)
    meta.groupgap = _number(headers, "GROUPGAP", int, default=0)
    meta.tframe = _number(headers, "TFRAME", float)
    tgroup = _number(headers, "TGROUP", float)
    meta.tgroup = tgroup if tgroup is not None else meta.tframe
    meta.subarray = str(_header_value(headers, "SUBARRAY", default="FULL" if meta.nx in (0, FULL_SIZE) else ""))
    meta.xstart = _number(headers, "SUBSTRT1", int, default=1)
    meta.ystart = _number(headers, "SUBSTRT2", int, default=1)
    meta.filter = str(_header_value(headers, "FILTER", default=""))
    meta.pupil = str(_header_value(headers, "PUPIL", default=""))
    meta.exp_type = str(_header_value(headers, "EXP_TYPE", default=""))
    meta.start_mjd = _start_mjd(headers)
    if kind == "ground_ramp":
        meta.orientation = str(hdul[0].header.get("NRCORIEN", "dms")).strip().lower()
        if meta.orientation not in ("dms", "native"):
            meta.orientation = "dms"
    return meta


def _expected_size(hdul: fits.HDUList) -> tuple[int, int]:
    """Bytes the headers say the file holds: the end of the last HDU's data without and with padding."""
    end = end_padded = 0
    for hdu in hdul:
        info = hdu.fileinfo()
        if info is None:
            continue
        end = max(end, int(info["datLoc"]) + int(hdu.size))
        end_padded = max(end_padded, int(info["datLoc"]) + int(info["datSpan"]))
    return end, end_padded


def _cut_in_header(path: str, offset: int) -> bool:
    """True when the bytes after the last complete HDU begin another extension's header.

    astropy stops quietly at an extension whose header was cut short and returns the
    HDUs before it, so a file truncated there would otherwise pass as whole.
    """
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(8) == b"XTENSION"


_MAX_NAXIS = 999  # the FITS standard's limit


def _card_int(card: bytes) -> int | None:
    try:
        return int(card[10:80].split(b"/", 1)[0].strip())
    except ValueError:
        return None


def _check_axis_counts(path: str, size: int) -> None:
    """Refuse a header whose NAXIS is beyond the FITS limit, before astropy sees it.

    astropy builds a Python list with one entry per axis while it opens a file, so a
    damaged NAXIS card (say 5,706,649) takes minutes and gigabytes before any error. Only
    the header blocks are read: each HDU's data is skipped by its declared size.
    """
    pos = 0
    with open(path, "rb") as f:
        for _ in range(1000):  # HDUs; a real file has a handful
            f.seek(pos)
            cards: dict[bytes, int | None] = {}
            end = False
            while not end:
                block = f.read(2880)
                if len(block) < 2880:
                    return  # truncated: reported later, with the file's size
                pos += 2880
                for i in range(0, 2880, 80):
                    key = block[i:i + 8].rstrip()
                    if key == b"END":
                        end = True
                        break
                    if key in (b"NAXIS", b"BITPIX", b"PCOUNT", b"GCOUNT") or (
                            key.startswith(b"NAXIS") and key[5:].isdigit()):
                        cards[key] = _card_int(block[i:i + 80])
            naxis = cards.get(b"NAXIS")
            if naxis is not None and not 0 <= naxis <= _MAX_NAXIS:
                raise NircamFileError(path, f"header keyword NAXIS = {naxis} is not a number of axes (0-{_MAX_NAXIS}); "
                                            "the header is damaged")
            bitpix = cards.get(b"BITPIX")
            if naxis is None or bitpix is None:
                return  # let astropy say what is wrong
            n = 1 if naxis else 0
            for k in range(1, naxis + 1):
                axis = cards.get(b"NAXIS%d" % k)
                if axis is None or axis < 0:
                    return
                n *= axis
            data = abs(bitpix) // 8 * (cards.get(b"GCOUNT") or 1) * ((cards.get(b"PCOUNT") or 0) + n)
            pos += -(-data // 2880) * 2880
            if pos >= size:
                return


def _file_state(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def _open_fits(path: str | os.PathLike) -> fits.HDUList:
    """Open a FITS file lazily, after checking that it is whole.

    Every header is read (not the data) so that a truncated file - an interrupted copy
    or download, or a file still being written - is reported here, by name, rather
    than as a failed read in the middle of an analysis.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise NircamFileError(path, "file does not exist")
    if os.path.isdir(path):
        raise NircamFileError(path, "is a folder, not a FITS file")
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise NircamFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    if size == 0:
        raise NircamFileError(path, "is empty (0 bytes), not a FITS file")
    try:
        with open(path, "rb") as f:
            head = f.read(80)
    except OSError as exc:
        raise NircamFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    gz = head[:2] == b"\x1f\x8b"
    if not gz and not head.startswith(b"SIMPLE  ="):
        # astropy's own message here suggests a programming option; say what the user needs to know
        raise NircamFileError(path, "not a readable FITS file: it does not begin with a FITS header "
                                    "(the SIMPLE keyword)")
    if not gz:
        _check_axis_counts(path, size)
    hdul = None
    try:
        # astropy reports damaged headers as warnings before failing; the error below
        # says the same in one line, so the warnings are not shown as well
        with quiet_warnings():
            # no memory map: section reads of scaled uint16 data are faster without one, and
            # mapped pages would count against the process's memory as a ramp is streamed
            hdul = fits.open(path, memmap=False)
            hdul.readall()
            expected, padded = (0, 0) if gz else _expected_size(hdul)
    except Exception as exc:  # astropy raises many types on damaged files (OSError, ValueError, KeyError...)
        if hdul is not None:
            hdul.close()
        if isinstance(exc, PermissionError):
            raise NircamFileError(path, "cannot be read: permission denied") from None
        if not gz and size % 2880:
            raise NircamFileError(path, f"not a readable FITS file: truncated or damaged ({size} bytes is not a "
                                        f"whole number of 2880-byte FITS blocks; {_short(exc)})") from None
        raise NircamFileError(path, f"not a readable FITS file ({_short(exc)})") from None
    if expected > size:
        hdul.close()
        raise NircamFileError(path, f"is truncated: {size} bytes, but its headers describe {expected}; "
                                    "an interrupted copy or download, or a file still being written?")
    if not gz and size > padded and _cut_in_header(path, padded):
        n = len(hdul)
        hdul.close()
        raise NircamFileError(path, f"is truncated: it ends inside the header of extension {n} (after {size} "
                                    "bytes); an interrupted copy or download, or a file still being written?")
    return hdul


def _short(exc: BaseException, limit: int = 160) -> str:
    """The first line of an exception's message, kept short for a one-line error."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _meta_checked(hdul: fits.HDUList, path: str) -> ExposureMeta:
    """:func:`_meta_from`, with a header that cannot be understood reported by name."""
    try:
        return _meta_from(hdul, path)
    except _BadKeyword as exc:
        raise NircamFileError(path, str(exc)) from None
    except Exception as exc:  # astropy's VerifyError for unparsable cards, odd types, missing axes...
        raise NircamFileError(path, f"header not understood ({_short(exc)})") from None


def read_metadata(path: str | os.PathLike) -> ExposureMeta:
    """Read only the headers of ``path`` and describe the file.

    Raises
    ------
    NircamFileError
        When the file is missing or not FITS.
    """
    with _open_fits(path) as hdul:
        return _meta_checked(hdul, os.fspath(path))


def require_full_frame(meta: ExposureMeta, method: str) -> None:
    """Raise a clear :class:`NotFullFrameError` when ``method`` needs a full frame."""
    if not meta.is_full_frame:
        raise NotFullFrameError(
            meta.path,
            f"{method} needs full-frame data with reference pixels on all four sides; "
            f"this file is subarray {meta.subarray or '?'} ({meta.nx}x{meta.ny} at "
            f"x={meta.xstart}, y={meta.ystart})",
        )


def _read_failure(path: str, state: tuple[int, int], what: str, exc: BaseException) -> str:
    """Why reading ``what`` failed: a file changed since it was opened says so."""
    try:
        now = _file_state(path)
    except OSError:
        return f"could not read {what}: the file was removed or renamed while it was read"
    if now != state:
        return (f"could not read {what}: the file changed while it was read (it was {state[0]} bytes, "
                f"now {now[0]}); is another program writing or copying it?")
    return f"could not read {what} ({_short(exc)})"


def _open_kind(path: str, kinds: tuple[str, ...], refusal: str):
    """Open ``path`` and read its metadata; unless its kind is one of ``kinds``, close it and
    raise ``refusal`` (with ``{found}`` replaced by what the file is).

    Returns
    -------
    (HDUList, file state, ExposureMeta)
    """
    hdul = _open_fits(path)
    state = _file_state(path)
    try:
        meta = _meta_checked(hdul, path)
        if meta.kind not in kinds:
            raise NircamFileError(path, refusal.format(found=meta.description))
    except Exception:
        hdul.close()
        raise
    return hdul, state, meta


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
        self._hdul, self._state, self.meta = _open_kind(
            self.path, ("uncal", "ramp", "ground_ramp"),
            "not a ramp; found {found} (a ramp is an _uncal/_ramp file with a 4-D SCI extension, or a "
            "ground-test cube)")
        self._hdu = self._hdul["SCI"] if self.meta.kind != "ground_ramp" else self._hdul[0]
        self._four_d = len(self._hdu.shape) == 4
        if min(self.shape) < 1:
            self._hdul.close()
            raise NircamFileError(self.path, f"the ramp is empty: shape {self._hdu.shape} has an axis of length 0")

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
        except Exception as exc:  # astropy: OSError, ValueError (short reads), TypeError...
            raise NircamFileError(self.path, _read_failure(self.path, self._state,
                                                           f"groups {start + 1}-{stop} of integration "
                                                           f"{integration + 1}", exc)) from None
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
            hdu = self._hdul[name]
        except KeyError:
            return None
        try:
            return np.asarray(hdu.data)
        except Exception as exc:
            raise NircamFileError(self.path, _read_failure(self.path, self._state, name, exc)) from None

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
        self._hdul, self._state, self.meta = _open_kind(self.path, ("cal", "rate"),
                                                        "not a calibrated image; found {found}")
        sci_shape = self._hdul["SCI"].shape
        if len(sci_shape) != 2:
            self._hdul.close()
            raise NircamFileError(self.path, f"SCI has shape {sci_shape}; a 2-D image is needed (not rateints)")
        if min(sci_shape) < 1:
            self._hdul.close()
            raise NircamFileError(self.path, f"the image is empty: SCI has shape {sci_shape}")

    def _ext(self, name: str) -> np.ndarray | None:
        try:
            hdu = self._hdul[name]
        except KeyError:
            return None
        try:
            return hdu.data
        except Exception as exc:  # a short read, or a file rewritten since it was opened
            raise NircamFileError(self.path, _read_failure(self.path, self._state, name, exc)) from None

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


def open_reference(path: str | os.PathLike, reftype: str | None = None,
                   extensions: tuple[str, ...] | None = None) -> ReferenceFile:
    """Read a JWST reference file (GAIN, SUPERBIAS, LINEARITY, SATURATION, MASK, IPC, FLAT, READNOISE).

    Parameters
    ----------
    path : path-like
    reftype : str, optional
        Expected type; a file of another type raises :class:`NircamFileError`.
    extensions : tuple of str, optional
        The arrays to read, of ``"SCI"``, ``"ERR"``, ``"DQ"``, ``"COEFFS"`` (default all);
        the others are left None. A full-frame LINEARITY or SUPERBIAS file holds tens of MB
        a caller may not need. A requested array the type must have is still checked.
    """
    path = os.fspath(path)
    wanted = ("SCI", "ERR", "DQ", "COEFFS") if extensions is None else tuple(e.upper() for e in extensions)
    with _open_fits(path) as hdul:
        state = _file_state(path)
        meta = _reference_meta(hdul, path, reftype)
        found = meta.reftype

        direct = _plain_file(path)

        def ext(name: str) -> np.ndarray | None:
            if name not in wanted or name not in hdul:
                return None
            try:
                data = _image_words(hdul[name], direct) if direct is not None else None
                if data is not None:
                    return data
                data = hdul[name].data
                # read without a memory map, the array is the file's own copy: no second one
                return None if data is None else np.asarray(data)
            except Exception as exc:
                raise NircamFileError(path, _read_failure(path, state, name, exc)) from None

        ref = ReferenceFile(path=path, reftype=found, meta=meta)
        try:
            ref.data = ext("SCI")
            ref.err = ext("ERR")
            ref.dq = ext("DQ")
            ref.coeffs = ext("COEFFS")
        finally:
            if direct is not None:
                direct.close()
    for name, arr in (("SCI", ref.data), ("ERR", ref.err), ("DQ", ref.dq), ("COEFFS", ref.coeffs)):
        if arr is not None and (arr.dtype.names is not None or arr.dtype.kind not in "biuf" or arr.ndim < 2):
            raise NircamFileError(path, f"{found} reference file: {name} is not a numeric image "
                                        f"(shape {arr.shape}, type {arr.dtype})")
    if found in ("GAIN", "SUPERBIAS", "SATURATION", "FLAT", "READNOISE", "IPC") and "SCI" in wanted \
            and ref.data is None:
        raise NircamFileError(path, f"{found} reference file has no SCI array")
    if found == "LINEARITY" and "COEFFS" in wanted and ref.coeffs is None:
        raise NircamFileError(path, "LINEARITY reference file has no COEFFS array")
    if found == "MASK" and "DQ" in wanted and ref.dq is None:
        raise NircamFileError(path, "MASK reference file has no DQ array")
    return ref


def _reference_meta(hdul: fits.HDUList, path: str, reftype: str | None) -> ExposureMeta:
    """The metadata of a reference file, refused unless it is one (of type ``reftype`` if given)."""
    meta = _meta_checked(hdul, path)
    found = meta.reftype
    if not found:
        raise NircamFileError(path, "not a JWST reference file (no REFTYPE keyword)")
    if reftype and found != reftype.upper():
        raise NircamFileError(path, f"is {_a(found)} {found} reference file, expected {reftype.upper()}")
    return meta


def reference_flags(path: str | os.PathLike, reftype: str, bits: int,
                    extension: str = "DQ") -> tuple[ReferenceFile, np.ndarray, int]:
    """Where a reference file's flag array has any of ``bits`` set, in the form cheapest to read.

    Returns ``(ref, words, stored_bits)``: ``ref`` holds the metadata (no array), and
    ``(words & stored_bits) != 0`` is true exactly where ``(flags & bits) != 0``
    (``stored_bits`` fits the words: bits wider than the array's are dropped). An
    uncompressed integer image comes as its stored words, neither byte-swapped nor offset
    by BZERO (a bit test needs neither: ``stored_bits`` is ``bits`` in the stored byte
    order); anything else is decoded as :func:`open_reference` does, with ``bits`` as given.

    Raises
    ------
    NircamFileError
        As :func:`open_reference`: not a reference file of type ``reftype``, no such array,
        an array that holds no flags (floats that are not whole numbers), a failed read.
    """
    path = os.fspath(path)
    with _open_fits(path) as hdul:
        state = _file_state(path)
        meta = _reference_meta(hdul, path, reftype)
        if extension not in hdul:
            raise NircamFileError(path, f"{meta.reftype} reference file has no {extension} array")
        direct = _plain_file(path)
        words = None
        try:
            if direct is not None:
                words = _image_words(hdul[extension], direct, decode=False, keep_bits=bits)
        except Exception as exc:
            raise NircamFileError(path, _read_failure(path, state, extension, exc)) from None
        finally:
            if direct is not None:
                direct.close()
    if words is None or words.ndim < 2:
        decoded = open_reference(path, reftype, (extension,))
        arr = decoded.data if extension == "SCI" else getattr(decoded, extension.lower())
        if arr.dtype.kind == "f":  # a scaled integer image decodes to floats: whole numbers are flags
            with np.errstate(invalid="ignore"):
                whole = bool(np.all((arr >= 0) & (arr < 2**32) & (arr == np.round(arr))))  # NaN compares False
            if not whole:
                raise NircamFileError(path, f"{meta.reftype} reference file: {extension} is not an image of flags "
                                            f"(values that are not whole numbers from 0 to 2**32 - 1)")
            arr = arr.astype(np.uint32)
        elif arr.dtype.kind not in "biu":
            raise NircamFileError(path, f"{meta.reftype} reference file: {extension} is not an image of flags "
                                        f"(type {arr.dtype})")
        return ReferenceFile(path=path, reftype=meta.reftype, meta=meta), arr, bits & _all_bits(arr)
    # the bits as the big-endian word holding them reads in native order
    stored = int(np.array(bits & _all_bits(words), np.dtype(f">u{words.itemsize}")).view(words.dtype))
    return ReferenceFile(path=path, reftype=meta.reftype, meta=meta), words, stored


def _all_bits(arr: np.ndarray) -> int:
    """Every bit of one element of ``arr``."""
    return 2 ** (8 * arr.itemsize) - 1


#: BITPIX of the images read straight from the file, as stored (big-endian)
_STORED = {-32: ">f4", -64: ">f8", 16: ">i2", 32: ">i4", 64: ">i8"}


def _plain_file(path: str):
    """The file open for reading when it is an uncompressed FITS file (else None: astropy reads it)."""
    try:
        f = open(path, "rb")
    except OSError:
        return None
    if f.read(2) == b"\x1f\x8b":
        f.close()
        return None
    return f


def _image_words(hdu, f, decode: bool = True, keep_bits: int = 0) -> np.ndarray | None:
    """An uncompressed image extension's data read from the open file ``f`` and decoded in place:
    native byte order, unsigned integers for FITS's unsigned convention (BZERO = 2**(BITPIX-1)).

    astropy decodes such data into new arrays (a byte-swapped copy, an unsigned copy of the
    signed words): two more full-size arrays for every DQ. None for anything else (other
    scalings, BLANK, tables, a short read), which astropy then reads as usual.

    With ``decode`` False, the words of an integer image are returned as stored (unsigned,
    native-order view of the big-endian words, BZERO not applied), for a test of the bits
    ``keep_bits`` only; None when that test would need decoding (a float image, or BZERO
    flipping one of those bits).
    """
    hdr = hdu.header
    offset = getattr(hdu, "_data_offset", None)
    if type(hdu) not in (fits.ImageHDU, fits.PrimaryHDU) or offset is None or "BLANK" in hdr:
        return None
    bitpix, naxis = hdr.get("BITPIX"), hdr.get("NAXIS", 0)
    if bitpix not in _STORED or hdr.get("BSCALE", 1) != 1 or not naxis:
        return None
    bzero = hdr.get("BZERO", 0)
    unsigned = bitpix > 0 and bzero == 2 ** (bitpix - 1)
    if bzero != 0 and not unsigned:
        return None
    if not decode and (bitpix < 0 or (unsigned and keep_bits & bzero)):
        return None
    shape = tuple(int(hdr[f"NAXIS{k}"]) for k in range(naxis, 0, -1))
    count = int(np.prod(shape))
    f.seek(int(offset))
    words = np.fromfile(f, np.dtype(_STORED[bitpix]), count)
    if words.size != count:
        return None
    if not decode:
        return words.view(f"=u{bitpix // 8}").reshape(shape)
    words.byteswap(inplace=True)
    native = words.view(words.dtype.newbyteorder("="))
    if unsigned:
        native = native.view(f"u{bitpix // 8}")
        native ^= native.dtype.type(bzero)  # the stored word's sign bit flipped: value + BZERO
    return native.reshape(shape)


def require_same_detector(ref: ReferenceFile, detector: str | None, data: str = "the data") -> None:
    """Raise a clear :class:`NircamFileError` when a reference file is for another detector.

    Either side without a known detector (``DETECTOR`` missing, ``MULTIPLE``...) passes:
    only a definite mismatch is an error.
    """
    if ref.meta.detector and detector and ref.meta.detector != detector:
        raise NircamFileError(ref.path, f"is {_a(ref.reftype)} {ref.reftype} reference file for {ref.meta.detector}, but {data} "
                                        f"{'is' if data == 'the data' else 'are'} from {detector}")


def find_fits(folder: str | os.PathLike) -> list[Path]:
    """FITS files in ``folder`` (not recursive), sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and is_fits(p))
