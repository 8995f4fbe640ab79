"""Display math for the image viewer: samples, stretch limits, scalings, frame sources.

Nothing here imports Qt, so the viewer's behaviour can be tested and benchmarked
without a display (the napari/glue split: the model is plain Python, the widgets
only draw it).

Stretch limits (zscale, percentiles, min/max) are computed on a strided sample of
the frame, never on all 4 million pixels of a full frame: the sample is taken once per
frame, in the worker thread that reads it, and every later change of stretch is then
a few milliseconds of work in the GUI thread.

Non-linear scalings (sqrt, log, asinh) are applied to the colour lookup table, not to
the data: the image is drawn with a linear mapping of ``[low, high]`` onto a long
lookup table whose entries follow the scaling. Changing the scaling therefore never
touches the pixels.
"""

from __future__ import annotations

import math
import os
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
from astropy.visualization import (
    AsinhStretch,
    LinearStretch,
    LogStretch,
    SqrtStretch,
    ZScaleInterval,
)

from .dq import decode
from .detector import FULL_SIZE, N_AMPLIFIERS, REF_BORDER
from .errors import NircamFileError
from .readers import ExposureMeta, read_metadata, open_image, open_ramp, open_reference

__all__ = [
    "LIMIT_METHODS",
    "NAN_COLOUR",
    "SCALINGS",
    "DisplayState",
    "ExtensionSource",
    "Frame",
    "FrameSource",
    "PixelInfo",
    "amplifier_of",
    "display_sample",
    "limits",
    "open_source",
    "pixel_info",
    "prepare_frame",
    "render_rgba",
    "scaling_curve",
]

#: Stretch-limit methods offered to the user, in menu order ("manual" = user levels).
LIMIT_METHODS: tuple[str, ...] = ("zscale", "99.5%", "99%", "98%", "95%", "90%", "minmax", "manual")
#: Scalings applied between the limits, as in DS9's Scale menu.
SCALINGS: tuple[str, ...] = ("linear", "sqrt", "log", "asinh")

#: Target number of pixels in a display sample: enough for stable percentiles,
#: small enough that every stretch change takes a few milliseconds.
SAMPLE_SIZE = 200_000

#: Default colour of NaN pixels (and of the area around the image): distinct from black,
#: which a linear stretch gives the faintest pixels.
NAN_COLOUR: tuple[int, int, int] = (58, 64, 78)


@dataclass
class DisplayState:
    """What the viewer shows and how; plain Python, bound to widgets by the GUI.

    Integration and group are 0-based here; the GUI labels them 1-based.
    """

    limits: str = "zscale"
    scaling: str = "linear"
    colormap: str = "gray"
    integration: int = 0
    group: int = -1  # -1: the last group, resolved when a ramp is opened
    difference: bool = False
    manual_levels: tuple[float, float] | None = None
    nan_colour: tuple[int, int, int] = NAN_COLOUR


def display_sample(image: np.ndarray, size: int = SAMPLE_SIZE, border: int = 0) -> np.ndarray:
    """A strided sample of the finite pixels of ``image``, as float32, 1-D.

    Parameters
    ----------
    image : ndarray
        2-D frame.
    size : int
        Approximate number of pixels wanted.
    border : int
        Rows and columns to leave out on every side (the reference pixels, which see no
        light and would widen the stretch of a flat field).
    """
    ny, nx = image.shape
    if border and ny > 2 * border + 8 and nx > 2 * border + 8:
        image = image[border:ny - border, border:nx - border]
    step = max(1, int(math.sqrt(image.size / max(size, 1))))
    sample = np.asarray(image[::step, ::step], dtype=np.float32).ravel()
    finite = np.isfinite(sample)
    return sample if finite.all() else sample[finite]


