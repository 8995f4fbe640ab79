"""Streamed calibration of raw ramps for the PTC: integration by integration, in group chunks.

Peak memory is set by ``CalibrationConfig.chunk``, not by the number of groups: the
reference arrays (~130 MB full frame) plus a few copies of one chunk. Results do
not depend on the chunk size (tested bit for bit).
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..detector import science_slices
from ..dq import DO_NOT_USE
from ..errors import NircamFileError
from ..fileio import atomic_path
from ..progress import CancelCheck, ProgressCallback, Reporter
from ..readers import RampFile, open_ramp
from .buffers import BufferPool
from .config import CalibrationConfig
from .fused import FusedCalibrator
from .ramp_writer import RampWriter
from .selection import masked_median
from .steps import References, calibrate_chunk_fast, calibrate_chunk_jwst, load_references, shared_references

__all__ = ["CalibratedChunk", "calibrate_file", "calibrate_integration", "group_median", "science_median"]

log = logging.getLogger(__name__)


@dataclass
class CalibratedChunk:
    """Calibrated groups ``first_group .. first_group + n - 1`` of one integration.

    Attributes
    ----------
    first_group : int
        0-based index of the first group in the integration.
    data : ndarray
        float32 ``(n, ny, nx)``, DMS orientation, ADU (linearised where calibrated).
    groupdq : ndarray
        uint8 ``(n, ny, nx)``.
    pixeldq : ndarray
        uint32 ``(ny, nx)`` (the same array for every chunk of an integration).
    median_signal : ndarray
        ``(n,)`` median calibrated signal of the science pixels (inside the reference
        border, PIXELDQ without DO_NOT_USE) in each group: what a caller compares
        with a signal limit to choose one group set for both members of a pair.
    provenance : dict
        :meth:`CalibrationConfig.provenance`, the same dict for every chunk.
    """

    first_group: int
    data: np.ndarray
    groupdq: np.ndarray
    pixeldq: np.ndarray
    median_signal: np.ndarray
    provenance: dict = field(default_factory=dict, repr=False)

    @property
    def groups(self) -> range:
        return range(self.first_group, self.first_group + self.data.shape[0])


def group_median(data: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``numpy.median(data[k][mask])`` for each group ``k``, by exact selection (no sort, no copy)."""
    return np.array([masked_median(g, mask) for g in data], dtype=np.float64)


def science_median(frame: np.ndarray, pixeldq: np.ndarray) -> float:
    """Median of one calibrated frame over the science pixels (inside the reference border,
    PIXELDQ without DO_NOT_USE): ``CalibratedChunk.median_signal`` of that group."""
    return float(group_median(frame[None], _science_mask(pixeldq))[0])


_LAST_MASK: tuple = (None, None)


def _science_mask(pixeldq: np.ndarray) -> np.ndarray:
    """:func:`_median_mask`, remembered for the last read-only PIXELDQ that owns its memory
    (the one every chunk of a run shares), which cannot change under it."""
    global _LAST_MASK
    ref, mask = _LAST_MASK
    if ref is not None and ref() is pixeldq:
        return mask
    mask = _median_mask(pixeldq)
    if not pixeldq.flags.writeable and pixeldq.base is None:
        _LAST_MASK = (weakref.ref(pixeldq), mask)
    return mask


def _median_mask(pixeldq: np.ndarray) -> np.ndarray:
    sl = science_slices(pixeldq.shape)
    ok = np.zeros(pixeldq.shape, bool)
    ok[sl] = True
    ok &= (pixeldq & DO_NOT_USE) == 0
    return ok


