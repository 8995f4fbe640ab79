"""Background workers: run core computations off the GUI thread, with progress and Cancel.

Modelled on superqt's ``thread_worker``: a :class:`Worker` wraps either

- a core-style function ``fn(*args, progress=..., cancel=..., **kwargs)``; the core calls
  ``progress(fraction, message)`` and checks ``cancel()`` between units of work and raises
  :class:`~nircam_gui.core.progress.Cancelled`; or
- a generator function, which yields ``(fraction, message)`` tuples for progress (any other
  value is emitted as :attr:`Worker.yielded`) and is closed at the next yield after Cancel.

Signals are emitted from the worker thread and delivered queued to the GUI thread, so
slots never run concurrently with the GUI. Progress is throttled (at most ~25 updates a
second) so a chatty computation cannot flood the event loop.

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

from ..core.errors import NircamFileError
from ..core.progress import Cancelled

__all__ = ["TaskRunner", "Worker", "error_message"]

log = logging.getLogger("nircam_gui")

#: Minimum seconds between two progress signals of one worker.
PROGRESS_INTERVAL = 0.04


def error_message(exc: BaseException, task: str = "") -> str:
    """A message for the user: ``"<file>: <problem>"`` for file errors, one line otherwise."""
    if isinstance(exc, NircamFileError):
        return str(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    where = f"{task}: " if task else ""
    return f"{where}{text}" if isinstance(exc, (OSError, ValueError)) else f"{where}{type(exc).__name__}: {text}"


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
    yielded(object)
        Non-progress values yielded by a generator task.
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
    yielded = Signal(object)
    returned = Signal(object)
    errored = Signal(str)
    aborted = Signal()
    finished = Signal()

    def __init__(self, fn: Callable[..., Any], *args: Any, name: str = "", **kwargs: Any) -> None:
        super().__init__()
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.name = name or getattr(fn, "__name__", "task")
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._running = False
        self._last_progress = 0.0
        self.result: Any = None
        self.error: str | None = None

    # -- control, from the GUI thread -------------------------------------------------
    def start(self, pool: QThreadPool | None = None) -> None:
        """Queue the task on ``pool`` (the global pool by default)."""
        self._running = True
        (pool or QThreadPool.globalInstance()).start(_Runnable(self))

    def cancel(self) -> None:
        """Ask the task to stop at its next cancel check (or yield)."""
        self._cancel.set()

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def is_running(self) -> bool:
        return self._running and not self._done.is_set()

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
            if inspect.isgeneratorfunction(self.fn):
                result = self._run_generator(self.fn(*self.args, **self.kwargs))
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
            self.returned.emit(result)
        except Cancelled:
            self.aborted.emit()
        except Exception as exc:  # every error becomes a message, never a traceback
            log.debug("%s failed", self.name, exc_info=True)
            self.error = error_message(exc, self.name)
            self.errored.emit(self.error)
        finally:
            self._done.set()
            self.finished.emit()

    def _run_generator(self, gen) -> Any:
        try:
            while True:
                value = next(gen)
                if (isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], (int, float))
                        and isinstance(value[1], str)):
                    self._progress(*value)
                else:
                    self.yielded.emit(value)
                if self._cancel.is_set():
                    gen.close()
                    raise Cancelled("cancelled")
        except StopIteration as stop:
            return stop.value


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
        on_yield: Callable[[Any], None] | None = None,
        on_finished: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> Worker:
        """Start ``fn`` in the background; callbacks run in the GUI thread.

        Callbacks are connected before the task starts: a queued signal emitted before a
        slot is connected would be lost.
        """
        worker = Worker(fn, *args, name=name, **kwargs)
        if on_result is not None:
            worker.returned.connect(on_result)
        if on_error is not None:
            worker.errored.connect(on_error)
        if on_yield is not None:
            worker.yielded.connect(on_yield)
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
