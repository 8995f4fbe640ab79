"""From per-pair box gains to the mean map, its uncertainties and the sector table.

Uncertainty (report 004622, sections 5.2 and 6.2): the standard deviation of the
difference of two single-pair maps, divided by sqrt(2), is the uncertainty of one map;
divided again by sqrt(number of maps averaged) it is that of the mean map. Boxes of
different sizes (edge boxes, epoxy boxes) are put on one footing by scaling the
differences with sqrt(pixels): the noise of a box gain goes as 1/sqrt(pixels), the
report's "factor 2 per factor 4 in area". The pooled unit scatter is then scaled back
to every box.

First-pair anomaly (report section 5.4, Table 5): map #2 - map #1 is compared with
map #4 - map #3 (or #3 - #2 with three pairs). The first pair is called anomalous when
the difference of the two mean offsets is both significant (> 3 standard errors) and
larger than the uncertainty of a single map; this reproduces every decision of the
report's Table 5 (B1: 0.018 vs 0.004 e-/ADU kept; B4: 0.035 vs 0.005 dropped).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from astropy.stats import sigma_clipped_stats
from astropy.table import Table

from .. import dq as dqbits
from ..detector import amplifier_index, reference_pixel_mask

if TYPE_CHECKING:
    from .run import GainResult

__all__ = ["FirstPairCheck", "GainMaps", "check_first_pair", "combine_pairs", "gain_image", "map_difference",
           "sector_table"]


@dataclass
class FirstPairCheck:
    """Outcome of the first-pair test; differences in e-/ADU."""

    mode: str
    anomalous: bool
    used: bool
    d21_mean: float = np.nan
    d21_std: float = np.nan
    ref_mean: float = np.nan
    ref_std: float = np.nan
    ref_label: str = ""
    z: float = np.nan
    single_map_err: float = np.nan
    reason: str = ""


def _clipped(values: np.ndarray) -> tuple[float, float, int]:
    v = values[np.isfinite(values)]
    if v.size < 2:
        return np.nan, np.nan, int(v.size)
    mean, _, std = sigma_clipped_stats(v, sigma=3, maxiters=10)
    return float(mean), float(std), int(v.size)


def check_first_pair(gains: np.ndarray, mode: str = "auto") -> FirstPairCheck:
    """Decide whether pair 1 enters the mean map.

    Parameters
    ----------
    gains : ndarray, shape (npairs, nbox)
        Per-pair box gains.
    mode : {"auto", "keep", "drop"}
    """
    if mode not in ("auto", "keep", "drop"):
        raise ValueError(f"first-pair mode {mode!r}: use auto, keep or drop")
    npairs = gains.shape[0]
    check = FirstPairCheck(mode=mode, anomalous=False, used=True)
    if npairs >= 2:
        check.d21_mean, check.d21_std, n21 = _clipped(gains[1] - gains[0])
    if npairs >= 3:
        i, j = (3, 2) if npairs >= 4 else (2, 1)
        check.ref_label = f"map #{i + 1} - map #{j + 1}"
        check.ref_mean, check.ref_std, nref = _clipped(gains[i] - gains[j])
        se = np.sqrt(check.d21_std**2 / n21 + check.ref_std**2 / nref)
        offset = check.d21_mean - check.ref_mean
        check.z = float(offset / se) if se > 0 else np.nan
        check.single_map_err = check.ref_std / np.sqrt(2)
        check.anomalous = bool(abs(check.z) > 3 and abs(offset) > check.single_map_err)
        check.reason = (
            f"map#2-map#1 = {check.d21_mean:.4f}+-{check.d21_std:.4f}, {check.ref_label} = "
            f"{check.ref_mean:.4f}+-{check.ref_std:.4f} e-/ADU; offset {offset:+.4f} ({check.z:.1f} sigma) vs "
            f"single-map uncertainty {check.single_map_err:.4f}"
        )
    else:
        check.reason = "fewer than three pairs: no reference difference to compare with"
    if mode == "keep":
        check.used = True
    elif mode == "drop":
        check.used = npairs < 2  # never drop the only pair
    else:
        check.used = not check.anomalous
    return check


@dataclass
class GainMaps:
    """Box gains combined over pairs (arrays over boxes unless noted)."""

    pair_gain: np.ndarray  # (npairs, nbox)
    pair_used: np.ndarray  # (npairs,) bool
    mean_gain: np.ndarray
    n_pairs: np.ndarray  # maps averaged per box
    single_err: np.ndarray  # uncertainty of one single-pair map
    mean_err: np.ndarray  # uncertainty of the mean map
    scatter_err: np.ndarray  # std over pairs / sqrt(n): the cross-check
    unit_scatter: float  # e-/ADU * sqrt(pixels)
    uncertainty_method: str
    first_pair: FirstPairCheck
    notes: list[str] = field(default_factory=list)


def combine_pairs(
    pair_gain: np.ndarray,
    box_npix: np.ndarray,
    first_pair: FirstPairCheck,
    slope_err_gain: np.ndarray | None = None,
) -> GainMaps:
    """Mean map over the accepted pairs, with map-difference uncertainties.

    Parameters
    ----------
    pair_gain : ndarray, shape (npairs, nbox)
    box_npix : ndarray, shape (nbox,)
    first_pair : FirstPairCheck
    slope_err_gain : ndarray, shape (npairs, nbox), optional
        Gain errors from the fits, used only when fewer than two maps are accepted.
    """
    npairs, nbox = pair_gain.shape
    used = np.ones(npairs, bool)
    used[0] = first_pair.used
    g = pair_gain[used]
    finite = np.isfinite(g)
    n = finite.sum(axis=0)
    # NaN handling spelled out: a flagged (NaN) pair gain is left out of a box's mean, a box
    # with no good pair is NaN (n = 0); nanmean would do the same but warn on the console
    total = np.where(finite, g, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, total / np.maximum(n, 1), np.nan)
    notes = []
    sqrt_npix = np.sqrt(box_npix.astype(float))
    if g.shape[0] >= 2:
        # independent differences: maps (1,2), (3,4), ... of the accepted set
        diffs = [(g[k + 1] - g[k]) * sqrt_npix / np.sqrt(2) for k in range(0, g.shape[0] - 1, 2)]
        _, _, unit = sigma_clipped_stats(np.concatenate(diffs)[np.isfinite(np.concatenate(diffs))], sigma=4,
                                         maxiters=10)
        unit = float(unit)
        single = unit / sqrt_npix
        method = (f"std of differences of single-pair maps / sqrt(2), pooled over boxes as "
                  f"sigma*sqrt(npix) ({len(diffs)} independent difference(s))")
    else:
        unit = np.nan
        single = np.full(nbox, np.nan)
        if slope_err_gain is not None:
            ok = np.isfinite(slope_err_gain).any(axis=0)
            single[ok] = np.nanmedian(slope_err_gain[:, ok], axis=0)
        method = "least-squares slope error (only one map: too small, groups are correlated)"
        notes.append("only one pair accepted: uncertainties come from the fit and are underestimated")
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_err = np.where(n > 0, single / np.sqrt(np.maximum(n, 1)), np.nan)  # no mean, no error
        dev2 = np.where(finite, g - mean, 0.0) ** 2
        scatter = np.where(n >= 2, np.sqrt(dev2.sum(axis=0) / np.maximum(n - 1, 1) / np.maximum(n, 1)), np.nan)
    return GainMaps(pair_gain, used, mean, n, single, mean_err, scatter, unit, method, first_pair, notes)


@dataclass
class MapDifference:
    """Two single-pair maps compared over the boxes of one region (report sections 5.2, 6.2)."""

    mean: float
    std: float
    #: uncertainty of one single-pair map: std / sqrt(2), boxes of every size together
    single_map_err: float
    n_boxes: int


def map_difference(a: np.ndarray, b: np.ndarray, regions: np.ndarray, region: str = "normal") -> MapDifference:
    """Mean and std of ``b - a`` over the boxes of ``region`` measured in both, and the
    single-map uncertainty std / sqrt(2) it implies (NaN with fewer than two boxes)."""
    d = (b - a)[np.isfinite(a) & np.isfinite(b) & (np.asarray(regions) == region)]
    if d.size < 2:
        return MapDifference(np.nan, np.nan, np.nan, int(d.size))
    std = float(d.std(ddof=1))
    return MapDifference(float(d.mean()), std, std / np.sqrt(2), int(d.size))


def sector_table(boxes: Table, maps: GainMaps) -> Table:
    """One row per amplifier and region: pixel-weighted mean gain and its uncertainties.

    ``gain_err`` is the statistical error of the sector mean; ``box_gain_err`` the
    typical uncertainty of one box of the mean map (the "+-" of the report's Table 7).
    """
    rows = []
    amps = np.asarray(boxes["amp"])
    regions = np.asarray(boxes["region"])
    npix = np.asarray(boxes["npix"], float)
    for amp in np.unique(amps):
        for region in ("normal", "epoxy"):
            sel = (amps == amp) & (regions == region) & np.isfinite(maps.mean_gain)
            if not sel.any():
                continue
            w = npix[sel]
            gain = float(np.sum(w * maps.mean_gain[sel]) / w.sum())
            err = float(np.sqrt(np.sum((w * maps.mean_err[sel]) ** 2)) / w.sum())
            rows.append((int(amp), region, gain, err, float(np.median(maps.mean_err[sel])), int(sel.sum()),
                         int(w.sum())))
    t = Table(rows=rows, names=("amp", "region", "gain", "gain_err", "box_gain_err", "n_boxes", "npix"),
              dtype=(int, "U6", float, float, float, int, int))
    for col in ("gain", "gain_err", "box_gain_err"):
        t[col].unit = "electron / adu"
    return t


def gain_image(result: GainResult, values: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel image of box values (default: the mean gain) and its DQ.

    Pixels outside every box, or in a box without a measurement, take the mean gain of
    their amplifier's normal region, so the file is usable by the pipeline as it is;
    DQ flags them (REFERENCE_PIXEL, or NO_GAIN_VALUE + DO_NOT_USE).
    """
    labels = result.boxes.labels
    values = result.maps.mean_gain if values is None else values
    table = np.concatenate([[np.nan], values]).astype(np.float32)
    img = table[labels]
    dq = np.zeros(labels.shape, np.uint32)
    ref = reference_pixel_mask(labels.shape)
    missing = ~np.isfinite(img)
    dq[ref] |= dqbits.REFERENCE_PIXEL
    dq[missing & ~ref] |= dqbits.PIXEL["NO_GAIN_VALUE"] | dqbits.DO_NOT_USE
    nx = labels.shape[1]
    fill = {}
    for row in result.sectors:
        if row["region"] == "normal":
            fill[int(row["amp"])] = float(row["gain"])
    amp_of_col = amplifier_index(nx) + 1
    default = float(np.nanmean(list(fill.values()))) if fill else 1.0
    fill_cols = np.array([fill.get(a, default) for a in amp_of_col], np.float32)
    img = np.where(missing, fill_cols[None, :], img)
    return img, dq
