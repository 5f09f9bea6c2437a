"""The access check panel shows exactly what core.rbac.check_access decides."""

from __future__ import annotations

import random

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from accessguard_gui.core import rbac
from accessguard_gui.core.database import Database
from accessguard_gui.ui.access.access_check import AccessCheckPanel
from accessguard_gui.ui.access.common import save_png

from .conftest import SHOTS, build_generated, shown


def _panel(qtbot: QtBot, db: Database) -> AccessCheckPanel:
    return shown(qtbot, AccessCheckPanel(db), 560, 460)


def test_allowed_with_paths(qtbot: QtBot, demo_db: Database) -> None:
    panel = _panel(qtbot, demo_db)
    panel.set_query("alice", "Door B2.14", "open")
    with qtbot.waitSignal(panel.checked):
        qtbot.mouseClick(panel.check_button, Qt.MouseButton.LeftButton)
    assert panel.verdict.text() == "Allowed"
    text = panel.explanation.toPlainText()
    assert "alice \u2192 Admin \u2192 Staff \u2192 Base \u2192 Door B2.14: open" in text
    assert "alice \u2192 Admin \u2192 Operator \u2192 Base \u2192 Door B2.14: open" in text
    save_png(panel, SHOTS / "access_check_allowed.png")


def test_denied_reasons(qtbot: QtBot, demo_db: Database) -> None:
    panel = _panel(qtbot, demo_db)
    panel.set_query("bob", "Ledger", "write")
    panel.user_edit.returnPressed.emit()
    assert panel.verdict.text() == "Denied"
    assert "expired" in panel.explanation.toPlainText()
    save_png(panel, SHOTS / "access_check_denied_expired.png")
    panel.set_query("carol", "Ledger", "read")
    panel.check()
    assert panel.verdict.text() == "Denied"
    assert "inactive" in panel.explanation.toPlainText()
    panel.set_query("dave", "Server room", "open")
    panel.check()
    assert "none of dave\u2019s roles grants" in panel.explanation.toPlainText()
    panel.set_query("nobody", "Ledger", "read")
    panel.check()
    assert "no user named" in panel.explanation.toPlainText()


def test_editing_a_field_clears_the_old_verdict(qtbot: QtBot, demo_db: Database) -> None:
    panel = _panel(qtbot, demo_db)
    panel.set_query("alice", "Ledger", "read")
    panel.check()
    assert panel.decision is not None
    panel.action_edit.setText("write")
    assert panel.decision is None
    assert panel.verdict.text() == "\u2014"


def test_completion_comes_from_prefix_queries(qtbot: QtBot, demo_db: Database) -> None:
    panel = _panel(qtbot, demo_db)
    qtbot.keyClicks(panel.user_edit, "a")
    qtbot.waitUntil(lambda: panel.user_completer.candidates() == ["alice"])
    panel.resource_edit.setText("server")
    assert panel.resource_completer.refresh() == ["Server room"]
    panel.resource_edit.setText("Server room")
    assert panel.action_completer.refresh() == ["audit", "open"]


def test_panel_agrees_with_check_access_on_generated_database(qtbot: QtBot, db: Database) -> None:
    names = build_generated(db, seed=7)
    panel = _panel(qtbot, db)
    rng = random.Random(11)
    allowed = denied = 0
    for _ in range(300):
        user = rng.choice(names["users"] + ["ghost"])
        resource = rng.choice(names["resources"])
        action = rng.choice(names["actions"])
        panel.set_query(user, resource, action)
        shown = panel.check()
        with db.read() as s:
            expected = rbac.check_access(s, user, resource, action)
        assert shown is not None
        assert panel.verdict.text() == ("Allowed" if expected.allowed else "Denied")
        assert panel.explanation.toPlainText() == expected.explanation()
        allowed += expected.allowed
        denied += not expected.allowed
    # The generated data must exercise both answers, or the test proves little.
    assert allowed > 20 and denied > 20


def test_as_if_saved_uses_check_access_on_the_pending_state(
    qtbot: QtBot, demo_db: Database
) -> None:
    from accessguard_gui.core.changes import Assign
    from accessguard_gui.ui.pending import PendingStore

    store = PendingStore()
    store.push(Assign("dave", "Auditor"))
    panel = AccessCheckPanel(demo_db, store=store)
    qtbot.addWidget(panel)
    panel.set_query("dave", "Server room", "audit")
    assert panel.check() is not None
    assert panel.verdict.text() == "Denied"
    panel.pending_check.setChecked(True)
    assert panel.decision is None  # the old answer is cleared
    decision = panel.check()
    assert decision is not None and decision.allowed
    assert "dave \u2192 Auditor \u2192 Server room: audit" in panel.explanation.toPlainText()
    with demo_db.read() as s:  # still nothing written
        assert not rbac.check_access(s, "dave", "Server room", "audit").allowed