class _Session:
    """Reference arrays and provenance shared by the integrations of one file."""

    def __init__(self, ramp: RampFile, config: CalibrationConfig, buffers: BufferPool | None = None) -> None:
        meta = ramp.meta
        if meta.kind == "ramp":
            raise NircamFileError(ramp.path, "is already a calibrated _ramp file; give the raw _uncal ramp")
        if meta.ny < 16 or meta.nx % 4:
            raise NircamFileError(ramp.path, f"frame {meta.nx}x{meta.ny} does not have the full-frame layout")
        self.config = config
        self.plan = config.plan(warn=True)
        if meta.nframes > 1 and self.plan.runs("saturation"):
            log.warning("%s: NFRAMES=%d; jwst's extra saturation pass for frame-averaged groups is not "
                        "applied", ramp.path, meta.nframes)
        if config.engine == "jwst" and (meta.kind != "uncal" or (meta.ny, meta.nx) != (2048, 2048)):
            raise NircamFileError(ramp.path, "engine='jwst' needs a 2048x2048 level-1b _uncal file; "
                                             "use engine='fused'")
        self.refs: References = shared_references(self.plan, config, (meta.ny, meta.nx), meta.detector)
        self.pixeldq = self.refs.pixeldq
        self.provenance = config.provenance()
        self.header = ramp._hdul[0].header if config.engine == "jwst" else None
        self.fused = FusedCalibrator(ramp, self.refs, self.plan, config, buffers) if config.engine == "fused" else None

    @property
    def median_mask(self) -> np.ndarray:
        """The science pixels the group medians are taken over (made when first asked for)."""
        return self.refs.derived("median_mask", lambda: _median_mask(self.pixeldq))

    def close(self) -> None:
        if self.fused is not None:
            self.fused.close()

    def n_groups(self, ngroups: int) -> int:
        cfg = self.config
        return ngroups if cfg.max_groups is None else min(cfg.max_groups, ngroups)


def _iterate(ramp: RampFile, integration: int, session: _Session, reporter: Reporter) -> Iterator[CalibratedChunk]:
    cfg, plan, refs = session.config, session.plan, session.refs
    stop = session.n_groups(ramp.meta.ngroups)
    if refs.saturation is not None:
        refs.saturation.reset()
    first_read = None
    if session.fused is not None:
        session.fused.start(integration)
    elif plan.steps["superbias"] == "first read":
        first_read = ramp.read_groups(integration, 0, 1)[0].astype(np.float32)
    for g0 in range(0, stop, cfg.chunk):
        reporter.check()
        g1 = min(g0 + cfg.chunk, stop)
        if session.fused is not None:
            data, gdq = session.fused.calibrate(g0, g1)
        else:
            raw = ramp.read_groups(integration, g0, g1)
            if cfg.engine == "jwst":
                data, gdq = calibrate_chunk_jwst(raw, g0, refs, plan, cfg, first_read, session.header)
            else:
                data, gdq = calibrate_chunk_fast(raw, g0, refs, plan, cfg, first_read)
            del raw
        if cfg.group_medians or cfg.signal_limit is not None:
            med = group_median(data, session.median_mask)
        else:
            med = np.full(data.shape[0], np.nan)
        done = False
        if cfg.signal_limit is not None:
            over = np.flatnonzero(med > cfg.signal_limit)
            if over.size:
                n = int(over[0]) + 1
                data, gdq, med = data[:n], gdq[:n], med[:n]
                done = True
        reporter.step(f"integration {integration + 1}: groups {g0 + 1}-{g0 + data.shape[0]} of {stop}")
        yield CalibratedChunk(g0, data, gdq, session.pixeldq, med, session.provenance)
        if done:
            return


