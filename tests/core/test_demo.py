"""The demo organisation: deterministic, believable, consistent with its own rules."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from accessguard_gui.core import audit, demo, rbac
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import DatabaseOpenError, SeparationOfDutyError
from accessguard_gui.core.rows import DenyReason

NOW = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)


def _build(path: Path) -> Database:
    db = Database(path, operator="tester")
    demo.build_demo(db, now=NOW)
    return db


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    db = _build(tmp_path_factory.mktemp("demo") / "demo.db")
    try:
        yield db
    finally:
        db.close()


def _snapshot(db: Database) -> dict[str, list[tuple[object, ...]]]:
    """Everything that makes up the organisation, by name (not by timestamps)."""
    with db.read() as s:
        conn = s.connection()
        users = [tuple(r) for r in conn.exec_driver_sql(
            "SELECT username, display_name, email, active, password_hash IS NOT NULL "
            "FROM users ORDER BY id")]
        roles = [tuple(r) for r in conn.exec_driver_sql(
            "SELECT name, description FROM roles ORDER BY id")]
        assignments = [tuple(r) for r in conn.exec_driver_sql(
            "SELECT u.username, r.name, ur.expires_at FROM user_roles ur "
            "JOIN users u ON u.id = ur.user_id JOIN roles r ON r.id = ur.role_id "
            "ORDER BY u.username, r.name")]
        inheritance = [tuple(r) for r in conn.exec_driver_sql(
            "SELECT role_id, inherits_from_id FROM role_inheritance ORDER BY 1, 2")]
        grants = [tuple(r) for r in conn.exec_driver_sql(
            "SELECT role_id, permission_id FROM role_permissions ORDER BY 1, 2")]
    return {"users": users, "roles": roles, "assignments": assignments,
            "inheritance": inheritance, "grants": grants}


def _member(db: Database, role: str, *, active: bool = True) -> str:
    """A direct member of ``role`` with an unexpired assignment."""
    with db.read() as s:
        for a in rbac.assigned_users(s, role):
            if a.expires_at is not None and a.expires_at <= NOW:
                continue
            if rbac.get_user(s, a.username).active == active:
                return a.username
    raise AssertionError(f"no {'active' if active else 'inactive'} member of {role}")


def test_two_builds_give_the_same_organisation(demo_db: Database, tmp_path: Path) -> None:
    with _build(tmp_path / "again.db") as again:
        assert _snapshot(again) == _snapshot(demo_db)


def test_a_few_hundred_believable_people(demo_db: Database) -> None:
    users = _snapshot(demo_db)["users"]
    assert 250 <= len(users) <= 400
    usernames = [str(u[0]) for u in users]
    assert len({u.lower() for u in usernames}) == len(usernames)
    assert all(u.count(".") == 1 and u.isascii() for u in usernames)
    assert all(str(u[2]).endswith("@" + demo.DEMO_DOMAIN) for u in users)
    assert any(not str(u[1]).isascii() for u in users), "some names carry accents"
    inactive = [u for u in users if not u[3]]
    assert 5 <= len(inactive) <= 30
    with_password = [u for u in users if u[4]]
    assert 1 <= len(with_password) <= 5


def test_passwords_of_the_demo_users_work(demo_db: Database) -> None:
    with demo_db.read() as s:
        username = s.connection().exec_driver_sql(
            "SELECT username FROM users WHERE password_hash IS NOT NULL ORDER BY id LIMIT 1"
        ).scalar_one()
        assert rbac.verify_password(s, username, demo.DEMO_PASSWORD)
        assert not rbac.verify_password(s, username, "not-the-password")


def test_some_assignments_expired_some_expire_later(demo_db: Database) -> None:
    expiries = [a[2] for a in _snapshot(demo_db)["assignments"] if a[2] is not None]
    now_text = NOW.strftime("%Y-%m-%d %H:%M:%S")
    assert any(str(e) < now_text for e in expiries)
    assert any(str(e) > now_text for e in expiries)


def test_departments_inherit_from_staff_and_managers_form_a_diamond(demo_db: Database) -> None:
    with demo_db.read() as s:
        assert [r.name for r in rbac.inherits_from(s, "Finance Staff")] == ["Staff"]
        assert [r.name for r in rbac.inherits_from(s, "Finance Manager")] == [
            "Finance Staff", "Manager"]
        assert [r.name for r in rbac.inherits_from(s, "Accounts Payable")] == ["Finance Staff"]
        counts = [
            len(rbac.role_permissions(s, spec.name, inherited=True)) for spec in demo.ROLES
        ]
    assert 12 <= sum(counts) / len(counts) <= 22  # ~15 effective permissions per role
    manager = _member(demo_db, "Finance Manager")
    with demo_db.read() as s:
        decision = rbac.check_access(s, manager, "Door: Canteen", "open", now=NOW)
    assert decision.allowed
    assert {p.roles for p in decision.granting_paths} == {
        ("Finance Manager", "Finance Staff", "Staff"),
        ("Finance Manager", "Manager", "Staff"),
    }


def test_payables_clerk_enters_invoices_but_cannot_release_payments(demo_db: Database) -> None:
    clerk = _member(demo_db, "Accounts Payable")
    approver = _member(demo_db, "Payment Approval")
    with demo_db.read() as s:
        assert rbac.check_access(s, clerk, "ERP Finance", "write", now=NOW).allowed
        denied = rbac.check_access(s, clerk, "Banking Portal", "approve", now=NOW)
        assert not denied.allowed and denied.reason is DenyReason.NO_PATH
        allowed = rbac.check_access(s, approver, "Banking Portal", "approve", now=NOW)
        assert allowed.allowed
        assert allowed.granting_paths[0].roles == ("Payment Approval",)
        assert not rbac.check_access(s, approver, "Vendor Master", "write", now=NOW).allowed


def test_auditor_reads_but_does_not_change(demo_db: Database) -> None:
    auditor = _member(demo_db, "Auditor")
    with demo_db.read() as s:
        assert rbac.check_access(s, auditor, "ERP Finance", "read", now=NOW).allowed
        assert rbac.check_access(s, auditor, "Audit Log", "export", now=NOW).allowed
        assert not rbac.check_access(s, auditor, "ERP Finance", "write", now=NOW).allowed


def test_leavers_and_expired_contracts_are_denied(demo_db: Database) -> None:
    with demo_db.read() as s:
        conn = s.connection()
        leaver = conn.exec_driver_sql(
            "SELECT u.username FROM users u JOIN user_roles ur ON ur.user_id = u.id "
            "WHERE NOT u.active AND ur.expires_at IS NULL LIMIT 1").scalar_one()
        decision = rbac.check_access(s, leaver, "Door: Main Entrance", "open", now=NOW)
        assert decision.reason is DenyReason.INACTIVE_USER
        assert decision.granting_paths, "the explanation shows what they would have had"
        now_text = NOW.strftime("%Y-%m-%d %H:%M:%S")
        contractor = conn.exec_driver_sql(
            "SELECT u.username FROM users u JOIN user_roles ur ON ur.user_id = u.id "
            "JOIN roles r ON r.id = ur.role_id WHERE r.name = 'Contractor' "
            f"AND ur.expires_at < '{now_text}' "
            "AND NOT EXISTS (SELECT 1 FROM user_roles o WHERE o.user_id = u.id "
            f"AND o.role_id <> ur.role_id AND (o.expires_at IS NULL OR o.expires_at > '{now_text}'))"
            " LIMIT 1").scalar_one()
        expired = rbac.check_access(s, contractor, "Door: Main Entrance", "open", now=NOW)
        assert expired.reason is DenyReason.EXPIRED_ASSIGNMENT


def test_separation_of_duty_holds_and_is_enforced(demo_db: Database) -> None:
    with demo_db.read() as s:
        assert rbac.ssd_violations(s) == []
        sets = {x.name: x for x in rbac.ssd_role_sets(s)}
    assert set(sets["Payables vs. payment approval"].roles) == {
        "Accounts Payable", "Payment Approval"}
    clerk = _member(demo_db, "Accounts Payable")
    with demo_db.preview() as s, pytest.raises(SeparationOfDutyError):
        rbac.assign_user(s, clerk, "Payment Approval")


def test_the_audit_trail_holds_the_build(demo_db: Database) -> None:
    users = len(_snapshot(demo_db)["users"])
    with demo_db.read() as s:
        inserts = audit.audit_entries(s, limit=100_000, record_type="user")
    assert len([e for e in inserts if e.operation == "insert"]) == users
    assert {e.action for e in inserts} == {"Demo: people"}
    assert all((e.after or {}).get("password_hash") in (None, "(set)") for e in inserts)


# ---------------------------------------------------------------------- ensure_demo_database


def _quick_build(db: Database, **_: object) -> None:
    with db.action("Tiny demo") as s:
        rbac.add_user(s, "only.person")


def _usernames(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute("SELECT username FROM users ORDER BY id")]
    finally:
        conn.close()


def test_ensure_builds_a_missing_demo_completely(tmp_path: Path) -> None:
    target = tmp_path / "data" / "demo.db"
    assert demo.ensure_demo_database(target) == target
    assert sorted(os.listdir(target.parent)) == ["demo.db"]  # no temp or -wal leftovers
    with Database(target) as db:
        assert db.check() == []
        with db.read() as s:
            assert rbac.ssd_violations(s) == []
    assert len(_usernames(target)) > 250


def test_ensure_keeps_an_existing_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "build_demo", _quick_build)
    target = demo.ensure_demo_database(tmp_path / "demo.db")
    with Database(target) as db, db.action("Hire") as s:
        rbac.add_user(s, "added.later")
    demo.ensure_demo_database(target)
    assert _usernames(target) == ["only.person", "added.later"]


@pytest.mark.parametrize("state", ["empty file", "schema without users"])
def test_ensure_rebuilds_an_empty_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, state: str
) -> None:
    monkeypatch.setattr(demo, "build_demo", _quick_build)
    target = tmp_path / "demo.db"
    if state == "empty file":
        target.touch()
    else:
        Database(target).close()
    demo.ensure_demo_database(target)
    assert _usernames(target) == ["only.person"]


def test_ensure_leaves_a_foreign_file_alone(tmp_path: Path) -> None:
    target = tmp_path / "demo.db"
    target.write_bytes(b"my notes, not a database")
    assert demo.ensure_demo_database(target) == target
    assert target.read_bytes() == b"my notes, not a database"


def test_a_failed_build_leaves_no_half_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(db: Database, **_: object) -> None:
        _quick_build(db)
        raise RuntimeError("power cut")

    monkeypatch.setattr(demo, "build_demo", crash)
    target = tmp_path / "demo.db"
    with pytest.raises(RuntimeError):
        demo.ensure_demo_database(target)
    assert os.listdir(tmp_path) == []


def test_ensure_where_no_folder_can_be_made_is_a_typed_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    with pytest.raises(DatabaseOpenError, match="cannot be created"):
        demo.ensure_demo_database(blocker / "AccessGuard" / "demo.db")
    assert blocker.read_text() == "a file where the data folder should be"


def test_default_location_is_the_user_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(demo, "build_demo", _quick_build)
    path = demo.ensure_demo_database()
    assert path == tmp_path / "xdg" / "AccessGuard" / "demo.db"
    assert _usernames(path) == ["only.person"]
