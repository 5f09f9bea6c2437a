"""Audit you can trust, and database file safety (permissions, live backups, checks)."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from core.filetools import build_at_revision, tables_of
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from sqlalchemy import Connection, select

from accessguard_gui.core import audit, changes, rbac
from accessguard_gui.core.changes import (
    Assign,
    Create,
    Deassign,
    Delete,
    EditFailed,
    Entity,
    Grant,
    Inherit,
    Revoke,
    SetExpiry,
    Uninherit,
    Update,
)
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import DatabaseError
from accessguard_gui.core.models import AuditEntry

from .proc import Worker

# ---------------------------------------------------------------------- audit

AUDITED = {
    "users": ("user", ("id",)),
    "roles": ("role", ("id",)),
    "resources": ("resource", ("id",)),
    "permissions": ("permission", ("id",)),
    "user_roles": ("assignment", ("user_id", "role_id")),
    "role_permissions": ("grant", ("role_id", "permission_id")),
    "role_inheritance": ("inheritance", ("role_id", "inherits_from_id")),
    "ssd_sets": ("ssd_set", ("id",)),
    "ssd_set_roles": ("ssd_member", ("ssd_set_id", "role_id")),
}
QUIET = {"version", "updated_at"}

USERS, ROLES, RESOURCES = ["u1", "u2", "u3", "u4"], ["r1", "r2", "r3", "r4"], ["x1", "x2"]
ACTIONS = ["read", "write", "admin"]
user, role = st.sampled_from(USERS), st.sampled_from(ROLES)
perm = st.tuples(st.sampled_from(RESOURCES), st.sampled_from(ACTIONS))
some_id = st.integers(1, 8)
new_name = st.integers(1, 10**6).map(str)
edit = st.one_of(
    st.builds(lambda n: Create(Entity.USER, {"username": f"new{n}"}), new_name),
    st.builds(lambda n: Create(Entity.ROLE, {"name": f"New role {n}"}), new_name),
    st.builds(lambda n: Create(Entity.RESOURCE, {"name": f"New resource {n}"}), new_name),
    st.builds(lambda p: Create(Entity.PERMISSION, {"resource": p[0], "action": p[1]}), perm),
    st.builds(Assign, user, role),
    st.builds(Deassign, user, role),
    st.builds(SetExpiry, user, role, st.sampled_from([None, datetime(2031, 1, 1, tzinfo=UTC)])),
    st.builds(Grant, role, perm),
    st.builds(Revoke, role, perm),
    st.builds(Inherit, role, role),
    st.builds(Uninherit, role, role),
    st.builds(
        lambda e, i, v: Update(e, i, None, v),
        st.sampled_from([Entity.ROLE, Entity.RESOURCE]),
        some_id,
        st.fixed_dictionaries({"description": st.sampled_from(["one", "two", ""])}),
    ),
    st.builds(
        lambda i, v: Update(Entity.USER, i, None, {"display_name": v}),
        some_id,
        st.sampled_from(["Ann", "Bo"]),
    ),
    st.builds(Delete, st.sampled_from([Entity.USER, Entity.ROLE, Entity.RESOURCE]), some_id),
)


def audited_state(conn: Connection) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
    state = {}
    for table, (_kind, pk) in AUDITED.items():
        result = conn.exec_driver_sql(f"SELECT * FROM {table}")
        keys = list(result.keys())
        rows = {}
        for values in result:
            record = dict(zip(keys, values, strict=True))
            rows[tuple(record[k] for k in pk)] = {k: v for k, v in record.items() if k not in QUIET}
        state[table] = rows
    return state


def expected_entries(before: dict, after: dict) -> Counter[tuple[str, str, frozenset[str]]]:
    """(record type, operation, changed fields) for every row that changed."""
    expected: Counter[tuple[str, str, frozenset[str]]] = Counter()
    for table, (kind, _pk) in AUDITED.items():
        old, new = before[table], after[table]
        expected[(kind, "insert", frozenset())] += len(new.keys() - old.keys())
        expected[(kind, "delete", frozenset())] += len(old.keys() - new.keys())
        for key in old.keys() & new.keys():
            fields = frozenset(f for f in new[key] if new[key][f] != old[key][f])
            if fields:
                expected[(kind, "update", fields)] += 1
    return expected


def entries_since(conn: Connection, last: int) -> list[tuple[Any, ...]]:
    """(id, operator, action, record_type, operation, after) of entries after ``last``,
    read on the action's own connection, so they are seen before the commit."""
    return list(
        conn.exec_driver_sql(
            "SELECT id, operator, action, record_type, operation, after FROM audit_log "
            "WHERE id > ? ORDER BY id",
            (last,),
        )
    )


