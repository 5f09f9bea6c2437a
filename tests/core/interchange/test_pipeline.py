"""The import pipeline: dry run row by row, modes, refusals of the editing rules, one
audited all-or-nothing transaction, cancel."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from accessguard_gui.core import integrity, rbac
from accessguard_gui.core.audit import audit_entries
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import ImportCancelledError, ImportRefusedError
from accessguard_gui.core.interchange.csv_dir import CsvDirectorySource
from accessguard_gui.core.interchange.pipeline import (
    Mode,
    apply_import,
    import_source,
    plan_import,
)
from accessguard_gui.core.interchange.staging import SKELETONS
from accessguard_gui.core.models import AuditEntry, User, UserRole

from .csvdirs import ORG, table_rows, write_dir


def _import(db: Database, folder: Path, mode: Mode = Mode.UPDATE) -> None:
    plan, _result = import_source(db, CsvDirectorySource(folder), mode)
    plan.close()


def _refused(db: Database, folder: Path, mode: Mode = Mode.UPDATE) -> list[str]:
    """Import expecting a refusal: the refused rows as 'file:line detail'; the database
    must be left row for row as it was."""
    before = table_rows(db)
    with pytest.raises(ImportRefusedError) as caught:
        import_source(db, CsvDirectorySource(folder), mode)
    plan = caught.value.plan
    try:
        lines = [f"{row.where} {row.detail}" for row in plan.rows({"refuse"})]
    finally:
        plan.close()
    assert table_rows(db) == before
    return lines


def _schema(db_path: Path) -> list[tuple[str, str]]:
    """Every schema object of the file: (name, SQL), in a stable order."""
    import sqlite3

    conn = sqlite3.connect(db_path)
    try:
        return sorted(conn.execute("SELECT name, sql FROM sqlite_master").fetchall(), key=repr)
    finally:
        conn.close()


def test_a_whole_organisation_imports_with_every_relation(db: Database, tmp_path: Path) -> None:
    _import(db, write_dir(tmp_path / "org", ORG))
    with db.read() as s:
        assert {u.username for u in s.scalars(select(User))} == {"alice", "bob", "carol"}
        bob = rbac.get_user(s, "bob")
        assert bob.active is False and bob.email is None
        assert rbac.get_user(s, "carol").display_name == "carol"  # defaults to the username
        assert [(a.role, a.expires_at) for a in rbac.assigned_roles(s, "bob")] == [
            ("Approver", datetime(2031, 1, 1, tzinfo=UTC))
        ]
        # Clerk inherits Staff: alice may open Door A and write the ledger.
        assert rbac.check_access(s, "alice", "Door A", "open").allowed
        assert rbac.check_access(s, "alice", "Ledger", "write").allowed
        assert not rbac.check_access(s, "alice", "Ledger", "read").allowed
        assert [r.name for r in rbac.ssd_role_set_roles(s, "Payables")] == ["Approver", "Clerk"]
        assert rbac.ssd_role_set_cardinality(s, "Payables") == 2


def test_the_dry_run_lists_every_row_with_file_and_line_and_writes_nothing(
    db: Database, tmp_path: Path
) -> None:
    folder = write_dir(tmp_path / "org", ORG)
    before = table_rows(db)
    with plan_import(db, CsvDirectorySource(folder)) as plan:
        rows = list(plan.rows())
        assert plan.clean
        assert "To add: 3 users, 3 roles" in plan.summary()
    assert table_rows(db) == before
    where = {(r.where, r.verdict, r.key) for r in rows}
    assert ("users.csv:2", "add", "alice") in where
    assert ("user_roles.csv:3", "add", "bob \u2192 Approver") in where
    assert ("role_permissions.csv:3", "add", "Clerk \u2192 Ledger: write") in where
    assert len(rows) == sum(len(r) - 1 for r in ORG.values())


def test_each_record_has_its_own_audit_entry_under_one_action(
    db: Database, tmp_path: Path
) -> None:
    _import(db, write_dir(tmp_path / "payroll-2026", ORG))
    with db.read() as s:
        entries = audit_entries(s, limit=100)
        alice = audit_entries(s, record_type="user", record_key="alice")
    assert {e.action for e in entries} == {"Import from payroll-2026"}
    assert {e.operator for e in entries} == {"tester"}
    assert len(entries) == sum(len(r) - 1 for r in ORG.values())
    assert len(alice) == 1 and alice[0].operation == "insert"
    assert alice[0].after is not None and alice[0].after["email"] == "alice@example.org"
    keys = {(e.record_type, e.record_key) for e in entries}
    assert ("assignment", "bob \u2192 Approver") in keys
    assert ("grant", "Clerk \u2192 Ledger: write") in keys
    assert ("inheritance", "Clerk inherits from Staff") in keys
    assert ("ssd_member", "Payables \u220b Clerk") in keys
    assert ("permission", "Ledger: write") in keys


def test_imported_entries_read_like_edited_ones(db: Database, tmp_path: Path) -> None:
    """The same fields, the same record keys, as the ORM's flush hook writes."""
    with db.action("By hand") as s:
        rbac.add_user(s, "zed", "Zed Z", email="zed@example.org")
        rbac.add_role(s, "Hand")
        rbac.assign_user(s, "zed", "Hand")
    _import(db, write_dir(tmp_path / "org", ORG))
    with db.read() as s:
        by_hand = {e.record_type: e for e in audit_entries(s) if e.action == "By hand"}
        imported = {
            e.record_type: e
            for e in audit_entries(s, limit=100)
            if e.action.startswith("Import")
        }
    for kind in ("user", "role", "assignment"):
        assert imported[kind].after is not None and by_hand[kind].after is not None
        assert set(imported[kind].after) == set(by_hand[kind].after), kind


