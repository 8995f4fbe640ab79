"""Sky backgrounds (report JWST-STScI-008304, section 3.7).

The background of an image is its source-masked, sigma-clipped median (the number it is
normalised by). The JWST Backgrounds Tool needs the network, so predictions come from a
table the user gives: columns ``filter`` and ``background`` (MJy/sr), optionally
``detector`` (a row without one applies to every detector).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import astropy.units as u
import numpy as np
from astropy.table import Table

__all__ = ["BackgroundRecord", "backgrounds_table", "read_predictions", "summarise_backgrounds"]


class BackgroundRecord(dict):
    """One image's background: keys file, detector, filter, pupil, background, std, n_pixels, masked_fraction."""


def backgrounds_table(records: Sequence[BackgroundRecord], bunit: str = "MJy/sr") -> Table:
    """Per-image table: ``file, detector, filter, background`` (in the images' ``bunit``) and extras."""
    t = Table(rows=[(r["file"], r["detector"], r["filter"], r["background"], r["pupil"], r["std"],
                     r["n_pixels"], r["masked_fraction"], r.get("start_mjd", np.nan)) for r in records],
              names=("file", "detector", "filter", "background", "pupil", "std", "n_pixels",
                     "masked_fraction", "expstart"),
              dtype=(str, str, str, np.float64, str, np.float64, np.int64, np.float64, np.float64))
    t["background"].unit = t["std"].unit = _unit(bunit)
    t["expstart"].unit = u.d
    t["background"].description = "source-masked sigma-clipped (3 sigma, 5 iterations) median"
    t["std"].description = "sigma-clipped std of the unmasked pixels"
    t["masked_fraction"].description = "fraction of pixels masked (sources + DO_NOT_USE)"
    t["expstart"].description = "exposure start, MJD"
    return t


def read_predictions(path: str | os.PathLike) -> Table:
    """Read a predictions table (any astropy-readable format: ECSV, CSV, FITS)."""
    t = Table.read(os.fspath(path))
    names = {c.lower(): c for c in t.colnames}
    if "filter" not in names or "background" not in names:
        raise ValueError(f"{path}: a predictions table needs columns 'filter' and 'background' (MJy/sr)")
    t.rename_columns([names[k] for k in names], list(names))
    return t


def _unit(bunit: str):
    """An astropy unit for a JWST BUNIT (``MJy/sr``, ``DN/s``), or the text kept as is."""
    text = str(bunit or "").strip()
    return u.Unit(text, parse_strict="silent") if text else None


def summarise_backgrounds(table: Table, predictions: Table | None = None, bunit: str = "MJy/sr") -> Table:
    """Mean, std and count per detector and filter; ``ratio`` measured/predicted if given."""
    rows = []
    groups = table.group_by(["detector", "filter", "pupil"])
    for key, g in zip(groups.groups.keys, groups.groups):
        bg = np.asarray(g["background"], float)
        pred = np.nan
        if predictions is not None:
            for p in predictions:
                det_ok = "detector" not in predictions.colnames or str(p["detector"]).upper() in ("", key["detector"])
                if str(p["filter"]).upper() == key["filter"].upper() and det_ok:
                    pred = float(p["background"])
                    if "detector" in predictions.colnames and str(p["detector"]).upper() == key["detector"]:
                        break
        rows.append((key["detector"], key["filter"], key["pupil"], len(g), bg.mean(),
                     bg.std(ddof=1) if len(g) > 1 else np.nan, bg.min(), bg.max(), pred,
                     bg.mean() / pred if np.isfinite(pred) and pred > 0 else np.nan))
    t = Table(rows=rows, names=("detector", "filter", "pupil", "n_images", "mean", "std", "min", "max",
                                "predicted", "ratio"),
              dtype=(str, str, str, np.int32, float, float, float, float, float, float))
    for c in ("mean", "std", "min", "max", "predicted"):
        t[c].unit = _unit(bunit)
    t["ratio"].description = "measured mean / predicted"
    return t
