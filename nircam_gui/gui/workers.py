"""Background workers: run core computations off the GUI thread, with progress and Cancel.

Modelled on superqt's ``thread_worker``: a :class:`Worker` wraps a core-style function
``fn(*args, progress=..., cancel=..., **kwargs)``; the core calls ``progress(fraction,
message)`` and checks ``cancel()`` between units of work and raises
:class:`~nircam_gui.core.progress.Cancelled`.

Signals are emitted from the worker thread and delivered queued to the GUI thread, so
slots never run concurrently with the GUI. Progress is throttled (at most ~25 updates a
second) so a chatty computation cannot flood the event loop.

Long core computations can run in a child process instead (``in_process=True``): a thread
shares the GIL with the GUI, and some core steps hold it long enough to stall the window.
The signals are the same either way.

Errors never reach the user as tracebacks: a :class:`NircamFileError` becomes its message
("<file>: <problem>"); any other exception becomes a one-line message naming the task,
and the traceback goes to the log at debug level for developers.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from ..core.progress import Cancelled
from ._process import child_main, error_message

__all__ = ["TaskRunner", "Worker", "error_message"]

log = logging.getLogger("nircam_gui")

#: Minimum seconds between two progress signals of one worker.
PROGRESS_INTERVAL = 0.04


#: Seconds a child process gets to honour Cancel before it is terminated.
PROCESS_STOP_TIMEOUT = 20.0


class _ChildError(Exception):
    """An error already turned into a user message in the child process."""


class _Runnable(QRunnable):
    """The QRunnable that executes a :class:`Worker` in a pool thread."""

    def __init__(self, worker: "Worker") -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._worker = worker

    def run(self) -> None:  # noqa: D401 - Qt override
        self._worker._run()


class Worker(QObject):
    """One background task. Create it in the GUI thread, then :meth:`start` it.

    Signals
    -------
    started()
    progressed(float, str)
        Fraction done (0-1) and a short message.
    returned(object)
        The result, when the task finished.
    errored(str)
        A user-facing message naming the file and the problem.
    aborted()
        The task stopped because it was cancelled.
    finished()
        Always last, after returned, errored or aborted.
    """

    started = Signal()
    progressed = Signal(float, str)
    returned = Signal(object)
    errored = Signal(str)
    aborted = Signal()
    finished = Signal()

    def __init__(self, fn: Callable[..., Any], *args: Any, name: str = "", in_process: bool = False,
                 **kwargs: Any) -> None:
        super().__init__()
        self.fn = fn
        self.in_process = in_process
        self.args = args
        self.kwargs = kwargs
        self.name = name or getattr(fn, "__name__", "task")
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._running = False
        self._last_progress = 0.0
        self.result: Any = None
        self.error: str | None = None
        #: how the task ended: "" while running, then "finished", "cancelled" or "failed"
        self.outcome = ""
        #: time.monotonic() when the task was started and ended (0 until then)
        self.started_at = 0.0
        self.ended_at = 0.0

    # -- control, from the GUI thread -------------------------------------------------
    def start(self, pool: QThreadPool | None = None) -> None:
        """Queue the task on ``pool`` (the global pool by default)."""
        self._running = True
        self.started_at = time.monotonic()
        (pool or QThreadPool.globalInstance()).start(_Runnable(self))

    def cancel(self) -> None:
        """Ask the task to stop at its next cancel check."""
        self._cancel.set()

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def is_running(self) -> bool:
        return self._running and not self._done.is_set()

    @property
    def seconds(self) -> float:
        """How long the task ran (so far, while running)."""
        if not self.started_at:
            return 0.0
        return (self.ended_at or time.monotonic()) - self.started_at

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the task's thread is done with it; True if it finished in time."""
        return self._done.wait(timeout)

    # -- the worker thread -----------------------------------------------------------
    def _progress(self, fraction: float, message: str = "") -> None:
        now = time.monotonic()
        if now - self._last_progress >= PROGRESS_INTERVAL or fraction >= 1.0:
            self._last_progress = now
            self.progressed.emit(float(fraction), str(message))

    def _run(self) -> None:
        self.started.emit()
        try:
            if self._cancel.is_set():
                raise Cancelled("cancelled before it started")
            if self.in_process:
                result = self._run_in_process()
            else:
                params = inspect.signature(self.fn).parameters
                kwargs = dict(self.kwargs)
                if "progress" in params:
                    kwargs.setdefault("progress", self._progress)
                if "cancel" in params:
                    kwargs.setdefault("cancel", self._cancel.is_set)
                result = self.fn(*self.args, **kwargs)
                if self._cancel.is_set() and result is None:
                    raise Cancelled("cancelled")
            self.result = result
            self.outcome = "finished"
            self.returned.emit(result)
        except Cancelled:
            self.outcome = "cancelled"
            self.aborted.emit()
        except _ChildError as exc:
            self.error = str(exc)
            self.outcome = "failed"
            self.errored.emit(self.error)
        except Exception as exc:  # every error becomes a message, never a traceback
            log.debug("%s failed", self.name, exc_info=True)
            self.error = error_message(exc, self.name)
            self.outcome = "failed"
            self.errored.emit(self.error)
        finally:
            self.ended_at = time.monotonic()
            self._done.set()
            self.finished.emit()

    def _run_in_process(self) -> Any:
        """Run the task in a child process; this thread only relays its messages."""
        import multiprocessing as mp
        import queue as queue_module

        ctx = mp.get_context("spawn")  # fork would copy the GUI's threads and locks
        messages = ctx.Queue()
        cancel_event = ctx.Event()
        child = ctx.Process(target=child_main, daemon=True,
                            args=(self.fn, self.args, self.kwargs, messages, cancel_event, self.name))
        child.start()
        cancel_sent_at = None
        try:
            while True:
                if self._cancel.is_set() and cancel_sent_at is None:
                    cancel_event.set()
                    cancel_sent_at = time.monotonic()
                if cancel_sent_at is not None and time.monotonic() - cancel_sent_at > PROCESS_STOP_TIMEOUT:
                    child.terminate()  # it ignored Cancel: stop it, it has no GUI state to lose
                    raise Cancelled("terminated")
                try:
                    message = messages.get(timeout=0.05)
                except queue_module.Empty:
                    if not child.is_alive():
                        try:  # the last message may arrive just after the exit
                            message = messages.get(timeout=0.5)
                        except queue_module.Empty:
                            raise RuntimeError(f"the worker process ended unexpectedly "
                                               f"(exit code {child.exitcode})") from None
                    else:
                        continue
                kind = message[0]
                if kind == "progress":
                    self.progressed.emit(message[1], message[2])
                elif kind == "result":
                    return message[1]
                elif kind == "cancelled":
                    raise Cancelled("cancelled")
                elif kind == "error":
                    log.debug("%s failed in its process:\n%s", self.name, message[2])
                    raise _ChildError(message[1])
        finally:
            child.join(timeout=5)
            if child.is_alive():
                child.terminate()
                child.join(timeout=5)
            messages.close()


