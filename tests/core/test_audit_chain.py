"""The audit trail is a hash chain: every entry chained to the one before it, verified by
File > Check database, whatever wrote it (ORM flush, bulk import), on every backend."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from accessguard_gui.core import audit, integrity, rbac
from accessguard_gui.core.database import Database


def _some_changes(db: Database) -> None:
    with db.action("Add people") as s:
        rbac.add_role(s, "Staff")
        rbac.add_user(s, "alice")
        rbac.add_user(s, "bob")
    with db.action("Assign") as s:
        rbac.assign_user(s, "alice", "Staff")


def _stored(db: Database) -> list[tuple[int, str | None]]:
    with db.read() as s:
        return [(int(r[0]), r[1]) for r in s.execute(text("SELECT id, hash FROM audit_log ORDER BY id"))]


def test_every_entry_is_chained_and_the_check_says_intact_with_the_head(db: Database) -> None:
    _some_changes(db)
    stored = _stored(db)
    assert [entry_id for entry_id, _ in stored] == [1, 2, 3, 4]
    assert all(h is not None and len(h) == 64 for _, h in stored)
    assert len({h for _, h in stored}) == 4
    report = integrity.verify_audit_chain(db)
    assert report.intact
    assert (report.entries, report.head_id, report.head_hash) == (4, 4, stored[-1][1])
    assert report.summary() == f"Audit trail intact: 4 entries, head {stored[-1][1][:12]}\u2026"  # type: ignore[index]


def test_the_head_is_read_with_one_seek(db: Database) -> None:
    _some_changes(db)
    with db.read() as s:
        assert audit.chain_head(s.connection()) == _stored(db)[-1]


def test_bulk_writers_chain_through_write_entries(db: Database) -> None:
    _some_changes(db)
    rows: list[dict[str, Any]] = [
        {
            "at": datetime(2026, 11, 30, 7, 0, tzinfo=UTC),
            "operator": "importer",
            "action": "Import",
            "operation": "insert",
            "record_type": "user",
            "record_key": f"user{i}",
            "before": None,
            "after": f'{{"username": "user{i}"}}',
        }
        for i in range(250)
    ]
    with db.action("Import") as s:
        audit.write_entries(s.connection(), rows)
    stored = _stored(db)
    assert [entry_id for entry_id, _ in stored] == list(range(1, 255))
    report = integrity.verify_audit_chain(db, slice_size=64)  # several slices
    assert report.intact and report.entries == 254


def test_a_kept_head_is_found_in_a_longer_chain(db: Database) -> None:
    _some_changes(db)
    kept = integrity.verify_audit_chain(db).head_hash
    with db.action("More") as s:
        rbac.add_role(s, "Later")
    report = integrity.verify_audit_chain(db, expected_head=kept)
    assert report.intact and report.expected_found == 4 and report.head_id == 5
    assert "The head you kept is entry 4" in report.summary()
    other = integrity.verify_audit_chain(db, expected_head="ab" * 32)
    assert not other.intact and other.expected_found is None
    assert "is not in this audit trail" in other.summary()


def test_the_walk_reports_progress_and_can_be_cancelled(db: Database) -> None:
    _some_changes(db)
    seen: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> bool:
        seen.append((done, total))
        return True

    integrity.verify_audit_chain(db, progress=progress, slice_size=1)
    assert seen[0] == (0, 4) and seen[-1] == (4, 4)
    stop = threading.Event()
    stop.set()
    report = integrity.verify_audit_chain(db, cancel=stop)
    assert report.cancelled and not report.intact
    assert "cancelled after 0 of 4 entries" in report.summary()


def test_the_operator_is_bounded_and_made_visible_in_the_trail(db: Database) -> None:
    hostile = "bob\u202e\x1b[31m" + "x" * 130_000
    with db.action("Add role") as s:
        s.info["operator"] = hostile
        rbac.add_role(s, "Staff")
    with db.read() as s:
        stored = s.execute(text("SELECT operator FROM audit_log")).scalar()
    assert stored is not None and len(stored) == 64
    assert stored.startswith("bob\\u202e\\u001b[31m") and stored.endswith("\u2026")
    assert integrity.verify_audit_chain(db).intact


def test_a_database_with_a_hostile_operator_records_a_safe_one(db_path: Any) -> None:
    with Database(db_path, operator="eve\u2067\u2066" + "y" * 500) as other:
        assert len(other.operator) <= 64 and "\u2067" not in other.operator
        assert other.operator_note is not None and "U+2067" in other.operator_note
        with other.action("Add role") as s:
            rbac.add_role(s, "Staff")
        with other.read() as s:
            assert s.execute(text("SELECT operator FROM audit_log")).scalar() == other.operator


def test_postgresql_refuses_truncate_and_upsert_of_the_trail(pg_db: Database) -> None:
    from accessguard_gui.core.errors import DatabaseError

    _some_changes(pg_db)
    for statement in (
        "TRUNCATE audit_log",
        "INSERT INTO audit_log (id, at, operator, action, operation, record_type, record_key) "
        "VALUES (1, now(), 'x', 'x', 'insert', 'user', 'x') "
        "ON CONFLICT (id) DO UPDATE SET operator = 'mallory'",
    ):
        with pytest.raises(DatabaseError, match="append-only"), pg_db.action("Tamper") as s:
            s.execute(text(statement))
    assert integrity.verify_audit_chain(pg_db).intact


def test_the_os_user_is_made_safe(monkeypatch: pytest.MonkeyPatch) -> None:
    from accessguard_gui.core import database

    monkeypatch.setenv("LOGNAME", "root\u202e" + "z" * 130_000)
    name = database.current_operator()
    assert len(name) == 64 and name.startswith("root\\u202e")


def test_the_file_check_can_be_cancelled(db_path: Any) -> None:
    from accessguard_gui.core.errors import QueryStoppedError

    with Database(db_path) as other:
        stop = threading.Event()
        stop.set()
        with pytest.raises(QueryStoppedError, match="cancelled"):
            other.check(cancel=stop)
        assert other.check(cancel=threading.Event()) == []
