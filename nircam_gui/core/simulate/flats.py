"""Simulated flat-field ramp sets with known gain, IPC, noise, bias and non-linearity.

The forward model is the exact inverse of the report's calibration sequence
(JWST-STScI-004622, Table 1), so each calibration step has a truth to return to.
For every integration ``k`` and group ``g`` (0-based; group 0 is the first read
after reset and already holds one frame time of signal):

1. charge ``N += F_k(x, y) t_group + dark t_group``, drawn per group as a Gaussian
   with the Poisson mean and variance (the first two moments are exact, which is
   all a PTC measures; the ~2,400 e- per group make higher moments negligible);
   with ``bfe`` on, the flux is scaled by the pixel's area, which the charge already
   collected changes (brighter-fatter effect, :mod:`.detector_physics`);
2. linear signal ``S = N / g(x, y) + kTC`` in ADU with the per-pixel gain map; the
   kTC reset offset (per pixel and integration) sits on the node with the signal;
3. non-linearity: the raw signal ``r`` solves ``S = r + c2 r^2 + c3 r^3`` (the
   LINEARITY reference file holds exactly these coefficients), capped at the full
   well ``w(x, y)``;
4. IPC: ``r`` convolved with the physical kernel (the 5x5 inverse of the IPC reference
   file's correction kernel), science pixels only, as the jwst IPC step does;
5. bias: superbias (with a ~1,000 ADU even/odd column pattern) + a per-integration even/odd offset per amplifier + a per-group
   drift per amplifier; reference pixels get these but no light;
6. read noise (per pixel rms map, white), plus optional 1/f noise per amplifier along
   the read order and alternating-column noise; rounded and clipped to uint16.

Inside the epoxy void the IPC coupling can be lower (``void_ipc_scale`` < 1), as the
report says voids show.

Lamp flux changes between integrations (``lamp_drift``); an anomalous first
integration (``first_pair_anomaly``: a per-pixel random flux pattern of that rms,
like trap filling after a long idle period, plus ``first_int_flux_step``) makes the
first pair's variance too high, hence its gain low, as in the report's Table 5.
"""

from __future__ import annotations

import json
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.time import Time, TimeDelta

from ... import __version__
from .. import dq as dqbits
from ..crdskeys import subarray_keywords
from ..detector import REF_BORDER, amplifier_bounds, dms_to_native, get_detector, reference_pixel_mask
from ..fileio import atomic_path, reserve
from ..ipc import REPORT_B1_CORRECTION_KERNEL, apply_kernel, invert_kernel, variance_factor
from ..progress import CancelCheck, ProgressCallback, Reporter
from ..reffiles import write_reference
from ..regionsio import polygons_mask, write_polygons
from .detector_physics import NIRCAM_BFE_A00, bfe_kernel, bfe_step, pink_noise_frame
from .fields import epoxy_void_polygon, legendre_field, random_pixels
from .level1b import write_level1b

__all__ = ["REPORT_SECTOR_GAINS", "FlatSimConfig", "FlatSimResult", "simulate_flats"]

#: Sector gains (e-/ADU) of report 004622 Table 7 (amplifiers 1-4; then the epoxy void
#: in sectors 2 and 3 where the detector has one). A2 failed in CV2: A1's are used.
REPORT_SECTOR_GAINS: dict[str, tuple[tuple[float, ...], tuple[float, float] | None]] = {
    "NRCA1": ((2.139, 2.141, 2.162, 2.166), None),
    "NRCA2": ((2.139, 2.141, 2.162, 2.166), None),
    "NRCA3": ((2.256, 2.259, 2.267, 2.288), None),
    "NRCA4": ((1.970, 1.955, 1.963, 1.990), (1.895, 1.911)),
    "NRCALONG": ((2.191, 2.144, 2.118, 2.114), (2.059, 2.044)),
    "NRCB1": ((2.363, 2.355, 2.347, 2.352), (2.289, 2.300)),
    "NRCB2": ((2.414, 2.404, 2.422, 2.440), None),
    "NRCB3": ((2.384, 2.375, 2.387, 2.411), None),
    "NRCB4": ((2.219, 2.195, 2.210, 2.224), (2.122, 2.122)),
    "NRCBLONG": ((2.140, 2.136, 2.102, 2.083), None),
}

TFRAME_FULL = 10.73677  # s, NIRCam full-frame frame time


