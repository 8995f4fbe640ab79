"""One sky-flat session shared by the "Sky flat" and "Dead pixels" tabs: the run, its result, export.

The run computes a :class:`~nircam_gui.core.skyflat.result.SkyflatResult` (arrays and
tables, nothing written) that stays in memory. The dead-pixel threshold can then move
freely (:class:`DeadPixelIndex` answers each position in microseconds), and *Export*
writes the products at the chosen threshold with the writer ``nircam-skyflat`` uses
(:func:`~nircam_gui.core.skyflat.products.write_skyflat_products`).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal

from ...core.skyflat.result import SkyflatResult
from ..workers import TaskRunner, Worker
from .state import DeadPixelViewState, SkyflatSetup, build_indexes, export_task, run_task

__all__ = ["SkyflatSession"]

log = logging.getLogger("nircam_gui")


class SkyflatSession(QObject):
    """The run, its result and the dead-pixel view state.

    Signals
    -------
    started(), progressed(float, str), finished()
        The run's life; ``finished`` comes after the result (or error, or cancel).
    result_changed()
        A new result (and its dead-pixel indexes) is ready.
    threshold_changed(float)
    error(str)
    exported(str, list)
        Folder and files written by an export.
    """

    started = Signal()
    progressed = Signal(float, str)
    finished = Signal()
    result_changed = Signal()
    threshold_changed = Signal(float)
    error = Signal(str)
    exported = Signal(str, list)

    #: run in a child process: photutils and the FITS writers hold the GIL for long stretches
    in_process = True

    def __init__(self, runner: TaskRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.setup = SkyflatSetup()
        self.view = DeadPixelViewState()
        self.result: SkyflatResult | None = None
        self.indexes: dict = {}
        #: where the result on screen comes from when it was not just computed ('' after a run)
        self.origin = ""
        self.worker: Worker | None = None
        self.export_worker: Worker | None = None
        self._indexing = False

    @property
    def running(self) -> bool:
        return self.worker is not None

    @property
    def busy(self) -> bool:
        return self.worker is not None or self.export_worker is not None or self._indexing

    # -- the run ----------------------------------------------------------------------
    def run(self) -> Worker | None:
        """Start a run with the current setup (no-op while one runs)."""
        if self.worker is not None:
            return None
        problems = self.setup.problems()
        if problems:
            self.error.emit(problems[0])
            return None
        files = [c.path for c in self.setup.images]
        n_det = len(self.setup.grouped())
        log.info("Sky flats: %d image%s on %d detector%s (Copy Command gives the same run as nircam-skyflat)",
                 len(files), "s" if len(files) != 1 else "", n_det, "s" if n_det != 1 else "")
        log.debug("Sky flats: %s", self.setup.command_line())
        self.worker = self.runner.run(
            run_task, files, self.setup.predictions, self.setup.run_kwargs(),
            name="Sky flats", in_process=self.in_process, on_result=self._ran, on_error=self._failed,
            on_finished=self._run_finished)
        self.worker.progressed.connect(self.progressed)
        self.worker.aborted.connect(self._aborted)
        self.started.emit()
        return self.worker

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()

    def _ran(self, result: SkyflatResult) -> None:
        for w in result.warnings:
            log.warning("Sky flats: %s", w)
        log.info("Sky flats: done in %.1f s; %s", result.seconds,
                 ", ".join(f"{d} {s.n_dead} new dead pixels" for d, s in result.detectors.items()))
        self.progressed.emit(0.99, "indexing dead-pixel candidates")
        # sorting the candidates of each detector takes ~0.2 s a frame: not in the GUI thread
        self._indexing = True
        self.runner.run(build_indexes, result, name="Indexing dead pixels",
                        on_result=lambda idx, r=result: self._indexed(r, idx),
                        on_error=self._failed, on_finished=self._indexing_done)

    def _indexing_done(self) -> None:
        self._indexing = False

    def _indexed(self, result: SkyflatResult, indexes: dict) -> None:
        self.restore(result, indexes)

    def restore(self, result: SkyflatResult, indexes: dict, detector: str | None = None,
                threshold: float | None = None, origin: str = "") -> None:
        """Show ``result`` with its dead-pixel ``indexes`` (a finished run, or a saved session).

        ``threshold`` defaults to the run's own dead-pixel threshold; ``detector`` to the one
        shown, or the result's first when that one is not in the result. ``origin`` says where
        a result that was not just computed comes from (a session file), '' for a run.
        """
        self.result, self.indexes, self.origin = result, indexes, origin
        self.view.threshold = float(result.options.dead_threshold if threshold is None else threshold)
        if detector in result.detectors:
            self.view.detector = detector
        elif self.view.detector not in result.detectors:
            self.view.detector = next(iter(result.detectors), "")
        self.result_changed.emit()
        self.threshold_changed.emit(self.view.threshold)

    def _failed(self, message: str) -> None:
        self.error.emit(message)

    def _aborted(self) -> None:
        log.info("Sky flats: cancelled; nothing was kept.")

    def _run_finished(self) -> None:
        self.worker = None
        self.finished.emit()

    # -- dead pixels ------------------------------------------------------------------
    def set_threshold(self, threshold: float) -> None:
        threshold = round(float(threshold), 4)
        if threshold != self.view.threshold:
            self.view.threshold = threshold
            self.threshold_changed.emit(threshold)

    def dead_counts(self) -> dict[str, int]:
        """New dead pixels per detector at the current threshold."""
        return {d: idx.count(self.view.threshold) for d, idx in self.indexes.items()}

    # -- export -----------------------------------------------------------------------
    def export(self, outdir: str) -> Worker | None:
        """Write the products to ``outdir`` at the current threshold, in the background."""
        if self.result is None or self.export_worker is not None:
            return None
        t = self.view.threshold
        self.export_worker = self.runner.run(
            export_task, self.result, outdir, t, name="Exporting sky flats",
            on_result=lambda files, o=outdir: self._exported(o, files), on_error=self.error.emit,
            on_finished=self._export_finished)
        return self.export_worker

    def _exported(self, outdir: str, files: list) -> None:
        log.info("Exported %d files to %s (dead-pixel threshold %g)", len(files), outdir, self.view.threshold)
        self.exported.emit(outdir, files)

    def _export_finished(self) -> None:
        self.export_worker = None
