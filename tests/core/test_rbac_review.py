"""Review functions and check_access: every deny reason and the explaining paths."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest

from accessguard_gui.core import rbac
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import NotFoundError
from accessguard_gui.core.models import utcnow
from accessguard_gui.core.rows import AssignmentRow, DenyReason, RoleRow, UserRow

NOW = utcnow()
YESTERDAY = NOW - timedelta(days=1)
NEXT_WEEK = NOW + timedelta(days=7)


@pytest.fixture
def org(db: Database) -> Database:
    """Finance inherits from Staff; Staff opens the Door, Finance approves invoices.

    alice: Finance (no expiry); bob: Staff until yesterday; carol: inactive, Finance;
    dave: Staff until next week; erin: no roles.
    """
    with db.action("setup") as s:
        for name in ("alice", "bob", "carol", "dave", "erin"):
            rbac.add_user(s, name, active=name != "carol")
        rbac.add_role(s, "Staff")
        rbac.add_role(s, "Finance")
        rbac.add_role(s, "Unused")
        rbac.add_inheritance(s, "Finance", "Staff")
        rbac.add_resource(s, "Door")
        rbac.add_resource(s, "Ledger")
        rbac.add_permission(s, "Door", "open")
        rbac.add_permission(s, "Ledger", "approve")
        rbac.add_permission(s, "Ledger", "delete")
        rbac.grant_permission(s, "Staff", ("Door", "open"))
        rbac.grant_permission(s, "Finance", ("Ledger", "approve"))
        rbac.assign_user(s, "alice", "Finance")
        rbac.assign_user(s, "bob", "Staff", expires_at=YESTERDAY)
        rbac.assign_user(s, "carol", "Finance")
        rbac.assign_user(s, "dave", "Staff", expires_at=NEXT_WEEK)
    return db


def _users(rows: Sequence[UserRow | AssignmentRow]) -> list[str]:
    return [r.username for r in rows]


def _names(rows: Sequence[RoleRow]) -> list[str]:
    return [r.name for r in rows]


def test_assigned_users_and_roles_are_direct_only(org: Database) -> None:
    with org.read() as s:
        assert _users(rbac.assigned_users(s, "Staff")) == ["bob", "dave"]
        assert _users(rbac.assigned_users(s, "Finance")) == ["alice", "carol"]
        assert [a.role for a in rbac.assigned_roles(s, "alice")] == ["Finance"]
        assert rbac.assigned_roles(s, "erin") == []
        with pytest.raises(NotFoundError):
            rbac.assigned_users(s, "Nope")
        with pytest.raises(NotFoundError):
            rbac.assigned_roles(s, "nobody")


def test_authorized_roles_follow_inheritance_skip_expired_and_inactive(org: Database) -> None:
    with org.read() as s:
        assert _names(rbac.authorized_roles(s, "alice")) == ["Finance", "Staff"]
        assert rbac.authorized_roles(s, "bob") == []  # expired
        assert rbac.authorized_roles(s, "carol") == []  # inactive
        assert _names(rbac.authorized_roles(s, "dave")) == ["Staff"]
        # A moment after dave's expiry, his role no longer counts; before bob's it did.
        assert rbac.authorized_roles(s, "dave", now=NEXT_WEEK) == []
        assert _names(rbac.authorized_roles(s, "bob", now=YESTERDAY - timedelta(1))) == ["Staff"]


def test_user_permissions(org: Database) -> None:
    with org.read() as s:
        labels = [p.label for p in rbac.user_permissions(s, "alice")]
        assert labels == ["Door: open", "Ledger: approve"]
        assert rbac.user_permissions(s, "bob") == []
        assert rbac.user_permissions(s, "carol") == []
        assert [p.label for p in rbac.user_permissions(s, "dave")] == ["Door: open"]
        assert rbac.user_permissions(s, "dave", now=NEXT_WEEK + timedelta(seconds=1)) == []
        assert rbac.user_permissions(s, "erin") == []


def test_authorized_users(org: Database) -> None:
    with org.read() as s:
        assert _users(rbac.authorized_users(s, "Door", "open")) == ["alice", "dave"]
        assert _users(rbac.authorized_users(s, "Door", "open", limit=1)) == ["alice"]
        assert _users(rbac.authorized_users(s, "ledger", "APPROVE")) == ["alice"]
        assert rbac.authorized_users(s, "Ledger", "delete") == []
        before = YESTERDAY - timedelta(hours=1)
        assert _users(rbac.authorized_users(s, "Door", "open", now=before)) == [
            "alice",
            "bob",
            "dave",
        ]
        with pytest.raises(NotFoundError):
            rbac.authorized_users(s, "Ledger", "burn")


def test_authorized_roles_for_a_permission(org: Database) -> None:
    with org.read() as s:
        assert _names(rbac.authorized_roles_for(s, "Door", "open")) == ["Finance", "Staff"]
        assert _names(rbac.authorized_roles_for(s, "Ledger", "approve")) == ["Finance"]
        assert rbac.authorized_roles_for(s, "Ledger", "delete") == []


def test_check_access_allowed_directly_and_through_inheritance(org: Database) -> None:
    with org.read() as s:
        inherited = rbac.check_access(s, "alice", "Door", "open")
        direct = rbac.check_access(s, " ALICE ", "ledger", "Approve")
    assert inherited.allowed and inherited.reason is None
    assert [p.roles for p in inherited.paths] == [("Finance", "Staff")]
    assert inherited.explanation() == (
        "Allowed: alice may open Door through:\n"
        "  alice \u2192 Finance \u2192 Staff \u2192 Door: open"
    )
    assert (direct.username, direct.resource, direct.action) == ("alice", "Ledger", "approve")
    assert [p.roles for p in direct.granting_paths] == [("Finance",)]
    assert direct.permission == "Ledger: approve"


def test_check_access_unknown_user(org: Database) -> None:
    with org.read() as s:
        decision = rbac.check_access(s, "mallory", "Door", "open")
    assert not decision.allowed
    assert decision.reason is DenyReason.UNKNOWN_USER
    assert decision.explanation() == "Denied: there is no user named \u201cmallory\u201d."


def test_check_access_unknown_resource(org: Database) -> None:
    with org.read() as s:
        decision = rbac.check_access(s, "alice", "Moon", "open")
    assert decision.reason is DenyReason.UNKNOWN_RESOURCE
    assert decision.explanation() == "Denied: there is no resource named \u201cMoon\u201d."


def test_check_access_unknown_action(org: Database) -> None:
    with org.read() as s:
        decision = rbac.check_access(s, "alice", "Door", "Fly")
    assert decision.reason is DenyReason.UNKNOWN_ACTION
    assert decision.explanation() == "Denied: the resource Door has no action \u201cfly\u201d."


def test_check_access_inactive_user_shows_what_would_grant(org: Database) -> None:
    with org.read() as s:
        decision = rbac.check_access(s, "carol", "Door", "open")
    assert not decision.allowed
    assert decision.reason is DenyReason.INACTIVE_USER
    assert decision.explanation() == (
        "Denied: carol is inactive; inactive users are granted nothing.\n"
        "If the user were active, access would come through:\n"
        "  carol \u2192 Finance \u2192 Staff \u2192 Door: open"
    )


def test_check_access_expired_assignment(org: Database) -> None:
    with org.read() as s:
        decision = rbac.check_access(s, "bob", "Door", "open")
        earlier = rbac.check_access(s, "bob", "Door", "open", now=YESTERDAY - timedelta(1))
    assert decision.reason is DenyReason.EXPIRED_ASSIGNMENT
    assert decision.granting_paths == ()
    assert [p.expires_at for p in decision.paths] == [YESTERDAY]
    text = decision.explanation()
    assert text.startswith("Denied: bob had access only through assignments that have expired:")
    assert f"bob \u2192 Staff \u2192 Door: open (expired {YESTERDAY:%Y-%m-%d %H:%M} UTC)" in text
    assert earlier.allowed


def test_check_access_expiry_boundary(org: Database) -> None:
    """An assignment grants strictly before its expiry moment, not at it."""
    with org.read() as s:
        assert rbac.check_access(s, "dave", "Door", "open", now=NEXT_WEEK - timedelta(0, 1)).allowed
        at = rbac.check_access(s, "dave", "Door", "open", now=NEXT_WEEK)
    assert at.reason is DenyReason.EXPIRED_ASSIGNMENT


def test_check_access_no_path(org: Database) -> None:
    with org.read() as s:
        no_roles = rbac.check_access(s, "erin", "Door", "open")
        no_grant = rbac.check_access(s, "alice", "Ledger", "delete")
    assert no_roles.reason is DenyReason.NO_PATH and no_roles.paths == ()
    assert no_grant.reason is DenyReason.NO_PATH
    assert no_grant.explanation() == "Denied: none of alice\u2019s roles grants Ledger: delete."


def test_check_access_by_ids(org: Database) -> None:
    with org.read() as s:
        user_id = rbac.get_user(s, "alice").id
        resource_id = rbac.get_resource(s, "Door").id
        assert rbac.check_access(s, user_id, resource_id, "open").allowed
        assert rbac.check_access(s, 999, resource_id, "open").reason is DenyReason.UNKNOWN_USER


def test_one_live_path_among_many_expired_still_grants(db: Database) -> None:
    """More expired walks than the explanation shows must not hide the one that grants."""
    many = rbac.MAX_EXPLAINED_PATHS + 5
    with db.action("setup") as s:
        rbac.add_user(s, "u")
        rbac.add_resource(s, "Door")
        rbac.add_permission(s, "Door", "open")
        for i in range(many):
            rbac.add_role(s, f"Old{i}")
            rbac.grant_permission(s, f"Old{i}", ("Door", "open"))
            rbac.assign_user(s, "u", f"Old{i}", expires_at=YESTERDAY)
        rbac.add_role(s, "Current")
        rbac.add_inheritance(s, "Current", "Old0")
        rbac.assign_user(s, "u", "Current")
    with db.read() as s:
        decision = rbac.check_access(s, "u", "Door", "open")
        assert [u.username for u in rbac.authorized_users(s, "Door", "open")] == ["u"]
    assert decision.allowed
    assert decision.paths[0].roles == ("Current", "Old0")
    assert len(decision.paths) == rbac.MAX_EXPLAINED_PATHS


def test_decisions_are_plain_values_usable_after_the_session(org: Database) -> None:
    with org.read() as s:
        decision = rbac.check_access(s, "alice", "Door", "open")
        rows = rbac.user_permissions(s, "alice")
    # Frozen snapshots: still readable (and unchangeable) after the session closed.
    assert decision.paths[0].describe("alice", "Door: open").startswith("alice")
    assert rows[0].label == "Door: open"
    with pytest.raises(AttributeError):
        decision.allowed = False  # type: ignore[misc]
