"""A refused call changes nothing, even in a session that goes on; a failed action writes
nothing at all (no records, no audit entries)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from accessguard_gui.core import rbac
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import AccessGuardError, DuplicateError

from .reference import snapshot


@pytest.fixture
def org(db: Database) -> Database:
    with db.action("setup") as s:
        rbac.add_user(s, "alice")
        rbac.add_user(s, "bob")
        for role in ("Clerk", "Approver", "Auditor", "Boss"):
            rbac.add_role(s, role)
        rbac.add_inheritance(s, "Boss", "Clerk")
        rbac.add_resource(s, "Ledger")
        rbac.add_permission(s, "Ledger", "read")
        rbac.grant_permission(s, "Clerk", ("Ledger", "read"))
        rbac.assign_user(s, "alice", "Clerk")
        rbac.assign_user(s, "bob", "Boss")
        rbac.create_ssd_set(s, "Payments", ["Clerk", "Approver", "Auditor"], 3)
    with db.action("setup") as s:
        rbac.assign_user(s, "alice", "Approver")  # two of three: allowed
        rbac.assign_user(s, "bob", "Approver")  # bob: Boss (-> Clerk) and Approver
    return db


REFUSED: dict[str, Callable[[Session], Any]] = {
    "add_user bad name": lambda s: rbac.add_user(s, "no spaces allowed"),
    "add_user duplicate": lambda s: rbac.add_user(s, "ALICE"),
    "add_user short password": lambda s: rbac.add_user(s, "carol", password="short"),
    "update_user duplicate": lambda s: rbac.update_user(s, "bob", username="alice"),
    "update_user bad e-mail": lambda s: rbac.update_user(s, "bob", email="bob@"),
    "update_user stale": lambda s: rbac.update_user(s, "bob", expected_version=7, active=False),
    "delete_user unknown": lambda s: rbac.delete_user(s, "carol"),
    "delete_user stale": lambda s: rbac.delete_user(s, "alice", expected_version=9),
    "add_role duplicate": lambda s: rbac.add_role(s, "clerk"),
    "update_role duplicate": lambda s: rbac.update_role(s, "Boss", name="CLERK"),
    "delete_role stale": lambda s: rbac.delete_role(s, "Clerk", expected_version=5),
    "add_resource duplicate": lambda s: rbac.add_resource(s, "LEDGER"),
    "add_permission duplicate": lambda s: rbac.add_permission(s, "Ledger", "READ"),
    "add_permission bad action": lambda s: rbac.add_permission(s, "Ledger", "9lives"),
    "assign duplicate": lambda s: rbac.assign_user(s, "alice", "Clerk"),
    "assign breaks SSD": lambda s: rbac.assign_user(s, "alice", "Auditor"),
    "deassign missing": lambda s: rbac.deassign_user(s, "bob", "Clerk"),
    "grant duplicate": lambda s: rbac.grant_permission(s, "Clerk", ("Ledger", "read")),
    "revoke missing": lambda s: rbac.revoke_permission(s, "Boss", ("Ledger", "read")),
    "inherit cycle": lambda s: rbac.add_inheritance(s, "Clerk", "Boss"),
    "inherit breaks SSD": lambda s: rbac.add_inheritance(s, "Clerk", "Auditor"),
    "uninherit missing": lambda s: rbac.delete_inheritance(s, "Clerk", "Boss"),
    "create set broken": lambda s: rbac.create_ssd_set(s, "Two", ["Clerk", "Approver"], 2),
    "add member breaks set": lambda s: rbac.add_ssd_role_member(s, "Payments", "Boss"),
    "tighten breaks set": lambda s: rbac.set_ssd_set_cardinality(s, "Payments", 2),
    "drop member below n": lambda s: rbac.delete_ssd_role_member(s, "Payments", "Clerk"),
    "set password too short": lambda s: rbac.set_password(s, "alice", "1234"),
}


@pytest.mark.parametrize("call", REFUSED.values(), ids=REFUSED.keys())
def test_refused_call_changes_nothing_and_the_session_goes_on(
    org: Database, call: Callable[[Session], Any]
) -> None:
    with org.read() as s:
        committed = snapshot(s)
    with org.action("Several edits") as s:
        with pytest.raises(AccessGuardError):
            call(s)
        assert snapshot(s) == committed
        # The same session keeps working after the refusal, and its state is intact.
        assert rbac.ssd_role_set_cardinality(s, "Payments") == 3
        assert rbac.get_user(s, "bob").username == "bob"
        rbac.add_role(s, "After")
    with org.read() as s:
        after = snapshot(s)
    added = {t: sorted(set(after[t]) - set(committed[t]), key=repr) for t in after}
    assert [t for t, rows in added.items() if rows] == ["roles", "audit_log"]
    assert len(added["roles"]) == 1 and len(added["audit_log"]) == 1
    assert all(set(committed[t]) <= set(after[t]) for t in committed)


def test_refused_call_leaves_earlier_edits_of_the_action_in_place(org: Database) -> None:
    with org.action("Edits") as s:
        rbac.update_user(s, "bob", display_name="Bob")
        pending = rbac.get_user(s, "alice")
        pending.display_name = "Alice (unflushed)"  # not yet flushed when the call starts
        with pytest.raises(DuplicateError):
            rbac.add_role(s, "Clerk")
        rbac.add_role(s, "After")
    with org.read() as s:
        assert rbac.get_user(s, "bob").display_name == "Bob"
        assert rbac.get_user(s, "alice").display_name == "Alice (unflushed)"
        assert rbac.get_role(s, "After").name == "After"


def test_a_failed_action_writes_nothing_not_even_audit_entries(org: Database) -> None:
    with org.read() as s:
        before = snapshot(s)

    class Boom(Exception):
        pass

    with pytest.raises(Boom), org.action("Doomed") as s:
        rbac.add_user(s, "carol")
        rbac.assign_user(s, "carol", "Boss")
        rbac.delete_role(s, "Auditor")
        s.flush()
        assert s.execute(text("SELECT count(*) FROM audit_log WHERE action='Doomed'")).scalar()
        raise Boom
    with org.read() as s:
        assert snapshot(s) == before
        assert s.execute(text("SELECT count(*) FROM audit_log WHERE action='Doomed'")).scalar() == 0


def test_a_typed_error_leaving_the_action_rolls_everything_back(org: Database) -> None:
    with org.read() as s:
        before = snapshot(s)
    with pytest.raises(DuplicateError), org.action("Half") as s:
        rbac.add_role(s, "New")
        rbac.add_role(s, "new")
    with org.read() as s:
        assert snapshot(s) == before


def test_a_constraint_failure_at_commit_becomes_a_typed_error(org: Database) -> None:
    """A bypass of the rules (raw SQL) that hits the unique index: DuplicateError, no
    traceback for the user, nothing written."""
    with org.read() as s:
        before = snapshot(s)
    with pytest.raises(DuplicateError, match="already exists"), org.action("Raw") as s:
        s.execute(
            text(
                "INSERT INTO roles (name, name_key, description, created_at, updated_at, "
                "version) VALUES ('CLERK', 'clerk', '', '2026-01-01', '2026-01-01', 1)"
            )
        )
    with org.read() as s:
        assert snapshot(s) == before


def test_preview_never_commits(org: Database) -> None:
    with org.read() as s:
        before = snapshot(s)
    with org.preview("What if") as s:
        rbac.deassign_user(s, "alice", "Clerk")
        assert rbac.user_permissions(s, "alice") == []
    with org.read() as s:
        assert snapshot(s) == before
        assert [p.label for p in rbac.user_permissions(s, "alice")] == ["Ledger: read"]
