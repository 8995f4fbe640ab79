"""Simulated NIRCam level-2 imaging (``_cal.fits``) with a known delta flat.

The sets mimic commissioning program 1063 (report JWST-STScI-008304): dithered images of
high-zodi fields through a few filters, already calibrated with the *ground* flat, so the
change of the flat since ground (the "delta flat") is imprinted on the sky:

``SCI = (sky + sources) * delta_filter * response + noise``

* ``delta_filter``: a large-scale gradient of 6-8 % peak to peak, common to all filters,
  plus a filter-dependent tilt of ~1-2 %; each normalised to a median of 1.
* ``response``: 1, except new dead pixels (isolated ones, 0-0.78) and a few
  concentrations of 100-300 pixels at 0-50 %; some weak-but-not-dead pixels (0.85-0.95)
  keep detection honest about precision.
* sky per image, stars and galaxies from one fixed sky catalogue shifted by each
  dither (~250-500 px at full frame), 1/f-like row striping per amplifier, unflagged
  cosmic-ray residuals, saturated star cores flagged.
* DQ as the pipeline writes it: REFERENCE_PIXEL|DO_NOT_USE on the 4-pixel border,
  DEAD|DO_NOT_USE and HOT|DO_NOT_USE where the ground MASK says so, SATURATED|DO_NOT_USE;
  SCI and ERR are NaN wherever DO_NOT_USE is set, as in jwst >= 1.14.

Files are written through stdatamodels (``ImageModel``), so they are real level-2 files
(SCI, ERR, DQ, ASDF). The ground FLAT per filter and the ground MASK are written with
:func:`nircam_gui.core.reffiles.write_reference`. The truth goes to ``truth/``.

Everything is reproducible from ``seed``: each detector, filter and image draws from its
own ``SeedSequence(seed, spawn_key=...)`` stream, so a set with fewer detectors or
filters gives identical images for the ones it shares.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.time import Time, TimeDelta
from stdatamodels.jwst import datamodels as dm

from ..detector import FULL_SIZE, REF_BORDER, get_detector, reference_pixel_mask
from ..dq import DO_NOT_USE, SATURATED
from ..crdskeys import subarray_keywords
from ..fileio import atomic_path
from ..progress import CancelCheck, ProgressCallback, Reporter
from .reference_set import flat_dq, mask_dq, write_flat, write_mask
from .scattered_light import claw_image, wisp_amplitudes, wisp_template

__all__ = ["CalSimConfig", "CalSimResult", "DEFAULT_SKY", "simulate_cal_images", "true_delta_large"]

#: Zodiacal sky at low ecliptic latitude, MJy/sr, roughly what program 1063 saw.
DEFAULT_SKY = {
    "F070W": 0.12, "F090W": 0.16, "F115W": 0.20, "F150W": 0.24, "F200W": 0.22,
    "F277W": 0.18, "F356W": 0.20, "F444W": 0.40,
}
#: Filter-dependent part of the delta flat: fractional tilt across the frame (~1-2 %).
_FILTER_TILT = {
    "F070W": 0.020, "F090W": 0.015, "F115W": 0.012, "F150W": 0.010, "F200W": -0.010,
    "F277W": 0.020, "F356W": 0.000, "F444W": -0.015,
}
# Nominal pixel areas (sr): 0.031" SW, 0.063" LW.
_PIXAR_SR = {"SW": 2.29e-14, "LW": 9.31e-14}
_START = Time("2022-05-01T00:00:00", scale="utc")


@dataclass
class CalSimConfig:
    """What to simulate. All sizes are for a full-layout frame of ``size`` x ``size``.

    Counts (sources, dead pixels, clusters) are given per 2048x2048 frame and scale with
    area for smaller frames (clusters keep at least one); dither offsets scale with size.
    """

    detectors: tuple[str, ...] = ("NRCA4",)
    filters: tuple[str, ...] = ("F150W", "F200W")
    pupil: str = "CLEAR"
    n_images: int = 10
    size: int = FULL_SIZE
    seed: int = 1063
    #: Peak-to-peak large-scale gradient common to all filters (fraction).
    gradient: float = 0.07
    #: Scale of the filter-dependent tilt relative to the built-in table (1 = 1-2 %).
    filter_scale: float = 1.0
    #: Sky per filter, MJy/sr; filters not listed get 0.22.
    sky: dict[str, float] = field(default_factory=dict)
    #: Per-image scatter of the sky (fraction, uniform +-).
    sky_scatter: float = 0.05
    #: Per-pixel noise relative to the sky (1-sigma).
    noise: float = 0.025
    #: 1/f striping: rms of row offsets per amplifier, relative to the sky.
    row_noise: float = 0.002
    n_stars: int = 300
    n_galaxies: int = 900
    dither_min: float = 250.0
    dither_max: float = 500.0
    n_dead: int = 200
    n_weak: int = 200
    n_clusters: int = 3
    cluster_npix: tuple[int, int] = (100, 300)
    ground_dead_fraction: float = 5e-4
    ground_hot_fraction: float = 2e-4
    n_cosmic: int = 300
    #: Wisp: peak strength relative to the sky of the median pointing at F200W (0 = none;
    #: report: up to ~0.1), scaled per filter by :func:`.scattered_light.wisp_filter_factor`.
    wisp: float = 0.0
    #: Ratio of the strongest to the weakest wisp among the images of one filter.
    wisp_ratio: float = 3.0
    #: Images per detector (over all filters) with claws.
    claws: int = 0
    #: Peak claw strength relative to the sky.
    claw_amplitude: float = 0.05

    def scale(self) -> float:
        """Area of the frame relative to a full frame."""
        return (self.size / FULL_SIZE) ** 2

    def sky_level(self, filt: str) -> float:
        return float(self.sky.get(filt, DEFAULT_SKY.get(filt, 0.22)))


@dataclass
class CalSimResult:
    """Paths written by :func:`simulate_cal_images`."""

    outdir: str
    cal_files: list[str] = field(default_factory=list)
    flat_files: list[str] = field(default_factory=list)
    mask_files: list[str] = field(default_factory=list)
    truth_fits: list[str] = field(default_factory=list)
    truth_json: list[str] = field(default_factory=list)
    catalogue_files: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=tuple(int(k) for k in key)))


def _filter_key(filt: str) -> int:
    # stable small integer per filter name, for the seed stream
    return int.from_bytes(filt.encode()[:8].ljust(8, b"\0"), "little") % (2**31)


def _norm_coords(size: int) -> tuple[np.ndarray, np.ndarray]:
    c = (np.arange(size, dtype=np.float64) - (size - 1) / 2) / (size / 2)
    return c[np.newaxis, :], c[:, np.newaxis]


def true_delta_large(size: int, sca: int, filt: str, gradient: float = 0.07,
                     filter_scale: float = 1.0) -> np.ndarray:
    """Large-scale part of the true delta flat (no dead pixels), median 1 over science pixels.

    A tilted gradient of ``gradient`` peak to peak, gentle curvature, a broad bump (not a
    polynomial, so a cubic fit is exercised honestly) and a filter-dependent tilt.
    """
    u, v = _norm_coords(size)
    angle = np.deg2rad(25.0 + 47.0 * (sca - 481))
    along = np.cos(angle) * u + np.sin(angle) * v
    # along spans ~[-1.4, 1.4] over the corners; the edges (not corners) set the 6-8 %
    base = 1.0 + 0.5 * gradient * along
    base = base + 0.008 * (u**2 - v**2) + 0.006 * u * v
    base = base + 0.010 * np.exp(-((u - 0.3) ** 2 + (v + 0.25) ** 2) / (2 * 0.7**2))
    tilt = filter_scale * _FILTER_TILT.get(filt, 0.01 * ((_filter_key(filt) % 5) - 2))
    fangle = angle + np.deg2rad(70.0)
    delta = base * (1.0 + 0.5 * tilt * (np.cos(fangle) * u + np.sin(fangle) * v))
    sl = slice(REF_BORDER, size - REF_BORDER)
    return (delta / np.median(delta[sl, sl])).astype(np.float32)


def _blob(rng: np.random.Generator, npix: int, cx: float, cy: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixels of an irregular elliptical patch of ``npix`` pixels around (cx, cy)."""
    ratio = rng.uniform(0.4, 1.0)
    a = np.sqrt(npix / (np.pi * ratio))
    b = a * ratio
    theta = rng.uniform(0, np.pi)
    r = int(np.ceil(a)) + 3
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    xr = xx * np.cos(theta) + yy * np.sin(theta)
    yr = -xx * np.sin(theta) + yy * np.cos(theta)
    # a slightly ragged edge: concentrations are not clean ellipses
    rho = (xr / a) ** 2 + (yr / b) ** 2 + rng.normal(0, 0.08, xx.shape)
    order = np.argsort(rho, axis=None)[:npix]
    return (yy.ravel()[order] + int(round(cy))), (xx.ravel()[order] + int(round(cx)))


