"""PNG/PDF figures of a gain analysis (matplotlib, no display needed)."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless; never pulls in a GUI toolkit
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..fileio import atomic_path  # noqa: E402
from .maps import gain_image  # noqa: E402

__all__ = ["example_boxes", "plot_gain_map", "plot_ptc", "write_figures"]


def example_boxes(result, n: int = 4) -> list[int]:
    """Box ids worth showing: the median box of each region, and the extremes of the map."""
    g = result.maps.mean_gain
    ok = np.flatnonzero(np.isfinite(g))
    if ok.size == 0:
        return []
    picks = [ok[np.argmin(g[ok])], ok[np.argmax(g[ok])]]
    regions = np.asarray(result.boxes.table["region"])
    for region in ("normal", "epoxy"):
        sel = ok[regions[ok] == region]
        if sel.size:
            picks.append(sel[np.argsort(g[sel])[sel.size // 2]])
    return [int(b) + 1 for b in dict.fromkeys(picks)][:n]


def plot_ptc(ax_top, ax_res, result, box_id: int, pair_index: int | None = None) -> None:
    """Variance vs mean of one box: all groups, used points highlighted, fit line, residuals."""
    b = box_id - 1
    pairs = range(len(result.pairs)) if pair_index is None else [pair_index]
    colours = plt.cm.viridis(np.linspace(0, 0.85, max(len(result.pairs), 1)))
    xmax = np.nanmax(result.ptc.mean[:, :, b]) if np.isfinite(result.ptc.mean[:, :, b]).any() else 1
    for p in pairs:
        x = result.ptc.mean[p, :, b]
        y = result.ptc.variance[p, :, b]
        used = result.fit.used[p, :, b]
        c = colours[p]
        ax_top.plot(x[~used], y[~used], "o", mfc="none", color=c, ms=4)
        ax_top.plot(x[used], y[used], "o", color=c, ms=5, label=f"pair {result.pairs[p].number}")
        xx = np.array([0, xmax])
        ax_top.plot(xx, result.fit.intercept[p, b] + result.fit.slope[p, b] * xx, "-", color=c, lw=0.8)
        ax_res.plot(x, result.fit.residuals[p, :, b], "o", color=c, ms=3, mfc="none")
        ax_res.plot(x[used], result.fit.residuals[p, used, b], "o", color=c, ms=4)
    row = result.boxes.table[b]
    g, ge = result.maps.mean_gain[b], result.maps.mean_err[b]
    ax_top.set_title(f"box {box_id} (amp {row['amp']}, {row['region']}, {row['npix']} px): "
                     f"g = {g:.3f} ± {ge:.3f} e-/ADU", fontsize=9)
    ax_top.axvline(2 * result.signal_limit, color="0.6", ls=":", lw=1)
    ax_res.axhline(0, color="0.5", lw=0.8)
    ax_top.set_ylabel("variance of difference (ADU²)")
    ax_res.set_ylabel("residual")
    ax_res.set_xlabel("mean of sum (ADU)")
    ax_top.legend(fontsize=7, loc="upper left")


def plot_gain_map(ax, result, values: np.ndarray | None = None, title: str = "mean gain map"):
    """Box gains as an image (DMS orientation, origin lower left) with amplifier boundaries."""

    img, dq = gain_image(result, values)
    img = np.where(dq != 0, np.nan, img)
    finite = img[np.isfinite(img)]
    vmin, vmax = (np.percentile(finite, [1, 99]) if finite.size else (0, 1))
    im = ax.imshow(img, origin="lower", cmap="viridis", vmin=vmin, vmax=vmax, interpolation="nearest")
    nx = img.shape[1]
    for k in range(1, 4):
        ax.axvline(k * nx / 4 - 0.5, color="w", lw=0.8, alpha=0.8)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("x (pixels)")
    ax.set_ylabel("y (pixels)")
    return im


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def write_figures(result, outdir: str | os.PathLike, formats: tuple[str, ...] = ("png",),
                  boxes: list[int] | None = None) -> dict[str, Path]:
    """PTC of example boxes with residuals, the mean gain map, its histogram, a pair scatter.

    ``boxes`` (1-based box ids) chooses the PTCs shown, e.g. those a user selected; by default
    :func:`example_boxes` picks them.
    """
    outdir = Path(outdir)
    out = {}
    boxes = [int(b) for b in boxes if 1 <= int(b) <= result.boxes.nbox] if boxes else []
    boxes = boxes or example_boxes(result)
    for fmt in formats:
        if boxes:
            nrow = (len(boxes) + 1) // 2
            fig = plt.figure(figsize=(5.4 * min(len(boxes), 2), 4.6 * nrow), layout="constrained")
            grid = fig.add_gridspec(2 * nrow, min(len(boxes), 2), height_ratios=[3, 1.1] * nrow)
            for i, b in enumerate(boxes):
                r, c = divmod(i, 2)
                ax_top = fig.add_subplot(grid[2 * r, c])
                ax_res = fig.add_subplot(grid[2 * r + 1, c], sharex=ax_top)
                plot_ptc(ax_top, ax_res, result, b)
                ax_top.tick_params(labelbottom=False)
            fig.suptitle(f"{result.detector}: photon transfer curves", fontsize=11)
            out[f"ptc_examples_{fmt}"] = _save(fig, outdir / f"ptc_examples.{fmt}")

        fig, ax = plt.subplots(figsize=(6.4, 5.6))
        im = plot_gain_map(ax, result, title=f"{result.detector} mean gain, {result.options.box} px boxes")
        fig.colorbar(im, ax=ax, label="gain (e-/ADU)")
        out[f"gain_map_{fmt}"] = _save(fig, outdir / f"gain_map.{fmt}")

        fig, ax = plt.subplots(figsize=(5.6, 4))
        g = result.maps.mean_gain
        regions = np.asarray(result.boxes.table["region"])
        for region, colour in (("normal", "C0"), ("epoxy", "C3")):
            v = g[(regions == region) & np.isfinite(g)]
            if v.size:
                ax.hist(v, bins=max(10, min(60, v.size // 3)), color=colour, alpha=0.7, label=f"{region} ({v.size})")
        ax.set_xlabel("gain (e-/ADU)")
        ax.set_ylabel("boxes")
        ax.legend(fontsize=8)
        ax.set_title("histogram of the mean gain map", fontsize=10)
        out[f"gain_hist_{fmt}"] = _save(fig, outdir / f"gain_hist.{fmt}")

        used = np.flatnonzero(result.maps.pair_used)
        if used.size >= 2:
            a, b = used[0], used[1]
            fig, ax = plt.subplots(figsize=(4.8, 4.6))
            ga, gb = result.maps.pair_gain[a], result.maps.pair_gain[b]
            for region, colour in (("normal", "C0"), ("epoxy", "C3")):
                sel = regions == region
                ax.plot(ga[sel], gb[sel], ".", color=colour, ms=4, label=region)
            lim = np.nanpercentile(np.concatenate([ga, gb]), [0.5, 99.5])
            ax.plot(lim, lim, "k-", lw=0.7)
            ax.set_xlabel(f"gain, pair {result.pairs[a].number}")
            ax.set_ylabel(f"gain, pair {result.pairs[b].number}")
            ax.legend(fontsize=8)
            ax.set_title("two single-pair maps", fontsize=10)
            out[f"pair_scatter_{fmt}"] = _save(fig, outdir / f"pair_scatter.{fmt}")
    return out
