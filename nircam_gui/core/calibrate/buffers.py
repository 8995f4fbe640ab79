"""Working arrays lent to calibrations and taken back, for runs that calibrate many integrations.

A full-frame chunk of eight calibrated groups is ~170 MB (data and DQ) and the raw words
of the chunk another 64 MB. Fresh arrays of that size cost their page faults and the
kernel's zeroing of every page (a fifth of a gain run's CPU time, measured); a gain run
calibrates two integrations at a time, one chunk after the other, so two sets of arrays
serve all of them.
"""

from __future__ import annotations

import threading

import numpy as np

__all__ = ["BufferPool"]


class BufferPool:
    """Arrays by shape and type: :meth:`take` one (an old one when one is free), :meth:`give` it back.

    The pool holds only what was given back, so its memory is what its users held at most;
    it is freed with the pool. Thread-safe.
    """

    def __init__(self) -> None:
        self._free: dict[tuple, list[np.ndarray]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(shape, dtype) -> tuple:
        return tuple(int(n) for n in shape), np.dtype(dtype).str

    def take(self, shape, dtype) -> np.ndarray:
        """An array of this shape and type, contents undefined."""
        with self._lock:
            free = self._free.get(self._key(shape, dtype))
            if free:
                return free.pop()
        return np.empty(shape, dtype)

    def give(self, arr: np.ndarray) -> None:
        """Take ``arr`` back (its user must not touch it again)."""
        with self._lock:
            self._free.setdefault(self._key(arr.shape, arr.dtype), []).append(arr)
