"""Reference-file writing: the writer's warm-up in a thread."""

from __future__ import annotations

import warnings

import numpy as np
from stdatamodels.jwst import datamodels as dm

from nircam_gui.core import reffiles


def test_warm_up_files_are_whole_models(tmp_path):
    # the warm-up thread cannot silence warnings: its models must validate cleanly
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for reftype, arrays in (("GAIN", {"data": np.ones((8, 8), np.float32)}),
                                ("MASK", {"dq": np.zeros((8, 8), np.uint32)})):
            path = reffiles._write(tmp_path / f"{reftype}.fits", reftype, "NRCA1", arrays, description="warm-up",
                                   bunit="ELECTRONS/DN" if reftype == "GAIN" else None)
            with dm.open(path) as m:
                m.validate()


def test_write_waits_for_the_warm_up(tmp_path):
    reffiles.preload_writer()
    thread = reffiles._PRELOAD
    assert thread is not None
    path = reffiles.write_reference(tmp_path / "gain.fits", "GAIN", "NRCB1", {"data": np.full((16, 16), 2.0, np.float32)},
                                    description="test", bunit="ELECTRONS/DN")
    assert not thread.is_alive()
    with dm.GainModel(path) as m:
        assert m.meta.instrument.detector == "NRCB1" and np.all(m.data == 2.0)
    reffiles.preload_writer()  # once per process
    assert reffiles._PRELOAD is thread
