"""The main window's saving: Save, Save with reason, Review, Revert, conflicts.

A collaborator the MainWindow owns (``window.saving``): the pending edits reach the file
here, in one action (ui/saving.py), and a refused save marks and selects its row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core import browse
from ..core.changes import Create, Delete, Update
from ..core.errors import AccessGuardError, ConflictError
from . import messages
from .details import HIDDEN_FIELDS, LABELS, show_value
from .messages import ConflictChoice, SaveChoice
from .reason_dialog import ReasonDialog
from .saving import SaveOutcome, save_pending
from .table_page import PAGES
from .window_editing import created_at
from .window_files import busy_cursor

if TYPE_CHECKING:  # the window owns this collaborator; no import at run time
    from .main_window import MainWindow


class Saving:
    """Writes the window's pending edits, or throws them away when the user says so.

    Args:
        window: the main window (its store, database, pages and status bar).

    Attributes:
        reason: the reason of the save under way (Save with reason…), else "".
    """

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.reason = ""

    def save(self) -> bool:
        """Apply every pending edit in one action; True if nothing is left pending."""
        if self.window.store.is_empty():
            return True
        outcome = self.apply_pending()
        if outcome.ok:
            return True
        cause, failed = outcome.cause, outcome.failed
        if (
            isinstance(cause, ConflictError)
            and cause.theirs is not None
            and isinstance(failed, (Update, Delete))
        ):
            return self._resolve_conflict(cause, failed)
        messages.show_error(self.window, "Nothing was saved", outcome.error, outcome.hint)
        return False

    def save_with_reason(self) -> bool:
        """File > Save with reason…: ask why, then save; the reason goes with every audit
        entry of this save (also through a conflict's second attempt)."""
        if self.window.store.is_empty():
            return True
        reason = ReasonDialog.ask(self.window, len(self.window.store.edits_for_save()))
        if reason is None:
            return False
        self.reason = reason
        try:
            return self.save()
        finally:
            self.reason = ""

    def _resolve_conflict(self, cause: ConflictError, failed: Update | Delete) -> bool:
        """Someone else changed a record the user changed too: the user decides whose
        change wins (nothing is overwritten silently), then the save goes on."""
        theirs = "\n".join(
            f"{LABELS.get(k, k)}: {show_value(k, v)}"
            for k, v in (cause.theirs or {}).items()
            if k not in HIDDEN_FIELDS
        )
        choice = messages.ask_conflict(
            self.window,
            f"Nothing was saved. {cause.message} Overwrite their change with yours, or keep "
            "theirs and drop your change of it?",
            f"Their version now:\n{theirs}" if theirs else "",
        )
        if choice is ConflictChoice.CANCEL:
            return False
        if choice is ConflictChoice.THEIRS:
            self.window.store.withdraw(self.window.store.for_record(failed.entity, failed.id))
            self.window.refresh()
            self.window.statusBar().showMessage(f"Kept their version of the {cause.record}.", 5000)
            return self.save()
        try:
            with self.window.db.read() as session:
                current = browse.fetch_record(
                    session, browse.SPECS[self._key_of(failed)], failed.id
                )
        except AccessGuardError as exc:
            messages.show_error(self.window, "Nothing was saved", exc.message)
            return False
        if current is None:
            messages.show_error(
                self.window,
                "Nothing was saved",
                f"The {cause.record} was deleted meanwhile.",
                "Undo your change of it (Ctrl+Z), then save again.",
            )
            return False
        self.window.store.rebase(failed.entity, failed.id, current.version)
        return self.save()

    @staticmethod
    def _key_of(edit: Update | Delete) -> str:
        return next(k.key for k in PAGES if k.entity == edit.entity)

    def apply_pending(self) -> SaveOutcome:
        """The save itself, shared by Save and the Review dialog: on success refresh and
        emit ``saved``; on failure mark and select the failing row."""
        if self.window.db.read_only:
            return SaveOutcome(
                0,
                "The database is open read-only; changes cannot be saved.",
                "Back up the file (File → Back up) to get a copy you can change.",
            )
        count = len(self.window.store.edits_for_save())
        self.window.statusBar().showMessage(f"Saving {count:,} change{'s' if count != 1 else ''}…")
        with busy_cursor():
            outcome = save_pending(self.window.db, self.window.store, self.reason)
        self.window.statusBar().clearMessage()
        if not outcome.ok:
            self._select_failed_row()
            self.window.details.refresh()
            return outcome
        if not self.window.operators.signed_in_after_save():
            return outcome  # sign-in is now required and nobody signed in: it closes
        self.window.refresh()
        noun = "change" if outcome.saved == 1 else "changes"
        self.window.statusBar().showMessage(f"Saved {outcome.saved:,} {noun}.", 5000)
        self.window.saved.emit(outcome.saved)
        return outcome

    def review_changes(self) -> Any:
        """Who gains and loses what if the pending edits are saved (the access views'
        Review dialog, issue 4); its Save goes through the window's save."""
        if self.window.store.is_empty():
            self.window.statusBar().showMessage(
                "Nothing to review: there are no unsaved changes.", 5000
            )
            return None
        from .access.review import show_review_changes

        def save_reviewed(_edits: Any) -> tuple[bool, str]:
            # The dialog checked that the store still holds exactly the reviewed edits.
            outcome = self.apply_pending()
            return outcome.ok, " ".join(x for x in (outcome.error, outcome.hint) if x)

        # A new review replaces the last one (closed by now: it is window-modal).
        return self.window._one_window(
            "review",
            lambda: show_review_changes(
                self.window.db, self.window.store, save_reviewed, self.window
            ),
            reuse=False,
        )

    def _select_failed_row(self) -> None:
        """Show the row of the edit the save refused (its page, selected, scrolled to)."""
        for edit in self.window.store.edits():
            if self.window.store.failure(edit) is None:
                continue
            entity = getattr(edit, "entity", None)
            kind = next((k for k in PAGES if k.entity is not None and k.entity == entity), None)
            if kind is None:
                return  # an assignment or grant: its own view marks it
            page = self.window._ensure_page(kind)
            row: int | None = None
            if isinstance(edit, Create):
                row = next(
                    (
                        r
                        for r in range(len(self.window.store.created(kind.entity)))  # type: ignore[arg-type]
                        if created_at(page, r) is edit
                    ),
                    None,
                )
            elif isinstance(getattr(edit, "id", None), int):
                row = page.model.row_for_id(edit.id)  # type: ignore[union-attr]
            self.window.show_page(PAGES.index(kind))
            if row is not None:
                page.select_row(row)
            return

    def revert(self) -> bool:
        if self.window.store.is_empty():
            return True
        count = len(self.window.store)
        noun = "change" if count == 1 else "changes"
        if not messages.confirm(
            self.window,
            "Revert",
            f"Throw away {count:,} unsaved {noun}? This cannot be undone.",
            "Revert",
        ):
            return False
        self.window.store.clear()
        self.window.statusBar().showMessage("Reverted: the tables show the file again.", 4000)
        return True

    def maybe_keep_pending(self, what: str) -> bool:
        """Ask Save / Discard / Cancel when edits are pending (Discard / Cancel on a
        read-only database, where Save could only fail); True if we may go on."""
        if self.window.store.is_empty():
            return True
        if self.window.db.read_only:
            choice = messages.ask_discard_cancel(self.window, len(self.window.store), what)
        else:
            choice = messages.ask_save_discard_cancel(self.window, len(self.window.store), what)
        if choice is SaveChoice.SAVE:
            return self.save()
        if choice is SaveChoice.DISCARD:
            self.window.store.clear()
            return True
        return False
