"""Validation of a new flat against an old one on dithered images (report 008304 sec. 3.2, Figs. 2-3).

The report proved its new flats two ways, both made here from the same ``_cal`` images
re-flat-fielded with each flat (:mod:`.validate_inputs` says how the flat they were
calibrated with is undone):

1. the background: per image, the source-masked image normalised by its sigma-clipped
   median and collapsed along x and along y (median over rows, over columns); the
   profiles are the median over the images (Fig. 2 top). A flat error is a slope or bump
   in them. Gaussian-smoothed images show the same structure in 2-D (Fig. 3): one image,
   and the median of all the normalised images in detector coordinates.
2. the photometry: the same sources measured in each pointing with one aperture; a
   large-scale flat error makes a source's flux depend on where it lands, so the
   relative scatter of its fluxes over the pointings shrinks when the flat improves
   (Fig. 2 bottom). Sources are found and matched without any truth
   (:mod:`.dither_photometry`).

:func:`run_validation` returns a :class:`ValidationResult` (arrays and tables, no paths
written); :func:`~.validate_products.write_validation_products` writes it.
"""

from __future__ import annotations

import os
import time
import warnings as pywarnings
from dataclasses import dataclass, field
from datetime import datetime, timezone

import bottleneck as bn
import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.table import Table
from scipy.ndimage import gaussian_filter

from ..dq import DO_NOT_USE, NO_FLAT_FIELD
from ..fileio import sha256sum
from ..progress import CancelCheck, ProgressCallback, Reporter
from ..provenance import software_versions
from ..readers import open_image, open_reference
from . import dither_photometry as dp
from .normalise import clipped_level
from .sourcemask import source_mask
from .validate_inputs import ValidationInputs, check_validation_inputs
from .validate_options import ValidationOptions

__all__ = ["FLATS", "ValidationResult", "reflatfield", "run_validation", "smooth_nan"]

#: the two versions of every image compared, in order
FLATS = ("old", "new")


@dataclass
class ValidationResult:
    """Everything a validation computed; nothing written.

    Attributes
    ----------
    profile_x, profile_y : Table
        ``position`` (0-based pixel), ``old``, ``new``: the median over the images of the
        normalised, source-masked background collapsed along y (a value per column) or x.
    smoothed : dict of str to ndarray
        ``IMAGE_OLD``, ``IMAGE_NEW`` (the first image), ``STACK_OLD``, ``STACK_NEW`` (median
        of all normalised images), each normalised and Gaussian-smoothed, NaN where masked.
    measurements : Table
        One row per source and image: position, RA/Dec, ``flux_old``, ``flux_new``.
    photometry : Table
        One row per source seen in at least ``min_pointings`` images: ``n``, mean fluxes,
        standard deviations and relative scatter (std / mean) with each flat.
    summary : dict
        Medians and counts of the one-line summary.
    """

    options: ValidationOptions
    detector: str
    filter: str
    pupil: str
    files: list[str]
    old_flat: str
    new_flat: str
    calibration_flat: str
    calibrated_with: str
    r_flat: str
    bunit: str
    flux_unit: str
    profile_x: Table
    profile_y: Table
    smoothed: dict[str, np.ndarray]
    measurements: Table
    photometry: Table
    summary: dict
    inputs: list[dict] = field(default_factory=list)
    versions: dict = field(default_factory=dict)
    created: str = ""
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary_line(self) -> str:
        """One line: median photometric scatter old -> new, sources, background profile flatness."""
        s = self.summary
        return (f"{self.detector} {self.filter}: median photometric scatter {100 * s['median_scatter_old']:.2f}% "
                f"(old flat) -> {100 * s['median_scatter_new']:.2f}% (new flat), {s['n_sources']} sources in >= "
                f"{self.options.min_pointings} of {s['n_images']} pointings; background profile rms x "
                f"{100 * s['profile_rms_x_old']:.2f}% -> {100 * s['profile_rms_x_new']:.2f}%, y "
                f"{100 * s['profile_rms_y_old']:.2f}% -> {100 * s['profile_rms_y_new']:.2f}%")


