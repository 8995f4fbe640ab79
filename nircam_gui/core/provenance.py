"""Provenance shared by every product: software versions and input checksums.

Checksums of large reference files (a full-frame LINEARITY file is ~70 MB) are cached
by path, size and modification time, so asking for provenance once per chunk or per
file costs nothing after the first time. An analysis that will record the checksums of
its inputs (ten full-frame ramps are ~1.2 GB, ~0.7 s of SHA-256 on one core) starts them
with :func:`prefetch_checksums` while it works: the hashing runs in a thread beside the work
(hashlib releases the GIL) at a lower priority, on the cores the work leaves idle
(:mod:`.background`). :func:`file_checksum` hashes a file the thread has not begun itself,
and waits for the one being hashed only as long as hashing it would take.
"""

from __future__ import annotations

import functools
import os
import platform
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from importlib import metadata

from .background import lower_priority
from .fileio import sha256sum

__all__ = ["file_checksum", "file_checksums", "known_checksums", "prefetch_checksums", "remember_checksums",
           "software_versions"]

_CACHE: dict[tuple[str, int, int], str] = {}
_PENDING: dict[tuple[str, int, int], Future] = {}
_LOCK = threading.Lock()
_POOL: ThreadPoolExecutor | None = None
_SLOW_HASH_RATE = 400e6  # bytes/s: SHA-256 without CPU support; ~1.7e9 with it


def _key(path: str | os.PathLike) -> tuple[str, int, int]:
    p = os.path.abspath(os.fspath(path))
    st = os.stat(p)
    return p, st.st_size, st.st_mtime_ns


def file_checksum(path: str | os.PathLike) -> str:
    """Hex SHA-256 of ``path``, cached while the file's size and mtime stay the same."""
    key = _key(path)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        pending = _PENDING.get(key)
        if pending is not None and pending.cancel():
            # not begun by the thread: hashed here, at the caller's priority, while the
            # thread goes on with the next file
            del _PENDING[key]
            pending = None
    if pending is not None:
        try:
            # the file being hashed: waited for as long as hashing it takes an idle core, not
            # as long as a low-priority thread may take on a loaded machine
            return pending.result(timeout=0.05 + key[1] / _SLOW_HASH_RATE)
        except (OSError, TimeoutError):
            pass  # hashed here, so an error is the caller's
    digest = sha256sum(key[0])
    with _LOCK:
        _CACHE[key] = digest
    return digest


def file_checksums(paths) -> list[str]:
    """:func:`file_checksum` of each of ``paths``, the files not yet hashed hashed on every core
    (for a caller that needs them all at once, e.g. to write a product's provenance)."""
    paths = [os.fspath(p) for p in paths]
    with _LOCK:
        todo = sum(1 for p in dict.fromkeys(paths) if _known(p) is None)
    workers = min(todo, os.cpu_count() or 1)
    if workers <= 1:
        return [file_checksum(p) for p in paths]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="checksum-now") as pool:
        return list(pool.map(file_checksum, paths))


def _known(path: str) -> str | None:
    try:
        return _CACHE.get(_key(path))
    except OSError:
        return None


def known_checksums(paths) -> dict[tuple[str, int, int], str]:
    """Checksums of ``paths`` (hashed now where not yet known), keyed by path, size and mtime.

    For another process that will record the same files (:func:`remember_checksums`): a
    file changed in between has another key there and is hashed again.
    """
    out = {}
    for path in dict.fromkeys(os.fspath(p) for p in paths):
        key = _key(path)
        digest = file_checksum(path)
        if _key(path) == key:  # not changed while it was hashed
            out[key] = digest
    return out


def remember_checksums(known: dict[tuple[str, int, int], str]) -> None:
    """Take checksums computed by another process (:func:`known_checksums`) into the cache."""
    with _LOCK:
        _CACHE.update(known)


def _hash_into_cache(key: tuple[str, int, int]) -> str:
    digest = sha256sum(key[0])
    with _LOCK:
        _CACHE[key] = digest
        _PENDING.pop(key, None)
    return digest


def prefetch_checksums(paths) -> None:
    """Start hashing ``paths`` in a background thread (one file at a time, in order);
    :func:`file_checksum` returns the result. Files that cannot be read are skipped."""
    global _POOL
    with _LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checksum", initializer=lower_priority)
        for path in dict.fromkeys(os.fspath(p) for p in paths):
            try:
                key = _key(path)
            except OSError:
                continue
            if key in _CACHE or key in _PENDING:
                continue
            _PENDING[key] = _POOL.submit(_hash_into_cache, key)


@functools.lru_cache(maxsize=None)
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
