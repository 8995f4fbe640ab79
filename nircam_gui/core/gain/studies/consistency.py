"""Integration-to-integration consistency of the flat-field signal (report 004622, Figure 9).

For every integration, the detector-averaged signal of group ``last`` minus group
``first`` (default 10 minus 0, the report's choice), with the standard deviation
across the detector as the error bar. A lamp warming up or traps filling after a long
idle period show as a lower signal in the first integration; the step between
integrations 1 and 2 is what inflates the variance of the first pair (section 5.4).

The step between consecutive integrations is measured pixel by pixel (the clipped
mean of the difference of the two signal images), so the flat-field structure, which
dominates the error bars of the averages, cancels and its own error is the noise
only. Calibrated groups are streamed (one group chunk plus two frames in memory).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.table import Table
from astropy.time import Time

from ... import dq as dqbits
from ...calibrate import CalibrationConfig, calibrate_integration
from ...detector import amplifier_index, reference_pixel_mask
from ...progress import CancelCheck, ProgressCallback, Reporter
from ..clipstats import BoxClipper
from ..pairs import find_integrations
from ._common import scaled_progress, write_figure, write_json, write_table

__all__ = ["ConsistencyResult", "SIGNAL_TOLERANCE", "plot_consistency", "quick_signal", "signal_consistency",
           "signal_flags", "write_consistency"]

#: An integration whose signal differs from the median of the set by more than this is flagged.
SIGNAL_TOLERANCE = 0.01


def quick_signal(path: str, index: int, ngroups: int) -> float:
    """The same measure as :func:`signal_consistency` (last group minus first) on raw data, in
    a fraction of a second: median over every 4th science pixel, no calibration.

    For a check of the inputs before a run; the study itself calibrates.
    """
    from ...readers import open_ramp

    with open_ramp(path) as ramp:
        a = ramp.read_group(index, 0)[4:-4:4, 4:-4:4].astype(np.float32)
        b = ramp.read_group(index, ngroups - 1)[4:-4:4, 4:-4:4].astype(np.float32)
    return float(np.median(b - a))


def signal_flags(signals: Sequence[float], tolerance: float = SIGNAL_TOLERANCE) -> list[str]:
    """"ok", or how far each integration's signal is from the median of the set when beyond ``tolerance``."""
    med = float(np.median(signals)) if len(signals) else np.nan
    flags = []
    for s in signals:
        rel = s / med - 1 if med else np.nan
        flags.append(f"{rel:+.1%} from the median" if abs(rel) > tolerance else "ok")
    return flags


@dataclass
class ConsistencyResult:
    """Table of per-integration signals and the step between integrations 1 and 2."""

    table: Table
    first_group: int
    last_group: int
    step_12: float  # ADU, integration 2 minus integration 1
    step_12_err: float
    step_12_percent: float
    notes: list[str] = field(default_factory=list)


def _integration_signal(path: str, index: int, cfg: CalibrationConfig, first: int, last: int,
                        progress, cancel) -> tuple[np.ndarray, np.ndarray]:
    """(last - first) image of one integration and its validity, streamed through the calibration."""
    start = None
    for chunk in calibrate_integration(path, index, cfg, progress=progress, cancel=cancel):
        usable = (chunk.pixeldq & np.uint32(dqbits.DO_NOT_USE)) == 0
        for k, g in enumerate(chunk.groups):
            if g == first:
                start = (chunk.data[k].copy(), usable & (chunk.groupdq[k] == 0))
            if g == last:
                valid = start[1] & (chunk.groupdq[k] == 0)
                return chunk.data[k] - start[0], valid
    raise RuntimeError(f"{path}: group {last} was not reached")  # guarded by the caller


