"""Plain-Python state of the Gain tab (no Qt): what was run, what is shown, what may start.

As on the Sky-flat tab (:mod:`nircam_gui.gui.skyflat.state`), the panel is layout and
wiring; the decisions live here, testable without a display:

- the result on screen, the polygons it was run with and the box selection;
- the ramp check (pairing, signals) and whether a run can start;
- the box-grid preview: at most one computing, later requests collapsed into one, and
  a preview asked for before the result now on screen dropped when it arrives;
- the texts that describe a result.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from ...core.regionsio import write_polygons

__all__ = ["GainState", "PreviewQueue", "result_summary", "same_grid"]


def same_grid(a, b) -> bool:
    """Whether two box grids have the same boxes."""
    return a.labels.shape == b.labels.shape and a.nbox == b.nbox and np.array_equal(a.labels, b.labels)


def result_summary(result) -> str:
    """One line about a gain result: detector, pairs used, boxes, signal limit, time."""
    used = [p.number for p, u in zip(result.pairs, result.maps.pair_used) if u]
    return (f"{result.detector}: {len(result.pairs)} pairs (used {used}), {result.boxes.nbox} boxes of "
            f"{result.options.box} px, signal limit {result.signal_limit:g} ADU, "
            f"{result.timings.get('total_s', 0):.1f} s.")


def first_pair_note(result) -> str:
    """The first-pair test (report Table 5) in words."""
    fp = result.maps.first_pair
    return (f"First-pair test ({fp.mode}): {fp.reason}. "
            f"{'Pair 1 is anomalous.' if fp.anomalous else 'Pair 1 is not anomalous.'}")


@dataclass
class PreviewQueue:
    """At most one box-grid preview computing; requests meanwhile collapse into one more."""

    inflight: bool = False
    pending: bool = False

    def request(self) -> bool:
        """True when a preview should start now; otherwise one is queued."""
        if self.inflight:
            self.pending = True
            return False
        self.inflight = True
        return True

    def finished(self) -> bool:
        """The running preview ended; True when a queued one should start."""
        self.inflight = False
        if self.pending:
            self.pending = False
            return True
        return False


@dataclass
class GainState:
    """What the Gain tab holds between events."""

    result: object | None = None
    #: epoxy-void polygons the shown result was computed with (exported with it)
    run_polygons: list[np.ndarray] = field(default_factory=list)
    check: object | None = None  # RampCheck of the current files
    shape: tuple[int, int] | None = None
    selection: list[int] = field(default_factory=list)
    preview: PreviewQueue = field(default_factory=PreviewQueue)
    #: counts results shown: a grid preview asked for before the current result is dropped
    result_serial: int = 0
    #: whether the grid on screen is the result's (not a preview of changed settings)
    grid_is_result: bool = False

    def run_problem(self, files: list[str]) -> str:
        """Why a run cannot start ("" when it can)."""
        if not files:
            return "Choose the flat-field ramps first (Add…, or the browser's folder)."
        if self.check is not None and getattr(self.check, "pairing_error", ""):
            return self.check.pairing_error
        return ""

    def set_result(self, result, polygons: list[np.ndarray] | None = None) -> None:
        self.result = result
        self.result_serial += 1
        self.run_polygons = [p.copy() for p in (polygons or [])]
        self.shape = result.boxes.labels.shape

    def preview_verdict(self, grid, serial: int | None) -> str:
        """What to do with a finished grid preview: ``"stale"`` (drop it), ``"result"`` (it is
        the result's grid: show the result) or ``"changed"`` (show the new, unmeasured grid)."""
        if serial is not None and serial != self.result_serial:
            return "stale"
        if self.result is not None and same_grid(grid, self.result.boxes):
            return "result"
        return "changed"

    def valid_selection(self, box_ids: list[int]) -> list[int]:
        """The boxes of ``box_ids`` that exist in the shown result."""
        if self.result is None:
            return []
        return [b for b in box_ids if b <= self.result.boxes.nbox]

    def draw_warning(self) -> str:
        """What the region editor says when Draw starts: with a result on screen a new region
        changes the box grid but not the results shown ("" without a result)."""
        if self.result is None:
            return ""
        return "A new region changes the box grid: the results on screen stay until you run again."

    def export_boxes(self) -> list[int] | None:
        """The boxes whose PTC an export draws: those selected on screen when the grid shown is
        the result's, otherwise None (the exporter's own choice)."""
        return list(self.selection) if self.grid_is_result else None


def regions_for_run(polygons: list[np.ndarray], path: str | None, modified: bool, scratch: str | os.PathLike
                    ) -> str | None:
    """A DS9 file holding exactly ``polygons`` for the run to read: the region file itself when
    it is saved and unchanged, otherwise a copy written to ``scratch``; None without polygons."""
    if not polygons:
        return None
    if path and not modified and os.path.isfile(path):
        return path
    write_polygons(scratch, polygons)
    return os.fspath(scratch)


__all__ += ["first_pair_note", "regions_for_run"]
