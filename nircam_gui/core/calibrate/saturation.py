"""Saturation flagging, streamed: jwst SaturationStep's rules with state kept across chunks.

Which values are compared with the threshold
--------------------------------------------
A SATURATION reference file holds thresholds in *raw* DN, bias included: in
calwebb_detector1 the saturation step runs before the superbias subtraction. The
report's Table 1 flags saturation after superbias, even/odd, IPC and drift
corrections, where a raw threshold no longer applies. We therefore compare the
threshold with the *raw* values of each group (read for the chunk anyway), exactly
what the reference file means, and attach the flags at Table 1's position; flags do
not change the data, so the position only matters for the linearity step, which
comes after and skips the flagged groups. Comparing calibrated values with
"threshold minus superbias" would also depend on the even/odd, drift and IPC
corrections (hundreds of ADU per amplifier and group) and on the superbias being
present at all.

Rules (stcal ``flag_saturated_pixels``, as run by jwst 3.0 SaturationStep)
-----------------------------------------------------------------------
* a pixel is SATURATED in a group when its raw value reached the threshold in that
  group or any earlier one (a running "ever saturated" tally: this is the state that
  must cross chunk boundaries);
* thresholds that are NaN or flagged NO_SAT_CHECK are set above the A/D limit;
* raw values <= 0 get AD_FLOOR | DO_NOT_USE in that group only;
* the SATURATED flags of each group grow by ``n_pix_grow_sat`` pixels (square box);
* the reference file DQ is OR-ed into PIXELDQ.
The read-pattern passes of stcal only act on frame-averaged groups (NFRAMES > 1)
and in group 2; for NFRAMES > 1 this class applies the dilution-factor pass within
a chunk only, which is why :mod:`.pipeline` warns for such data.
"""

from __future__ import annotations

import numpy as np

from ..dq import DO_NOT_USE, PIXEL, SATURATED

__all__ = ["ATOD_LIMIT", "SaturationFlagger", "grow_flags"]

ATOD_LIMIT = 65535.0
AD_FLOOR = PIXEL["AD_FLOOR"]
NO_SAT_CHECK = PIXEL["NO_SAT_CHECK"]


def grow_flags(mask: np.ndarray, n: int) -> np.ndarray:
    """Dilate a boolean mask with a (2n+1) square box, edges included (stcal's ``_adjacent_pixels``).

    The box is separable: ORs of shifted rows, then of shifted columns. On a full frame this
    takes 2 ms where ``ndimage.maximum_filter`` took 45 ms (and it runs for every group).
    """
    if n <= 0:
        return mask
    mask = np.asarray(mask, dtype=bool)
    rows = mask.copy()
    for s in range(1, n + 1):
        rows[s:] |= mask[:-s]
        rows[:-s] |= mask[s:]
    out = rows.copy()
    for s in range(1, n + 1):
        out[:, s:] |= rows[:, :-s]
        out[:, :-s] |= rows[:, s:]
    return out


class SaturationFlagger:
    """Flags groups of one integration chunk by chunk; call :meth:`flag` in group order.

    Parameters
    ----------
    threshold : ndarray
        Raw-DN threshold map (ny, nx) from the SATURATION reference file.
    ref_dq : ndarray, optional
        Its DQ array.
    n_pix_grow_sat : int
    copy : bool
        False lets the flagger keep and change ``threshold`` and ``ref_dq`` (arrays just read
        from the file, which nobody else holds) instead of copying them.
    """

    def __init__(self, threshold: np.ndarray, ref_dq: np.ndarray | None = None, n_pix_grow_sat: int = 1,
                 copy: bool = True) -> None:
        own = np.array if copy else np.asarray
        thr = own(threshold, dtype=np.float32)
        dq = np.zeros(thr.shape, np.uint32) if ref_dq is None else own(ref_dq, np.uint32)
        nan = np.isnan(thr)
        if nan.any():
            dq[nan] |= NO_SAT_CHECK
        no_check = (dq & NO_SAT_CHECK) != 0  # the NaN thresholds now among them
        np.copyto(thr, np.float32(ATOD_LIMIT + 1), where=no_check)
        self.threshold = thr
        self.ref_dq = dq
        self.n_grow = int(n_pix_grow_sat)
        self.ever = np.zeros(thr.shape, bool)
        self.next_group = 0

    def fresh(self) -> "SaturationFlagger":
        """A flagger with the same (shared) thresholds and its own tally."""
        new = object.__new__(SaturationFlagger)
        new.threshold, new.ref_dq, new.n_grow = self.threshold, self.ref_dq, self.n_grow
        new.ever = np.zeros(self.threshold.shape, bool)
        new.next_group = 0
        return new

    def reset(self) -> None:
        """Start a new integration."""
        self.ever[:] = False
        self.next_group = 0

    def flag(self, raw: np.ndarray, groupdq: np.ndarray, first_group: int) -> None:
        """OR the saturation/A-D floor flags of raw groups ``(n, ny, nx)`` into ``groupdq`` in place."""
        if first_group != self.next_group:
            raise ValueError(f"saturation flags must be computed in group order: expected group "
                             f"{self.next_group}, got {first_group}")
        sat = np.uint8(SATURATED)
        low = np.uint8(AD_FLOOR | DO_NOT_USE)
        for k in range(raw.shape[0]):
            plane = raw[k]
            self.ever |= plane >= self.threshold
            flags = grow_flags(self.ever | ((groupdq[k] & sat) != 0), self.n_grow)
            groupdq[k] |= flags.astype(np.uint8) * sat
            groupdq[k] |= (plane <= 0).astype(np.uint8) * low
        self.next_group = first_group + raw.shape[0]
