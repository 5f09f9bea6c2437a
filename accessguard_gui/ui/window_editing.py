"""The main window's editing: add, edit, delete, set passwords, undo and redo.

A collaborator the MainWindow owns (``window.editing``): every edit becomes a pending
change in the window's PendingStore; nothing here writes to the file (see window_saving).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core import lookup
from ..core.bulk_roles import UserMatch
from ..core.changes import Create, Delete, Entity, SetPasswordHash, Update
from ..core.errors import AccessGuardError
from . import messages
from .details import record_values
from .plain_text import plain_tooltip
from .table_page import TablePage

if TYPE_CHECKING:  # the window owns this collaborator; no import at run time
    from .main_window import MainWindow
    from .record_form import RecordForm

DELETE_LIMIT = 10_000  # rows marked for deletion by one Del (each is read to be labelled)
CHOICES_LIMIT = 20_000  # offered in the form's combo (completes by substring)


def _form() -> type[RecordForm]:
    """The record form (ui/record_form.py), imported when a form first opens: the window
    is painted before any form is needed (cold start, issue 11)."""
    from .record_form import RecordForm

    return RecordForm


def created_at(page: TablePage, row: int | None) -> Create | None:
    """The pending new record a row shows (new rows sit at the top), else None."""
    if row is None:
        return None
    created_edit = getattr(page.model, "created_edit", None)
    return created_edit(row) if callable(created_edit) else None


class Editing:
    """The Edit menu's record actions on the window's current page.

    Args:
        window: the main window (its current page, store, database and status bar).
    """

    def __init__(self, window: MainWindow) -> None:
        self.window = window

    def editable(self, page: TablePage | None = None) -> bool:
        page = page or self.window.current_page()
        return (
            page.kind.editable
            and not self.window.db.read_only
            and self.window.operators.may_edit(page.kind.entity)
        )

    def current_values(
        self, page: TablePage, row: int
    ) -> tuple[dict[str, Any], int | None, int | None]:
        """The record's values as the user sees them (pending edits applied), id, version."""
        created = created_at(page, row)
        if created is not None:
            return dict(created.values), None, None
        values = record_values(page.model.record(row))
        record_id = values.get("id")
        version = values.get("version")
        if page.kind.entity is not None and isinstance(record_id, int):
            values.update(self.window.store.pending_values(page.kind.entity, record_id))
        return values, record_id if isinstance(record_id, int) else None, version

    def add_record(self) -> None:
        page = self.window.current_page()
        if not self.editable(page):
            return
        assert page.kind.entity is not None
        choices = self._choices(page.kind.entity)
        values = _form().ask(
            self.window,
            page.kind.entity,
            None,
            choices=choices,
            choices_complete=len(choices) < CHOICES_LIMIT,
        )
        if values is None:
            return
        created = Create(page.kind.entity, values)
        self.window.store.push(created)
        for row in range(page.model.rowCount()):  # select the new row (new rows lead)
            if created_at(page, row) is created:
                page.select_row(row)
                break
        self.window.statusBar().showMessage(
            f"Added a new {page.kind.singular} — save to keep it.", 5000
        )

    def edit_current(self) -> None:
        row = self.window.current_page().current_row()
        if row is not None:
            self.edit_row(row)

    def edit_row(self, row: int) -> None:
        """Open the record form for a row (Enter / double-click)."""
        page = self.window.current_page()
        entity = page.kind.entity
        if entity is None:
            return
        values, record_id, version = self.current_values(page, row)
        created = created_at(page, row)
        if created is not None:
            self._edit_new_record(page, created)
            return
        if record_id is None:
            return
        if self.window.store.is_deleted(entity, record_id):
            self.window.statusBar().showMessage(
                "This record is marked for deletion (undo to keep it).", 5000
            )
            return
        changed = _form().ask(
            self.window,
            entity,
            values,
            read_only=not self.editable(page),
            focus=page.current_field(),
        )
        if not changed:
            return
        label = str(values.get("username") or values.get("name") or values.get("action") or "")
        before = {name: values.get(name) for name in changed}  # shown as old → new
        self.window.store.push(Update(entity, record_id, version, changed, label, before=before))

    def _edit_new_record(self, page: TablePage, created: Create) -> None:
        """A new, unsaved record opens in the add form; OK changes the pending addition."""
        if not self.editable(page):
            return
        choices = self._choices(created.entity)
        values = _form().ask(
            self.window,
            created.entity,
            dict(created.values),
            choices=choices,
            creating=True,
            choices_complete=len(choices) < CHOICES_LIMIT,
            focus=page.current_field(),
        )
        if values:
            self.window.store.replace(created, Create(created.entity, {**created.values, **values}))

    def _still_counting_all(self, page: TablePage, selected: int) -> bool:
        """Every row shown is selected but the table is still being counted: "all" is not
        known yet, and acting on the rows counted so far would act on a part the user never
        chose (Ctrl+A pressed just after a large file opened). Say so instead."""
        model = page.model
        counting = getattr(model, "is_counting", None)
        if not (callable(counting) and counting()) or selected != model.rowCount():
            return False
        self.window.statusBar().showMessage(
            f"Still counting the {page.kind.plural}: try again when the count is shown.", 8000
        )
        return True

    def delete_selected(self) -> None:
        """Mark every selected record for deletion (removed from the file at Save)."""
        page = self.window.current_page()
        entity = page.kind.entity
        if entity is None or not self.editable(page):
            return
        selected = page.selected_count()
        if self._still_counting_all(page, selected):
            return
        if selected > DELETE_LIMIT:
            messages.show_error(
                self.window,
                "Too many rows selected",
                f"{selected:,} rows are selected; at most {DELETE_LIMIT:,} can be marked for "
                "deletion at once.",
                "Narrow the table with the search box or a filter first.",
            )
            return
        edits = []
        withdrawn = []
        for row in page.selected_rows():
            created = created_at(page, row)
            if created is not None:
                withdrawn.append(created)  # never saved: deleting it just drops it
                continue
            values, record_id, version = self.current_values(page, row)
            if record_id is None or self.window.store.is_deleted(entity, record_id):
                continue
            label = str(values.get("username") or values.get("name") or values.get("action") or "")
            if entity is Entity.PERMISSION and values.get("resource"):
                label = f"{values['resource']}: {values.get('action', '')}"
            edits.append(Delete(entity, record_id, version, label))
        if withdrawn:
            self.window.store.withdraw(withdrawn)
        if edits:
            self.window.store.push_many(edits)
            noun = page.kind.singular if len(edits) == 1 else page.kind.plural
            self.window.statusBar().showMessage(
                f"{len(edits):,} {noun} marked for deletion — save to delete, undo to keep.", 5000
            )

    def set_password(self) -> None:
        page = self.window.current_page()
        if page.kind.entity is not Entity.USER or not self.editable(page):
            return
        row = page.current_row()
        if row is None:
            return
        values, record_id, _version = self.current_values(page, row)
        username = str(values.get("username", ""))
        from .password_dialog import PasswordDialog  # Argon2 is loaded when a password is set

        password_hash = PasswordDialog.ask(self.window, username)
        if password_hash is None:
            return
        ref: int | str = record_id if record_id is not None else username
        self.window.store.push(SetPasswordHash(user=ref, password_hash=password_hash))
        self.window.statusBar().showMessage(f"New password for {username} — save to keep it.", 5000)

    def undo(self) -> None:
        edit = self.window.store.undo()
        if edit is not None:
            self.window.statusBar().showMessage(f"Undone: {edit.describe()}", 4000)

    def redo(self) -> None:
        edit = self.window.store.redo()
        if edit is not None:
            self.window.statusBar().showMessage(f"Redone: {edit.describe()}", 4000)

    def cell_refused(self, message: str) -> None:
        self.window.statusBar().showMessage(f"Not changed: {message}", 8000)
        page = self.window.current_page()
        page.view.setToolTip(plain_tooltip(message))

    def _choices(self, entity: Entity) -> list[str]:
        """Values offered by the form's choice fields (resource names for a permission)."""
        if entity is not Entity.PERMISSION:
            return []
        try:
            with self.window.db.read() as session:
                return lookup.complete_resources(session, "", limit=CHOICES_LIMIT)
        except AccessGuardError as exc:
            self.window.statusBar().showMessage(f"Could not list resources: {exc}", 8000)
            return []

    def bulk_roles(self) -> Any:
        """Assign or remove one role for every selected user (edits go to the store)."""
        page = self.window.current_page()
        if page.kind.entity is not Entity.USER:
            self.window.show_page(0)
            self.window.statusBar().showMessage(
                "Select users first, then assign or remove a role.", 5000
            )
            return None
        if not self.editable(page):
            return None
        selected = page.selected_count()
        if self._still_counting_all(page, selected):
            return None
        everyone = _all_matching(page, selected)
        if everyone is not None:  # Ctrl+A: ONE pending edit for every user the view shows
            from .access.bulk import bulk_matching_dialog

            users, count = everyone
            return self.window._one_window(
                "bulk roles",
                lambda: bulk_matching_dialog(
                    self.window.db, self.window.store, users, count, self.window
                ),
                reuse=False,
            )
        if selected > DELETE_LIMIT:  # one pending edit per user: Ctrl+A on 1M is too many
            messages.show_error(
                self.window,
                "Too many rows selected",
                f"{selected:,} users are selected; a role can be changed for at most "
                f"{DELETE_LIMIT:,} users at once.",
                "Narrow the table with the search box or a filter first.",
            )
            return None
        ids = []
        for row in page.selected_rows():
            _values, record_id, _version = self.current_values(page, row)
            if record_id is not None:
                ids.append(record_id)
        if not ids:
            self.window.statusBar().showMessage("Select one or more saved users first.", 5000)
            return None
        from .access import bulk_role_dialog

        # A new selection needs a new dialog: replace one still open for the old one.
        return self.window._one_window(
            "bulk roles",
            lambda: bulk_role_dialog(self.window.db, self.window.store, ids, self.window),
            reuse=False,
        )


def _all_matching(page: TablePage, selected: int) -> tuple[UserMatch, int] | None:
    """(the view's search and filters, how many users they match) when every row of the
    users table is selected (Ctrl+A: one selection range, never a list of a million
    rows) and the count is known, with no unsaved new user among the rows; else None."""
    model = page.model
    count, _total = model.counts()
    rows = model.rowCount()
    if not count or selected != rows or rows != count:
        return None
    if model.is_counting() or model.is_busy():
        return None  # the count may still grow: "all N" is not known yet
    return UserMatch.of(model.query), count
