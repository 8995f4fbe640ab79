"""The sky-flat products: :func:`write_skyflat_products` writes a :class:`~.result.SkyflatResult`.

One writer for ``nircam-skyflat`` and the GUI's Export. Per detector:
``delta_<DET>_grey.fits`` and ``delta_<DET>_<FILTER>.fits`` (SCI, ERR, COVERAGE[, FILTDIFF]),
``fit_<DET>_grey.fits``, ``flat_<DET>_<FILTER>.fits`` (CRDS FLAT), ``deadpix_<DET>.fits``
(CRDS MASK), ``deadpix_<DET>.ecsv``, ``clusters_<DET>.ecsv`` and figures; then
``backgrounds.ecsv``, ``backgrounds_summary.ecsv``, ``filter_dependence.ecsv`` and
``provenance.json``. Products are staged and moved in together at the end
(:func:`~nircam_gui.core.fileio.staged_outputs`), each file written atomically with its
provenance: the input files with their SHA-256, the options and software versions.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from .. import options as option_schema
from ..dq import DEAD, DO_NOT_USE, PIXEL, REFERENCE_PIXEL
from ..detector import reference_pixel_mask
from ..fileio import atomic_path, ensure_output_dir, sha256sum, staged_outputs, unstaged
from ..progress import CancelCheck, ProgressCallback, Reporter
from ..reffiles import write_reference
from . import figures as skyflat_figures
from .inputs import filter_token
from .options import SkyflatOptions
from .result import DetectorResult, SkyflatResult

__all__ = ["dq_names_present", "write_additive", "write_dead_mask", "write_flat", "write_skyflat_products",
           "write_image", "write_json", "write_table"]


def _provenance_cards(header: fits.Header, provenance: Mapping) -> None:
    header["ORIGIN"] = "nircam-gui"
    header["DATE"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    header["METHOD"] = ("JWST-STScI-008304 sec. 3", "sky-flat method")
    for key, value in provenance.get("keywords", {}).items():
        header[key] = value
    for name, version in provenance.get("versions", {}).items():
        header.add_history(f"{name} {version}")
    for key, value in provenance.get("options", {}).items():
        header.add_history(f"option {key} = {value}")
    for item in provenance.get("inputs", []):
        header.add_history(f"input {os.path.basename(item['file'])} sha256:{item['sha256'][:16]}")


def write_image(path: str | os.PathLike, extensions: Mapping[str, np.ndarray], *, keywords: Mapping[str, object],
                provenance: Mapping, units: Mapping[str, str] | None = None,
                protect: Sequence[str | os.PathLike] = ()) -> str:
    """A FITS file with a primary header (keywords + provenance) and named image extensions."""
    primary = fits.PrimaryHDU()
    for key, value in keywords.items():
        primary.header[key] = value
    _provenance_cards(primary.header, provenance)
    hdus = [primary]
    for name, data in extensions.items():
        hdu = fits.ImageHDU(data, name=name)
        if units and name in units:
            hdu.header["BUNIT"] = units[name]
        hdus.append(hdu)
    with atomic_path(path, protect=tuple(protect)) as tmp:
        fits.HDUList(hdus).writeto(tmp, checksum=True)
    return os.fspath(path)


def write_table(path: str | os.PathLike, table: Table, provenance: Mapping | None = None) -> str:
    """An ECSV table (units kept) with provenance in its meta."""
    t = table.copy(copy_data=False)
    if provenance:
        t.meta["provenance"] = {k: v for k, v in provenance.items() if k in ("versions", "options", "created")}
    with atomic_path(path) as tmp:
        t.write(tmp, format="ascii.ecsv", overwrite=True)
    return os.fspath(path)


def write_json(path: str | os.PathLike, doc: Mapping) -> str:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(doc, indent=1, default=str))
    return os.fspath(path)


def write_flat(path: str | os.PathLike, detector: str, filt: str, pupil: str, data: np.ndarray, err: np.ndarray,
               dq: np.ndarray, *, ground_name: str, fit_method: str, n_images: int, provenance: Mapping,
               useafter: str, pedigree: str, protect: Sequence[str | os.PathLike] = (), author: str = "nircam-gui",
               descrip: str | None = None, extra_history: str | None = None) -> str:
    """A FLAT reference file (stdatamodels FlatModel, validated) for one filter."""
    names = sorted({n for n, v in PIXEL.items() if v and np.any(dq & np.uint32(v))} | {"DO_NOT_USE"},
                   key=lambda n: PIXEL[n])
    history = [f"New flat = ground flat {ground_name} x large-scale fit ({fit_method}) of the grey delta sky flat",
               f"from {n_images} source-masked _cal images, method of JWST-STScI-008304 section 3.2; renormalised "
               "to the ground flat's median"]
    history += [f"{k} {v}" for k, v in provenance.get("versions", {}).items()]
    history += [f"input {os.path.basename(i['file'])} sha256:{i['sha256'][:16]}" for i in provenance.get("inputs", [])]
    history += [extra_history] if extra_history else []
    return write_reference(path, "FLAT", detector, {"data": data, "err": err, "dq": dq}, author=author,
                           description=descrip or f"NIRCam {filt}/{pupil} flat: ground x delta sky flat fit (nircam-gui)",
                           pedigree=pedigree, useafter=useafter, exp_type="NRC_IMAGE", filter=filt,
                           pupil=pupil, history=history, dq_names=names,
                           extra_keywords={"FITMETH": fit_method, "GRNDFLAT": ground_name, "NSKYIMG": n_images},
                           protect=tuple(protect))


def write_dead_mask(path: str | os.PathLike, detector: str, dead: np.ndarray, ground_dq: np.ndarray | None, *,
                    ground_name: str, threshold: float, provenance: Mapping, useafter: str, pedigree: str,
                    protect: Sequence[str | os.PathLike] = (), author: str = "nircam-gui",
                    descrip: str | None = None, extra_history: str | None = None) -> str:
    """A MASK reference file: the ground mask (if given) plus DEAD|DO_NOT_USE at new dead pixels."""
    if ground_dq is None:
        dq = np.zeros(dead.shape, np.uint32)
        dq[reference_pixel_mask(dead.shape)] |= np.uint32(REFERENCE_PIXEL | DO_NOT_USE)
    else:
        dq = np.asarray(ground_dq, np.uint32).copy()
    dq[dead] |= np.uint32(DEAD | DO_NOT_USE)
    names = sorted({n for n, v in PIXEL.items() if v and np.any(dq & np.uint32(v))} | {"DO_NOT_USE", "DEAD"},
                   key=lambda n: PIXEL[n])
    history = [f"Ground mask {ground_name or '(none: reference border only)'} plus {int(dead.sum())} new dead "
               f"pixels: grey delta sky flat < {threshold} (JWST-STScI-008304 section 3.4)"]
    history += [f"{k} {v}" for k, v in provenance.get("versions", {}).items()]
    history += [extra_history] if extra_history else []
    return write_reference(path, "MASK", detector, {"dq": dq}, author=author,
                           description=descrip or "NIRCam bad-pixel mask with new in-flight dead pixels (nircam-gui)",
                           pedigree=pedigree, useafter=useafter, history=history, dq_names=names,
                           extra_keywords={"NNEWDEAD": int(dead.sum()), "DEADTHR": float(threshold),
                                           "GRNDMASK": ground_name or "NONE"},
                           protect=tuple(protect))


def delivery_kwargs(options: SkyflatOptions) -> dict:
    """AUTHOR, DESCRIP and extra HISTORY of the reference files, from the options."""
    return {"author": options.author, "descrip": options.descrip, "extra_history": options.history}


def dq_names_present(dq: np.ndarray, always: Iterable[str] = ("DO_NOT_USE",)) -> list[str]:
    """Names of the DQ bits set anywhere in ``dq``."""
    return sorted({n for n, v in PIXEL.items() if v and np.any(dq & np.uint32(v))} | set(always),
                  key=lambda n: PIXEL[n])


def write_skyflat_products(
    result: SkyflatResult,
    outdir: str | os.PathLike,
    *,
    dead_threshold: float | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelCheck | None = None,
) -> list[str]:
    """Write every product of ``result`` to ``outdir``.

    Parameters
    ----------
    result : SkyflatResult
    outdir : path-like
        Output folder (made if missing). Inputs are never overwritten.
    dead_threshold : float, optional
        Write the dead-pixel products at this threshold instead of the run's
        (:meth:`SkyflatResult.with_dead_threshold`: the stack is not recomputed).
    progress, cancel : callable, optional

    Returns
    -------
    list of str
        The files written, in order, ``provenance.json`` last.

    Raises
    ------
    OutputError
        A product that cannot be written (the folder is left as it was).
    Cancelled
        The folder is left as it was (the files are staged and moved in at the end).
    ValueError
        A threshold outside (0, 1).
    """
    t0 = time.perf_counter()
    if dead_threshold is not None:
        result = result.with_dead_threshold(dead_threshold)
    opt = result.options
    final = ensure_output_dir(outdir)
    options_doc = option_schema.provenance(opt)
    common = {"versions": result.versions, "options": options_doc, "created": result.created}
    sha = {i["file"]: i["sha256"] for i in result.inputs}
    protect = (*sha, *result.ground_flats, *result.ground_masks)
    rep = Reporter(len(result.detectors) + 1, progress, cancel)
    written: list[str] = []
    with staged_outputs(final, protect) as out:
        for name, det in result.detectors.items():
            prov = {**common, "inputs": [{"file": f, "sha256": sha.get(f, "")} for f in det.files],
                    "keywords": {"DETECTOR": name, "NSKYIMG": det.n_images}}
            written += _write_detector(out, det, result, prov)
            rep.step(f"{name} written")
        written.append(write_table(out / "backgrounds.ecsv", result.backgrounds, common))
        written.append(write_table(out / "backgrounds_summary.ecsv", result.background_summary, common))
        written.append(write_table(out / "filter_dependence.ecsv", result.filter_dependence, common))
        if opt.figures:
            written.append(skyflat_figures.plot_backgrounds(out / "backgrounds.png", result.background_summary))
        rep.check()
        doc = {"created": result.created, "method": "JWST-STScI-008304 section 3 (NIRCam flight flats)",
               "options": options_doc, "versions": result.versions, "inputs": result.inputs,
               "ground_flats": result.ground_flats, "ground_masks": result.ground_masks,
               "r_flat": result.r_flat, "bunit": result.bunit,
               "outputs": [{"file": os.path.basename(w), "sha256": sha256sum(w)} for w in written],
               "warnings": result.warnings,
               "dead_pixels": {d: det.n_dead for d, det in result.detectors.items()},
               "additive": {d: {"detected": bool(det.additive.detected), "significance": float(det.additive.z),
                                "template": det.additive.source,
                                "claw_images": [os.path.basename(f) for f, fl in zip(det.additive.files,
                                                                                     det.additive.flagged) if fl]}
                            for d, det in result.detectors.items() if det.additive is not None},
               "seconds": result.seconds + time.perf_counter() - t0}
        written.append(write_json(out / "provenance.json", doc))
        rep.step("done")
    return [os.fspath(unstaged(w, out, final)) for w in written]


def write_additive(out: Path, det: DetectorResult, prov: dict) -> list[str]:
    """``additive_<DET>.fits`` (TEMPLATE, FLAGGED, AMPLITUDES table) and ``additive_<DET>.ecsv``."""
    add, name = det.additive, det.detector
    table = add.to_table()
    path = out / f"additive_{name}.fits"
    primary = fits.PrimaryHDU()
    for key, value in {"DETECTOR": name, "ADDMETH": ("separate", "additive light fitted and removed"),
                       "ADDFOUND": (bool(add.detected), "template significant and removed"),
                       "ADDSIGNF": (round(float(add.z), 1) if np.isfinite(add.z) else -1.0, "significance of the template"),
                       "ADDBIN": (add.bin, "block size of the fit, pixels"),
                       "ADDTMPL": (add.source[:60], "template: fitted, or the file given"),
                       "NSKYIMG": det.n_images, "NCLAWIMG": (int(np.sum(add.flagged)), "images with claw regions")
                       }.items():
        primary.header[key] = value
    _provenance_cards(primary.header, prov)
    tmpl = fits.ImageHDU(add.template.astype(np.float32), name="TEMPLATE")
    tmpl.header["BUNIT"] = ("", "relative to the sky, per unit amplitude")
    flagged = fits.ImageHDU(add.flagged_count.astype(np.int16), name="FLAGGED")
    flagged.header["COMMENT"] = "images in which the pixel was rejected as scattered light (claws)"
    amps = fits.BinTableHDU(Table(table, meta={}), name="AMPLITUDES")
    with atomic_path(path) as tmp:
        fits.HDUList([primary, tmpl, flagged, amps]).writeto(tmp, checksum=True)
    return [os.fspath(path), write_table(out / f"additive_{name}.ecsv", table, prov)]


def _write_detector(out: Path, det: DetectorResult, result: SkyflatResult, prov: dict) -> list[str]:
    opt, name = result.options, det.detector
    combine = f"sigclip median {opt.sigma} sig {opt.maxiters} it"
    kw = {"DETECTOR": name, "FILTER": "GREY", "NSKYIMG": det.n_images, "BUNIT": ""}
    written = [write_image(out / f"delta_{name}_grey.fits",
                           {"SCI": det.grey, "ERR": det.grey_error, "COVERAGE": det.coverage},
                           keywords={**kw, "COMBINE": combine, "CLIPMETH": opt.combine_method}, provenance=prov)]
    ref = reference_pixel_mask(det.fit.shape)
    written.append(write_image(out / f"fit_{name}_grey.fits", {"SCI": np.where(ref, np.nan, det.fit).astype(np.float32)},
                               keywords={**kw, "FITMETH": det.fit_method, "FITBIN": opt.fit_bin,
                                         "MEDFILT": opt.median_filter if det.fit_method == "median" else 0},
                               provenance=prov))
    for token, d in det.filter_deltas.items():
        files = set(d.files)
        written.append(write_image(
            out / f"delta_{name}_{token}.fits",
            {"SCI": d.median, "ERR": d.error, "COVERAGE": d.coverage, "FILTDIFF": d.filtdiff},
            keywords={"DETECTOR": name, "FILTER": d.filter, "PUPIL": d.pupil, "NSKYIMG": len(d.files),
                      "COMBINE": combine,
                      "FDRANGE": (d.range_2_98, f"2-98 pct range of FILTDIFF in {opt.fit_bin}px bins")},
            provenance={**prov, "inputs": [p for p in prov["inputs"] if p["file"] in files]}))
        flat = det.flats.get(token)
        if flat is not None:
            written.append(write_flat(
                out / f"flat_{name}_{token}.fits", name, d.filter, d.pupil, flat.data, flat.err, flat.dq,
                ground_name=os.path.basename(flat.ground_file), fit_method=det.fit_method, n_images=det.n_images,
                provenance=prov, useafter=result.useafter, pedigree=result.pedigree, **delivery_kwargs(opt)))
    if det.additive is not None:
        written += write_additive(out, det, prov)
    written += [write_table(out / f"deadpix_{name}.ecsv", det.dead.table, prov),
                write_table(out / f"clusters_{name}.ecsv", det.clusters, prov),
                write_dead_mask(out / f"deadpix_{name}.fits", name, det.dead.mask, det.ground_mask_dq,
                                ground_name=os.path.basename(det.mask_file) if det.mask_file else "",
                                threshold=det.dead.threshold, provenance=prov, useafter=result.useafter,
                                pedigree=result.pedigree, **delivery_kwargs(opt))]
    if opt.figures:
        written.append(skyflat_figures.plot_detector(out / f"skyflat_{name}.png", name, det.grey, det.fit,
                                                     det.fit_method, det.dead.mask, det.clusters))
        written.append(skyflat_figures.plot_filter_dependence(out / f"filters_{name}.png", name, det.deltas,
                                                              det.grey))
    return written
