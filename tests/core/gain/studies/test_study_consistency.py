"""Signal consistency (report Figure 9): group N - group 0 per integration against the injected lamp flux."""

import numpy as np
import pytest

from nircam_gui.core.gain.studies._common import calibration_for
from nircam_gui.core.gain.studies.consistency import signal_consistency, write_consistency
from nircam_gui.core.progress import Cancelled


@pytest.fixture(scope="module")
def consistency(study_sim, options_for):
    sim, _ = study_sim
    return signal_consistency(sim.ramps, calibration_for(options_for(sim)), 0, 7)


def test_signals_follow_the_injected_lamp_flux(consistency, study_sim):
    _, truth = study_sim
    lamp = np.array(truth["lamp_factors"])
    lamp[0] *= 1 + truth["config"]["first_int_flux_step"]
    t = consistency.table
    assert len(t) == 10 and list(t["pair"]) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    sig = np.asarray(t["signal"])
    # linearised calibrated signal is proportional to the flux: ratios to 1e-4
    np.testing.assert_allclose(sig / sig.mean(), lamp / lamp.mean(), atol=1e-4)
    # the step 1 -> 2, measured pixel by pixel, to its statistical error (~0.001%)
    expected = 100 * (lamp[1] / lamp[0] - 1)
    assert consistency.step_12_percent == pytest.approx(expected, abs=0.01)
    assert consistency.step_12 > 0  # the first integration is the low one, as for A4 and B1 in the report
    assert consistency.step_12_err < 0.5
    # the error bar is the spread across the detector (flat field, illumination), ~2-4% of the signal
    assert np.all((t["signal_std"] / t["signal"] > 0.01) & (t["signal_std"] / t["signal"] < 0.06))


def test_products_and_group_range(consistency, study_sim, tmp_path):
    out = write_consistency(consistency, tmp_path, "NRCB1")
    from astropy.table import Table

    t = Table.read(out["table"], format="ascii.ecsv")
    assert str(t["signal"].unit) == "adu" and t.meta["last_group"] == 7
    assert out["figure"].read_bytes()[:4] == b"\x89PNG"
    sim, _ = study_sim
    # the report's group 10 does not exist in an 8-group ramp: the last group is used, and said so
    res = signal_consistency(sim.ramps[:2], None, 0, 10)
    assert res.last_group == 7 and "group 7 used" in res.notes[0]
    with pytest.raises(ValueError):
        signal_consistency(sim.ramps[:2], None, 5, 3)


def test_cancel_stops_between_integrations(study_sim):
    sim, _ = study_sim
    calls = []
    with pytest.raises(Cancelled):
        signal_consistency(sim.ramps[:4], None, 0, 3, progress=lambda f, m: calls.append(f),
                           cancel=lambda: len(calls) > 2)