def calibrate_integration(
    ramp: str | os.PathLike | RampFile,
    integration: int,
    config: CalibrationConfig,
    progress: ProgressCallback | None = None,
    cancel: CancelCheck | None = None,
    buffers: BufferPool | None = None,
) -> Iterator[CalibratedChunk]:
    """Calibrate one integration of a raw ramp; yield it in chunks of groups.

    Parameters
    ----------
    ramp : path or RampFile
        A level-1b ``_uncal.fits`` or a ground-test cube (opened lazily; a path is
        opened and closed here, an open RampFile is left open).
    integration : int
        0-based.
    config : CalibrationConfig
    progress, cancel : callable, optional
        See :mod:`nircam_gui.core.progress`; cancel raises ``Cancelled`` between chunks.
    buffers : BufferPool, optional
        Let the fused engine calibrate every chunk into the same arrays, taken from this
        pool and given back when the integration is done (the next integration given the
        pool uses them again): a chunk's arrays are then overwritten when the next chunk
        is asked for or the iterator is closed. For a caller that is done with each chunk
        by then, as the gain statistics are.

    Yields
    ------
    CalibratedChunk
        In group order; stops early at ``max_groups`` or after the first group over
        ``signal_limit``.
    """
    own = not isinstance(ramp, RampFile)
    rf = open_ramp(ramp) if own else ramp
    try:
        if not 0 <= integration < rf.meta.nints:
            raise IndexError(f"{rf.path}: integration {integration} out of range 0-{rf.meta.nints - 1}")
        session = _Session(rf, config, buffers)
        try:
            n = session.n_groups(rf.meta.ngroups)
            reporter = Reporter(-(-n // config.chunk), progress, cancel)
            yield from _iterate(rf, integration, session, reporter)
        finally:
            session.close()
    finally:
        if own:
            rf.close()


def calibrate_file(
    path: str | os.PathLike,
    outpath: str | os.PathLike,
    config: CalibrationConfig,
    progress: ProgressCallback | None = None,
    cancel: CancelCheck | None = None,
) -> Path:
    """Calibrate every integration of ``path`` into a ``_ramp.fits`` at ``outpath``.

    Written atomically (nothing is left at ``outpath`` on error or cancel) and streamed
    chunk by chunk. With ``max_groups`` the file holds that many groups; with
    ``signal_limit`` it keeps the full group count, and the groups after the stop
    are NaN with DO_NOT_USE in GROUPDQ (integrations of one file may stop at
    different groups). Provenance: a ``PROVENANCE`` table (JSON), HISTORY cards,
    ``S_<STEP>`` keywords (COMPLETE/SKIPPED) and ``R_<REFTYPE>`` reference names.
    """
    outpath = Path(outpath)
    with open_ramp(path) as rf:
        session = _Session(rf, config)
        meta = rf.meta
        ngroups = session.n_groups(meta.ngroups)
        header = _output_header(rf, session)
        reporter = Reporter(meta.nints * -(-ngroups // config.chunk), progress, cancel)
        with atomic_path(outpath, protect=(path,)) as tmp:
            writer = RampWriter(tmp, header, (meta.nints, ngroups, meta.ny, meta.nx)).open()
            try:
                for i in range(meta.nints):
                    end = 0
                    for chunk in _iterate(rf, i, session, reporter):
                        writer.write_groups(i, chunk.first_group, chunk.data, chunk.groupdq)
                        end = chunk.first_group + chunk.data.shape[0]
                    writer.mark_unused(i, end)
                writer.write_pixeldq(session.pixeldq)
            finally:
                session.close()
                writer.close(session.provenance)
    return outpath


_CAL_KEYS = {"dq_init": "S_DQINIT", "superbias": "S_SUPERB", "even_odd": "S_EVNODD", "ipc": "S_IPC",
             "refpix": "S_REFPIX", "saturation": "S_SATURA", "linearity": "S_LINEAR"}
_REF_KEYS = {"MASK": "R_MASK", "SUPERBIAS": "R_SUPERB", "IPC": "R_IPC", "SATURATION": "R_SATURA",
             "LINEARITY": "R_LINEAR"}


def _output_header(rf: RampFile, session: _Session):
    hdr = rf._hdul[0].header.copy()
    if rf.meta.kind == "ground_ramp":
        # the data are written in DMS orientation; say so for the readers
        hdr["NRCORIEN"] = "DMS"
    prov = session.provenance
    for step, key in _CAL_KEYS.items():
        state = prov["steps"][step]
        hdr[key] = ("COMPLETE" if state == "run" else ("FIRSTRD" if state == "first read" else "SKIPPED"),
                    f"{step} ({state})")
    for reftype, info in prov["references"].items():
        hdr[_REF_KEYS[reftype]] = ("crds://" + os.path.basename(info["path"]))[:68]
    hdr["CALSOFT"] = (f"nircam_gui {prov['software']['nircam_gui']} jwst {prov['software']['jwst']}",
                      "calibration software")
    hdr.add_history(f"Calibrated with nircam_gui ({', '.join(prov['steps_run'])}); engine {session.config.engine}")
    for reftype, info in prov["references"].items():
        hdr.add_history(f"{reftype} {os.path.basename(info['path'])} sha256 {info['sha256']}")
    return hdr
