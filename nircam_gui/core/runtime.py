"""Process-wide settings for a process that runs the compute kernels.

Two library defaults cost a gain run on two cores about a tenth of its time (measured
side by side in ``benchmarks/bench_gain.py``):

* **OpenMP threads that spin.** numba's parallel kernels run on OpenMP (libgomp). When
  a parallel region ends, GNU OpenMP keeps its threads spinning for a while, waiting for
  the next one. Between the kernels this process runs Python, reads files and hashes
  them in other threads: on two cores the spinning thread takes a core from them
  (~0.4 s of CPU in a gain run). ``OMP_WAIT_POLICY=PASSIVE`` puts the threads to sleep
  at once; waking them costs microseconds, against kernels of milliseconds.
* **Transparent huge pages.** numpy asks the kernel for huge pages for every array of
  4 MB and more (``madvise``). Where memory is fragmented, each such page fault makes
  the kernel compact memory first: ~1.9 s of system time in a gain run on a 2-core
  machine, against ~1.0 s without. The large working arrays are reused (:class:`.BufferPool`), so
  the huge pages' fewer TLB misses do not pay that back.

A user's own setting of ``OMP_WAIT_POLICY`` or ``NUMPY_MADVISE_HUGEPAGE`` is kept.
"""

from __future__ import annotations

import os

__all__ = ["configure_compute", "worker_environment"]

#: the settings as environment variables, for the processes a process starts
_SETTINGS = {"OMP_WAIT_POLICY": "PASSIVE", "NUMPY_MADVISE_HUGEPAGE": "0"}
_DONE = False


def configure_compute() -> None:
    """Apply the settings above to this process, once; call it before the first parallel kernel.

    OpenMP reads ``OMP_WAIT_POLICY`` when numba starts its threads (the first parallel
    kernel of the process); later it has no effect. The huge-page request applies to the
    arrays allocated from then on.
    """
    global _DONE
    if _DONE:
        return
    _DONE = True
    os.environ.setdefault("OMP_WAIT_POLICY", _SETTINGS["OMP_WAIT_POLICY"])
    if "NUMPY_MADVISE_HUGEPAGE" not in os.environ:  # numpy, imported already, has read it
        try:
            from numpy._core.multiarray import _set_madvise_hugepage
        except ImportError:  # numpy < 2
            try:
                from numpy.core.multiarray import _set_madvise_hugepage
            except ImportError:
                return
        _set_madvise_hugepage(False)


def worker_environment() -> dict[str, str]:
    """The same settings as environment variables, for processes started by this one
    (a Dask worker, a GUI worker): what :func:`configure_compute` would set, unless this
    process's environment already says otherwise."""
    return {name: os.environ.get(name, value) for name, value in _SETTINGS.items()}