@dataclass
class FlatSimConfig:
    """Everything that defines a simulated flat-field ramp set. Defaults are realistic.

    Signals are in ADU of a single frame unless stated otherwise.
    """

    detector: str = "NRCB1"
    nints: int = 10
    ngroups: int = 20
    size: int = 2048
    seed: int = 0
    #: "uncal" (one _uncal.fits per integration, as the report's 10 exposures),
    #: "uncal_multi" (one _uncal.fits with all integrations) or "ground" (3-D cubes
    #: in native read-out orientation, one per integration, CV2 file names).
    layout: str = "uncal"
    filter: str | None = None
    #: mean linear signal added per group: the 5,000 ADU SW limit falls in groups 4-5
    adu_per_group: float = 1100.0
    #: sector gains; None takes the detector's from report Table 7
    sector_gains: tuple[float, float, float, float] | None = None
    gain_smooth_rms: float = 0.008
    epoxy_void: bool | None = None  # None: where report Table 7 has one (A4, ALONG, B1, B4)
    void_gain_factor: float = 0.95
    ipc_correction_kernel: list[list[float]] = field(default_factory=lambda: REPORT_B1_CORRECTION_KERNEL.tolist())
    #: coupling inside the void relative to outside (the report: voids have lower IPC)
    void_ipc_scale: float = 1.0
    read_noise: float = 5.0
    #: brighter-fatter effect: charge-dependent pixel area (see detector_physics)
    bfe: bool = False
    #: centre coefficient a_00 of the BFE kernel (1/e-); the default reproduces report Table 3
    bfe_a00: float = NIRCAM_BFE_A00
    #: rms (ADU, single frame) of 1/f read noise per amplifier, correlated along the read order
    one_over_f_rms: float = 0.0
    #: rms (ADU, single frame) of alternating-column noise
    acn_rms: float = 0.0
    ktc_noise: float = 15.0
    superbias_level: float = 11000.0
    superbias_evenodd: float = 1000.0
    evenodd_residual: float = 1000.0
    drift_step: float = 2.0
    nl_c2: float = 2.4e-6
    nl_c3: float = 1.0e-11
    well_depth: float = 45000.0
    prnu: float = 0.02
    illumination_gradient: float = 0.04
    lamp_drift: float = 0.002
    first_pair_anomaly: float = 0.0
    first_int_flux_step: float = 0.0
    hot_fraction: float = 3e-4
    dead_fraction: float = 2e-4
    #: fraction of the hot/dead pixels that the MASK reference file knows about
    flagged_fraction: float = 0.5
    start_time: str = "2014-09-01T04:58:36"
    cadence_s: float = 1760.8
    threads: int = 2

    def __post_init__(self) -> None:
        det = get_detector(self.detector)
        self.detector = det.name
        if self.size % 8 or self.size < 64:
            raise ValueError(f"size {self.size}: must be a multiple of 8 and at least 64")
        if self.layout not in ("uncal", "uncal_multi", "ground"):
            raise ValueError(f"layout {self.layout!r}: use uncal, uncal_multi or ground")
        if self.nints < 1 or self.ngroups < 2:
            raise ValueError("need at least 1 integration of 2 groups")
        if self.bfe and not self.bfe_a00 < 0:
            raise ValueError(f"bfe_a00 {self.bfe_a00}: the BFE centre coefficient must be negative")
        if self.one_over_f_rms < 0 or self.acn_rms < 0 or not 0 <= self.void_ipc_scale <= 2:
            raise ValueError("noise rms must be >= 0 and void_ipc_scale within 0-2")


@dataclass
class FlatSimResult:
    """Paths written by :func:`simulate_flats`."""

    ramps: list[Path]
    references: dict[str, Path]
    regions: Path | None
    truth_fits: Path
    truth_json: Path
    truth_gain: Path


def _sector_gains(cfg: FlatSimConfig) -> tuple[np.ndarray, bool]:
    gains, void = REPORT_SECTOR_GAINS[cfg.detector]
    if cfg.sector_gains is not None:
        gains = cfg.sector_gains
    has_void = (void is not None) if cfg.epoxy_void is None else cfg.epoxy_void
    return np.asarray(gains, dtype=float), has_void


@dataclass
class _Static:
    shape: tuple[int, int]
    inv_gain: np.ndarray
    rate_e: np.ndarray  # e-/group at unit lamp factor, including dark current
    anomaly: np.ndarray | None
    c2: np.ndarray
    c3: np.ndarray
    well: np.ndarray
    superbias: np.ndarray
    read_noise: np.ndarray
    ref: np.ndarray
    kernel: np.ndarray
    void_kernel: np.ndarray | None
    void: np.ndarray
    bfe: np.ndarray | None = None


