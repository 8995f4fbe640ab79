"""Input checksums hashed beside the work: right digests, the caller never waits for a file not begun."""

from __future__ import annotations

import hashlib
import os
import sys
import threading

import pytest

from nircam_gui.core import provenance
from nircam_gui.core.background import BACKGROUND_NICENESS


def _files(tmp_path, n=3, size=1 << 20):
    paths = []
    for k in range(n):
        p = tmp_path / f"f{k}.bin"
        p.write_bytes(os.urandom(size))
        paths.append(p)
    return paths


@pytest.fixture
def clean_cache():
    provenance._CACHE.clear()
    yield
    provenance._CACHE.clear()


def test_prefetched_digests_are_sha256(tmp_path, clean_cache):
    paths = _files(tmp_path)
    provenance.prefetch_checksums(paths)
    for p in paths:
        assert provenance.file_checksum(p) == hashlib.sha256(p.read_bytes()).hexdigest()


def test_a_file_the_thread_has_not_begun_is_hashed_by_the_caller(tmp_path, clean_cache):
    paths = _files(tmp_path, n=2)
    provenance.prefetch_checksums([])  # the pool exists
    release = threading.Event()
    busy = provenance._POOL.submit(release.wait, 30)  # the hashing thread is held
    try:
        provenance.prefetch_checksums(paths)
        # queued behind the held task: file_checksum must not wait for the thread
        digest = provenance.file_checksum(paths[1])
        assert not busy.done()
        assert digest == hashlib.sha256(paths[1].read_bytes()).hexdigest()
    finally:
        release.set()
    busy.result()
    assert provenance.file_checksum(paths[0]) == hashlib.sha256(paths[0].read_bytes()).hexdigest()
    assert not provenance._PENDING


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness is Linux's")
def test_the_hashing_thread_runs_at_a_lower_priority(clean_cache):
    provenance.prefetch_checksums([])
    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    theirs = provenance._POOL.submit(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())).result()
    assert theirs >= min(own + BACKGROUND_NICENESS, 19)
    assert own == os.getpriority(os.PRIO_PROCESS, threading.get_native_id())  # the caller's is left alone


def test_the_caller_waits_for_a_file_being_hashed_only_as_long_as_hashing_takes(tmp_path, clean_cache, monkeypatch):
    (path,) = _files(tmp_path, n=1)
    real = provenance.sha256sum
    release, started = threading.Event(), threading.Event()

    def stalled(p):  # the thread's hashing stalls, as a starved low-priority thread would
        if threading.current_thread() is not threading.main_thread():
            started.set()
            release.wait(30)
        return real(p)

    monkeypatch.setattr(provenance, "sha256sum", stalled)
    try:
        provenance.prefetch_checksums([path])
        assert started.wait(10)
        (held,) = provenance._PENDING.values()
        assert provenance.file_checksum(path) == hashlib.sha256(path.read_bytes()).hexdigest()
        assert not held.done()  # returned while the thread is still held
    finally:
        release.set()


def test_file_checksums_hashes_what_is_left_and_keeps_the_order(tmp_path, clean_cache):
    paths = _files(tmp_path, n=4)
    provenance.prefetch_checksums(paths[:2])
    assert provenance.file_checksums([paths[3], paths[0], paths[2], paths[1], paths[3]]) == [
        hashlib.sha256(p.read_bytes()).hexdigest() for p in (paths[3], paths[0], paths[2], paths[1], paths[3])]
