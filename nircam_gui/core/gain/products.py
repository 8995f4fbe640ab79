"""Write a gain analysis: GAIN reference file, ECSV tables, PTC points, figures, provenance.

The command line and the GUI export through these functions, so the same settings
give the same files.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from ... import __version__
from ..ds9coords import add_ds9_columns
from ..fileio import atomic_path, ensure_output_dir, staged_outputs, unstaged
from ..provenance import file_checksums, software_versions
from ..errors import NircamFileError
from ..reffiles import write_reference
from .convention import CONVENTION_NOTE, apparent_divisor, is_ipc_corrected
from .maps import gain_image
from .run import GainResult, options_dict

__all__ = ["bfe_table", "covariance_hdus", "first_pair_table", "read_covariances", "read_ptc_points",
           "reference_useafter", "sectors_table", "write_gain_products"]

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
    for model, mm in getattr(result, "model_maps", {}).items():
        t[f"gain_{model}"] = mm.mean_gain
        t[f"gain_{model}_err"] = mm.mean_err
    sol = getattr(result, "covariance", None)
    if sol is not None:
        t["turnoff"] = sol.turnoff
        t["turnoff"].unit = "adu"
        t["turnoff_group"] = sol.turnoff_group
        with warnings.catch_warnings():
            # boxes without a covariance fit in any pair stay NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            t["gain_covariance_fit_err"] = np.nanmedian(sol.gain_err_fit, axis=0)
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
        f"gain is the {result.options.ptc_model} PTC model's; gain_linear: straight line below "
        "the signal limit (report 004622); gain_covariance: gain at zero signal from the full covariance model "
        "(Astier et al. 2019) with the amplifier's a-matrix, fitted to the box's PTC turnoff (single-frame ADU, "
        "turnoff_group 0-based) or the signal limit when one was given.",
        "flags (OR over pairs; a flagged pair's gain is NaN and left out of the mean, n_pairs counts the rest): "
        "1 = fewer than 3 usable groups below the signal limit, 2 = groups lost because fewer than half the "
        "box's pixels were good, 4 = slope not positive or no signal (no photon noise).",
    ]
    return t


def sectors_table(result: GainResult) -> Table:
    """The ``sectors.ecsv`` table (report Table 7): the selected model's sector gains, the apparent gain
    beside them, and both models' columns."""
    t = result.sectors.copy()
    t.add_column(t["gain"] / _divisor(result), name="gain_apparent", index=t.colnames.index("gain") + 1)
    t["gain_apparent"].unit = t["gain"].unit
    t.meta["comments"] = [CONVENTION_NOTE if is_ipc_corrected(result.options.ipc) else
                          "gain and gain_apparent: not IPC-corrected (--ipc none)"]
    for model, st in getattr(result, "model_sectors", {}).items():
        lookup = {(int(r["amp"]), str(r["region"])): (float(r["gain"]), float(r["gain_err"])) for r in st}
        vals = [lookup.get((int(r["amp"]), str(r["region"])), (np.nan, np.nan)) for r in t]
        t[f"gain_{model}"] = [v[0] for v in vals]
        t[f"gain_{model}_err"] = [v[1] for v in vals]
        t[f"gain_{model}"].unit = t[f"gain_{model}_err"].unit = "electron / adu"
    return t


def bfe_table(result: GainResult) -> Table:
    """The ``bfe.ecsv`` table: the covariance model's coefficients per amplifier and for the epoxy void.

    One row per fit and lag ``(i, j)`` = (dx, dy): a (1/e-), its error, b (1/e-, when fitted),
    the noise matrix (e-^2); the fit's gain in the meta data.
    """
    sol = result.covariance
    rows = []
    for f in sol.fits:
        m = f.a.shape[0]
        for j in range(m):
            for i in range(m):
                rows.append((f.label, i, j, f.a[j, i], f.a_err[j, i],
                             np.nan if f.b is None else f.b[j, i], f.noise[j, i], f.noise_err[j, i],
                             f.gain, f.gain_err, f.turnoff, f.chi2_dof))
    t = Table(rows=rows, names=("fit", "i", "j", "a", "a_err", "b", "noise", "noise_err", "gain", "gain_err",
                                "turnoff", "chi2_dof"),
              dtype=("U8", int, int, float, float, float, float, float, float, float, float, float))
    t["a"].unit = t["a_err"].unit = t["b"].unit = "1 / electron"
    t["noise"].unit = t["noise_err"].unit = "electron2"
    t["gain"].unit = t["gain_err"].unit = "electron / adu"
    t["turnoff"].unit = "adu"
    t.meta["comments"] = [
        "Full covariance model of Astier et al. (2019, eq. 20) fitted per amplifier (fit = amp1-4, normal boxes), "
        "to the epoxy-void boxes of all amplifiers (fit = epoxy) and to the normal boxes of all amplifiers "
        "(fit = detector, the a-matrix the box gains use), after IPC deconvolution when ipc_mode is deconvolve.",
        "i, j: lag along x (within a row) and y; a_00 < 0. gain, gain_err: the fit's own (groups of an integration "
        "are correlated, so the errors are too small). turnoff: highest single-frame mean fitted.",
    ]
    return t


