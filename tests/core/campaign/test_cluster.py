"""The local cluster a campaign starts: how each worker's thread pools are sized."""

from __future__ import annotations

import os

import pytest

from nircam_gui.core.campaign import ClusterSpec, open_client


def _threads_env() -> tuple[str | None, str | None]:
    return os.environ.get("NUMBA_NUM_THREADS"), os.environ.get("OPENBLAS_NUM_THREADS")


def _compute_settings() -> tuple[str | None, str | None]:
    return os.environ.get("OMP_WAIT_POLICY"), os.environ.get("NUMPY_MADVISE_HUGEPAGE")


def test_threads_sets_each_local_workers_numba_and_blas_pools():
    with open_client(ClusterSpec(workers=1, threads=3), 1) as client:
        client.wait_for_workers(1)
        seen = list(client.run(_threads_env).values())
        # OpenMP threads that sleep (read when the worker's first kernel starts its threads); numpy
        # has read its huge-page variable before the nanny sets these, so every task also calls
        # nircam_gui.core.runtime.configure_compute
        settings = list(client.run(_compute_settings).values())
    assert seen == [("3", "3")]
    assert settings == [("PASSIVE", "0")]


def test_default_threads_share_the_cores_among_the_workers():
    with open_client(ClusterSpec(workers=2), 2) as client:
        client.wait_for_workers(2)
        seen = list(client.run(_threads_env).values())
    share = str(max(1, (os.cpu_count() or 1) // 2))
    assert seen == [(share, share)] * 2


@pytest.mark.parametrize("bad", [0, -2])
def test_threads_below_one_is_refused_with_the_option_named(bad):
    with pytest.raises(ValueError, match="--threads"):
        ClusterSpec(threads=bad)
