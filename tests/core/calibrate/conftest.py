"""Simulated ramps with injected truth for the calibration tests (built once per session)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from nircam_gui.core.calibrate import CalibrationConfig
from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats


@dataclass
class SimSet:
    ramps: list[Path]
    refs: dict[str, Path]
    truth: dict
    truth_fits: Path
    cfg: FlatSimConfig

    def config(self, **kw) -> CalibrationConfig:
        args = {name.lower(): str(self.refs[name]) for name in ("SUPERBIAS", "LINEARITY", "SATURATION", "MASK", "IPC")}
        args.update(kw)
        return CalibrationConfig(**args)

    def ext(self, name: str) -> np.ndarray:
        with fits.open(self.truth_fits) as h:
            return np.array(h[name].data)

    def expected_linear(self, integration: int, ngroups: int) -> np.ndarray:
        """Mean linear signal (ADU) per group: rate/gain * (g+1) * lamp factor."""
        per_group = self.ext("RATE_E") / self.ext("GAIN") * self.truth["lamp_factors"][integration]
        return per_group[None] * np.arange(1, ngroups + 1, dtype=np.float64)[:, None, None]


def _make(tmp_path_factory, name: str, **kw) -> SimSet:
    out = tmp_path_factory.mktemp(name)
    cfg = FlatSimConfig(**kw)
    res = simulate_flats(out, cfg)
    truth = json.loads(res.truth_json.read_text())
    return SimSet(res.ramps, res.references, truth, res.truth_fits, cfg)


@pytest.fixture(scope="session")
def full_frame(tmp_path_factory) -> SimSet:
    """2048x2048, 3 groups, bright enough that group 2 partly saturates (for jwst comparisons)."""
    return _make(tmp_path_factory, "cal_full", size=2048, nints=1, ngroups=3, adu_per_group=16800.0, seed=5)


@pytest.fixture(scope="session")
def faint(tmp_path_factory) -> SimSet:
    """Full frame, faint: photon noise small enough to see sub-ADU bias residuals (the reference
    rows of a full frame set the precision of the even/odd correction: ~0.35 ADU per parity)."""
    return _make(tmp_path_factory, "cal_faint", size=2048, nints=1, ngroups=2, adu_per_group=150.0, seed=6)


@pytest.fixture(scope="session")
def bright(tmp_path_factory) -> SimSet:
    """256x256, 2 integrations up to and past saturation (group ~16)."""
    return _make(tmp_path_factory, "cal_bright", size=256, nints=2, ngroups=18, adu_per_group=3000.0, seed=7)
