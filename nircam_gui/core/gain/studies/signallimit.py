"""Signal-limit study (report 004622 section 5.3, Table 3).

Mean gain maps fitted with several upper signal limits, each divided by the map at
the lowest limit: the mean and standard deviation of the ratio show whether residual
non-linearity creeps in (the report: +0.34% at 10,000 ADU, +0.57% at 15,000, against
5,000). Every limit re-fits the engine's saved PTC points, so nothing is re-read; the
same pairs are averaged at every limit (the run's first-pair decision), so the ratios
compare fits, not pair selections.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.table import Table

from ._common import image_axes, table_rows, weighted_stats, write_figure, write_json, write_table
from .rundata import Refit, RunData

__all__ = ["SignalLimitResult", "signal_limit_study", "write_signal_limit"]


@dataclass
class SignalLimitResult:
    run: RunData
    limits: list[float]
    refits: dict[float, Refit]
    summary: Table
    boxes: Table
    notes: list[str] = field(default_factory=list)


def signal_limit_study(run: RunData, limits: Sequence[float], first_pair: str | None = None) -> SignalLimitResult:
    """Mean maps at each limit and their ratio to the map at the lowest limit.

    Parameters
    ----------
    run : RunData
    limits : list of float
        Single-frame signal limits (ADU); the summed-frame limit is twice each.
    first_pair : {"auto", "keep", "drop"}, optional
        Default: the run's own decision, held for every limit.
    """
    limits = sorted({float(x) for x in limits})
    if len(limits) < 2:
        raise ValueError("give at least two signal limits")
    mode = first_pair or run.first_pair_mode()
    refits = {lim: run.refit(lim, mode) for lim in limits}
    base = refits[limits[0]].maps.mean_gain
    npix = run.box_npix
    highest = float(np.nanmax(run.mean)) / 2.0  # single-frame signal of the brightest measured group
    notes = []
    rows = []
    boxes = run.boxes.copy()
    used = np.flatnonzero(refits[limits[0]].maps.pair_used)
    # the covariance model at the same caps, side by side (when the run measured covariances)
    cov_refits = {lim: run.refit_covariance(lim, mode) for lim in limits}
    cov_base = cov_refits[limits[0]].maps.mean_gain if cov_refits[limits[0]] is not None else None
    cov_cols = []
    for lim in limits:
        rc = cov_refits[lim]
        if rc is None:
            cov_cols.append((np.nan, np.nan, np.nan))
            continue
        gc = rc.maps.mean_gain
        with np.errstate(invalid="ignore", divide="ignore"):
            rc_ratio = gc / cov_base - 1.0
        sc = weighted_stats(rc_ratio, npix)
        cov_cols.append((weighted_stats(gc, npix)["mean"], 100 * sc["mean"], 100 * sc["std"]))
        boxes[f"gain_cov_{lim:g}"] = gc
        boxes[f"gain_cov_{lim:g}"].unit = "electron / adu"
    for lim in limits:
        r = refits[lim]
        g = r.maps.mean_gain
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = g / base - 1.0
        st = weighted_stats(ratio, npix)
        gm = weighted_stats(g, npix)
        ok = r.fit.flags[used] == 0
        npts = r.fit.npoints[used][ok]
        rows.append((lim, 2 * lim, float(np.median(npts)) if npts.size else np.nan,
                     int(npts.min()) if npts.size else 0, int(npts.max()) if npts.size else 0,
                     int(np.isfinite(g).sum()), gm["mean"], 100 * st["mean"], 100 * st["std"],
                     100 * st["median"], 100 * st["p05"], 100 * st["p95"]))
        boxes[f"gain_{lim:g}"] = g
        boxes[f"gain_{lim:g}"].unit = "electron / adu"
        boxes[f"ratio_{lim:g}"] = ratio
        if lim > highest:
            notes.append(f"limit {lim:g} ADU is above the brightest measured group ({highest:.0f} ADU): it uses "
                         "every group and equals the fit without a limit")
    t = Table(rows=rows, names=("signal_limit", "summed_limit", "groups_median", "groups_min", "groups_max",
                                "n_boxes", "mean_gain", "ratio_mean_percent", "ratio_std_percent",
                                "ratio_median_percent", "ratio_p05_percent", "ratio_p95_percent"))
    t["cov_mean_gain"] = [c[0] for c in cov_cols]
    t["cov_ratio_mean_percent"] = [c[1] for c in cov_cols]
    t["cov_ratio_std_percent"] = [c[2] for c in cov_cols]
    t["cov_mean_gain"].unit = "electron / adu"
    t["cov_mean_gain"].format = ".5f"
    t["signal_limit"].unit = t["summed_limit"].unit = "adu"
    t["mean_gain"].unit = "electron / adu"
    t["mean_gain"].format = ".5f"
    for c in t.colnames[7:]:
        t[c].format = ".5f" if c == "cov_mean_gain" else ".3f"
    t.meta.update({
        "reference_limit": limits[0], "box_size": run.box_size, "first_pair_mode": mode,
        "pairs_averaged": [int(run.pair_numbers[i]) for i in used], "notes": notes,
        "comments": ["ratio = mean map at this limit / mean map at the lowest limit - 1, pixel-weighted over "
                     "boxes (report Table 3); groups: points in each fit (accepted pairs, unflagged boxes).",
                     "cov_*: the same for the covariance PTC model (gain at zero signal, brighter-fatter a-matrix "
                     "per amplifier) with the limit as its cap; NaN when the run measured no covariances."],
    })
    boxes.meta = {"reference_limit": limits[0]}
    return SignalLimitResult(run, limits, refits, t, boxes, notes)


def plot_signal_limit(result: SignalLimitResult):
    """Ratio maps of every higher limit to the lowest, and their histograms."""
    import matplotlib.pyplot as plt

    others = result.limits[1:]
    lo = result.limits[0]
    ratios = [100 * np.asarray(result.boxes[f"ratio_{lim:g}"]) for lim in others]
    finite = np.concatenate([r[np.isfinite(r)] for r in ratios]) if ratios else np.array([])
    span = float(np.percentile(np.abs(finite), 99)) if finite.size else 1.0
    fig, axes = plt.subplots(1, len(others) + 1, figsize=(4.0 * (len(others) + 1), 3.9), layout="constrained",
                             squeeze=False)
    axes = axes[0]
    for ax, lim, r in zip(axes, others, ratios):
        im = image_axes(ax, result.run.image(r), f"{lim:g} / {lo:g} ADU - 1 (%)", -span, span, cmap="RdBu_r")
    fig.colorbar(im, ax=axes[:-1].tolist(), label="ratio - 1 (%)", shrink=0.8)
    ax = axes[-1]
    w = result.run.box_npix
    bins = np.linspace(-span, span, 41)
    for k, (lim, r) in enumerate(zip(others, ratios)):
        ok = np.isfinite(r)
        row = result.summary[k + 1]
        ax.hist(r[ok], bins=bins, weights=w[ok], histtype="step", lw=1.3,
                label=f"{lim:g}: {row['ratio_mean_percent']:+.2f} ± {row['ratio_std_percent']:.2f}%")
    ax.set_xlabel(f"gain ratio to the {lo:g} ADU map - 1 (%)")
    ax.set_ylabel("pixels")
    ax.legend(fontsize=7)
    return fig


def write_signal_limit(result: SignalLimitResult, outdir: str | os.PathLike,
                       protect: Sequence[str | os.PathLike] = (), figures: bool = True) -> dict[str, Path]:
    """``signal_limit.ecsv``, ``signal_limit_boxes.ecsv``, ``signal_limit.png``."""
    outdir = Path(outdir)
    out = {"summary": write_table(result.summary, outdir / "signal_limit.ecsv", protect),
           "boxes": write_table(result.boxes, outdir / "signal_limit_boxes.ecsv", protect)}
    if figures:
        out["figure"] = write_figure(plot_signal_limit(result), outdir / "signal_limit.png", protect)
    out["json"] = write_json({"study": "signal limit", "run": result.run.source, "limits": result.limits,
                              "rows": table_rows(result.summary),
                              "notes": result.notes}, outdir / "signal_limit.json", protect)
    return out
