"""Write JWST (CRDS-format) reference files through stdatamodels.

One function serves the simulator and every product (GAIN maps, new FLATs, MASKs):
the model is filled, validated against its schema, and written atomically.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone

import numpy as np
from astropy.io import fits
from stdatamodels.jwst import datamodels as dm

from .asdfmanifests import parse_manifests_with_libyaml
from .background import short_switch_interval
from .crdskeys import SELECTION_KEYWORDS, subarray_keywords
from .detector import get_detector
from .fileio import atomic_path

__all__ = ["MODEL_CLASSES", "preload_writer", "write_reference"]

MODEL_CLASSES = {
    "GAIN": dm.GainModel,
    "SUPERBIAS": dm.SuperBiasModel,
    "LINEARITY": dm.LinearityModel,
    "SATURATION": dm.SaturationModel,
    "MASK": dm.MaskModel,
    "IPC": dm.IPCModel,
    "FLAT": dm.FlatModel,
    "READNOISE": dm.ReadnoiseModel,
}

_PRELOAD_LOCK = threading.Lock()
_PRELOAD: threading.Thread | None = None


def preload_writer(reftypes: Iterable[str] = ("GAIN", "MASK")) -> None:
    """Start loading what writing reference files of ``reftypes`` needs, in a background thread.

    The first reference file a process writes loads asdf's extensions and the datamodel
    schemas (~0.5 s of CPU, the manifests parsed with libyaml: :mod:`.asdfmanifests`), the
    first of each type its own schema and validators: the
    thread writes a small file of each type to a temporary folder, so an analysis can
    overlap that with its own work. :func:`write_reference` waits for it to finish rather
    than load the same things beside it. Once per process.
    """
    global _PRELOAD
    with _PRELOAD_LOCK:
        if _PRELOAD is not None:
            return
        _PRELOAD = threading.Thread(target=_warm_up, args=(tuple(reftypes),), name="datamodels-preload",
                                    daemon=True)
        _PRELOAD.start()


def _warm_up(reftypes: tuple[str, ...]) -> None:
    import tempfile

    # ~0.5 s of Python (asdf's entry points and the imports they make, schemas) that holds the GIL:
    # the work's thread gets it back within 0.5 ms after each numpy call, not 5 ms. (Not at
    # a lower priority: on a loaded machine the write at the end would wait for it.)
    try:
        with short_switch_interval(), tempfile.TemporaryDirectory(prefix="nircam_gui_warmup_") as tmp:
            for reftype in reftypes:
                # a whole, valid model: validating an incomplete one would warn, and warnings
                # filters cannot be changed from a thread
                arrays = ({"dq": np.zeros((8, 8), np.uint32)} if reftype == "MASK" else
                          {"data": np.ones((8, 8), np.float32)})
                _write(os.path.join(tmp, f"{reftype.lower()}.fits"), reftype, "NRCA1", arrays,
                       description="warm-up", bunit="ELECTRONS/DN" if reftype == "GAIN" else None)
    except Exception:  # noqa: BLE001 - only a warm-up: the real write reports its own errors
        pass


def _wait_for_preload() -> None:
    thread = _PRELOAD
    if thread is not None and thread is not threading.current_thread():
        thread.join()


_DQ_DEF_TYPE = np.dtype([("BIT", "<u4"), ("VALUE", "<u4"), ("NAME", "S40"), ("DESCRIPTION", "S80")])


def _dq_def(names: Iterable[str]) -> np.ndarray:
    from .dq import PIXEL

    rows = []
    for name in names:
        value = PIXEL[name]
        rows.append((int(np.log2(value)) if value else 0, value, name, name.replace("_", " ").lower()))
    return np.array(rows, dtype=_DQ_DEF_TYPE)


def write_reference(
    path: str | os.PathLike,
    reftype: str,
    detector: str,
    arrays: Mapping[str, np.ndarray],
    *,
    description: str,
    author: str = "nircam-gui",
    pedigree: str = "GROUND",
    useafter: str = "2022-01-01T00:00:00",
    exp_type: str | None = None,
    filter: str | None = None,
    pupil: str | None = None,
    history: Iterable[str] = (),
    bunit: str | None = None,
    dq_names: Iterable[str] = ("DO_NOT_USE",),
    extra_keywords: Mapping[str, object] | None = None,
    protect: tuple[str | os.PathLike, ...] = (),
    extra_hdus: Iterable[fits.ImageHDU] = (),
) -> str:
    """Write a reference file of type ``reftype`` that passes ``model.validate()``.

    Parameters
    ----------
    path : path-like
        Output FITS file, written atomically.
    reftype : str
        One of :data:`MODEL_CLASSES`.
    detector : str
        Any name :func:`~nircam_gui.core.detector.get_detector` accepts.
    arrays : mapping
        Model attributes to set, e.g. ``{"data": ..., "dq": ...}`` or ``{"coeffs": ...}``.
    description, author, pedigree, useafter : str
        CRDS keywords DESCRIP, AUTHOR, PEDIGREE, USEAFTER.
    exp_type, filter, pupil : str, optional
        Selection keywords. CRDS selects NIRCam GAIN and MASK on FILTER, FLAT on
        FILTER and PUPIL (:data:`~nircam_gui.core.crdskeys.SELECTION_KEYWORDS`);
        a selection keyword not given is written ``N/A`` (valid for any value).
    history : iterable of str
        HISTORY entries (method, inputs, software versions).
    bunit : str, optional
        BUNIT of the data array (GAIN: ``ELECTRONS/DN``, as CRDS certify expects).
    dq_names : iterable of str
        DQ bits described in the DQ_DEF table, for models that have one.
    extra_keywords : mapping, optional
        Extra primary-header keywords written after the model (e.g. provenance).
    protect : tuple of path-like
        Input files that must not be overwritten.
    extra_hdus : iterable of ImageHDU
        Extensions the model's schema does not hold (e.g. a DQ beside a GAIN map),
        appended before the file is renamed into place, so it is never seen without them.

    Returns
    -------
    str
        The written path.
    """
    _wait_for_preload()
    return _write(path, reftype, detector, arrays, description=description, author=author, pedigree=pedigree,
                  useafter=useafter, exp_type=exp_type, filter=filter, pupil=pupil, history=history, bunit=bunit,
                  dq_names=dq_names, extra_keywords=extra_keywords, protect=protect, extra_hdus=extra_hdus)


def _write(path, reftype, detector, arrays, *, description, author="nircam-gui", pedigree="GROUND",
           useafter="2022-01-01T00:00:00", exp_type=None, filter=None, pupil=None, history=(), bunit=None,
           dq_names=("DO_NOT_USE",), extra_keywords=None, protect=(), extra_hdus=()) -> str:
    reftype = reftype.upper()
    det = get_detector(detector)
    # before the first model: it loads asdf's extensions, whose manifests are parsed once per process
    parse_manifests_with_libyaml()
    # the model is validated whole below (and again as it is saved): validating every meta
    # value as it is set parses the schemas anew each time
    model = MODEL_CLASSES[reftype](validate_on_assignment=False)
    for name, value in arrays.items():
        setattr(model, name, value)
    shape = next(iter(arrays.values())).shape
    m = model.meta
    m.reftype = reftype
    m.description = description
    m.author = author
    m.pedigree = pedigree
    m.useafter = useafter
    m.telescope = "JWST"
    m.instrument.name = "NIRCAM"
    m.instrument.detector = det.name
    m.instrument.channel = "LONG" if det.is_longwave else "SHORT"
    m.instrument.module = det.module
    if reftype != "IPC":
        sub = subarray_keywords(shape)
        m.subarray.name = sub["name"]
        m.subarray.xstart = sub["xstart"]
        m.subarray.ystart = sub["ystart"]
        m.subarray.xsize = sub["xsize"]
        m.subarray.ysize = sub["ysize"]
        m.subarray.fastaxis = det.fastaxis
        m.subarray.slowaxis = det.slowaxis
    if exp_type:
        m.exposure.type = exp_type
    if filter:
        m.instrument.filter = filter
    if pupil:
        m.instrument.pupil = pupil
    selection = SELECTION_KEYWORDS.get(reftype, ())
    if "FILTER" in selection and not filter:
        m.instrument.filter = "N/A"
    if "PUPIL" in selection and not pupil:
        m.instrument.pupil = "N/A"
    if bunit:
        m.bunit_data = bunit
    if "dq_def" in model.schema["properties"] and reftype != "IPC":
        model.dq_def = _dq_def(dq_names)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    model.add_history_entry(f"{stamp} written by nircam-gui")
    for entry in history:
        model.add_history_entry(str(entry))
    model.validate()
    with atomic_path(path, protect=protect) as tmp:
        model.save(tmp)
        model.close()
        with fits.open(tmp, mode="update") as hdul:
            hdul[0].header["FILENAME"] = os.path.basename(os.fspath(path))
            for key, value in (extra_keywords or {}).items():
                hdul[0].header[key] = value
            for hdu in extra_hdus:
                hdul.append(hdu)
    return os.fspath(path)