def covariance_hdus(result: GainResult) -> fits.HDUList:
    """``covariances.fits``: the measured covariances and the model fits.

    Extensions: MEAN (npairs, ngroups, nbox; summed frame, ADU), COV (npairs, ngroups, nbox, m,
    m; differenced frame, ADU^2, lags [dy, dx]), NPAIRS (pixel pairs), TURNOFF (table per box),
    and per fit (amp1-4, epoxy, detector) FIT_<label>: a table of the pooled single-frame points (MU,
    COV, MODEL, USED) with the fit in the header, A_<label> and NOISE_<label> images.
    """
    ptc = result.ptc
    prim = fits.PrimaryHDU()
    prim.header["DETECTOR"] = result.detector
    prim.header["PTCMODEL"] = (result.options.ptc_model, "PTC model of gain_map.fits")
    prim.header["COVLAG"] = (ptc.cov.shape[-1] - 1, "largest lag measured")
    prim.header["CLIPFAC"] = (result.clip_factor, "variance divided by this; lags by its square")
    prim.header["IPCMODE"] = result.options.ipc
    hdus = [prim, fits.ImageHDU(ptc.mean, name="MEAN"), fits.ImageHDU(ptc.cov, name="COV"),
            fits.ImageHDU(ptc.cov_npairs.astype(np.int32), name="NPAIRS")]
    sol = result.covariance
    if sol is None:
        return fits.HDUList(hdus)
    turn = Table({"box_id": np.arange(1, len(sol.turnoff) + 1), "turnoff": sol.turnoff,
                  "turnoff_group": sol.turnoff_group,
                  "fit": [sol.fits[k].label if k >= 0 else "" for k in sol.box_fit]})
    hdus.append(fits.BinTableHDU(turn, name="TURNOFF"))
    for f in sol.fits:
        t = Table({"MU": f.mu, "COV": f.cov, "MODEL": f.model(np.nan_to_num(f.mu)) if np.isfinite(f.gain)
                   else np.full_like(f.cov, np.nan), "USED": f.used})
        h = fits.BinTableHDU(t, name=f"FIT_{f.label.upper()}")
        h.header["GAIN"] = (f.gain if np.isfinite(f.gain) else 0.0, "e-/ADU")
        h.header["GAIN_ERR"] = f.gain_err if np.isfinite(f.gain_err) else 0.0
        h.header["CHI2DOF"] = f.chi2_dof if np.isfinite(f.chi2_dof) else 0.0
        h.header["TURNOFF"] = (f.turnoff if np.isfinite(f.turnoff) else 0.0, "ADU, single frame")
        h.header["WITH_B"] = f.b is not None
        hdus += [h, fits.ImageHDU(f.a, name=f"A_{f.label.upper()}"),
                 fits.ImageHDU(f.noise, name=f"NOISE_{f.label.upper()}")]
        if f.c is not None:
            hdus.append(fits.ImageHDU(f.c, name=f"C_{f.label.upper()}"))
    return fits.HDUList(hdus)


def read_covariances(path: str | os.PathLike) -> dict:
    """Read ``covariances.fits``: ``mean``, ``cov``, ``npairs`` arrays, the ``turnoff`` table and
    per fit label a dict of ``a``, ``noise``, ``c``, ``gain``, ``mu``, ``cov``, ``model``, ``used``."""
    from ..errors import NircamFileError

    out: dict = {"fits": {}}
    try:
        with fits.open(path) as hl:
            out["mean"] = np.array(hl["MEAN"].data)
            out["cov"] = np.array(hl["COV"].data)
            out["npairs"] = np.array(hl["NPAIRS"].data)
            names = [h.name for h in hl]
            if "TURNOFF" in names:
                out["turnoff"] = Table(hl["TURNOFF"].data)
            for name in names:
                if not name.startswith("FIT_"):
                    continue
                label = name[4:].lower()
                d = hl[name].data
                out["fits"][label] = {"gain": hl[name].header["GAIN"], "mu": np.array(d["MU"]),
                                      "cov": np.array(d["COV"]), "model": np.array(d["MODEL"]),
                                      "used": np.array(d["USED"]), "a": np.array(hl[f"A_{label.upper()}"].data),
                                      "noise": np.array(hl[f"NOISE_{label.upper()}"].data),
                                      "c": np.array(hl[f"C_{label.upper()}"].data) if f"C_{label.upper()}" in names
                                      else None}
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise NircamFileError(path, f"not a covariances.fits product ({exc})") from exc
    return out


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


