"""Dithered star fields for validating a flat on photometry (report JWST-STScI-008304, Fig. 2).

The report proved its new flats by measuring the same stars in 9 dithered pointings
(calibration program 1476): a large-scale flat error makes a star's flux depend on where
it lands, so its scatter over the pointings grows with the error. This simulator makes
such a set with everything known:

``SCI = (sky + stars) * error + noise``

* ``error``: the large-scale error of the flat the images were calibrated with (the
  "old" flat), :func:`~.images.true_delta_large` with ``flat_error`` peak to peak; the
  true flat is ``old flat * error``.
* stars: one fixed catalogue on the sky (RA, Dec; fluxes log-uniform), each drawn with a
  Moffat profile (beta 2.5, the FWHM of the channel) integrated over the pixels by
  supersampling, at its detector position in each pointing;
* pointings: a grid of dithers spanning ``dither`` of the frame each way (with a
  random jitter, so stars fall at all sub-pixel phases); each image carries a TAN FITS
  WCS in its SCI header (``wcsinfo``), as a pipeline ``_cal`` does, so stars can be
  matched across pointings without the truth;
* noise: sky noise plus the stars' own Poisson-like noise; 1/f row striping.

Written: the ``_cal.fits`` images (stdatamodels ImageModels, ``R_FLAT`` naming the old
flat), ``reference/`` (old FLAT, MASK), ``truth/`` (the true FLAT as a reference file,
the star catalogue with RA/Dec and fluxes, every star's detector position per pointing,
the flat error map and a JSON of the pointings and configuration).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.time import TimeDelta
from astropy.wcs import WCS

from ..detector import FULL_SIZE, REF_BORDER, get_detector, reference_pixel_mask
from ..dq import DO_NOT_USE
from ..fileio import atomic_path
from ..progress import CancelCheck, ProgressCallback, Reporter
from .images import _PIXAR_SR, _START, CalSimConfig, _filter_key, _ground_flat, _rng, _write_cal, true_delta_large
from .reference_set import mask_dq, write_flat, write_mask

__all__ = ["StarfieldConfig", "StarfieldResult", "moffat_alpha", "simulate_starfield"]

#: Moffat index of the star profile: wings like r**-5, close to a diffraction-limited core's
MOFFAT_BETA = 2.5
#: Pixel scale, arcsec (SW 0.031", LW 0.063")
_PIXEL_SCALE = {"SW": 0.031, "LW": 0.063}
_SUPERSAMPLE = 5


@dataclass
class StarfieldConfig:
    """What to simulate: one detector and filter, ``n_pointings`` dithered images."""

    detector: str = "NRCA1"
    filter: str = "F150W"
    pupil: str = "CLEAR"
    n_pointings: int = 9
    size: int = FULL_SIZE
    seed: int = 1476
    #: Peak-to-peak large-scale error of the calibration ("old") flat, fraction.
    flat_error: float = 0.06
    n_stars: int = 300
    #: Star fluxes, log-uniform between these, in units of the per-pixel sky noise times a pixel.
    flux_range: tuple[float, float] = (1000.0, 20000.0)
    #: Dithers span +- this fraction of the frame in x and y.
    dither: float = 0.25
    #: Star FWHM in pixels (None: 2.0 SW, 2.2 LW, about F150W and F277W).
    fwhm: float | None = None
    sky: float = 0.25
    sky_scatter: float = 0.05
    #: Per-pixel sky noise relative to the sky.
    noise: float = 0.025
    row_noise: float = 0.002
    #: Stars are kept at least this far apart (pixels), so apertures do not blend.
    min_separation: float = 15.0
    ground_dead_fraction: float = 5e-4
    #: Field centre on the sky (deg) and the position angle of the detector's y axis (deg).
    ra: float = 150.1
    dec: float = 2.2
    position_angle: float = 30.0


@dataclass
class StarfieldResult:
    """Paths written by :func:`simulate_starfield`."""

    outdir: str
    cal_files: list[str] = field(default_factory=list)
    old_flat: str = ""
    true_flat: str = ""
    mask: str = ""
    catalogue: str = ""
    positions: str = ""
    truth_json: str = ""
    truth_fits: str = ""
    seconds: float = 0.0


def moffat_alpha(fwhm: float, beta: float = MOFFAT_BETA) -> float:
    """Moffat core width alpha for a FWHM: ``fwhm / (2 sqrt(2**(1/beta) - 1))``."""
    return fwhm / (2.0 * np.sqrt(2.0 ** (1.0 / beta) - 1.0))


def _add_star(img: np.ndarray, x: float, y: float, flux: float, alpha: float, radius: int) -> None:
    """Add a Moffat star of total ``flux`` at (x, y), integrated over pixels by supersampling."""
    ny, nx = img.shape
    x0, y0 = int(round(x)), int(round(y))
    ya, yb, xa, xb = max(y0 - radius, 0), min(y0 + radius + 1, ny), max(x0 - radius, 0), min(x0 + radius + 1, nx)
    if ya >= yb or xa >= xb:
        return
    s = _SUPERSAMPLE
    sub = (np.arange(s) + 0.5) / s - 0.5
    yy = (np.arange(ya, yb)[:, None] + sub[None, :]).ravel() - y
    xx = (np.arange(xa, xb)[:, None] + sub[None, :]).ravel() - x
    r2 = yy[:, None] ** 2 + xx[None, :] ** 2
    prof = (MOFFAT_BETA - 1) / (np.pi * alpha**2) * (1 + r2 / alpha**2) ** (-MOFFAT_BETA)
    pix = prof.reshape(yb - ya, s, xb - xa, s).mean(axis=(1, 3))  # mean over sub-pixels = integral / pixel
    img[ya:yb, xa:xb] += (flux * pix).astype(np.float32)


def _pointings(cfg: StarfieldConfig) -> np.ndarray:
    """Dither offsets (dx, dy) in pixels: a grid over +-dither of the frame, jittered."""
    rng = _rng(cfg.seed, 11)
    k = int(np.ceil(np.sqrt(cfg.n_pointings)))
    steps = np.linspace(-cfg.dither, cfg.dither, k) if k > 1 else np.zeros(1)
    grid = np.array([(sx, sy) for sy in steps for sx in steps])[: cfg.n_pointings] * cfg.size
    jitter = rng.uniform(-0.03, 0.03, grid.shape) * cfg.size
    return grid + jitter


def _stars(cfg: StarfieldConfig, sigma: float) -> dict[str, np.ndarray]:
    """Star positions in the reference frame (pixels of pointing 0 before its dither) and fluxes."""
    rng = _rng(cfg.seed, 12)
    n = cfg.size
    lo, hi = 0.05 * n, 0.95 * n
    xs: list[float] = []
    ys: list[float] = []
    for _ in range(50 * cfg.n_stars):
        if len(xs) == cfg.n_stars:
            break
        x, y = rng.uniform(lo, hi, 2)
        if xs and np.min(np.hypot(np.array(xs) - x, np.array(ys) - y)) < cfg.min_separation:
            continue
        xs.append(float(x))
        ys.append(float(y))
    m = len(xs)
    logf = rng.uniform(np.log10(cfg.flux_range[0]), np.log10(cfg.flux_range[1]), m)
    return {"x_ref": np.array(xs), "y_ref": np.array(ys), "flux": sigma * 10**logf}


def _wcsinfo(cfg: StarfieldConfig, scale_arcsec: float, dx: float, dy: float) -> dict:
    """FITS TAN WCS of one pointing: the reference frame's, moved by the dither."""
    pa = np.deg2rad(cfg.position_angle)
    cdelt = scale_arcsec / 3600.0
    return {
        "wcsaxes": 2, "ctype1": "RA---TAN", "ctype2": "DEC--TAN", "cunit1": "deg", "cunit2": "deg",
        "crpix1": (cfg.size + 1) / 2 + dx, "crpix2": (cfg.size + 1) / 2 + dy,
        "crval1": cfg.ra, "crval2": cfg.dec, "cdelt1": cdelt, "cdelt2": cdelt,
        # RA grows to the left (east) on the sky: parity -1 in x
        "pc1_1": -np.cos(pa), "pc1_2": np.sin(pa), "pc2_1": np.sin(pa), "pc2_2": np.cos(pa),
    }