def test_rows_get_versions_and_name_keys_like_edits(db: Database, tmp_path: Path) -> None:
    rows = copy.deepcopy(ORG)
    rows["users.csv"].append(["Admin.X", "", "", ""])
    rows["roles.csv"].append(["\u00c4rzte", ""])
    _import(db, write_dir(tmp_path / "org", rows))
    with db.read() as s:
        user = rbac.get_user(s, "admin.x")
        assert user.version == 1 and user.username_key == "admin.x"
        role = rbac.get_role(s, "\u00e4RZTE")
        assert role.version == 1 and role.name_key == "\u00e4rzte"
    with db.action("Edit") as s:  # the ORM can go on editing imported rows
        rbac.update_user(s, "alice", display_name="Alice A.", expected_version=1)
        rbac.add_user(s, "dave")


def test_add_mode_leaves_existing_records_alone(db: Database, tmp_path: Path) -> None:
    with db.action("Setup") as s:
        rbac.add_user(s, "alice", "Old Name")
    rows = copy.deepcopy(ORG)
    with plan_import(db, CsvDirectorySource(write_dir(tmp_path / "org", rows)), Mode.ADD) as plan:
        alice = next(r for r in plan.rows() if r.key == "alice")
        assert alice.verdict == "leave"
        assert "Old Name" in alice.detail and "Alice Archer" in alice.detail
        apply_import(db, plan)
    with db.read() as s:
        assert rbac.get_user(s, "alice").display_name == "Old Name"
        assert rbac.get_user(s, "bob").display_name == "Bob Baker"


def test_update_mode_changes_and_reports_old_and_new(db: Database, tmp_path: Path) -> None:
    with db.action("Setup") as s:
        rbac.add_user(s, "ALICE", "Old Name", email="old@example.org")
    folder = write_dir(tmp_path / "org", ORG)
    with plan_import(db, CsvDirectorySource(folder), Mode.UPDATE) as plan:
        alice = next(r for r in plan.rows() if r.key == "alice")
        assert alice.verdict == "change"
        assert "\u201cOld Name\u201d \u2192 \u201cAlice Archer\u201d" in alice.detail
        assert "old@example.org" in alice.detail
        apply_import(db, plan)
    with db.read() as s:
        user = rbac.get_user(s, "alice")
        assert (user.username, user.display_name, user.version) == ("alice", "Alice Archer", 2)
        change = audit_entries(s, record_type="user", record_key="alice")[0]
    assert change.operation == "update"
    assert change.before == {"username": "ALICE", "display_name": "Old Name",
                             "email": "old@example.org"}