def reflatfield(sci: np.ndarray, calibration_flat: np.ndarray, flat: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """``sci`` as ``flat`` would have made it: ``sci * calibration_flat / flat``, NaN where ``bad``.

    A ``_cal`` image is the count rate divided by ``calibration_flat``; multiplying by it
    gives back the rate, dividing by ``flat`` applies the other flat.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (np.asarray(sci, np.float64) * calibration_flat / flat).astype(np.float32)
    out[bad] = np.nan
    return out


def smooth_nan(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing that ignores NaN: the smoothed values over the smoothed weights.

    Pixels with less than a tenth of the kernel's weight on valid pixels stay NaN.
    """
    if sigma <= 0:
        return np.asarray(image, np.float32).copy()
    ok = np.isfinite(image)
    num = gaussian_filter(np.where(ok, image, 0.0).astype(np.float64), sigma, mode="nearest")
    den = gaussian_filter(ok.astype(np.float64), sigma, mode="nearest")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    out[den < 0.1] = np.nan
    return out.astype(np.float32)


def _flat_array(path: str, meta_image) -> tuple[np.ndarray, np.ndarray]:
    """A flat's values and unusable pixels, cut to an image's subarray."""
    ref = open_reference(path, "FLAT")
    y0, x0 = meta_image.ystart - 1, meta_image.xstart - 1
    sl = (slice(y0, y0 + meta_image.ny), slice(x0, x0 + meta_image.nx))
    data = np.asarray(ref.data, np.float64)[sl]
    bad = ~np.isfinite(data) | (data <= 0)
    if ref.dq is not None:
        bad |= (np.asarray(ref.dq)[sl] & np.uint32(DO_NOT_USE | NO_FLAT_FIELD)) != 0
    return data, bad


def _flux_unit(bunit: str, header: fits.Header) -> tuple[float, str]:
    """Factor from an aperture sum (BUNIT x pixel) to a flux, and its unit."""
    pixar = header.get("PIXAR_SR")
    if bunit.replace(" ", "").lower() == "mjy/sr" and pixar:
        return float(pixar) * 1e12, "uJy"  # MJy/sr x sr -> MJy -> uJy
    return 1.0, f"{bunit} pix" if bunit else ""


def _profile_rms(values: np.ndarray) -> float:
    v = values[np.isfinite(values)]
    return float(np.std(v / np.median(v))) if v.size > 1 else float("nan")


def run_validation(cal_files=None, old_flat=None, new_flat=None, *, calibration_flat=None,
                   inputs: ValidationInputs | None = None, options: ValidationOptions | None = None,
                   progress: ProgressCallback | None = None, cancel: CancelCheck | None = None) -> ValidationResult:
    """Re-flat-field dithered ``_cal`` images with an old and a new flat and compare them.

    Parameters
    ----------
    cal_files : iterable of path-like
        Dithered ``_cal.fits`` images of one detector and filter, or folders of them.
    old_flat, new_flat : path-like
        FLAT reference files.
    calibration_flat : path-like, optional
        The flat the images were calibrated with, when their ``R_FLAT`` names neither.
    inputs : ValidationInputs, optional
        Already checked inputs (instead of the three above).
    options : ValidationOptions, optional
    progress, cancel : callable, optional

    Returns
    -------
    ValidationResult

    Raises
    ------
    NircamFileError
        An input the validation cannot use (:func:`.validate_inputs.check_validation_inputs`),
        an image without a celestial WCS.
    Cancelled
        When ``cancel()`` returned True.
    """
    opt = options or ValidationOptions()
    t0 = time.perf_counter()
    created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    inp = inputs or check_validation_inputs(cal_files, old_flat, new_flat, calibration_flat)
    n = len(inp.images)
    rep = Reporter(n + 2, progress, cancel)
    flats: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}  # (file, subarray) -> arrays

    def flat_for(path: str, meta) -> tuple[np.ndarray, np.ndarray]:
        key = (path, f"{meta.xstart},{meta.ystart},{meta.nx},{meta.ny}")
        if key not in flats:
            flats[key] = _flat_array(path, meta)
        return flats[key]

    profiles = {(k, ax): [] for k in FLATS for ax in "xy"}
    normed: dict[str, list[np.ndarray]] = {k: [] for k in FLATS}
    positions, wcses, files = [], [], []
    fluxes: dict[str, list[np.ndarray]] = {k: [] for k in FLATS}
    factor, flux_unit = 1.0, ""
    for i, meta in enumerate(inp.images):
        with open_image(meta.path) as img:
            sci = np.asarray(img.sci, np.float32)
            dq = np.asarray(img.dq)
        header = fits.getheader(meta.path, "SCI")  # its WCS and PIXAR_SR
        if i == 0:
            factor, flux_unit = _flux_unit(inp.bunit, header)
        wcs = dp.celestial_wcs(header, meta.path)
        fcal, bcal = flat_for(inp.calibration_flat.path, meta)
        fold, bold = flat_for(inp.old_flat.path, meta)
        fnew, bnew = flat_for(inp.new_flat.path, meta)
        # the same pixels in both versions, so they differ only by the flat
        bad = ~np.isfinite(sci) | ((dq & DO_NOT_USE) != 0) | bcal | bold | bnew
        version = {"old": reflatfield(sci, fcal, fold, bad), "new": reflatfield(sci, fcal, fnew, bad)}
        mask = source_mask(version["old"], dq, dilate=opt.mask_dilate)
        for k in FLATS:
            level = clipped_level(version[k], mask, opt.sigma, opt.maxiters).median
            norm = version[k] / np.float32(level)
            norm[mask] = np.nan
            with pywarnings.catch_warnings():
                pywarnings.simplefilter("ignore", RuntimeWarning)  # an all-masked column is NaN
                profiles[(k, "x")].append(bn.nanmedian(norm, axis=0))
                profiles[(k, "y")].append(bn.nanmedian(norm, axis=1))
            normed[k].append(norm)
        xy = dp.detect_stars(version["old"], bad, opt.detect_sigma, opt.detect_npixels)
        positions.append(xy)
        wcses.append(wcs)
        files.append(os.path.basename(meta.path))
        for k, f in zip(FLATS, dp.measure([version[k] for k in FLATS], xy, opt.aperture_radius,
                                          opt.annulus_inner, opt.annulus_outer)):
            fluxes[k].append(factor * f)
        rep.step(f"image {i + 1}/{n}")

    sources = dp.match_detections(positions, wcses, opt.match_radius)
    measurements = dp.source_table(sources, positions, wcses, fluxes, files)
    photometry = _photometry_table(measurements, opt.min_pointings, flux_unit)
    rep.step("photometry")

    with pywarnings.catch_warnings():
        pywarnings.simplefilter("ignore", RuntimeWarning)
        prof = {key: bn.nanmedian(np.array(v), axis=0) for key, v in profiles.items()}
        smoothed = {f"IMAGE_{k.upper()}": smooth_nan(normed[k][0], opt.smooth_sigma) for k in FLATS}
        smoothed.update({f"STACK_{k.upper()}": smooth_nan(bn.nanmedian(np.array(normed[k]), axis=0), opt.smooth_sigma)
                         for k in FLATS})
    tables = {}
    for ax in "xy":
        t = Table({"position": np.arange(prof[("old", ax)].size), "old": prof[("old", ax)].astype(np.float32),
                   "new": prof[("new", ax)].astype(np.float32)})
        t["position"].unit = "pix"
        t["position"].description = f"0-based {ax} (DMS)"
        t.meta["comment"] = (f"median over {n} images of the normalised, source-masked background collapsed "
                             f"{'over rows (one value per column)' if ax == 'x' else 'over columns (one value per row)'}")
        tables[ax] = t
    warnings = list(inp.warnings)
    ok_old = np.isfinite(photometry["scatter_old"]) if len(photometry) else np.zeros(0, bool)
    if len(photometry) == 0:
        warnings.append(f"no source was measured in {opt.min_pointings} or more pointings: no photometric scatter "
                        "(are the images dithered on one field, with sources above --detect-sigma?)")
    summary = {
        "n_images": n, "n_detections": int(sum(len(p) for p in positions)), "n_sources": int(len(photometry)),
        "median_scatter_old": float(np.median(photometry["scatter_old"][ok_old])) if ok_old.any() else float("nan"),
        "median_scatter_new": float(np.median(photometry["scatter_new"][ok_old])) if ok_old.any() else float("nan"),
        **{f"profile_rms_{ax}_{k}": _profile_rms(prof[(k, ax)]) for ax in "xy" for k in FLATS},
    }
    checks = {m.path: sha256sum(m.path) for m in inp.images} if opt.checksums else {}
    rep.step("done")
    return ValidationResult(
        options=opt, detector=inp.detector, filter=inp.filter, pupil=inp.pupil, files=[m.path for m in inp.images],
        old_flat=inp.old_flat.path, new_flat=inp.new_flat.path, calibration_flat=inp.calibration_flat.path,
        calibrated_with=inp.calibrated_with, r_flat=inp.r_flat, bunit=inp.bunit, flux_unit=flux_unit,
        profile_x=tables["x"], profile_y=tables["y"], smoothed=smoothed, measurements=measurements,
        photometry=photometry, summary=summary,
        inputs=[{"file": m.path, "sha256": checks.get(m.path, "")} for m in inp.images],
        versions=software_versions(), created=created, warnings=warnings, seconds=time.perf_counter() - t0)