def limits(
    sample: np.ndarray,
    method: str,
    data_range: tuple[float, float] | None = None,
    manual: tuple[float, float] | None = None,
) -> tuple[float, float]:
    """Display limits ``(low, high)`` for a stretch ``method`` (see :data:`LIMIT_METHODS`).

    Parameters
    ----------
    sample : ndarray
        Finite pixel values from :func:`display_sample`.
    method : str
        ``"zscale"`` (IRAF/DS9 zscale, contrast 0.25), ``"<p>%"`` (the central p
        percent of the pixels, as DS9's "99.5%"), ``"minmax"`` or ``"manual"``.
    data_range : (float, float), optional
        Exact minimum and maximum of the whole frame, used by ``"minmax"`` (a sample
        would miss single hot pixels).
    manual : (float, float), optional
        User levels, used by ``"manual"``.

    Returns
    -------
    (float, float)
        ``low < high`` always, so the lookup table is never degenerate.
    """
    if sample.size == 0:
        return 0.0, 1.0
    if method == "manual" and manual is not None:
        lo, hi = manual
    elif method == "minmax":
        lo, hi = data_range if data_range is not None else (float(sample.min()), float(sample.max()))
    elif method.endswith("%"):
        p = float(method[:-1])
        lo, hi = np.percentile(sample, [50.0 - p / 2.0, 50.0 + p / 2.0])
    else:  # zscale, also the fallback for unknown names
        # astropy strides the sample further to n_samples (DS9 uses 600)
        lo, hi = ZScaleInterval(n_samples=1000, contrast=0.25).get_limits(sample)
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = float(np.nanmin(sample)), float(np.nanmax(sample))
    if hi <= lo:
        # a constant frame: open the range a little so the image is mid-grey, not black
        pad = max(abs(lo) * 1e-3, 1.0)
        lo, hi = lo - pad, hi + pad
    return lo, hi


_STRETCHES = {
    "linear": LinearStretch(),
    "sqrt": SqrtStretch(),
    # DS9's log scale uses exponent 1000; asinh with astropy's default softening 0.1
    "log": LogStretch(a=1000.0),
    "asinh": AsinhStretch(a=0.1),
}


def scaling_curve(scaling: str, n: int = 4096) -> np.ndarray:
    """Positions ``0..1`` in the colour map for ``n`` evenly spaced data levels.

    The image is mapped linearly onto ``n`` lookup-table entries; entry ``i`` gets the
    colour at ``scaling_curve(...)[i]``, which applies the non-linear scaling.
    """
    try:
        stretch = _STRETCHES[scaling]
    except KeyError:
        raise ValueError(f"unknown scaling {scaling!r} (known: {', '.join(SCALINGS)})") from None
    t = np.linspace(0.0, 1.0, n)
    return np.clip(stretch(t, clip=True), 0.0, 1.0)


def amplifier_of(meta: ExposureMeta, column: int, nx: int) -> int | None:
    """1-based amplifier (1-4) that reads ``column`` (0-based, DMS), or None if unknown.

    Frames with the full-frame layout (any size divisible by four) are split into four
    stripes; a subarray is placed on the full detector with ``SUBSTRT1``.
    """
    if meta.is_full_frame:
        if nx % N_AMPLIFIERS:
            return None
        return column // (nx // N_AMPLIFIERS) + 1
    x = meta.xstart - 1 + column
    if 0 <= x < FULL_SIZE:
        return x // (FULL_SIZE // N_AMPLIFIERS) + 1
    return None


@dataclass
class Frame:
    """One frame ready to draw: pixels plus what the viewer needs to stretch them.

    Attributes
    ----------
    image : ndarray
        2-D float32, row-major ``[y, x]``.
    dq : ndarray or None
        Pixel DQ of the same shape, when the file has one.
    sample : ndarray
        Display sample (see :func:`display_sample`).
    data_range : (float, float)
        Exact finite minimum and maximum.
    integration, group : int
        0-based position in the ramp (0, 0 for images).
    difference : bool
        True when ``image`` is group ``group`` minus group 0.
    """

    image: np.ndarray
    dq: np.ndarray | None
    sample: np.ndarray
    data_range: tuple[float, float]
    integration: int = 0
    group: int = 0
    difference: bool = False
    path: str = ""
    has_nan: bool = True