def test_update_keeps_values_the_source_does_not_give(db: Database, tmp_path: Path) -> None:
    with db.action("Setup") as s:
        rbac.add_user(s, "alice", "Alice", email="a@example.org", password="correct horse")
    folder = write_dir(tmp_path / "org", {"users.csv": [["username", "active"], ["alice", "no"]]})
    _import(db, folder)
    with db.read() as s:
        user = rbac.get_user(s, "alice")
        assert (user.display_name, user.email, user.active) == ("Alice", "a@example.org", False)
        assert rbac.verify_password(s, "alice", "correct horse")


def test_mirror_mode_removes_what_the_source_lacks_and_lists_it(
    db: Database, tmp_path: Path
) -> None:
    _import(db, write_dir(tmp_path / "org", ORG))
    rows = copy.deepcopy(ORG)
    rows["users.csv"] = [r for r in rows["users.csv"] if r[0] != "carol"]
    rows["user_roles.csv"] = [r for r in rows["user_roles.csv"] if r[0] != "carol"]
    rows["role_permissions.csv"].remove(["Approver", "Ledger", "read"])
    del rows["ssd_sets.csv"], rows["ssd_set_roles.csv"]  # not covered: kept
    folder = write_dir(tmp_path / "org2", rows)
    with plan_import(db, CsvDirectorySource(folder), Mode.MIRROR) as plan:
        removed = {(r.table, r.key) for r in plan.rows({"remove"})}
        assert removed == {
            ("users", "carol"),
            ("user_roles", "carol \u2192 Staff"),
            ("role_permissions", "Approver \u2192 Ledger: read"),
        }
        apply_import(db, plan)
    with db.read() as s:
        assert {u.username for u in s.scalars(select(User))} == {"alice", "bob"}
        assert [p.label for p in rbac.role_permissions(s, "Approver")] == []
        assert rbac.ssd_role_set_cardinality(s, "Payables") == 2
        gone = audit_entries(s, record_type="user", record_key="carol")[0]
    assert gone.operation == "delete" and gone.before is not None
    assert gone.before["email"] == "carol@example.org"


def test_names_duplicated_ignoring_case_are_refused(db: Database, tmp_path: Path) -> None:
    rows = copy.deepcopy(ORG)
    rows["users.csv"].append(["ALICE", "", "", ""])
    rows["roles.csv"].append(["staff", ""])
    lines = _refused(db, write_dir(tmp_path / "org", rows))
    assert any(line.startswith("users.csv:5 Duplicate user") and "users.csv:2" in line
               for line in lines)
    assert any(line.startswith("roles.csv:5 Duplicate role") for line in lines)


def test_an_inheritance_cycle_is_refused_with_its_path(db: Database, tmp_path: Path) -> None:
    rows = copy.deepcopy(ORG)
    rows["role_parents.csv"].append(["Staff", "Clerk"])
    lines = _refused(db, write_dir(tmp_path / "org", rows))
    assert any("cycle" in line and "Clerk" in line and "Staff" in line for line in lines)


def test_a_cycle_through_the_database_is_refused(db: Database, tmp_path: Path) -> None:
    with db.action("Setup") as s:
        for name in ("A", "B", "C"):
            rbac.add_role(s, name)
        rbac.add_inheritance(s, "A", "B")
        rbac.add_inheritance(s, "B", "C")
    folder = write_dir(tmp_path / "org", {"role_parents.csv": [["role", "parent_role"],
                                                               ["C", "A"]]})
    lines = _refused(db, folder)
    assert lines == ["role_parents.csv:2 This inheritance would create a cycle: "
                     "C \u2192 A \u2192 B \u2192 C."]


def test_separation_of_duty_is_refused(db: Database, tmp_path: Path) -> None:
    rows = copy.deepcopy(ORG)
    rows["user_roles.csv"].append(["alice", "Approver", ""])
    lines = _refused(db, write_dir(tmp_path / "org", rows))
    assert any(line.startswith("user_roles.csv:") and "Payables" in line and "alice" in line
               for line in lines)


