"""The calibration of one chunk of groups, two ways: numpy ("fast") or the jwst steps.

Both engines run Table 1 of report 004622 on a chunk ``(n, ny, nx)`` of raw groups
of one integration, in DMS orientation, and return float32 data and uint8 group DQ.
Every operation acts on each group separately except saturation, whose running
state lives in :class:`~.saturation.SaturationFlagger`, and the first-read bias,
kept from the first chunk: so chunking does not change the result.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from astropy.io import fits
from stcal.linearity.linearity import apply_polynomial
from stdatamodels.jwst.datamodels import dqflags

from ..detector import REF_BORDER
from ..dq import DO_NOT_USE, SATURATED
from ..errors import NircamFileError
from ..ipc import apply_kernel
from ..readers import open_reference, require_same_detector
from .config import CalibrationConfig, CalibrationPlan
from .evenodd import correct_refpix, even_odd_offsets, subtract_even_odd
from .saturation import SaturationFlagger

__all__ = ["References", "calibrate_chunk_fast", "calibrate_chunk_jwst", "load_references", "prepare_linearity",
           "shared_references"]


@dataclass
class References:
    """Reference arrays prepared once per file (full frame: ~130 MB)."""

    shape: tuple[int, int]
    mask_dq: np.ndarray | None = None
    superbias: np.ndarray | None = None
    superbias_dq: np.ndarray | None = None
    ipc_kernel: np.ndarray | None = None
    saturation: SaturationFlagger | None = None
    lin_coeffs: np.ndarray | None = None
    lin_pdq: np.ndarray | None = None
    #: arrays derived from these (see :meth:`derived`); shared by the copies
    #: :func:`shared_references` hands out, as the arrays themselves are
    _derived: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)

    def derived(self, name: str, make) -> np.ndarray:
        """``make()``, computed once for these reference arrays and shared, read-only.

        Every integration of a run calibrated with the same files needs the same DQ
        arrays and masks (~0.1 s a full frame to rebuild each time).
        """
        arr = self._derived.get(name)
        if arr is None:
            arr = make()
            arr.flags.writeable = False
            arr = self._derived.setdefault(name, arr)
        return arr

    @property
    def pixeldq_before_saturation(self) -> np.ndarray:
        """PIXELDQ as dq_init and superbias leave it: what the even/odd and refpix steps see (read-only)."""
        def make():
            pdq = np.zeros(self.shape, np.uint32)
            for dq in (self.mask_dq, self.superbias_dq):
                if dq is not None:
                    pdq |= dq
            return pdq
        return self.derived("pixeldq_before_saturation", make)

    @property
    def pixeldq(self) -> np.ndarray:
        """Final PIXELDQ: mask, superbias, saturation and linearity reference DQ (read-only)."""
        def make():
            pdq = self.pixeldq_before_saturation.copy()
            if self.saturation is not None:
                pdq |= self.saturation.ref_dq
            if self.lin_pdq is not None:
                pdq |= self.lin_pdq
            return pdq
        return self.derived("pixeldq", make)


def _check_shape(path: str, arr: np.ndarray, shape: tuple[int, int], what: str) -> None:
    if tuple(arr.shape[-2:]) != tuple(shape):
        raise NircamFileError(path, f"{what} has shape {arr.shape[-2:]}, the ramp {shape}; subarray "
                                    "reference files are not supported")


def load_references(plan: CalibrationPlan, config: CalibrationConfig, shape: tuple[int, int],
                    detector: str | None = None) -> References:
    """Read the reference files the plan uses, check their shapes, prepare their arrays.

    With ``detector`` (the ramp's), a reference file for another detector is an error:
    NIRCam's ten detectors share shapes, so a shape check alone would let it through.
    """
    refs = References(shape=shape)

    def _open(path, reftype, extensions):
        # only the arrays the steps use: a SUPERBIAS's ERR is 16 MB full frame
        ref = open_reference(path, reftype, extensions)
        require_same_detector(ref, detector, "the ramps")
        return ref

    if plan.steps["dq_init"] == "run":
        r = _open(config.mask, "MASK", ("DQ",))
        _check_shape(r.path, r.dq, shape, "MASK DQ")
        refs.mask_dq = _native(r.dq, np.uint32)
    if plan.steps["superbias"] == "run":
        r = _open(config.superbias, "SUPERBIAS", ("SCI", "DQ"))
        _check_shape(r.path, r.data, shape, "SUPERBIAS")
        sb = _native(r.data, np.float32)
        np.copyto(sb, np.float32(0.0), where=np.isnan(sb))  # as jwst bias_sub
        refs.superbias = sb
        refs.superbias_dq = None if r.dq is None else _native(r.dq, np.uint32)
    if plan.steps["ipc"] == "run":
        r = _open(config.ipc, "IPC", ("SCI",))
        if r.data.ndim != 2 or max(r.data.shape) > 15:
            raise NircamFileError(r.path, f"IPC kernel of shape {r.data.shape}: only a small 2-D kernel "
                                          "(e.g. 3x3) is supported")
        refs.ipc_kernel = r.data.astype(np.float32)
    if plan.steps["saturation"] == "run":
        r = _open(config.saturation, "SATURATION", ("SCI", "DQ"))
        _check_shape(r.path, r.data, shape, "SATURATION")
        refs.saturation = SaturationFlagger(r.data, r.dq, config.n_pix_grow_sat, copy=False)
    if plan.steps["linearity"] == "run":
        r = _open(config.linearity, "LINEARITY", ("COEFFS", "DQ"))
        _check_shape(r.path, r.coeffs, shape, "LINEARITY COEFFS")
        lin_dq = np.zeros(shape, np.uint32) if r.dq is None else _native(r.dq, np.uint32)
        coeffs, pdq = prepare_linearity(_native(r.coeffs, np.float32), lin_dq)
        refs.lin_coeffs = coeffs
        refs.lin_pdq = pdq
    return refs


def _native(arr: np.ndarray, dtype) -> np.ndarray:
    """``arr`` as a native-byte-order array of ``dtype``, converted in one pass, copied only when
    the file's array is not one already (the arrays read from a file are their own)."""
    return np.asarray(arr, np.dtype(dtype).newbyteorder("="))


def prepare_linearity(coeffs: np.ndarray, lin_dq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """stcal's ``prepare_coefficients`` for LINEARITY arrays, vectorised: the same arrays.

    NO_LIN_CORR pixels of the reference DQ, pixels with a NaN coefficient and pixels whose
    linear term is zero get the identity polynomial (0, 1, 0, ...); the last two are flagged
    NO_LIN_CORR, in stcal's order. stcal sets them one pixel at a time in a Python loop
    (real files flag tens of thousands). ``coeffs`` (float32, ``(ncoeffs, ny, nx)``) is
    changed in place and returned with the new PIXELDQ (uint32).
    """
    no_lin = np.uint32(dqflags.pixel["NO_LIN_CORR"])
    benign = np.zeros(coeffs.shape[0], coeffs.dtype)
    benign[1] = 1.0
    pdq = np.asarray(lin_dq, np.uint32).copy()
    flagged = (pdq & no_lin) != 0
    if flagged.any():
        coeffs[:, flagged] = benign[:, None]
    # a NaN anywhere in a pixel's coefficients makes their sum NaN: one pass over the pixels
    # instead of a mask of every coefficient (inf - inf, also NaN, is sorted out below)
    with np.errstate(invalid="ignore", over="ignore"):
        nan = np.isnan(coeffs.sum(axis=0, dtype=coeffs.dtype))
    if nan.any():
        nan &= np.isnan(coeffs).any(axis=0)
        coeffs[:, nan] = benign[:, None]
        pdq[nan] |= no_lin
    if coeffs.shape[0] > 1:
        zero = coeffs[1] == 0
        if zero.any():
            coeffs[:, zero] = benign[:, None]
            pdq[zero] |= no_lin
    return coeffs, pdq


_SHARED: OrderedDict = OrderedDict()
_SHARED_MAX = 2  # a run and, e.g., a study's variant of it (~130 MB each, full frame)
_SHARED_LOCK = threading.Lock()
#: keys being read, with the event set when they are: a second caller waits, rather than read them too
_LOADING: dict[tuple, threading.Event] = {}


def shared_references(plan: CalibrationPlan, config: CalibrationConfig, shape: tuple[int, int],
                      detector: str | None = None) -> References:
    """:func:`load_references`, read and prepared once for all the integrations that use them.

    A gain run calibrates every integration with the same files; reading and preparing
    them (the linearity coefficients above all) took ~1 s an integration. The arrays are
    shared and no engine writes to them; each call gets its own saturation tally. The files' size and
    modification time are part of the key, so a changed file is read again.
    """
    files = []
    for name in ("mask", "superbias", "ipc", "saturation", "linearity"):
        path = getattr(config, name)
        if path and os.path.isfile(path):
            st = os.stat(path)
            files.append((name, os.path.abspath(path), st.st_size, st.st_mtime_ns))
    key = (tuple(sorted(plan.steps.items())), tuple(files), tuple(shape), detector, config.n_pix_grow_sat)
    while True:
        with _SHARED_LOCK:
            refs = _SHARED.get(key)
            if refs is not None:
                _SHARED.move_to_end(key)
                break
            loading = _LOADING.get(key)
            if loading is None:
                loading = _LOADING[key] = threading.Event()
                break
        # read by another thread (e.g. a run's setup started it early): wait for its result; if
        # it failed, the loop reads them here, so the error is this caller's
        loading.wait()
    if refs is None:
        try:
            refs = load_references(plan, config, shape, detector)
            with _SHARED_LOCK:
                _SHARED[key] = refs
                while len(_SHARED) > _SHARED_MAX:
                    _SHARED.popitem(last=False)
        finally:
            with _SHARED_LOCK:
                del _LOADING[key]
            loading.set()
    if refs.saturation is not None:
        refs = dataclasses.replace(refs, saturation=refs.saturation.fresh())
    return refs


def calibrate_chunk_fast(raw: np.ndarray, first_group: int, refs: References, plan: CalibrationPlan,
                         config: CalibrationConfig, first_read: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Calibrate raw groups ``(n, ny, nx)`` with the numpy equivalents of the jwst steps.

    ``first_read`` is the raw group 0 (float32) when the bias comes from the first read.
    Returns ``(data float32, groupdq uint8)``.
    """
    n = raw.shape[0]
    data = raw.astype(np.float32)
    gdq = np.zeros(raw.shape, np.uint8)
    pdq_early = refs.pixeldq_before_saturation
    if refs.mask_dq is not None:  # dq_init: DO_NOT_USE of the mask into every group
        gdq |= (refs.mask_dq & DO_NOT_USE).astype(np.uint8)
    if refs.saturation is not None:  # on raw DN: see saturation.py
        refs.saturation.flag(raw, gdq, first_group)
    del raw
    if refs.superbias is not None:
        data -= refs.superbias
    elif plan.steps["superbias"] == "first read":
        data -= first_read
    for k in range(n):
        g = data[k]
        if plan.runs("even_odd"):
            subtract_even_odd(g, even_odd_offsets(g, pdq_early, config.sigma, REF_BORDER))
        if refs.ipc_kernel is not None:
            apply_kernel(g, refs.ipc_kernel, border=REF_BORDER, out=g)
        if plan.runs("refpix"):
            correct_refpix(g, pdq_early, True, config.sigma, config.side_smoothing_length, config.side_gain)
        if refs.lin_coeffs is not None:
            data[k] = apply_polynomial(g, refs.lin_coeffs, gdq[k], dqflags.pixel)
    return data, gdq


def calibrate_chunk_jwst(raw: np.ndarray, first_group: int, refs: References, plan: CalibrationPlan,
                         config: CalibrationConfig, first_read: np.ndarray | None,
                         header: fits.Header) -> tuple[np.ndarray, np.ndarray]:
    """Calibrate raw groups with the jwst steps themselves, run offline on this chunk.

    The even/odd correction is RefPixStep with ``odd_even_columns=True`` and no side
    pixels (the same computation); the first-read bias, when there is no superbias,
    is subtracted by hand. Saturation runs as SaturationStep on the raw values (see
    saturation.py), with the pixels that saturated in earlier chunks pre-flagged in
    its input group DQ, which its running tally and growth then carry on exactly.
    """
    from jwst.dq_init import DQInitStep
    from jwst.ipc import IPCStep
    from jwst.linearity import LinearityStep
    from jwst.refpix import RefPixStep
    from jwst.saturation import SaturationStep
    from jwst.superbias import SuperBiasStep

    from .jwst_offline import make_ramp_model, run_step

    if raw.shape[-2:] != (2048, 2048):
        raise ValueError("the jwst engine needs 2048x2048 full frames (jwst's IPC and refpix steps "
                         "hard-code that size); use engine='fused'")
    cfg = config
    model = make_ramp_model(raw.astype(np.float32), header)
    if plan.runs("dq_init"):
        model = run_step(DQInitStep, model, {"mask": cfg.mask})
    sat_gdq = sat_pdq = None
    if refs.saturation is not None:
        flagger = refs.saturation
        if first_group != flagger.next_group:
            raise ValueError("chunks must come in group order")
        gdq_in = model.groupdq[0].copy()
        gdq_in |= flagger.ever.astype(np.uint8) * np.uint8(SATURATED)
        smodel = make_ramp_model(raw.astype(np.float32), header, model.pixeldq, gdq_in)
        smodel = run_step(SaturationStep, smodel, {"saturation": cfg.saturation,
                                                   "superbias": cfg.superbias if refs.superbias is not None else None},
                          n_pix_grow_sat=cfg.n_pix_grow_sat)
        sat_gdq, sat_pdq = smodel.groupdq[0].copy(), smodel.pixeldq.copy()
        for k in range(raw.shape[0]):  # keep the running tally for the next chunk
            flagger.ever |= raw[k] >= flagger.threshold
        flagger.next_group = first_group + raw.shape[0]
        del smodel
    if plan.steps["superbias"] == "run":
        model = run_step(SuperBiasStep, model, {"superbias": cfg.superbias})
    elif plan.steps["superbias"] == "first read":
        model.data[0] -= first_read
    refpix_pars = dict(odd_even_columns=True, side_smoothing_length=cfg.side_smoothing_length,
                       side_gain=cfg.side_gain, siglimit=cfg.sigma, refpix_algorithm="median")
    if plan.runs("even_odd"):
        model = run_step(RefPixStep, model, {}, use_side_ref_pixels=False, **refpix_pars)
    if plan.runs("ipc"):
        model = run_step(IPCStep, model, {"ipc": cfg.ipc})
    if plan.runs("refpix"):
        model = run_step(RefPixStep, model, {}, use_side_ref_pixels=True, **refpix_pars)
    if sat_gdq is not None:
        model.groupdq = (model.groupdq[0] | sat_gdq)[None]
        model.pixeldq = model.pixeldq | sat_pdq
    if plan.runs("linearity"):
        model = run_step(LinearityStep, model, {"linearity": cfg.linearity})
    data = np.array(model.data[0], np.float32)
    gdq = np.array(model.groupdq[0], np.uint8)
    model.close()
    return data, gdq

