"""IPC corrections compared on gain maps (report 004622 section 5.5).

Corrections
-----------
Gain maps from IPC-deconvolved data (the calibration's IPC step) and from uncorrected
data, the latter also multiplied by the report's first-order factor
``1 - 2 (k_center - 1)`` (Eq. 1, correction kernel) and by the exact factor, the sum
of the squares of the physical kernel (the convolution inverse of the correction
kernel): IPC scales a white-noise variance by exactly that sum and leaves the mean
alone, so a PTC through coupled data measures ``gain / sum(k^2)``. The report found
the deconvolved maps 4.7-4.9% below the uncorrected ones and the analytic factor
within ~0.2% of the deconvolution.

The coupling measured from the flats themselves is :mod:`.ipc_coupling`; :func:`write_ipc`
writes both.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.table import Table

from ...ipc import analytic_gain_factor, physical_kernel, variance_factor
from ._common import image_axes, table_rows, weighted_stats, write_figure, write_json, write_table
from .ipc_coupling import CouplingResult, covariance_coupling, plot_coupling
from .rundata import RunData

__all__ = ["IPCMapsResult", "compare_ipc_maps", "deconvolution_residual_factor", "plot_ipc_maps", "write_ipc"]


@dataclass
class IPCMapsResult:
    """Deconvolved, uncorrected, analytic and exact gain maps and their comparison."""

    deconvolved: RunData
    uncorrected: RunData
    maps: dict[str, np.ndarray]  # name -> per-box mean gain
    factors: Table
    comparison: Table
    boxes: Table
    coupling: CouplingResult | None = None
    notes: list[str] = field(default_factory=list)
    #: coupling read from the uncorrected run's covariances at zero signal, per region
    cov_coupling: Table | None = None


def compare_ipc_maps(deconvolved: RunData, uncorrected: RunData, correction_kernel: np.ndarray,
                     coupling: CouplingResult | None = None, signal_limit: float | None = None) -> IPCMapsResult:
    """Compare IPC corrections box by box.

    Parameters
    ----------
    deconvolved : RunData
        Run with ``ipc = deconvolve``.
    uncorrected : RunData
        Run on the same ramps and boxes without deconvolution (``none``, or ``analytic``/``exact``,
        whose factor is divided out).
    correction_kernel : ndarray
        The IPC reference file's kernel.
    coupling : CouplingResult, optional
        Adds the map corrected with the variance factor measured from the flats.
    """
    if deconvolved.box_size != uncorrected.box_size or deconvolved.labels.shape != uncorrected.labels.shape \
            or not np.array_equal(deconvolved.labels, uncorrected.labels):
        raise ValueError("the deconvolved and uncorrected runs must use the same boxes")
    mode = deconvolved.first_pair_mode()
    dec = deconvolved.refit(signal_limit, mode).maps.mean_gain
    unc = uncorrected.refit(signal_limit, mode).maps.mean_gain / uncorrected.ipc_factor
    kc = np.asarray(correction_kernel, float)
    phys = physical_kernel(kc)
    analytic = analytic_gain_factor(kc)
    exact = variance_factor(phys)
    maps = {"deconvolved": dec, "uncorrected": unc, "analytic": unc * analytic, "exact": unc * exact}
    frows = [("analytic", "1 - 2 (k_center - 1), correction kernel (report Eq. 1)", analytic),
             ("exact", "sum of squares of the physical kernel (5x5 inverse of the correction kernel)", exact)]
    regions = deconvolved.regions
    if coupling is not None:
        for row in coupling.table:
            if row["amp"] == "all":
                f = float(row["variance_factor"])
                maps[f"measured_{row['region']}"] = np.where(regions == row["region"], unc * f, np.nan)
                frows.append((f"measured_{row['region']}", f"sum of squares of the kernel measured from the flats "
                              f"({row['region']} boxes)", f))
        if "measured_normal" in maps and "measured_epoxy" in maps:
            maps["measured"] = np.where(regions == "epoxy", maps.pop("measured_epoxy"), maps.pop("measured_normal"))
        elif "measured_normal" in maps:
            maps["measured"] = maps.pop("measured_normal")
        void_row = [r for r in coupling.table if r["amp"] == "all" and r["region"] == "epoxy"]
        if void_row and (regions == "epoxy").any():
            f = deconvolution_residual_factor(kc, void_row[0]["alpha_h"], void_row[0]["alpha_v"], void_row[0]["corner"])
            if np.isfinite(f):
                maps["deconvolved_void"] = np.where(regions == "epoxy", dec * f, dec)
                frows.append(("deconvolved_void", "multiplies a deconvolved epoxy-void gain: sum of squares of "
                              "(correction kernel * void kernel measured from the flats)", f))
    factors = Table(rows=frows, names=("factor", "definition", "value"), dtype=("U20", "U100", float))
    factors["value"].format = ".6f"
    factors["minus_analytic"] = factors["value"] - analytic
    factors["minus_analytic_percent"] = 100 * (factors["value"] / analytic - 1)
    factors["minus_analytic"].format = ".6f"
    factors["minus_analytic_percent"].format = ".3f"
    factors.meta["comments"] = ["Factors multiply a gain measured on data not corrected for IPC."]
    npix = deconvolved.box_npix
    comps = [("deconvolved / uncorrected", "deconvolved", "uncorrected"),
             ("analytic / deconvolved", "analytic", "deconvolved"),
             ("exact / deconvolved", "exact", "deconvolved")]
    if "measured" in maps:
        comps.append(("measured / deconvolved", "measured", "deconvolved"))
    if "deconvolved_void" in maps:
        comps.append(("deconvolved_void / deconvolved", "deconvolved_void", "deconvolved"))
    crow = []
    boxes = deconvolved.boxes.copy()
    for name, values in maps.items():
        boxes[f"gain_{name}"] = values
        boxes[f"gain_{name}"].unit = "electron / adu"
    for label, a, b in comps:
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = maps[a] / maps[b] - 1.0
        boxes["ratio_" + label.replace(" / ", "_over_")] = ratio
        for region in ("all", "normal", "epoxy"):
            sel = np.ones(len(ratio), bool) if region == "all" else regions == region
            if not sel.any():
                continue
            st = weighted_stats(ratio[sel], npix[sel])
            crow.append((label, region, st["n"], 100 * st["mean"], 100 * st["std"], 100 * st["min"],
                         100 * st["max"], 100 * st["p05"], 100 * st["p95"]))
    comparison = Table(rows=crow, names=("comparison", "region", "n_boxes", "mean_percent", "std_percent",
                                         "min_percent", "max_percent", "p05_percent", "p95_percent"))
    for c in comparison.colnames[3:]:
        comparison[c].format = ".3f"
    comparison.meta["comments"] = [
        "ratio - 1 of two mean maps, pixel-weighted over boxes; the report: deconvolved/uncorrected -4.7 to "
        "-4.9% (mean -4.8%), analytic within ~0.2% of deconvolved."]
    notes = []
    return IPCMapsResult(deconvolved, uncorrected, maps, factors, comparison, boxes, coupling, notes,
                         covariance_coupling(uncorrected) if uncorrected.ipc_mode != "deconvolve" else None)


def deconvolution_residual_factor(correction_kernel: np.ndarray, alpha_h: float, alpha_v: float,
                                  corner: float = 0.0) -> float:
    """Factor by which deconvolving with ``correction_kernel`` leaves the gain of pixels with another IPC low.

    Data coupled by a kernel ``k`` and deconvolved with a correction kernel made for another
    (the detector's, outside the epoxy void) keep the residual kernel ``c * k``, which scales
    a white-noise variance by the sum of its squares: their PTC gain is the true one divided
    by that sum. For a void whose coupling is 0.8 of the outside one's, ~1.010: the
    IPC-corrected void gain reads ~1% low. The apparent gain (``gain / sum(K^2)`` with the
    outside kernel ``K``) is right to first order, since ``sum((c * k)^2) = sum(k^2) / sum(K^2)``
    to that order.

    Parameters
    ----------
    correction_kernel : ndarray
        The IPC reference file's (deconvolution) kernel.
    alpha_h, alpha_v, corner : float
        Elements of the symmetric unit-sum 3x3 kernel of those pixels (as measured by
        :func:`.ipc_coupling.measure_coupling`).
    """
    from scipy.signal import convolve2d

    c = corner
    k = np.array([[c, alpha_v, c], [alpha_h, 1.0 - 2 * alpha_h - 2 * alpha_v - 4 * c, alpha_h], [c, alpha_v, c]])
    if not np.isfinite(k).all():
        return np.nan
    r = convolve2d(k, np.asarray(correction_kernel, float), mode="full")
    return float(np.sum(r * r))


def plot_ipc_maps(result: IPCMapsResult):
    """Deconvolved and analytic maps side by side, their ratio, and the deconvolved/uncorrected ratio."""
    import matplotlib.pyplot as plt

    run = result.deconvolved
    m = result.maps
    fig, axes = plt.subplots(2, 2, figsize=(9.2, 8.4), layout="constrained")
    both = np.concatenate([m["deconvolved"], m["analytic"]])
    both = both[np.isfinite(both)]
    vmin, vmax = np.percentile(both, [1, 99]) if both.size else (0, 1)
    image_axes(axes[0, 0], run.image(m["deconvolved"]), "IPC deconvolved (e-/ADU)", vmin, vmax)
    im = image_axes(axes[0, 1], run.image(m["analytic"]), "uncorrected x analytic factor (e-/ADU)", vmin, vmax)
    fig.colorbar(im, ax=axes[0, :].tolist(), shrink=0.8, label="gain (e-/ADU)")
    for ax, (a, b) in zip(axes[1], (("deconvolved", "uncorrected"), ("analytic", "deconvolved"))):
        with np.errstate(invalid="ignore", divide="ignore"):
            r = 100 * (m[a] / m[b] - 1)
        st = result.comparison[(result.comparison["comparison"] == f"{a} / {b}")
                               & (result.comparison["region"] == "all")][0]
        im = image_axes(ax, run.image(r), f"{a} / {b} - 1 (%)\nmean {st['mean_percent']:+.2f}%, "
                                          f"range {st['min_percent']:+.2f} to {st['max_percent']:+.2f}",
                        cmap="RdBu_r")
        fig.colorbar(im, ax=ax, shrink=0.8, label="%")
    return fig


def write_ipc(result: IPCMapsResult, outdir: str | os.PathLike, protect: Sequence[str | os.PathLike] = (),
              figures: bool = True) -> dict[str, Path]:
    """``ipc_factors.ecsv``, ``ipc_comparison.ecsv``, ``ipc_boxes.ecsv``, ``ipc_coupling.ecsv`` and figures."""
    outdir = Path(outdir)
    out = {"factors": write_table(result.factors, outdir / "ipc_factors.ecsv", protect),
           "comparison": write_table(result.comparison, outdir / "ipc_comparison.ecsv", protect),
           "boxes": write_table(result.boxes, outdir / "ipc_boxes.ecsv", protect)}
    if result.coupling is not None:
        out["coupling"] = write_table(result.coupling.table, outdir / "ipc_coupling.ecsv", protect)
        out["coupling_frames"] = write_table(result.coupling.frames, outdir / "ipc_coupling_frames.ecsv", protect)
    if result.cov_coupling is not None:
        out["cov_coupling"] = write_table(result.cov_coupling, outdir / "ipc_coupling_covariances.ecsv", protect)
    if figures:
        out["maps_fig"] = write_figure(plot_ipc_maps(result), outdir / "ipc_maps.png", protect)
        if result.coupling is not None:
            out["coupling_fig"] = write_figure(plot_coupling(result.coupling), outdir / "ipc_coupling.png", protect)
    summary = {"study": "ipc", "deconvolved_run": result.deconvolved.source,
               "uncorrected_run": result.uncorrected.source,
               "factors": {r["factor"]: float(r["value"]) for r in result.factors},
               "comparison": table_rows(result.comparison), "notes": result.notes}
    if result.coupling is not None:
        summary["coupling_expected"] = result.coupling.expected
        summary["coupling_notes"] = result.coupling.notes
    out["json"] = write_json(summary, outdir / "ipc.json", protect)
    return out
