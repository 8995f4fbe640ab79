"""Write a pipeline ``_ramp.fits`` (RampModel layout) group chunk by group chunk.

stdatamodels writes a model from memory, which for one 160-group full frame would be
2.7 GB of float32 per integration. Here the FITS headers are written first with the
data blocks reserved, and each chunk goes straight into a memory map of its block:
SCI (float32, nints x ngroups x ny x nx), PIXELDQ (uint32, stored as int32 with
BZERO=2**31, the FITS convention), GROUPDQ (uint8). The file reads back with
``stdatamodels.jwst.datamodels.RampModel`` and :func:`nircam_gui.core.readers.open_ramp`.
Provenance (JSON) goes into a ``PROVENANCE`` table extension and HISTORY cards.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from astropy.io import fits

from ..fileio import reserve

__all__ = ["RampWriter"]

_BLOCK = 2880


class RampWriter:
    """Reserve a ``_ramp.fits`` at ``path`` and fill it chunk by chunk.

    Parameters
    ----------
    path : Path
        File to write (normally a temporary path from ``atomic_path``).
    primary : astropy.io.fits.Header
        Primary header (copied; structural keywords are replaced).
    shape : tuple
        ``(nints, ngroups, ny, nx)``.
    """

    def __init__(self, path: Path, primary: fits.Header, shape: tuple[int, int, int, int]) -> None:
        self.path = Path(path)
        self.shape = shape
        nints, ngroups, ny, nx = shape
        hdr = fits.Header()
        hdr["SIMPLE"] = True
        hdr["BITPIX"] = 8
        hdr["NAXIS"] = 0
        hdr["EXTEND"] = True
        skip = {"SIMPLE", "BITPIX", "NAXIS", "EXTEND", "BZERO", "BSCALE", "NAXIS1", "NAXIS2", "NAXIS3", "NAXIS4",
                "COMMENT", "HISTORY", ""}
        for card in primary.cards:
            if card.keyword not in skip:
                hdr.append(card, end=True)
        for card in primary.cards:
            if card.keyword == "HISTORY":
                hdr.add_history(card.value)
        hdr["DATAMODL"] = "RampModel"
        hdr["NGROUPS"] = ngroups
        hdr["NINTS"] = nints
        self.primary = hdr
        self._layout = [
            ("SCI", -32, (nints, ngroups, ny, nx), None, ">f4"),
            ("PIXELDQ", 32, (ny, nx), 2**31, ">i4"),
            ("GROUPDQ", 8, (nints, ngroups, ny, nx), None, "u1"),
        ]
        self._offsets: dict[str, tuple[int, tuple, str]] = {}
        self._maps: dict[str, np.memmap] = {}

    def open(self) -> "RampWriter":
        with open(self.path, "wb") as f:
            f.write(self.primary.tostring().encode("ascii"))
            for name, bitpix, shape, bzero, dtype in self._layout:
                h = fits.Header([("XTENSION", "IMAGE"), ("BITPIX", bitpix), ("NAXIS", len(shape))])
                for i, n in enumerate(reversed(shape)):
                    h[f"NAXIS{i + 1}"] = n
                h["PCOUNT"] = 0
                h["GCOUNT"] = 1
                if bzero is not None:
                    h["BZERO"] = bzero
                    h["BSCALE"] = 1
                h["EXTNAME"] = name
                f.write(h.tostring().encode("ascii"))
                offset = f.tell()
                nbytes = abs(bitpix) // 8 * math.prod(shape)
                reserve(f, offset, -(-nbytes // _BLOCK) * _BLOCK)
                f.seek(0, 2)
                self._offsets[name] = (offset, shape, dtype)
        for name, (offset, shape, dtype) in self._offsets.items():
            self._maps[name] = np.memmap(self.path, dtype=dtype, mode="r+", offset=offset, shape=shape)
        return self

    def write_groups(self, integration: int, first_group: int, data: np.ndarray, groupdq: np.ndarray) -> None:
        """Store calibrated groups ``first_group..`` of one integration."""
        n = data.shape[0]
        self._maps["SCI"][integration, first_group:first_group + n] = data
        self._maps["GROUPDQ"][integration, first_group:first_group + n] = groupdq

    def mark_unused(self, integration: int, first_group: int) -> None:
        """Groups not calibrated (beyond the signal limit): NaN and DO_NOT_USE."""
        if first_group < self.shape[1]:
            self._maps["SCI"][integration, first_group:] = np.nan
            self._maps["GROUPDQ"][integration, first_group:] = 1

    def write_pixeldq(self, pixeldq: np.ndarray) -> None:
        self._maps["PIXELDQ"][:] = (np.asarray(pixeldq, np.uint32) ^ np.uint32(2**31)).view(np.int32)

    def close(self, provenance: dict | None = None) -> None:
        """Flush the data and append the provenance table."""
        for m in self._maps.values():
            m.flush()
        self._maps.clear()
        if provenance is not None:
            text = json.dumps(provenance, default=str)
            col = fits.Column(name="JSON", format=f"{max(len(text), 1)}A", array=np.array([text]))
            table = fits.BinTableHDU.from_columns([col], name="PROVENANCE")
            fits.append(self.path, table.data, table.header)
