"""Small FITS files in the JWST layouts, with values that say where they are.

``make_uncal``: pixel ``(i, g, y, x)`` = 10000 + 100*(g+1) + 10*i + (x % 7) + (y % 5),
so a readout can be checked against arithmetic. ``make_cal``: value = x + 1000*y,
DQ set at a few known pixels.
"""

from __future__ import annotations

import numpy as np
from astropy.io import fits


def uncal_value(i: int, g: int, y: int, x: int) -> int:
    return 10000 + 100 * (g + 1) + 10 * i + (x % 7) + (y % 5)


def make_uncal(path, nints: int = 2, ngroups: int = 5, n: int = 64, detector: str = "NRCA1",
               filt: str = "F200W") -> None:
    y, x = np.mgrid[0:n, 0:n]
    ramp = np.empty((nints, ngroups, n, n), np.uint16)
    for i in range(nints):
        for g in range(ngroups):
            ramp[i, g] = uncal_value(i, g, y, x)
    ph = fits.Header()
    ph["DETECTOR"] = detector
    ph["READPATT"] = "RAPID"
    ph["NINTS"] = nints
    ph["NGROUPS"] = ngroups
    ph["SUBARRAY"] = "FULL"
    ph["FILTER"] = filt
    fits.HDUList([fits.PrimaryHDU(header=ph), fits.ImageHDU(ramp, name="SCI")]).writeto(path, overwrite=True)


#: (x, y) 0-based -> DQ value written by make_cal
CAL_DQ = {(20, 10): 1 | 1024, (5, 40): 2048}


def make_cal(path, n: int = 64, detector: str = "NRCB1", filt: str = "F150W") -> None:
    y, x = np.mgrid[0:n, 0:n]
    sci = (x + 1000.0 * y).astype(np.float32)
    dq = np.zeros((n, n), np.uint32)
    for (cx, cy), v in CAL_DQ.items():
        dq[cy, cx] = v
    ph = fits.Header()
    ph["DETECTOR"] = detector
    ph["SUBARRAY"] = "FULL"
    ph["FILTER"] = filt
    fits.HDUList([
        fits.PrimaryHDU(header=ph),
        fits.ImageHDU(sci, name="SCI"),
        fits.ImageHDU(np.ones_like(sci), name="ERR"),
        fits.ImageHDU(dq, name="DQ"),
    ]).writeto(path, overwrite=True)