def test_separation_of_duty_through_inheritance_in_the_database(
    db: Database, tmp_path: Path
) -> None:
    with db.action("Setup") as s:
        for name in ("Clerk", "Approver", "Lead"):
            rbac.add_role(s, name)
        rbac.add_user(s, "alice")
        rbac.add_inheritance(s, "Lead", "Clerk")
        rbac.create_ssd_set(s, "Payables", ["Clerk", "Approver"], 2)
        rbac.assign_user(s, "alice", "Approver")
    folder = write_dir(tmp_path / "org", {"role_parents.csv": [["role", "parent_role"],
                                                               ["Lead", "Approver"]],
                                          "user_roles.csv": [["username", "role"],
                                                             ["alice", "Lead"]]})
    lines = _refused(db, folder)
    assert len(lines) == 1 and lines[0].startswith("user_roles.csv:2 Separation of duty")


def test_unknown_references_are_refused(db: Database, tmp_path: Path) -> None:
    folder = write_dir(tmp_path / "org", {
        "user_roles.csv": [["username", "role"], ["ghost", "Nobody"]],
        "role_permissions.csv": [["role", "resource", "action"], ["Nobody", "Door", "open"]],
    })
    lines = _refused(db, folder)
    assert "user_roles.csv:2 Unknown user \u201cghost\u201d" in lines[0]
    assert any(line.startswith("role_permissions.csv:2 Unknown role") for line in lines)


def test_values_are_checked_like_edits(db: Database, tmp_path: Path) -> None:
    folder = write_dir(tmp_path / "org", {
        "users.csv": [
            ["username", "email", "password_hash"],
            ["bad name!", "", ""],
            ["ok", "not-an-address", ""],
            ["ok2", "", "plaintext"],
            ["x" * 65, "", ""],
        ],
        "roles.csv": [["name", "description"], ["Fine", "d" * 2001]],
    })
    lines = _refused(db, folder)
    assert lines[0].startswith("users.csv:2 Username may contain only")
    assert lines[1].startswith("users.csv:3 \u201cnot-an-address\u201d is not an e-mail")
    assert lines[2].startswith("users.csv:4 The password hash is not an Argon2")
    assert lines[3].startswith("users.csv:5 Username is too long")
    assert lines[4].startswith("roles.csv:2 Description is too long")


def test_argon2_hashes_import_and_verify(db: Database, tmp_path: Path) -> None:
    from accessguard_gui.core.passwords import hash_password

    folder = write_dir(tmp_path / "org", {
        "users.csv": [["username", "password_hash"], ["alice", hash_password("s3cret-pass")]],
    })
    _import(db, folder)
    with db.read() as s:
        assert rbac.verify_password(s, "alice", "s3cret-pass")
        entry = audit_entries(s, record_type="user", record_key="alice")[0]
    assert entry.after is not None and entry.after["password_hash"] == "(set)"


def test_cancel_writes_nothing(db: Database, tmp_path: Path) -> None:
    rows = copy.deepcopy(ORG)
    rows["users.csv"] += [[f"user{i}", "", "", ""] for i in range(12_000)]
    folder = write_dir(tmp_path / "org", rows)
    before = table_rows(db)
    with plan_import(db, CsvDirectorySource(folder)) as plan:
        calls = {"n": 0}

        def cancelled() -> bool:
            calls["n"] += 1
            return calls["n"] > 1  # after the first batch has been written

        with pytest.raises(ImportCancelledError):
            apply_import(db, plan, cancelled=cancelled)
    assert table_rows(db) == before


def test_a_change_after_the_dry_run_is_checked_again(db: Database, tmp_path: Path) -> None:
    folder = write_dir(tmp_path / "org", {"user_roles.csv": [["username", "role"],
                                                             ["alice", "Staff"]]})
    with db.action("Setup") as s:
        rbac.add_user(s, "alice")
        rbac.add_role(s, "Staff")
    with plan_import(db, CsvDirectorySource(folder)) as plan:
        assert plan.clean
        with db.action("Meanwhile") as s:
            rbac.delete_role(s, "Staff")
        with pytest.raises(ImportRefusedError):
            apply_import(db, plan)
        assert not plan.clean
    with db.read() as s:
        assert not s.scalars(select(UserRole)).all()


def test_progress_is_reported(db: Database, tmp_path: Path) -> None:
    seen: list[str] = []
    with plan_import(db, CsvDirectorySource(write_dir(tmp_path / "org", ORG)),
                     progress=lambda p: seen.append(p.phase)) as plan:
        apply_import(db, plan, progress=lambda p: seen.append(p.phase))
    assert "Reading the source" in seen and "Adding users" in seen


