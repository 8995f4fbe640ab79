"""PNG figures of a flat validation (report 008304 Figs. 2 and 3), matplotlib's object API only
(no pyplot, no GUI backend), so they can be drawn in a worker thread or on a headless machine."""

from __future__ import annotations

import os

import numpy as np
from astropy.table import Table
from matplotlib.figure import Figure

from .figures import _limits, _save, _show

__all__ = ["plot_photometry", "plot_profiles", "plot_smoothed"]

_COLOURS = {"old": "tab:red", "new": "tab:blue"}


def plot_profiles(path, title: str, profile_x: Table, profile_y: Table) -> str:
    """Collapsed background profiles along x and y, old and new flat (Fig. 2 top)."""
    fig = Figure(figsize=(10, 4))
    for ax, (name, t) in zip(fig.subplots(1, 2), (("x", profile_x), ("y", profile_y))):
        for k in ("old", "new"):
            ax.plot(t["position"], t[k], lw=0.8, color=_COLOURS[k], label=f"{k} flat")
        ax.axhline(1.0, color="0.5", lw=0.5)
        ax.set_xlabel(f"{name} (pixel)")
        ax.set_ylabel("normalised background")
        ax.set_title(f"collapsed along {'y' if name == 'x' else 'x'}", fontsize=9)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def plot_smoothed(path, title: str, smoothed: dict[str, np.ndarray]) -> str:
    """Smoothed normalised images with each flat on one stretch (Fig. 3)."""
    fig = Figure(figsize=(10, 9))
    axs = fig.subplots(2, 2)
    lo, hi = _limits(np.concatenate([smoothed["IMAGE_OLD"].ravel(), smoothed["IMAGE_NEW"].ravel()]), (1, 99))
    for ax, key, label in ((axs[0, 0], "IMAGE_OLD", "one image, old flat"), (axs[0, 1], "IMAGE_NEW", "one image, new flat"),
                           (axs[1, 0], "STACK_OLD", "median of all images, old flat"),
                           (axs[1, 1], "STACK_NEW", "median of all images, new flat")):
        _show(ax, smoothed[key], label, lo, hi, cmap="gray")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def plot_photometry(path, title: str, photometry: Table) -> str:
    """Histograms of the relative photometric scatter per source with each flat (Fig. 2 bottom)."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    values = {k: 100 * np.asarray(photometry[f"scatter_{k}"], float) for k in ("old", "new")}
    finite = np.concatenate([v[np.isfinite(v)] for v in values.values()])
    top = float(np.percentile(finite, 98)) * 1.1 if finite.size else 1.0
    bins = np.linspace(0, max(top, 1e-3), 30)
    for k, v in values.items():
        med = float(np.median(v)) if v.size else float("nan")
        ax.hist(np.clip(v, 0, bins[-1]), bins=bins, histtype="step", lw=1.5, color=_COLOURS[k],
                label=f"{k} flat: median {med:.2f}%")
    ax.set_xlabel("std / mean of a source's flux over the pointings (%)")
    ax.set_ylabel("sources")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)
