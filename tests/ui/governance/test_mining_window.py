"""The role mining window: suggested roles, a pending restructure that changes nobody's
access, and the separation-of-duty warning."""

from __future__ import annotations

from typing import Any

from pytestqt.qtbot import QtBot

from accessguard_gui.core import impact, rbac
from accessguard_gui.core.database import Database
from accessguard_gui.ui.access.common import save_png
from accessguard_gui.ui.governance.mining import RoleMiningWindow
from accessguard_gui.ui.pending import PendingStore

from .conftest import SHOTS, settle


def test_suggest_and_propose(qtbot: QtBot, db: Database, dialogs: Any) -> None:
    with db.action("Seed") as s:
        rbac.add_resource(s, "Ledger")
        for action in ("read", "write", "approve"):
            rbac.add_permission(s, "Ledger", action)
        for role, perms in {"Reader": ["read"], "Writer": ["read", "write"], "Boss": ["approve"],
                            "Also read": ["read"]}.items():
            rbac.add_role(s, role)
            for p in perms:
                rbac.grant_permission(s, role, ("Ledger", p))
        for user, roles in {"ann": ["Reader", "Writer"], "ben": ["Also read"], "cy": ["Boss", "Writer"]}.items():
            rbac.add_user(s, user)
            for role in roles:
                rbac.assign_user(s, user, role)
        rbac.create_ssd_set(s, "Split", ["Boss", "Also read"], 2)
    window = RoleMiningWindow(db, PendingStore())
    qtbot.addWidget(window)
    window.resize(900, 500)
    window.show()
    window.mine_button.click()
    settle(qtbot, window)
    assert window.result is not None and len(window.result.roles) == 3
    assert window.figures.text().startswith("3 roles reproduce the permissions of 3 active users")
    save_png(window, SHOTS / "mining.png")
    window.propose_button.click()
    settle(qtbot, window)
    assert "pending" in window.message.text() and "separation-of-duty" in window.message.text()
    assert "no longer bound" in dialogs.confirms[0]
    report = impact.review(db, window.store.edits_for_save())
    assert report.ok and (report.net_gained, report.net_lost) == (0, 0)
