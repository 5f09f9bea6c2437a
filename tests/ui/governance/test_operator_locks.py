"""Governance windows for an operator who may only view (issue 14): every control that
would make a change is off, saying which AccessGuard permission it needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
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
