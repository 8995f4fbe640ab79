"""The instrument tables at the top of a campaign's output folder.

Gain: ``sectors_all.ecsv`` (report JWST-STScI-004622 Table 7: one row per detector, the
gain and uncertainty of sectors 1-4 and of the epoxy voids) and ``first_pair_all.ecsv``
(Table 5: map #2 - map #1 beside map #4 - map #3, and whether map #1 was used). Sky flats:
``flats_all.ecsv`` (every FLAT file written: detector, filter, pupil, file) and
``deadpix_all.ecsv`` (new dead pixels and their concentrations per detector) and
``backgrounds_all.ecsv`` (every image's sky background).

Rows come from the small summaries the detector tasks return (read back from the
products they wrote), for the detectors that are done or were skipped as complete.
"""

from __future__ import annotations


import os
from pathlib import Path

import numpy as np
from astropy.table import MaskedColumn, Table, vstack

from ..fileio import atomic_path

__all__ = ["backgrounds_all_table", "first_pair_table", "flats_table", "deadpix_table", "gain_tables", "sectors_all_table",
           "skyflat_tables"]

_GAIN_UNIT = "electron / adu"


def _finished(outcomes: dict) -> dict:
    return {d: o for d, o in outcomes.items() if o.state in ("done", "skipped") and o.summary}


def _column(name: str, values: list, unit: str | None = None, description: str = "") -> MaskedColumn:
    data = np.array([np.nan if v is None else v for v in values], dtype=float)
    col = MaskedColumn(data, name=name, mask=~np.isfinite(data), unit=unit, description=description)
    return col


def sectors_all_table(outcomes: dict) -> Table:
    """Report Table 7 for every finished detector: sector and epoxy-void gains with errors.

    Epoxy-void columns exist for the amplifiers where any detector has a void; a detector
    without one has them masked (the report's "NA").
    """
    done = _finished(outcomes)
    void_amps = sorted({s["amp"] for o in done.values() for s in o.summary["sectors"] if s["region"] != "normal"})
    rows: dict[str, dict] = {}
    for det, o in done.items():
        rows[det] = {(s["amp"], s["region"] != "normal"): s for s in o.summary["sectors"]}
    t = Table()
    t["detector"] = list(done)
    for amp in (1, 2, 3, 4):
        for void in (False, True):
            if void and amp not in void_amps:
                continue
            name = f"sector{amp}" + ("_void" if void else "")
            what = f"sector {amp}" + (" epoxy void" if void else "")
            t[name] = _column(name, [rows[d].get((amp, void), {}).get("gain") for d in done], _GAIN_UNIT,
                              f"mean gain of the boxes of {what}")
            t[name + "_err"] = _column(name + "_err", [rows[d].get((amp, void), {}).get("gain_err") for d in done],
                                       _GAIN_UNIT, f"uncertainty of the {what} gain")
    t["ipc_corrected"] = [bool(o.summary.get("ipc_corrected")) for o in done.values()]
    t.meta["comments"] = ["sector gains as in report JWST-STScI-004622 Table 7 (IPC-corrected where "
                          "ipc_corrected is True); per-detector sectors.ecsv also has the apparent gain"]
    return t


