"""Governance windows for an operator who may only view (issue 14): every control that
would make a change is off, saying which AccessGuard permission it needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from accessguard_gui.core.database import Database
from accessguard_gui.ui.governance.campaigns import CampaignsWindow
from accessguard_gui.ui.governance.cut import RevokingCutWindow
from accessguard_gui.ui.governance.expiry import ExpiryCalendar
from accessguard_gui.ui.governance.hygiene import HygieneWindow
from accessguard_gui.ui.governance.mining import RoleMiningWindow
from accessguard_gui.ui.pending import PendingStore

from ..test_sign_in import ALICE_PASSWORD, BOB_PASSWORD, make_guarded_file
from .conftest import settle

WINDOWS = [
    (HygieneWindow, "edit-roles"),
    (RoleMiningWindow, "edit-roles"),
    (ExpiryCalendar, "assign-roles"),
    (RevokingCutWindow, "edit-roles"),
    (CampaignsWindow, "review"),
]


@pytest.mark.parametrize(("window_class", "needed"), WINDOWS)
def test_a_viewer_sees_but_cannot_fix(
    qtbot: QtBot, tmp_path: Path, window_class: Any, needed: str
) -> None:
    db = Database(make_guarded_file(tmp_path / "guarded.db"), create=False)
    try:
        db.sign_in("bob", BOB_PASSWORD)  # AccessGuard: view only
        window = window_class(db, PendingStore())
        qtbot.addWidget(window)
        settle(qtbot, window)
        assert window.fix_buttons
        for button in window.fix_buttons:
            assert not button.isEnabled()
            assert "Signed in as bob" in button.toolTip() and needed in button.toolTip()
        window.propose([object()])  # a forced proposal is refused, nothing pending
        assert window.store.is_empty() and "Signed in as bob" in window.message.text()
        window.close()
        db.sign_in("alice", ALICE_PASSWORD)  # an administrator: the same window offers fixes
        again = window_class(db, PendingStore())
        qtbot.addWidget(again)
        settle(qtbot, again)
        assert again.lock_reason is None and not again.read_only
        again.close()
    finally:
        db.close()


def test_a_fix_the_operator_may_not_make_is_refused_when_proposed(
    qtbot: QtBot, tmp_path: Path
) -> None:
    """Dora may edit roles and assign them, not edit users: the hygiene window is open to
    her, but deactivating carol (a user without roles) is refused where she proposes it,
    naming the permission — not left pending for a save to fail on."""
    from accessguard_gui.core import rbac
    from accessguard_gui.core.changes import Assign, Create, Entity, Grant, apply_edits
    from accessguard_gui.core.governance.hygiene import Kind
    from accessguard_gui.core.operators import APP_RESOURCE, AppAction

    path = make_guarded_file(tmp_path / "guarded.db")
    db = Database(path, create=False)
    try:
        db.sign_in("alice", ALICE_PASSWORD)
        with db.action("Dora") as s:
            rbac.add_user(s, "dora", "Dora Dale")
            rbac.set_password(s, "dora", "dora-has-a-long-password")
            apply_edits(
                s,
                [
                    Create(Entity.ROLE, {"name": "Role keepers", "description": ""}),
                    Grant("Role keepers", (APP_RESOURCE, AppAction.VIEW.value)),
                    Grant("Role keepers", (APP_RESOURCE, AppAction.EDIT_ROLES.value)),
                    Grant("Role keepers", (APP_RESOURCE, AppAction.ASSIGN_ROLES.value)),
                    Assign("dora", "Role keepers"),
                ],
            )
        db.sign_in("dora", "dora-has-a-long-password")
        window = HygieneWindow(db, PendingStore())
        qtbot.addWidget(window)
        settle(qtbot, window)
        assert window.lock_reason is None  # her fixes are roles and assignments
        carol = [
            f
            for r in window.results
            if r.kind is Kind.USER_WITHOUT_ROLES
            for f in r.findings
            if f.subject == "carol"
        ]
        assert carol and carol[0].fix == "Deactivate the user"
        window.set_checked("carol")
        qtbot.mouseClick(window.fix_checked, Qt.MouseButton.LeftButton)
        settle(qtbot, window)
        assert window.store.is_empty()
        assert window.message.text().startswith("Refused: ")
        assert "edit users" in window.message.text() or "edit-users" in window.message.text()
        window.close()
        with db.read() as s:
            assert rbac.get_user(s, "carol").active  # nothing written either
    finally:
        db.close()