def signal_consistency(
    files: Sequence[str | os.PathLike],
    calibration: CalibrationConfig | None = None,
    first_group: int = 0,
    last_group: int = 10,
    progress: ProgressCallback | None = None,
    cancel: CancelCheck | None = None,
) -> ConsistencyResult:
    """Detector-averaged signal of group ``last_group`` minus ``first_group`` per integration.

    Parameters
    ----------
    files : list of path-like
        Raw ramps; integrations are taken in order of exposure start, as the engine pairs them.
    calibration : CalibrationConfig, optional
        Default: no reference files (superbias from the first read, which the
        difference does not need).
    first_group, last_group : int
        0-based groups; ``last_group`` beyond the ramp is lowered to its last group
        (noted in the result).

    Returns
    -------
    ConsistencyResult
    """
    ints = find_integrations(list(files))
    ngroups = min(i.meta.ngroups for i in ints)
    notes = []
    if not 0 <= first_group < ngroups - 1:
        raise ValueError(f"first group {first_group}: the ramps have groups 0-{ngroups - 1}")
    if last_group >= ngroups:
        notes.append(f"group {last_group} requested; the ramps have {ngroups} groups: group {ngroups - 1} used")
        last_group = ngroups - 1
    if last_group <= first_group:
        raise ValueError(f"last group {last_group} must come after first group {first_group}")
    base = calibration or CalibrationConfig()
    cfg = dataclasses.replace(base, max_groups=last_group + 1, signal_limit=None)
    shape = (ints[0].meta.ny, ints[0].meta.nx)
    science = ~reference_pixel_mask(shape)
    amp = np.broadcast_to(amplifier_index(shape[1])[None, :] + 1, shape)
    whole = BoxClipper(science.astype(np.int32))
    per_amp = BoxClipper(np.where(science, amp, 0).astype(np.int32))
    rep = Reporter(len(ints), progress, cancel)
    rows = []
    previous = None
    for k, integ in enumerate(ints):
        sub = scaled_progress(progress, k / len(ints), (k + 1) / len(ints), f"integration {k + 1}: ")
        sig, valid = _integration_signal(integ.path, integ.index, cfg, first_group, last_group, sub, cancel)
        s = whole.clip(sig, valid=valid)
        a = per_amp.clip(sig, valid=valid)
        # the spread across the detector is structure, not Gaussian noise: report the
        # clipped std as measured, without the Gaussian clipping-bias correction
        std = float(np.sqrt(s.variance_raw[0]))
        step, step_err = np.nan, np.nan
        if previous is not None:
            d = whole.clip(sig, previous[0], -1.0, valid & previous[1])
            step, step_err = float(d.mean[0]), float(np.sqrt(d.variance[0] / d.npix[0]))
        start = Time(integ.start, format="mjd").isot if integ.meta.start_mjd is not None else ""
        rows.append((k + 1, k // 2 + 1, k % 2 + 1, os.path.basename(integ.path), integ.index + 1, start,
                     float(s.mean[0]), std, std / np.sqrt(s.npix[0]), int(s.npix[0]), step, step_err,
                     *[float(x) for x in a.mean]))
        previous = (sig, valid)
        rep.step(f"integration {k + 1} of {len(ints)}")
    names = ("integration", "pair", "member", "file", "int_in_file", "start", "signal", "signal_std",
             "signal_sem", "npix", "step_from_previous", "step_err") + tuple(f"signal_amp{i}" for i in range(1, 5))
    t = Table(rows=rows, names=names)
    for c in ("signal", "signal_std", "signal_sem", "step_from_previous", "step_err") + names[-4:]:
        t[c].unit = "adu"
        t[c].format = ".3f"
    t["signal_rel"] = t["signal"] / np.median(t["signal"]) - 1.0
    t["signal_rel"].format = ".5f"
    t.meta.update({
        "first_group": first_group, "last_group": last_group,
        "comments": [
            f"signal: 3-sigma clipped mean over the science pixels of group {last_group} minus group "
            f"{first_group} (0-based), calibrated; signal_std: clipped std across the detector (the report's "
            "error bars); signal_sem: signal_std / sqrt(npix).",
            "step_from_previous: clipped mean of the pixel-by-pixel difference with the previous integration "
            "(flat structure cancels); step_err: its statistical error.",
            "signal_rel: relative to the median of all integrations.",
        ],
    })
    if len(t) >= 2:
        step, err = float(t["step_from_previous"][1]), float(t["step_err"][1])
        pct = 100.0 * step / float(t["signal"][0])
    else:
        step = err = pct = np.nan
        notes.append("one integration only: no step between integrations 1 and 2")
    t.meta.update({"step_12_adu": step, "step_12_err_adu": err, "step_12_percent": pct, "notes": notes})
    return ConsistencyResult(t, first_group, last_group, step, err, pct, notes)


def plot_consistency(result: ConsistencyResult, detector: str = ""):
    """Figure 9: signal per integration with std error bars; below, relative signal with errors of the mean."""
    import matplotlib.pyplot as plt

    t = result.table
    x = np.asarray(t["integration"])
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(6.4, 6.4), sharex=True, layout="constrained",
                                  height_ratios=[3, 2])
    ax.errorbar(x, t["signal"], yerr=t["signal_std"], fmt="o", capsize=3, color="C0")
    ax.set_ylabel(f"signal, group {result.last_group} - group {result.first_group} (ADU)")
    title = f"{detector}: " if detector else ""
    ax.set_title(f"{title}integration-to-integration signal; step 1->2 = {result.step_12:+.1f} ± "
                 f"{result.step_12_err:.1f} ADU ({result.step_12_percent:+.2f}%)", fontsize=9)
    ax2.errorbar(x, 100 * np.asarray(t["signal_rel"]), yerr=100 * np.asarray(t["signal_sem"] / t["signal"]),
                 fmt="o", capsize=3, color="C1")
    ax2.axhline(0, color="0.5", lw=0.8)
    ax2.set_ylabel("relative to median (%)")
    ax2.set_xlabel("integration (time order)")
    ax2.set_xticks(x)
    return fig


def write_consistency(result: ConsistencyResult, outdir: str | os.PathLike, detector: str = "",
                      protect: Sequence[str | os.PathLike] = (), figures: bool = True) -> dict[str, Path]:
    """``signal_consistency.ecsv`` and ``signal_consistency.png``."""
    outdir = Path(outdir)
    out = {"table": write_table(result.table, outdir / "signal_consistency.ecsv", protect)}
    if figures:
        out["figure"] = write_figure(plot_consistency(result, detector), outdir / "signal_consistency.png", protect)
    out["summary"] = write_json({"study": "signal consistency", "first_group": result.first_group,
                                 "last_group": result.last_group, "step_12_adu": result.step_12,
                                 "step_12_err_adu": result.step_12_err, "step_12_percent": result.step_12_percent,
                                 "notes": result.notes}, outdir / "signal_consistency.json", protect)
    return out