def test_an_expiry_is_updated_and_audited(db: Database, tmp_path: Path) -> None:
    _import(db, write_dir(tmp_path / "org", ORG))
    rows = copy.deepcopy(ORG)
    rows["user_roles.csv"][1][2] = "2030-06-01T12:00:00+02:00"
    _import(db, write_dir(tmp_path / "org2", rows))
    with db.read() as s:
        (assignment,) = rbac.assigned_roles(s, "alice")
        entry = audit_entries(s, record_type="assignment", record_key="alice \u2192 Clerk")[0]
        stored = s.scalar(select(AuditEntry.after).where(AuditEntry.id == entry.id))
    assert assignment.expires_at == datetime(2030, 6, 1, 10, tzinfo=UTC)
    assert json.loads(stored or "{}") == {"expires_at": "2030-06-01T10:00:00+00:00"}


@pytest.mark.skipif(not SKELETONS, reason="no look-alike rule in this schema")
def test_names_that_look_alike_are_refused(db: Database, tmp_path: Path) -> None:
    with db.action("Setup") as s:
        rbac.add_role(s, "Admins")
    folder = write_dir(tmp_path / "org", {
        "roles.csv": [["name"], ["\u0410dmins"]],  # a Cyrillic А
        "users.csv": [["username"], ["paypal"], ["paypa1"]],
    })
    lines = _refused(db, folder)
    assert any(line.startswith("roles.csv:2 \u201c\u0410dmins\u201d looks the same as the "
                               "existing role \u201cAdmins\u201d") for line in lines)
    assert any(line.startswith("users.csv:3 \u201cpaypa1\u201d looks the same as the user "
                               "\u201cpaypal\u201d (users.csv:2)") for line in lines)


def test_imported_rows_are_in_the_search_indexes(db: Database, db_path: Path,
                                                 tmp_path: Path) -> None:
    """SQLite's full-text indexes are filled in bulk for imported rows and keep
    following later edits (their triggers are back)."""
    import sqlite3

    _import(db, write_dir(tmp_path / "org", ORG))
    with db.action("Later") as s:
        rbac.add_user(s, "zora.later")
    conn = sqlite3.connect(db_path)
    try:
        def found(table: str, text: str) -> int:
            return int(conn.execute(
                f"SELECT count(*) FROM {table} WHERE {table} MATCH ?", (f'"{text}"',)
            ).fetchone()[0])

        assert found("search_users", "alice") == 1
        assert found("search_users", "zora.later") == 1
        assert found("search_audit_log", "Import from org") == sum(
            len(r) - 1 for r in ORG.values())
        triggers = {r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        assert {"search_users_insert", "search_audit_log_insert"} <= triggers
    finally:
        conn.close()


def test_bulk_indexing_holds_what_the_triggers_write_and_keeps_the_settings(
    db: Database, db_path: Path, tmp_path: Path
) -> None:
    """The search indexes an import fills in one statement each (merging deferred, a
    larger buffer) hold exactly what the per-row triggers would have written: FTS5's own
    integrity check compares them with the tables' text, and File > Check database's
    walk finds every entry indexed. The bulk settings are put back: one the file chose
    stays, one it did not hold leaves no row."""
    import sqlite3

    tables = ("search_users", "search_audit_log")
    conn = sqlite3.connect(db_path)
    try:
        conn.execute("INSERT INTO search_users(search_users, rank) VALUES ('automerge', 8)")
        conn.commit()
        settings = {t: conn.execute(f"SELECT k, v FROM {t}_config ORDER BY k").fetchall()
                    for t in tables}
    finally:
        conn.close()
    assert ("automerge", 8) in settings["search_users"]
    _import(db, write_dir(tmp_path / "org", ORG))
    with db.action("Later") as s:
        rbac.add_user(s, "zora.later")
    conn = sqlite3.connect(db_path)
    try:
        for table in tables:
            conn.execute(f"INSERT INTO {table}({table}, rank) VALUES ('integrity-check', 1)")
            assert conn.execute(
                f"SELECT k, v FROM {table}_config ORDER BY k").fetchall() == settings[table]
        indexed = conn.execute("SELECT count(*) FROM search_audit_log_docsize").fetchone()[0]
        assert indexed == conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] > 10
    finally:
        conn.close()
    report = integrity.verify_audit_chain(db)
    assert report.intact and report.search_checked and not report.search_problems


