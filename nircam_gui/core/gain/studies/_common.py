"""Helpers shared by the studies: progress spans, atomic table and figure writing, statistics."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless; never pulls in a GUI toolkit
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from astropy.stats import sigma_clipped_stats  # noqa: E402
from astropy.table import Table  # noqa: E402

from .... import __version__  # noqa: E402
from ...fileio import atomic_path  # noqa: E402
from ...progress import ProgressCallback  # noqa: E402

__all__ = ["clipped_std", "scaled_progress", "weighted_stats", "write_figure", "write_json", "write_table"]


def scaled_progress(progress: ProgressCallback | None, lo: float, hi: float,
                    prefix: str = "") -> ProgressCallback | None:
    """A callback that maps a sub-task's 0..1 onto ``lo..hi`` of ``progress``."""
    if progress is None:
        return None

    def cb(fraction: float, message: str) -> None:
        progress(lo + (hi - lo) * min(max(fraction, 0.0), 1.0), f"{prefix}{message}")

    return cb


def write_table(table: Table, path: Path, protect: Sequence[str | os.PathLike] = ()) -> Path:
    """ECSV, atomically, never over an input."""
    meta = table.meta
    meta.setdefault("software", f"nircam_gui {__version__}")
    with atomic_path(path, tuple(protect)) as tmp:
        table.write(tmp, format="ascii.ecsv", overwrite=True)
    return path


def write_figure(fig, path: Path, protect: Sequence[str | os.PathLike] = ()) -> Path:
    """PNG (or by suffix), atomically; closes the figure."""
    with atomic_path(path, tuple(protect)) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format=path.suffix.lstrip(".") or "png")
    plt.close(fig)
    return path


def write_json(data: dict, path: Path, protect: Sequence[str | os.PathLike] = ()) -> Path:
    with atomic_path(path, tuple(protect)) as tmp:
        tmp.write_text(json.dumps(data, indent=1, default=_jsonable))
    return path


def table_rows(table: Table) -> list[dict]:
    """Rows of a table as plain Python dicts, for the JSON summaries."""
    return [dict(zip(table.colnames, [v.item() if hasattr(v, "item") else v for v in row])) for row in table]


def _jsonable(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)


def clipped_std(values: np.ndarray, sigma: float = 4.0) -> tuple[float, int]:
    """Sigma-clipped standard deviation (ddof 1) of the finite values, and how many there were.

    4 sigma, as the engine's map-difference uncertainty: it keeps Gaussian scatter
    (bias < 0.1%) and drops a box ruined by, e.g., a cluster of bad pixels.
    """
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if v.size < 3:
        return np.nan, int(v.size)
    _, _, std = sigma_clipped_stats(v, sigma=sigma, maxiters=10, std_ddof=1)
    return float(std), int(v.size)


def weighted_stats(values: np.ndarray, weights: np.ndarray) -> dict[str, float]:
    """Weighted mean, std, median and 5/95 percentiles of the finite values.

    The studies weight box values by their pixels, so the numbers describe the
    per-pixel image as the report's ratio images did.
    """
    v = np.asarray(values, float)
    w = np.asarray(weights, float)
    ok = np.isfinite(v) & (w > 0)
    v, w = v[ok], w[ok]
    if v.size == 0:
        return {k: np.nan for k in ("mean", "std", "median", "p05", "p95", "min", "max")} | {"n": 0}
    mean = float(np.sum(w * v) / w.sum())
    std = float(np.sqrt(np.sum(w * (v - mean) ** 2) / w.sum()))
    order = np.argsort(v)
    cw = np.cumsum(w[order]) / w.sum()

    def pct(q: float) -> float:
        return float(v[order][min(np.searchsorted(cw, q), v.size - 1)])

    return {"mean": mean, "std": std, "median": pct(0.5), "p05": pct(0.05), "p95": pct(0.95),
            "min": float(v.min()), "max": float(v.max()), "n": int(v.size)}


def calibration_for(options, ipc_step: bool | None = None):
    """The engine's calibration for ``options`` (a GainOptions), optionally without the IPC step.

    Mirrors :func:`nircam_gui.core.gain.run.run_gain`, so a study's pixel-level pass
    sees the data the engine's statistics saw.
    """
    from ...calibrate import CalibrationConfig

    deconvolve = options.ipc == "deconvolve" if ipc_step is None else ipc_step
    if deconvolve and not options.ipc_kernel:
        raise ValueError("IPC deconvolution needs an IPC reference file (--ipc-kernel)")
    return CalibrationConfig(superbias=options.superbias, linearity=options.linearity, saturation=options.saturation,
                             mask=options.mask, ipc=options.ipc_kernel if deconvolve else None, ipc_step=deconvolve,
                             chunk=options.chunk, max_groups=options.groups)


def region_colours(regions: np.ndarray) -> list[tuple[str, str, np.ndarray]]:
    """(name, colour, selection) for the normal and epoxy boxes, as the report's blue and red points."""
    out = []
    for name, colour in (("normal", "C0"), ("epoxy", "C3")):
        sel = regions == name
        if sel.any():
            out.append((name, colour, sel))
    return out


def image_axes(ax, image: np.ndarray, title: str, vmin=None, vmax=None, cmap: str = "viridis"):
    """A box-value image, origin lower left, percentile stretch, amplifier boundaries."""
    finite = image[np.isfinite(image)]
    if vmin is None or vmax is None:
        lo, hi = np.percentile(finite, [1, 99]) if finite.size else (0.0, 1.0)
        vmin = lo if vmin is None else vmin
        vmax = hi if vmax is None else vmax
    im = ax.imshow(image, origin="lower", cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    nx = image.shape[1]
    for k in range(1, 4):
        ax.axvline(k * nx / 4 - 0.5, color="w", lw=0.6, alpha=0.8)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    return im
