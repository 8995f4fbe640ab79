"""Calibration of raw NIRCam ramps for the PTC gain (report JWST-STScI-004622, Table 1).

dq_init, superbias, even/odd columns, IPC, reference pixels (bias drift with the side
columns), saturation, linearity: through the jwst steps run offline
(:mod:`.jwst_offline`) or their numpy equivalents tested against them, streamed in
chunks of groups.
"""

from .config import STEP_ORDER, CalibrationConfig, CalibrationPlan, MissingReferenceWarning
from .pipeline import CalibratedChunk, calibrate_file, calibrate_integration

__all__ = [
    "STEP_ORDER",
    "CalibratedChunk",
    "CalibrationConfig",
    "CalibrationPlan",
    "MissingReferenceWarning",
    "calibrate_file",
    "calibrate_integration",
]
