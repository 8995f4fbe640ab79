"""The ground FLAT and MASK reference files of a simulated ``_cal`` set.

The dithered sky images (:mod:`.images`) and the star fields (:mod:`.starfield`) are
calibrated with a simulated ground flat and carry a ground bad-pixel mask; a star field
also has its true flat written as a FLAT reference file. Both simulators write them here,
so the files of the two are alike: one DQ convention (reference pixels and ground dead
pixels are DO_NOT_USE; a FLAT marks them NO_FLAT_FIELD and holds 1 there), CRDS keywords
through :func:`~nircam_gui.core.reffiles.write_reference` (validated by stdatamodels).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..dq import DEAD, DO_NOT_USE, HOT, NO_FLAT_FIELD, REFERENCE_PIXEL
from ..reffiles import write_reference

__all__ = ["FLAT_DQ_NAMES", "MASK_DQ_NAMES", "flat_dq", "mask_dq", "write_flat", "write_mask"]

#: the DQ flags a simulated FLAT uses (its DQ_DEF table)
FLAT_DQ_NAMES = ("DO_NOT_USE", "DEAD", "NO_FLAT_FIELD", "REFERENCE_PIXEL")
#: the DQ flags a simulated MASK uses
MASK_DQ_NAMES = ("DO_NOT_USE", "DEAD", "HOT", "REFERENCE_PIXEL")
#: description of every simulated ground MASK
MASK_DESCRIPTION = "Simulated ground bad-pixel mask (nircam-gui)"


def mask_dq(reference: np.ndarray, dead: np.ndarray, hot: np.ndarray | None = None) -> np.ndarray:
    """DQ of a ground MASK (and of the images it goes with): reference, dead and hot pixels unusable.

    Parameters
    ----------
    reference, dead, hot : ndarray of bool
        Reference pixels, ground dead pixels, hot pixels (optional), all of one shape.
    """
    dq = np.zeros(reference.shape, np.uint32)
    dq[reference] |= np.uint32(REFERENCE_PIXEL | DO_NOT_USE)
    dq[dead] |= np.uint32(DEAD | DO_NOT_USE)
    if hot is not None:
        dq[hot] |= np.uint32(HOT | DO_NOT_USE)
    return dq


def flat_dq(reference: np.ndarray, dead: np.ndarray) -> np.ndarray:
    """DQ of a ground FLAT: reference and dead pixels unusable and not flat-fielded."""
    dq = np.zeros(reference.shape, np.uint32)
    dq[reference] |= np.uint32(REFERENCE_PIXEL | DO_NOT_USE | NO_FLAT_FIELD)
    dq[dead] |= np.uint32(DEAD | DO_NOT_USE | NO_FLAT_FIELD)
    return dq


def write_flat(path: str | os.PathLike, detector: str, filt: str, pupil: str, data: np.ndarray, err: np.ndarray,
               dq: np.ndarray, *, description: str, history: str) -> str:
    """Write a simulated imaging FLAT reference file (NRC_IMAGE, ``filt``/``pupil``); returns its path.

    Parameters
    ----------
    path : path-like
        The file, written atomically.
    detector : str
        Detector name.
    filt, pupil : str
        FILTER and PUPIL of the flat.
    data, err, dq : ndarray
        SCI, ERR and DQ (see :func:`flat_dq`).
    description : str
        DESCRIP.
    history : str
        One HISTORY line (how it was made, with the seed).
    """
    return write_reference(Path(path), "FLAT", detector, {"data": data, "err": err, "dq": dq},
                           description=description, exp_type="NRC_IMAGE", filter=filt, pupil=pupil,
                           dq_names=FLAT_DQ_NAMES, history=[history])


def write_mask(path: str | os.PathLike, detector: str, dq: np.ndarray, *, history: str) -> str:
    """Write a simulated ground MASK reference file (DQ from :func:`mask_dq`); returns its path."""
    return write_reference(Path(path), "MASK", detector, {"dq": dq}, description=MASK_DESCRIPTION,
                           dq_names=MASK_DQ_NAMES, history=[history])
