"""The audit trail: one entry per changed record, in the same transaction, secrets masked,
append-only in the file itself."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from accessguard_gui.core import audit, rbac
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import DatabaseError
from accessguard_gui.core.models import utcnow

PASSWORD = "correct horse battery staple"


def _entries(db: Database, **filters: Any) -> list[audit.AuditRow]:
    with db.read() as s:
        return list(reversed(audit.audit_entries(s, **filters)))  # oldest first


def test_insert_update_delete_are_recorded_with_operator_action_and_values(
    db: Database,
) -> None:
    with db.action("Add user") as s:
        rbac.add_user(s, "alice", "Alice", email="alice@example.org")
    with db.action("Rename user") as s:
        rbac.update_user(s, "alice", display_name="Alice Smith", active=False)
    with db.action("Delete user") as s:
        rbac.delete_user(s, "alice")
    added, changed, deleted = _entries(db)
    assert (added.operator, added.action, added.operation, added.record_type) == (
        "tester",
        "Add user",
        "insert",
        "user",
    )
    assert added.record_key == "alice"
    assert added.before is None
    assert added.after is not None
    assert {k: added.after[k] for k in ("username", "display_name", "email", "active")} == {
        "username": "alice",
        "display_name": "Alice",
        "email": "alice@example.org",
        "active": True,
    }
    assert "version" not in added.after and "updated_at" not in added.after
    assert (changed.action, changed.operation) == ("Rename user", "update")
    assert changed.before == {"display_name": "Alice", "active": True}
    assert changed.after == {"display_name": "Alice Smith", "active": False}
    assert (deleted.operation, deleted.after) == ("delete", None)
    assert deleted.before is not None and deleted.before["display_name"] == "Alice Smith"
    assert added.at <= changed.at <= deleted.at
    assert added.at.tzinfo is not None


def test_an_update_that_changes_nothing_writes_no_entry(db: Database) -> None:
    with db.action("Add") as s:
        rbac.add_role(s, "Staff", "People")
    with db.action("Same") as s:
        rbac.update_role(s, "Staff", name="Staff", description="People")
    assert [e.action for e in _entries(db)] == ["Add"]


def test_record_keys_name_the_records(db: Database) -> None:
    with db.action("Build") as s:
        rbac.add_user(s, "alice")
        rbac.add_role(s, "Staff")
        rbac.add_role(s, "Boss")
        rbac.add_role(s, "Other")
        rbac.add_resource(s, "Door")
        rbac.add_permission(s, "Door", "open")
        rbac.grant_permission(s, "Staff", ("Door", "open"))
        rbac.add_inheritance(s, "Boss", "Staff")
        rbac.assign_user(s, "alice", "Staff")
        rbac.create_ssd_set(s, "Split", ["Staff", "Other"], 2)
    keys = {(e.record_type, e.record_key) for e in _entries(db)}
    assert keys == {
        ("user", "alice"),
        ("role", "Staff"),
        ("role", "Boss"),
        ("role", "Other"),
        ("resource", "Door"),
        ("permission", "Door: open"),
        ("grant", "Staff \u2192 Door: open"),
        ("inheritance", "Boss inherits from Staff"),
        ("assignment", "alice \u2192 Staff"),
        ("ssd_set", "Split"),
        ("ssd_member", "Split \u220b Staff"),
        ("ssd_member", "Split \u220b Other"),
    }


def test_deleting_a_role_audits_every_removed_dependent(db: Database) -> None:
    with db.action("Build") as s:
        rbac.add_user(s, "alice")
        rbac.add_role(s, "Staff")
        rbac.add_resource(s, "Door")
        rbac.add_permission(s, "Door", "open")
        rbac.grant_permission(s, "Staff", ("Door", "open"))
        rbac.assign_user(s, "alice", "Staff")
    with db.action("Delete role") as s:
        rbac.delete_role(s, "Staff")
    removed = {(e.record_type, e.record_key) for e in _entries(db) if e.action == "Delete role"}
    assert removed == {
        ("role", "Staff"),
        ("assignment", "alice \u2192 Staff"),
        ("grant", "Staff \u2192 Door: open"),
    }


def test_entries_belong_to_the_transaction_of_the_change(db: Database) -> None:
    """Another connection sees neither the change nor its entry until the commit."""
    with db.action("Add role") as s:
        rbac.add_role(s, "Staff")
        s.flush()
        assert s.execute(text("SELECT count(*) FROM audit_log")).scalar() == 1
        assert _entries(db) == []
        with db.read() as other:
            assert other.execute(text("SELECT count(*) FROM roles")).scalar() == 0
    assert [e.record_key for e in _entries(db)] == ["Staff"]


def test_passwords_never_reach_the_audit_log(db: Database) -> None:
    with db.action("Add user") as s:
        rbac.add_user(s, "alice", password=PASSWORD)
    with db.action("Change password") as s:
        rbac.set_password(s, "alice", PASSWORD + "!")
    with db.action("Remove password") as s:
        rbac.clear_password(s, "alice")
    added, changed, cleared = _entries(db)
    assert added.after is not None and added.after["password_hash"] == "(set)"
    assert (changed.before, changed.after) == (
        {"password_hash": "(set)"},
        {"password_hash": "(set)"},
    )
    assert (cleared.before, cleared.after) == ({"password_hash": "(set)"}, {"password_hash": None})
    with db.read() as s:
        raw = s.execute(text("SELECT before, after FROM audit_log")).all()
    dumped = repr(raw)
    assert PASSWORD not in dumped
    assert "$argon2" not in dumped


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_log SET operator = 'someone else'", "DELETE FROM audit_log"],
)
def test_the_audit_log_refuses_update_and_delete(db: Database, statement: str) -> None:
    with db.action("Add role") as s:
        rbac.add_role(s, "Staff")
    before = _entries(db)
    with (
        pytest.raises(DatabaseError, match="the audit log is append-only"),
        db.action("Tamper") as s,
    ):
        s.execute(text(statement))
    assert _entries(db) == before


def test_audit_query_filters(db: Database) -> None:
    with db.action("Add role") as s:
        rbac.add_role(s, "Staff")
        rbac.add_user(s, "alice")
    other = Database(db.path, operator="someone")
    try:
        with other.action("Add role") as s:
            rbac.add_role(s, "Boss")
    finally:
        other.close()
    assert [e.record_key for e in _entries(db, operator="someone")] == ["Boss"]
    assert [e.record_key for e in _entries(db, record_type="role")] == ["Staff", "Boss"]
    assert [e.operator for e in _entries(db, record_key="Staff")] == ["tester"]
    assert _entries(db, since=utcnow() + timedelta(minutes=1)) == []
    assert len(_entries(db, until=utcnow() + timedelta(minutes=1))) == 3
    with db.read() as s:
        assert len(audit.audit_entries(s, limit=1)) == 1
        assert audit.audit_entries(s, limit=1)[0].record_key == "Boss"  # newest first
