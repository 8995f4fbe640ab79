"""Process settings for the compute kernels (sleeping OpenMP threads, no huge pages), and that
the command-line runs and GUI workers apply them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

_PROBE = r"""
import json, os, sys
from numpy._core.multiarray import _get_madvise_hugepage
before = _get_madvise_hugepage()
{call}
print(json.dumps({{"omp": os.environ.get("OMP_WAIT_POLICY"), "huge_before": bool(before),
                  "huge_after": bool(_get_madvise_hugepage())}}))
"""


def _probe(call: str, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "NUMPY_MADVISE_HUGEPAGE")}
    out = subprocess.run([sys.executable, "-c", _PROBE.format(call=call)], env={**clean, **env},
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_configure_compute_puts_openmp_threads_to_sleep_and_stops_huge_pages():
    got = _probe("from nircam_gui.core.runtime import configure_compute\nconfigure_compute()")
    # numpy asks for huge pages by default on Linux: the probe sees the setting change
    assert got == {"omp": "PASSIVE", "huge_before": True, "huge_after": False}


def test_the_users_own_settings_are_kept():
    got = _probe("from nircam_gui.core.runtime import configure_compute\nconfigure_compute()",
                 OMP_WAIT_POLICY="ACTIVE", NUMPY_MADVISE_HUGEPAGE="1")
    assert got == {"omp": "ACTIVE", "huge_before": True, "huge_after": True}


def test_a_command_line_run_applies_them_before_its_work():
    call = ("from nircam_gui.cli._common import run_with_progress\n"
            "from numpy._core.multiarray import _get_madvise_hugepage\n"
            "code, seen = run_with_progress(lambda p, c: (os.environ.get('OMP_WAIT_POLICY'), "
            "_get_madvise_hugepage()), 'probe', quiet=True)\n"
            "assert code == 0 and seen == ('PASSIVE', False), seen")
    assert _probe(call)["omp"] == "PASSIVE"


def _settings(progress=None, cancel=None):
    from numpy._core.multiarray import _get_madvise_hugepage

    return os.environ.get("OMP_WAIT_POLICY"), bool(_get_madvise_hugepage())


def test_a_gui_worker_process_applies_them():
    import multiprocessing as mp

    from nircam_gui.gui._process import child_main

    ctx = mp.get_context("spawn")
    queue, cancel = ctx.Queue(), ctx.Event()
    child = ctx.Process(target=child_main, args=(_settings, (), {}, queue, cancel, "probe"))
    child.start()
    try:
        message = queue.get(timeout=60)
    finally:
        child.join(30)
    assert message[0] == "result", message
    assert tuple(message[1]) == ("PASSIVE", False)


@pytest.mark.parametrize("name", ["OMP_WAIT_POLICY", "NUMPY_MADVISE_HUGEPAGE"])
def test_worker_environment_passes_a_users_setting_on(name, monkeypatch):
    from nircam_gui.core.runtime import worker_environment

    monkeypatch.setenv(name, "custom")
    assert worker_environment()[name] == "custom"
