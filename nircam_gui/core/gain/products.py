"""Write a gain analysis: GAIN reference file, ECSV tables, PTC points, figures, provenance.

The command line and the GUI export through these functions, so the same settings
give the same files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from ... import __version__
from ..ds9coords import add_ds9_columns
from ..fileio import atomic_path, ensure_output_dir, sha256sum, staged_outputs, unstaged
from ..provenance import software_versions
from ..errors import NircamFileError
from ..reffiles import write_reference
from . import figures as gain_figures
from .convention import CONVENTION_NOTE, apparent_divisor, is_ipc_corrected
from .maps import gain_image
from .run import GainResult, options_dict

__all__ = ["read_ptc_points", "reference_useafter", "sectors_table", "write_gain_products"]

PTC_FILE = "ptc_points.fits"


def reference_useafter(result: GainResult) -> str:
    """USEAFTER of the reference files: the option, else the first integration's exposure start."""
    if result.options.useafter:
        return result.options.useafter
    first = result.pairs[0].first
    if not first.meta.start_iso:
        raise NircamFileError(first.path, "no exposure start in the header (EXPSTART or DATE-OBS/TIME-OBS), "
                                          "so no USEAFTER for the reference files: give --useafter")
    return first.meta.start_iso[:19]


def boxes_table(result: GainResult) -> Table:
    """The ``boxes.ecsv`` table: one row per box."""
    t = add_ds9_columns(result.boxes.table.copy(), ("xmin", "xmax", "ymin", "ymax"))
    m = result.maps
    t["gain"] = m.mean_gain
    t["gain_apparent"] = m.mean_gain / _divisor(result)
    t["gain_err"] = m.mean_err
    t["gain_err_single"] = m.single_err
    t["gain_err_scatter"] = m.scatter_err
    used = m.pair_used
    with np.errstate(all="ignore"):
        rn = np.nanmean(result.fit.read_noise[used], axis=0)
    t["read_noise"] = rn
    t["read_noise_e"] = rn * m.mean_gain
    t["n_pairs"] = m.n_pairs
    t["flags"] = np.bitwise_or.reduce(result.fit.flags, axis=0)
    for p, pair in enumerate(result.pairs):
        t[f"gain_pair{pair.number}"] = m.pair_gain[p]
    for col in [c for c in t.colnames if c.startswith("gain")]:
        t[col].unit = "electron / adu"
    t["read_noise"].unit = "adu"
    t["read_noise_e"].unit = "electron"
    t.meta.update(_summary_meta(result))
    t.meta["comments"] = [
        "Boxes are 0-based inclusive bounding boxes in DMS orientation (xmin_ds9 ... ymax_ds9: the same, "
        "1-based as in DS9, the GUI readout and the region files); amp 1-4.",
        "gain: mean over accepted pairs; gain_err: map-difference uncertainty of the mean map.",
        CONVENTION_NOTE if is_ipc_corrected(result.options.ipc) else
        "gain and gain_apparent: not IPC-corrected (--ipc none), the apparent gain the jwst pipeline needs",
        "read_noise: sqrt(intercept/2), single frame, includes reset (kTC) noise.",
        "flags (OR over pairs; a flagged pair's gain is NaN and left out of the mean, n_pairs counts the rest): "
        "1 = fewer than 3 usable groups below the signal limit, 2 = groups lost because fewer than half the "
        "box's pixels were good, 4 = slope not positive or no signal (no photon noise).",
    ]
    return t


def pairs_table(result: GainResult) -> Table:
    """The ``pairs.ecsv`` table: one row per pair, with the anomaly statistics."""
    m = result.maps
    rows = []
    for p, pair in enumerate(result.pairs):
        g = m.pair_gain[p]
        ok = np.isfinite(g)
        rel = (g[ok] / m.mean_gain[ok] - 1) if ok.any() else np.array([np.nan])
        rows.append((pair.number, pair.first.path, pair.first.index + 1, pair.second.path, pair.second.index + 1,
                     pair.first.meta.start_iso, pair.second.meta.start_iso, bool(m.pair_used[p]),
                     float(np.nanmean(g)), float(np.nanstd(g)), float(np.nanmean(rel)),
                     float(np.nanmean(result.ptc.diff_mean[p, 0])), int(np.sum(result.fit.flags[p] != 0))))
    t = Table(rows=rows, names=("pair", "file_1", "int_1", "file_2", "int_2", "start_1", "start_2", "used",
                                "mean_gain", "std_gain", "mean_rel_to_mean_map", "diff_mean_group0",
                                "n_flagged_boxes"))
    t["mean_gain"].unit = t["std_gain"].unit = "electron / adu"
    t["diff_mean_group0"].unit = "adu"
    fp = m.first_pair
    t.meta.update({
        "first_pair_mode": fp.mode, "first_pair_anomalous": fp.anomalous, "first_pair_used": fp.used,
        "d21_mean": fp.d21_mean, "d21_std": fp.d21_std, "ref_label": fp.ref_label, "ref_mean": fp.ref_mean,
        "ref_std": fp.ref_std, "z": fp.z, "single_map_err": fp.single_map_err, "reason": fp.reason,
    })
    return t