def test_a_refusal_resolved_after_the_dry_run_no_longer_refuses(
    db: Database, tmp_path: Path
) -> None:
    folder = write_dir(tmp_path / "org", {"user_roles.csv": [["username", "role"],
                                                             ["alice", "Staff"]]})
    with plan_import(db, CsvDirectorySource(folder)) as plan:
        assert plan.refused == 1  # neither alice nor Staff exists yet
        with db.action("Meanwhile") as s:
            rbac.add_user(s, "alice")
            rbac.add_role(s, "Staff")
        apply_import(db, plan)
        assert plan.clean
    with db.read() as s:
        assert [a.role for a in rbac.assigned_roles(s, "alice")] == ["Staff"]


def test_an_import_can_be_retried_after_a_cancel(db: Database, tmp_path: Path) -> None:
    folder = write_dir(tmp_path / "org", ORG)
    with plan_import(db, CsvDirectorySource(folder)) as plan:
        with pytest.raises(ImportCancelledError):
            apply_import(db, plan, cancelled=lambda: True)
        with db.action("Meanwhile") as s:
            rbac.add_user(s, "zed")  # takes the id the cancelled run had given alice
        apply_import(db, plan)
    with db.read() as s:
        assert rbac.check_access(s, "alice", "Ledger", "write").allowed
        assert [a.role for a in rbac.assigned_roles(s, "zed")] == []


def test_audit_texts_are_exactly_what_the_flush_hook_writes(
    db: Database, tmp_path: Path
) -> None:
    rows = copy.deepcopy(ORG)
    rows["users.csv"].append(["quote", "Say \"hi\"\\ \u00e9", "q@example.org", "no"])
    _import(db, write_dir(tmp_path / "org", rows))
    with db.read() as s:
        texts = s.scalars(select(AuditEntry.after)).all()
    assert len(texts) == sum(len(r) - 1 for r in rows.values())
    for text in texts:
        assert text == json.dumps(json.loads(text or "null"), ensure_ascii=False,
                                  sort_keys=True)


def test_a_cancelled_import_leaves_the_schema_as_it_was(
    db: Database, db_path: Path, tmp_path: Path
) -> None:
    """The search-index triggers an import sets aside come back with the rollback."""
    before = _schema(db_path)
    with plan_import(db, CsvDirectorySource(write_dir(tmp_path / "org", ORG))) as plan:
        with pytest.raises(ImportCancelledError):
            apply_import(db, plan, cancelled=lambda: True)
    assert _schema(db_path) == before