@dataclass
class _DetectorTruth:
    response: np.ndarray
    dead: list[dict]
    weak: list[dict]
    clusters: list[dict]
    ground_dead: np.ndarray  # bool
    ground_hot: np.ndarray  # bool


def _make_pixels(cfg: CalSimConfig, sca: int) -> _DetectorTruth:
    n = cfg.size
    rng = _rng(cfg.seed, sca, 1)
    response = np.ones((n, n), np.float32)
    refmask = reference_pixel_mask((n, n))
    ground_dead = (rng.random((n, n)) < cfg.ground_dead_fraction) & ~refmask
    ground_hot = (rng.random((n, n)) < cfg.ground_hot_fraction) & ~refmask & ~ground_dead
    taken = refmask | ground_dead | ground_hot
    clusters = []
    n_clusters = max(1, int(round(cfg.n_clusters * cfg.scale()))) if cfg.n_clusters else 0
    margin = max(24, n // 16)
    for k in range(n_clusters):
        npix = int(rng.integers(cfg.cluster_npix[0], cfg.cluster_npix[1] + 1))
        for _ in range(100):
            cx, cy = rng.uniform(margin, n - margin, 2)
            if all(np.hypot(cx - c["x"], cy - c["y"]) > 3 * np.sqrt(npix) + 20 for c in clusters):
                break
        yy, xx = _blob(rng, npix, cx, cy)
        level = rng.uniform(0.0, 0.5)
        values = np.clip(level + rng.uniform(-0.05, 0.05, npix), 0.0, 0.5).astype(np.float32)
        free = ~taken[yy, xx]
        yy, xx, values = yy[free], xx[free], values[free]
        response[yy, xx] = values
        taken[yy, xx] = True
        clusters.append({"id": k, "x": float(xx.mean()), "y": float(yy.mean()), "npix": int(yy.size),
                         "mean_response": float(values.mean()), "level": float(level),
                         "pixels_x": xx.tolist(), "pixels_y": yy.tolist()})
    # keep isolated pixels clear of the concentrations so "isolated" means isolated
    from scipy.ndimage import binary_dilation

    near = binary_dilation(taken & ~refmask, iterations=3) | refmask

    def scatter(count: int, lo: float, hi: float) -> list[dict]:
        out = []
        while len(out) < count:
            y, x = (int(v) for v in rng.integers(REF_BORDER, n - REF_BORDER, 2))
            if near[y, x]:
                continue
            near[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2] = True
            value = float(rng.uniform(lo, hi))
            response[y, x] = value
            out.append({"x": x, "y": y, "response": value})
        return out

    n_dead = int(round(cfg.n_dead * cfg.scale()))
    n_weak = int(round(cfg.n_weak * cfg.scale()))
    dead = scatter(n_dead, 0.0, 0.78)
    weak = scatter(n_weak, 0.85, 0.95)
    return _DetectorTruth(response, dead, weak, clusters, ground_dead, ground_hot)


def _catalogue(cfg: CalSimConfig, sca: int, fwhm: float) -> dict[str, np.ndarray]:
    """Fixed sky catalogue over the frame plus the largest dither, in frame pixels."""
    rng = _rng(cfg.seed, sca, 2)
    s = cfg.size / FULL_SIZE
    pad = cfg.dither_max * s + 60 * s
    lo, hi = -pad, cfg.size + pad
    area = ((hi - lo) / cfg.size) ** 2 * cfg.scale()
    n_st = int(round(cfg.n_stars * area))
    n_ga = int(round(cfg.n_galaxies * area))
    n = n_st + n_ga
    kind = np.array([0] * n_st + [1] * n_ga)
    # peak surface brightness in units of the per-pixel sky noise; log-uniform
    peak = np.where(kind == 0, 10 ** rng.uniform(0.0, 3.7, n), 10 ** rng.uniform(-0.5, 1.8, n))
    return {
        "kind": kind,
        "x": rng.uniform(lo, hi, n),
        "y": rng.uniform(lo, hi, n),
        "peak": peak,
        "size": np.where(kind == 0, fwhm / 2.3548, np.exp(rng.uniform(np.log(1.5), np.log(12.0), n)) * s**0.5),
        "q": np.where(kind == 0, 1.0, rng.uniform(0.3, 1.0, n)),
        "theta": rng.uniform(0, np.pi, n),
    }


def _render(cat: dict[str, np.ndarray], dx: float, dy: float, n: int, unit: float) -> np.ndarray:
    """Sources shifted by the dither (dx, dy), in MJy/sr (``unit`` = sky noise)."""
    img = np.zeros((n, n), np.float32)
    for kind, x0, y0, peak, size, q, th in zip(cat["kind"], cat["x"] - dx, cat["y"] - dy, cat["peak"],
                                               cat["size"], cat["q"], cat["theta"]):
        half = int(np.ceil((4.5 if kind == 0 else 7.0) * size)) + 2
        if peak * unit <= 0:
            continue
        ix, iy = int(round(x0)), int(round(y0))
        x1, x2 = max(ix - half, 0), min(ix + half + 1, n)
        y1, y2 = max(iy - half, 0), min(iy + half + 1, n)
        if x1 >= x2 or y1 >= y2:
            continue
        yy, xx = np.mgrid[y1:y2, x1:x2]
        ddx, ddy = xx - x0, yy - y0
        if kind == 0:
            prof = np.exp(-(ddx**2 + ddy**2) / (2 * size**2))
        else:
            c, s_ = np.cos(th), np.sin(th)
            xr = ddx * c + ddy * s_
            yr = (-ddx * s_ + ddy * c) / q
            prof = np.exp(-1.678 * np.hypot(xr, yr) / size)  # exponential disc, size = r_e
        img[y1:y2, x1:x2] += (peak * unit * prof).astype(np.float32)
    return img


def _dithers(cfg: CalSimConfig, sca: int, fkey: int) -> np.ndarray:
    s = cfg.size / FULL_SIZE
    out = np.empty((cfg.n_images, 2))
    for i in range(cfg.n_images):
        # one stream per image: image i is the same whatever n_images is
        rng = _rng(cfg.seed, sca, 3, fkey, i)
        r = rng.uniform(cfg.dither_min * s, cfg.dither_max * s)
        a = rng.uniform(0, 2 * np.pi)
        out[i] = r * np.cos(a), r * np.sin(a)
    return out


def _ground_flat(cfg: CalSimConfig, sca: int, fkey: int, ground_dead: np.ndarray) -> tuple[np.ndarray, ...]:
    """Ground flat: pixel-to-pixel QE scatter of ~2 %, value 1 where it cannot be measured."""
    rng = _rng(cfg.seed, sca, 4, fkey)
    n = cfg.size
    data = (1.0 + 0.02 * rng.standard_normal((n, n), dtype=np.float32)).astype(np.float32)
    err = np.full((n, n), 0.003, np.float32)
    ref = reference_pixel_mask((n, n))
    bad = ref | ground_dead
    data[bad] = 1.0
    err[bad] = 0.0
    return data, err, flat_dq(ref, ground_dead)


def _write_cal(path: Path, sci: np.ndarray, err: np.ndarray, dq: np.ndarray, *, det, filt: str, pupil: str,
               start: Time, exptime: float, pixar: float, sky: float, dither: tuple[float, float],
               flat_name: str, mask_name: str, index: int, wcsinfo: dict | None = None) -> None:
    # the variance arrays of a real _cal (jwst flat_field and resample read them); ERR is their
    # quadrature sum: sky Poisson noise, a read-noise share, no flat-field error
    var = np.asarray(err, np.float32) ** 2
    model = dm.ImageModel(data=sci, err=err, dq=dq, var_poisson=(0.9 * var).astype(np.float32),
                          var_rnoise=(0.1 * var).astype(np.float32), var_flat=np.zeros_like(var))
    m = model.meta
    m.filename = path.name
    m.telescope = "JWST"
    m.instrument.name = "NIRCAM"
    m.instrument.detector = det.name
    m.instrument.channel = "LONG" if det.is_longwave else "SHORT"
    m.instrument.module = det.module
    m.instrument.filter = filt
    m.instrument.pupil = pupil
    m.exposure.type = "NRC_IMAGE"
    m.exposure.readpatt = "MEDIUM8"
    m.exposure.nints = 1
    m.exposure.ngroups = 6
    m.exposure.nframes = 8
    m.exposure.groupgap = 2
    m.exposure.frame_time = 10.73677
    m.exposure.group_time = 107.3677
    m.exposure.exposure_time = exptime
    m.exposure.effective_exposure_time = exptime
    m.exposure.start_time = float(start.mjd)
    m.exposure.end_time = float((start + TimeDelta(exptime, format="sec")).mjd)
    m.exposure.mid_time = float((start + TimeDelta(exptime / 2, format="sec")).mjd)
    m.observation.date = start.isot[:10]
    m.observation.time = start.isot[11:23]
    m.observation.program_number = "01063"
    m.observation.observation_number = "001"
    m.observation.visit_number = "001"
    m.observation.exposure_number = f"{index + 1:05d}"
    sub = subarray_keywords(sci.shape)
    m.subarray.name = sub["name"]
    m.subarray.xstart = sub["xstart"]
    m.subarray.ystart = sub["ystart"]
    m.subarray.xsize = sub["xsize"]
    m.subarray.ysize = sub["ysize"]
    m.subarray.fastaxis = det.fastaxis
    m.subarray.slowaxis = det.slowaxis
    m.bunit_data = "MJy/sr"
    m.bunit_err = "MJy/sr"
    m.photometry.pixelarea_steradians = pixar
    m.photometry.pixelarea_arcsecsq = pixar * (180 / np.pi * 3600) ** 2
    m.photometry.conversion_megajanskys = 1.0
    for step in ("dq_init", "saturation", "superbias", "refpix", "linearity", "dark_sub", "jump", "ramp_fit",
                 "gain_scale", "assign_wcs", "flat_field", "photom"):
        setattr(m.cal_step, step, "COMPLETE")
    m.ref_file.flat.name = flat_name
    m.ref_file.mask.name = mask_name
    for key, value in (wcsinfo or {}).items():  # FITS WCS keywords of SCI, as assign_wcs writes them
        setattr(m.wcsinfo, key, value)
    model.add_history_entry(f"nircam-gui simulated _cal image: sky {sky:.6f} MJy/sr, dither "
                            f"({dither[0]:.1f}, {dither[1]:.1f}) px")
    with atomic_path(path) as tmp:
        model.save(tmp)
        # stdatamodels names the file it saved (the temporary one); the product is named path
        with fits.open(tmp, mode="update") as hdul:
            hdul[0].header["FILENAME"] = path.name
    model.close()


def simulate_cal_images(outdir: str | os.PathLike, config: CalSimConfig | None = None,
                        progress: ProgressCallback | None = None, cancel: CancelCheck | None = None) -> CalSimResult:
    """Write dithered ``_cal.fits`` images, ground FLAT/MASK reference files and the truth.

    Parameters
    ----------
    outdir : path-like
        Output folder; ``truth/`` and ``reference/`` are made inside it.
    config : CalSimConfig, optional
        What to simulate (defaults: NRCA4, F150W + F200W, 10 images each, 2048 px).
    progress, cancel : callable, optional
        See :mod:`nircam_gui.core.progress`.

    Returns
    -------
    CalSimResult
        Every path written. Files are named like the pipeline's:
        ``jw01063001001_<nnnnn>_<filter>_<detector>_cal.fits`` (lower case).
    """
    cfg = config or CalSimConfig()
    if cfg.size % 4 or cfg.size < 64:
        raise ValueError(f"size {cfg.size}: must be a multiple of 4 and at least 64")
    t0 = time.perf_counter()
    out = Path(outdir)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    (out / "reference").mkdir(parents=True, exist_ok=True)
    res = CalSimResult(outdir=os.fspath(out))
    n = cfg.size
    total = len(cfg.detectors) * (len(cfg.filters) * (cfg.n_images + 1) + 1)
    rep = Reporter(total, progress, cancel)
    ref = reference_pixel_mask((n, n))
    for det_name in cfg.detectors:
        det = get_detector(det_name)
        dname = det.name.lower()
        truth = _make_pixels(cfg, det.sca)
        fwhm = 4.0 if det.is_longwave else 2.0
        cat = _catalogue(cfg, det.sca, fwhm)
        ground_dq = mask_dq(ref, truth.ground_dead, truth.ground_hot)
        mask_path = out / "reference" / f"{dname}_mask.fits"
        write_mask(mask_path, det.name, ground_dq, history=f"simulated, seed {cfg.seed}")
        res.mask_files.append(os.fspath(mask_path))
        rep.step(f"{det.name} mask")
        truth_hdus = [fits.PrimaryHDU()]
        sky_rows = []
        template = wisp_template(n, det.name) if cfg.wisp > 0 else None
        n_all = len(cfg.filters) * cfg.n_images
        claw_at = set(_rng(cfg.seed, det.sca, 7).choice(n_all, min(cfg.claws, n_all), replace=False).tolist())
        claw_maps = []
        delta_sum = np.zeros((n, n), np.float64)
        for filt in cfg.filters:
            fkey = _filter_key(filt)
            large = true_delta_large(n, det.sca, filt, cfg.gradient, cfg.filter_scale)
            delta_sum += large
            delta = large * truth.response
            gflat, gerr, gdq = _ground_flat(cfg, det.sca, fkey, truth.ground_dead)
            flat_path = out / "reference" / f"{dname}_{filt.lower()}_{cfg.pupil.lower()}_flat.fits"
            write_flat(flat_path, det.name, filt, cfg.pupil, gflat, gerr, gdq,
                       description=f"Simulated ground flat {filt}/{cfg.pupil} (nircam-gui)",
                       history=f"simulated, seed {cfg.seed}")
            res.flat_files.append(os.fspath(flat_path))
            truth_hdus.append(fits.ImageHDU(delta, name=f"DELTA_{filt}"))
            truth_hdus.append(fits.ImageHDU(large, name=f"LARGE_{filt}"))
            truth_hdus.append(fits.ImageHDU(gflat * large, name=f"NEWFLAT_{filt}"))
            rep.step(f"{det.name} {filt} flat")
            base_sky = cfg.sky_level(filt)
            dithers = _dithers(cfg, det.sca, fkey)
            amps = wisp_amplitudes(_rng(cfg.seed, det.sca, 6, fkey), cfg.n_images, cfg.wisp, cfg.wisp_ratio, filt)
            for i in range(cfg.n_images):
                rng = _rng(cfg.seed, det.sca, 5, fkey, i)
                sky = base_sky * (1.0 + rng.uniform(-cfg.sky_scatter, cfg.sky_scatter))
                sigma = cfg.noise * sky
                src = _render(cat, dithers[i, 0], dithers[i, 1], n, sigma)
                # scattered light is light on the pixels: it goes through the flat like the sky
                scattered = np.zeros((n, n), np.float32)
                if template is not None:
                    scattered += np.float32(amps[i]) * template
                has_claws = len(sky_rows) in claw_at
                if has_claws:
                    claw = claw_image(_rng(cfg.seed, det.sca, 8, fkey, i), n, cfg.claw_amplitude)
                    claw_maps.append(claw)
                    scattered += claw
                signal = (sky * (1.0 + scattered) + src) * delta if scattered.any() else (sky + src) * delta
                # Poisson-like: sources add variance in proportion to their signal
                var = (sigma**2 * (signal / sky)).astype(np.float32)
                np.maximum(var, 0.25 * sigma**2, out=var)
                sci = signal + np.sqrt(var) * rng.standard_normal((n, n), dtype=np.float32)
                # 1/f striping: an offset per row and amplifier
                w = n // 4
                stripes = cfg.row_noise * sky * rng.standard_normal((n, 4), dtype=np.float32)
                sci += np.repeat(stripes, w, axis=1)
                # unflagged cosmic-ray residuals (the sigma-clipped stack removes them)
                ncr = int(round(cfg.n_cosmic * cfg.scale()))
                cy, cx = rng.integers(0, n, (2, ncr))
                sci[cy, cx] += (sky * rng.uniform(0.5, 20.0, ncr)).astype(np.float32)
                dq = ground_dq.copy()
                # saturated star cores: the pipeline flags them and leaves no value
                sat = src > 2500 * sigma
                dq[sat] |= np.uint32(SATURATED | DO_NOT_USE)
                bad = (dq & DO_NOT_USE) != 0
                sci = sci.astype(np.float32)
                err = np.sqrt(var).astype(np.float32)
                sci[bad] = np.nan
                err[bad] = np.nan
                start = _START + TimeDelta(len(sky_rows) * 900.0 + det.sca * 10, format="sec")
                name = f"jw01063001001_{i + 1:05d}_{filt.lower()}_{dname}_cal.fits"
                path = out / name
                _write_cal(path, sci, err, dq, det=det, filt=filt, pupil=cfg.pupil, start=start,
                           exptime=644.2, pixar=_PIXAR_SR[det.channel], sky=sky,
                           dither=(float(dithers[i, 0]), float(dithers[i, 1])),
                           flat_name=flat_path.name, mask_name=mask_path.name, index=len(sky_rows))
                res.cal_files.append(os.fspath(path))
                sky_rows.append({"file": name, "filter": filt, "sky": sky, "noise": sigma,
                                 "dither_x": float(dithers[i, 0]), "dither_y": float(dithers[i, 1]),
                                 "wisp_amplitude": float(amps[i]) if template is not None else 0.0,
                                 "claws": bool(has_claws)})
                rep.step(f"{det.name} {filt} image {i + 1}/{cfg.n_images}")
        grey_large = (delta_sum / len(cfg.filters)).astype(np.float32)
        truth_hdus.insert(1, fits.ImageHDU(grey_large * truth.response, name="DELTA_GREY"))
        truth_hdus.insert(2, fits.ImageHDU(grey_large, name="LARGE_GREY"))
        truth_hdus.insert(3, fits.ImageHDU(truth.response, name="RESPONSE"))
        truth_hdus.insert(4, fits.ImageHDU(truth.ground_dead.astype(np.uint8), name="GROUND_DEAD"))
        if template is not None:
            truth_hdus.append(fits.ImageHDU(template, name="WISP"))
            tmpl = fits.PrimaryHDU(template)
            tmpl.header["DETECTOR"] = det.name
            tmpl.header["COMMENT"] = "Simulated wisp template (peak 1), detector space, DMS orientation."
            wpath = out / "truth" / f"wisp_template_{dname}.fits"
            with atomic_path(wpath) as tmp:
                tmpl.writeto(tmp)
        if claw_maps:
            truth_hdus.append(fits.ImageHDU(np.stack(claw_maps), name="CLAWS"))
        hdr = truth_hdus[0].header
        hdr["DETECTOR"] = det.name
        hdr["SEED"] = cfg.seed
        hdr["COMMENT"] = "Truth of a nircam-gui simulated _cal set: DELTA_* include dead pixels, LARGE_* do not."
        tpath = out / "truth" / f"truth_{dname}.fits"
        with atomic_path(tpath) as tmp:
            fits.HDUList(truth_hdus).writeto(tmp)
        res.truth_fits.append(os.fspath(tpath))
        gy, gx = np.nonzero(truth.ground_dead)
        doc = {
            "detector": det.name, "size": n, "seed": cfg.seed, "filters": list(cfg.filters),
            "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()},
            "dead_pixels": truth.dead, "weak_pixels": truth.weak, "clusters": truth.clusters,
            "ground_dead": {"x": gx.tolist(), "y": gy.tolist()}, "images": sky_rows,
            "notes": "0-based x (column), y (row) in DMS orientation; sky in MJy/sr; delta flats normalised "
                     "to median 1 over science pixels; grey truth = mean of the filters' large-scale deltas. "
                     "Scattered light: SCI = (sky * (1 + wisp_amplitude * WISP + claws) + sources) * delta; "
                     "CLAWS holds the claw maps (in sky units) of the images with claws, in image order.",
        }
        jpath = out / "truth" / f"truth_{dname}.json"
        with atomic_path(jpath) as tmp:
            tmp.write_text(json.dumps(doc, indent=1))
        res.truth_json.append(os.fspath(jpath))
        from astropy.table import Table

        ctab = Table({k: v for k, v in cat.items()})
        ctab.meta["comment"] = "kind 0 star (size = Gaussian sigma), 1 galaxy (size = r_e); peak in sky-noise units"
        cpath = out / "truth" / f"catalogue_{dname}.ecsv"
        with atomic_path(cpath) as tmp:
            ctab.write(tmp, format="ascii.ecsv", overwrite=True)
        res.catalogue_files.append(os.fspath(cpath))
    res.seconds = time.perf_counter() - t0
    return res
