"""Reads that run off the GUI thread, each in its own short session, and can be cancelled.

A table's search, count or sort on a million rows can take seconds of SQL; run on the GUI
thread it freezes the window. ``BackgroundReads.submit(work, done)`` runs
``work(session, job)`` on a worker thread inside its own ``db.read()`` (never a session or
connection shared between threads) and ``browse.bounded`` (so ``job.cancel()`` — from
the GUI thread — stops the statement that is running, SQLite's progress handler checks
the flag every few thousand steps), then calls ``done(result)`` back on the GUI thread.
Work can report progress (``job.report(value)`` → ``progress(value)`` on the GUI thread).
A cancelled job never calls back: a superseded search cannot overwrite a newer one.

Small tables do not need a thread: with ``inline=True`` the same work runs at once on the
calling thread (a few milliseconds), so small files behave exactly as before. With a
``budget`` the work is tried on the calling thread first and handed to a worker only if it
runs longer (most reads of a large table answer in a few ms). ``call(work, done)`` runs a
core action that opens its own sessions (a review, a rules check) the same way.

Every worker's answer reaches the GUI thread through one application-wide dispatcher, so a
worker never emits through an object its owner may have deleted meanwhile.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from ..core import browse
from ..core.collector import collector_on_new_objects_only
from ..core.database import Database
from ..core.errors import AccessGuardError, QueryStoppedError

T = TypeVar("T")

_POOL: QThreadPool | None = None


def _pool() -> QThreadPool:
    """One small pool for every table: reads of several pages run side by side, never
    more than the machine has cores for."""
    global _POOL
    if _POOL is None:
        _POOL = QThreadPool()
        _POOL.setMaxThreadCount(max(2, min(4, QThreadPool.globalInstance().maxThreadCount())))
    return _POOL


class _Dispatcher(QObject):
    """Carries every worker's results and progress to the GUI thread (queued signals).

    One for the whole application, created on the GUI thread and never deleted: a
    worker never emits through an object its model may have deleted meanwhile."""

    finished = Signal(object, object, object)  # job, result, error
    progressed = Signal(object, object)  # job, value

    def __init__(self) -> None:
        super().__init__()
        self.finished.connect(self._finished)
        self.progressed.connect(self._progressed)

    @staticmethod
    def _finished(job: Job[Any], result: Any, error: BaseException | None) -> None:
        owner = job.owner
        if owner is None or job.cancelled or not _alive(owner, job.done, job.failed):
            return
        owner._finished(job, result, error)

    @staticmethod
    def _progressed(job: Job[Any], value: Any) -> None:
        if job.cancelled or job.progress is None or not _alive(job.owner, job.progress):
            return
        job.progress(value)


def _alive(*targets: Any) -> bool:
    """False once the Qt object behind any target (a QObject, or the object of a bound
    method) is deleted: a result that arrives after its window closed has nobody to
    go to. Asked of shiboken rather than caught as "already deleted" RuntimeErrors,
    which would also hide real bugs."""
    for target in targets:
        obj = getattr(target, "__self__", target)
        if isinstance(obj, QObject) and not shiboken6.isValid(obj):
            return False
    return True


_DISPATCHER: _Dispatcher | None = None


def _dispatcher() -> _Dispatcher:
    global _DISPATCHER
    if _DISPATCHER is None:
        _DISPATCHER = _Dispatcher()
    return _DISPATCHER


class Job(Generic[T]):
    """One background read. ``cancel()`` is safe from any thread, at any time."""

    def __init__(
        self,
        owner: BackgroundReads | None,
        done: Callable[[T], None],
        failed: Callable[[AccessGuardError], None] | None,
        progress: Callable[[Any], None] | None,
        *,
        inline: bool,
    ) -> None:
        self.stop = threading.Event()
        self.finished = threading.Event()
        self.owner = owner
        self.done = done
        self.failed = failed
        self.progress = progress
        self.inline = inline

    @property
    def cancelled(self) -> bool:
        return self.stop.is_set()

    def cancel(self) -> None:
        self.stop.set()

    def report(self, value: Any) -> None:
        """From the work function: hand ``value`` to ``progress`` on the GUI thread."""
        if self.stop.is_set():
            raise QueryStoppedError("The query was cancelled.")
        if self.inline:
            if self.progress is not None:
                self.progress(value)
        else:
            _dispatcher().progressed.emit(self, value)


class _Runnable(QRunnable):
    def __init__(self, db: Database | None, job: Job[Any], work: Callable[..., Any]) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self.db, self.job, self.work = db, job, work
        self.dispatcher = _dispatcher()

    def run(self) -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            if self.job.cancelled:  # cancelled while queued (the app is ending)
                raise QueryStoppedError("The query was cancelled.")
            # A worker's rows set off full collections that walk the whole process with
            # the GIL held: 50-60 ms gaps in the window while a bulk change of 20,895
            # users was checked (bench_ui_stalls). They skip what existed before the job.
            with collector_on_new_objects_only():
                if self.db is None:  # a core action that opens its own short sessions
                    result = self.work(self.job)
                else:
                    with (
                        self.db.read() as session,
                        browse.bounded(session, cancel=self.job.stop),
                    ):
                        result = self.work(session, self.job)
        except BaseException as exc:  # noqa: BLE001 - handed to the GUI thread as a value
            error = exc
        finally:
            self.job.finished.set()
            with _RUNNING_LOCK:
                _RUNNING.discard(self.job)
        if not self.job.cancelled and shiboken6.isValid(self.dispatcher):
            self.dispatcher.finished.emit(self.job, result, error)


#: Jobs handed to a worker and not yet ended, whoever owns them (``stop_all``).
_RUNNING: set[Job[Any]] = set()
_RUNNING_LOCK = threading.Lock()


def stop_all(timeout: float = 5.0) -> bool:
    """The application is ending: cancel every background job (each running statement is
    interrupted) and wait up to ``timeout`` seconds for the workers to leave.

    Closing the database under a worker still reading from it, or the interpreter tearing
    down the dispatcher a worker is about to emit through, crashed the process at exit
    (a segfault under load, "Signal source has been deleted" otherwise). Returns whether
    every worker ended in time."""
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for job in running:
        job.cancel()
    return _POOL is None or _POOL.waitForDone(max(0, int(timeout * 1000)))


def _start(runnable: _Runnable) -> None:
    with _RUNNING_LOCK:
        _RUNNING.add(runnable.job)  # from here, so that stop_all finds a job still queued
    _pool().start(runnable)


def _cancel_each(jobs: set[Job[Any]]) -> None:
    for job in list(jobs):
        job.cancel()


class BackgroundReads(QObject):
    """Runs a model's reads off the GUI thread; see the module docstring.

    Args:
        db: the database read (one short session per job).
    """

    def __init__(self, db: Database, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.db = db
        jobs: set[Job[Any]] = set()
        self._jobs = jobs
        _dispatcher()  # made here, on the GUI thread
        # The owner (a table model) is going away: nothing may call back into it.
        self.destroyed.connect(lambda *_a: _cancel_each(jobs))

    def submit(
        self,
        work: Callable[[Any, Job[T]], T],
        done: Callable[[T], None],
        *,
        failed: Callable[[AccessGuardError], None] | None = None,
        progress: Callable[[Any], None] | None = None,
        inline: bool = False,
        budget: float = 0.0,
    ) -> Job[T]:
        """Run ``work(session, job)``; ``done(result)`` on this thread unless cancelled.

        With a ``budget`` (seconds) the work is first tried here, stopped if it runs past
        the budget, and only then handed to a worker: most reads answer in a few ms and
        are shown at once, without a thread hop; a slow one costs the window at most the
        budget.

        An error that is not a cancellation reaches ``failed`` as an AccessGuardError
        (the database's own errors translated by ``browse.translate_error``); without
        ``failed`` it is raised on the GUI thread like any bug.
        """
        job: Job[T] = Job(self, done, failed, progress, inline=inline or budget > 0)
        if not inline and budget > 0:
            try:
                with self.db.read() as session, browse.bounded(session, timeout=budget):
                    result = work(session, job)
            except QueryStoppedError:
                job = Job(self, done, failed, progress, inline=False)  # too slow: a worker
            except Exception as exc:  # noqa: BLE001 - same path as a worker's error
                job.finished.set()
                self._fail(exc, failed)
                return job
            else:
                job.finished.set()
                done(result)
                return job
        if inline:
            try:
                with self.db.read() as session:
                    result = work(session, job)
            except Exception as exc:  # noqa: BLE001 - same path as a worker's error
                job.finished.set()
                self._fail(exc, failed)
                return job
            job.finished.set()
            done(result)
            return job
        self._jobs.add(job)
        _start(_Runnable(self.db, job, work))
        return job

    def call(
        self,
        work: Callable[[Job[T]], T],
        done: Callable[[T], None],
        *,
        failed: Callable[[AccessGuardError], None] | None = None,
        inline: bool = False,
    ) -> Job[T]:
        """Run ``work(job)`` — a core function that opens its own short session(s), such
        as ``impact.review`` — on a worker; ``done(result)`` here unless cancelled.

        Cancelling stops the callback, not the work (it has no statement of ours to
        interrupt): the result of a cancelled review is simply never shown.
        """
        job: Job[T] = Job(self, done, failed, None, inline=inline)
        if inline:
            try:
                result = work(job)
            except Exception as exc:  # noqa: BLE001 - same path as a worker's error
                job.finished.set()
                self._fail(exc, failed)
                return job
            job.finished.set()
            done(result)
            return job
        self._jobs.add(job)
        _start(_Runnable(None, job, work))
        return job

    def _finished(self, job: Job[Any], result: Any, error: BaseException | None) -> None:
        self._jobs.discard(job)
        if error is None:
            job.done(result)
        else:
            self._fail(error, job.failed)

    @staticmethod
    def _fail(error: BaseException, failed: Callable[[AccessGuardError], None] | None) -> None:
        if isinstance(error, QueryStoppedError):
            return  # cancelled (or the window is closing): nobody waits for it
        translated = error if isinstance(error, AccessGuardError) else browse.translate_error(error)
        if translated is None or failed is None:
            raise error
        failed(translated)

    def busy(self) -> bool:
        """Is a job still running that will call back?"""
        self._jobs = {j for j in self._jobs if not j.finished.is_set() or not j.cancelled}
        return any(not j.cancelled for j in self._jobs)

    def cancel_all(self) -> None:
        for job in self._jobs:
            job.cancel()

    def wait_done(self, timeout: float = 30.0) -> bool:
        """Block until every job's work has ended (closing a database, tests)."""
        return all(job.finished.wait(timeout) for job in list(self._jobs))
