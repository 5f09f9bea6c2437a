"""The Access menu: issue 4's views opened from the main window, and bulk role changes."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QItemSelectionModel, Qt

from accessguard_gui.core import rbac
from accessguard_gui.core.changes import Assign
from accessguard_gui.core.database import Database
from accessguard_gui.ui.access.access_check import AccessCheckPanel
from accessguard_gui.ui.access.assignments import BulkRoleDialog
from accessguard_gui.ui.main_window import MainWindow

from .helpers import row_of_user


def test_access_menu_lists_every_view_with_a_shortcut(window: MainWindow) -> None:
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    access = menus["Access"]
    texts = [a.text().replace("&", "") for a in access.actions() if not a.isSeparator()]
    assert texts == [
        "Access check…",
        "Effective access…",
        "Roles × permissions…",
        "Separation of duty…",
        "Assign or remove a role for selected users…",
    ]
    for act in access.actions():
        if not act.isSeparator():
            assert not act.shortcut().isEmpty(), act.text()


def test_access_check_opens_on_the_current_database(
    qtbot: Any, window: MainWindow, seeded: Database
) -> None:
    with seeded.action("Grant") as s:
        rbac.grant_permission(s, "Auditor", ("Ledger", "read"))
        rbac.assign_user(s, "alice", "Auditor")
    qtbot.keyClick(window, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    panels = [w for w in window.findChildren(AccessCheckPanel) if w.isVisible()]
    assert len(panels) == 1
    panel = panels[0]
    panel.set_query("alice", "Ledger", "read")
    decision = panel.check()
    assert decision is not None and decision.allowed
    assert "Allowed" in panel.verdict.text()
    panel.set_query("bob", "Ledger", "read")
    decision = panel.check()
    assert decision is not None and not decision.allowed
    panel.close()


def test_bulk_assign_for_selected_users_is_pending_until_save(
    qtbot: Any, window: MainWindow, seeded: Database
) -> None:
    page = window.current_page()
    selection = page.view.selectionModel()
    flags = QItemSelectionModel.SelectionFlag
    for name in ("alice", "bob"):  # like clicking alice, then Ctrl+clicking bob
        row = row_of_user(page, seeded, name)
        selection.setCurrentIndex(page.model.index(row, 0), flags.Select | flags.Rows)
    assert window.act_bulk_roles.isEnabled()
    window.act_bulk_roles.trigger()
    dialogs = [w for w in window.findChildren(BulkRoleDialog) if w.isVisible()]
    assert len(dialogs) == 1
    dialog = dialogs[0]
    dialog.role_edit.setText("Auditor")
    with qtbot.waitSignal(dialog.applied) as blocker:
        assert dialog.apply()
    assert blocker.args == [2]
    assert sorted(e.user for e in window.store.edits() if isinstance(e, Assign)) == [
        "alice",
        "bob",
    ]
    with seeded.read() as s:  # nothing written yet
        assert rbac.assigned_users(s, "Auditor") == []
    window.save()
    fresh = Database(seeded.path, operator="checker")
    try:
        with fresh.read() as s:
            assert [a.username for a in rbac.assigned_users(s, "Auditor")] == ["alice", "bob"]
    finally:
        fresh.close()


def test_access_windows_open_once_and_close_with_their_file(
    qtbot: Any, window: MainWindow, tmp_path: Any
) -> None:
    first = window.access_actions[0]
    first.trigger()
    first.trigger()  # a second use brings the open window back, no second window
    panels = [w for w in window.findChildren(AccessCheckPanel) if w.isVisible()]
    assert len(panels) == 1
    assert panels[0].windowTitle() == "Access check \u2014 AccessGuard"
    assert window.open_path(tmp_path / "other.db", create=True)
    # The panel read the old file: it is closed when another file is opened.
    assert not panels[0].isVisible()


def test_access_views_say_what_they_do_in_the_status_bar(window: MainWindow) -> None:
    for act in window.access_actions:
        assert act.statusTip(), act.text()