def written_entries(entries: list[tuple[Any, ...]]) -> Counter[tuple[str, str, frozenset[str]]]:
    found: Counter[tuple[str, str, frozenset[str]]] = Counter()
    for _id, _operator, _action, kind, operation, after in entries:
        fields = frozenset(json.loads(after)) if operation == "update" else frozenset()
        found[(kind, operation, fields)] += 1
    return found


@pytest.fixture(scope="module")
def audited_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    db = Database(tmp_path_factory.mktemp("audit") / "audit.db", operator="auditor-7")
    with db.action("Seed") as s:
        for name in USERS:
            rbac.add_user(s, name)
        for name in ROLES:
            rbac.add_role(s, name)
        for name in RESOURCES:
            rbac.add_resource(s, name)
            for action in ACTIONS[:2]:
                rbac.add_permission(s, name, action)
    try:
        yield db
    finally:
        db.close()


def run_action(db: Database, name: str, edits: list[changes.Edit]) -> bool:
    """Apply ``edits`` as one action, checking after each edit, on the action's own
    connection, that the audit entries it wrote are exactly the rows it changed; then
    that a commit kept them all and a rollback left neither changes nor entries."""
    with db.engine.connect() as conn:
        initial = audited_state(conn)
        first = conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM audit_log").scalar()
    started = datetime.now(UTC)
    try:
        with db.action(name) as s:
            conn = s.connection()
            state, last = initial, first
            for single in edits:
                changes.apply_edits(s, [single])
                s.flush()
                now, entries = audited_state(conn), entries_since(conn, last)
                assert written_entries(entries) == expected_entries(state, now), single
                assert {(e[1], e[2]) for e in entries} <= {("auditor-7", name)}
                state, last = now, max([last, *(e[0] for e in entries)])
        committed = True
    except EditFailed:
        committed = False
    ended = datetime.now(UTC)
    if currently_in_test_context():
        event(f"{len(edits)}-edit action " + ("committed" if committed else "rolled back"))
    with db.engine.connect() as conn:
        after = audited_state(conn)
        entries = entries_since(conn, first)
    if not committed:
        assert after == initial and entries == []
        return False
    assert after == state and [e[0] for e in entries] == list(range(first + 1, last + 1))
    with db.read() as s:
        for e in audit.audit_entries(s, limit=len(entries) or 1) if entries else []:
            assert started <= e.at <= ended
    return True


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(edits=st.lists(edit, min_size=1, max_size=5), n=st.integers(0, 10**6))
def test_every_committed_change_has_its_entry_and_a_rolled_back_one_none(
    audited_db: Database, edits: list[changes.Edit], n: int
) -> None:
    """The whole list as one save; if that is refused, each edit as its own save."""
    if not run_action(audited_db, f"Save {n}", edits) and len(edits) > 1:
        for i, single in enumerate(edits):
            run_action(audited_db, f"Save {n}.{i}", [single])


def test_a_large_mixed_save_and_a_cascading_delete_are_audited_record_by_record(
    audited_db: Database,
) -> None:
    db = audited_db
    save = [
        Create(Entity.USER, {"username": "mixed-user"}),
        Create(Entity.ROLE, {"name": "Mixed role"}),
        Create(Entity.RESOURCE, {"name": "Mixed resource"}),
        Create(Entity.PERMISSION, {"resource": "Mixed resource", "action": "use"}),
        Assign("mixed-user", "Mixed role"),
        Grant("Mixed role", ("Mixed resource", "use")),
        Inherit("Mixed role", "r1"),
        SetExpiry("mixed-user", "Mixed role", datetime(2032, 5, 1, tzinfo=UTC)),
        Update(Entity.ROLE, 1, None, {"description": "changed in the mixed save"}),
    ]
    if not run_action(db, "Mixed save", save):
        # The property test above may have deleted r1 or role #1: save the rest.
        save = [e for e in save if not isinstance(e, (Inherit, Update))]
        assert run_action(db, "Mixed save", save)
    with db.read() as s:
        role_id = rbac.get_role(s, "Mixed role").id
    # Deleting the role takes its assignment, grant and inheritance along: each audited.
    assert run_action(db, "Delete role", [Delete(Entity.ROLE, role_id, None)])