def _build_truth(cfg: FlatSimConfig, rng: np.random.Generator, tgroup: float):
    n = cfg.size
    shape = (n, n)
    b = REF_BORDER
    ref = reference_pixel_mask(shape, b)
    amps = amplifier_bounds(n)
    sector, has_void = _sector_gains(cfg)

    smooth = legendre_field(shape, _smooth_coeffs(rng))
    smooth *= cfg.gain_smooth_rms / max(float(np.std(smooth)), 1e-12)
    gain = np.empty(shape, np.float32)
    for a, (x0, x1) in enumerate(amps):
        gain[:, x0:x1] = sector[a] * (1.0 + smooth[:, x0:x1] - smooth[:, x0:x1].mean())
    polygon = epoxy_void_polygon(rng, n) if has_void else None
    void = polygons_mask([polygon], shape) if has_void else np.zeros(shape, bool)
    void &= ~ref
    gain[void] *= cfg.void_gain_factor

    illum = 1.0 + legendre_field(shape, np.array([[0, 0.5, -0.2], [0.7, 0.1, 0], [-0.3, 0, 0]]) * cfg.illumination_gradient)
    prnu = rng.lognormal(0.0, cfg.prnu, shape).astype(np.float32)
    qe = illum * prnu
    qe /= qe[~ref].mean()
    dead = random_pixels(rng, shape, cfg.dead_fraction, b)
    hot = random_pixels(rng, shape, cfg.hot_fraction, b) & ~dead
    qe[dead] = 0.0
    qe[ref] = 0.0
    # electrons per group: the mean linear signal per group is adu_per_group
    rate_e = (cfg.adu_per_group * qe * gain).astype(np.float32)
    dark_e = np.zeros(shape, np.float32)
    dark_e[hot] = rng.lognormal(np.log(20.0), 1.0, hot.sum()) * tgroup  # 20 e-/s typical hot pixel
    rate_e += dark_e
    anomaly = None
    if cfg.first_pair_anomaly > 0:
        anomaly = (1.0 + cfg.first_int_flux_step + rng.normal(0, cfg.first_pair_anomaly, shape)).astype(np.float32)
    elif cfg.first_int_flux_step:
        anomaly = np.full(shape, 1.0 + cfg.first_int_flux_step, np.float32)

    c2 = (cfg.nl_c2 * rng.normal(1.0, 0.05, shape)).astype(np.float32)
    c3 = (cfg.nl_c3 * rng.normal(1.0, 0.05, shape)).astype(np.float32)
    c2[ref] = 0
    c3[ref] = 0
    well = (cfg.well_depth * rng.normal(1.0, 0.02, shape)).astype(np.float32)

    # superbias: level, amplifier offsets, even/odd column pattern per amplifier, pixel scatter
    sb = np.full(shape, cfg.superbias_level, np.float32)
    sb += legendre_field(shape, np.array([[0, 150.0], [100.0, 0]]))
    cols = np.arange(n)
    for x0, x1 in amps:
        sb[:, x0:x1] += rng.normal(0, 300)
        parity = (cols[x0:x1] % 2 == 0)
        sb[:, x0:x1] += np.where(parity, 0.5, -0.5) * cfg.superbias_evenodd * rng.uniform(0.8, 1.2)
    sb += rng.normal(0, 120, shape).astype(np.float32)
    read_noise = (cfg.read_noise * rng.lognormal(0, 0.1, shape)).astype(np.float32)

    kc = np.asarray(cfg.ipc_correction_kernel, float)
    # 5x5: the correction kernel then undoes it to 2e-6 in variance (3x3 leaves 3e-4)
    kernel = invert_kernel(kc, size=5).astype(np.float32)
    void_kernel = None
    if has_void and cfg.void_ipc_scale != 1.0:
        delta = np.zeros_like(kernel)
        delta[kernel.shape[0] // 2, kernel.shape[1] // 2] = 1
        void_kernel = (delta + (kernel - delta) * cfg.void_ipc_scale).astype(np.float32)

    static = _Static(shape, (1.0 / gain).astype(np.float32), rate_e, anomaly, c2, c3, well, sb, read_noise, ref,
                     kernel, void_kernel, void, bfe_kernel(cfg.bfe_a00) if cfg.bfe else None)
    extras = dict(gain=gain, qe=qe, dead=dead, hot=hot, dark_e=dark_e, polygon=polygon, sector=sector,
                  has_void=has_void, kc=kc)
    return static, extras


def _coupling(kernel: np.ndarray) -> dict:
    """Nearest-neighbour coupling of a physical IPC kernel: mean of the two x and the two y neighbours."""
    k = np.asarray(kernel, float)
    c = k.shape[0] // 2
    return {"x": float((k[c, c - 1] + k[c, c + 1]) / 2), "y": float((k[c - 1, c] + k[c + 1, c]) / 2),
            "center": float(k[c, c])}


def _smooth_coeffs(rng: np.random.Generator) -> np.ndarray:
    # low orders only (up to cubic): a smooth few-per-cent pattern across the detector
    c = rng.normal(0, 1, (4, 4))
    c[0, 0] = 0
    c[2:, 2:] *= 0.3
    return c


def _raw_from_linear(lin: np.ndarray, c2: np.ndarray, c3: np.ndarray) -> np.ndarray:
    """Solve ``lin = r + c2 r^2 + c3 r^3`` for r: closed-form quadratic, one Newton step."""
    r = 2.0 * lin / (1.0 + np.sqrt(1.0 + 4.0 * c2 * lin))
    r2 = r * r
    f = r + c2 * r2 + c3 * r2 * r - lin
    fp = 1.0 + 2.0 * c2 * r + 3.0 * c3 * r2
    r -= f / fp
    return r


def _bias_terms(cfg: FlatSimConfig, rng: np.random.Generator):
    """Per-integration even/odd offsets (nints, 4, 2) and per-group drifts (nints, ngroups, 4)."""
    eo = np.empty((cfg.nints, 4, 2))
    for k in range(cfg.nints):
        for a in range(4):
            base = rng.normal(0, 200)
            d = cfg.evenodd_residual * rng.uniform(0.8, 1.2) * rng.choice([-1, 1])
            eo[k, a] = (base + d / 2, base - d / 2)  # (even columns, odd columns)
    steps = rng.normal(0, cfg.drift_step, (cfg.nints, cfg.ngroups, 4))
    drift = np.cumsum(steps, axis=1) + rng.normal(0, 20, (cfg.nints, 1, 4))
    return eo, drift


def _primary_header(cfg: FlatSimConfig, k: int | None, tgroup: float, filt: str) -> fits.Header:
    det = get_detector(cfg.detector)
    start = Time(cfg.start_time, format="isot", scale="utc") + TimeDelta((k or 0) * cfg.cadence_s, format="sec")
    nints = cfg.nints if k is None else 1
    h = fits.Header()
    h["SIMPLE"] = True
    h["BITPIX"] = 8
    h["NAXIS"] = 0
    h["EXTEND"] = True
    cards = [
        ("DATAMODL", "Level1bModel", "Type of data model"),
        ("TELESCOP", "JWST", "Telescope used to acquire the data"),
        ("ORIGIN", "nircam-gui", "simulated data"),
        ("SIMULATD", True, "simulated by nircam-gui " + __version__),
        ("FILENAME", "", "" if cfg.layout == "ground" else "Name of the file"),
        ("INSTRUME", "NIRCAM", "Instrument used to acquire the data"),
        ("DETECTOR", det.name, "Name of detector used to acquire the data"),
        ("MODULE", det.module, "NIRCam module"),
        ("CHANNEL", "LONG" if det.is_longwave else "SHORT", "Instrument channel"),
        ("FILTER", filt, "Name of the filter element used"),
        ("PUPIL", "CLEAR", "Name of the pupil element used"),
        ("EXP_TYPE", "NRC_FLAT", "Type of data in the exposure"),
        ("READPATT", "RAPID", "Readout pattern"),
        ("NINTS", nints, "Number of integrations in exposure"),
        ("NGROUPS", cfg.ngroups, "Number of groups in integration"),
        ("NFRAMES", 1, "Number of frames per group"),
        ("GROUPGAP", 0, "Number of frames dropped between groups"),
        ("TFRAME", tgroup, "[s] Time between frames"),
        ("TGROUP", tgroup, "[s] Time between groups"),
        ("EFFINTTM", tgroup * (cfg.ngroups - 1), "[s] Effective integration time"),
        ("DATE-OBS", start.isot[:10], "UTC date at start of exposure"),
        ("TIME-OBS", start.isot[11:], "UTC time at start of exposure"),
        ("EXPSTART", float(start.mjd), "UTC exposure start time (MJD)"),
        ("EXPEND", float(start.mjd + nints * cfg.ngroups * tgroup / 86400.0), "UTC exposure end time (MJD)"),
        ("SUBARRAY", subarray_keywords((cfg.size, cfg.size))["name"], "Subarray used"),
        ("SUBSTRT1", 1, "Starting pixel in axis 1 direction"),
        ("SUBSTRT2", 1, "Starting pixel in axis 2 direction"),
        ("SUBSIZE1", cfg.size, "Number of pixels in axis 1 direction"),
        ("SUBSIZE2", cfg.size, "Number of pixels in axis 2 direction"),
        ("FASTAXIS", det.fastaxis, "Fast readout axis direction"),
        ("SLOWAXIS", det.slowaxis, "Slow readout axis direction"),
        ("SIMSEED", cfg.seed, "simulator seed"),
    ]
    for key, value, comment in cards:
        h[key] = (value, comment)
    if k is not None:
        h["SIMINTEG"] = (k + 1, "simulated integration (1-based)")
    if cfg.layout == "ground":
        h["SCA_ID"] = (det.sca, "SCA number")
        h["NRCORIEN"] = ("NATIVE", "native read-out orientation")
        for key in ("DATAMODL", "EXPSTART", "EXPEND"):
            del h[key]
    return h


def _alloc_fits(path: Path, primary: fits.Header, shape: tuple[int, ...], in_primary: bool) -> np.memmap:
    """Write headers and reserve a uint16 data block; return a writable big-endian int16 memmap."""
    data_cards = [("BITPIX", 16), ("NAXIS", len(shape))]
    data_cards += [(f"NAXIS{i + 1}", n) for i, n in enumerate(reversed(shape))]
    nbytes = 2 * math.prod(shape)
    padded = -(-nbytes // 2880) * 2880
    with open(path, "wb") as f:
        if in_primary:
            h = primary.copy()
            h["BITPIX"] = 16
            h["NAXIS"] = len(shape)
            for i, n in enumerate(reversed(shape)):
                h.insert(f"NAXIS{i}" if i else "NAXIS", (f"NAXIS{i + 1}", n), after=True)
            h["BZERO"] = 32768
            h["BSCALE"] = 1
            f.write(h.tostring().encode("ascii"))
        else:
            f.write(primary.tostring().encode("ascii"))
            ext = fits.Header([("XTENSION", "IMAGE"), *data_cards, ("PCOUNT", 0), ("GCOUNT", 1),
                               ("BZERO", 32768), ("BSCALE", 1), ("EXTNAME", "SCI")])
            f.write(ext.tostring().encode("ascii"))
        offset = f.tell()
        reserve(f, offset, padded)
    return np.memmap(path, dtype=">i2", mode="r+", offset=offset, shape=shape)


def _simulate_integration(k: int, cfg: FlatSimConfig, st: _Static, lamp: float, eo: np.ndarray,
                          drift: np.ndarray, rng: np.random.Generator, out: np.memmap, report) -> None:
    n = cfg.size
    amps = amplifier_bounds(n)
    rate = st.rate_e * np.float32(lamp)
    if k == 0 and st.anomaly is not None:
        rate = rate * st.anomaly
    sqrt_rate = np.sqrt(rate)
    # kTC is a reset offset of the node: it enters the non-linearity with the signal, so
    # the pipeline's linearity correction (after superbias subtraction) inverts it exactly
    ktc = rng.normal(0, cfg.ktc_noise, st.shape).astype(np.float32)
    ref_ktc = ktc[st.ref]
    ktc[st.ref] = 0.0
    base = st.superbias.copy()
    cols = np.arange(n)
    for a, (x0, x1) in enumerate(amps):
        base[:, x0:x1] += np.where(cols[x0:x1] % 2 == 0, eo[a, 0], eo[a, 1]).astype(np.float32)
    charge = np.zeros(st.shape, np.float32)
    z = np.empty(st.shape, np.float32)
    # correlated read noise from a stream of its own: switching it on leaves every other draw
    # of the integration as it was, so its effect can be measured on the same photons
    pink_rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, k, 1_000_003]))
    for g in range(cfg.ngroups):
        rng.standard_normal(out=z, dtype=np.float32)
        if st.bfe is not None:
            bfe_step(charge, rate, sqrt_rate, z, st.bfe)
        else:
            charge += rate + sqrt_rate * z
        np.maximum(charge, 0.0, out=charge)
        raw = _raw_from_linear(charge * st.inv_gain + ktc, st.c2, st.c3)
        np.minimum(raw, st.well, out=raw)
        raw[st.ref] = 0.0
        sig = apply_kernel(raw, st.kernel)
        if st.void_kernel is not None:
            sig[st.void] = apply_kernel(raw, st.void_kernel)[st.void]
        del raw
        sig += base
        sig[st.ref] += ref_ktc
        for a, (x0, x1) in enumerate(amps):
            sig[:, x0:x1] += np.float32(drift[g, a])
        rng.standard_normal(out=z, dtype=np.float32)
        sig += st.read_noise * z
        if cfg.one_over_f_rms > 0 or cfg.acn_rms > 0:
            sig += pink_noise_frame(pink_rng, st.shape, amps, cfg.one_over_f_rms, cfg.acn_rms)
        np.rint(sig, out=sig)
        np.clip(sig, 0, 65535, out=sig)
        frame = (sig.astype(np.uint16) ^ np.uint16(0x8000)).view(np.int16)
        if cfg.layout == "ground":
            frame = dms_to_native(frame, cfg.detector)
        if out.ndim == 4:
            out[k if cfg.layout == "uncal_multi" else 0, g] = frame
        else:
            out[g] = frame
        report(f"integration {k + 1} group {g + 1}")