class TaskRunner(QObject):
    """Runs visible tasks for the main window and keeps them alive until they finish.

    The runner owns its own thread pool, so closing the window can cancel and wait for
    exactly the tasks it started. ``active`` reports whether any task is running, for the
    progress area and for ``--screenshot`` (which waits until the window is idle).

    Signals
    -------
    task_started(Worker), task_finished(Worker)
    """

    task_started = Signal(object)
    task_finished = Signal(object)

    def __init__(self, parent: QObject | None = None, max_threads: int = 2) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._workers: set[Worker] = set()

    def run(
        self,
        fn: Callable[..., Any],
        *args: Any,
        name: str = "",
        on_result: Callable[[Any], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        on_finished: Callable[[], None] | None = None,
        in_process: bool = False,
        **kwargs: Any,
    ) -> Worker:
        """Start ``fn`` in the background; callbacks run in the GUI thread.

        Callbacks are connected before the task starts: a queued signal emitted before a
        slot is connected would be lost. With ``in_process`` the task runs in a child
        process (``fn``, its arguments and result must pickle): use it for long core
        computations, which may hold the GIL.
        """
        worker = Worker(fn, *args, name=name, in_process=in_process, **kwargs)
        if on_result is not None:
            worker.returned.connect(on_result)
        if on_error is not None:
            worker.errored.connect(on_error)
        if on_finished is not None:
            worker.finished.connect(on_finished)
        worker.finished.connect(lambda w=worker: self._finished(w))
        self._workers.add(worker)
        self.task_started.emit(worker)
        worker.start(self.pool)
        return worker

    def _finished(self, worker: Worker) -> None:
        self._workers.discard(worker)
        self.task_finished.emit(worker)

    @property
    def workers(self) -> list[Worker]:
        return list(self._workers)

    @property
    def active(self) -> bool:
        return any(w.is_running for w in self._workers)

    def cancel_all(self) -> None:
        for w in list(self._workers):
            w.cancel()

    def shutdown(self, timeout: float = 30.0) -> bool:
        """Cancel every task and wait for the threads; True when all stopped in time.

        Called when the window closes: a Python thread still running at interpreter exit
        could crash the process, so the window waits for the workers to honour Cancel.
        """
        self.cancel_all()
        return self.pool.waitForDone(int(timeout * 1000))
