"""Assignments (with expiry) and grants: assign/deassign, set expiry, grant/revoke."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from accessguard_gui.core import rbac
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import (
    ConflictError,
    DuplicateError,
    NotFoundError,
    ValidationError,
)
from accessguard_gui.core.models import utcnow
from accessguard_gui.core.rows import DenyReason

from .reference import snapshot


@pytest.fixture
def org(db: Database) -> Database:
    with db.action("setup") as s:
        rbac.add_user(s, "alice")
        rbac.add_user(s, "bob")
        rbac.add_role(s, "Staff")
        rbac.add_role(s, "Sales")
        rbac.add_resource(s, "Door")
        rbac.add_permission(s, "Door", "open")
    return db


def test_assign_user_records_who_and_when(org: Database) -> None:
    start = utcnow()
    with org.action("Assign") as s:
        row = rbac.assign_user(s, "alice", "staff")
    assert (row.username, row.role, row.granted_by, row.expires_at) == (
        "alice",
        "Staff",
        "tester",
        None,
    )
    assert row.granted_at >= start - timedelta(seconds=1)
    assert row.granted_at.tzinfo is not None
    with org.action("Assign") as s:
        row = rbac.assign_user(s, "bob", "Staff", granted_by="hr-import")
    assert row.granted_by == "hr-import"
    with org.read() as s:
        members = rbac.assigned_users(s, "Staff")
        assert [(a.username, a.granted_by) for a in members] == [
            ("alice", "tester"),
            ("bob", "hr-import"),
        ]
        assert [a.role for a in rbac.assigned_roles(s, "alice")] == ["Staff"]


def test_assign_twice_is_refused(org: Database) -> None:
    with org.action("Assign") as s:
        rbac.assign_user(s, "alice", "Staff")
    with org.action("Again") as s, pytest.raises(DuplicateError) as info:
        rbac.assign_user(s, "ALICE", "staff")
    assert str(info.value) == "alice is already assigned to Staff."


def test_assign_unknown_user_or_role(org: Database) -> None:
    with org.action("Assign") as s:
        with pytest.raises(NotFoundError, match="There is no user named \u201ccarol\u201d"):
            rbac.assign_user(s, "carol", "Staff")
        with pytest.raises(NotFoundError, match="There is no role named \u201cBoss\u201d"):
            rbac.assign_user(s, "alice", "Boss")


def test_expiry_needs_a_time_zone(org: Database) -> None:
    with org.action("Assign") as s:
        with pytest.raises(ValidationError, match="needs a time zone") as info:
            rbac.assign_user(s, "alice", "Staff", expires_at=datetime(2030, 1, 1))
        assert info.value.field == "expires_at"
        rbac.assign_user(s, "alice", "Staff")
        with pytest.raises(ValidationError):
            rbac.set_assignment_expiry(s, "alice", "Staff", datetime(2030, 1, 1))


def test_expiry_in_another_zone_is_stored_as_the_same_instant(org: Database) -> None:
    plus2 = timezone(timedelta(hours=2))
    moment = datetime(2030, 6, 1, 12, 0, tzinfo=plus2)
    with org.action("Assign") as s:
        rbac.assign_user(s, "alice", "Staff", expires_at=moment)
    with org.read() as s:
        stored = rbac.assigned_roles(s, "alice")[0].expires_at
    assert stored == moment
    assert stored is not None and stored.utcoffset() == timedelta(0)
    assert stored == datetime(2030, 6, 1, 10, 0, tzinfo=UTC)


def test_set_assignment_expiry_sets_and_clears(org: Database) -> None:
    with org.action("setup") as s:
        rbac.assign_user(s, "alice", "Staff")
        rbac.grant_permission(s, "Staff", ("Door", "open"))
    past = utcnow() - timedelta(hours=1)
    with org.action("Expire") as s:
        row = rbac.set_assignment_expiry(s, "alice", "Staff", past, expected_version=1)
    assert row.expires_at == past
    assert row.version == 2
    assert row.expired(utcnow())
    with org.read() as s:
        decision = rbac.check_access(s, "alice", "Door", "open")
        assert decision.reason is DenyReason.EXPIRED_ASSIGNMENT
    with org.action("Renew") as s:
        row = rbac.set_assignment_expiry(s, "alice", "Staff", None)
    assert row.expires_at is None
    with org.read() as s:
        assert rbac.check_access(s, "alice", "Door", "open").allowed


def test_set_assignment_expiry_refusals(org: Database) -> None:
    with org.action("setup") as s:
        rbac.assign_user(s, "alice", "Staff")
        rbac.set_assignment_expiry(s, "alice", "Staff", utcnow() + timedelta(days=3))
    with org.action("x") as s:
        with pytest.raises(NotFoundError, match="bob is not assigned to Staff"):
            rbac.set_assignment_expiry(s, "bob", "Staff", None)
        with pytest.raises(ConflictError) as info:
            rbac.set_assignment_expiry(s, "alice", "Staff", None, expected_version=1)
    assert info.value.record == "assignment alice \u2192 Staff"
    assert info.value.theirs is not None and info.value.theirs["version"] == 2


def test_deassign_user(org: Database) -> None:
    with org.action("setup") as s:
        rbac.assign_user(s, "alice", "Staff")
        rbac.assign_user(s, "alice", "Sales")
    with org.action("stale") as s:
        rbac.set_assignment_expiry(s, "alice", "Sales", utcnow() + timedelta(days=1))
    with org.action("Deassign") as s:
        with pytest.raises(ConflictError):
            rbac.deassign_user(s, "alice", "Sales", expected_version=1)
        rbac.deassign_user(s, "alice", "Staff", expected_version=1)
        with pytest.raises(NotFoundError, match="alice is not assigned to Staff"):
            rbac.deassign_user(s, "alice", "Staff")
    with org.read() as s:
        assert [a.role for a in rbac.assigned_roles(s, "alice")] == ["Sales"]
        assert rbac.assigned_users(s, "Staff") == []


def test_assigned_roles_include_expired_ones(org: Database) -> None:
    with org.action("setup") as s:
        rbac.assign_user(s, "alice", "Staff", expires_at=utcnow() - timedelta(days=1))
        rbac.assign_user(s, "alice", "Sales")
    with org.read() as s:
        rows = rbac.assigned_roles(s, "alice")
        assert [(a.role, a.expired(utcnow())) for a in rows] == [("Sales", False), ("Staff", True)]
        assert [r.name for r in rbac.authorized_roles(s, "alice")] == ["Sales"]


def test_grant_and_revoke_permission(org: Database) -> None:
    with org.action("Grant") as s:
        rbac.grant_permission(s, "Staff", ("door", "OPEN"))
        with pytest.raises(DuplicateError) as info:
            rbac.grant_permission(s, "Staff", ("Door", "open"))
        assert str(info.value) == "Staff already has Door: open."
    with org.read() as s:
        assert [p.label for p in rbac.role_permissions(s, "Staff")] == ["Door: open"]
        perm_id = rbac.role_permissions(s, "Staff")[0].id
    with org.action("Revoke") as s:
        rbac.revoke_permission(s, "Staff", perm_id)
        with pytest.raises(NotFoundError) as info2:
            rbac.revoke_permission(s, "Staff", ("Door", "open"))
        assert str(info2.value) == "Staff does not have Door: open directly."
    with org.read() as s:
        assert rbac.role_permissions(s, "Staff") == []


def test_revoke_of_an_inherited_permission_is_refused(org: Database) -> None:
    with org.action("setup") as s:
        rbac.add_inheritance(s, "Sales", "Staff")
        rbac.grant_permission(s, "Staff", ("Door", "open"))
    with org.action("Revoke") as s:
        before = snapshot(s)
        with pytest.raises(NotFoundError, match="Sales does not have Door: open directly"):
            rbac.revoke_permission(s, "Sales", ("Door", "open"))
        assert snapshot(s) == before


def test_grant_unknown_permission(org: Database) -> None:
    with org.action("Grant") as s:
        with pytest.raises(NotFoundError, match="The resource Door has no action \u201cfly\u201d"):
            rbac.grant_permission(s, "Staff", ("Door", "fly"))
        with pytest.raises(NotFoundError, match="There is no resource named"):
            rbac.grant_permission(s, "Staff", ("Moon", "open"))