def _file_name(cfg: FlatSimConfig, k: int | None) -> str:
    det = get_detector(cfg.detector)
    if cfg.layout == "ground":
        t = Time(cfg.start_time, format="isot") + TimeDelta((k or 0) * cfg.cadence_s, format="sec")
        stamp = t.strftime("%Y-%m-%dT%Hh%Mm%S")
        return f"NRCN815{det.module}-LIN-SIM{cfg.seed:04d}_{k + 1}_{det.sca}_SE_{stamp}.fits"
    expnum = 1 if k is None else k + 1
    return f"jw99999001001_01101_{expnum:05d}_{det.name.lower()}_uncal.fits"


def simulate_flats(
    outdir: str | os.PathLike,
    config: FlatSimConfig | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelCheck | None = None,
) -> FlatSimResult:
    """Write a flat-field ramp set, its reference files, the epoxy-void regions and the truth.

    Parameters
    ----------
    outdir : path-like
        Folder for the ramps; reference files go to ``outdir/reference``, the truth to
        ``outdir/truth``.
    config : FlatSimConfig, optional
    progress, cancel : callable, optional
        See :mod:`nircam_gui.core.progress`. On cancel, no partial ramp is left behind.

    Returns
    -------
    FlatSimResult
    """
    cfg = config or FlatSimConfig()
    det = get_detector(cfg.detector)
    outdir = Path(outdir)
    (outdir / "reference").mkdir(parents=True, exist_ok=True)
    (outdir / "truth").mkdir(parents=True, exist_ok=True)
    filt = cfg.filter or ("F444W" if det.is_longwave else "F150W")
    tgroup = TFRAME_FULL
    seeds = np.random.SeedSequence(cfg.seed).spawn(cfg.nints + 2)
    rng = np.random.default_rng(seeds[0])
    st, ex = _build_truth(cfg, rng, tgroup)
    bias_rng = np.random.default_rng(seeds[1])
    eo, drift = _bias_terms(cfg, bias_rng)
    lamp = 1.0 + cfg.lamp_drift * bias_rng.normal(0, 1, cfg.nints)

    reporter = Reporter(cfg.nints * cfg.ngroups + 2, progress, cancel)
    lock = threading.Lock()

    def report(msg: str) -> None:
        with lock:
            reporter.step(msg)

    # ramps: one memory-mapped file per integration (or one for all), filled by threads
    n = cfg.size
    multi = cfg.layout == "uncal_multi"
    targets: list[tuple[Path, np.memmap]] = []
    final_paths: list[Path] = []
    tmp_paths: list[Path] = []
    try:
        for k in ([None] if multi else range(cfg.nints)):
            name = _file_name(cfg, k)
            path = outdir / name
            tmp = outdir / f".{name}.part"
            hdr = _primary_header(cfg, k, tgroup, filt)
            hdr["FILENAME"] = name
            shape = (cfg.nints if multi else 1, cfg.ngroups, n, n) if cfg.layout != "ground" else (cfg.ngroups, n, n)
            tmp_paths.append(tmp)
            final_paths.append(path)
            targets.append((tmp, _alloc_fits(tmp, hdr, shape, in_primary=cfg.layout == "ground")))

        def run(k: int) -> None:
            out = targets[0][1] if multi else targets[k][1]
            _simulate_integration(k, cfg, st, float(lamp[k]), eo[k], drift[k],
                                  np.random.default_rng(seeds[k + 2]), out, report)

        with ThreadPoolExecutor(max_workers=max(1, cfg.threads)) as pool:
            for fut in [pool.submit(run, k) for k in range(cfg.nints)]:
                fut.result()
        for (tmp, mm), path in zip(targets, final_paths):
            mm.flush()
            del mm
            if cfg.layout == "ground":
                os.replace(tmp, path)
            else:  # a level-1b file the jwst pipeline opens by name (ASDF extension, GROUP, INT_TIMES)
                write_level1b(tmp, path)
        targets.clear()
    finally:
        targets.clear()
        for tmp in tmp_paths:
            if tmp.exists():
                tmp.unlink()

    refs = _write_references(cfg, outdir / "reference", st, ex, filt)
    report("reference files")
    region = None
    if ex["has_void"]:
        region = outdir / f"epoxy_void_{det.name.lower()}.reg"
        write_polygons(region, [ex["polygon"]])
    truth_fits, truth_json, truth_gain = _write_truth(cfg, outdir / "truth", st, ex, eo, drift, lamp, tgroup, filt,
                                                      final_paths, refs)
    report("truth")
    return FlatSimResult(final_paths, refs, region, truth_fits, truth_json, truth_gain)


