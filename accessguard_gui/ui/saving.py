"""Save: every pending edit in one action, or nothing; failures in words a person can act on."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import shiboken6
from PySide6.QtCore import QCoreApplication, QEventLoop, Qt, QTimer
from PySide6.QtWidgets import QApplication, QProgressDialog

from ..core import browse, changes
from ..core.bulk_roles import BulkRoleChange
from ..core.changes import Edit, EditFailed
from ..core.collector import collector_on_new_objects_only
from ..core.database import Database
from ..core.errors import (
    AccessGuardError,
    ConflictError,
    DatabaseBusyError,
    DuplicateError,
    QueryStoppedError,
    ReadOnlyDatabaseError,
    ValidationError,
)
from .pending import PendingStore

#: A save of this many edits, or with a change of every user of a view (a million
#: assignments and their audit entries take minutes), runs off the GUI thread: a
#: progress dialog with Cancel shows at once and the window keeps painting.
BACKGROUND_EDITS = 200


@dataclass(frozen=True)
class SaveOutcome:
    """What a save did.

    Attributes:
        saved: how many edits reached the file (0 when it failed).
        error: the message for the user when nothing was saved, else "".
        hint: what the user can do about it.
        failed: the user's edit that was refused (as pending in the store), if known.
        cause: the typed error that refused it (ConflictError, DuplicateError, ...).
    """

    saved: int
    error: str = ""
    hint: str = ""
    failed: Edit | None = None
    cause: AccessGuardError | None = None

    @property
    def ok(self) -> bool:
        return not self.error


def _hint(cause: AccessGuardError) -> str:
    if isinstance(cause, ConflictError):
        return (
            "Choose whether your change overwrites theirs, or press F5 to see their version "
            "first (your pending edits stay) and undo your edit (Ctrl+Z) to keep theirs."
        )
    if isinstance(cause, DuplicateError):
        return "Choose another name for the marked record, then save again."
    if isinstance(cause, ValidationError):
        return "Correct the marked record, then save again."
    if isinstance(cause, DatabaseBusyError):
        return "Another program is writing to the database. Wait a moment and save again."
    if isinstance(cause, ReadOnlyDatabaseError):
        return "Back up or copy the file to a writable place to make changes."
    return "Fix the marked record or undo the edit (Ctrl+Z), then save again."


def save_pending(db: Database, store: PendingStore, reason: str = "") -> SaveOutcome:
    """Apply ``store.edits_for_save()`` in ONE ``db.action``.

    ``reason`` (optional, typed at File > Save with reason…) is stored with every audit
    entry of this save; the action keeps its name ("Save 4 changes").

    On success the store is cleared. On failure nothing is applied (the action rolls back),
    every pending edit stays, and the failing edit is marked in the store so its row shows
    why.
    """
    edits = store.edits_for_save()
    if not edits:
        return SaveOutcome(0)
    store.clear_failures()
    cancel: threading.Event | None = None
    try:
        if _long_save(edits):
            cancel = threading.Event()
            _apply_off_thread(db, edits, reason, cancel)
        else:
            _apply(db, edits, reason, None)
    except QueryStoppedError as exc:
        if cancel is None or not cancel.is_set():
            return SaveOutcome(0, f"Nothing was saved. {exc.message}", _hint(exc), None, exc)
        return SaveOutcome(
            0,
            "Saving was cancelled; nothing was saved.",
            "Your changes are still pending: save again when you are ready.",
            None,
            exc,
        )
    except EditFailed as exc:
        original = store.failing_original(exc.index) or exc.edit
        store.mark_failed(original, exc.cause.message)
        return SaveOutcome(
            0,
            f"Nothing was saved. {exc.edit.describe()}: {exc.cause.message}",
            _hint(exc.cause),
            original,
            exc.cause,
        )
    except AccessGuardError as exc:
        return SaveOutcome(0, f"Nothing was saved. {exc.message}", _hint(exc), None, exc)
    store.clear()
    return SaveOutcome(len(edits))


def _long_save(edits: Sequence[Edit]) -> bool:
    if QCoreApplication.instance() is None:  # no event loop to keep alive (scripts, benches)
        return False
    return len(edits) >= BACKGROUND_EDITS or any(isinstance(e, BulkRoleChange) for e in edits)


def _apply(
    db: Database, edits: Sequence[Edit], reason: str, cancel: threading.Event | None
) -> None:
    """The save itself: ONE action, all or nothing; ``cancel`` stops it (rolled back)."""
    noun = "change" if len(edits) == 1 else "changes"
    with db.action(f"Save {len(edits)} {noun}") as session:
        if reason.strip():
            session.info["reason"] = reason  # read by the audit hook (core/audit.py)
        # The action is the unit: it rolls back on EditFailed, no SAVEPOINT needed.
        if cancel is None:
            changes.apply_edits(session, edits, savepoint=False)
        else:
            with browse.bounded(session, cancel=cancel):
                changes.apply_edits(session, edits, savepoint=False)


def _apply_off_thread(
    db: Database, edits: Sequence[Edit], reason: str, cancel: threading.Event
) -> None:
    """``_apply`` on a worker thread while a modal progress dialog (Cancel) keeps the
    window painting; returns when it is done, raising what it raised."""
    outcome: list[BaseException | None] = []

    def work() -> None:
        try:
            # Full GC passes over the whole app would freeze the window (core/collector.py).
            with collector_on_new_objects_only():
                _apply(db, edits, reason, cancel)
        except BaseException as exc:  # noqa: BLE001 - handed to the GUI thread
            outcome.append(exc)
        else:
            outcome.append(None)

    n = len(edits)
    progress = QProgressDialog(
        f"Saving {n:,} change{'s' if n != 1 else ''}\u2026",
        "Cancel",
        0,
        0,
    )  # no parent: a window closed during the save (Review) would take the dialog with it
    progress.setWindowTitle("Saving")
    progress.setWindowModality(Qt.WindowModality.ApplicationModal)
    progress.setMinimumDuration(0)
    progress.canceled.connect(cancel.set)
    worker = threading.Thread(target=work, name="save", daemon=True)
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(15)
    poll.timeout.connect(lambda: None if worker.is_alive() else loop.quit())
    worker.start()
    over = QApplication.activeWindow()
    progress.show()
    if over is not None:  # over the window the save was asked from, as a child would be
        frame = progress.frameGeometry()
        frame.moveCenter(over.frameGeometry().center())
        progress.move(frame.topLeft())
    poll.start()
    loop.exec()
    poll.stop()
    worker.join()
    if shiboken6.isValid(progress):  # gone with its parent if that window was deleted meanwhile
        progress.close()
        progress.deleteLater()
    error = outcome[0] if outcome else None
    if error is not None:
        raise error