def first_pair_table(outcomes: dict) -> Table:
    """Report Table 5 for every finished detector: the first-pair test."""
    done = _finished(outcomes)
    fp = {d: o.summary["first_pair"] for d, o in done.items()}
    t = Table()
    t["detector"] = list(done)
    t["map2_minus_map1_mean"] = _column("map2_minus_map1_mean", [fp[d].get("d21_mean") for d in done], _GAIN_UNIT)
    t["map2_minus_map1_std"] = _column("map2_minus_map1_std", [fp[d].get("d21_std") for d in done], _GAIN_UNIT)
    t["reference_pairs"] = [str(fp[d].get("ref_label") or "") for d in done]
    t["reference_mean"] = _column("reference_mean", [fp[d].get("ref_mean") for d in done], _GAIN_UNIT)
    t["reference_std"] = _column("reference_std", [fp[d].get("ref_std") for d in done], _GAIN_UNIT)
    t["offset"] = _column("offset", [fp[d].get("offset") for d in done], _GAIN_UNIT,
                          "map2_minus_map1_mean - reference_mean")
    t["se"] = _column("se", [fp[d].get("se") for d in done], _GAIN_UNIT,
                      "standard error of the offset (box scatter and the pair-level part); z is offset / se taken to N(0, 1)")
    t["z"] = _column("z", [fp[d].get("z") for d in done])
    t["first_pair_anomalous"] = [bool(fp[d].get("first_pair_anomalous")) for d in done]
    t["first_pair_used"] = [bool(fp[d].get("first_pair_used")) for d in done]
    t["n_pairs"] = [int(o.summary.get("n_pairs", 0)) for o in done.values()]
    t["reason"] = [str(fp[d].get("reason") or "") for d in done]
    t.meta["comments"] = ["report JWST-STScI-004622 Table 5: mean and std of gain map #2 - map #1 and of the "
                          "reference difference (reference_pairs, map #4 - map #3 with 4 pairs), and whether "
                          "map #1 was used in the mean map"]
    return t


def flats_table(outcomes: dict) -> Table:
    """Every FLAT reference file the campaign wrote."""
    rows = [(d, f["filter"], f["pupil"], f"{d}/{f['file']}", int(f["n_images"]), f["ground_flat"])
            for d, o in _finished(outcomes).items() for f in o.summary["flats"]]
    return Table(rows=rows or None, names=("detector", "filter", "pupil", "file", "n_images", "ground_flat"),
                 dtype=(str, str, str, str, np.int32, str))


def deadpix_table(outcomes: dict) -> Table:
    """New dead pixels and concentrations per detector."""
    done = _finished(outcomes)
    t = Table(rows=[(d, int(o.summary["n_images"]), int(o.summary["n_dead"]), int(o.summary["n_clusters"]),
                     float(o.summary["dead_threshold"]), str(o.summary["fit_method"]), ",".join(o.summary["filters"]))
                    for d, o in done.items()] or None,
              names=("detector", "n_images", "n_dead", "n_clusters", "dead_threshold", "fit_method", "filters"),
              dtype=(str, np.int32, np.int64, np.int32, np.float64, str, str))
    return t


def _write(out: Path, name: str, table: Table) -> str:
    path = out / name
    with atomic_path(path) as tmp:
        table.write(tmp, format="ascii.ecsv", overwrite=True)
    return os.fspath(path)


def gain_tables(outcomes: dict, out: Path) -> list[str]:
    """Write ``sectors_all.ecsv`` and ``first_pair_all.ecsv``; returns their paths."""
    return [_write(out, "sectors_all.ecsv", sectors_all_table(outcomes)),
            _write(out, "first_pair_all.ecsv", first_pair_table(outcomes))]


def backgrounds_all_table(outcomes: dict, out: Path) -> Table | None:
    """Every image's sky background, from the detectors' ``backgrounds.ecsv`` (None when there are none)."""
    parts = [Table.read(out / d / "backgrounds.ecsv") for d in _finished(outcomes)
             if (out / d / "backgrounds.ecsv").is_file()]
    parts = [p for p in parts if len(p)]
    if not parts:
        return None
    t = vstack(parts, metadata_conflicts="silent")
    t.meta = {k: v for k, v in parts[0].meta.items() if k == "comments"}
    return t


def skyflat_tables(outcomes: dict, out: Path) -> list[str]:
    """Write ``flats_all.ecsv``, ``deadpix_all.ecsv`` (and ``backgrounds_all.ecsv``); returns their paths."""
    written = [_write(out, "flats_all.ecsv", flats_table(outcomes)),
               _write(out, "deadpix_all.ecsv", deadpix_table(outcomes))]
    bg = backgrounds_all_table(outcomes, out)
    if bg is not None:
        written.append(_write(out, "backgrounds_all.ecsv", bg))
    return written