def first_pair_table(result: GainResult) -> Table:
    """The ``first_pair.ecsv`` table (report 004622 section 5.4, Table 5): the first-pair test of
    each PTC model's maps, one row per model (the run's own model first)."""
    models = dict(getattr(result, "model_maps", {}) or {result.options.ptc_model: result.maps})
    order = [result.options.ptc_model] + [k for k in models if k != result.options.ptc_model]
    rows = []
    for model in order:
        if model not in models:
            continue
        fp = models[model].first_pair
        rows.append((model, fp.mode, fp.d21_mean, fp.d21_std, fp.n21, fp.ref_label, fp.ref_mean, fp.ref_std,
                     fp.n_ref, fp.offset, fp.se_boxes, 2.0 * np.sqrt(fp.common_var), fp.se, fp.z,
                     fp.single_map_err, fp.anomalous, fp.used))
    t = Table(rows=rows, names=("ptc_model", "mode", "d21_mean", "d21_std", "n21", "ref_label", "ref_mean", "ref_std",
                                "n_ref", "offset", "se_boxes", "se_pair_level", "se", "z", "single_map_err",
                                "anomalous", "used"),
              dtype=("U10", "U4", float, float, int, "U20", float, float, int, float, float, float, float, float,
                     float, bool, bool))
    for c in ("d21_mean", "d21_std", "ref_mean", "ref_std", "offset", "se_boxes", "se_pair_level", "se",
              "single_map_err"):
        t[c].unit = "electron / adu"
    t.meta["comments"] = [
        "d21: map #2 - map #1 over the boxes (3-sigma clipped mean, std, boxes); ref: the reference difference "
        "(map #4 - map #3). offset = d21_mean - ref_mean; se: its standard error, the box scatter (se_boxes) and "
        "the pair-level part common to all boxes of a pair, from the spread of the other pairs' mean gains "
        "(se_pair_level = 2 sqrt(variance): four pair means make the offset); z = offset / se, N(0, 1) with a "
        "steady lamp.",
        "anomalous: |z| > 3 and |offset| > single_map_err; used: pair 1 in the mean map (mode auto: not anomalous).",
    ]
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
        "ptc_model": result.options.ptc_model,
        "ipc_factor_applied": result.ipc_factor,
        "gain_ipc_corrected": is_ipc_corrected(result.options.ipc),
        "ipc_variance_factor": _divisor(result),
        "reference_gain": result.options.reference_gain,
        "uncertainty_method": result.maps.uncertainty_method,
        "unit_scatter_e_per_adu_sqrtpix": result.maps.unit_scatter,
    }


def provenance(result: GainResult, checksums: bool = True) -> dict:
    """Inputs with checksums, every option, calibration steps and software versions."""
    paths = list(dict.fromkeys(result.files))
    # hashed beside the run when run_gain started it; what is left, on every core now
    digests = file_checksums(paths) if checksums else None
    files = []
    for k, f in enumerate(paths):
        entry = {"path": os.path.abspath(f)}
        if digests is not None:
            entry["sha256"] = digests[k]
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
        from . import figures as gain_figures  # matplotlib only when figures are asked for

        out.update(gain_figures.write_figures(result, final))
    return out


def _write_data_products(result: GainResult, outdir: Path, checksums: bool) -> dict[str, Path]:
    # outdir is the staging folder: staged_outputs checks every product against the inputs
    out: dict[str, Path] = {}
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
    if o.ptc_model != "linear":
        # the linear model is the report's method named above; any other is said
        history.append(f"PTC model: {o.ptc_model} (gain at zero signal, Astier et al. 2019)")
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
    tables = [("boxes", boxes_table(result)), ("sectors", sectors_table(result)), ("pairs", pairs_table(result)),
              ("first_pair", first_pair_table(result))]
    if getattr(result, "covariance", None) is not None:
        tables.append(("bfe", bfe_table(result)))
    for name, table in tables:
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
    if getattr(result.ptc, "cov", None) is not None:
        with atomic_path(outdir / "covariances.fits") as tmp:
            covariance_hdus(result).writeto(tmp)
        out["covariances"] = outdir / "covariances.fits"
    # last: the inputs' checksums are made in a thread beside the run (and the writing above)
    prov = provenance(result, checksums)
    with atomic_path(outdir / "provenance.json") as tmp:
        tmp.write_text(json.dumps(prov, indent=1, default=str))
    out["provenance"] = outdir / "provenance.json"
    return out