def _fits_wcs(info: dict) -> WCS:
    w = WCS(naxis=2)
    w.wcs.ctype = [info["ctype1"], info["ctype2"]]
    w.wcs.crpix = [info["crpix1"], info["crpix2"]]
    w.wcs.crval = [info["crval1"], info["crval2"]]
    w.wcs.cdelt = [info["cdelt1"], info["cdelt2"]]
    w.wcs.pc = [[info["pc1_1"], info["pc1_2"]], [info["pc2_1"], info["pc2_2"]]]
    w.wcs.cunit = [info["cunit1"], info["cunit2"]]
    return w


def simulate_starfield(outdir: str | os.PathLike, config: StarfieldConfig | None = None,
                       progress: ProgressCallback | None = None, cancel: CancelCheck | None = None) -> StarfieldResult:
    """Write a dithered star field calibrated with a flat that is wrong by a known error.

    Parameters
    ----------
    outdir : path-like
        Output folder; ``reference/`` and ``truth/`` are made inside it.
    config : StarfieldConfig, optional
    progress, cancel : callable, optional
        See :mod:`nircam_gui.core.progress`.

    Returns
    -------
    StarfieldResult
        Every path written. Images are ``jw01476001001_<nnnnn>_<filter>_<detector>_cal.fits``.
    """
    cfg = config or StarfieldConfig()
    if cfg.size % 4 or cfg.size < 64:
        raise ValueError(f"size {cfg.size}: must be a multiple of 4 and at least 64")
    if cfg.n_pointings < 2:
        raise ValueError(f"n_pointings {cfg.n_pointings}: at least 2 pointings are needed")
    if not 0 <= cfg.flat_error < 1:
        raise ValueError(f"flat error {cfg.flat_error:g}: must be a fraction between 0 and 1")
    t0 = time.perf_counter()
    out = Path(outdir)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    (out / "reference").mkdir(parents=True, exist_ok=True)
    res = StarfieldResult(outdir=os.fspath(out))
    det = get_detector(cfg.detector)
    dname, filt, pupil = det.name.lower(), cfg.filter.upper(), cfg.pupil.upper()
    n = cfg.size
    rep = Reporter(cfg.n_pointings + 2, progress, cancel)
    fkey = _filter_key(filt)

    # the "old" flat the images are calibrated with, and the error it carries
    sim = CalSimConfig(detectors=(det.name,), filters=(filt,), size=n, seed=cfg.seed)
    refmask = reference_pixel_mask((n, n))
    ground_dead = (_rng(cfg.seed, det.sca, 13).random((n, n)) < cfg.ground_dead_fraction) & ~refmask
    gflat, gerr, gdq = _ground_flat(sim, det.sca, fkey, ground_dead)
    error = true_delta_large(n, det.sca, filt, cfg.flat_error, filter_scale=0.0)
    flat_path = out / "reference" / f"{dname}_{filt.lower()}_{pupil.lower()}_flat.fits"
    write_flat(flat_path, det.name, filt, pupil, gflat, gerr, gdq,
               description=f"Simulated old flat {filt}/{pupil}, large-scale error {cfg.flat_error:g} (nircam-gui)",
               history=f"simulated star field, seed {cfg.seed}")
    true_flat = np.where(refmask | ground_dead, 1.0, gflat * error).astype(np.float32)
    true_path = out / "truth" / f"true_flat_{dname}_{filt.lower()}.fits"
    write_flat(true_path, det.name, filt, pupil, true_flat, gerr, gdq,
               description=f"True flat {filt}/{pupil} of a simulated star field (nircam-gui)",
               history=f"old flat times the injected large-scale error, seed {cfg.seed}")
    ground_dq = mask_dq(refmask, ground_dead)
    mask_path = out / "reference" / f"{dname}_mask.fits"
    write_mask(mask_path, det.name, ground_dq, history=f"simulated star field, seed {cfg.seed}")
    res.old_flat, res.true_flat, res.mask = os.fspath(flat_path), os.fspath(true_path), os.fspath(mask_path)
    rep.step("flats")

    sigma0 = cfg.noise * cfg.sky
    stars = _stars(cfg, sigma0)
    fwhm = cfg.fwhm if cfg.fwhm is not None else (2.2 if det.is_longwave else 2.0)
    alpha = moffat_alpha(fwhm)
    radius = int(max(12, np.ceil(8 * fwhm)))
    scale = _PIXEL_SCALE[det.channel]
    pixar = _PIXAR_SR[det.channel]
    dithers = _pointings(cfg)
    ref_wcs = _fits_wcs(_wcsinfo(cfg, scale, 0.0, 0.0))
    ra, dec = ref_wcs.pixel_to_world_values(stars["x_ref"], stars["y_ref"])
    rows = []
    images = []
    for i, (dx, dy) in enumerate(dithers):
        rng = _rng(cfg.seed, 14, i)
        sky = cfg.sky * (1.0 + rng.uniform(-cfg.sky_scatter, cfg.sky_scatter))
        sigma = cfg.noise * sky
        xs, ys = stars["x_ref"] + dx, stars["y_ref"] + dy
        src = np.zeros((n, n), np.float32)
        for k in range(xs.size):
            _add_star(src, xs[k], ys[k], stars["flux"][k], alpha, radius)
        signal = ((sky + src) * error).astype(np.float32)
        var = (sigma**2 * np.maximum(signal / sky, 0.25)).astype(np.float32)
        sci = signal + np.sqrt(var) * rng.standard_normal((n, n), dtype=np.float32)
        stripes = cfg.row_noise * sky * rng.standard_normal((n, 4), dtype=np.float32)
        sci += np.repeat(stripes, n // 4, axis=1)
        bad = (ground_dq & DO_NOT_USE) != 0
        err = np.sqrt(var).astype(np.float32)
        sci = sci.astype(np.float32)
        sci[bad] = np.nan
        err[bad] = np.nan
        name = f"jw01476001001_{i + 1:05d}_{filt.lower()}_{dname}_cal.fits"
        path = out / name
        info = _wcsinfo(cfg, scale, float(dx), float(dy))
        _write_cal(path, sci, err, ground_dq.copy(), det=det, filt=filt, pupil=pupil,
                   start=_START + TimeDelta(i * 700.0, format="sec"), exptime=644.2, pixar=pixar, sky=sky,
                   dither=(float(dx), float(dy)), flat_name=flat_path.name, mask_name=mask_path.name, index=i,
                   wcsinfo=info)
        res.cal_files.append(os.fspath(path))
        inside = (xs >= REF_BORDER) & (xs <= n - 1 - REF_BORDER) & (ys >= REF_BORDER) & (ys <= n - 1 - REF_BORDER)
        for k in range(xs.size):
            rows.append((k, i, name, float(xs[k]), float(ys[k]), bool(inside[k]),
                         float(error[int(round(ys[k])), int(round(xs[k]))]) if inside[k] else float("nan")))
        images.append({"file": name, "dither_x": float(dx), "dither_y": float(dy), "sky": sky, "noise": sigma,
                       "crpix1": info["crpix1"], "crpix2": info["crpix2"]})
        rep.step(f"pointing {i + 1}/{cfg.n_pointings}")

    flux_ujy = stars["flux"] * pixar * 1e12  # MJy/sr x pixel x sr/pixel -> MJy -> uJy
    cat = Table({"star": np.arange(stars["flux"].size), "ra": ra, "dec": dec,
                 "x_ref": stars["x_ref"], "y_ref": stars["y_ref"],
                 "flux": stars["flux"], "flux_ujy": flux_ujy})
    cat["ra"].unit = cat["dec"].unit = "deg"
    cat["x_ref"].unit = cat["y_ref"].unit = "pix"
    cat["flux"].unit = "MJy / sr pix"
    cat["flux_ujy"].unit = "uJy"
    cat.meta["comment"] = ("total star fluxes (Moffat beta 2.5, FWHM %.2f px), as measured with the true flat; "
                           "x_ref, y_ref: 0-based position before the dither" % fwhm)
    pos = Table(rows=rows, names=("star", "pointing", "file", "x", "y", "on_detector", "flat_error"))
    pos["x"].unit = pos["y"].unit = "pix"
    pos.meta["comment"] = "0-based detector positions (DMS); flat_error: the old flat's error where the star falls"
    for tab, stem, attr in ((cat, "starfield_catalogue", "catalogue"), (pos, "starfield_positions", "positions")):
        p = out / "truth" / f"{stem}_{dname}.ecsv"
        with atomic_path(p) as tmp:
            tab.write(tmp, format="ascii.ecsv", overwrite=True)
        setattr(res, attr, os.fspath(p))
    fpath = out / "truth" / f"starfield_{dname}.fits"
    hdul = fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(error, name="FLAT_ERROR")])
    hdul[0].header["DETECTOR"] = det.name
    hdul[0].header["FLATERR"] = (cfg.flat_error, "peak-to-peak large-scale error of the old flat")
    with atomic_path(fpath) as tmp:
        hdul.writeto(tmp)
    res.truth_fits = os.fspath(fpath)
    doc = {"detector": det.name, "filter": filt, "pupil": pupil, "fwhm": fwhm, "moffat_beta": MOFFAT_BETA,
           "pixel_scale_arcsec": scale, "pointings": images,
           "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()},
           "notes": "SCI = (sky + stars) * FLAT_ERROR + noise, calibrated with the old flat (R_FLAT); "
                    "true flat = old flat * FLAT_ERROR; positions 0-based (x column, y row)."}
    jpath = out / "truth" / f"starfield_{dname}.json"
    with atomic_path(jpath) as tmp:
        tmp.write_text(json.dumps(doc, indent=1))
    res.truth_json = os.fspath(jpath)
    rep.step("truth")
    res.seconds = time.perf_counter() - t0
    return res
