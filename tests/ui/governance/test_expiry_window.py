"""The expiry calendar window, the Governance menu and the start-up reminder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from accessguard_gui.core import rbac
from accessguard_gui.core.database import Database
from accessguard_gui.core.governance.expiry import Horizon, Order
from accessguard_gui.ui.access.common import save_png
from accessguard_gui.ui.governance.expiry import ExpiryCalendar
from accessguard_gui.ui.pending import PendingStore

from .conftest import SHOTS, settle


def _seed(db: Database) -> None:
    now = datetime.now(UTC)
    with db.action("Seed") as s:
        for name in ("alice", "bob", "eve"):
            rbac.add_user(s, name)
        for role in ("Clerk", "Payroll", "Temp"):
            rbac.add_role(s, role)
        rbac.assign_user(s, "alice", "Clerk", expires_at=now - timedelta(days=2))
        rbac.assign_user(s, "alice", "Payroll", expires_at=now + timedelta(days=3))
        rbac.assign_user(s, "bob", "Payroll", expires_at=now + timedelta(days=25))
        rbac.assign_user(s, "eve", "Temp", expires_at=now + timedelta(days=5))


@pytest.fixture
def calendar(qtbot: QtBot, db: Database) -> ExpiryCalendar:
    _seed(db)
    store = PendingStore()
    window = ExpiryCalendar(db, store)
    qtbot.addWidget(window)
    window.resize(900, 500)
    window.show()
    settle(qtbot, window)
    return window


def _listed(window: ExpiryCalendar) -> list[tuple[str, str]]:
    m = window.model
    return [(m.index(r, 0).data(), m.index(r, 1).data()) for r in range(m.rowCount())]


def test_lists_each_window_by_user_and_by_role(qtbot: QtBot, calendar: ExpiryCalendar) -> None:
    assert _listed(calendar) == [("alice", "Payroll"), ("bob", "Payroll"), ("eve", "Temp")]
    assert "Expired but still assigned: 1" in calendar.summary.text()
    calendar.set_horizon(Horizon.EXPIRED)
    settle(qtbot, calendar)
    assert _listed(calendar) == [("alice", "Clerk")]
    assert calendar.model.index(0, 3).data().startswith("expired")
    calendar.set_horizon(Horizon.DAYS_7)
    calendar.order.setCurrentIndex(calendar.order.findData(Order.BY_ROLE))
    settle(qtbot, calendar)
    assert _listed(calendar) == [("alice", "Payroll"), ("eve", "Temp")]
    save_png(calendar, SHOTS / "expiry.png")


def test_bulk_extend_is_pending_and_saves(qtbot: QtBot, calendar: ExpiryCalendar, db: Database) -> None:
    calendar.set_horizon(Horizon.EXPIRED)
    settle(qtbot, calendar)
    calendar.days.setValue(30)
    calendar.extend_all.click()
    settle(qtbot, calendar)
    (edit,) = calendar.store.edits()
    assert edit.describe().startswith("Set expiry of alice \u2192 Clerk")
    assert calendar.model.index(0, 4).data().startswith("extend to")
    assert "pending" in calendar.message.text()
    with db.read() as s:  # nothing written yet
        assert rbac.assigned_roles(s, "alice")[0].expired(datetime.now(UTC))
    from accessguard_gui.core import changes

    with db.action("Save") as s:
        changes.apply_edits(s, calendar.store.edits_for_save())
    with db.read() as s:
        clerk = next(a for a in rbac.assigned_roles(s, "alice") if a.role == "Clerk")
    assert clerk.expires_at is not None and clerk.expires_at > datetime.now(UTC) + timedelta(days=29)


def test_remove_selected(qtbot: QtBot, calendar: ExpiryCalendar) -> None:
    calendar.view.selectRow(1)
    calendar.remove_selected.click()
    settle(qtbot, calendar)
    assert [e.describe() for e in calendar.store.edits()] == ["Remove bob from Payroll"]


def test_read_only_turns_every_fix_off(qtbot: QtBot, db: Database, db_path: Any) -> None:
    _seed(db)
    db.close()
    ro = Database(db_path, read_only=True)
    window = ExpiryCalendar(ro, PendingStore())
    qtbot.addWidget(window)
    settle(qtbot, window)
    assert window.model.rowCount() == 3
    assert not any(b.isEnabled() for b in window.fix_buttons)
    assert "read-only" in window.extend_all.toolTip()
    ro.close()


def test_menu_and_reminder_in_the_main_window(qtbot: QtBot, window: Any) -> None:
    now = datetime.now(UTC)
    with window.db.action("Expiring") as s:
        rbac.assign_user(s, "alice", "Auditor", expires_at=now + timedelta(days=1))
    window.governance.remind()
    reminder = window.governance.reminder
    qtbot.waitUntil(reminder.isVisible)
    assert "1 expires within 7 days" in reminder.text()
    reminder.click()
    calendar = window.governance.windows["expiry"]
    settle(qtbot, calendar)
    assert _listed(calendar) == [("alice", "Auditor")]
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus[-2:] == ["&Governance", "&Help"]
    window.governance.remind_action.setChecked(False)
    assert window.settings.text("governance/expiry_reminder") == "off"
    assert not reminder.isVisible()
    calendar.close()


def test_every_governance_entry_opens_its_window(qtbot: QtBot, window: Any) -> None:
    governance = window.governance
    texts = [a.text() for a in governance.menu.actions() if a.text()]
    assert texts[:7] == [
        "&Expiry calendar\u2026", "Role &hygiene\u2026", "Access at a &date\u2026",
        "What would &revoke an access\u2026", "Auditor &reports\u2026", "Access re&views\u2026",
        "&Suggest a role structure\u2026",
    ]
    for key, action in governance.actions.items():
        action.trigger()
        opened = governance.windows[key]
        assert opened.isVisible() and "AccessGuard" in opened.windowTitle()
        settle(qtbot, opened)
        action.trigger()  # a second time: the same window comes to the front
        assert governance.windows[key] is opened
        opened.close()


def test_a_bulk_action_cut_at_the_limit_says_so(
    qtbot: QtBot, calendar: ExpiryCalendar, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accessguard_gui.core.governance import expiry

    monkeypatch.setattr(expiry, "BULK_LIMIT", 2)
    calendar.remove_all.click()
    settle(qtbot, calendar)
    assert len(calendar.store.edits()) == 2
    assert "Only the first 2 listed were taken" in calendar.message.text()
