"""The box layout's kernels are loaded at application start, not at the first preview."""

from __future__ import annotations

import json
import subprocess
import sys

_PROBE = r"""
import json
import numpy as np
from nircam_gui.core.gain import boxes
from nircam_gui.gui.gain.tasks import preview_boxes, warm_box_layout

kernels = [name for name in dir(boxes) if hasattr(getattr(boxes, name), "signatures")]
warm_box_layout()
warm = {k: len(getattr(boxes, k).signatures) for k in kernels}
square = np.array([[300.0, 300.0], [700.0, 300.0], [700.0, 700.0], [300.0, 700.0]])
preview_boxes([square], 256, None, (2048, 2048))
after = {k: len(getattr(boxes, k).signatures) for k in kernels}
print(json.dumps({"warm": warm, "after": after}))
"""


def test_the_warm_up_loads_every_kernel_a_preview_uses():
    # in a fresh interpreter: this one has run the kernels already
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert sum(got["warm"].values()) > 0, "the warm-up loaded no kernel"
    # a preview with a void (and the merges of its edge pieces) needs nothing the warm-up did not load
    assert got["after"] == got["warm"]


def test_a_failed_warm_up_is_only_logged(monkeypatch, caplog):
    from nircam_gui.gui import app

    def broken():
        raise OSError("numba cache unreadable")

    monkeypatch.setattr(app, "warm_box_layout", broken)
    with caplog.at_level("DEBUG", logger="nircam_gui"):
        app._warm_kernels()  # runs in a daemon thread: it must not raise
    assert "kernel warm-up failed" in caplog.text
