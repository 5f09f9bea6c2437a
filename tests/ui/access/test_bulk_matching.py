"""The bulk role dialog for ALL users a view shows: one pending edit, checked off the GUI
thread, undoable, refused on a read-only file, saved set-based (issue 11)."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from accessguard_gui.core import rbac
from accessguard_gui.core.bulk_roles import BulkRoleChange, UserMatch
from accessguard_gui.core.database import Database
from accessguard_gui.ui.access.bulk import BulkMatchingDialog, bulk_matching_dialog
from accessguard_gui.ui.access.common import save_png
from accessguard_gui.ui.pending import PendingStore
from accessguard_gui.ui.saving import save_pending

from .conftest import SHOTS

_PARENTS: list[QWidget] = []  # kept alive for the test (the dialog is their child)


def _dialog(qtbot: QtBot, db: Database, store: PendingStore) -> BulkMatchingDialog:
    parent = QWidget()
    qtbot.addWidget(parent)
    _PARENTS[:] = [parent]
    return bulk_matching_dialog(db, store, UserMatch("a", (("active", True),)), 2, parent)


def test_ok_pushes_one_edit_for_all_matching_users(qtbot: QtBot, demo_db: Database) -> None:
    store = PendingStore()
    dialog = _dialog(qtbot, demo_db, store)
    assert dialog.windowTitle() == "Change a role for all 2 users"
    assert "matching \u201ca\u201d with active yes" in dialog.scope_note.text()
    dialog.role_edit.setText("Payments")
    save_png(dialog, SHOTS / "bulk_matching_dialog.png")
    with qtbot.waitSignal(dialog.applied, timeout=10_000) as blocker:
        assert dialog.apply()
        assert dialog.is_checking()  # the rules are checked off the GUI thread
    assert blocker.args == [1]
    (edit,) = store.edits()
    assert edit == BulkRoleChange("Payments", UserMatch("a", (("active", True),)), 2)
    with demo_db.read() as s:  # pending until Save
        before = {a.username for a in rbac.assigned_users(s, "Payments")}
    store.undo()
    assert store.edits() == []
    store.redo()
    assert save_pending(demo_db, store).ok
    fresh = Database(demo_db.path, operator="checker")
    try:
        with fresh.read() as s:
            holders = {a.username for a in rbac.assigned_users(s, "Payments")}
    finally:
        fresh.close()
    # Active users whose name, display name or e-mail holds an "a" (carol is inactive).
    assert holders - before == {"alice", "dave"} - before
    assert {"alice", "dave"} <= holders and "carol" not in holders - before


def test_a_refusal_is_shown_and_nothing_is_pushed(qtbot: QtBot, demo_db: Database) -> None:
    store = PendingStore()
    dialog = _dialog(qtbot, demo_db, store)
    dialog.role_edit.setText("No such role")
    assert dialog.apply()
    qtbot.waitUntil(lambda: not dialog.is_checking(), timeout=10_000)
    assert dialog.message.text().startswith("Refused: ")
    assert store.edits() == []


def test_cancel_stops_waiting_for_the_check(qtbot: QtBot, demo_db: Database) -> None:
    store = PendingStore()
    dialog = _dialog(qtbot, demo_db, store)
    dialog.role_edit.setText("Payments")
    assert dialog.apply()
    dialog.cancel()
    assert not dialog.is_checking()
    assert dialog.message.text() == "Cancelled: no change was made."
    qtbot.wait(200)
    assert store.edits() == []


def test_ctrl_a_in_the_users_table_makes_one_edit_for_every_match(
    qtbot: QtBot, window: Any, seeded: Database
) -> None:
    """The main window's Access > Assign/remove role after Ctrl+A on a search: one
    BulkRoleChange naming the search, saved set-based; a partial selection keeps the
    one-edit-per-user dialog."""
    page = window.current_page()
    page.search.setText("ar")  # alice (Archer) and carol (Carol); not bob
    qtbot.waitUntil(lambda: page.model.query.search == "ar" and page.model.rowCount() == 2)
    qtbot.waitUntil(lambda: not page.model.is_busy() and not page.model.is_counting())
    page.view.selectAll()
    dialog = window.bulk_roles()
    assert isinstance(dialog, BulkMatchingDialog)
    assert dialog.windowTitle() == "Change a role for all 2 users"
    dialog.role_edit.setText("Auditor")
    with qtbot.waitSignal(dialog.applied, timeout=10_000):
        assert dialog.apply()
    assert window.store.edits() == [BulkRoleChange("Auditor", UserMatch("ar"), 2)]
    assert window.save()
    fresh = Database(seeded.path, operator="checker")
    try:
        with fresh.read() as s:
            assert {a.username for a in rbac.assigned_users(s, "Auditor")} == {"alice", "carol"}
    finally:
        fresh.close()
    page.select_row(0)  # one row: the per-user dialog
    single = window.bulk_roles()
    assert single is not None and not isinstance(single, BulkMatchingDialog)