def test_a_completed_import_leaves_the_schema_and_its_guards_as_they_were(
    db: Database, db_path: Path, tmp_path: Path
) -> None:
    """The triggers an import sets aside while it writes (search indexing, the trail's
    guard against INSERT OR REPLACE) are back, word for word, when it commits, and the
    guard still refuses to overwrite an entry."""
    import sqlite3

    before = _schema(db_path)
    assert any(name == "audit_log_no_replace" for name, _sql in before)
    _import(db, write_dir(tmp_path / "org", ORG))
    assert _schema(db_path) == before
    assert integrity.schema_findings(db) == []
    conn = sqlite3.connect(db_path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(
                "INSERT OR REPLACE INTO audit_log (id, at, operator, action, operation, "
                "record_type, record_key) VALUES (1, '2026-01-01 00:00:00.000000', 'eve', "
                "'Forge', 'insert', 'user', 'alice')"
            )
    finally:
        conn.close()
    assert integrity.verify_audit_chain(db).intact


def test_mirror_keeps_permissions_of_resources_the_source_keeps(
    db: Database, tmp_path: Path
) -> None:
    _import(db, write_dir(tmp_path / "org", ORG))
    folder = write_dir(tmp_path / "grants", {
        "resources.csv": ORG["resources.csv"],
        "role_permissions.csv": [["role", "resource", "action"], ["Staff", "Ledger", "read"]],
    })
    with plan_import(db, CsvDirectorySource(folder), Mode.MIRROR) as plan:
        assert plan.clean, plan.refusal_message()
        removed = {(r.table, r.key) for r in plan.rows({"remove"})}
        apply_import(db, plan)
    assert ("role_permissions", "Clerk \u2192 Ledger: write") in removed
    assert not any(table == "permissions" for table, _key in removed)
    with db.read() as s:
        assert [p.label for p in rbac.role_permissions(s, "Staff")] == ["Ledger: read"]


def test_separation_of_duty_is_checked_for_many_users_at_once(
    db: Database, tmp_path: Path
) -> None:
    with db.action("Setup") as s:
        for name in ("Clerk", "Approver", "Other"):
            rbac.add_role(s, name)
        rbac.add_user(s, "old")
        rbac.assign_user(s, "old", "Clerk")
        rbac.assign_user(s, "old", "Approver")
        rbac.create_ssd_set(s, "Payables", ["Clerk", "Other"], 2)
    users = [["username"]] + [[f"u{i}"] for i in range(300)]
    assignments = [["username", "role"], ["old", "Other"]]
    for i in range(300):
        assignments += [[f"u{i}", "Clerk"], [f"u{i}", "Other" if i % 3 == 0 else "Approver"]]
    lines = _refused(db, write_dir(tmp_path / "org", {"users.csv": users,
                                                      "user_roles.csv": assignments}))
    # old's new assignment (Clerk is old's already), and every third user's pair.
    assert len(lines) == 1 + 2 * 100
    assert lines[0] == ("user_roles.csv:2 Separation of duty \u201cPayables\u201d allows "
                        "fewer than 2 of its roles per user: old would hold Clerk, Other.")


def test_a_breach_already_in_the_database_does_not_block_an_import(
    db: Database, db_path: Path, tmp_path: Path
) -> None:
    """As editing tolerates a breach it did not cause (an old import, direct SQL)."""
    import sqlite3

    with db.action("Setup") as s:
        for name in ("Clerk", "Other", "Reader"):
            rbac.add_role(s, name)
        rbac.add_user(s, "old")
        rbac.assign_user(s, "old", "Clerk")
        rbac.create_ssd_set(s, "Payables", ["Clerk", "Other"], 2)
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute(
            "INSERT INTO user_roles (user_id, role_id, granted_at, granted_by, version) "
            "SELECT u.id, r.id, '2026-01-01 00:00:00.000000', 'sql', 1 FROM users u, roles r "
            "WHERE u.username = 'old' AND r.name = 'Other'"
        )
    conn.close()
    folder = write_dir(tmp_path / "org", {"user_roles.csv": [["username", "role"],
                                                             ["old", "Reader"]]})
    _import(db, folder)
    with db.read() as s:
        assert sorted(a.role for a in rbac.assigned_roles(s, "old")) == [
            "Clerk", "Other", "Reader"]


def test_chains_longer_than_check_access_explains_are_refused(
    db: Database, tmp_path: Path
) -> None:
    from accessguard_gui.core.rbac import MAX_PATH_DEPTH

    roles = [["name"]] + [[f"R{i}"] for i in range(MAX_PATH_DEPTH + 3)]
    # R1 inherits from R0, R2 from R1, …: MAX_PATH_DEPTH + 2 edges, one too many.
    parents = [["role", "parent_role"]] + [
        [f"R{i}", f"R{i - 1}"] for i in range(1, MAX_PATH_DEPTH + 3)
    ]
    lines = _refused(db, write_dir(tmp_path / "long", {"roles.csv": roles,
                                                       "role_parents.csv": parents}))
    assert lines and all("makes a chain of more than" in line for line in lines)
    # The longest allowed chain imports; one more edge over it is refused.
    _import(db, write_dir(tmp_path / "ok", {"roles.csv": roles,
                                            "role_parents.csv": parents[:-1]}))
    lines = _refused(db, write_dir(tmp_path / "top", {
        "role_parents.csv": [["role", "parent_role"], parents[-1]]}))
    assert lines == [f"role_parents.csv:2 This inheritance makes a chain of more than "
                     f"{MAX_PATH_DEPTH + 1} roles each inheriting from the next; at most "
                     f"{MAX_PATH_DEPTH + 1} are allowed."]
