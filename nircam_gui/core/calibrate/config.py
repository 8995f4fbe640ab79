"""What to run: the calibration configuration and the plan resolved from it.

The order is the gain report's Table 1 (JWST-STScI-004622): dq_init, superbias,
even/odd columns, IPC, reference pixels (bias drift, side columns), saturation,
linearity. Every step can be switched off; a step whose reference file is missing
is switched off with a warning. Without a SUPERBIAS file the bias is taken from the
first read of each integration (group 0 is subtracted from every group): the signal
and kTC offset of group 0 are removed with it, so the ramp starts at zero and the
linearity correction is then applied to signal that lacks one group's worth of
charge (a small, documented approximation; give a superbias for exact results).
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import asdict, dataclass, field

from ..provenance import file_checksum, software_versions

__all__ = ["STEP_ORDER", "CalibrationConfig", "CalibrationPlan", "MissingReferenceWarning", "with_reference_checksums"]

log = logging.getLogger(__name__)

#: Calibration engines: the fused kernel (default), the step-by-step numpy one, the jwst steps.
ENGINES = ("fused", "numpy", "jwst")

#: Table 1 order. Names are the jwst step aliases where one exists.
STEP_ORDER = ("dq_init", "superbias", "even_odd", "ipc", "refpix", "saturation", "linearity")

# step -> (config switch, reference attribute or None)
_STEP_SWITCH = {
    "dq_init": ("dq_init", "mask"),
    "superbias": ("superbias_step", "superbias"),
    "even_odd": ("even_odd", None),
    "ipc": ("ipc_step", "ipc"),
    "refpix": ("refpix", None),
    "saturation": ("saturation_step", "saturation"),
    "linearity": ("linearity_step", "linearity"),
}


class MissingReferenceWarning(UserWarning):
    """A step was switched off because its reference file was not given or not found."""


@dataclass
class CalibrationPlan:
    """Steps that will actually run, how, and why others will not.

    ``steps`` maps each step of :data:`STEP_ORDER` to one of ``"run"``, ``"off"``
    (switched off by the user), ``"missing reference"`` or, for the superbias only,
    ``"first read"`` (no SUPERBIAS file: the bias is the first read).
    """

    steps: dict[str, str]
    references: dict[str, str]
    warnings: list[str] = field(default_factory=list)

    def runs(self, step: str) -> bool:
        return self.steps[step] in ("run", "first read")


@dataclass
class CalibrationConfig:
    """Calibration of raw ramps for the photon-transfer-curve gain.

    Parameters
    ----------
    superbias, linearity, saturation, mask, ipc : str, optional
        Local JWST reference files (CRDS format). Never fetched from CRDS.
    dq_init, superbias_step, even_odd, ipc_step, refpix, saturation_step, linearity_step : bool
        Switch each step of Table 1 on or off.
    chunk : int
        Groups calibrated at a time; bounds the memory (about 6 x 16 MB per full-frame
        group plus the reference arrays) and does not change the result.
    max_groups : int, optional
        Calibrate only the first ``max_groups`` groups.
    signal_limit : float, optional
        Stop after the first group whose median calibrated science signal (ADU)
        exceeds this. That group is still returned.
    group_medians : bool
        Give every chunk the median calibrated science signal of each group
        (``CalibratedChunk.median_signal``; an exact selection over ~4M pixels, ~0.1 s
        per full-frame group). False leaves it NaN unless ``signal_limit`` needs it.
    engine : {"fused", "numpy", "jwst"}
        ``"fused"`` (default): all steps in one streamed numba pass per group, reading
        the raw 16-bit words (:mod:`.fused`); the same numbers as ``"numpy"``, bit for
        bit. ``"numpy"`` (also ``"fast"``): the numpy equivalents of the jwst steps,
        one step at a time, tested against them to 2e-6 relative. ``"jwst"``: the jwst
        steps themselves, run offline on each chunk (needs 2048x2048 full frames, as
        the jwst IPC and reference-pixel steps hard-code that size). The last two are
        there to validate the first.
    n_pix_grow_sat : int
        Saturation flags grow by this many pixels (jwst SaturationStep default 1).
    side_smoothing_length, side_gain, sigma : jwst RefPixStep parameters (defaults 11, 1.0, 3.0);
        ``sigma`` is also the clip of the even/odd correction.
    reference_checksums : bool
        Put the SHA-256 of every reference file in :meth:`provenance` (and so in every
        chunk's). False leaves them to a caller that records the provenance later
        (:func:`with_reference_checksums`): the first integration then does not wait for
        ~200 MB of full-frame reference files to be hashed before its first chunk.
    """

    superbias: str | None = None
    linearity: str | None = None
    saturation: str | None = None
    mask: str | None = None
    ipc: str | None = None
    dq_init: bool = True
    superbias_step: bool = True
    even_odd: bool = True
    ipc_step: bool = True
    refpix: bool = True
    saturation_step: bool = True
    linearity_step: bool = True
    chunk: int = 8
    max_groups: int | None = None
    signal_limit: float | None = None
    group_medians: bool = True
    engine: str = "fused"
    n_pix_grow_sat: int = 1
    side_smoothing_length: int = 11
    side_gain: float = 1.0
    sigma: float = 3.0
    reference_checksums: bool = True

    def __post_init__(self) -> None:
        if self.chunk < 1:
            raise ValueError(f"chunk={self.chunk}: need at least one group per chunk")
        if self.max_groups is not None and self.max_groups < 1:
            raise ValueError(f"max_groups={self.max_groups}: need at least one group")
        if self.engine == "fast":
            self.engine = "numpy"
        if self.engine not in ENGINES:
            raise ValueError(f"engine={self.engine!r}: use one of {', '.join(ENGINES)}")
        for name in ("superbias", "linearity", "saturation", "mask", "ipc"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, os.fspath(value))

    def plan(self, warn: bool = True) -> CalibrationPlan:
        """Resolve which steps run, given the switches and which reference files exist.

        A switched-on step whose reference file is missing is switched off, with a
        :class:`MissingReferenceWarning` when ``warn``.
        """
        steps: dict[str, str] = {}
        refs: dict[str, str] = {}
        notes: list[str] = []
        for step in STEP_ORDER:
            switch, ref_attr = _STEP_SWITCH[step]
            if not getattr(self, switch):
                steps[step] = "off"
                continue
            if ref_attr is None:
                steps[step] = "run"
                continue
            path = getattr(self, ref_attr)
            if path and os.path.isfile(path):
                steps[step] = "run"
                refs[ref_attr.upper()] = os.path.abspath(path)
                continue
            why = "no file given" if not path else f"{path} not found"
            if step == "superbias":
                steps[step] = "first read"
                notes.append(f"superbias: {why}; the bias is taken from the first read of each integration")
            else:
                steps[step] = "missing reference"
                notes.append(f"{step}: {why}; step switched off")
        if warn:
            for note in notes:
                warnings.warn(note, MissingReferenceWarning, stacklevel=3)
                log.warning(note)
        return CalibrationPlan(steps, refs, notes)

    def provenance(self) -> dict:
        """Steps actually run, reference files with SHA-256 (unless ``reference_checksums`` is
        False), software versions, settings.

        JSON-serialisable; travels with every result (chunks, written files).
        """
        plan = self.plan(warn=False)
        settings = {k: v for k, v in asdict(self).items()
                    if k not in ("superbias", "linearity", "saturation", "mask", "ipc", "reference_checksums")}
        return {
            "sequence": "JWST-STScI-004622 Table 1",
            "steps": dict(plan.steps),
            "steps_run": [s for s in STEP_ORDER if plan.runs(s)],
            "notes": list(plan.warnings),
            "references": {k: {"path": p, "sha256": file_checksum(p)} if self.reference_checksums else {"path": p}
                           for k, p in plan.references.items()},
            "software": software_versions(),
            "settings": settings,
            "saturation_domain": "raw DN (bias included), as the SATURATION reference file defines",
        }


def with_reference_checksums(provenance: dict) -> dict:
    """``provenance`` (:meth:`CalibrationConfig.provenance`) with the SHA-256 of every reference
    file that has none yet: a new dict, the same when all are there."""
    refs = provenance.get("references") or {}
    if all("sha256" in r for r in refs.values()):
        return provenance
    done = {k: r if "sha256" in r else {**r, "sha256": file_checksum(r["path"])} for k, r in refs.items()}
    return {**provenance, "references": done}
