"""What every governance window shares: the database, the pending store, a task bar with
Cancel, a plain-text message line, read-only locking, and proposing edits to the store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QDateTime, QTimeZone
from PySide6.QtGui import QCloseEvent, QColor
from PySide6.QtWidgets import QDateTimeEdit, QVBoxLayout, QWidget

from ...core import impact
from ...core.changes import Edit
from ...core.database import Database
from ...core.errors import AccessGuardError
from ...core.operators import AppAction
from ..access.common import GREEN, GREY, READ_ONLY_TIP, RED, plain_label
from ..pending import PendingStore
from ..plain_text import plain_tooltip
from .tasks import Task, TaskBar, read_in

__all__ = [
    "GREEN", "GREY", "RED", "READ_ONLY_TIP", "GovernanceWindow", "datetime_picker", "picked_moment",
    "set_moment",
]


def datetime_picker(moment: datetime) -> QDateTimeEdit:
    """A date-and-time field in UTC, to the second, with a calendar."""
    edit = QDateTimeEdit(QDateTime.fromSecsSinceEpoch(int(moment.timestamp()), QTimeZone.utc()))
    edit.setTimeZone(QTimeZone.utc())
    edit.setDisplayFormat("yyyy-MM-dd HH:mm:ss 'UTC'")
    edit.setCalendarPopup(True)
    return edit


def picked_moment(edit: QDateTimeEdit) -> datetime:
    """The moment a picker shows, as an aware UTC datetime."""
    return datetime.fromtimestamp(edit.dateTime().toMSecsSinceEpoch() / 1000, UTC)


def set_moment(edit: QDateTimeEdit, moment: datetime) -> None:
    """Set a picker to ``moment`` (to the millisecond; it shows seconds)."""
    edit.setDateTime(QDateTime.fromMSecsSinceEpoch(int(moment.timestamp() * 1000), QTimeZone.utc()))


class GovernanceWindow(QWidget):
    """Base of the governance windows.

    Args:
        db: the database read (and, through the store, edited).
        store: the main window's pending edits; fixes are pushed here, never written.

    Attributes:
        tasks: the bar showing the running background work, with Cancel.
        message: a plain-text line for results, refusals and failures.
        fix_buttons: the controls that make edits; all off on a read-only database.
    """

    #: The AccessGuard permissions (issue 14) this window's fixes need; each window says.
    FIX_NEEDS: tuple[AppAction, ...] = ()

    def __init__(self, db: Database, store: PendingStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.store = store
        # Off on a read-only file, or for an operator who may not make this window's
        # changes (issue 14); ``lock_reason`` says which, for tooltips and refusals.
        self.lock_reason: str | None = READ_ONLY_TIP if db.read_only else None
        for action in self.FIX_NEEDS:
            self.lock_reason = self.lock_reason or db.access.why_not(action)
        self.read_only = self.lock_reason is not None
        self.tasks = TaskBar(self)
        self.message = plain_label()
        self.message.setObjectName("governance_message")
        self.fix_buttons: list[QWidget] = []
        self.layout_box = QVBoxLayout(self)

    # ------------------------------------------------------------ plumbing

    def finish_layout(self) -> None:
        """Call once the window's own widgets are in ``layout_box``."""
        self.layout_box.addWidget(self.message)
        self.layout_box.addWidget(self.tasks)
        self.lock_fixes()

    def lock_fixes(self) -> None:
        """On a read-only database every fix control is off, saying why."""
        if self.lock_reason is None:
            return
        for widget in self.fix_buttons:
            widget.setEnabled(False)
            widget.setToolTip(plain_tooltip(self.lock_reason))

    def say(self, text: str, color: QColor | None = None) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {color.name()};" if color is not None else "")

    def read(self, text: str, fn: Callable[[Any], Any], done: Callable[[Any], None]) -> Task[Any]:
        """``fn(session)`` off the GUI thread in a short read; ``done(result)`` after."""
        db = self.db
        return self.tasks.start(text, lambda task: read_in(db, task, fn), done, self.failed)

    def work(self, text: str, fn: Callable[[Task[Any]], Any], done: Callable[[Any], None]) -> Task[Any]:
        """``fn(task)`` off the GUI thread (it opens its own sessions); ``done`` after."""
        return self.tasks.start(text, fn, done, self.failed)

    def failed(self, error: AccessGuardError) -> None:
        self.say(f"Could not finish: {error.message}", RED)

    @property
    def busy(self) -> bool:
        return self.tasks.busy

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.tasks.cancel()
        super().closeEvent(event)

    # ------------------------------------------------------------ edits

    def propose(self, edits: Sequence[Edit], done: Callable[[int], None] | None = None) -> None:
        """Make ``edits`` pending (one gesture: undone one by one) unless the rules refuse
        one of them on top of what is already pending; checked off the GUI thread."""
        chosen = list(edits)
        if not chosen:
            self.say("Nothing to change.", GREY)
            return
        if self.lock_reason is not None:
            self.say(self.lock_reason, RED)
            return
        db, pending = self.db, self.store.edits_for_save()

        def check(task: Task[Any]) -> AccessGuardError | None:
            task.report(f"Checking {len(chosen):,} change{'s' if len(chosen) != 1 else ''}\u2026")
            return impact.refusal(db, pending, chosen)

        def pushed(problem: AccessGuardError | None) -> None:
            if problem is not None:
                self.say(f"Refused: {problem.message}", RED)
                return
            try:
                self.store.push_many(chosen)
            except AccessGuardError as exc:
                self.say(exc.message, RED)
                return
            n = len(chosen)
            self.say(
                f"{n:,} change{'s' if n != 1 else ''} pending \u2014 see Review changes "
                "(Ctrl+Shift+S), save with Ctrl+S.",
                GREEN,
            )
            if done is not None:
                done(n)

        self.work("Checking the changes\u2026", check, pushed)
