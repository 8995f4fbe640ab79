"""Writers for the sky-flat products: delta/fit images, FLAT and MASK reference files, tables.

Every file is written atomically (:func:`nircam_gui.core.fileio.atomic_path`) and carries
its provenance: the input files with their SHA-256, the options and software versions.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone

import numpy as np
from astropy.io import fits
from astropy.table import Table

from ..dq import DEAD, DO_NOT_USE, NO_FLAT_FIELD, PIXEL, REFERENCE_PIXEL
from ..detector import reference_pixel_mask
from ..fileio import atomic_path
from ..reffiles import write_reference

__all__ = ["dq_names_present", "filter_token", "new_flat", "write_dead_mask", "write_flat",
           "write_image", "write_json", "write_table"]


def filter_token(filt: str, pupil: str) -> str:
    """Name used in output files: ``F150W``, or ``F444W_F405N`` when the pupil holds a filter."""
    pupil = (pupil or "CLEAR").upper()
    return filt.upper() if pupil in ("CLEAR", "NONE", "") else f"{filt.upper()}_{pupil}"


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


def new_flat(ground: np.ndarray, ground_err: np.ndarray | None, ground_dq: np.ndarray | None,
             fit: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """New flat = ground flat x large-scale fit, renormalised.

    The product is scaled so its median over good science pixels equals the ground
    flat's median there: the new flat changes the shape, not the photometric zero point
    the ground flat was calibrated with. Pixels the ground flat does not flat-field
    (DO_NOT_USE / NO_FLAT_FIELD, reference pixels) keep their ground values.
    """
    ground = np.asarray(ground, np.float32)
    dq = np.zeros(ground.shape, np.uint32) if ground_dq is None else np.asarray(ground_dq, np.uint32)
    keep = ((dq & (DO_NOT_USE | NO_FLAT_FIELD | REFERENCE_PIXEL)) != 0) | reference_pixel_mask(ground.shape)
    keep |= ~np.isfinite(fit) | ~np.isfinite(ground)
    prod = ground * fit
    good = ~keep
    scale = np.median(ground[good]) / np.median(prod[good]) if good.any() else 1.0
    data = np.where(keep, ground, prod * scale).astype(np.float32)
    if ground_err is None:
        err = np.zeros(ground.shape, np.float32)
    else:
        err = np.where(keep, ground_err, np.asarray(ground_err) * fit * scale).astype(np.float32)
    return data, err, dq.copy()


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


def delivery_kwargs(options) -> dict:
    """AUTHOR, DESCRIP and extra HISTORY of the reference files, from the options."""
    return {"author": getattr(options, "author", "nircam-gui"), "descrip": getattr(options, "descrip", None),
            "extra_history": getattr(options, "history", None)}


def dq_names_present(dq: np.ndarray, always: Iterable[str] = ("DO_NOT_USE",)) -> list[str]:
    """Names of the DQ bits set anywhere in ``dq``."""
    return sorted({n for n, v in PIXEL.items() if v and np.any(dq & np.uint32(v))} | set(always),
                  key=lambda n: PIXEL[n])
