"""The audit log's time filter: "<column>__since" keeps the entries at or after a moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from accessguard_gui.core import browse, rbac
from accessguard_gui.core.browse import BrowseQuery
from accessguard_gui.core.database import Database

AUDIT = browse.SPECS["audit"]


def _age_entries(db: Database, record_key: str, days: int) -> None:
    """Make one record's audit entries look ``days`` old (the trigger forbids UPDATE, so
    this goes around it on a raw connection, as only a test may)."""
    assert db.path is not None
    import sqlite3

    conn = sqlite3.connect(db.path)
    try:
        conn.execute("DROP TRIGGER audit_log_no_update")
        moment = (datetime.now(UTC) - timedelta(days=days)).replace(tzinfo=None)
        conn.execute(
            "UPDATE audit_log SET at = ? WHERE record_key = ?",
            (moment.isoformat(sep=" "), record_key),
        )
        conn.commit()
    finally:
        conn.close()


def test_since_keeps_recent_entries_only(db: Database) -> None:
    with db.action("Old work") as s:
        rbac.add_user(s, "old.timer")
    with db.action("New work") as s:
        rbac.add_user(s, "new.comer")
    _age_entries(db, "old.timer", 10)
    query = BrowseQuery(sort="at", descending=True)
    now = datetime.now(UTC)
    with db.read() as s:
        everything = browse.count(s, AUDIT, query)
        week = browse.count(s, AUDIT, query.filtered(at__since=now - timedelta(days=7)))
        month = browse.count(s, AUDIT, query.filtered(at__since=now - timedelta(days=30)))
        rows = browse.fetch_page(
            s, AUDIT, query.filtered(at__since=now - timedelta(days=7)), limit=50
        )
    assert everything == month == 2
    assert week == 1
    assert len(rows) == 1
    assert "new.comer" in rows[0]


def test_since_combines_with_search_and_other_filters(db: Database) -> None:
    with db.action("Setup") as s:
        rbac.add_user(s, "alice")
        rbac.add_role(s, "Staff")
    since = datetime.now(UTC) - timedelta(hours=1)
    query = BrowseQuery(sort="at", descending=True).filtered(at__since=since)
    with db.read() as s:
        assert browse.count(s, AUDIT, query.filtered(record_type="role")) == 1
        assert browse.count(s, AUDIT, query.searching("alice")) == 1
        future = query.filtered(at__since=datetime.now(UTC) + timedelta(hours=1))
        assert browse.count(s, AUDIT, future) == 0


