"""Where a campaign runs: an embedded local Dask cluster, or one the user started.

With no address, a :class:`distributed.LocalCluster` of worker processes (one Dask thread
each: the analyses are numpy/numba code that holds the GIL in places, and each worker then
owns one detector's memory; the numba and BLAS thread pools of each worker get the machine's
cores divided by the number of workers) starts here and stops with the campaign. With ``scheduler`` (an
address such as ``tcp://host:8786``) or ``scheduler_file`` (what ``dask scheduler
--scheduler-file`` or dask-jobqueue writes), the campaign joins that cluster and leaves it
running. Workers of an external cluster must have nircam-gui installed and see the input
and output folders at the same paths.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

from ..runtime import worker_environment

__all__ = ["ClusterError", "ClusterSpec", "open_client"]


class ClusterError(ConnectionError):
    """The cluster named cannot be reached or started (the message says which)."""


@dataclass(frozen=True)
class ClusterSpec:
    """Which cluster a campaign uses.

    Attributes
    ----------
    workers : int or None
        Worker processes of the local cluster (default: one per core, at most the number
        of detectors); ignored with an external scheduler.
    scheduler : str or None
        Address of a running ``dask.distributed`` scheduler.
    scheduler_file : str or None
        Scheduler file of a running cluster.
    memory_limit : str
        Memory limit per local worker (Dask's syntax, ``"auto"`` shares the machine's).
    threads : int or None
        Numba and BLAS threads of each local worker (default: the machine's cores divided by
        the number of workers, so that the workers do not fight over cores); ignored with an
        external scheduler, whose workers are set up where they start.
    """

    workers: int | None = None
    scheduler: str | None = None
    scheduler_file: str | None = None
    memory_limit: str = "auto"
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.scheduler and self.scheduler_file:
            raise ValueError("give a scheduler address or a scheduler file, not both")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"--workers {self.workers}: use at least 1")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"--threads {self.threads}: use at least 1")
        if self.scheduler_file and not os.path.isfile(self.scheduler_file):
            raise ValueError(f"{self.scheduler_file}: scheduler file does not exist")

    @property
    def external(self) -> bool:
        return bool(self.scheduler or self.scheduler_file)


@contextlib.contextmanager
def open_client(spec: ClusterSpec, n_jobs: int = 1) -> Iterator:
    """A :class:`distributed.Client` on the cluster ``spec`` names, closed on exit.

    A local cluster started here is shut down on exit (its worker processes end, whatever
    they were doing); an external cluster is left running.

    Raises
    ------
    ClusterError
        The scheduler cannot be reached, or the local cluster not started.
    """
    from distributed import Client, LocalCluster

    if spec.external:
        try:
            client = Client(spec.scheduler, scheduler_file=spec.scheduler_file, timeout="20s",
                            set_as_default=False)
        except (OSError, TimeoutError) as exc:
            where = spec.scheduler or f"the scheduler in {spec.scheduler_file}"
            raise ClusterError(f"cannot reach {where}: {exc}") from None
        try:
            yield client
        finally:
            client.close()
        return
    n = spec.workers or max(1, min(os.cpu_count() or 1, n_jobs))
    # the fused calibration is a parallel numba kernel: each worker gets its share of the cores,
    # or n workers would each start a thread per core and fight over them
    threads = str(spec.threads or max(1, (os.cpu_count() or 1) // n))
    env = {name: threads for name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                      "MKL_NUM_THREADS")}
    env.update(worker_environment())  # OpenMP threads that sleep, no huge pages: see core.runtime
    # no dashboard: a second campaign (or a test) on this machine must not fight for port 8787.
    # The scheduler still serves its health routes, on 8787 or any free port; that it had to
    # take another one is of no interest to the user of a private cluster
    warnings.filterwarnings("ignore", message=r"Port \d+ is already in use", category=UserWarning,
                            module="distributed")
    try:
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                               memory_limit=spec.memory_limit, silence_logs=40, env=env)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"cannot start a local Dask cluster of {n} workers: {exc}") from None
    try:
        client = Client(cluster, set_as_default=False)
        try:
            yield client
        finally:
            client.close()
    finally:
        # a worker that ran the jwst steps can take longer than the nanny's 4 s to exit; it is
        # then killed, which is what closing wants: that is not worth a warning to the user
        nanny = logging.getLogger("distributed.nanny")
        level = nanny.level
        nanny.setLevel(logging.ERROR)
        try:
            cluster.close()
        finally:
            nanny.setLevel(level)


def describe_cluster(client) -> dict:
    """The scheduler and its workers, for provenance."""
    info = client.scheduler_info()
    workers = info.get("workers", {})
    return {"scheduler": client.scheduler.address,
            "workers": {addr: {"host": w.get("host", ""), "name": str(w.get("name", "")),
                               "nthreads": w.get("nthreads"), "memory_limit": w.get("memory_limit")}
                        for addr, w in workers.items()}}


__all__ += ["describe_cluster"]
