"""Assign or remove a role for ALL the users a view shows, as one pending edit.

After Ctrl+A on the users table (a million rows, kept as one selection range) the role
change is not a million ``Assign`` edits: it is one ``BulkRoleChange`` naming the view's
search and filters, applied on Save by set-based SQL (core/bulk_roles.py). The rules are
checked before it is pushed — on a worker with a progress bar and Cancel, since a check
over 800,000 users takes seconds.
"""

from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout, QWidget

from ...core import impact
from ...core.bulk_roles import BulkRoleChange, UserMatch
from ...core.changes import Edit
from ...core.database import Database
from ..pending import PendingStore
from .assignments import BulkRoleDialog
from .common import open_window, plain_label


class BulkMatchingDialog(BulkRoleDialog):
    """The bulk role dialog for every user ``users`` matches (``count`` of them when the
    dialog opened): OK checks the rules and pushes ONE ``BulkRoleChange``.

    Signals:
        applied(int): 1, the one pending edit added.

    Attributes:
        users: which users (the view's search and filters); count: how many matched.
    """

    def __init__(
        self,
        db: Database,
        store: PendingStore,
        users: UserMatch,
        count: int,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(db, store, [], parent)
        self.users = users
        self.count = count
        matching = users.describe()
        who = f"all {count:,} user{'' if count == 1 else 's'}"
        self.setWindowTitle(f"Change a role for {who}")
        self.scope_note = plain_label(
            f"For {who}{' ' + matching if matching else ''}: one pending change, "
            "applied to every one of them when you save (users who need no change are "
            "skipped)."
        )
        layout = self.layout()
        assert isinstance(layout, QVBoxLayout)
        layout.insertWidget(0, self.scope_note)

    def planned_edit(self) -> BulkRoleChange | None:
        """The edit OK would push, or None (with the reason shown)."""
        choice = self._choice()
        if choice is None:
            return None
        role, expires = choice
        remove = self.remove_radio.isChecked()
        return BulkRoleChange(role, self.users, self.count, remove, expires)

    def apply(self) -> bool:
        """Check the rules for the change on a worker; push it when they accept it."""
        edit = self.planned_edit()
        if edit is None:
            return False
        db = self._db
        pending = self._store.edits_for_save()

        def plan() -> tuple[list[Edit], str | None]:
            refused = impact.refusal(db, pending, [edit])
            return ([edit], None) if refused is None else ([], refused.message)

        return self._check_then_push(self.count, pending, plan)


def bulk_matching_dialog(
    db: Database,
    store: PendingStore,
    users: UserMatch,
    count: int,
    parent: QWidget,
) -> BulkMatchingDialog:
    """Open the dialog for every user ``users`` matches (non-modal)."""
    dialog = BulkMatchingDialog(db, store, users, count, parent)
    open_window(dialog)
    return dialog