def prepare_frame(image: np.ndarray, dq: np.ndarray | None, meta: ExposureMeta, **info) -> Frame:
    """Wrap a 2-D array as a :class:`Frame`: sample and exact range, computed once."""
    image = np.asarray(image, dtype=np.float32)
    border = REF_BORDER if meta.is_full_frame and meta.kind != "reference" else 0
    sample = display_sample(image, border=border)
    # plain min/max are twice as fast as nanmin/nanmax and say whether there are NaNs
    lo, hi = (float(image.min()), float(image.max())) if image.size else (0.0, 1.0)
    has_nan = not (math.isfinite(lo) and math.isfinite(hi))
    if has_nan:
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN frames
            lo, hi = float(np.nanmin(image)), float(np.nanmax(image))
        if not (math.isfinite(lo) and math.isfinite(hi)):
            lo, hi = (float(sample.min()), float(sample.max())) if sample.size else (0.0, 1.0)
    return Frame(image=image, dq=dq, sample=sample, data_range=(lo, hi), path=meta.path, has_nan=has_nan,
                 **info)


class FrameSource:
    """A file seen as ``nints x ngroups`` frames, read lazily.

    Reading is serialised with a lock, because the viewer reads from a worker thread
    while the GUI thread may ask for a shape or close the file.
    """

    #: names of the planes (extensions) when they have names, else None
    plane_names: list[str] | None = None

    def __init__(self, meta: ExposureMeta) -> None:
        self.meta = meta
        self.path = meta.path
        self._lock = threading.Lock()

    @property
    def nints(self) -> int:
        return 1

    @property
    def ngroups(self) -> int:
        return 1

    @property
    def is_ramp(self) -> bool:
        return False

    def frame(self, integration: int = 0, group: int = 0, difference: bool = False) -> Frame:
        """The frame at ``(integration, group)``; raises :class:`NircamFileError`."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the file."""


class ImageSource(FrameSource):
    """A ``_cal``/``_rate`` image: one frame with DQ."""

    def __init__(self, path: str | os.PathLike) -> None:
        self._file = open_image(path)
        super().__init__(self._file.meta)

    def frame(self, integration: int = 0, group: int = 0, difference: bool = False) -> Frame:
        with self._lock:
            try:
                sci = np.array(self._file.sci, dtype=np.float32)
                dq = np.array(self._file.dq, dtype=np.uint32)
            except (OSError, ValueError, TypeError) as exc:
                raise NircamFileError(self.path, f"could not read the image ({exc})") from None
        return prepare_frame(sci, dq, self.meta)

    def close(self) -> None:
        with self._lock:
            self._file.close()


class ReferenceSource(FrameSource):
    """A JWST reference file; 3-D arrays (e.g. LINEARITY coefficients) are planes."""

    def __init__(self, path: str | os.PathLike) -> None:
        ref = open_reference(path)
        super().__init__(ref.meta)
        data = ref.data if ref.data is not None else ref.coeffs
        if data is None and ref.dq is not None:
            data = ref.dq  # a MASK file: show the flags themselves
        if data is None or data.ndim < 2:
            raise NircamFileError(self.path, f"{ref.reftype} reference file has no 2-D image to show")
        self._planes = data.reshape((-1,) + data.shape[-2:])
        self._dq = ref.dq if ref.dq is not None and ref.dq.shape == data.shape[-2:] else None

    @property
    def ngroups(self) -> int:
        return self._planes.shape[0]

    def frame(self, integration: int = 0, group: int = 0, difference: bool = False) -> Frame:
        return prepare_frame(self._planes[group], self._dq, self.meta, group=group)


