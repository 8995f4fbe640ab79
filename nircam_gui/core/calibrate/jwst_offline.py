"""Run jwst pipeline steps offline: local reference files only, never CRDS.

Two things end a process that runs a jwst step with no CRDS server, even when every
reference file is given as ``override_<reftype>`` (DESIGN.md, "Facts"):

1. stpipe asks CRDS for step parameters: switched off by
   ``STPIPE_DISABLE_CRDS_STEPPARS=true``;
2. after the step, jwst records the CRDS context used, which loads the CRDS server
   configuration; with no server and no cache, crds calls ``sys.exit(-1)``.

:func:`offline_crds` creates a throw-away CRDS cache holding only
``config/jwst/server_config`` (no mappings, no references) and points CRDS at it
in local mode with a *serverless* URL: crds then skips every JSON-RPC call by design
(``"serverless" in url``) instead of trying the network. The variables are set only
while the context is active and restored afterwards, so a user's own CRDS setup is
not changed. Nothing has to be configured by hand on a fresh machine.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pprint
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping

import numpy as np
from astropy.io import fits

__all__ = ["OFFLINE_CONTEXT", "make_ramp_model", "offline_crds", "run_step"]

#: Placeholder context recorded in outputs; no rules are ever read from it.
OFFLINE_CONTEXT = "jwst_0000.pmap"
_SERVERLESS_URL = "https://jwst-serverless-mode.stsci.edu"

_LOCK = threading.RLock()
_CACHE_DIR: str | None = None


def _cache_dir() -> str:
    """One minimal CRDS cache per process, removed at exit."""
    global _CACHE_DIR
    if _CACHE_DIR is None or not os.path.isdir(_CACHE_DIR):
        import atexit

        root = tempfile.mkdtemp(prefix="nircam_gui_crds_")
        cfg = os.path.join(root, "config", "jwst")
        os.makedirs(cfg)
        info = {
            "observatory": "jwst",
            "operational_context": OFFLINE_CONTEXT,
            "edit_context": OFFLINE_CONTEXT,
            "versions_context": OFFLINE_CONTEXT,
            "bad_files_list": [],
            "force_remote_mode": False,
            "checked_for_bad_files": False,
            "last_synced": "never (nircam-gui offline cache)",
            "reference_url": {},
            "mapping_url": {},
        }
        with open(os.path.join(cfg, "server_config"), "w") as f:
            f.write(pprint.pformat(info))
        atexit.register(shutil.rmtree, root, True)
        _CACHE_DIR = root
    return _CACHE_DIR


@contextlib.contextmanager
def offline_crds() -> Iterator[str]:
    """Context in which jwst steps run without CRDS; yields the temporary CRDS_PATH.

    Re-entrant and thread-safe (the environment is process-wide, so steps run one
    at a time inside it).
    """
    with _LOCK:
        env = {
            "STPIPE_DISABLE_CRDS_STEPPARS": "true",
            "CRDS_PATH": _cache_dir(),
            "CRDS_MODE": "local",
            "CRDS_CONTEXT": OFFLINE_CONTEXT,
            "CRDS_SERVER_URL": _SERVERLESS_URL,
            "CRDS_READONLY_CACHE": "1",
        }
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            yield env["CRDS_PATH"]
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def run_step(step_class, model, references: Mapping[str, str | None] | None = None, quiet: bool = True, **params):
    """Run one jwst step on ``model`` offline and return its result.

    Parameters
    ----------
    step_class : type
        A ``jwst.stpipe.Step`` subclass, e.g. ``jwst.ipc.IPCStep``.
    model : DataModel
    references : mapping
        ``reftype -> path``; every type the step declares must be given (``None``
        becomes ``"N/A"``: the step then skips that file as it does in the pipeline).
    quiet : bool
        Keep the step's INFO log messages out of the way (one per step and chunk).
    **params
        Step parameters (``odd_even_columns=True`` ...).
    """
    references = dict(references or {})
    overrides = {}
    for reftype in step_class.reference_file_types:
        path = references.get(reftype)
        overrides[f"override_{reftype}"] = os.fspath(path) if path else "N/A"
    with offline_crds(), _quiet_logs(quiet):
        step = step_class(**overrides, **params)
        return step.run(model)


@contextlib.contextmanager
def _quiet_logs(quiet: bool) -> Iterator[None]:
    if not quiet:
        yield
        return
    names = ("stpipe", "jwst", "stcal", "CRDS", "crds")
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def make_ramp_model(data: np.ndarray, header: fits.Header, pixeldq: np.ndarray | None = None,
                    groupdq: np.ndarray | None = None):
    """A RampModel of one integration chunk ``(n, ny, nx)`` with the metadata of ``header``.

    Built from an in-memory HDU list, so the source file is never loaded whole. The
    exposure's NGROUPS/NINTS are set to the chunk's, as the steps read them.
    """
    from stdatamodels.jwst import datamodels as dm

    hdr = header.copy()
    for key in ("SIMPLE", "BITPIX", "NAXIS", "EXTEND", "NAXIS1", "NAXIS2", "NAXIS3", "NAXIS4", "BZERO", "BSCALE"):
        hdr.remove(key, ignore_missing=True, remove_all=True)
    hdr["NGROUPS"] = data.shape[0]
    hdr["NINTS"] = 1
    hdr["DATAMODL"] = "RampModel"
    hdul = fits.HDUList([fits.PrimaryHDU(header=hdr),
                         fits.ImageHDU(np.asarray(data, np.float32)[None], name="SCI")])
    with _quiet_logs(True):
        model = dm.RampModel(hdul)
    n, ny, nx = data.shape
    model.pixeldq = np.zeros((ny, nx), np.uint32) if pixeldq is None else np.array(pixeldq, np.uint32)
    model.groupdq = np.zeros((1, n, ny, nx), np.uint8) if groupdq is None else np.array(groupdq, np.uint8)[None]
    return model
