"""PNG figures of the sky-flat products, drawn with matplotlib's object API (no pyplot,
no GUI backend), so they can be made in a worker thread or on a headless machine."""

from __future__ import annotations

import os

import numpy as np
from astropy.table import Table
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle

from ..fileio import atomic_path

__all__ = ["plot_backgrounds", "plot_detector", "plot_filter_dependence"]


def _show(ax, image: np.ndarray, title: str, lo: float, hi: float, cmap: str = "viridis"):
    step = max(1, image.shape[0] // 512)
    im = ax.imshow(image[::step, ::step], origin="lower", cmap=cmap, vmin=lo, vmax=hi,
                   extent=(0, image.shape[1], 0, image.shape[0]), interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("x (pixel)", fontsize=8)
    ax.set_ylabel("y (pixel)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04).ax.tick_params(labelsize=7)


def _save(fig: Figure, path: str | os.PathLike) -> str:
    FigureCanvasAgg(fig)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    return os.fspath(path)


def _limits(image: np.ndarray, pct=(1, 99)) -> tuple[float, float]:
    v = image[np.isfinite(image)]
    return (float(np.percentile(v, pct[0])), float(np.percentile(v, pct[1]))) if v.size else (0.0, 1.0)


def plot_detector(path, detector: str, grey: np.ndarray, fit: np.ndarray, fit_method: str, dead: np.ndarray,
                  clusters: Table) -> str:
    """Grey delta flat, its large-scale fit, grey/fit, and the new dead pixels with concentrations."""
    fig = Figure(figsize=(11, 9))
    axs = fig.subplots(2, 2)
    lo, hi = _limits(fit, (0.5, 99.5))
    _show(axs[0, 0], grey, f"{detector} grey delta sky flat", lo, hi)
    _show(axs[0, 1], fit, f"large-scale fit ({fit_method})", lo, hi)
    _show(axs[1, 0], grey / fit, "grey / fit", 0.97, 1.03, cmap="RdBu_r")
    ax = axs[1, 1]
    y, x = np.nonzero(dead)
    ax.scatter(x, y, s=1, c="k")
    for row in clusters:
        ax.add_patch(Circle((row["x"], row["y"]), max(3 * float(row["radius"]), 20), fill=False, color="r"))
    ax.set_xlim(0, grey.shape[1])
    ax.set_ylim(0, grey.shape[0])
    ax.set_aspect("equal")
    ax.set_title(f"new dead pixels: {len(x)}, concentrations (red): {len(clusters)}", fontsize=9)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    return _save(fig, path)


def plot_filter_dependence(path, detector: str, deltas: dict[str, np.ndarray], grey: np.ndarray) -> str:
    """Each filter's delta flat (top) and its fractional difference from grey (bottom)."""
    n = len(deltas)
    fig = Figure(figsize=(4 * n + 1, 7))
    axs = np.atleast_2d(fig.subplots(2, n, squeeze=False))
    lo, hi = _limits(grey, (0.5, 99.5))
    for k, (name, d) in enumerate(deltas.items()):
        _show(axs[0, k], d, f"{detector} {name} delta", lo, hi)
        frac = d / grey - 1
        _show(axs[1, k], frac, f"{name} / grey - 1", -0.03, 0.03, cmap="RdBu_r")
    fig.tight_layout()
    return _save(fig, path)


def plot_backgrounds(path, summary: Table) -> str:
    """Measured background per detector and filter (and predictions, when given)."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    filters = sorted(set(summary["filter"]), key=lambda f: int("".join(c for c in f if c.isdigit()) or 0))
    xpos = {f: i for i, f in enumerate(filters)}
    for det in sorted(set(summary["detector"])):
        t = summary[summary["detector"] == det]
        ax.errorbar([xpos[f] for f in t["filter"]], t["mean"], yerr=np.nan_to_num(t["std"]), fmt="o", label=det)
    if "predicted" in summary.colnames and np.isfinite(summary["predicted"]).any():
        pred = {f: np.nanmean(summary["predicted"][summary["filter"] == f]) for f in filters}
        ax.plot([xpos[f] for f in filters], [pred[f] for f in filters], "k-", label="predicted")
    ax.set_xticks(range(len(filters)), filters)
    ax.set_ylabel("background (MJy/sr)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)
