"""Peak resident memory of this process, as benchmarks and campaign provenance report it."""

from __future__ import annotations

__all__ = ["peak_rss_mb"]


def peak_rss_mb() -> float:
    """The largest resident set this process has had so far, in MB (0 where unknown).

    Read from ``VmHWM`` in ``/proc/self/status`` on Linux. ``getrusage``'s ``ru_maxrss`` is the
    fallback only: on Linux it carries over the parent's resident set at ``fork`` into a child
    started with ``exec``, so a child of a large process (a benchmark that simulated its data
    in-process, a test session starting Dask workers) reports the parent's peak as its own.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux
    except (ImportError, OSError):
        return 0.0
