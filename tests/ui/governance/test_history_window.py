"""The "access at a date" window: the past answer with its paths, the period diff, and a
file whose trail starts later."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from pytestqt.qtbot import QtBot

from accessguard_gui.core import rbac
from accessguard_gui.core.database import Database
from accessguard_gui.core.models import utcnow
from accessguard_gui.ui.access.common import save_png
from accessguard_gui.ui.governance.common import set_moment
from accessguard_gui.ui.governance.history import HistoryWindow
from accessguard_gui.ui.pending import PendingStore

from .conftest import SHOTS, settle


def test_past_answer_and_what_changed(qtbot: QtBot, db: Database) -> None:
    with db.action("Seed") as s:
        rbac.add_user(s, "alice")
        rbac.add_role(s, "Payroll")
        rbac.add_role(s, "Approver")
        rbac.add_resource(s, "Payroll")
        rbac.add_permission(s, "Payroll", "approve")
        rbac.grant_permission(s, "Approver", ("Payroll", "approve"))
        rbac.add_inheritance(s, "Payroll", "Approver")
        rbac.assign_user(s, "alice", "Payroll")
    time.sleep(0.01)
    then = utcnow()
    time.sleep(0.01)
    with db.action("Take it away") as s:
        rbac.deassign_user(s, "alice", "Payroll")
    window = HistoryWindow(db, PendingStore())
    qtbot.addWidget(window)
    window.resize(900, 720)
    window.show()
    window.set_question("alice", "Payroll", "approve", then)
    window.ask_button.click()
    settle(qtbot, window)
    assert window.verdict.text() == "Allowed then"
    assert "alice \u2192 Payroll \u2192 Approver \u2192 Payroll: approve" in window.explanation.toPlainText()
    set_moment(window.since, then)
    set_moment(window.until, utcnow())
    window.diff_button.click()
    settle(qtbot, window)
    top = window.diff_tree.topLevelItem(0)
    assert top is not None and top.text(0) == "\u2212 lost  Payroll: approve"
    assert top.child(0).text(0) == "delete assignment alice \u2192 Payroll"
    assert top.child(0).text(3) == "Take it away"
    save_png(window, SHOTS / "history.png")


def test_a_date_before_the_trail_is_refused_in_plain_words(qtbot: QtBot, db: Database) -> None:
    with db.action("Seed") as s:
        rbac.add_user(s, "alice")
    window = HistoryWindow(db, PendingStore())
    qtbot.addWidget(window)
    window.set_question("alice", "Payroll", "approve", datetime(2020, 1, 1, tzinfo=UTC))
    window.ask()
    settle(qtbot, window)
    assert "audit trail starts on" in window.message.text()
    assert window.verdict.text() == "\u2014"
