"""Integrations and their pairing: consecutive integrations (1/2, 3/4, ...), in time order.

The report (004622, section 4): non-consecutive pairs inflate the variance through the
lamp's flux drift, so integrations are paired in order of exposure start, across files
or within a multi-integration file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import NircamFileError
from ..readers import ExposureMeta, read_metadata, require_full_frame

__all__ = ["Integration", "Pair", "PairingError", "find_integrations", "make_pairs"]


class PairingError(NircamFileError):
    """Two integrations that cannot form a PTC pair, or a set that cannot be paired."""


@dataclass(frozen=True)
class Integration:
    """One integration: file, index in the file (0-based) and its metadata."""

    path: str
    index: int
    meta: ExposureMeta

    @property
    def label(self) -> str:
        name = os.path.basename(self.path)
        return name if self.meta.nints == 1 else f"{name}[{self.index + 1}]"

    @property
    def start(self) -> float:
        """Start of this integration (MJD), estimated inside multi-integration files."""
        m = self.meta
        t0 = m.start_mjd if m.start_mjd is not None else 0.0
        tint = (m.tgroup or 0.0) * m.ngroups
        return t0 + self.index * tint / 86400.0


@dataclass(frozen=True)
class Pair:
    """Two consecutive integrations; ``number`` is 1-based (pair 1 = integrations 1 and 2)."""

    number: int
    first: Integration
    second: Integration


def find_integrations(paths: list[str | os.PathLike]) -> list[Integration]:
    """All integrations in ``paths`` (files), ordered by exposure start, then file order.

    Raises
    ------
    NircamFileError
        A file that is not a ramp, or not full frame.
    """
    out = []
    for order, p in enumerate(paths):
        meta = read_metadata(p)
        if meta.kind not in ("uncal", "ramp", "ground_ramp"):
            raise NircamFileError(p, f"not a flat-field ramp; found {meta.description}")
        require_full_frame(meta, "the gain analysis")
        for i in range(meta.nints):
            out.append((meta.start_mjd is None, meta.start_mjd or 0.0, order, i, Integration(os.fspath(p), i, meta)))
    out.sort(key=lambda t: t[:4])
    return [t[-1] for t in out]


def _check_compatible(a: Integration, b: Integration) -> None:
    ma, mb = a.meta, b.meta
    checks = [
        ("detector", ma.detector, mb.detector),
        ("frame size", (ma.ny, ma.nx), (mb.ny, mb.nx)),
        ("number of groups", ma.ngroups, mb.ngroups),
        ("readout pattern", ma.readpatt, mb.readpatt),
        ("subarray", ma.subarray, mb.subarray),
    ]
    for what, va, vb in checks:
        if va != vb:
            raise PairingError(
                b.path, f"cannot pair {a.label} with {b.label}: {what} differs ({va} vs {vb})"
            )


def make_pairs(integrations: list[Integration]) -> list[Pair]:
    """Consecutive pairs 1/2, 3/4, ...; an odd last integration is left out.

    Raises
    ------
    PairingError
        Fewer than two integrations, or a pair whose members differ in detector,
        shape, number of groups, readout pattern or subarray.
    """
    if len(integrations) < 2:
        where = integrations[0].path if integrations else "(no files)"
        raise PairingError(where, "the PTC needs at least two integrations (one pair)")
    pairs = []
    for k in range(len(integrations) // 2):
        a, b = integrations[2 * k], integrations[2 * k + 1]
        _check_compatible(a, b)
        pairs.append(Pair(k + 1, a, b))
    # all pairs must describe the same detector, or the maps cannot be combined
    first = pairs[0].first
    for p in pairs[1:]:
        _check_compatible(first, p.first)
    return pairs