def _write_references(cfg: FlatSimConfig, folder: Path, st: _Static, ex: dict, filt: str) -> dict[str, Path]:
    det = cfg.detector
    stem = f"sim_{det.lower()}"
    hist = [f"Simulated by nircam-gui {__version__}, seed {cfg.seed}"]
    common = dict(author="nircam-gui simulator", pedigree="DUMMY", history=hist)
    paths: dict[str, Path] = {}
    n = cfg.size
    zeros_dq = np.zeros((n, n), np.uint32)

    paths["SUPERBIAS"] = Path(write_reference(
        folder / f"{stem}_superbias.fits", "SUPERBIAS", det,
        {"data": st.superbias, "err": np.full((n, n), 5.0, np.float32), "dq": zeros_dq},
        description="Simulated superbias with even/odd column pattern", **common))

    coeffs = np.zeros((4, n, n), np.float32)
    coeffs[1] = 1.0
    coeffs[2] = st.c2
    coeffs[3] = st.c3
    paths["LINEARITY"] = Path(write_reference(
        folder / f"{stem}_linearity.fits", "LINEARITY", det, {"coeffs": coeffs, "dq": zeros_dq},
        description="Simulated linearity: linear = r + c2 r^2 + c3 r^3 (r bias-subtracted)", **common))

    # raw DN threshold (bias included), as the SATURATION files used by calwebb_detector1
    sat = np.minimum(st.superbias + 0.97 * st.well, 65000.0).astype(np.float32)
    paths["SATURATION"] = Path(write_reference(
        folder / f"{stem}_saturation.fits", "SATURATION", det, {"data": sat, "dq": zeros_dq},
        description="Simulated saturation: 97% of full well above superbias, raw DN", **common))

    rng = np.random.default_rng(np.random.SeedSequence(cfg.seed).spawn(cfg.nints + 3)[-1])
    mask = np.zeros((n, n), np.uint32)
    mask[st.ref] |= dqbits.REFERENCE_PIXEL
    known_dead = ex["dead"] & (rng.random((n, n)) < cfg.flagged_fraction)
    known_hot = ex["hot"] & (rng.random((n, n)) < cfg.flagged_fraction)
    mask[known_dead] |= dqbits.DEAD | dqbits.DO_NOT_USE
    mask[known_hot] |= dqbits.HOT | dqbits.DO_NOT_USE
    ex["known_dead"], ex["known_hot"] = known_dead, known_hot
    paths["MASK"] = Path(write_reference(
        folder / f"{stem}_mask.fits", "MASK", det, {"dq": mask},
        description="Simulated bad-pixel mask (part of the dead and hot pixels)",
        dq_names=("DO_NOT_USE", "DEAD", "HOT", "REFERENCE_PIXEL"), **common))

    paths["IPC"] = Path(write_reference(
        folder / f"{stem}_ipc.fits", "IPC", det, {"data": ex["kc"].astype(np.float32)},
        description="IPC correction (deconvolution) kernel; report 004622 B1 kernel", **common))

    paths["READNOISE"] = Path(write_reference(
        folder / f"{stem}_readnoise.fits", "READNOISE", det, {"data": st.read_noise},
        description="Simulated single-frame read noise (ADU)", **common))
    return paths


