"""The log and progress area: messages, a progress bar and a Cancel button."""

from __future__ import annotations

import html
import logging
import time

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .workers import TaskRunner, Worker

__all__ = ["LogPanel", "QtLogHandler"]

_COLOURS = {logging.WARNING: "#b8860b", logging.ERROR: "#c0392b", logging.CRITICAL: "#c0392b"}

#: Tasks shorter than this (seconds) end without a log line: reading a group or drawing a
#: frame happens on every key press and would bury the lines that matter.
ANNOUNCE_AFTER_S = 5.0


def ending_text(worker: Worker, clock: str | None = None) -> str:
    """One line saying how a task ended and when, e.g. "Gain analysis finished at 04:31:07 (12.4 s)"."""
    clock = clock or time.strftime("%H:%M:%S")
    verb = {"finished": "finished", "cancelled": "cancelled", "failed": "failed"}.get(worker.outcome, "stopped")
    return f"{worker.name} {verb} at {clock} ({_duration(worker.seconds)})"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, s = divmod(int(round(seconds)), 60)
    return f"{minutes} min {s:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


class _Bridge(QObject):
    record = Signal(int, str)


class QtLogHandler(logging.Handler):
    """Sends log records to the panel through a signal, so any thread may log."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.bridge = _Bridge()
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.bridge.record.emit(record.levelno, self.format(record).splitlines()[0])
        except RuntimeError:  # the panel is gone (application closing)
            pass


class LogPanel(QWidget):
    """Log messages above a progress row: task name, progress bar, Cancel.

    The panel follows a :class:`TaskRunner`: it shows the most recent running task;
    Cancel asks every running task to stop.
    """

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.text = QPlainTextEdit(readOnly=True)
        self.text.setMaximumBlockCount(5000)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setPlaceholderText("Messages and the progress of background work appear here.")
        self.task_label = QLabel("Idle")
        self.task_label.setMinimumWidth(120)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running task (Esc)")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.task_label)
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 4)
        layout.addWidget(self.text, 1)
        layout.addLayout(row)

        self.handler = QtLogHandler()
        self.handler.bridge.record.connect(self.append, Qt.ConnectionType.QueuedConnection)
        runner.task_started.connect(self._task_started)
        runner.task_finished.connect(self._task_finished)
        self._current: Worker | None = None
        self._last_ending: tuple[int, str] = (0, "")

    # -- messages ---------------------------------------------------------------------
    def append(self, level: int, message: str) -> None:
        """Add one line, coloured by level, with the time."""
        stamp = time.strftime("%H:%M:%S")
        text = html.escape(message)
        colour = _COLOURS.get(level)
        if colour:
            text = f'<span style="color:{colour}">{text}</span>'
        self.text.appendHtml(f'<span style="color:#888">{stamp}</span>&nbsp; {text}')

    def messages(self) -> str:
        return self.text.toPlainText()

    # -- tasks ------------------------------------------------------------------------
    def _task_started(self, worker: Worker) -> None:
        self._current = worker
        worker.progressed.connect(lambda f, m, w=worker: self._progressed(w, f, m))
        self.task_label.setText(worker.name)
        self.progress.setValue(0)
        # no percentage until the task reports one: "0%" would read as "nothing happens"
        self.progress.setFormat("starting…")
        self.cancel_button.setEnabled(True)

    def _progressed(self, worker: Worker, fraction: float, message: str) -> None:
        if worker is not self._current:
            return
        self.progress.setValue(int(round(1000 * min(max(fraction, 0.0), 1.0))))
        self.progress.setFormat(f"%p%  {message}" if message else "%p%")

    def _task_finished(self, worker: Worker) -> None:
        announce = (worker.outcome == "cancelled" or worker.in_process
                    or worker.seconds >= ANNOUNCE_AFTER_S)
        ending = ending_text(worker)
        if announce and worker.outcome != "failed":  # failures are reported by the window
            logging.getLogger("nircam_gui").info(ending)
        if announce:
            self._last_ending = (1000 if worker.outcome == "finished" else 0, ending)
        running = [w for w in self.runner.workers if w.is_running]
        if running:
            self._current = running[-1]
            self.task_label.setText(self._current.name)
            return
        self._current = None
        self.cancel_button.setEnabled(False)
        self.task_label.setText("Idle")
        # the bar keeps saying how the last long task ended, not what a quick read did
        value, text = self._last_ending
        self.progress.setValue(value)
        self.progress.setFormat(text.replace("%", "%%"))
        self.progress.setToolTip(text)

    def cancel(self) -> None:
        """Ask all running tasks to stop."""
        if self.runner.workers:
            logging.getLogger("nircam_gui").info("Cancelling...")
        self.runner.cancel_all()
