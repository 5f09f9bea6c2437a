"""The revoking-cut window: cuts with side effects, choosing one makes it pending, and the
access check then says denied once saved."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from accessguard_gui.core import changes, rbac
from accessguard_gui.core.database import Database
from accessguard_gui.ui.access.common import save_png
from accessguard_gui.ui.governance.cut import RevokingCutWindow
from accessguard_gui.ui.pending import PendingStore

from .conftest import SHOTS, settle


def _seed(db: Database) -> None:
    with db.action("Seed") as s:
        for user in ("alice", "bob"):
            rbac.add_user(s, user)
        for role in ("Payroll", "Approver"):
            rbac.add_role(s, role)
        rbac.add_resource(s, "Payroll")
        rbac.add_permission(s, "Payroll", "approve")
        rbac.grant_permission(s, "Approver", ("Payroll", "approve"))
        rbac.add_inheritance(s, "Payroll", "Approver")
        rbac.assign_user(s, "alice", "Payroll")
        rbac.assign_user(s, "bob", "Approver")


def _window(qtbot: QtBot, db: Database) -> RevokingCutWindow:
    window = RevokingCutWindow(db, PendingStore())
    qtbot.addWidget(window)
    window.resize(980, 520)
    window.show()
    return window


def test_cuts_are_listed_with_side_effects_and_one_becomes_pending(qtbot: QtBot, db: Database) -> None:
    _seed(db)
    window = _window(qtbot, db)
    window.set_query("alice", "Payroll", "approve")
    window.find_button.click()
    settle(qtbot, window)
    rows = window.model.rows()
    assert "needs 1 change at least" in window.headline.text()
    assert rows[0][2] == "nobody else loses anything"
    assert ("Revoke Payroll: approve from Approver", "1", "bob: Payroll: approve") in rows
    save_png(window, SHOTS / "cut.png")
    window.table.selectRow(0)
    window.pending_button.click()
    settle(qtbot, window)
    edits = window.store.edits_for_save()
    assert len(edits) == 1 and "pending" in window.message.text()
    with db.action("Save") as s:
        changes.apply_edits(s, edits)
    with db.read() as s:
        assert not rbac.check_access(s, "alice", "Payroll", "approve").allowed
        assert rbac.check_access(s, "bob", "Payroll", "approve").allowed


def test_read_only_finds_but_cannot_make_pending(qtbot: QtBot, db: Database, db_path: Path) -> None:
    _seed(db)
    db.close()
    ro = Database(db_path, read_only=True)
    window = _window(qtbot, ro)
    window.set_query("alice", "Payroll", "approve")
    window.find_cuts()
    settle(qtbot, window)
    assert window.model.rowCount() >= 2
    assert not window.pending_button.isEnabled()
    ro.close()
