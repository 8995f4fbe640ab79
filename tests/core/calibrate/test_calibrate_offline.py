"""jwst steps run with no CRDS server and no network, and leave the environment as it was."""

from __future__ import annotations

import os
import socket

import numpy as np
import pytest

from nircam_gui.core.calibrate.jwst_offline import make_ramp_model, offline_crds, run_step


def test_step_runs_without_network(full_frame, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    for key in ("CRDS_PATH", "CRDS_SERVER_URL"):
        monkeypatch.delenv(key, raising=False)
    from astropy.io import fits
    from jwst.dq_init import DQInitStep

    # importing jwst/crds writes crds's own configuration into the environment (and
    # normalises it on first use); what must come back as it was is what offline_crds sets
    touched = ("STPIPE_DISABLE_CRDS_STEPPARS", "CRDS_PATH", "CRDS_MODE", "CRDS_CONTEXT",
               "CRDS_SERVER_URL", "CRDS_READONLY_CACHE")
    before = {k: os.environ.get(k) for k in touched}

    with fits.open(full_frame.ramps[0]) as h:
        header = h[0].header.copy()
        raw = h["SCI"].section[0, 0:1]
    model = make_ramp_model(raw.astype(np.float32), header)
    result = run_step(DQInitStep, model, {"mask": str(full_frame.refs["MASK"])})
    assert result.meta.cal_step.dq_init == "COMPLETE"
    assert (result.pixeldq & 2**31).any()
    assert {k: os.environ.get(k) for k in touched} == before
    with offline_crds() as path:
        assert os.path.isfile(os.path.join(path, "config", "jwst", "server_config"))


def test_jwst_engine_refuses_small_frames(bright):
    from nircam_gui.core.calibrate import calibrate_integration
    from nircam_gui.core.errors import NircamFileError

    with pytest.raises(NircamFileError, match="2048"):
        next(iter(calibrate_integration(bright.ramps[0], 0, bright.config(engine="jwst"))))
