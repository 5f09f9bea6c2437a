"""The expiry calendar: windows, paging by user and by role, counts, bulk edits that save."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from accessguard_gui.core import changes, rbac
from accessguard_gui.core.database import Database
from accessguard_gui.core.governance import expiry
from accessguard_gui.core.governance.expiry import Horizon, Order

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def calendar(db: Database) -> Database:
    with db.action("Seed") as s:
        for name in ("alice", "bob", "carol", "dave"):
            rbac.add_user(s, name)
        for role in ("Clerk", "Payroll", "Auditor"):
            rbac.add_role(s, role)
        rbac.assign_user(s, "alice", "Clerk", expires_at=NOW - timedelta(days=3))  # expired
        rbac.assign_user(s, "alice", "Payroll", expires_at=NOW + timedelta(days=2))  # 7
        rbac.assign_user(s, "bob", "Payroll", expires_at=NOW + timedelta(days=20))  # 30
        rbac.assign_user(s, "carol", "Auditor", expires_at=NOW + timedelta(days=60))  # 90
        rbac.assign_user(s, "dave", "Auditor", expires_at=NOW + timedelta(days=400))  # none
        rbac.assign_user(s, "dave", "Clerk")  # never expires
    return db


def _pairs(rows: list[expiry.ExpiryRow]) -> list[tuple[str, str]]:
    return [(r.username, r.role) for r in rows]


def test_each_window_lists_what_falls_in_it(calendar: Database) -> None:
    with calendar.read() as s:
        assert _pairs(expiry.page(s, Horizon.EXPIRED, now=NOW)) == [("alice", "Clerk")]
        assert _pairs(expiry.page(s, Horizon.DAYS_7, now=NOW)) == [("alice", "Payroll")]
        assert _pairs(expiry.page(s, Horizon.DAYS_30, now=NOW)) == [
            ("alice", "Payroll"),
            ("bob", "Payroll"),
        ]
        assert len(expiry.page(s, Horizon.DAYS_90, now=NOW)) == 3
        counts = expiry.counts(s, now=NOW)
    assert counts == expiry.ExpiryCounts(expired=1, days_7=1, days_30=2, days_90=3)
    assert counts.needs_attention


def test_pages_by_role_walk_every_row_once(calendar: Database) -> None:
    with calendar.action("More") as s:
        for n in range(25):
            rbac.add_user(s, f"user{n:02}")
            rbac.assign_user(s, f"user{n:02}", "Auditor", expires_at=NOW + timedelta(days=n + 1))
    seen: list[tuple[str, str]] = []
    after = None
    with calendar.read() as s:
        while True:
            rows = expiry.page(s, Horizon.DAYS_90, Order.BY_ROLE, after=after, now=NOW, limit=7)
            if not rows:
                break
            seen += _pairs(rows)
            after = rows[-1].cursor
        total = expiry.count(s, Horizon.DAYS_90, now=NOW)
    assert len(seen) == len(set(seen)) == total == 28
    roles = [role for _, role in seen]
    assert roles == sorted(roles, key=str.casefold)


def test_search_is_a_name_prefix(calendar: Database) -> None:
    with calendar.read() as s:
        assert _pairs(expiry.page(s, Horizon.DAYS_90, search="PAY", now=NOW)) == [
            ("alice", "Payroll"),
            ("bob", "Payroll"),
        ]
        assert expiry.page(s, Horizon.DAYS_90, search="50%_", now=NOW) == []


def test_extend_and_remove_save_as_edits(calendar: Database) -> None:
    with calendar.read() as s:
        expired = expiry.page(s, Horizon.EXPIRED, now=NOW)
        soon = expiry.page(s, Horizon.DAYS_7, now=NOW)
    edits = expiry.extend_by_edits(expired, 30, now=NOW) + expiry.remove_edits(soon)
    assert [e.describe() for e in edits] == [
        "Set expiry of alice \u2192 Clerk to 2026-07-01",
        "Remove alice from Payroll",
    ]
    with calendar.action("Calendar") as s:
        changes.apply_edits(s, edits)
    with calendar.read() as s:
        roles = {a.role: a.expires_at for a in rbac.assigned_roles(s, "alice")}
        counts = expiry.counts(s, now=NOW)
    assert roles == {"Clerk": NOW + timedelta(days=30)}
    assert counts.expired == 0 and counts.days_7 == 0


def test_an_extension_after_someone_else_changed_it_is_a_conflict(calendar: Database) -> None:
    with calendar.read() as s:
        (row,) = expiry.page(s, Horizon.EXPIRED, now=NOW)
    with calendar.action("Someone else") as s:
        rbac.set_assignment_expiry(s, "alice", "Clerk", NOW + timedelta(days=1))
    with pytest.raises(changes.EditFailed) as failed, calendar.action("Calendar") as s:
        changes.apply_edits(s, expiry.extend_edits([row], None))
    assert "alice" in failed.value.message
