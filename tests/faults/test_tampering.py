"""Tampering with the file behind AccessGuard's back (sqlite3 on the file, as a hostile
user with write access would): every rewrite of the audit trail is refused or reported by
File > Check database, naming the first broken entry; planted schema objects are listed."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from accessguard_gui.core import integrity, rbac
from accessguard_gui.core.database import Database

STAMP = "2026-01-01 00:00:00.000000"


@pytest.fixture
def trail(db_path: Path) -> Iterator[Database]:
    """A file with 6 audit entries (ids 1-6)."""
    db = Database(db_path, operator="tester")
    with db.action("Add people") as s:
        rbac.add_role(s, "Staff")
        rbac.add_role(s, "Admins")
        rbac.add_user(s, "alice")
        rbac.add_user(s, "bob")
    with db.action("Assign") as s:
        rbac.assign_user(s, "alice", "Staff")
        rbac.assign_user(s, "bob", "Staff")
    assert integrity.verify_audit_chain(db).intact
    try:
        yield db
    finally:
        db.close()


def _raw(db: Database) -> sqlite3.Connection:
    assert db.path is not None
    return sqlite3.connect(db.path, isolation_level=None)


def _unindex(conn: sqlite3.Connection, where: str) -> None:
    """Remove entries from the audit log's search index (FTS5's 'delete' command)."""
    conn.execute(
        "INSERT INTO search_audit_log(search_audit_log, rowid, operator, action, record_type, "
        "record_key) SELECT 'delete', id, operator, action, record_type, record_key "
        f"FROM audit_log WHERE {where}"
    )


def _entries(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
    return conn.execute("SELECT * FROM audit_log ORDER BY id").fetchall()


@pytest.mark.parametrize(
    "statement",
    [
        "REPLACE INTO audit_log (id, at, operator, action, operation, record_type, record_key) "
        f"VALUES (3, '{STAMP}', 'mallory', 'Nothing', 'insert', 'user', 'nobody')",
        "INSERT OR REPLACE INTO audit_log (id, at, operator, action, operation, record_type, "
        f"record_key) VALUES (3, '{STAMP}', 'mallory', 'Nothing', 'insert', 'user', 'nobody')",
        "INSERT INTO audit_log (id, at, operator, action, operation, record_type, record_key) "
        f"VALUES (3, '{STAMP}', 'mallory', 'x', 'insert', 'user', 'x') "
        "ON CONFLICT(id) DO UPDATE SET operator = 'mallory'",
        "UPDATE audit_log SET operator = 'mallory' WHERE id = 3",
        "DELETE FROM audit_log WHERE id = 3",
    ],
)
def test_rewriting_an_entry_in_place_is_refused(trail: Database, statement: str) -> None:
    conn = _raw(trail)
    before = _entries(conn)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute(statement)
    assert _entries(conn) == before
    conn.close()
    assert integrity.verify_audit_chain(trail).intact


def test_a_forged_entry_that_does_not_chain_is_reported(trail: Database) -> None:
    conn = _raw(trail)
    conn.execute(
        "INSERT INTO audit_log (at, operator, action, operation, record_type, record_key, hash) "
        f"VALUES ('{STAMP}', 'alice', 'Grant', 'insert', 'assignment', 'eve \u2192 Admins', "
        f"'{'0' * 64}')"
    )
    conn.close()
    report = integrity.verify_audit_chain(trail)
    assert not report.intact and report.first_broken == 7
    assert report.summary().startswith("The audit trail was tampered with: entry 7 was changed")


def test_a_changed_entry_is_reported_by_its_number(trail: Database) -> None:
    conn = _raw(trail)
    conn.execute("DROP TRIGGER audit_log_no_update")  # the attacker's first step
    conn.execute("UPDATE audit_log SET operator = 'someone else' WHERE id = 4")
    conn.close()
    report = integrity.verify_audit_chain(trail)
    assert report.broken == [4] and "entry 4 was changed or removed" in report.summary()


def test_a_removed_entry_breaks_the_link_of_the_next(trail: Database) -> None:
    conn = _raw(trail)
    conn.execute("DROP TRIGGER audit_log_no_delete")
    conn.execute("DELETE FROM audit_log WHERE id = 3")
    conn.close()
    report = integrity.verify_audit_chain(trail)
    assert report.broken == [4]
    assert "entry 4 was changed or removed (or an entry just before it was)" in report.summary()


def test_a_rewritten_chain_is_caught_by_the_head_kept_elsewhere(trail: Database) -> None:
    kept = integrity.verify_audit_chain(trail).head_hash
    assert kept is not None
    conn = _raw(trail)
    conn.execute("DROP TRIGGER audit_log_no_delete")
    _unindex(conn, "id >= 5")  # a careful attacker cleans the search index too
    conn.execute("DELETE FROM audit_log WHERE id >= 5")  # the tail, then re-chained below
    conn.close()
    with trail.action("Cover-up") as s:
        rbac.add_role(s, "Innocent")
    report = integrity.verify_audit_chain(trail)
    assert report.broken_count == 0  # a consistent chain again...
    with_head = integrity.verify_audit_chain(trail, expected_head=kept)
    assert not with_head.intact  # ...but the head kept elsewhere is gone
    assert "is not in this audit trail" in with_head.summary()


def test_invalid_utf8_planted_in_an_entry_is_a_broken_link_not_a_crash(trail: Database) -> None:
    conn = _raw(trail)
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("UPDATE audit_log SET record_key = CAST(X'416C69FF6365' AS TEXT) WHERE id = 2")
    conn.close()
    report = integrity.verify_audit_chain(trail)
    assert report.broken == [2]


def test_an_entry_hidden_from_search_is_reported(trail: Database) -> None:
    conn = _raw(trail)
    _unindex(conn, "id = 5")
    assert conn.execute(
        "SELECT count(*) FROM search_audit_log WHERE search_audit_log MATCH '\"alice\"'"
    ).fetchone() == (1,)  # the assignment "alice → Staff" is no longer found
    conn.close()
    report = integrity.verify_audit_chain(trail)
    assert report.broken_count == 0 and not report.intact
    assert "entry 5 is missing from the search index" in report.summary()


def test_an_entry_indexed_with_other_text_is_reported(trail: Database) -> None:
    conn = _raw(trail)
    _unindex(conn, "id = 5")
    conn.execute(
        "INSERT INTO search_audit_log(rowid, operator, action, record_type, record_key) "
        "VALUES (5, 'tester', 'Assign', 'assignment', 'x')"
    )
    conn.close()
    report = integrity.verify_audit_chain(trail)
    assert "entry 5 is indexed with other text than it holds" in report.summary()


def test_index_rows_of_no_entry_are_reported(trail: Database) -> None:
    conn = _raw(trail)
    conn.execute(
        "INSERT INTO search_audit_log(rowid, operator, action, record_type, record_key) "
        "VALUES (99, 'tester', 'Ghost', 'user', 'ghost')"
    )
    conn.close()
    report = integrity.verify_audit_chain(trail)
    assert "holds an entry 99 that the audit trail does not" in report.summary()


# ---------------------------------------------------------------------- schema objects


def test_a_fresh_file_has_exactly_the_expected_schema_objects(trail: Database) -> None:
    assert integrity.schema_findings(trail) == []
    conn = _raw(trail)
    conn.execute("ANALYZE")  # sqlite_stat1 is SQLite's own, not a finding
    conn.close()
    assert integrity.schema_findings(trail) == []


@pytest.mark.parametrize(
    ("statement", "problem", "kind", "name"),
    [
        (
            "CREATE TRIGGER grant_admin AFTER UPDATE ON users BEGIN "
            "INSERT OR IGNORE INTO user_roles (user_id, role_id, granted_at, granted_by, version) "
            "SELECT NEW.id, id, '2026-01-01', 'x', 1 FROM roles WHERE name = 'Admins'; END",
            "unknown", "trigger", "grant_admin",
        ),
        ("CREATE VIEW everyone AS SELECT * FROM users", "unknown", "view", "everyone"),
        ("CREATE TABLE notes (x)", "unknown", "table", "notes"),
        ("CREATE INDEX ix_mine ON users (email, active)", "unknown", "index", "ix_mine"),
        ("DROP TRIGGER audit_log_no_update", "missing", "trigger", "audit_log_no_update"),
        ("DROP TRIGGER audit_log_no_replace", "missing", "trigger", "audit_log_no_replace"),
        (
            "DROP TRIGGER audit_log_no_delete; CREATE TRIGGER audit_log_no_delete BEFORE DELETE "
            "ON audit_log WHEN 0 BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
            "altered", "trigger", "audit_log_no_delete",
        ),
    ],
)
def test_planted_dropped_or_altered_schema_objects_are_listed(
    trail: Database, statement: str, problem: str, kind: str, name: str
) -> None:
    conn = _raw(trail)
    conn.executescript(statement)
    conn.close()
    findings = integrity.schema_findings(trail)
    assert [(f.problem, f.kind, f.name) for f in findings] == [(problem, kind, name)]
    assert name in findings[0].describe()
    assert db_path_findings(trail) == findings


def db_path_findings(db: Database) -> list[integrity.SchemaFinding]:
    assert db.path is not None
    return integrity.file_schema_findings(str(db.path))


def test_long_entries_are_compared_with_the_index_too(trail: Database) -> None:
    with trail.action("A long name " + "x" * 150) as s:
        rbac.add_resource(s, "R" * 190)
    assert integrity.verify_audit_chain(trail).intact  # counts of two varint bytes
    conn = _raw(trail)
    _unindex(conn, "id = 7")
    conn.execute(
        "INSERT INTO search_audit_log(rowid, operator, action, record_type, record_key) "
        "VALUES (7, 'tester', 'A long name', 'resource', 'R')"
    )
    conn.close()
    report = integrity.verify_audit_chain(trail)
    assert "entry 7 is indexed with other text than it holds" in report.summary()


WRITER = """
import sys
from accessguard_gui.core import rbac
from accessguard_gui.core.database import Database
path, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
with Database(path, operator="writer-" + tag, busy_timeout=30) as db:
    for i in range(count):
        with db.action("Add role") as s:
            rbac.add_role(s, f"Role {tag} {i:04d}")
"""


def test_writers_in_several_processes_keep_one_unbroken_chain(trail: Database) -> None:
    """Each writer reads the head inside its write lock: concurrent saves from other
    processes interleave, and every entry still chains to the one before it."""
    import subprocess
    import sys

    assert trail.path is not None
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(trail.path), tag, "40"])
        for tag in ("Alpha", "Beta", "Gamma")
    ]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    report = integrity.verify_audit_chain(trail)
    assert report.intact and report.entries == 6 + 3 * 40
    conn = _raw(trail)
    ids = [r[0] for r in conn.execute("SELECT id FROM audit_log ORDER BY id")]
    operators = {r[0] for r in conn.execute("SELECT DISTINCT operator FROM audit_log")}
    conn.close()
    assert ids == list(range(1, 127))
    assert {"writer-Alpha", "writer-Beta", "writer-Gamma"} <= operators
