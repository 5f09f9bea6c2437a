"""The window's pending edits: one ordered list, with undo/redo, saved in one action.

Every view that edits (table cells, record forms, assignment pickers, the role/permission
matrix) pushes ``core.changes`` edits here instead of writing to the database. Table models
draw their pending overlay from this store, so there is one source of truth for "what will
Save do", and Undo/Redo walk the same list the user sees.

On a read-only database the store takes no edit at all (``set_read_only``): every editing
control is off there too, and this is the guard behind them.

Signals:
    changed: the list of pending edits (or their failure marks) changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QObject, Signal

from ..core.changes import Create, Delete, Edit, Entity, Update
from ..core.errors import ReadOnlyDatabaseError


class PendingStore(QObject):
    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._edits: list[Edit] = []
        self._redo: list[Edit] = []
        self._failures: dict[int, str] = {}  # id(edit) -> message of the last failed save
        self._read_only = False

    # ------------------------------------------------------------ read-only

    def set_read_only(self, read_only: bool) -> None:
        """The window's database is (or is no longer) read-only."""
        self._read_only = read_only

    @property
    def read_only(self) -> bool:
        return self._read_only

    def _refuse_if_read_only(self) -> None:
        if self._read_only:
            raise ReadOnlyDatabaseError(
                "The database is open read-only; nothing can be changed, so the change "
                "was not kept."
            )

    # ------------------------------------------------------------ list and undo/redo

    def push(self, edit: Edit) -> None:
        """Add one edit.

        Raises:
            ReadOnlyDatabaseError: the database is read-only; nothing was added.
        """
        self._refuse_if_read_only()
        self._edits.append(edit)
        self._redo.clear()
        self.changed.emit()

    def push_many(self, edits: Iterable[Edit]) -> None:
        """Several edits made by one user gesture (e.g. a bulk assign): undone one by one."""
        added = list(edits)
        if not added:
            return
        self._refuse_if_read_only()
        self._edits.extend(added)
        self._redo.clear()
        self.changed.emit()

    def replace(self, old: Edit, new: Edit) -> None:
        """Change one pending edit in place (the user edits a new, unsaved record's form):
        the record keeps its place in the list and Save applies the new values."""
        self._refuse_if_read_only()
        for position, edit in enumerate(self._edits):
            if edit is old:
                self._edits[position] = new
                self._failures.pop(id(old), None)
                self._redo.clear()
                self.changed.emit()
                return
        raise ValueError("that edit is not pending")

    def withdraw(self, edits: Iterable[Edit]) -> None:
        """Take pending edits back out (deleting a new, unsaved record removes it)."""
        gone = {id(e) for e in edits}
        if not gone:
            return
        self._edits = [e for e in self._edits if id(e) not in gone]
        for key in gone:
            self._failures.pop(key, None)
        self._redo.clear()
        self.changed.emit()

    def rebase(self, entity: Entity, record_id: int, version: int | None) -> None:
        """The user chose to overwrite someone else's change: the pending updates and
        deletes of this record now expect the version that is in the file."""
        changed = False
        for position, edit in enumerate(self._edits):
            if isinstance(edit, (Update, Delete)) and (edit.entity, edit.id) == (entity, record_id):
                self._failures.pop(id(edit), None)
                self._edits[position] = replace(edit, version=version)
                changed = True
        if changed:
            self.changed.emit()

    def for_record(self, entity: Entity, record_id: int) -> list[Edit]:
        """The pending updates and deletes of one record."""
        return [
            e
            for e in self._edits
            if isinstance(e, (Update, Delete)) and (e.entity, e.id) == (entity, record_id)
        ]

    def undo(self) -> Edit | None:
        if not self._edits:
            return None
        edit = self._edits.pop()
        self._redo.append(edit)
        self._failures.pop(id(edit), None)
        self.changed.emit()
        return edit

    def redo(self) -> Edit | None:
        if not self._redo or self._read_only:
            return None
        edit = self._redo.pop()
        self._edits.append(edit)
        self.changed.emit()
        return edit

    def undo_text(self) -> str:
        """The Undo action's text: what it would undo, old \u2192 new ("Undo Change user
        adam: username adam \u2192 ada")."""
        return f"Undo {self._edits[-1].describe()}" if self._edits else "Undo"

    def redo_text(self) -> str:
        return f"Redo {self._redo[-1].describe()}" if self._redo else "Redo"

    def can_undo(self) -> bool:
        return bool(self._edits)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def clear(self) -> None:
        """After a successful save or a revert."""
        self._edits.clear()
        self._redo.clear()
        self._failures.clear()
        self.changed.emit()

    def edits(self) -> list[Edit]:
        """The pending edits in the order the user made them."""
        return list(self._edits)

    def __len__(self) -> int:
        return len(self._edits)

    def is_empty(self) -> bool:
        return not self._edits

    # ------------------------------------------------------------ failures

    def mark_failed(self, edit: Edit, message: str) -> None:
        self._failures[id(edit)] = message
        self.changed.emit()

    def clear_failures(self) -> None:
        if self._failures:
            self._failures.clear()
            self.changed.emit()

    def failure(self, edit: Edit) -> str | None:
        return self._failures.get(id(edit))

    def failure_for_record(self, entity: Entity, record_id: int) -> str | None:
        for edit in self._edits:
            if (
                isinstance(edit, (Update, Delete))
                and edit.entity == entity
                and edit.id == record_id
            ):
                message = self._failures.get(id(edit))
                if message:
                    return message
        return None

    # ------------------------------------------------------------ overlay for table models

    def pending_values(self, entity: Entity, record_id: int) -> dict[str, Any]:
        """The field values the user changed on an existing record (later edits win)."""
        values: dict[str, Any] = {}
        for edit in self._edits:
            if isinstance(edit, Update) and edit.entity == entity and edit.id == record_id:
                values.update(edit.values)
        return values

    def is_deleted(self, entity: Entity, record_id: int) -> bool:
        return any(
            isinstance(e, Delete) and e.entity == entity and e.id == record_id for e in self._edits
        )

    def created(self, entity: Entity) -> list[Create]:
        return [e for e in self._edits if isinstance(e, Create) and e.entity == entity]

    # ------------------------------------------------------------ what Save applies

    def edits_for_save(self) -> list[Edit]:
        """The pending list folded so it applies cleanly in one transaction.

        Several updates of one record become one update (checked against the version the
        user first saw, since each UPDATE bumps the version); updates of a record deleted
        later are dropped.
        """
        folded: list[Edit] = []
        position: dict[tuple[Entity, int], int] = {}
        deleted = {(e.entity, e.id) for e in self._edits if isinstance(e, Delete)}
        for edit in self._edits:
            if isinstance(edit, Update):
                key = (edit.entity, edit.id)
                if key in deleted:
                    continue
                if key in position:
                    first = folded[position[key]]
                    assert isinstance(first, Update)
                    folded[position[key]] = replace(
                        first,
                        values={**first.values, **edit.values},
                        # What the user saw first is the old value of the whole change.
                        before={**edit.before, **first.before},
                    )
                    continue
                position[key] = len(folded)
            folded.append(edit)
        return folded

    def failing_original(self, folded_index: int) -> Edit | None:
        """Map an index in ``edits_for_save()`` back to the user's edit (for marking)."""
        folded = self.edits_for_save()
        if not 0 <= folded_index < len(folded):
            return None
        target = folded[folded_index]
        if isinstance(target, Update):
            for edit in self._edits:
                if isinstance(edit, Update) and (edit.entity, edit.id) == (
                    target.entity,
                    target.id,
                ):
                    return edit
        for edit in self._edits:
            if edit is target:
                return edit
        return target
