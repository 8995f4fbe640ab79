"""JWST data-quality bits, as defined by stdatamodels, and their decoding."""

from __future__ import annotations

import numpy as np
from stdatamodels.jwst.datamodels import dqflags

__all__ = ["PIXEL", "decode", "has_flag"]

#: name -> bit value, straight from stdatamodels so it follows the pipeline.
PIXEL: dict[str, int] = dict(dqflags.pixel)

DO_NOT_USE = PIXEL["DO_NOT_USE"]
SATURATED = PIXEL["SATURATED"]
DEAD = PIXEL["DEAD"]
HOT = PIXEL["HOT"]
LOW_QE = PIXEL["LOW_QE"]
NO_FLAT_FIELD = PIXEL["NO_FLAT_FIELD"]
REFERENCE_PIXEL = PIXEL["REFERENCE_PIXEL"]


def decode(value: int) -> list[str]:
    """Names of the DQ bits set in ``value`` (empty for 0), lowest bit first."""
    value = int(value)
    return [name for name, bit in sorted(PIXEL.items(), key=lambda kv: kv[1]) if bit and value & bit]


def has_flag(dq: np.ndarray, flag: int | str) -> np.ndarray:
    """Boolean array, True where ``dq`` has ``flag`` (a bit value or a name) set."""
    bit = PIXEL[flag] if isinstance(flag, str) else int(flag)
    return (np.asarray(dq).astype(np.uint32) & np.uint32(bit)) != 0
