"""The database layer: where it opens, how connections are set up, one session per action."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select, text

from accessguard_gui.core import audit, database, rbac, schema
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import (
    DatabaseBusyError,
    DatabaseError,
    DuplicateError,
    ReadOnlyDatabaseError,
)
from accessguard_gui.core.models import AuditEntry, User

from .filetools import revision_of, snapshot


def usernames(db: Database) -> list[str]:
    with db.read() as s:
        return list(s.scalars(select(User.username).order_by(User.username)))


def audit_count(db: Database) -> int:
    with db.read() as s:
        return len(s.scalars(select(AuditEntry.id)).all())


# ---------------------------------------------------------------------- where it opens


def test_a_new_path_gets_the_schema_at_head_and_owner_only_permissions(db_path: Path) -> None:
    with Database(db_path, operator="t") as db:
        assert db.created and db.path == db_path and not db.read_only
    assert revision_of(db_path) == schema.head_revision()
    if os.name == "posix":
        assert stat.S_IMODE(db_path.stat().st_mode) == 0o600


def test_an_sqlite_url_opens_the_file_it_names(db_path: Path) -> None:
    with Database(f"sqlite:///{db_path}", operator="t") as db:
        assert db.path == db_path
        with db.action("Add") as s:
            rbac.add_user(s, "alice")
    with Database(db_path) as again:
        assert not again.created
        assert usernames(again) == ["alice"]


def test_a_relative_sqlite_url_is_taken_from_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with Database("sqlite:///rel.db") as db:
        assert db.path == tmp_path / "rel.db"
    assert (tmp_path / "rel.db").is_file()


def test_an_in_memory_url_works_for_a_whole_session() -> None:
    with Database("sqlite:///:memory:", operator="t") as db:
        assert db.path is None
        with db.action("Add") as s:
            rbac.add_user(s, "alice")
        assert usernames(db) == ["alice"]


def test_no_target_means_accessguard_db_in_the_user_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data" / "AccessGuard"
    seen: dict[str, object] = {}

    def fake_user_data_dir(appname: str, appauthor: object = None, **kw: object) -> str:
        seen.update(appname=appname, **kw)
        if kw.get("ensure_exists"):
            data_dir.mkdir(parents=True, exist_ok=True)
        return str(data_dir)

    import platformdirs  # database imports it when a start has no file (issue 11)

    monkeypatch.setattr(platformdirs, "user_data_dir", fake_user_data_dir)
    with Database() as db:
        assert db.path == data_dir / "accessguard.db" and db.created
    assert seen["appname"] == "AccessGuard"
    with Database() as again:  # the second start finds the same file
        assert not again.created


# ---------------------------------------------------------------------- connections


def test_every_pooled_connection_gets_the_safety_pragmas(db: Database) -> None:
    conns = [db.engine.connect() for _ in range(3)]  # three distinct pooled connections
    try:
        for conn in conns:

            def pragma(name: str, conn: Any = conn) -> object:
                return conn.exec_driver_sql(f"PRAGMA {name}").scalar()

            assert pragma("foreign_keys") == 1
            assert pragma("journal_mode") == "wal"
            assert pragma("busy_timeout") == int(database.BUSY_TIMEOUT_S * 1000)
            assert pragma("synchronous") == 2  # FULL: a commit survives power loss in WAL
    finally:
        for conn in conns:
            conn.close()


def test_foreign_keys_are_enforced(db: Database) -> None:
    with pytest.raises(DatabaseError), db.action("Bad") as s:
        s.execute(
            text(
                "INSERT INTO user_roles (user_id, role_id, granted_at, granted_by, version) "
                "VALUES (999, 999, '2024-01-01', 'x', 1)"
            )
        )


# ---------------------------------------------------------------------- sessions


def test_an_action_commits_once_and_closes(db: Database) -> None:
    commits: list[int] = []
    event.listen(db.engine, "commit", lambda conn: commits.append(1))
    with db.action("Add two") as s:
        rbac.add_user(s, "alice")
        rbac.add_user(s, "bob")
        session = s
    assert commits == [1]
    assert not session.in_transaction()
    assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    with Database(db.path) as other:  # visible to another connection: really committed
        assert usernames(other) == ["alice", "bob"]


def test_an_error_rolls_back_the_whole_action_and_its_audit(db: Database) -> None:
    with db.action("Seed") as s:
        rbac.add_user(s, "alice")
    before = audit_count(db)
    with pytest.raises(RuntimeError, match="boom"), db.action("Add then fail") as s:
        rbac.add_user(s, "bob")
        rbac.update_user(s, "alice", display_name="Changed")
        session = s
        raise RuntimeError("boom")
    assert not session.in_transaction()
    assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert usernames(db) == ["alice"]
    with db.read() as s:
        assert rbac.get_user(s, "alice").display_name == "alice"
    assert audit_count(db) == before


def test_database_failures_come_out_typed(db: Database) -> None:
    with db.action("Seed") as s:
        rbac.add_user(s, "alice")
    with pytest.raises(DuplicateError), db.action("Raw duplicate") as s:
        s.add(User(username="ALICE", display_name="x", active=True))
        s.flush()
    assert usernames(db) == ["alice"]


def test_read_never_commits(db: Database) -> None:
    with db.read() as s:
        rbac.add_user(s, "ghost")
        s.flush()
        assert rbac.get_user(s, "ghost").username == "ghost"
    assert usernames(db) == []
    assert audit_count(db) == 0


def test_preview_always_rolls_back(db: Database) -> None:
    with db.action("Seed") as s:
        rbac.add_user(s, "alice")
        rbac.add_role(s, "Staff")
    with db.preview("What if") as s:
        rbac.assign_user(s, "alice", "Staff")
        assert [a.role for a in rbac.assigned_roles(s, "alice")] == ["Staff"]
    with db.read() as s:
        assert rbac.assigned_roles(s, "alice") == []


def test_a_read_only_database_reads_but_refuses_actions(db_path: Path) -> None:
    with Database(db_path) as db, db.action("Seed") as s:
        rbac.add_user(s, "alice")
    before = snapshot(db_path)
    with Database(db_path, read_only=True) as ro:
        assert ro.read_only
        assert usernames(ro) == ["alice"]
        with pytest.raises(ReadOnlyDatabaseError), ro.action("Add") as s:
            rbac.add_user(s, "bob")
        with ro.preview() as s:  # a preview can still look
            assert rbac.get_user(s, "alice").username == "alice"
    after = snapshot(db_path)
    assert (after.data, after.mtime_ns) == (before.data, before.mtime_ns)


def test_a_save_waits_for_the_write_lock_then_reports_busy(db_path: Path) -> None:
    with Database(db_path) as db, db.action("Seed") as s:
        rbac.add_user(s, "alice")
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with Database(db_path, busy_timeout=0.3) as db:
            with pytest.raises(DatabaseBusyError, match="busy"), db.action("Add") as s:
                rbac.add_user(s, "bob")
            assert usernames(db) == ["alice"]  # reads go on while someone writes
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_save_that_waited_goes_through_when_the_lock_is_released(db_path: Path) -> None:
    holder = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    with Database(db_path, busy_timeout=10) as db:
        holder.execute("BEGIN IMMEDIATE")
        release = threading.Timer(0.2, lambda: holder.execute("COMMIT"))
        release.start()
        try:
            with db.action("Add") as s:
                rbac.add_user(s, "bob")
        finally:
            release.join()
            holder.close()
        assert usernames(db) == ["bob"]


# ---------------------------------------------------------------------- backup and check


def test_backup_to_makes_a_complete_owner_only_copy(db: Database, tmp_path: Path) -> None:
    with db.action("Seed") as s:
        rbac.add_user(s, "alice")
    dest = db.backup_to(tmp_path / "copy.db")
    if os.name == "posix":
        assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    with Database(dest) as copy:
        assert usernames(copy) == ["alice"]
        assert copy.check() == []
    assert not list(tmp_path.glob("*.partial*"))


def test_backup_to_does_not_overwrite_unless_asked(db: Database, tmp_path: Path) -> None:
    dest = tmp_path / "copy.db"
    dest.write_text("keep me")
    with pytest.raises(DatabaseError, match="already exists"):
        db.backup_to(dest)
    assert dest.read_text() == "keep me"
    db.backup_to(dest, overwrite=True)
    assert dest.read_bytes().startswith(b"SQLite format 3\x00")
    with pytest.raises(DatabaseError):
        db.backup_to(db.path)  # type: ignore[arg-type]


def test_check_finds_a_healthy_file_healthy(db: Database) -> None:
    with db.action("Seed") as s:
        rbac.add_user(s, "alice")
    assert db.check() == []


def test_check_reports_a_broken_foreign_key(db: Database) -> None:
    raw = sqlite3.connect(db.path)  # type: ignore[arg-type]
    raw.execute("PRAGMA foreign_keys=OFF")
    raw.execute(
        "INSERT INTO user_roles (user_id, role_id, granted_at, granted_by, version) "
        "VALUES (41, 42, '2024-01-01', 'x', 1)"
    )
    raw.commit()
    raw.close()
    problems = db.check()
    assert any("user_roles" in p for p in problems)


def test_audit_entries_cannot_be_changed_or_deleted(db: Database) -> None:
    with db.action("Seed") as s:
        rbac.add_user(s, "alice")
    with pytest.raises(DatabaseError, match="append-only"), db.action("Tamper") as s:
        s.execute(text("UPDATE audit_log SET operator = 'mallory'"))
    with pytest.raises(DatabaseError, match="append-only"), db.action("Tamper") as s:
        s.execute(text("DELETE FROM audit_log"))
    with db.read() as s:
        rows = audit.audit_entries(s)
    assert [r.operator for r in rows] == ["tester"]
