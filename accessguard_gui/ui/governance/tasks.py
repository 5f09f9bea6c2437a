"""Long governance work off the GUI thread: a task with progress and Cancel, and the bar
that shows it.

``run(work, done, failed=…, progress=…)`` runs ``work(task)`` on a pool thread. The work
opens its own short sessions (``read_in(db, task, fn)`` wraps ``db.read()`` in
``browse.bounded`` so Cancel stops the running statement) and reports progress with
``task.report(text)``. ``done(result)`` and ``failed(error)`` are called back on the GUI
thread, never for a cancelled task.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from ...core import browse
from ...core.collector import collector_on_new_objects_only
from ...core.database import Database
from ...core.errors import AccessGuardError, QueryStoppedError

T = TypeVar("T")


class Task(Generic[T]):
    """One piece of background work. ``cancel()`` is safe from any thread."""

    def __init__(
        self,
        done: Callable[[T], None],
        failed: Callable[[AccessGuardError], None] | None,
        progress: Callable[[str], None] | None,
    ) -> None:
        self.stop = threading.Event()
        self.finished = threading.Event()
        self.done = done
        self.failed = failed
        self.progress = progress

    @property
    def cancelled(self) -> bool:
        return self.stop.is_set()

    def cancel(self) -> None:
        self.stop.set()

    def check(self) -> None:
        """From the work: stop here if the user pressed Cancel."""
        if self.stop.is_set():
            raise QueryStoppedError("Cancelled.")

    def report(self, text: str) -> None:
        """From the work: show ``text`` as the progress (also a point where Cancel stops)."""
        self.check()
        _bridge().progressed.emit(self, text)


class _Bridge(QObject):
    """Carries results to the GUI thread (queued signals); one, made on the GUI thread."""

    finished = Signal(object, object, object)
    progressed = Signal(object, object)

    def __init__(self) -> None:
        super().__init__()
        self.finished.connect(self._finished)
        self.progressed.connect(self._progressed)

    @staticmethod
    def _finished(task: Task[Any], result: Any, error: BaseException | None) -> None:
        if task.cancelled:
            return
        try:
            if error is None:
                task.done(result)
                return
            if isinstance(error, QueryStoppedError) and not error.timed_out:
                return
            typed = error if isinstance(error, AccessGuardError) else browse.translate_error(error)
            if typed is None or task.failed is None:
                raise error
            task.failed(typed)
        except RuntimeError as exc:  # the window was deleted meanwhile
            if "already deleted" not in str(exc):
                raise

    @staticmethod
    def _progressed(task: Task[Any], text: str) -> None:
        if task.cancelled or task.progress is None:
            return
        try:
            task.progress(text)
        except RuntimeError as exc:
            if "already deleted" not in str(exc):
                raise


_BRIDGE: _Bridge | None = None


def _bridge() -> _Bridge:
    global _BRIDGE
    if _BRIDGE is None:
        _BRIDGE = _Bridge()
    return _BRIDGE


#: Tasks started and not yet ended (``stop_all``).
_RUNNING: set[Task[Any]] = set()
_RUNNING_LOCK = threading.Lock()


def stop_all(timeout: float = 5.0) -> bool:
    """The application is ending: cancel every task (each running statement is
    interrupted, work stops at its next ``report``/``check``) and wait up to ``timeout``
    seconds for them to leave — a task still reading when the database closes, or
    emitting through a bridge the interpreter already tore down, crashed the exit.
    Returns whether every task ended in time."""
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for task in running:
        task.cancel()
    deadline = time.monotonic() + timeout
    return all(task.finished.wait(max(0.0, deadline - time.monotonic())) for task in running)


class _Runnable(QRunnable):
    def __init__(self, task: Task[Any], work: Callable[[Task[Any]], Any]) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self.task, self.work = task, work
        self.bridge = _bridge()

    def run(self) -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            self.task.check()  # cancelled while queued (the app is ending)
            with collector_on_new_objects_only():  # no full collections walking the app
                result = self.work(self.task)
        except BaseException as exc:  # noqa: BLE001 - handed to the GUI thread as a value
            error = exc
        finally:
            self.task.finished.set()
            with _RUNNING_LOCK:
                _RUNNING.discard(self.task)
        if not self.task.cancelled and shiboken6.isValid(self.bridge):
            self.bridge.finished.emit(self.task, result, error)


def run(
    work: Callable[[Task[T]], T],
    done: Callable[[T], None],
    *,
    failed: Callable[[AccessGuardError], None] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Task[T]:
    """Run ``work(task)`` on a pool thread; ``done(result)`` back on the GUI thread."""
    task: Task[T] = Task(done, failed, progress)
    _bridge()
    with _RUNNING_LOCK:
        _RUNNING.add(task)  # from here, so that stop_all finds a task still queued
    QThreadPool.globalInstance().start(_Runnable(task, work))
    return task


def read_in(db: Database, task: Task[Any], fn: Callable[[Any], T]) -> T:
    """``fn(session)`` in a short read that Cancel (or the window closing) can stop."""
    with db.read() as session, browse.bounded(session, cancel=task.stop):
        return fn(session)


class TaskBar(QWidget):
    """ "Working…" with a busy bar and Cancel, shown only while a task runs.

    Attributes:
        task: the running task, or None.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.task: Task[Any] | None = None
        self.label = QLabel("")
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        self.bar.setMaximumWidth(160)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        box = QHBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.label, 1)
        box.addWidget(self.bar)
        box.addWidget(self.cancel_button)
        self.setVisible(False)

    @property
    def busy(self) -> bool:
        return self.task is not None

    def start(
        self,
        text: str,
        work: Callable[[Task[T]], T],
        done: Callable[[T], None],
        failed: Callable[[AccessGuardError], None],
    ) -> Task[T]:
        """Cancel what runs, then run ``work`` showing ``text`` until it ends."""
        self.cancel()
        self.label.setText(text)
        self.setVisible(True)

        def finish(result: T) -> None:
            self._end(task)
            done(result)

        def fail(error: AccessGuardError) -> None:
            self._end(task)
            failed(error)

        task = run(work, finish, failed=fail, progress=self.label.setText)
        self.task = task
        return task

    def _end(self, task: Task[Any]) -> None:
        if self.task is task:
            self.task = None
            self.setVisible(False)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task = None
        self.setVisible(False)

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until the running work has ended (closing, tests)."""
        task = self.task
        return task is None or task.finished.wait(timeout)
