"""Box-size study (report 004622 section 5.2, Table 2, Figure 7).

For each box size: the standard deviation of the difference of two single-pair gain
maps, divided by sqrt(2), is the uncertainty of one map (in e-/ADU and in per cent of
the gain); the same for two 2-pair mean maps (expected: the single-map value /
sqrt(2)); the sector means (the report found them equal across box sizes to ~0.1%).
Photon statistics make the uncertainty fall as 1/sqrt(pixels): a factor 2 per factor 4
in box area.

Only whole boxes enter the uncertainty (normal region, at least 90% of the nominal
pixels): epoxy boxes and merged edge pieces have other sizes and would blur the
scaling. Independent differences (pairs (1,2), (3,4), ... of the accepted maps) are
pooled; the standard deviation is 4-sigma clipped, as in the engine.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.table import Table, vstack

from ._common import clipped_std, image_axes, region_colours, table_rows, write_figure, write_json, write_table
from .rundata import Refit, RunData

__all__ = ["BoxSizeResult", "box_size_study", "write_box_size"]

WHOLE_FRACTION = 0.9


@dataclass
class BoxSizeResult:
    """Uncertainty and sector tables per box size, and what the figures need."""

    runs: dict[int, RunData]
    refits: dict[int, Refit]
    uncertainty: Table
    sectors: Table
    reference_box: int
    scatter_pairs: dict[int, tuple[int, int]]  # box -> (pair index a, pair index b)
    mean_pairs: tuple[tuple[int, int], tuple[int, int]] | None
    notes: list[str] = field(default_factory=list)


def _whole_boxes(run: RunData) -> np.ndarray:
    return (run.regions == "normal") & (run.box_npix >= WHOLE_FRACTION * run.box_size**2)


def _uncertainty_row(run: RunData, refit: Refit) -> tuple[dict, tuple[int, int], tuple | None]:
    g = refit.pair_gain
    used = np.flatnonzero(refit.maps.pair_used)
    whole = _whole_boxes(run)
    row: dict = {"box": run.box_size, "box_area": run.box_size**2, "n_boxes": int(whole.sum()),
                 "n_maps": int(used.size)}
    diffs = [g[used[k + 1], whole] - g[used[k], whole] for k in range(0, used.size - 1, 2)]
    if diffs:
        std, _ = clipped_std(np.concatenate(diffs))
    else:
        std = np.nan
    level = float(np.nanmean(refit.maps.mean_gain[whole])) if whole.any() else np.nan
    row.update(n_differences=len(diffs), diff_std=std, single_err=std / np.sqrt(2),
               single_err_percent=100 * std / np.sqrt(2) / level, mean_gain=level)
    # the other estimator: scatter of every box over all accepted maps, pooled (more degrees of freedom)
    if used.size >= 2:
        var = np.nanvar(g[np.ix_(used, np.flatnonzero(whole))], axis=0, ddof=1)
        row["single_err_scatter"] = float(np.sqrt(np.nanmedian(var) / _median_chi2_factor(used.size - 1)))
    else:
        row["single_err_scatter"] = np.nan
    pair_ab = (int(used[-2]), int(used[-1])) if used.size >= 2 else (0, 0)
    mean_pairs = None
    if used.size >= 4:
        a, b, c, d = used[-4:]
        m1 = 0.5 * (g[a, whole] + g[b, whole])
        m2 = 0.5 * (g[c, whole] + g[d, whole])
        s2, _ = clipped_std(m2 - m1)
        row["mean2_err"] = s2 / np.sqrt(2)
        mean_pairs = ((int(a), int(b)), (int(c), int(d)))
    else:
        row["mean2_err"] = np.nan
    row["mean2_expected"] = row["single_err"] / np.sqrt(2)
    return row, pair_ab, mean_pairs


def _median_chi2_factor(dof: int) -> float:
    """Median of chi2(dof)/dof: a median of sample variances is low by this factor."""
    from scipy import stats

    return float(stats.chi2.median(dof) / dof)


def box_size_study(runs: Sequence[RunData], reference_box: int | None = None,
                   signal_limit: float | None = None, first_pair: str | None = None) -> BoxSizeResult:
    """Compare gain maps measured with different box sizes.

    Parameters
    ----------
    runs : list of RunData
        One run per box size, same ramps and options otherwise.
    reference_box : int, optional
        Box size the sector means are compared with (default: 256 if present, else the
        middle size).
    signal_limit : float, optional
        Fit limit (single-frame ADU); default each run's own.
    first_pair : {"auto", "keep", "drop"}, optional
        Default: the decision of the reference run, applied to every size so the
        same pairs are compared.
    """
    by_box = {r.box_size: r for r in sorted(runs, key=lambda r: r.box_size)}
    if len(by_box) < 2:
        raise ValueError("the box-size study needs runs with at least two box sizes")
    sizes = list(by_box)
    ref = reference_box if reference_box in by_box else (256 if 256 in by_box else sizes[len(sizes) // 2])
    mode = first_pair or by_box[ref].first_pair_mode()
    refits = {b: r.refit(signal_limit, mode) for b, r in by_box.items()}
    rows, scatter_pairs = [], {}
    mean_pairs = None
    for b in sizes:
        row, ab, mp = _uncertainty_row(by_box[b], refits[b])
        rows.append(row)
        scatter_pairs[b] = ab
        if b == ref:
            mean_pairs = mp
    unc = Table(rows=rows)
    unc["ratio_to_next"] = np.append(unc["single_err"][:-1] / unc["single_err"][1:], np.nan)
    unc["area_ratio_to_next"] = np.append(unc["box_area"][1:] / unc["box_area"][:-1], np.nan)
    for c in ("diff_std", "single_err", "single_err_scatter", "mean2_err", "mean2_expected", "mean_gain"):
        unc[c].unit = "electron / adu"
        unc[c].format = ".5f"
    for c in ("single_err_percent", "ratio_to_next"):
        unc[c].format = ".3f"
    unc.meta["reference_box"] = ref
    unc.meta["first_pair_mode"] = mode
    unc.meta["comments"] = [
        "diff_std: 4-sigma clipped std of the differences of single-pair maps (independent pairs of accepted "
        f"maps pooled), whole normal boxes only (>= {WHOLE_FRACTION:.0%} of the nominal pixels).",
        "single_err = diff_std / sqrt(2): uncertainty of one single-pair map (report Table 2).",
        "single_err_scatter: the same from the scatter of each box over all accepted maps (cross-check).",
        "mean2_err: std of the difference of two 2-pair mean maps / sqrt(2); mean2_expected = single_err/sqrt(2).",
        "ratio_to_next: single_err of this size over the next larger; photon statistics give "
        "sqrt(area_ratio_to_next) (2 for a factor 4 in area).",
    ]
    sector_rows = []
    ref_sectors = refits[ref].sectors
    ref_gain = {(int(r["amp"]), r["region"]): float(r["gain"]) for r in ref_sectors}
    for b in sizes:
        s = refits[b].sectors.copy()
        s.add_column(np.full(len(s), b), name="box", index=0)
        rg = np.array([ref_gain.get((int(r["amp"]), r["region"]), np.nan) for r in s])
        s["diff_to_ref"] = s["gain"] - rg
        s["diff_to_ref"].unit = "electron / adu"
        s["diff_to_ref_percent"] = 100 * (s["gain"] / rg - 1)
        sector_rows.append(s)
    sectors = vstack(sector_rows)
    for c in ("gain", "gain_err", "box_gain_err", "diff_to_ref"):
        sectors[c].format = ".4f"
    sectors["diff_to_ref_percent"].format = ".3f"
    sectors.meta = {"reference_box": ref, "comments": [
        "Pixel-weighted sector means of the mean map per box size; diff_to_ref against the reference box size."]}
    notes = []
    if mean_pairs is None:
        notes.append("fewer than four accepted maps: no 2-pair mean-map comparison")
    return BoxSizeResult(by_box, refits, unc, sectors, ref, scatter_pairs, mean_pairs, notes)


def _scatter(ax, x, y, regions, title):
    for name, colour, sel in region_colours(regions):
        ax.plot(x[sel], y[sel], ".", color=colour, ms=3 if sel.sum() > 300 else 5, label=name)
    both = np.concatenate([x, y])
    both = both[np.isfinite(both)]
    if both.size:
        lim = np.percentile(both, [0.5, 99.5])
        pad = 0.05 * (lim[1] - lim[0] + 1e-9)
        lim = [lim[0] - pad, lim[1] + pad]
        ax.plot(lim, lim, "k-", lw=0.7)
        ax.set_xlim(lim)
        ax.set_ylim(lim)
    ax.set_title(title, fontsize=9)
    ax.set_aspect("equal")
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, loc="upper left")


def plot_scatter(result: BoxSizeResult):
    """Figure 7: two single-pair maps per box size, and two 2-pair mean maps at the reference size."""
    import matplotlib.pyplot as plt

    sizes = list(result.runs)
    npanel = len(sizes) + (result.mean_pairs is not None)
    ncol = 2 if npanel <= 4 else 3
    nrow = -(-npanel // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.3 * ncol, 4.2 * nrow), layout="constrained", squeeze=False)
    axes = axes.ravel()
    unc = {int(r["box"]): r for r in result.uncertainty}
    for ax, b in zip(axes, sizes):
        run, refit = result.runs[b], result.refits[b]
        a, c = result.scatter_pairs[b]
        na, nc = run.pair_numbers[a], run.pair_numbers[c]
        _scatter(ax, refit.pair_gain[a], refit.pair_gain[c], run.regions,
                 f"{b}x{b} px: pair {na} vs pair {nc}\nsingle-map σ = {unc[b]['single_err']:.4f} e-/ADU "
                 f"({unc[b]['single_err_percent']:.2f}%)")
        ax.set_xlabel(f"gain, pair {na} (e-/ADU)", fontsize=8)
        ax.set_ylabel(f"gain, pair {nc} (e-/ADU)", fontsize=8)
    k = len(sizes)
    if result.mean_pairs is not None:
        b = result.reference_box
        run, g = result.runs[b], result.refits[b].pair_gain
        (a1, a2), (c1, c2) = result.mean_pairs
        m1, m2 = 0.5 * (g[a1] + g[a2]), 0.5 * (g[c1] + g[c2])
        pn = run.pair_numbers
        _scatter(axes[k], m1, m2, run.regions,
                 f"{b}x{b} px: mean of pairs {pn[a1]},{pn[a2]} vs {pn[c1]},{pn[c2]}\n2-pair map σ = "
                 f"{unc[b]['mean2_err']:.4f} (expected {unc[b]['mean2_expected']:.4f}) e-/ADU")
        axes[k].set_xlabel("2-pair mean gain (e-/ADU)", fontsize=8)
        axes[k].set_ylabel("2-pair mean gain (e-/ADU)", fontsize=8)
        k += 1
    for ax in axes[k:]:
        ax.set_visible(False)
    return fig


def plot_maps(result: BoxSizeResult):
    """Mean gain maps per box size on one stretch (report Figure 6)."""
    import matplotlib.pyplot as plt

    sizes = list(result.runs)
    images = [result.runs[b].image(result.refits[b].maps.mean_gain) for b in sizes]
    finite = np.concatenate([im[np.isfinite(im)] for im in images])
    vmin, vmax = np.percentile(finite, [1, 99]) if finite.size else (0, 1)
    fig, axes = plt.subplots(1, len(sizes), figsize=(4.2 * len(sizes), 4.2), layout="constrained", squeeze=False)
    for ax, b, im in zip(axes[0], sizes, images):
        h = image_axes(ax, im, f"{b}x{b} px boxes", vmin, vmax)
    fig.colorbar(h, ax=axes[0].tolist(), label="gain (e-/ADU)", shrink=0.8)
    return fig


def plot_uncertainty(result: BoxSizeResult):
    """Single-map uncertainty against box area, with the 1/sqrt(area) law through the reference size."""
    import matplotlib.pyplot as plt

    t = result.uncertainty
    area = np.asarray(t["box_area"], float)
    fig, ax = plt.subplots(figsize=(5.2, 4.0), layout="constrained")
    ax.loglog(area, t["single_err_percent"], "o-", label="std(map a - map b)/√2")
    ax.loglog(area, 100 * np.asarray(t["single_err_scatter"]) / np.asarray(t["mean_gain"]), "s", mfc="none",
              label="scatter over all maps")
    ref = np.flatnonzero(np.asarray(t["box"]) == result.reference_box)
    if ref.size and np.isfinite(t["single_err_percent"][ref[0]]):
        r = ref[0]
        xx = np.geomspace(area.min() / 1.5, area.max() * 1.5, 20)
        ax.loglog(xx, t["single_err_percent"][r] * np.sqrt(area[r] / xx), "k:", lw=1, label="∝ 1/√area")
    ax.set_xticks(area, [f"{int(b)}²" for b in t["box"]])
    ax.set_xlabel("box area (pixels)")
    ax.set_ylabel("single-map uncertainty (%)")
    ax.legend(fontsize=8)
    return fig


def write_box_size(result: BoxSizeResult, outdir: str | os.PathLike, protect: Sequence[str | os.PathLike] = (),
                   figures: bool = True) -> dict[str, Path]:
    """``boxsize_uncertainty.ecsv``, ``boxsize_sectors.ecsv`` and the scatter, map and uncertainty figures."""
    outdir = Path(outdir)
    out = {"uncertainty": write_table(result.uncertainty, outdir / "boxsize_uncertainty.ecsv", protect),
           "sectors": write_table(result.sectors, outdir / "boxsize_sectors.ecsv", protect)}
    if figures:
        out["scatter"] = write_figure(plot_scatter(result), outdir / "boxsize_scatter.png", protect)
        out["maps"] = write_figure(plot_maps(result), outdir / "boxsize_maps.png", protect)
        out["uncertainty_fig"] = write_figure(plot_uncertainty(result), outdir / "boxsize_uncertainty.png", protect)
    out["summary"] = write_json({
        "study": "box size", "reference_box": result.reference_box,
        "runs": {b: r.source for b, r in result.runs.items()},
        "uncertainty": table_rows(result.uncertainty),
        "notes": result.notes}, outdir / "boxsize.json", protect)
    return out

