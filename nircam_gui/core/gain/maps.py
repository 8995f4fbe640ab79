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

The standard error of the offset has two parts. The box scatter of the two differences
divided by the square root of their boxes is exact when box errors are independent.
Anything that moves every box of one pair together (1/f banding and reference-pixel
noise common to a row of boxes, a lamp level that brings one more group under the signal
limit, the brighter-fatter slope with it) is not in that scatter: its variance is
estimated from the spread of the other pairs' mean gains beyond what their box scatter
explains, and enters four times (four pair means make the offset). On steady-lamp
simulations the statistic then follows N(0, 1) (tests/core/gain/test_first_pair.py).
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
    n21: int = 0
    n_ref: int = 0
    #: standard error of the offset from the box scatter alone, and the pair-level (common to
    #: all boxes of a pair) variance added to it (e-/ADU)^2
    se_boxes: float = np.nan
    common_var: float = 0.0
    #: mean gain of every pair over the boxes measured in all of them
    pair_means: list = field(default_factory=list)

    @property
    def offset(self) -> float:
        """(map #2 - map #1) - reference difference, e-/ADU."""
        return self.d21_mean - self.ref_mean

    @property
    def se(self) -> float:
        """Standard error of :attr:`offset`: box scatter and pair-level variance."""
        return float(np.sqrt(self.se_boxes**2 + 4.0 * self.common_var))


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
        check.d21_mean, check.d21_std, check.n21 = _clipped(gains[1] - gains[0])
        common = np.isfinite(gains).all(axis=0)
        check.pair_means = [float(np.mean(g[common])) if common.any() else np.nan for g in gains]
    if npairs >= 3:
        i, j = (3, 2) if npairs >= 4 else (2, 1)
        check.ref_label = f"map #{i + 1} - map #{j + 1}"
        check.ref_mean, check.ref_std, check.n_ref = _clipped(gains[i] - gains[j])
        check.se_boxes = float(np.sqrt(check.d21_std**2 / check.n21 + check.ref_std**2 / check.n_ref))
        check.common_var = _common_variance(gains[1:])
        se = check.se
        offset = check.offset
        check.z = _unit_normal(offset / se, check.se_boxes**2, check.n21 + check.n_ref - 2, 4.0 * check.common_var,
                               npairs - 2) if se > 0 else np.nan
        check.single_map_err = check.ref_std / np.sqrt(2)
        check.anomalous = bool(abs(check.z) > 3 and abs(offset) > check.single_map_err)
        check.reason = (
            f"map#2-map#1 = {check.d21_mean:.4f}+-{check.d21_std:.4f}, {check.ref_label} = "
            f"{check.ref_mean:.4f}+-{check.ref_std:.4f} e-/ADU; offset {offset:+.4f} ({check.z:.1f} sigma; "
            f"standard error {se:.4f}, of which pair-level {2 * np.sqrt(check.common_var):.4f}) vs "
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


def _unit_normal(t: float, var_a: float, dof_a: int, var_b: float, dof_b: int) -> float:
    """The N(0, 1) value with the tail probability of ``t`` under Student's t.

    ``t`` is divided by the root of two variance estimates of ``dof_a`` and ``dof_b``
    degrees of freedom; its effective degrees of freedom are Welch-Satterthwaite's. With
    few reference pairs the pair-level estimate has few: the conversion keeps the false
    alarms of a 3-sigma cut those of a normal variable.
    """
    if var_b <= 0 or not np.isfinite(t):
        return float(t)
    from scipy.special import ndtri, stdtr  # only when a pair-level variance was found

    dof = (var_a + var_b) ** 2 / (var_a**2 / max(dof_a, 1) + var_b**2 / max(dof_b, 1))
    p = stdtr(dof, -abs(t))  # one tail
    return float(np.sign(t) * -ndtri(p)) if p > 0 else float(t)


def _common_variance(gains: np.ndarray) -> float:
    """Variance of a pair's mean gain common to all its boxes, from pairs not under test.

    Each pair's map minus the mean map of these pairs, box by box: the spread of their
    clipped means, minus what their clipped box scatter explains (scatter^2 / boxes);
    0 when the box scatter explains it all.
    """
    common = np.isfinite(gains).all(axis=0)
    k = gains.shape[0]
    if k < 3 or common.sum() < 2:
        return 0.0
    g = gains[:, common]
    dev = g - g.mean(axis=0)
    stats = [_clipped(d) for d in dev]
    means = np.array([m for m, _, _ in stats])
    # a deviation from the mean of k maps has (k - 1) / k of one map's box variance
    box_var = float(np.mean([s**2 / n for _, s, n in stats])) * k / (k - 1)
    return max(float(np.var(means, ddof=1)) - box_var, 0.0)


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
