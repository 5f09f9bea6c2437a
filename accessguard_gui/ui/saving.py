"""Save: every pending edit in one action, or nothing; failures in words a person can act on."""

from __future__ import annotations

from dataclasses import dataclass

from ..core import changes
from ..core.changes import Edit, EditFailed
from ..core.database import Database
from ..core.errors import (
    AccessGuardError,
    ConflictError,
    DatabaseBusyError,
    DuplicateError,
    ReadOnlyDatabaseError,
    ValidationError,
)
from .pending import PendingStore


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
    noun = "change" if len(edits) == 1 else "changes"
    store.clear_failures()
    try:
        with db.action(f"Save {len(edits)} {noun}") as session:
            if reason.strip():
                session.info["reason"] = reason  # read by the audit hook (core/audit.py)
            # The action is the unit: it rolls back on EditFailed, no SAVEPOINT needed.
            changes.apply_edits(session, edits, savepoint=False)
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
