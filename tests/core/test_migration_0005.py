"""Migration 0005 on a file an older AccessGuard wrote: its audit entries get chained
(streamed), REPLACE is refused from then on, names get their look-alike keys."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from accessguard_gui.core import integrity, rbac, schema
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import DuplicateError
from accessguard_gui.core.lookalike import skeleton_key

pytestmark = pytest.mark.sqlite_only


def _file_at_0004(path: Path, entries: int) -> None:
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        schema.upgrade(conn, "0004")
    engine.dispose()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executemany(
        "INSERT INTO roles (name, description, created_at, updated_at, version, name_key) "
        "VALUES (?, '', '2025-01-01 00:00:00.000000', '2025-01-01 00:00:00.000000', 1, ?)",
        [("Admins", "admins"), ("\u0410dmins", "\u0430dmins")],  # look-alikes, allowed then
    )
    conn.executemany(
        "INSERT INTO audit_log (at, operator, action, operation, record_type, record_key, "
        "before, after) VALUES (?, 'old', 'Save', 'insert', 'role', ?, NULL, '{}')",
        [(f"2025-01-01 00:00:{i % 60:02d}.000000", f"role {i}") for i in range(entries)],
    )
    conn.close()


def test_existing_entries_are_chained_in_slices_and_new_ones_follow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    _file_at_0004(path, 250)
    module = __import__(
        "accessguard_gui.core.migrations.versions.0005_trust", fromlist=["BATCH"]
    )
    monkeypatch.setattr(module, "BATCH", 64)  # several slices
    with Database(path, operator="tester") as db:
        report = integrity.verify_audit_chain(db)
        assert report.intact and report.entries == 250
        with db.action("Add role") as s:
            rbac.add_role(s, "Staff")
        report = integrity.verify_audit_chain(db)
        assert report.intact and report.entries == 251
        assert integrity.schema_findings(db) == []
    conn = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute(
            "REPLACE INTO audit_log (id, at, operator, action, operation, record_type, "
            "record_key) VALUES (1, '2025-01-01', 'x', 'x', 'insert', 'role', 'x')"
        )
    conn.close()


def test_names_get_their_look_alike_keys_and_old_look_alikes_are_listed(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _file_at_0004(path, 3)
    with Database(path, operator="tester") as db:
        conn = sqlite3.connect(path)
        keys = {name: key for name, key in conn.execute("SELECT name, name_skeleton FROM roles")}
        conn.close()
        assert keys == {"Admins": skeleton_key("Admins"), "\u0410dmins": skeleton_key("Admins")}
        found = integrity.lookalike_names(db)
        assert found == ["roles that look the same: \u201cAdmins\u201d, \u201c\u0410dmins\u201d"]
        with pytest.raises(DuplicateError), db.action("Add") as s:
            rbac.add_role(s, "\U0001d400dmins")
