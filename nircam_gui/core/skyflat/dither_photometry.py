"""Aperture photometry of the same sources over dithered pointings (report 008304 Fig. 2 bottom).

What a user without the truth has: sources detected in each image (photutils
segmentation on the background-subtracted, smoothed image), their centroids turned into
sky positions through the image's WCS (astropy), and detections of different pointings
that fall within a match radius joined into one source (astropy coordinates). Each
source is then measured with the same aperture and annulus in each re-flat-fielded
version of an image (photutils), so the versions differ only by the flat.
"""

from __future__ import annotations

import warnings

import numpy as np
from astropy.convolution import convolve
from astropy.coordinates import SkyCoord
from astropy.stats import sigma_clipped_stats
from astropy.table import Table
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales
from photutils.aperture import CircularAnnulus, CircularAperture, aperture_photometry
from photutils.segmentation import SourceCatalog, make_2dgaussian_kernel

from ..errors import NircamFileError
from .largescale import smooth_background
from .segmentation import segment_sources

__all__ = ["celestial_wcs", "detect_stars", "match_detections", "measure"]


def celestial_wcs(header, path: str) -> WCS:
    """The celestial FITS WCS of an image's SCI header; an error naming the file when there is none."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FITSFixedWarning on pipeline headers
        try:
            w = WCS(header)
        except Exception as exc:
            raise NircamFileError(path, f"its SCI header has an unreadable WCS ({exc})") from None
    if not w.has_celestial:
        raise NircamFileError(path, "its SCI header has no celestial WCS (CTYPE RA---TAN...), so its sources cannot "
                                    "be matched with the other pointings; give images through assign_wcs")
    return w.celestial


def detect_stars(image: np.ndarray, bad: np.ndarray, n_sigma: float, n_pixels: int) -> np.ndarray:
    """Centroids ``(x, y)`` (0-based) of the sources ``n_sigma`` above the local background."""
    box = int(min(64, max(8, min(image.shape) // 4)))
    bkg, rms = smooth_background(np.where(bad, np.nan, image), box)
    resid = np.where(bad, 0.0, image - bkg).astype(np.float32)
    smooth = convolve(resid, make_2dgaussian_kernel(2.0, size=5), boundary="extend", normalize_kernel=True)
    # the smoothed image's noise is below the per-pixel rms; scaling by the kernel keeps the threshold honest
    segm = segment_sources(smooth, n_sigma * rms * _smoothed_noise_ratio(), n_pixels, bad)
    if segm is None:
        return np.empty((0, 2))
    cat = SourceCatalog(resid, segm, convolved_data=smooth)
    # photutils 3.0 renamed xcentroid -> x_centroid; keep 2.x working too
    xy = np.column_stack([getattr(cat, "x_centroid", None) if hasattr(cat, "x_centroid") else cat.xcentroid,
                          getattr(cat, "y_centroid", None) if hasattr(cat, "y_centroid") else cat.ycentroid])
    return xy[np.all(np.isfinite(xy), axis=1)]


def _smoothed_noise_ratio() -> float:
    k = make_2dgaussian_kernel(2.0, size=5).array
    k = k / k.sum()
    return float(np.sqrt((k**2).sum()))


def match_detections(positions: list[np.ndarray], wcses: list[WCS], radius_pix: float) -> list[dict[int, int]]:
    """Join detections of different images into sources.

    Parameters
    ----------
    positions : list of (n_i, 2) arrays
        Detections ``(x, y)`` per image.
    wcses : list of WCS
    radius_pix : float
        Match radius in pixels (turned into an angle with each image's pixel scale).

    Returns
    -------
    list of dict
        One per source: ``{image index: detection index}``; a source has at most one
        detection per image (the nearest), and sources are in order of first appearance.
    """
    sources: list[dict[int, int]] = []
    ra: list[float] = []
    dec: list[float] = []
    for i, (xy, w) in enumerate(zip(positions, wcses)):
        if len(xy) == 0:
            continue
        scale = float(np.mean(proj_plane_pixel_scales(w))) * 3600.0  # arcsec per pixel
        sky = w.pixel_to_world(xy[:, 0], xy[:, 1])
        new = np.ones(len(xy), bool)
        if sources:
            master = SkyCoord(ra, dec, unit="deg")
            idx, sep, _ = sky.match_to_catalog_sky(master)
            ok = sep.arcsec <= radius_pix * scale
            # one detection per source and image: the nearest wins, the others start sources of their own
            order = np.argsort(sep.arcsec)
            taken: set[int] = set()
            for d in order:
                if ok[d] and idx[d] not in taken:
                    sources[idx[d]][i] = int(d)
                    taken.add(int(idx[d]))
                    new[d] = False
        for d in np.nonzero(new)[0]:
            sources.append({i: int(d)})
            ra.append(float(sky[d].ra.deg))
            dec.append(float(sky[d].dec.deg))
    return sources


def measure(images: list[np.ndarray], xy: np.ndarray, r: float, r_in: float, r_out: float) -> list[np.ndarray]:
    """Background-subtracted aperture sums at ``xy`` in each of ``images`` (same shape); NaN where
    the aperture is not whole and clean.

    The local background is the 3-sigma (5 iterations) clipped median of the annulus; an
    aperture that leaves the frame or holds a NaN (DO_NOT_USE, a flat that cannot be
    applied) gives NaN. The annulus pixels are gathered once for all images and clipped
    together along one axis (astropy ``sigma_clip``): photutils ``ApertureStats`` clips
    aperture by aperture, ~20 times slower here.
    """
    if len(xy) == 0:
        return [np.empty(0) for _ in images]
    ny, nx = images[0].shape
    aper = CircularAperture(xy, r)
    ann = CircularAnnulus(xy, r_in, r_out)
    masks = ann.to_mask(method="center")
    inside = (xy[:, 0] - r >= 0) & (xy[:, 0] + r <= nx - 1) & (xy[:, 1] - r >= 0) & (xy[:, 1] + r <= ny - 1)
    out = []
    for image in images:
        bad = ~np.isfinite(image)
        sums = aperture_photometry(np.where(bad, 0.0, image), aper)["aperture_sum"].data
        nbad = aperture_photometry(bad.astype(np.float32), aper)["aperture_sum"].data
        values = [m.get_values(image) for m in masks]
        width = max((v.size for v in values), default=0)
        ring = np.full((len(values), max(width, 1)), np.nan)
        for k, v in enumerate(values):
            ring[k, :v.size] = v
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an annulus wholly off the frame or masked is NaN
            _, median, _ = sigma_clipped_stats(ring, sigma=3.0, maxiters=5, axis=1, cenfunc="median",
                                               stdfunc="std")
        flux = sums - np.asarray(median) * aper.area
        out.append(np.where(inside & (nbad == 0) & np.isfinite(median), flux, np.nan))
    return out


def source_table(sources: list[dict[int, int]], positions: list[np.ndarray], wcses: list[WCS],
                 fluxes: dict[str, list[np.ndarray]], files: list[str]) -> Table:
    """One row per (source, image) measurement: positions, sky coordinates and each version's flux."""
    sky = [w.pixel_to_world_values(p[:, 0], p[:, 1]) if len(p) else (np.empty(0), np.empty(0))
           for p, w in zip(positions, wcses)]
    rows = []
    for s, members in enumerate(sources):
        for i, d in sorted(members.items()):
            x, y = positions[i][d]
            rows.append((s, i, files[i], x, y, float(sky[i][0][d]), float(sky[i][1][d]),
                         *(fluxes[k][i][d] for k in fluxes)))
    names = ("source", "image", "file", "x", "y", "ra", "dec", *(f"flux_{k}" for k in fluxes))
    if not rows:
        return Table(names=names, dtype=(int, int, str, float, float, float, float, *(float for _ in fluxes)))
    t = Table(rows=rows, names=names)
    for c in ("x", "y"):
        t[c].unit = "pix"
    t["ra"].unit = t["dec"].unit = "deg"
    return t
