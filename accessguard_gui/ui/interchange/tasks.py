"""Running long core work off the GUI thread, with progress and Cancel.

The work is a plain function ``work(progress, cancelled)`` of the Qt-free core: it calls
``progress(n)`` now and then and asks ``cancelled()`` between batches (raising the core's
``ImportCancelledError`` when told to stop). It runs in a ``QThread``; its outcome comes
back to the GUI thread as a signal, so no widget is ever touched from the worker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

Work = Callable[[Callable[[Any], None], Callable[[], bool]], Any]


class _Runner(QThread):
    def __init__(self, task: BackgroundTask) -> None:
        super().__init__(task)
        self._task = task

    def run(self) -> None:
        self._task._run()


class BackgroundTask(QObject):
    """One run of ``work`` on a worker thread.

    Signals:
        progressed(object): the work's last progress (a row count or a core Progress).
        succeeded(object): the work returned this.
        failed(object): the work raised this exception (a cancel included).
        finished(): after either of the two above.
    """

    progressed = Signal(object)
    succeeded = Signal(object)
    failed = Signal(object)
    finished = Signal()

    def __init__(self, work: Work, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._work = work
        self._stop = threading.Event()
        self._runner = _Runner(self)
        self._runner.finished.connect(self._done)
        self._outcome: tuple[bool, Any] | None = None

    def start(self) -> None:
        self._runner.start()

    def cancel(self) -> None:
        """Ask the work to stop at its next check (it raises; ``failed`` follows)."""
        self._stop.set()

    @property
    def cancelling(self) -> bool:
        return self._stop.is_set()

    def is_running(self) -> bool:
        return self._runner.isRunning()

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until the worker ends (for closing a window while it runs)."""
        return bool(self._runner.wait(msecs))

    def _run(self) -> None:  # on the worker thread
        try:
            result = self._work(self.progressed.emit, self._stop.is_set)
        except BaseException as exc:  # noqa: BLE001 - handed to the GUI thread as a value
            self._outcome = (False, exc)
        else:
            self._outcome = (True, result)

    def _done(self) -> None:  # on the GUI thread, after the worker ended
        outcome, self._outcome = self._outcome, None
        if outcome is None:
            return
        ok, value = outcome
        if ok:
            self.succeeded.emit(value)
        else:
            self.failed.emit(value)
        self.finished.emit()
