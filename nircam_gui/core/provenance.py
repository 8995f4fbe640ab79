"""Provenance shared by every product: software versions and input checksums.

Checksums of large reference files (a full-frame LINEARITY file is ~70 MB) are cached
by path, size and modification time, so asking for provenance once per chunk or per
file costs nothing after the first time.
"""

from __future__ import annotations

import os
import platform
import threading
from importlib import metadata

from .fileio import sha256sum

__all__ = ["file_checksum", "software_versions"]

_CACHE: dict[tuple[str, int, int], str] = {}
_LOCK = threading.Lock()


def file_checksum(path: str | os.PathLike) -> str:
    """Hex SHA-256 of ``path``, cached while the file's size and mtime stay the same."""
    p = os.path.abspath(os.fspath(path))
    st = os.stat(p)
    key = (p, st.st_size, st.st_mtime_ns)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    digest = sha256sum(p)
    with _LOCK:
        _CACHE[key] = digest
    return digest


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def software_versions() -> dict[str, str]:
    """Versions of the packages whose code touches the numbers."""
    from .. import __version__

    out = {"nircam_gui": __version__, "python": platform.python_version()}
    for dist in ("jwst", "stcal", "stdatamodels", "crds", "numpy", "scipy", "astropy", "photutils", "bottleneck",
                 "numba"):
        out[dist] = _version(dist)
    return out
