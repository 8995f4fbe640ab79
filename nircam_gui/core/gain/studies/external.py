"""Comparison with an external per-pixel gain map (report 004622 section 6.3, Figures 10-12).

The external map (a GAIN reference file, e.g. the University of Arizona maps the report
compared with) is put on the run's boxes: the 3-sigma clipped mean of its pixels in
each box (the engine's clipping, iterated to convergence), given to every pixel of
the box. The ratio external / ours - 1 is shown as a map and a pixel-weighted
histogram, with summary statistics per region and amplifier. The report found the
UofA maps 13-22% below its own (a ratio - 1 of -0.13 to -0.22).

Pixels the external file marks DO_NOT_USE or NO_GAIN_VALUE, and non-finite or
non-positive values, are left out of the box means.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from ... import dq as dqbits
from ...errors import NircamFileError
from ...fileio import atomic_path
from ...readers import open_reference
from ..clipstats import BoxClipper
from ._common import image_axes, table_rows, weighted_stats, write_figure, write_json, write_table
from .rundata import RunData

__all__ = ["ExternalResult", "compare_external", "write_external"]

_BAD = dqbits.DO_NOT_USE | dqbits.PIXEL["NO_GAIN_VALUE"]


@dataclass
class ExternalResult:
    run: RunData
    external_path: str
    external: np.ndarray  # the external per-pixel map
    boxes: Table
    summary: Table
    notes: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> np.ndarray:
        return np.asarray(self.boxes["ratio_minus_1"])


def compare_external(run: RunData, external: str | os.PathLike, signal_limit: float | None = None,
                     first_pair: str | None = None, nsigma: float = 3.0) -> ExternalResult:
    """Put an external GAIN map on the run's boxes and compare it with the run's mean map.

    Parameters
    ----------
    run : RunData
    external : path-like
        GAIN reference file (per-pixel, DMS orientation, the run's frame size).
    signal_limit, first_pair : optional
        Re-fit the run at another limit or with another first-pair decision.
    nsigma : float
        Clipping of the external pixels in each box.
    """
    ref = open_reference(external, "GAIN")
    ext = np.asarray(ref.data, np.float32)
    if ext.shape != run.labels.shape:
        raise NircamFileError(external, f"GAIN map is {ext.shape[1]}x{ext.shape[0]}, the gain run "
                                        f"{run.labels.shape[1]}x{run.labels.shape[0]}")
    valid = np.isfinite(ext) & (ext > 0)
    if ref.dq is not None and ref.dq.shape == ext.shape:
        valid &= (ref.dq.astype(np.uint32) & np.uint32(_BAD)) == 0
    st = BoxClipper(run.labels, nsigma=nsigma).clip(np.where(valid, ext, 0), valid=valid)
    ext_box = np.where(st.npix > 0, st.mean, np.nan)
    ours = run.refit(signal_limit, first_pair).maps.mean_gain
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = ext_box / ours - 1.0
    boxes = run.boxes.copy()
    boxes["gain"] = ours
    boxes["gain_external"] = ext_box
    boxes["gain"].unit = boxes["gain_external"].unit = "electron / adu"
    boxes["npix_external"] = st.npix
    boxes["ratio_minus_1"] = ratio
    boxes.meta = {"external": os.path.abspath(external), "clip_sigma": nsigma, "comments": [
        "gain_external: clipped mean of the external map's pixels in the box; ratio_minus_1 = gain_external / "
        "gain - 1 (negative: the external map is lower)."]}
    rows = []
    regions = run.regions
    amps = np.asarray(run.boxes["amp"])
    npix = run.box_npix
    groups = [("all", "all", np.ones(len(ratio), bool))]
    groups += [("all", reg, regions == reg) for reg in ("normal", "epoxy") if np.any(regions == reg)]
    groups += [(str(a), "normal", (amps == a) & (regions == "normal")) for a in np.unique(amps)]
    for amp, region, sel in groups:
        s = weighted_stats(ratio[sel], npix[sel])
        rows.append((amp, region, s["n"], 100 * s["mean"], 100 * s["median"], 100 * s["std"], 100 * s["p05"],
                     100 * s["p95"], 100 * s["min"], 100 * s["max"]))
    summary = Table(rows=rows, names=("amp", "region", "n_boxes", "mean_percent", "median_percent", "std_percent",
                                      "p05_percent", "p95_percent", "min_percent", "max_percent"))
    for c in summary.colnames[3:]:
        summary[c].format = ".3f"
    summary.meta = {"external": os.path.abspath(external), "comments": [
        "Pixel-weighted statistics over boxes of gain_external / gain - 1, in per cent (report Figure 10)."]}
    notes = []
    if not np.isfinite(ratio).any():
        notes.append("no box has both gains: check that the maps describe the same detector")
    return ExternalResult(run, os.fspath(external), ext, boxes, summary, notes)


def plot_external(result: ExternalResult):
    """Figure 10: external map, external map on our boxes, ratio - 1 map, histogram."""
    import matplotlib.pyplot as plt

    run = result.run
    fig, axes = plt.subplots(2, 2, figsize=(9.2, 8.4), layout="constrained")
    ext = np.where(np.isfinite(result.external) & (result.external > 0), result.external, np.nan)
    im = image_axes(axes[0, 0], ext, f"external: {os.path.basename(result.external_path)}")
    fig.colorbar(im, ax=axes[0, 0], shrink=0.8, label="e-/ADU")
    im = image_axes(axes[0, 1], run.image(result.boxes["gain_external"]), "external on our boxes (clipped mean)")
    fig.colorbar(im, ax=axes[0, 1], shrink=0.8, label="e-/ADU")
    r = 100 * result.ratio
    im = image_axes(axes[1, 0], run.image(r), "external / ours - 1 (%)", cmap="RdBu_r")
    fig.colorbar(im, ax=axes[1, 0], shrink=0.8, label="%")
    ok = np.isfinite(r)
    ax = axes[1, 1]
    if ok.any():
        ax.hist(r[ok], bins=max(10, min(60, int(ok.sum()) // 3)), weights=run.box_npix[ok], color="C0")
    row = result.summary[0]
    ax.axvline(row["mean_percent"], color="k", lw=1)
    ax.set_title(f"mean {row['mean_percent']:+.2f}%, median {row['median_percent']:+.2f}%, std "
                 f"{row['std_percent']:.2f}%; 5-95%: {row['p05_percent']:+.1f} to {row['p95_percent']:+.1f}%",
                 fontsize=8)
    ax.set_xlabel("external / ours - 1 (%)")
    ax.set_ylabel("pixels")
    return fig


def write_external(result: ExternalResult, outdir: str | os.PathLike, protect: Sequence[str | os.PathLike] = (),
                   figures: bool = True) -> dict[str, Path]:
    """``external_boxes.ecsv``, ``external_summary.ecsv``, ``external_gridded.fits``, ``external_comparison.png``."""
    outdir = Path(outdir)
    protect = tuple(protect) + (result.external_path,)
    out = {"boxes": write_table(result.boxes, outdir / "external_boxes.ecsv", protect),
           "summary": write_table(result.summary, outdir / "external_summary.ecsv", protect)}
    path = outdir / "external_gridded.fits"
    hdr = fits.Header()
    hdr["EXTERNAL"] = (os.path.basename(result.external_path)[:68], "external gain map")
    hdr["BUNIT"] = "electron/DN"
    hdu_ratio = fits.ImageHDU(result.run.image(result.ratio), name="RATIO")
    hdu_ratio.header["COMMENT"] = "external / ours - 1, per box"
    with atomic_path(path, protect) as tmp:
        fits.HDUList([fits.PrimaryHDU(result.run.image(result.boxes["gain_external"]), hdr), hdu_ratio]).writeto(tmp)
    out["gridded"] = path
    if figures:
        out["figure"] = write_figure(plot_external(result), outdir / "external_comparison.png", protect)
    out["json"] = write_json({"study": "external map", "run": result.run.source, "external": result.external_path,
                              "summary": table_rows(result.summary),
                              "notes": result.notes}, outdir / "external.json", protect)
    return out
