"""A save that cannot be applied applies nothing, keeps every edit, marks the row, says why."""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import select

from accessguard_gui.core import rbac
from accessguard_gui.core.changes import Create, Entity
from accessguard_gui.core.database import Database
from accessguard_gui.core.models import Role
from accessguard_gui.ui.messages import ConflictChoice

from .helpers import (
    cell_text,
    row_of_user,
    show_window,
    type_into_cell,
    user_id,
    users_in_file,
)


def _roles_in_file(db: Database) -> set[str]:
    fresh = Database(db.path, create=False)
    try:
        with fresh.read() as s:
            return {name for (name,) in s.execute(select(Role.name))}
    finally:
        fresh.close()


def test_duplicate_username_applies_nothing_and_keeps_edits(
    qtbot: Any, window: Any, seeded: Database, dialogs: Any
) -> None:
    window.store.push(Create(Entity.ROLE, {"name": "Payroll clerk", "description": ""}))
    page = window.page("users")
    bob_row = row_of_user(page, seeded, "bob")
    type_into_cell(qtbot, page, bob_row, "username", "alice")
    assert len(window.store) == 2

    with qtbot.assertNotEmitted(window.saved):
        window.act_save.trigger()

    assert len(dialogs.errors) == 1
    title, text, hint = dialogs.errors[0]
    assert "Nothing was saved" in text and "already exists" in text
    assert "another name" in hint
    # Nothing applied: not the role added before the failing edit, not the rename.
    assert set(users_in_file(seeded.path)) == {"alice", "bob", "carol"}
    assert "Payroll clerk" not in _roles_in_file(seeded)
    # Every edit kept, the failing row marked and selected, the title still dirty.
    assert len(window.store) == 2 and window.windowTitle().endswith("*")
    bob = user_id(seeded, "bob")
    assert "already exists" in (window.store.failure_for_record(Entity.USER, bob) or "")
    assert page.current_row() == row_of_user(page, seeded, "bob")
    assert "already exists" in page.details.record.status.text()

    # The user fixes the name and saves again: everything goes in.
    type_into_cell(qtbot, page, row_of_user(page, seeded, "bob"), "username", "robert")
    with qtbot.waitSignal(window.saved, timeout=5000):
        window.act_save.trigger()
    assert set(users_in_file(seeded.path)) == {"alice", "robert", "carol"}
    assert "Payroll clerk" in _roles_in_file(seeded)
    assert window.store.is_empty()


def _conflict(qtbot: Any, window: Any, seeded: Database) -> None:
    """The user changes alice's display name; meanwhile someone else changes it too."""
    page = window.page("users")
    type_into_cell(qtbot, page, row_of_user(page, seeded, "alice"), "display_name", "Mine")
    window.store.push(Create(Entity.ROLE, {"name": "Also pending", "description": ""}))
    with Database(seeded.path, create=False, operator="someone else") as other:
        with other.action("Rename") as s:
            rbac.update_user(s, "alice", display_name="Theirs")


def test_version_conflict_applies_nothing_until_the_user_chooses(
    qtbot: Any, window: Any, seeded: Database, dialogs: Any
) -> None:
    _conflict(qtbot, window, seeded)
    dialogs.conflict_choice = ConflictChoice.CANCEL
    with qtbot.assertNotEmitted(window.saved):
        window.act_save.trigger()
    ((text, theirs),) = dialogs.conflicts
    assert "changed by someone else" in text and "Nothing was saved" in text
    assert "Display name: Theirs" in theirs
    assert users_in_file(seeded.path)["alice"].display_name == "Theirs"
    assert "Also pending" not in _roles_in_file(seeded)
    assert len(window.store) == 2

    # F5 loads their version underneath; the pending edit stays on top.
    window.act_refresh.trigger()
    page = window.page("users")
    assert len(window.store) == 2
    assert cell_text(page, row_of_user(page, seeded, "alice"), "display_name") == "Mine"


def test_version_conflict_overwrite_with_mine(
    qtbot: Any, window: Any, seeded: Database, dialogs: Any
) -> None:
    _conflict(qtbot, window, seeded)
    dialogs.conflict_choice = ConflictChoice.MINE
    with qtbot.waitSignal(window.saved, timeout=5000):
        window.act_save.trigger()
    assert users_in_file(seeded.path)["alice"].display_name == "Mine"
    assert "Also pending" in _roles_in_file(seeded)
    assert window.store.is_empty() and not dialogs.errors


def test_version_conflict_keep_theirs(
    qtbot: Any, window: Any, seeded: Database, dialogs: Any
) -> None:
    _conflict(qtbot, window, seeded)
    dialogs.conflict_choice = ConflictChoice.THEIRS
    with qtbot.waitSignal(window.saved, timeout=5000):
        window.act_save.trigger()  # the rest of the pending edits still goes in
    assert users_in_file(seeded.path)["alice"].display_name == "Theirs"
    assert "Also pending" in _roles_in_file(seeded)
    assert window.store.is_empty()
    page = window.page("users")
    assert cell_text(page, row_of_user(page, seeded, "alice"), "display_name") == "Theirs"


def test_busy_database_applies_nothing(
    qtbot: Any, seeded: Database, settings: Any, dialogs: Any
) -> None:
    from accessguard_gui.ui.main_window import MainWindow

    seeded.close()
    db = Database(seeded.path, create=False, busy_timeout=0.2)
    window = MainWindow(db, settings)
    show_window(qtbot, window)
    page = window.page("users")
    type_into_cell(qtbot, page, row_of_user(page, db, "bob"), "display_name", "Busy Bob")
    blocker = sqlite3.connect(seeded.path, timeout=0.2)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # another program holds the write lock
        with qtbot.assertNotEmitted(window.saved):
            window.act_save.trigger()
    finally:
        blocker.rollback()
        blocker.close()
    (error,) = dialogs.errors
    assert "busy" in error[1].lower()
    assert "try again" in error[1].lower() or "save again" in error[2].lower()
    assert len(window.store) == 1
    assert users_in_file(seeded.path)["bob"].display_name == "Bob Baker"

    with qtbot.waitSignal(window.saved, timeout=5000):  # the lock is gone: saving works
        window.act_save.trigger()
    assert users_in_file(seeded.path)["bob"].display_name == "Busy Bob"
    window.store.clear()
    db.close()