class RampSource(FrameSource):
    """A raw or calibrated ramp: groups are read one at a time, on demand.

    A small cache keeps the last few groups (and group 0 of each integration, the
    reference of difference frames), so stepping back and forth does not re-read.
    Memory stays bounded whatever the number of groups.
    """

    def __init__(self, path: str | os.PathLike, cache_frames: int = 6) -> None:
        self._ramp = open_ramp(path)
        super().__init__(self._ramp.meta)
        self._cache: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._cache_frames = cache_frames
        self._pixeldq = self._read_pixeldq()

    def _read_pixeldq(self) -> np.ndarray | None:
        # _ramp files carry PIXELDQ; raw _uncal files have no DQ at all
        try:
            hdul = self._ramp._hdul
            if "PIXELDQ" in hdul and hdul["PIXELDQ"].data is not None:
                dq = np.asarray(hdul["PIXELDQ"].data, dtype=np.uint32)
                return dq if dq.shape == (self.meta.ny, self.meta.nx) else None
        except (OSError, ValueError, KeyError):
            pass
        return None

    @property
    def nints(self) -> int:
        return self.meta.nints

    @property
    def ngroups(self) -> int:
        return self.meta.ngroups

    @property
    def is_ramp(self) -> bool:
        return True

    def _group(self, integration: int, group: int) -> np.ndarray:
        key = (integration, group)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        data = np.asarray(self._ramp.read_group(integration, group), dtype=np.float32)
        self._cache[key] = data
        while len(self._cache) > self._cache_frames:
            # keep group 0 of the current integration: every difference frame needs it
            for old in self._cache:
                if old != (integration, 0):
                    del self._cache[old]
                    break
        return data

    def frame(self, integration: int = 0, group: int = 0, difference: bool = False) -> Frame:
        with self._lock:
            data = self._group(integration, group)
            if difference:
                data = data - self._group(integration, 0)
        return prepare_frame(data, self._pixeldq, self.meta, integration=integration, group=group,
                             difference=difference)

    def close(self) -> None:
        with self._lock:
            self._cache.clear()
            self._ramp.close()


class ExtensionSource(FrameSource):
    """Any other FITS file: its 2-D image extensions (of the first one's shape) are planes.

    Truth files of the simulator and similar products hold one map per named extension;
    DS9 users step through them as a cube.
    """

    def __init__(self, meta: ExposureMeta) -> None:
        super().__init__(meta)
        from astropy.io import fits

        try:
            self._hdul = fits.open(meta.path, memmap=True)
        except (OSError, ValueError) as exc:
            raise NircamFileError(meta.path, f"not a readable FITS file ({exc})") from None
        images = [i for i, h in enumerate(self._hdul) if h.is_image and h.header.get("NAXIS", 0) == 2]
        if not images:
            self._hdul.close()
            raise NircamFileError(meta.path, "no image found (expected a SCI extension, a ramp, a reference "
                                             "file or any 2-D image extension)")
        shape = self._hdul[images[0]].shape
        self._planes = [i for i in images if self._hdul[i].shape == shape]
        self.plane_names = [self._hdul[i].name or f"HDU {i}" for i in self._planes]
        self.meta.ny, self.meta.nx = shape

    @property
    def ngroups(self) -> int:
        return len(self._planes)

    def frame(self, integration: int = 0, group: int = 0, difference: bool = False) -> Frame:
        with self._lock:
            try:
                data = np.array(self._hdul[self._planes[group]].data, dtype=np.float32)
            except (OSError, ValueError, TypeError) as exc:
                raise NircamFileError(self.path, f"could not read {self.plane_names[group]} ({exc})") from None
        return prepare_frame(data, None, self.meta, group=group)

    def close(self) -> None:
        with self._lock:
            self._hdul.close()


