"""The role hygiene window: findings by kind, a ticked fix becomes pending, read-only."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from accessguard_gui.core import rbac
from accessguard_gui.core.database import Database
from accessguard_gui.ui.access.common import save_png
from accessguard_gui.ui.governance.hygiene import HygieneWindow
from accessguard_gui.ui.pending import PendingStore

from .conftest import SHOTS, settle


def _seed(db: Database) -> None:
    with db.action("Seed") as s:
        for name in ("alice", "lonely"):
            rbac.add_user(s, name)
        for role in ("Base", "Staff", "Ghost"):
            rbac.add_role(s, role)
        rbac.add_resource(s, "Ledger")
        rbac.add_permission(s, "Ledger", "read")
        rbac.add_permission(s, "Ledger", "shred")
        rbac.grant_permission(s, "Base", ("Ledger", "read"))
        rbac.add_inheritance(s, "Staff", "Base")
        rbac.assign_user(s, "alice", "Staff")
        rbac.assign_user(s, "alice", "Base")


def test_findings_are_listed_and_a_ticked_fix_becomes_pending(qtbot: QtBot, db: Database) -> None:
    _seed(db)
    window = HygieneWindow(db, PendingStore())
    qtbot.addWidget(window)
    window.resize(1000, 600)
    window.show()
    settle(qtbot, window)
    groups = [window.tree.topLevelItem(i).text(0) for i in range(window.tree.topLevelItemCount())]
    assert "Unused roles (1)" in groups and "Redundant assignments (1)" in groups
    assert "Permissions granted to nobody (1)" in groups
    save_png(window, SHOTS / "hygiene.png")
    window.set_checked("alice \u2192 Base")
    window.set_checked("Ledger: shred")
    window.fix_checked.click()
    settle(qtbot, window)
    assert [e.describe() for e in window.store.edits()] == [
        "Delete permission Ledger: shred",
        "Remove alice from Base",
    ]
    assert "pending" in window.message.text()
    marked = {i.text(0): i.text(2) for i in window._items()}
    assert marked["Ledger: shred"] == "Delete the permission \u2014 pending"
    window.store.undo()
    marked = {i.text(0): i.text(2) for i in window._items()}
    assert marked["alice \u2192 Base"] == "Remove the direct assignment"


def test_read_only_offers_no_fix(qtbot: QtBot, db: Database, db_path: Path) -> None:
    _seed(db)
    db.close()
    ro = Database(db_path, read_only=True)
    window = HygieneWindow(ro, PendingStore())
    qtbot.addWidget(window)
    settle(qtbot, window)
    assert window.results and not window.fix_checked.isEnabled()
    assert "read-only" in window.fix_group.toolTip()
    ro.close()
