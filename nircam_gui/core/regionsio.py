"""DS9 region files for epoxy-void polygons, through the ``regions`` package.

In memory, polygon vertices are 0-based pixel coordinates ``(x, y)`` (numpy
convention: pixel centres at integers). DS9 files hold 1-based image coordinates;
``regions`` does the conversion, so a write/read round trip is exact.
"""

from __future__ import annotations

import os

import numpy as np
from regions import PixCoord, PolygonPixelRegion, Regions

from ._quiet import quiet_warnings
from .errors import NircamFileError
from .fileio import atomic_path

__all__ = ["check_polygons", "is_mask_file", "mask_polygons", "polygons_mask", "read_polygons", "read_void_mask",
           "void_mask", "void_polygons", "write_polygons"]

#: names of FITS masks (non-zero = epoxy void), as STScI distributes the NIRCam low-epoxy regions
MASK_SUFFIXES = (".fits", ".fits.gz", ".fit", ".fts")


def write_polygons(path: str | os.PathLike, polygons: list[np.ndarray], label: str = "epoxy void") -> None:
    """Write polygons (each an ``(n, 2)`` array of 0-based x, y) as a DS9 image-coordinate file."""
    regs = []
    for verts in polygons:
        verts = np.asarray(verts, dtype=float)
        reg = PolygonPixelRegion(PixCoord(x=verts[:, 0], y=verts[:, 1]))
        reg.meta["text"] = label
        regs.append(reg)
    with atomic_path(path) as tmp:
        Regions(regs).write(str(tmp), format="ds9", overwrite=True, precision=4)


def read_polygons(path: str | os.PathLike) -> list[np.ndarray]:
    """Polygons of a DS9 region file, as ``(n, 2)`` arrays of 0-based x, y.

    Raises
    ------
    NircamFileError
        If the file cannot be parsed, holds sky coordinates, or shapes other than polygons.
    """
    if not os.path.isfile(path):
        raise NircamFileError(path, "region file does not exist" if not os.path.exists(path)
                              else "is a folder, not a region file")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        with quiet_warnings():  # lines regions skips are found and reported below
            regs = Regions.parse(text, format="ds9")
        skipped = _skipped_line(text)
    except Exception as exc:  # regions raises several types for malformed files
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NircamFileError(path, f"not a readable DS9 region file ({msg[:160]})") from None
    if skipped:
        # regions only warns and drops the line: a misspelt polygon would vanish from the analysis
        lineno, line, frame = skipped
        if frame != "image":
            raise NircamFileError(path, f'line {lineno}, "{line[:60]}", is in {frame} coordinates; only image '
                                        "coordinates are supported")
        raise NircamFileError(path, f'line {lineno} is not a region DS9 understands: "{line[:60]}" '
                                    "(expected e.g. polygon(x1,y1,x2,y2,x3,y3))")
    out = []
    for k, reg in enumerate(regs, 1):
        if not isinstance(reg, PolygonPixelRegion):
            raise NircamFileError(
                path, f"only polygons in image coordinates are supported, found {type(reg).__name__}"
            )
        verts = np.column_stack([reg.vertices.x, reg.vertices.y]).astype(float)
        # regions accepts "polygon(1,2)" or NaN vertices and fails only when the mask is made
        if verts.shape[0] < 3:
            raise NircamFileError(path, f"polygon {k} has {verts.shape[0]} vertices; a polygon needs at least 3 "
                                        "(a malformed or truncated line?)")
        if not np.isfinite(verts).all():
            raise NircamFileError(path, f"polygon {k} has vertices that are not finite numbers")
        out.append(verts)
    return out


_FRAMES = {"image", "physical", "detector", "amplifier", "linear", "wcs", "fk4", "fk5", "icrs", "galactic",
           "ecliptic", "j2000", "b1950"}


def _skipped_line(text: str) -> tuple[int, str, str] | None:
    """The first line (1-based number, text, its coordinate frame) that holds something but gives no region."""
    frame = "image"
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#") or line.lower().startswith("global"):
            continue
        first = line.split(";", 1)[0].split("#", 1)[0].strip().lower()
        if first in _FRAMES or (first.startswith("wcs") and len(first) == 4):
            frame = first
            if not line.split(";", 1)[1:] or not line.split(";", 1)[1].strip():
                continue
        with quiet_warnings():
            if not len(Regions.parse(f"{frame}\n{line}", format="ds9")):
                return lineno, line, frame
    return None


def check_polygons(polygons: list[np.ndarray], shape: tuple[int, int], path: str | os.PathLike) -> None:
    """Raise a clear error for a polygon that covers no pixel of a ``shape`` frame.

    A polygon wholly outside the frame is almost always a region file made for
    another detector size or a binned image; silently ignoring it would measure no
    epoxy void at all.

    Raises
    ------
    NircamFileError
        Naming ``path``, the polygon (1-based) and its extent.
    """
    for k, verts in enumerate(polygons, 1):
        if _polygon_pixels(verts, shape) is None:
            _covers_nothing(path, k, verts, shape)


