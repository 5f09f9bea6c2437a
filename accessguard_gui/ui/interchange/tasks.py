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

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QBoxLayout,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QProgressBar,
    QPushButton,
    QWidget,
)

from ...core.errors import AccessGuardError, ImportCancelledError
from ..access.common import error_label, plain_label

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
        app = QCoreApplication.instance()
        if app is not None:  # quitting with a step running: stop it, never kill the thread
            app.aboutToQuit.connect(self._stop_now)

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

    def _stop_now(self) -> None:
        if self._runner.isRunning():
            self.cancel()
            self._runner.wait()

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


def pending_note(count: int, consequence: str) -> QLabel:
    """"3 pending changes are not saved yet: <consequence>" (objectName pending_note)."""
    label = plain_label(
        f"{count:,} pending change{'s are' if count != 1 else ' is'} not saved yet: "
        + consequence
    )
    label.setObjectName("pending_note")
    return label


def failure_text(error: object) -> str:
    """A failed task's error as a message for a person (plain text)."""
    if isinstance(error, AccessGuardError):
        return str(error)
    if isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{error.strerror or error}."
    return f"It failed: {error}"


class TaskDialog(QDialog):
    """A dialog whose long steps run one at a time on a ``BackgroundTask``, with a
    progress bar, a status line and an error line (both plain text).

    Subclasses lay out ``progress``, ``status`` and ``error``, start steps with
    ``run_task`` and keep their buttons right in ``update_controls`` (called whenever a
    step starts or ends). Cancel stops the running step — the core raises and writes
    nothing — or, when idle, closes the dialog; closing while a step runs cancels it and
    waits for the worker.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.task: BackgroundTask | None = None
        self.progress = QProgressBar()
        self.progress.setObjectName("progress")
        self.progress.setVisible(False)
        self.status = plain_label()
        self.status.setObjectName("status")
        self.error = error_label()
        self.error.setObjectName("error")

    def add_task_rows(self, layout: QBoxLayout) -> None:
        """Lay out the progress bar, the status line and the error line, in that order."""
        for widget in (self.progress, self.status, self.error):
            layout.addWidget(widget)

    def add_buttons(self, layout: QBoxLayout, text: str, name: str) -> QPushButton:
        """Cancel and the dialog's one action (the default button, ``start`` on click);
        Cancel stops a running step or closes the dialog (``cancel``)."""
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        button = self.buttons.addButton(text, QDialogButtonBox.ButtonRole.AcceptRole)
        button.setObjectName(name)
        button.setDefault(True)
        self.buttons.accepted.connect(self.start)
        self.buttons.rejected.connect(self.cancel)
        layout.addWidget(self.buttons)
        return button

    def start(self) -> None:
        """The dialog's action (the accept button of ``add_buttons``)."""

    def update_controls(self) -> None:
        """Enable what may be used now (``self.task`` is the running step, if any)."""

    def run_task(
        self, work: Work, text: str, succeeded: Callable[[Any], None], *, total: int = 0
    ) -> None:
        """Run ``work`` off the GUI thread; ``succeeded(result)`` runs after it returns.

        Args:
            text: the status while it runs ("Importing…").
            total: the progress bar's end (0: busy until done).
        """
        self.error.setText("")
        self.status.setText(text)
        self.progress.setRange(0, total)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        task = self.task = BackgroundTask(work, self)
        task.progressed.connect(self.show_progress)
        task.succeeded.connect(succeeded)
        task.failed.connect(self._task_failed)
        task.finished.connect(self._task_finished)
        self.update_controls()
        task.start()

    def show_progress(self, progress: object) -> None:
        """A row count (table exports) or a core ``Progress`` (phase, done, total)."""
        if isinstance(progress, int):
            if 0 < progress <= self.progress.maximum():
                self.progress.setValue(progress)
            self.status.setText(f"{progress:,} rows written\u2026")
            return
        phase = getattr(progress, "phase", "Working")
        done = int(getattr(progress, "done", 0) or 0)
        total = getattr(progress, "total", None)
        if total:
            self.progress.setRange(0, int(total))
            self.progress.setValue(min(done, int(total)))
            self.status.setText(f"{phase}: {done:,} of {int(total):,}\u2026")
        else:
            self.progress.setRange(0, 0)
            self.status.setText(f"{phase}: {done:,}\u2026" if done else f"{phase}\u2026")

    def task_failed(self, error: object) -> None:
        """After a failed or cancelled step (status and error already say why)."""

    def _task_failed(self, error: object) -> None:
        if isinstance(error, ImportCancelledError):
            self.status.setText("Cancelled: nothing was written.")
        else:
            self.status.setText("Nothing was written.")
            self.error.setText(failure_text(error))
        self.task_failed(error)

    def _task_finished(self) -> None:
        self.task = None
        self.progress.setVisible(False)
        self.update_controls()

    def cancel(self) -> None:
        """Stop the running step (nothing is written), or close the dialog."""
        if self.task is not None:
            self.status.setText("Cancelling\u2026")
            self.task.cancel()
            return
        self.reject()

    def reject(self) -> None:
        if self.task is not None:  # Escape while a step runs: cancel it first
            self.cancel()
            return
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if self.task is not None:
            self.task.cancel()
            self.task.wait()
            self.task = None
        super().closeEvent(event)


def show_modeless(dialog: QDialog) -> None:
    """Show a File-menu dialog beside the window (not modal), deleted when closed."""
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
