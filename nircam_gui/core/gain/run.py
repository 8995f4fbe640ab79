"""The gain analysis end to end: pairs -> calibration -> box statistics -> fits -> maps.

Memory is bounded by the calibration chunk (a few groups of the two integrations of
a pair), whatever the number of groups. The statistics for every pair, group and box
are kept (``ptc`` arrays), so the GUI and the studies can re-fit without re-reading.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import dq as dqbits
from .. import options as option_schema
from ..calibrate import CalibrationConfig, calibrate_integration
from ..calibrate.config import with_reference_checksums
from ..calibrate.buffers import BufferPool
from ..calibrate.pipeline import science_median
from ..calibrate.steps import shared_references
from ..clipping import clip_variance_factor
from ..crdskeys import check_delivery, delivery_option
from ..detector import get_detector
from ..errors import NircamFileError
from ..ipc import analytic_gain_factor, physical_kernel, variance_factor
from ..options import option
from ..progress import CancelCheck, ProgressCallback, Reporter
from ..provenance import prefetch_checksums
from ..readers import open_reference, read_metadata, reference_flags, require_same_detector
from ..references import ReferenceSet
from ..reffiles import preload_writer
from ..regionsio import void_mask
from .biasestimate import write_estimated_superbias
from .boxes import BoxGrid, make_boxes
from .clipstats import BoxClipper
from .covariances import BoxCovariances
from .covfit import CovarianceSolution, solve_covariance_model
from .maps import GainMaps, check_first_pair, combine_pairs, sector_table
from .pairs import Integration, Pair, find_integrations, make_pairs
from .ptcfit import FLAG_BAD_SLOPE, FLAG_FEW_POINTS, PTCFit, fit_ptc

__all__ = ["GainOptions", "GainResult", "GainSetup", "PTCPoints", "PairGeometry", "PairStatistics", "build_geometry",
           "combine_gain", "measure_pair", "prepare_gain", "run_gain"]

IPC_MODES = ("none", "analytic", "exact", "deconvolve")
FIRST_PAIR_MODES = ("auto", "keep", "drop")
PTC_MODELS = ("linear", "covariance")
REFERENCE_GAINS = ("apparent", "ipc-corrected")
DEFAULT_COV_LAG = 3  # lags the covariance model measures when none is given
# MASK bits that keep a pixel out of every box (reference pixels are left out by geometry)
_EXCLUDE_BITS = dqbits.DO_NOT_USE | dqbits.DEAD | dqbits.HOT


_REFS = "calibration reference files (a step is switched off without its file)"


@dataclass
class GainOptions:
    """Options of the gain analysis: one documented schema (JWST-STScI-004622).

    ``nircam-gain``'s arguments, the Gain tab's defaults and every product's provenance
    are made from these fields (:mod:`nircam_gui.core.options`).

    ``ipc``: ``none`` (no correction), ``analytic`` (the report's factor
    1 - 2 (k_center - 1) on the gain), ``exact`` (the sum of squares of the physical
    kernel, the inverse of the reference file's correction kernel), ``deconvolve``
    (the calibration's IPC step on the data, the report's final choice).

    ``ptc_model``: ``linear`` (the report's straight line below the signal limit) or
    ``covariance`` (the full covariance model of Astier et al. 2019 per amplifier, then
    the gain at zero signal per box up to its PTC turnoff; ``signal_limit``, when given,
    caps those box fits). Covariances up to ``cov_lag`` are measured when the covariance
    model needs them (default lag 3) or when ``cov_lag`` is given with the linear model
    (the covariance model is then fitted beside it); ``fit_lag`` is the largest lag the
    model fits, ``fit_b`` adds its b term.
    """

    box: int = option(256, "box size (256 keeps one map below 1% uncertainty)", unit="pixel",
                      section="004622 sec. 5.2", flag="--box")
    signal_limit: float | None = option(None, "upper single-frame signal of the groups in the fit (default 5000 SW, "
                                              "7500 LW)", unit="ADU", section="004622 sec. 5.3")
    groups: int | None = option(None, "use only the first N groups of each integration", flag="--groups")
    regions: str | None = option(None, "epoxy voids: a DS9 region file (polygons, image coordinates) or a FITS mask "
                                       "(non-zero = void, DMS orientation, as STScI distributes the NIRCam "
                                       "low-epoxy regions)", section="004622 sec. 4")
    ipc: str = option("deconvolve", "IPC correction: none; analytic (the report's factor 1-2(k-1)); exact (sum of "
                                    "squares of the physical kernel); deconvolve (the IPC step on the data)",
                      choices=IPC_MODES, section="004622 sec. 5.5")
    ipc_kernel: str | None = option(None, "IPC reference file (correction kernel)", group=_REFS)
    superbias: str | None = option(None, "SUPERBIAS reference file", group=_REFS)
    linearity: str | None = option(None, "LINEARITY reference file", group=_REFS)
    saturation: str | None = option(None, "SATURATION reference file", group=_REFS)
    mask: str | None = option(None, "MASK reference file (DO_NOT_USE, DEAD, HOT pixels leave the boxes)",
                              group=_REFS)
    first_pair: str = option("auto", "use the first pair in the mean map: auto drops it only when significantly off",
                             choices=FIRST_PAIR_MODES, section="004622 sec. 5.4, Table 5")
    nsigma: float = option(3.0, "clipping threshold of the box statistics", unit="sigma", section="004622 sec. 3",
                           flag="")
    chunk: int = option(8, "groups calibrated at a time (bounds the memory)", unit="group", flag="")
    ptc_model: str = option("linear", "PTC model: linear (the report's straight line below the signal limit); "
                                      "covariance (the full covariance model of Astier et al. 2019 per amplifier "
                                      "with brighter-fatter a-matrix, gain at zero signal per box fitted up to its "
                                      "PTC turnoff, capped by the signal limit when given)", choices=PTC_MODELS)
    cov_lag: int | None = option(None, "largest pixel lag of the covariances measured (0 to 8; default 3 with "
                                       "the covariance model; with the linear model covariances are measured, and "
                                       "the covariance model fitted beside it, only when a lag is given)",
                                 unit="pixel")
    fit_lag: int | None = option(None, "largest lag in the covariance model (default: the covariance lag)",
                                 unit="pixel")
    fit_b: bool = option(False, "also fit the covariance model's b term")
    reference_gain: str = option("apparent", "gain in gain_map.fits: apparent (what the jwst pipeline needs, it does "
                                             "not IPC-correct NIRCam data) or ipc-corrected (the report's Table 7); "
                                             "gain_map_ipc_corrected.fits always holds the IPC-corrected map",
                                 choices=REFERENCE_GAINS)
    author: str = delivery_option("author")
    useafter: str | None = delivery_option("useafter")
    pedigree: str = delivery_option("pedigree", "GROUND")
    descrip: str | None = delivery_option("descrip")
    history: str | None = delivery_option("history")

    def __post_init__(self) -> None:
        if self.ptc_model not in PTC_MODELS:
            raise ValueError(f"PTC model {self.ptc_model!r}: use one of {', '.join(PTC_MODELS)}")
        if self.cov_lag is not None and not 0 <= self.cov_lag <= 8:
            raise ValueError(f"covariance lag {self.cov_lag}: use 0 to 8")
        lag = self.measured_lag
        if self.fit_lag is not None and (lag is None or not 0 <= self.fit_lag <= lag):
            raise ValueError(f"fit lag {self.fit_lag}: use 0 to the covariance lag ({lag})" if lag is not None else
                             f"fit lag {self.fit_lag}: no covariances are measured (give --cov-lag or "
                             "--ptc-model covariance)")
        if self.ipc not in IPC_MODES:
            raise ValueError(f"ipc mode {self.ipc!r}: use one of {', '.join(IPC_MODES)}")
        if self.ipc != "none" and not self.ipc_kernel:
            raise ValueError(f"--ipc {self.ipc} needs an IPC reference file (--ipc-kernel)")
        if self.first_pair not in FIRST_PAIR_MODES:
            raise ValueError(f"first-pair mode {self.first_pair!r}: use auto, keep or drop")
        if self.box < 16:
            raise ValueError(f"box size {self.box}: use at least 16 pixels")
        if self.reference_gain not in REFERENCE_GAINS:
            raise ValueError(f"reference gain {self.reference_gain!r}: use {' or '.join(REFERENCE_GAINS)}")
        if self.reference_gain == "ipc-corrected" and self.ipc == "none":
            raise ValueError("--reference-gain ipc-corrected needs an IPC correction (--ipc deconvolve, exact "
                             "or analytic with --ipc-kernel); with --ipc none the gain is the apparent one")
        self.author, self.useafter, self.pedigree = check_delivery(self.author, self.useafter, self.pedigree)

    @property
    def measured_lag(self) -> int | None:
        """Largest lag of the covariances measured: ``cov_lag``, 3 for the covariance model when
        it is None, None (no covariances) for the linear model when it is None."""
        return measured_lag(self.cov_lag, self.ptc_model)

    @property
    def model_lag(self) -> int | None:
        """Largest lag the covariance model fits: ``fit_lag``, or the measured lag when it is None."""
        return self.measured_lag if self.fit_lag is None else self.fit_lag


def measured_lag(cov_lag: int | None, ptc_model: str) -> int | None:
    """Largest covariance lag a run with these options measures (None: no covariances)."""
    if cov_lag is not None:
        return int(cov_lag)
    return DEFAULT_COV_LAG if ptc_model == "covariance" else None


#: GainOptions field of each calibration reference type
REFERENCE_OPTIONS = {"SUPERBIAS": "superbias", "LINEARITY": "linearity", "SATURATION": "saturation", "MASK": "mask",
                     "IPC": "ipc_kernel"}


def calibration_references(ramps, search=()) -> dict[str, str]:
    """Calibration reference files for ``ramps``, as ``{GainOptions field: path}``.

    Searched in ``search`` (files or folders) or, when it is empty, in the ramps' folders;
    each folder's ``reference`` subfolder too. Files are recognised by REFTYPE and must
    match the first ramp's DETECTOR and SUBARRAY (:class:`~nircam_gui.core.references.ReferenceSet`).

    Raises
    ------
    NircamFileError
        A path in ``search`` that does not exist or is not a reference file.
    """
    ramps = [Path(r) for r in ramps]
    if not ramps:
        return {}
    where = list(search) or list(dict.fromkeys(r.parent for r in ramps))
    refs = ReferenceSet.scan(where, REFERENCE_OPTIONS, subfolder=True)
    found = refs.find_for(read_metadata(ramps[0]), REFERENCE_OPTIONS)
    return {REFERENCE_OPTIONS[k]: v for k, v in found.items()}


@dataclass
class PTCPoints:
    """Statistics of every pair, group and box: arrays of shape (npairs, ngroups, nbox)."""

    mean: np.ndarray  # clipped mean of the summed frame (ADU)
    variance: np.ndarray  # clipped variance of the differenced frame, clipping bias removed (ADU^2)
    variance_raw: np.ndarray  # as clipped, before the bias correction
    diff_mean: np.ndarray  # mean of the differenced frame (lamp change between the two)
    npix_sum: np.ndarray
    npix_diff: np.ndarray
    #: (npairs, 2, ngroups) median calibrated signal of each integration, in its last group only
    #: (NaN before): the level each integration reached
    group_median: np.ndarray
    #: (npairs, ngroups, nbox, m, m) covariances of the differenced frame at lags [dy, dx], clipping
    #: corrected, over the pixels of the variance; [..., 0, 0] is the variance
    cov: np.ndarray | None = None
    cov_npairs: np.ndarray | None = None  # pixel pairs per lag, same shape


@dataclass
class GainResult:
    """Everything a product writer, the GUI or a study needs."""

    options: GainOptions
    files: list[str]
    detector: str
    pairs: list[Pair]
    boxes: BoxGrid
    ptc: PTCPoints
    fit: PTCFit
    maps: GainMaps
    sectors: object  # astropy Table
    signal_limit: float
    clip_factor: float
    ipc_factor: float
    ipc_info: dict
    calibration: dict
    timings: dict = field(default_factory=dict)
    #: things the user should know that did not stop the run (e.g. an unpaired integration)
    warnings: list[str] = field(default_factory=list)
    #: the covariance model (when covariances were measured)
    covariance: CovarianceSolution | None = None
    #: maps and sector tables of both PTC models ("linear", "covariance"); ``maps`` and
    #: ``sectors`` are those of ``options.ptc_model``
    model_maps: dict = field(default_factory=dict)
    model_sectors: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return self.boxes.labels.shape


def _ipc_factor(options: GainOptions, detector: str | None = None) -> tuple[float, dict]:
    if options.ipc == "none":
        return 1.0, {"mode": "none"}
    ref = open_reference(options.ipc_kernel, "IPC", ("SCI",))
    require_same_detector(ref, detector, "the ramps")
    kc = ref.data.astype(float)
    if kc.ndim != 2:
        raise NircamFileError(options.ipc_kernel, "only a 2-D (3x3 or 5x5) IPC kernel is supported")
    if kc.shape[0] != kc.shape[1] or kc.shape[0] % 2 == 0 or not np.isfinite(kc).all():
        raise NircamFileError(options.ipc_kernel, f"IPC kernel of shape {kc.shape}: a square kernel of odd size "
                                                  "with finite values is needed")
    analytic = analytic_gain_factor(kc)
    exact = variance_factor(physical_kernel(kc))
    info = {"mode": options.ipc, "kernel_file": options.ipc_kernel, "correction_kernel": kc.tolist(),
            "analytic_factor": analytic, "exact_factor": exact}
    factor = {"analytic": analytic, "exact": exact, "deconvolve": 1.0}[options.ipc]
    return factor, info


def _exclusion(options: GainOptions, shape: tuple[int, int],
               detector: str | None = None) -> tuple[np.ndarray | None, int | None]:
    """The MASK's DQ words and the bits in them that keep a pixel out of every box (None, None
    without a MASK); the words as stored in the file, which a bit test needs no decoding for."""
    if not options.mask:
        return None, None
    ref, words, bits = reference_flags(options.mask, "MASK", _EXCLUDE_BITS)
    require_same_detector(ref, detector, "the ramps")
    if words.shape != shape:
        raise NircamFileError(options.mask, f"MASK is {words.shape[1]}x{words.shape[0]}, the ramps "
                                            f"{shape[1]}x{shape[0]}")
    return words, bits


def build_boxes(options: GainOptions, shape: tuple[int, int], detector: str | None = None) -> BoxGrid:
    """The box grid for these options (MASK exclusions and epoxy-void regions included)."""
    void = None
    if options.regions:
        void = void_mask(options.regions, shape)
    words, bits = _exclusion(options, shape, detector)
    return make_boxes(shape, options.box, void_mask=void, exclude=words, exclude_bits=bits)


def _blame_ramp(chunks, member: Integration, estimated: str | None, shape: tuple[int, int]):
    """The calibrated chunks of one integration; an error about the superbias estimated from the
    ramps is an error about the ramp (it was replaced by one of another size while it was read)."""
    try:
        yield from chunks
    except NircamFileError as exc:
        if estimated and exc.path == estimated:
            m = read_metadata(member.path)
            if (m.ny, m.nx) != shape:
                raise NircamFileError(member.path, f"changed while it was read: its frames are now {m.nx}x{m.ny}, "
                                                   f"were {shape[1]}x{shape[0]}") from None
        raise


def _no_usable_fit(fit: PTCFit, limit: float, ngroups: int) -> str:
    """Why no box of any pair has a gain, from the fit flags, for the error message."""
    few = int(np.sum((fit.flags & FLAG_FEW_POINTS) != 0))
    # a fit with too few points has no slope either: count it once, as too few points
    bad = int(np.sum(((fit.flags & FLAG_BAD_SLOPE) != 0) & ((fit.flags & FLAG_FEW_POINTS) == 0)))
    total = fit.flags.size
    parts = []
    if few:
        parts.append(f"{few} of {total} box fits had fewer than 3 usable groups below the signal limit "
                     f"({limit:g} ADU per frame; {ngroups} groups read): saturated, NaN or masked data, "
                     "or too few groups")
    if bad:
        parts.append(f"{bad} had a variance that does not grow with the signal (zero or constant variance: "
                     "no photon noise, so not a flat field?)")
    return "no box gave a usable photon-transfer fit in any pair; " + "; ".join(parts)


@dataclass
class GainSetup:
    """What every pair's measurement and the combination need: paths, options and numbers.

    Made by :func:`prepare_gain`; small and picklable (no pixel array), so a campaign sends
    it to the workers that measure the pairs. The box grid (:class:`PairGeometry`) is made
    from it where it is needed (:meth:`geometry`) and is not pickled.
    """

    options: GainOptions
    files: list[str]
    detector: str
    pairs: list[Pair]
    shape: tuple[int, int]
    ngroups: int
    signal_limit: float
    ipc_factor: float
    ipc_info: dict
    calibration: CalibrationConfig
    #: the SUPERBIAS estimated from the ramps (None when one was given, or none was estimated)
    estimated_superbias: str | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    _geometry: "PairGeometry | None" = field(default=None, repr=False, compare=False)
    _workdir: object = field(default=None, repr=False, compare=False)

    def geometry(self) -> "PairGeometry":
        """The box grid and the clippers of this run (made once per process that asks)."""
        if self._geometry is None:
            self._geometry = build_geometry(self.options, self.shape, self.detector)
        return self._geometry

    def __getstate__(self) -> dict:
        # the geometry is tens of MB on a full frame and is remade from the options where
        # needed; a temporary folder belongs to the process that made it
        state = self.__dict__.copy()
        state["_geometry"] = None
        state["_workdir"] = None
        return state


@dataclass
class PairGeometry:
    """The box grid of a run and the objects that measure boxes on it."""

    boxes: BoxGrid
    clipper: BoxClipper
    covariances: BoxCovariances | None


def build_geometry(options: GainOptions, shape: tuple[int, int], detector: str | None = None,
                   boxes: BoxGrid | None = None) -> PairGeometry:
    """Boxes (MASK exclusions and epoxy voids included), the box clipper and, when the options
    measure covariances, the covariance measurer; ``boxes``, when given, is the box grid
    :func:`build_boxes` made for these options (e.g. in another process)."""
    if boxes is None:
        boxes = build_boxes(options, shape, detector)
    clipper = BoxClipper(boxes.labels, nsigma=options.nsigma)
    lag = options.measured_lag
    return PairGeometry(boxes, clipper, BoxCovariances(clipper, lag) if lag is not None else None)


@dataclass
class PairStatistics:
    """One pair's statistics: arrays of shape (ngroups, nbox) (see :class:`PTCPoints`).

    What a pair's measurement (:func:`measure_pair`) returns and the combination
    (:func:`combine_gain`) takes: a few kB to a few MB, whatever the frame size.
    """

    index: int  # 0-based position in ``GainSetup.pairs``
    mean: np.ndarray
    variance: np.ndarray
    variance_raw: np.ndarray
    diff_mean: np.ndarray
    npix_sum: np.ndarray
    npix_diff: np.ndarray
    group_median: np.ndarray  # (2, ngroups)
    cov: np.ndarray | None = None
    cov_npairs: np.ndarray | None = None
    #: the calibration's provenance (steps, reference files and their checksums)
    calibration: dict = field(default_factory=dict)
    statistics_s: float = 0.0
    covariances_s: float = 0.0


def _calibration(opt: GainOptions, superbias: str | None) -> CalibrationConfig:
    # the reference files' checksums are recorded when a pair is measured (measure_pair), not before
    # its first chunk: the run's hashing thread has them by then, where the first integration waited
    # for them (or hashed them itself) while the thread was still at work
    return CalibrationConfig(superbias=superbias, linearity=opt.linearity, saturation=opt.saturation,
                             mask=opt.mask, ipc=opt.ipc_kernel if opt.ipc == "deconvolve" else None,
                             ipc_step=opt.ipc == "deconvolve", chunk=opt.chunk, max_groups=opt.groups,
                             group_medians=False, reference_checksums=False)


def _read_references_beside(cal: CalibrationConfig, shape: tuple[int, int], detector: str | None) -> None:
    """Start reading and preparing the calibration's reference files in a thread, for the first
    integration's calibration to find them ready (:func:`~..calibrate.steps.shared_references`
    waits for them rather than read them twice). A file that cannot be read is left for the
    calibration to report."""
    def read() -> None:
        try:
            shared_references(cal.plan(warn=False), cal, shape, detector)
        except Exception:  # noqa: BLE001 - the calibration reads it again and says what is wrong
            pass

    threading.Thread(target=read, name="references-read", daemon=True).start()


def prepare_gain(files: list[str | os.PathLike], options: GainOptions | None = None,
                 workdir: str | os.PathLike | None = None, make_geometry=None,
                 read_references: bool = False) -> GainSetup:
    """Check the inputs of a gain run and settle everything its pairs share.

    Pairs the integrations, reads the IPC kernel, builds (and so checks) the box grid and,
    when no SUPERBIAS is given, estimates one from the ramps (it needs every integration).

    Parameters
    ----------
    files : list of path-like
    options : GainOptions
    workdir : path-like, optional
        An existing folder for the estimated SUPERBIAS; it must be readable wherever the pairs
        are measured. By default a temporary folder that lives as long as the setup.
    make_geometry : callable, optional
        ``make_geometry(options, shape, detector) -> PairGeometry`` in place of
        :func:`build_geometry` (a caller that keeps box grids between runs).
    read_references : bool
        Read the calibration's reference files in a thread beside the box layout, for a caller
        that measures the pairs in this process (not for one that sends the setup elsewhere).

    Raises
    ------
    NircamFileError
        Inputs that cannot be paired, a reference file that does not fit the ramps.
    """
    opt = options or GainOptions()
    files = list(files)
    integrations = find_integrations(files)
    # the products record the SHA-256 of the inputs and the calibration's of its reference files:
    # they are hashed in a thread (hashlib and the reads release the GIL), the reference files
    # first, as the first pair's calibration asks for theirs
    prefetch_checksums([*(p for p in (getattr(opt, f) for f in REFERENCE_OPTIONS.values()) if p), *files])
    # the product writer's warm-up (asdf's extensions and schemas, ~1 s of Python that holds the
    # GIL) runs beside the setup, which uses one core and costs it only the waits of its numpy
    # calls for the GIL; beside the pairs it would take its time from their parallel kernels
    preload_writer()
    pairs = make_pairs(integrations)
    run_warnings = []
    if len(integrations) % 2:
        last = integrations[-1]
        run_warnings.append(f"{last.path}: {len(integrations)} integrations, an odd number; the last, "
                            f"{last.label}, has no partner and is left out")
    meta = pairs[0].first.meta
    det = get_detector(meta.detector) if meta.detector else None
    if det is None:
        raise NircamFileError(pairs[0].first.path, "no detector in the header (DETECTOR or SCA_ID)")
    limit = float(opt.signal_limit if opt.signal_limit is not None else det.signal_limit)
    shape = (meta.ny, meta.nx)
    ipc_factor, ipc_info = _ipc_factor(opt, det.name)
    if read_references and opt.superbias is not None:
        # ~0.3 s of file reads and array work that mostly release the GIL, beside the box layout's
        _read_references_beside(_calibration(opt, opt.superbias), shape, meta.detector)
    geometry = (make_geometry or build_geometry)(opt, shape, det.name)
    superbias, estimated, run_notes = opt.superbias, None, []
    tmp = None
    if superbias is None and meta.ngroups >= 3:
        # the first read is no bias: it holds one frame of signal, which the linearity needs and
        # without which group 0 would be an exact (0, 0) point below the read-noise intercept
        if workdir is not None and not os.path.isdir(workdir):
            # never made here: in a campaign a missing folder means the campaign ended
            raise FileNotFoundError(f"{os.fspath(workdir)}: the folder for the estimated SUPERBIAS does not exist")
        sat = open_reference(opt.saturation, "SATURATION", ("SCI",)).data if opt.saturation else None
        try:
            if workdir is None:
                tmp = tempfile.TemporaryDirectory(prefix="nircam_gui_bias_")
                where = tmp.name
            else:
                where = os.fspath(workdir)
            estimated = os.fspath(write_estimated_superbias(integrations, where, det.name,
                                                            sat if sat is not None and sat.shape == shape else None))
            superbias = estimated
            run_notes.append("no SUPERBIAS given: the bias was estimated from the ramps (2 read0 - read1, averaged "
                             "over the integrations)")
        except (OSError, NircamFileError) as exc:  # a full temporary folder: the first read is the bias
            run_notes.append(f"no SUPERBIAS given and none could be estimated ({exc}): the bias is the first read")
    cal = _calibration(opt, superbias)
    ngroups = meta.ngroups if opt.groups is None else min(opt.groups, meta.ngroups)
    return GainSetup(opt, [os.fspath(f) for f in files], det.name, pairs, shape, ngroups, limit, ipc_factor,
                     ipc_info, cal, estimated, run_notes, run_warnings, _geometry=geometry, _workdir=tmp)


def measure_pair(setup: GainSetup, index: int, progress: ProgressCallback | None = None,
                 cancel: CancelCheck | None = None, geometry: PairGeometry | None = None,
                 buffers: BufferPool | None = None) -> PairStatistics:
    """Calibrate the two integrations of one pair and measure every group in every box.

    Parameters
    ----------
    setup : GainSetup
    index : int
        0-based pair (``setup.pairs[index]``).
    progress, cancel : callable, optional
        Over this pair's groups; see :mod:`nircam_gui.core.progress`.
    geometry : PairGeometry, optional
        The setup's box grid, when the caller keeps one (default ``setup.geometry()``).
    buffers : BufferPool, optional
        Calibration arrays to reuse, for a caller that measures several pairs (default a pool of
        this pair's own).

    Returns
    -------
    PairStatistics
    """
    geo = geometry if geometry is not None else setup.geometry()
    clipper, covs = geo.clipper, geo.covariances
    pair = setup.pairs[index]
    cal, shape, ngroups, estimated = setup.calibration, setup.shape, setup.ngroups, setup.estimated_superbias
    nbox = geo.boxes.nbox
    lag = setup.options.measured_lag
    shape2 = (ngroups, nbox)
    st = PairStatistics(index, *(np.full(shape2, np.nan) for _ in range(4)), np.zeros(shape2, np.int64),
                        np.zeros(shape2, np.int64), np.full((2, ngroups), np.nan),
                        np.full(shape2 + (lag + 1,) * 2, np.nan) if covs is not None else None,
                        np.zeros(shape2 + (lag + 1,) * 2, np.int64) if covs is not None else None)
    rep = Reporter(ngroups, progress, cancel)
    # each chunk is done with before the next is asked for: the calibrations reuse their arrays
    buffers = buffers if buffers is not None else BufferPool()
    ga = _blame_ramp(calibrate_integration(pair.first.path, pair.first.index, cal, cancel=cancel,
                                           buffers=buffers), pair.first, estimated, shape)
    gb = _blame_ramp(calibrate_integration(pair.second.path, pair.second.index, cal, cancel=cancel,
                                           buffers=buffers), pair.second, estimated, shape)
    for ca, cb in zip(ga, gb):
        for chunk, member in ((ca, pair.first), (cb, pair.second)):
            if chunk.data.shape[1:] != shape:  # the file was replaced after it was inspected
                raise NircamFileError(member.path, f"changed while it was read: its frames are now "
                                                   f"{chunk.data.shape[2]}x{chunk.data.shape[1]}, were "
                                                   f"{shape[1]}x{shape[0]}")
        st.calibration = ca.provenance
        g0 = ca.first_group
        if g0 + ca.data.shape[0] == ngroups:
            # the signal each integration reached (what the pair table shows): one median, not one
            # per group
            st.group_median[0, -1] = science_median(ca.data[-1], ca.pixeldq)
            st.group_median[1, -1] = science_median(cb.data[-1], cb.pixeldq)
        usable = ((ca.pixeldq | cb.pixeldq) & np.uint32(dqbits.DO_NOT_USE)) == 0
        for k in range(ca.data.shape[0]):
            t0 = time.perf_counter()
            g = g0 + k
            # the pixels usable in both integrations and flagged in neither group
            ss, sd = clipper.clip_pair(ca.data[k], cb.data[k], usable, (ca.groupdq[k], cb.groupdq[k]))
            st.mean[g] = ss.mean
            st.npix_sum[g] = ss.npix
            st.variance[g] = sd.variance
            st.variance_raw[g] = sd.variance_raw
            st.diff_mean[g] = sd.mean
            st.npix_diff[g] = sd.npix
            t1 = time.perf_counter()
            st.statistics_s += t1 - t0
            if covs is not None:
                valid = usable & ((ca.groupdq[k] | cb.groupdq[k]) == 0)
                st.cov[g], st.cov_npairs[g] = covs.measure(ca.data[k], cb.data[k], valid, ss, sd)
                st.covariances_s += time.perf_counter() - t1
            rep.step(f"pair {pair.number}: group {g + 1} of {ngroups}")
    st.calibration = with_reference_checksums(st.calibration)
    return st


def _stack(stats: list[PairStatistics], name: str) -> np.ndarray:
    return np.stack([getattr(s, name) for s in stats])


def combine_gain(setup: GainSetup, stats: list[PairStatistics], geometry: PairGeometry | None = None) -> GainResult:
    """Fit the PTC of every pair and box, and combine the pairs into the gain maps.

    Parameters
    ----------
    setup : GainSetup
    stats : list of PairStatistics
        One per pair of ``setup.pairs``, in any order.
    geometry : PairGeometry, optional
        Default ``setup.geometry()``.

    Raises
    ------
    NircamFileError
        No box of any pair has a usable fit (or, with the covariance model, no box gain).
    """
    opt, pairs, limit, ngroups = setup.options, setup.pairs, setup.signal_limit, setup.ngroups
    if sorted(s.index for s in stats) != list(range(len(pairs))):
        raise ValueError(f"statistics of pairs {sorted(s.index + 1 for s in stats)} for {len(pairs)} pairs")
    stats = sorted(stats, key=lambda s: s.index)
    boxes = (geometry if geometry is not None else setup.geometry()).boxes
    with_cov = stats[0].cov is not None
    ptc = PTCPoints(*(_stack(stats, n) for n in ("mean", "variance", "variance_raw", "diff_mean", "npix_sum",
                                                  "npix_diff", "group_median")),
                    _stack(stats, "cov") if with_cov else None, _stack(stats, "cov_npairs") if with_cov else None)
    run_warnings, run_notes, ipc_factor = list(setup.warnings), setup.notes, setup.ipc_factor
    files = setup.files
    box_npix = np.asarray(boxes.table["npix"])
    fit = fit_ptc(ptc.mean, ptc.variance, ptc.npix_diff, box_npix, summed_limit=2.0 * limit)
    others = len(set(map(os.fspath, files))) - 1
    also = f" (the same in the {others} other file{'s' if others > 1 else ''})" if others else ""
    if (fit.flags != 0).all() and opt.ptc_model == "linear":
        # every map would be empty: an error now, rather than products full of NaN
        raise NircamFileError(pairs[0].first.path, _no_usable_fit(fit, limit, ngroups) + also)
    with np.errstate(divide="ignore", invalid="ignore"):
        pair_gain = fit.gain * ipc_factor
        gain_err_fit = fit.slope_err / fit.slope**2 * ipc_factor
    model_maps, model_sectors = {}, {}
    if not (fit.flags != 0).all():
        maps = combine_pairs(pair_gain, box_npix, check_first_pair(pair_gain, opt.first_pair), gain_err_fit)
        maps.notes.extend(run_notes)
        model_maps["linear"] = maps
        model_sectors["linear"] = sector_table(boxes.table, maps)
    else:
        run_warnings.append("the linear model has no gain: " + _no_usable_fit(fit, limit, ngroups))
    t0 = time.perf_counter()
    solution = None
    try:
        if ptc.cov is not None:
            solution = solve_covariance_model(ptc.mean, ptc.variance, ptc.cov, ptc.npix_diff, boxes.table,
                                              cap=opt.signal_limit, fit_lag=opt.model_lag, with_b=opt.fit_b,
                                              ipc_factor=ipc_factor)
    except (ValueError, np.linalg.LinAlgError) as exc:
        if opt.ptc_model == "covariance":
            raise NircamFileError(pairs[0].first.path, f"the covariance model could not be fitted: {exc}") from exc
        # the linear run the user asked for does not depend on the model shown beside it
        solution = None
        run_warnings.append(f"covariance model not fitted: {exc}")
    if solution is not None and opt.ptc_model == "covariance":
        for f in solution.fits:
            run_warnings.extend(f.notes)
    if solution is not None and np.isfinite(solution.pair_gain).any():
        cmaps = combine_pairs(solution.pair_gain, box_npix, check_first_pair(solution.pair_gain, opt.first_pair),
                              solution.gain_err_fit)
        cmaps.notes.extend(run_notes)
        model_maps["covariance"] = cmaps
        model_sectors["covariance"] = sector_table(boxes.table, cmaps)
    elif opt.ptc_model == "covariance":
        raise NircamFileError(pairs[0].first.path, "the covariance model gave no box gain: too few groups below "
                                                   "the PTC turnoff (or the signal limit) in every box" + also)
    maps = model_maps[opt.ptc_model]
    sectors = model_sectors[opt.ptc_model]
    timings = {"total_s": time.time() - setup.started, "statistics_s": sum(s.statistics_s for s in stats),
               "covariances_s": sum(s.covariances_s for s in stats), "covariance_fit_s": time.perf_counter() - t0}
    return GainResult(opt, list(files), setup.detector, pairs, boxes, ptc, fit, maps, sectors, limit,
                      clip_variance_factor(opt.nsigma), ipc_factor, setup.ipc_info, stats[-1].calibration, timings,
                      run_warnings, solution, model_maps, model_sectors)


def run_gain(
    files: list[str | os.PathLike],
    options: GainOptions | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelCheck | None = None,
) -> GainResult:
    """Measure gain maps from flat-field ramps with the PTC method.

    The run is :func:`prepare_gain`, then :func:`measure_pair` for every pair (the
    map step, which a campaign runs as one Dask task per pair), then
    :func:`combine_gain` (the reduce step).

    Parameters
    ----------
    files : list of path-like
        Raw ramps (``_uncal.fits`` or ground cubes); integrations are paired 1/2, 3/4, ...
        in order of exposure start.
    options : GainOptions
    progress, cancel : callable, optional
        See :mod:`nircam_gui.core.progress`.

    Returns
    -------
    GainResult
    """
    setup = prepare_gain(files, options, read_references=True)
    geometry = setup.geometry()
    npairs = len(setup.pairs)
    buffers = BufferPool()
    stats = []
    for p in range(npairs):
        part = None if progress is None else (lambda f, m, p=p: progress((p + f) / npairs, m))
        stats.append(measure_pair(setup, p, part, cancel, geometry, buffers))
    return combine_gain(setup, stats, geometry)


def options_dict(options: GainOptions) -> dict:
    """Options as plain data (for provenance and settings)."""
    return {k: (os.fspath(v) if isinstance(v, Path) else v) for k, v in option_schema.provenance(options).items()}