def _covers_nothing(path, k: int, verts: np.ndarray, shape: tuple[int, int]) -> None:
    ny, nx = shape
    x0, y0 = verts.min(axis=0) + 1
    x1, y1 = verts.max(axis=0) + 1
    raise NircamFileError(path, f"polygon {k} (x {x0:g}-{x1:g}, y {y0:g}-{y1:g}, 1-based) covers no pixel "
                                f"of the {nx}x{ny} frame; is the file for another detector size?")


def _polygon_pixels(verts: np.ndarray, shape: tuple[int, int]) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """Where a polygon lies in a ``shape`` frame and which pixels of that cutout have their centres
    inside it: ``(frame slices, boolean cutout)``, None when it covers no pixel of the frame."""
    reg = PolygonPixelRegion(PixCoord(x=verts[:, 0], y=verts[:, 1]))
    m = reg.to_mask(mode="center")
    if m is None:
        return None
    large, small = m.get_overlap_slices(shape)
    if large is None:  # wholly outside the frame
        return None
    cut = m.data[small] != 0
    return (large, cut) if cut.any() else None


def polygons_mask(polygons: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask of the pixels whose centres fall inside any polygon."""
    mask = np.zeros(shape, dtype=bool)
    for verts in polygons:
        # each polygon is filled over its own bounding box, not over a whole frame
        found = _polygon_pixels(verts, shape)
        if found is not None:
            mask[found[0]] |= found[1]
    return mask


def is_mask_file(path: str | os.PathLike) -> bool:
    """True for a FITS void mask, False for a DS9 region file (by name)."""
    return os.fspath(path).lower().endswith(MASK_SUFFIXES)


def read_void_mask(path: str | os.PathLike, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Epoxy-void mask from a FITS file: the first 2-D image, non-zero = void, DMS orientation.

    Raises
    ------
    NircamFileError
        Not FITS, no 2-D image, a shape other than ``shape``, or no void pixel.
    """
    from astropy.io import fits

    if not os.path.isfile(path):
        raise NircamFileError(path, "void mask does not exist" if not os.path.exists(path) else "is a folder")
    try:
        with fits.open(path) as hdul:
            image = next((h.data for h in hdul if getattr(h, "data", None) is not None and h.is_image
                          and np.ndim(h.data) == 2), None)
            mask = None if image is None else np.asarray(image) != 0
    except (OSError, ValueError) as exc:
        raise NircamFileError(path, f"not a readable FITS void mask ({str(exc)[:120]})") from None
    if mask is None:
        raise NircamFileError(path, "no 2-D image in this FITS file; a void mask is an image, non-zero = void")
    if shape is not None and mask.shape != tuple(shape):
        raise NircamFileError(path, f"void mask is {mask.shape[1]}x{mask.shape[0]}, the frames "
                                    f"{shape[1]}x{shape[0]}; is it for another detector size?")
    if not mask.any():
        raise NircamFileError(path, "void mask has no non-zero pixel: no epoxy void in it")
    return mask


def mask_polygons(mask: np.ndarray, tolerance: float = 0.5) -> list[np.ndarray]:
    """Editable polygons (0-based x, y) around the void areas of a mask.

    Each connected area's outline is traced half-way between void and other pixel centres
    (skimage marching squares at level 0.5), then simplified by at most ``tolerance``
    pixels (Douglas-Peucker), so :func:`polygons_mask` gives the mask back but for a few
    pixels on the outline. Holes inside an area are filled: a polygon has no hole.
    """
    from scipy import ndimage
    from skimage.measure import approximate_polygon, find_contours

    labels, n = ndimage.label(np.asarray(mask, bool))
    out = []
    for k in range(1, n + 1):
        area = np.pad(ndimage.binary_fill_holes(labels == k), 1)
        contours = find_contours(area.astype(float), 0.5)
        rc = max(contours, key=len)  # the outer outline (holes were filled)
        rc = approximate_polygon(rc, tolerance)
        verts = np.column_stack([rc[:, 1], rc[:, 0]]) - 1.0  # (row, col) of the padded image -> (x, y)
        if len(verts) > 1 and np.allclose(verts[0], verts[-1]):
            verts = verts[:-1]
        if len(verts) >= 3:
            out.append(verts)
    return out


def void_polygons(path: str | os.PathLike) -> list[np.ndarray]:
    """Polygons of a void file: a DS9 region file, or a FITS mask traced by :func:`mask_polygons`."""
    return mask_polygons(read_void_mask(path)) if is_mask_file(path) else read_polygons(path)


def void_mask(path: str | os.PathLike, shape: tuple[int, int]) -> np.ndarray:
    """Void pixels of a void file for a ``shape`` frame: a FITS mask as it is, DS9 polygons filled."""
    if is_mask_file(path):
        return read_void_mask(path, shape)
    mask = np.zeros(shape, dtype=bool)
    for k, verts in enumerate(read_polygons(path), 1):
        found = _polygon_pixels(verts, shape)  # each polygon filled once: checked and drawn
        if found is None:
            _covers_nothing(path, k, verts, shape)
        mask[found[0]] |= found[1]
    return mask