def _write_truth(cfg, folder: Path, st: _Static, ex: dict, eo, drift, lamp, tgroup, filt, ramps, refs):
    det = get_detector(cfg.detector)
    gain = ex["gain"]
    ref = st.ref
    amps = amplifier_bounds(cfg.size)
    sectors = []
    for a, (x0, x1) in enumerate(amps):
        sel = ~ref[:, x0:x1]
        void = st.void[:, x0:x1]
        g = gain[:, x0:x1]
        sectors.append({"amp": a + 1, "region": "normal", "gain": float(g[sel & ~void].mean()),
                        "npix": int((sel & ~void).sum())})
        if void.any():
            sectors.append({"amp": a + 1, "region": "epoxy", "gain": float(g[void].mean()), "npix": int(void.sum())})
    vf = variance_factor(st.kernel)
    void_kernel = st.kernel if st.void_kernel is None else st.void_kernel
    truth = {
        "config": asdict(cfg),
        "detector": det.name,
        "filter": filt,
        "tgroup": tgroup,
        "sector_gains": sectors,
        "ipc_physical_kernel": st.kernel.astype(float).tolist(),
        "ipc_correction_kernel": ex["kc"].tolist(),
        "ipc_variance_factor": vf,
        "note_ipc": "a PTC on data not corrected for IPC measures gain / ipc_variance_factor",
        "ipc_physical_kernel_void": void_kernel.astype(float).tolist(),
        "ipc_coupling": {"normal": _coupling(st.kernel), "epoxy": _coupling(void_kernel)},
        "bfe": None if st.bfe is None else {
            "kernel_per_electron": st.bfe.tolist(),
            "a_matrix": st.bfe[2:, 2:].tolist(),
            "note": "area of pixel x = 1 + sum_l a_l Q(x + l), Q in electrons; a_matrix[j][i] is the "
                    "coefficient at lag (dx, dy) = (i, j)"},
        "one_over_f_rms_adu": cfg.one_over_f_rms,
        "acn_rms_adu": cfg.acn_rms,
        "lamp_factors": [float(x) for x in lamp],
        "evenodd_offsets_adu": eo.tolist(),
        "drift_adu": drift.tolist(),
        "n_dead": int(ex["dead"].sum()),
        "n_hot": int(ex["hot"].sum()),
        "ramps": [str(p) for p in ramps],
        "references": {k: str(v) for k, v in refs.items()},
        "epoxy_void_polygon_xy0": None if ex["polygon"] is None else ex["polygon"].tolist(),
        "photon_noise": "Gaussian with the Poisson mean and variance per group",
    }
    hdus = [fits.PrimaryHDU()]
    hdus[0].header["DETECTOR"] = det.name
    hdus[0].header["SIMSEED"] = cfg.seed
    for name, arr in [("GAIN", gain), ("QE", ex["qe"]), ("RATE_E", st.rate_e), ("READNOISE", st.read_noise),
                      ("NL_C2", st.c2), ("NL_C3", st.c3), ("WELL", st.well), ("SUPERBIAS", st.superbias),
                      ("VOID", st.void.astype(np.uint8)), ("DEAD", ex["dead"].astype(np.uint8)),
                      ("HOT", ex["hot"].astype(np.uint8)), ("KNOWN_DEAD", ex["known_dead"].astype(np.uint8)),
                      ("KNOWN_HOT", ex["known_hot"].astype(np.uint8)), ("IPC_PHYS", st.kernel)]:
        hdus.append(fits.ImageHDU(np.asarray(arr), name=name))
    if st.anomaly is not None:
        hdus.append(fits.ImageHDU(st.anomaly, name="ANOMALY1"))
    truth_fits = folder / "flats_truth.fits"
    with atomic_path(truth_fits) as tmp:
        fits.HDUList(hdus).writeto(tmp)
    truth_json = folder / "flats_truth.json"
    with atomic_path(truth_json) as tmp:
        tmp.write_text(json.dumps(truth, indent=1))
    truth_gain = Path(write_reference(
        folder / f"truth_gain_{det.name.lower()}.fits", "GAIN", det, {"data": gain.astype(np.float32)},
        description="True per-pixel gain of the simulation (e-/ADU)", author="nircam-gui simulator",
        pedigree="DUMMY"))
    return truth_fits, truth_json, truth_gain