def test_audit_rows_cannot_be_changed_or_removed(audited_db: Database, tmp_path: Path) -> None:
    db = audited_db
    with db.action("One more") as s:
        rbac.add_role(s, "Witness")
    with db.read() as s:
        count = len(s.scalars(select(AuditEntry.id)).all())
    with pytest.raises(DatabaseError, match="append-only"), db.action("Tamper") as s:
        entry = s.scalars(select(AuditEntry).limit(1)).one()
        entry.operator = "mallory"
        s.flush()
    with pytest.raises(DatabaseError, match="append-only"), db.action("Tamper") as s:
        s.delete(s.scalars(select(AuditEntry).limit(1)).one())
        s.flush()
    # Not through AccessGuard either: another program with plain SQL on the same file.
    other = sqlite3.connect(db.path)  # type: ignore[arg-type]
    try:
        for sql in ("UPDATE audit_log SET operator = 'mallory'", "DELETE FROM audit_log"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                other.execute(sql)
    finally:
        other.close()
    with db.read() as s:
        assert len(s.scalars(select(AuditEntry.id)).all()) == count
        assert "mallory" not in {e.operator for e in audit.audit_entries(s)}


# ---------------------------------------------------------------------- file safety


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The loosest umask: permissions must come from AccessGuard, not from luck."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_new_database_files_are_owner_only(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "new.db"
    with Database(path) as db:
        with db.action("Add") as s:
            rbac.add_user(s, "alice")
        with db.engine.connect():  # while open: the -wal and -shm beside it
            for side in (Path(f"{path}-wal"), Path(f"{path}-shm")):
                assert side.exists() and mode(side) == 0o600, side
        assert mode(path) == 0o600
        assert mode(db.backup_to(tmp_path / "copy.db")) == 0o600
    old = tmp_path / "old.db"
    build_at_revision(old, "0001")
    os.chmod(old, 0o600)
    with Database(old) as upgraded:
        assert upgraded.backup_path is not None and mode(upgraded.backup_path) == 0o600
        assert mode(old) == 0o600  # the upgrade kept the file's own permissions


def test_backup_while_another_process_writes_is_a_consistent_copy(db_path: Path) -> None:
    with Database(db_path) as db, db.action("Seed") as s:
        rbac.add_role(s, "Counter", "0")
    with Worker("ticker", str(db_path), "100000") as writer, Database(db_path) as db:
        writer.expect("running")
        for n in range(6):
            copy = db.backup_to(db_path.parent / f"live-{n}.backup")
            conn = sqlite3.connect(copy)
            try:
                assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
                ticks = conn.execute(
                    "SELECT count(*) FROM users WHERE username LIKE 'tick-%'"
                ).fetchone()[0]
                counter = int(
                    conn.execute("SELECT description FROM roles WHERE name = 'Counter'").fetchone()[
                        0
                    ]
                )
                tick_entries = conn.execute(
                    "SELECT count(*) FROM audit_log WHERE action = 'Tick'"
                ).fetchone()[0]
            finally:
                conn.close()
            # Every transaction is in the copy whole or not at all.
            assert ticks == counter and tick_entries == 2 * ticks
            assert ticks >= 20
        writer.kill()
    assert len({p.stat().st_size for p in db_path.parent.glob("live-*.backup")}) >= 1


def test_check_reports_a_file_damaged_while_open(db_path: Path) -> None:
    with Database(db_path) as db, db.action("Seed") as s:
        for i in range(400):
            rbac.add_user(s, f"user-{i:04d}", f"User number {i}")
    with Database(db_path) as db:
        assert db.check() == []
        data = bytearray(db_path.read_bytes())
        page = int.from_bytes(data[16:18], "big")
        middle = (len(data) // page) // 2
        data[middle * page : middle * page + 200] = os.urandom(200)  # a disk goes bad
        with open(db_path, "r+b") as fh:
            fh.write(bytes(data))
        problems = db.check()
    assert problems and all(isinstance(p, str) and p for p in problems)


def test_check_finds_nothing_wrong_with_an_upgraded_file(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    build_at_revision(path, "0001")
    with Database(path) as db:
        assert db.check() == []
        assert "ssd_sets" in tables_of(path)
