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


def test_a_mistyped_name_says_no_such_user_not_denied(qtbot: QtBot, demo_db: Database) -> None:
    panel = _panel(qtbot, demo_db)
    panel.set_query("alcie", "Ledger", "read")
    panel.user_edit.returnPressed.emit()
    assert panel.verdict.text() == "No such user"
    assert "alcie" in panel.explanation.toPlainText()
    assert "Denied" not in panel.explanation.toPlainText()
    panel.set_query("alice", "Ledgr", "read")
    panel.check()
    assert panel.verdict.text() == "No such resource"
    panel.set_query("alice", "Ledger", "reed")
    panel.check()
    assert panel.verdict.text() == "No such action"
    save_png(panel, SHOTS / "access_check_no_such_action.png")


def test_editing_a_field_clears_the_old_verdict(qtbot: QtBot, demo_db: Database) -> None:
    panel = _panel(qtbot, demo_db)
    panel.set_query("alice", "Ledger", "read")
    panel.check()
    assert panel.decision is not None
    panel.action_edit.setText("write")
    assert panel.decision is None
    assert panel.verdict.text() == "\u2014"


def test_completion_finds_substrings_prefix_first(qtbot: QtBot, demo_db: Database) -> None:
    panel = _panel(qtbot, demo_db)
    qtbot.keyClicks(panel.user_edit, "a")
    qtbot.waitUntil(lambda: panel.user_completer.candidates()[:1] == ["alice"])
    assert "carol" in panel.user_completer.candidates()  # "a" inside the name
    panel.resource_edit.setText("server")
    assert panel.resource_completer.refresh() == ["Server room"]
    panel.resource_edit.setText("room")
    assert panel.resource_completer.refresh() == ["Server room"]
    panel.resource_edit.setText("Server room")
    assert panel.action_completer.refresh() == ["audit", "open"]


def test_completion_by_display_name_inserts_the_username(qtbot: QtBot, db: Database) -> None:
    with db.action("setup") as s:
        rbac.add_user(s, "aschulz", display_name="Anna Schulz", email="anna@corp.example")
    panel = _panel(qtbot, db)
    panel.user_edit.setFocus()
    qtbot.keyClicks(panel.user_edit, "schulz")
    completer = panel.user_completer
    qtbot.waitUntil(lambda: completer.candidates() == ["aschulz"])
    popup = completer.popup()
    assert popup is not None
    qtbot.waitUntil(popup.isVisible)
    assert "Anna Schulz" in popup.model().index(0, 0).data()
    popup.setCurrentIndex(popup.model().index(0, 0))
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    assert panel.user_edit.text() == "aschulz"
    assert not popup.isVisible()


def test_enter_closes_the_list_and_it_does_not_come_back(qtbot: QtBot, demo_db: Database) -> None:
    panel = _panel(qtbot, demo_db)
    panel.set_query("", "Ledger", "read")
    panel.user_edit.setFocus()
    qtbot.keyClicks(panel.user_edit, "alice")  # a search is pending (debounced)
    qtbot.keyClick(panel.user_edit, Qt.Key.Key_Return)
    assert panel.verdict.text() == "Allowed"
    qtbot.wait(400)  # longer than the debounce: the pending search must not re-open it
    popup = panel.user_completer.popup()
    assert popup is not None and not popup.isVisible()
    assert panel.verdict.text() == "Allowed"
    save_png(panel, SHOTS / "access_check_after_enter.png")


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
        if user == "ghost":
            assert panel.verdict.text() == "No such user"
            continue
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


def test_a_pending_new_user_is_answered_as_if_saved(qtbot: QtBot, demo_db: Database) -> None:
    from accessguard_gui.core.changes import Assign, Create, Entity
    from accessguard_gui.ui.pending import PendingStore

    store = PendingStore()
    store.push(Create(Entity.USER, {"username": "newbie", "display_name": "New Bie"}))
    store.push(Assign("newbie", "Auditor"))
    panel = shown(qtbot, AccessCheckPanel(demo_db, store=store), 560, 460)
    panel.set_query("newbie", "Server room", "audit")
    panel.check()
    assert panel.verdict.text() == "Allowed"
    assert panel.explanation.toPlainText().startswith("Not saved yet")
    panel.set_query("ghost", "Server room", "audit")
    panel.check()
    assert panel.verdict.text() == "No such user"
    save_png(panel, SHOTS / "access_check_pending_user.png")