def ptc_points_table(result: GainResult) -> Table:
    """Long table of every (pair, group, box) point, for the GUI's PTC panel and the studies."""
    ptc = result.ptc
    npairs, ngroups, nbox = ptc.mean.shape
    pair_no = np.array([p.number for p in result.pairs])
    P, G, B = np.meshgrid(np.arange(npairs), np.arange(ngroups), np.arange(nbox), indexing="ij")
    t = Table({
        "pair": pair_no[P.ravel()],
        "group": G.ravel(),
        "box_id": B.ravel() + 1,
        "mean": ptc.mean.ravel(),
        "variance": ptc.variance.ravel(),
        "variance_raw": ptc.variance_raw.ravel(),
        "diff_mean": ptc.diff_mean.ravel(),
        "npix_sum": ptc.npix_sum.ravel(),
        "npix_diff": ptc.npix_diff.ravel(),
        "used": result.fit.used.ravel(),
        "residual": result.fit.residuals.ravel(),
    })
    for c in ("mean", "diff_mean", "residual"):
        t[c].unit = "adu"
    t["variance"].unit = t["variance_raw"].unit = "adu2"
    return t


def read_ptc_points(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read ``ptc_points.fits`` back into (npairs, ngroups, nbox) arrays."""
    t = Table.read(path)
    pairs = np.unique(t["pair"])
    ng = int(t["group"].max()) + 1
    nb = int(t["box_id"].max())
    out = {"pairs": pairs}
    for c in ("mean", "variance", "variance_raw", "diff_mean", "npix_sum", "npix_diff", "used", "residual"):
        out[c] = np.asarray(t[c]).reshape(len(pairs), ng, nb)
    out["meta"] = dict(t.meta)
    return out


def _divisor(result: GainResult) -> float:
    return apparent_divisor(result.options.ipc, result.ipc_info)


def sectors_table(result: GainResult) -> Table:
    """The ``sectors.ecsv`` table (report Table 7) with the apparent gain beside the gain."""
    t = result.sectors.copy()
    t.add_column(t["gain"] / _divisor(result), name="gain_apparent", index=t.colnames.index("gain") + 1)
    t["gain_apparent"].unit = t["gain"].unit
    t.meta["comments"] = [CONVENTION_NOTE if is_ipc_corrected(result.options.ipc) else
                          "gain and gain_apparent: not IPC-corrected (--ipc none)"]
    return t


def _summary_meta(result: GainResult) -> dict:
    return {
        "detector": result.detector,
        "box_size": result.options.box,
        "signal_limit_adu": result.signal_limit,
        "summed_signal_limit_adu": 2 * result.signal_limit,
        "clip_sigma": result.options.nsigma,
        "clip_variance_factor": result.clip_factor,
        "clip_note": "variance of the differenced frame divided by clip_variance_factor: the fraction of a "
                     "Gaussian variance kept by 3-sigma mean-centred clipping iterated to convergence",
        "ipc_mode": result.options.ipc,
        "ipc_factor_applied": result.ipc_factor,
        "gain_ipc_corrected": is_ipc_corrected(result.options.ipc),
        "ipc_variance_factor": _divisor(result),
        "reference_gain": result.options.reference_gain,
        "uncertainty_method": result.maps.uncertainty_method,
        "unit_scatter_e_per_adu_sqrtpix": result.maps.unit_scatter,
    }


def provenance(result: GainResult, checksums: bool = True) -> dict:
    """Inputs with checksums, every option, calibration steps and software versions."""
    files = []
    for f in dict.fromkeys(result.files):
        entry = {"path": os.path.abspath(f)}
        if checksums:
            entry["sha256"] = sha256sum(f)
        files.append(entry)
    return {
        "software": software_versions(),
        "inputs": files,
        "regions": result.options.regions,
        "options": options_dict(result.options),
        "calibration": result.calibration,
        "ipc": result.ipc_info,
        "summary": _summary_meta(result),
        "first_pair": result.maps.first_pair.reason,
        "pairs_used": [int(p.number) for p, u in zip(result.pairs, result.maps.pair_used) if u],
        "timings_s": result.timings,
        "notes": result.maps.notes,
        "warnings": list(getattr(result, "warnings", [])),
    }


def write_gain_products(result: GainResult, outdir: str | os.PathLike, figures: bool = True,
                        checksums: bool = True) -> dict[str, Path]:
    """Write every product of a gain analysis to ``outdir``; returns name -> path.

    The data products are staged and moved in together: a failure half way (a full disk)
    leaves the folder as it was, never a mix of this run's and an earlier run's files. The
    figures follow, each written atomically, so a plotting failure loses no numbers.
    """
    final = ensure_output_dir(outdir)
    o = result.options
    protect = (*result.files, *(p for p in (o.regions, o.ipc_kernel, o.superbias, o.linearity, o.saturation, o.mask)
                                if p))
    with staged_outputs(final, protect) as stage:
        out = {k: unstaged(v, stage, final) for k, v in _write_data_products(result, stage, checksums).items()}
    if figures:
        out.update(gain_figures.write_figures(result, final))
    return out


def _write_data_products(result: GainResult, outdir: Path, checksums: bool) -> dict[str, Path]:
    # outdir is the staging folder: staged_outputs checks every product against the inputs
    out: dict[str, Path] = {}
    prov = provenance(result, checksums)
    img, dq = gain_image(result)
    used = [p.number for p, u in zip(result.pairs, result.maps.pair_used) if u]
    history = [
        f"PTC gain (report JWST-STScI-004622 method) by nircam-gui {__version__}",
        f"{result.options.box}x{result.options.box} px boxes, signal limit {result.signal_limit:g} ADU/frame",
        f"pairs used: {used}; IPC: {result.options.ipc}",
        f"clipped variance divided by {result.clip_factor:.5f} (3-sigma clipping bias)",
    ] + [f"input: {os.path.basename(f)}" for f in dict.fromkeys(result.files)]
    o = result.options
    history += [f"IPC convention: {CONVENTION_NOTE}"]
    if o.history:
        history.append(o.history)
    useafter = reference_useafter(result)
    corrected = is_ipc_corrected(o.ipc)
    divisor = _divisor(result)
    maps = {"apparent": img / np.float32(divisor)}
    if corrected:
        maps["ipc-corrected"] = img
    common = dict(author=o.author, pedigree=o.pedigree, useafter=useafter, bunit="ELECTRONS/DN")
    keywords = {"BOXSIZE": o.box, "SIGLIMIT": result.signal_limit, "CLIPFAC": result.clip_factor,
                "IPCMODE": o.ipc, "IPCVARF": (divisor, "gain_apparent = IPC-corrected gain / IPCVARF")}
    names = {"gain_map": (o.reference_gain if corrected else "apparent"), "gain_map_ipc_corrected": "ipc-corrected"}
    for name, which in names.items():
        if which not in maps:
            continue
        ipccorr = which == "ipc-corrected"
        label = "IPC-corrected" if ipccorr else "apparent (not IPC-corrected, for the jwst pipeline)"
        path = outdir / f"{name}.fits"
        write_reference(path, "GAIN", result.detector, {"data": maps[which]},
                        description=o.descrip or f"PTC gain map, {o.box} px boxes, {label}",
                        history=[*history, f"this file holds the {label} gain"], **common,
                        extra_keywords={**keywords, "IPCCORR": (ipccorr, "T: gain IPC-corrected; F: apparent")})
        out[name] = path
    path = outdir / "gain_mask.fits"
    write_reference(path, "MASK", result.detector, {"dq": dq},
                    description="pixels without a measured gain in gain_map.fits (filled with the sector gain)",
                    history=history,
                    dq_names=("DO_NOT_USE", "NO_GAIN_VALUE", "REFERENCE_PIXEL"),
                    **{k: v for k, v in common.items() if k != "bunit"})
    out["gain_mask"] = path
    with atomic_path(outdir / "box_labels.fits") as tmp:
        fits.HDUList([fits.PrimaryHDU(result.boxes.labels)]).writeto(tmp)
    out["box_labels"] = outdir / "box_labels.fits"
    for name, table in (("boxes", boxes_table(result)), ("sectors", sectors_table(result)),
                        ("pairs", pairs_table(result))):
        table = table.copy()
        table.meta.update(_summary_meta(result))
        p = outdir / f"{name}.ecsv"
        with atomic_path(p) as tmp:
            table.write(tmp, format="ascii.ecsv", overwrite=True)
        out[name] = p
    ptc = ptc_points_table(result)
    # FITS headers cannot hold NaN (e.g. the map scatter with a single pair): leave such keys out
    ptc.meta.update({k.upper()[:8]: v for k, v in _summary_meta(result).items()
                     if not isinstance(v, str) and not (isinstance(v, float) and not np.isfinite(v))})
    with atomic_path(outdir / PTC_FILE) as tmp:
        ptc.write(tmp, format="fits", overwrite=True)
    out["ptc_points"] = outdir / PTC_FILE
    with atomic_path(outdir / "provenance.json") as tmp:
        tmp.write_text(json.dumps(prov, indent=1, default=str))
    out["provenance"] = outdir / "provenance.json"
    return out