def open_source(path: str | os.PathLike) -> FrameSource:
    """Open any FITS file the viewer can show, as the right :class:`FrameSource`.

    Raises
    ------
    NircamFileError
        Naming the file and why it cannot be shown.
    """
    meta = read_metadata(path)
    if meta.kind in ("uncal", "ramp", "ground_ramp"):
        return RampSource(path)
    if meta.kind in ("cal", "rate"):
        return ImageSource(path)
    if meta.kind == "reference":
        return ReferenceSource(path)
    return ExtensionSource(meta)


@dataclass
class PixelInfo:
    """Hover readout of one pixel, in DS9 convention (1-based x, y)."""

    x: int
    y: int
    value: float
    amplifier: int | None = None
    dq: int | None = None
    flags: list[str] = field(default_factory=list)
    reference: bool = False

    def text(self) -> str:
        """One line for the status bar."""
        value = "nan" if not math.isfinite(self.value) else f"{self.value:.6g}"
        parts = [f"x {self.x}", f"y {self.y}", f"value {value}"]
        if self.amplifier is not None:
            parts.append(f"amp {self.amplifier}" + (" (ref)" if self.reference else ""))
        if self.dq is not None:
            parts.append(f"DQ {self.dq}" + (f" {'+'.join(self.flags)}" if self.flags else ""))
        return "   ".join(parts)


def pixel_info(frame: Frame, meta: ExposureMeta, column: int, row: int) -> PixelInfo | None:
    """Readout at 0-based ``(column, row)`` of ``frame``, or None outside the image."""
    ny, nx = frame.image.shape
    if not (0 <= column < nx and 0 <= row < ny):
        return None
    dq = int(frame.dq[row, column]) if frame.dq is not None else None
    border = REF_BORDER if meta.is_full_frame else 0
    ref = bool(border) and (column < border or row < border or column >= nx - border or row >= ny - border)
    return PixelInfo(
        x=column + 1,
        y=row + 1,
        value=float(frame.image[row, column]),
        amplifier=amplifier_of(meta, column, nx),
        dq=dq,
        flags=decode(dq) if dq else [],
        reference=ref,
    )


def render_rgba(image: np.ndarray, levels: tuple[float, float], lut: np.ndarray,
                nan_colour: tuple[int, int, int] = NAN_COLOUR, has_nan: bool = True) -> np.ndarray:
    """Map ``image`` through a lookup table to an ``(ny, nx, 4)`` uint8 RGBA picture.

    ``[low, high]`` maps linearly onto the ``len(lut)`` entries (values outside are
    clipped); the scaling lives in the table (see :func:`scaling_curve`). NaN pixels get
    ``nan_colour``. This runs in a worker thread so the GUI thread only draws a picture:
    mapping 4 million pixels costs ~20 ms alone, several times that when another thread
    is busy with the same memory bus.

    Parameters
    ----------
    image : ndarray
        2-D data.
    levels : (float, float)
        Display limits.
    lut : ndarray
        ``(n, 3)`` or ``(n, 4)`` uint8 colours.
    has_nan : bool
        False when the image is known to hold no NaN (saves a pass over it).
    """
    n = len(lut)
    packed = np.empty(n, np.uint32)
    rgba = packed.view(np.uint8).reshape(n, 4)
    rgba[:, :3] = lut[:, :3]
    rgba[:, 3] = 255
    lo, hi = float(levels[0]), float(levels[1])
    scale = (n - 1) / (hi - lo) if hi > lo else 0.0
    idx = np.subtract(image, lo, dtype=np.float32)
    np.multiply(idx, scale, out=idx)
    np.clip(idx, 0, n - 1, out=idx)  # NaN stays NaN
    nan = np.isnan(idx) if has_nan else None
    has_nan = nan is not None and bool(nan.any())
    if has_nan:
        idx[nan] = 0
    out = packed.take(idx.astype(np.uint16))
    picture = out.view(np.uint8).reshape(image.shape + (4,))
    if has_nan:
        picture[nan] = (*nan_colour, 255)
    return picture
