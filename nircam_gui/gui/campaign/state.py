"""The Campaign window's table, Qt-free: one row per detector, from the campaign's progress and outcomes."""

from __future__ import annotations

import os
import pickle
import threading
from dataclasses import dataclass, field

__all__ = ["CampaignRow", "CampaignTable", "load_result", "run_campaign_task"]

#: columns of the table
COLUMNS = ("detector", "state", "progress", "key numbers", "worker")


@dataclass
class CampaignRow:
    detector: str
    state: str = "queued"
    fraction: float = 0.0
    message: str = ""
    numbers: str = ""
    worker: str = ""
    error: str = ""
    folder: str = ""

    def cells(self) -> tuple[str, ...]:
        progress = f"{100 * self.fraction:.0f}%" + (f" {self.message}" if self.state == "running" and self.message
                                                     else "")
        return (self.detector, self.state, progress, self.error or self.numbers, self.worker)

    @property
    def openable(self) -> bool:
        return self.state in ("done", "skipped") and bool(self.folder)


def key_numbers(analysis: str, summary: dict) -> str:
    """One line of a detector's key numbers (what the instrument tables hold)."""
    if not summary:
        return ""
    if analysis == "gain":
        normal = [s for s in summary.get("sectors", []) if s["region"] == "normal"]
        gains = " ".join(f"{s['gain']:.3f}" for s in sorted(normal, key=lambda s: s["amp"]))
        voids = [s for s in summary.get("sectors", []) if s["region"] != "normal"]
        used = summary.get("first_pair", {}).get("first_pair_used")
        text = f"sectors {gains} e-/ADU"
        if voids:
            text += "; void " + " ".join(f"{s['gain']:.3f}" for s in voids)
        if used is not None:
            text += f"; pair 1 {'used' if used else 'dropped'}"
        return text
    flats = summary.get("flats", [])
    return (f"{summary.get('n_images', 0)} images, {len(flats)} FLAT files "
            f"({', '.join(f['filter'] for f in flats)}), {summary.get('n_dead', 0)} new dead pixels")


@dataclass
class CampaignTable:
    """Rows of the table; fed from a worker thread (:meth:`update`), read from the GUI thread."""

    analysis: str = "gain"
    rows: dict[str, CampaignRow] = field(default_factory=dict)
    outdir: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    #: bumped at every change, so the view redraws only when something moved
    version: int = 0

    def reset(self, analysis: str, detectors, outdir: str) -> None:
        with self._lock:
            self.analysis, self.outdir = analysis, outdir
            self.rows = {d: CampaignRow(d) for d in detectors}
            self.version += 1

    def update(self, progress) -> None:
        """Take a :class:`~nircam_gui.core.campaign.CampaignProgress` (any thread)."""
        with self._lock:
            for det, state in progress.states.items():
                row = self.rows.setdefault(det, CampaignRow(det))
                row.state = state
                row.fraction = progress.fractions.get(det, row.fraction)
                row.message = progress.messages.get(det, "")
                row.worker = progress.workers.get(det, row.worker)
            self.version += 1

    def finish(self, result) -> None:
        """Take the :class:`~nircam_gui.core.campaign.CampaignResult` (states, numbers, folders)."""
        with self._lock:
            for det, o in result.outcomes.items():
                row = self.rows.setdefault(det, CampaignRow(det))
                row.state, row.error = o.state, o.error
                row.fraction = 1.0 if o.state in ("done", "skipped") else row.fraction
                row.numbers = key_numbers(result.analysis, o.summary)
                row.worker = f"{o.host}:{o.pid}" if o.host else row.worker
                row.folder = os.fspath(result.outdir / det) if o.state in ("done", "skipped") else ""
            self.version += 1

    def snapshot(self) -> list[CampaignRow]:
        with self._lock:
            return [CampaignRow(**{k: getattr(r, k) for k in CampaignRow.__dataclass_fields__})
                    for r in self.rows.values()]


def run_campaign_task(analysis: str, paths: list[str], outdir: str, refs: list[str], options, workers: int | None,
                      scheduler: str | None, keep_going: bool, table: CampaignTable, progress=None, cancel=None):
    """Plan and run a campaign (in a background thread); the table follows it.

    The detectors' results are kept beside their products (``result.pickle``) so the GUI
    can show one in the Gain or Sky-flat views without recomputing it.
    """
    from ...core.campaign import CampaignError, ClusterSpec, plan_gain, plan_skyflat, run_campaign
    from ...core.options import provenance

    if analysis == "gain":
        values = {k: v for k, v in provenance(options).items()
                  if k not in ("superbias", "linearity", "saturation", "mask", "ipc_kernel", "regions")}
        plan = plan_gain(paths, values, refs=refs, regions=paths)
    else:
        plan = plan_skyflat(paths, options, refs=refs)
    table.reset(analysis, plan.jobs, outdir)
    if plan.problems and not keep_going:
        raise CampaignError("\n".join(plan.problems))

    def step(p):
        table.update(p)
        if progress is not None:
            progress(p.fraction, p.line())

    result = run_campaign(plan, outdir, cluster=ClusterSpec(workers=workers, scheduler=scheduler or None),
                          keep_going=keep_going, settings={"figures": False, "keep_result": True}, progress=step,
                          cancel=cancel, command=["nircam-gui", "campaign"])
    table.finish(result)
    return result


def load_result(folder: str):
    """The result a campaign kept for one detector (``result.pickle`` in its folder)."""
    from ...core.campaign.tasks import RESULT_FILE
    from ...core.errors import NircamFileError

    path = os.path.join(folder, RESULT_FILE)
    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except FileNotFoundError:
        raise NircamFileError(path, "no kept result: this detector was run from the command line; "
                                    "run the campaign from the Campaign tab to view it here") from None
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError) as exc:
        raise NircamFileError(path, f"cannot be read ({exc})") from None