def _photometry_table(measurements: Table, min_pointings: int, flux_unit: str) -> Table:
    """Per source: pointings measured with both flats, mean, std and relative scatter of each."""
    rows = []
    if len(measurements):
        for group in measurements.group_by("source").groups:
            fo, fn = np.asarray(group["flux_old"], float), np.asarray(group["flux_new"], float)
            ok = np.isfinite(fo) & np.isfinite(fn)
            if ok.sum() < min_pointings:
                continue
            fo, fn = fo[ok], fn[ok]
            mo, mn, so, sn = fo.mean(), fn.mean(), fo.std(ddof=1), fn.std(ddof=1)
            if mo <= 0 or mn <= 0:  # not a source (a hole, an over-subtracted background)
                continue
            rows.append((int(group["source"][0]), float(np.mean(group["ra"][ok])), float(np.mean(group["dec"][ok])),
                         int(ok.sum()), mo, mn, so, sn, so / mo, sn / mn))
    names = ("source", "ra", "dec", "n", "mean_flux_old", "mean_flux_new", "std_old", "std_new", "scatter_old",
             "scatter_new")
    t = Table(rows=rows or None, names=names, dtype=(int, float, float, int, *(float,) * 6))
    t["ra"].unit = t["dec"].unit = "deg"
    try:
        unit = u.Unit(flux_unit) if flux_unit else None
    except ValueError:
        unit = None
    for c in ("mean_flux_old", "mean_flux_new", "std_old", "std_new"):
        t[c].unit = unit
    t["n"].description = "pointings in which the source was measured with both flats"
    t["scatter_old"].description = "std_old / mean_flux_old (sample standard deviation over the pointings)"
    t["scatter_new"].description = "std_new / mean_flux_new"
    return t
