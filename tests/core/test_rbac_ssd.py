"""Static separation of duty: sets, members, cardinality, and the refusals they cause."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from accessguard_gui.core import rbac
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import (
    DuplicateError,
    NotFoundError,
    SeparationOfDutyError,
    ValidationError,
)
from accessguard_gui.core.models import utcnow
from accessguard_gui.core.rows import SsdViolation

from .reference import snapshot


@pytest.fixture
def org(db: Database) -> Database:
    """Roles Clerk, Approver, Auditor, Manager (inherits from Approver), Trainee;
    alice is a Clerk, bob a Manager."""
    with db.action("setup") as s:
        for role in ("Clerk", "Approver", "Auditor", "Manager", "Trainee"):
            rbac.add_role(s, role)
        rbac.add_inheritance(s, "Manager", "Approver")
        for user in ("alice", "bob", "carol"):
            rbac.add_user(s, user)
        rbac.assign_user(s, "alice", "Clerk")
        rbac.assign_user(s, "bob", "Manager")
    return db


def _payments(db: Database, cardinality: int = 2) -> None:
    with db.action("Create set") as s:
        rbac.create_ssd_set(
            s, "Payments", ["Clerk", "Approver", "Auditor"], cardinality, "Four eyes"
        )


def test_create_and_read_a_set(org: Database) -> None:
    with org.action("Create set") as s:
        row = rbac.create_ssd_set(s, "  Payments ", ["clerk", "Approver", "Clerk"], 2, "Four eyes")
    assert (row.name, row.cardinality, row.description, row.roles, row.version) == (
        "Payments",
        2,
        "Four eyes",
        ("Approver", "Clerk"),
        1,
    )
    with org.read() as s:
        assert [x.name for x in rbac.ssd_role_sets(s)] == ["Payments"]
        assert [r.name for r in rbac.ssd_role_set_roles(s, "payments")] == ["Approver", "Clerk"]
        assert rbac.ssd_role_set_cardinality(s, "Payments") == 2
        assert rbac.ssd_violations(s) == []


def test_create_set_refusals(org: Database) -> None:
    _payments(org)
    with org.action("Create set") as s:
        with pytest.raises(ValidationError, match="at least 2") as info:
            rbac.create_ssd_set(s, "X", ["Clerk", "Auditor"], 1)
        assert info.value.field == "cardinality"
        with pytest.raises(ValidationError) as info:
            rbac.create_ssd_set(s, "X", ["Clerk", "Auditor"], 3)
        assert str(info.value) == (
            "Cardinality 3 is larger than the number of roles in the set (2)."
        )
        with pytest.raises(ValidationError, match="whole number"):
            rbac.create_ssd_set(s, "X", ["Clerk", "Auditor"], "2")  # type: ignore[arg-type]
        with pytest.raises(DuplicateError) as dup:
            rbac.create_ssd_set(s, "PAYMENTS", ["Clerk", "Auditor"], 2)
        assert (
            str(dup.value) == "A separation-of-duty set named \u201cPAYMENTS\u201d already exists."
        )
        with pytest.raises(NotFoundError, match="There is no role named \u201cGhost\u201d"):
            rbac.create_ssd_set(s, "X", ["Clerk", "Ghost"], 2)
        with pytest.raises(ValidationError):
            rbac.create_ssd_set(s, "", ["Clerk", "Auditor"], 2)


def test_create_set_that_a_user_already_breaks_is_refused(org: Database) -> None:
    with org.action("setup") as s:
        rbac.assign_user(s, "alice", "Auditor")
    with org.action("Create set") as s:
        before = snapshot(s)
        with pytest.raises(SeparationOfDutyError) as info:
            rbac.create_ssd_set(s, "Payments", ["Clerk", "Auditor"], 2)
        assert snapshot(s) == before
    err = info.value
    assert (err.ssd_set, err.cardinality, err.violations) == (
        "Payments",
        2,
        {"alice": ("Auditor", "Clerk")},
    )
    assert str(err) == (
        "Separation of duty \u201cPayments\u201d allows fewer than 2 of its roles per user: "
        "alice would hold Auditor, Clerk."
    )
    with org.read() as s:
        assert rbac.ssd_role_sets(s) == []


def test_assign_user_refused_naming_set_user_and_roles(org: Database) -> None:
    _payments(org)
    with org.action("Assign") as s:
        before = snapshot(s)
        with pytest.raises(SeparationOfDutyError) as info:
            rbac.assign_user(s, "alice", "Auditor")
        assert snapshot(s) == before
        # The session is still usable: a permitted assignment goes through.
        rbac.assign_user(s, "alice", "Trainee")
    assert info.value.violations == {"alice": ("Auditor", "Clerk")}
    assert "Payments" in str(info.value) and "alice would hold Auditor, Clerk" in str(info.value)
    with org.read() as s:
        assert [a.role for a in rbac.assigned_roles(s, "alice")] == ["Clerk", "Trainee"]


def test_assign_user_refused_through_inheritance(org: Database) -> None:
    """bob holds Approver only through Manager; Clerk would make two roles of the set."""
    _payments(org)
    with org.action("Assign") as s, pytest.raises(SeparationOfDutyError) as info:
        rbac.assign_user(s, "bob", "Clerk")
    assert info.value.violations == {"bob": ("Approver", "Clerk")}


def test_expired_assignments_still_count(org: Database) -> None:
    """Extending an expiry later must not be a way around a set."""
    _payments(org)
    with org.action("Assign") as s:
        rbac.set_assignment_expiry(s, "alice", "Clerk", utcnow() - timedelta(days=1))
    with org.action("Assign") as s, pytest.raises(SeparationOfDutyError):
        rbac.assign_user(s, "alice", "Approver")


def test_add_inheritance_refused_naming_set_users_and_roles(org: Database) -> None:
    _payments(org)
    with org.action("Inherit") as s:
        before = snapshot(s)
        with pytest.raises(SeparationOfDutyError) as info:
            rbac.add_inheritance(s, "Clerk", "Auditor")
        assert snapshot(s) == before
        # A role nobody holds may inherit freely; a role that adds no set role too.
        rbac.add_inheritance(s, "Trainee", "Auditor")
    assert info.value.ssd_set == "Payments"
    assert info.value.violations == {"alice": ("Auditor", "Clerk")}
    with org.action("Inherit") as s, pytest.raises(SeparationOfDutyError) as info2:
        rbac.add_inheritance(s, "Manager", "Clerk")
    assert info2.value.violations == {"bob": ("Approver", "Clerk")}


def test_add_inheritance_refused_for_users_of_senior_roles(org: Database) -> None:
    """bob is a Manager (senior of Approver): Approver inheriting Auditor breaks it for bob."""
    _payments(org)
    with org.action("Inherit") as s, pytest.raises(SeparationOfDutyError) as info:
        rbac.add_inheritance(s, "Approver", "Auditor")
    assert info.value.violations == {"bob": ("Approver", "Auditor")}


def test_message_lists_three_users_and_counts_the_rest(db: Database) -> None:
    with db.action("setup") as s:
        rbac.add_role(s, "A")
        rbac.add_role(s, "B")
        rbac.add_role(s, "AB")
        for i in range(5):
            rbac.add_user(s, f"user{i}")
            rbac.assign_user(s, f"user{i}", "AB")
        rbac.create_ssd_set(s, "Split", ["A", "B"], 2)
        rbac.add_inheritance(s, "AB", "A")
    with db.action("Inherit") as s, pytest.raises(SeparationOfDutyError) as info:
        rbac.add_inheritance(s, "AB", "B")
    assert len(info.value.violations) == 5
    assert str(info.value).endswith("user2 would hold A, B (and 2 more users).")


def test_add_and_delete_role_members(org: Database) -> None:
    _payments(org, cardinality=3)  # three roles, at most two per user
    with org.action("Add member") as s:
        row = rbac.add_ssd_role_member(s, "Payments", "Trainee")
        assert row.roles == ("Approver", "Auditor", "Clerk", "Trainee")
        with pytest.raises(DuplicateError, match="Trainee is already in the set Payments"):
            rbac.add_ssd_role_member(s, "Payments", "trainee")
    with org.action("Delete member") as s:
        row = rbac.delete_ssd_role_member(s, "Payments", "Trainee")
        assert row.roles == ("Approver", "Auditor", "Clerk")
        with pytest.raises(NotFoundError, match="Trainee is not in the set Payments"):
            rbac.delete_ssd_role_member(s, "Payments", "Trainee")
        with pytest.raises(ValidationError) as info:
            rbac.delete_ssd_role_member(s, "Payments", "Auditor")
        assert str(info.value) == (
            "The set Payments needs at least 3 roles; lower its cardinality first."
        )
    with org.read() as s:
        assert [r.name for r in rbac.ssd_role_set_roles(s, "Payments")] == [
            "Approver",
            "Auditor",
            "Clerk",
        ]


def test_a_two_role_set_cannot_lose_a_role_and_says_what_to_do(org: Database) -> None:
    with org.action("setup") as s:
        rbac.create_ssd_set(s, "Pair", ["Clerk", "Auditor"], 2)
    with org.action("Delete member") as s, pytest.raises(ValidationError) as info:
        rbac.delete_ssd_role_member(s, "Pair", "Clerk")
    assert str(info.value) == "The set Pair needs at least 2 roles; delete the set instead."
    assert info.value.field == "roles"


def test_add_role_member_refused_when_it_breaks_the_set(org: Database) -> None:
    with org.action("setup") as s:
        rbac.create_ssd_set(s, "Payments", ["Clerk", "Auditor"], 2)
    with org.action("Add member") as s:
        rbac.assign_user(s, "alice", "Trainee")
        before = snapshot(s)
        with pytest.raises(SeparationOfDutyError) as info:
            rbac.add_ssd_role_member(s, "Payments", "Trainee")
        assert snapshot(s) == before
    assert info.value.violations == {"alice": ("Clerk", "Trainee")}
    with org.read() as s:
        assert rbac.ssd_role_sets(s)[0].roles == ("Auditor", "Clerk")
        assert [a.role for a in rbac.assigned_roles(s, "alice")] == ["Clerk", "Trainee"]


def test_set_cardinality(org: Database) -> None:
    _payments(org, cardinality=3)
    with org.action("setup") as s:
        rbac.assign_user(s, "carol", "Clerk")
        rbac.assign_user(s, "carol", "Approver")  # two of three: allowed with n=3
    with org.action("Tighten") as s:
        with pytest.raises(SeparationOfDutyError) as info:
            rbac.set_ssd_set_cardinality(s, "Payments", 2)
        assert info.value.violations == {"carol": ("Approver", "Clerk")}
        with pytest.raises(ValidationError, match="larger than the number of roles in the set"):
            rbac.set_ssd_set_cardinality(s, "Payments", 4)
        with pytest.raises(ValidationError):
            rbac.set_ssd_set_cardinality(s, "Payments", 1)
    with org.read() as s:
        assert rbac.ssd_role_set_cardinality(s, "Payments") == 3
    with org.action("Loosen") as s:
        rbac.deassign_user(s, "carol", "Approver")
        row = rbac.set_ssd_set_cardinality(s, "Payments", 2)
    assert row.cardinality == 2 and row.version == 2


def test_delete_set_lifts_its_constraint(org: Database) -> None:
    _payments(org)
    with org.action("Delete set") as s:
        rbac.delete_ssd_set(s, "payments")
        with pytest.raises(NotFoundError, match="no separation-of-duty set named"):
            rbac.delete_ssd_set(s, "Payments")
    with org.action("Assign") as s:
        rbac.assign_user(s, "alice", "Auditor")
    with org.read() as s:
        assert rbac.ssd_role_sets(s) == []


def test_ssd_violations_report_existing_breaches(org: Database) -> None:
    """A file edited by another tool may already break a set: the report finds it."""
    _payments(org)
    with org.action("Raw import") as s:
        alice = rbac.get_user(s, "alice").id
        auditor = rbac.get_role(s, "Auditor").id
        s.execute(
            text(
                "INSERT INTO user_roles (user_id, role_id, granted_at, granted_by, version) "
                "VALUES (:u, :r, '2026-01-01 00:00:00', 'import', 1)"
            ),
            {"u": alice, "r": auditor},
        )
    with org.read() as s:
        assert rbac.ssd_violations(s) == [
            SsdViolation("Payments", 2, "alice", ("Auditor", "Clerk"))
        ]
        assert rbac.ssd_violations(s, sets=[]) == []


def _raw_assign(s: object, user: str, role: str) -> None:
    """An assignment made behind the rules' back (an import by another tool)."""
    s.execute(  # type: ignore[attr-defined]
        text(
            "INSERT INTO user_roles (user_id, role_id, granted_at, granted_by, version) "
            "VALUES (:u, :r, '2026-01-01 00:00:00', 'import', 1)"
        ),
        {"u": rbac.get_user(s, user).id, "r": rbac.get_role(s, role).id},  # type: ignore[arg-type]
    )


def test_an_existing_breach_does_not_block_unrelated_changes(org: Database) -> None:
    """alice already breaks Payments (imported data). Changes that add no role of that set
    to anyone go through; changes that add one of its roles are still refused."""
    _payments(org, cardinality=2)
    with org.action("Raw import") as s:
        _raw_assign(s, "alice", "Auditor")
    with org.action("Unrelated") as s:
        rbac.assign_user(s, "alice", "Trainee")
        rbac.add_role(s, "Canteen")
        rbac.add_inheritance(s, "Clerk", "Canteen")
    with org.action("Related") as s:
        with pytest.raises(SeparationOfDutyError) as info:
            rbac.assign_user(s, "alice", "Approver")
        assert info.value.violations == {"alice": ("Approver", "Auditor", "Clerk")}
        with pytest.raises(SeparationOfDutyError):
            rbac.add_inheritance(s, "Trainee", "Approver")
    with org.read() as s:
        assert [a.role for a in rbac.assigned_roles(s, "alice")] == ["Auditor", "Clerk", "Trainee"]
        assert [(v.username, v.roles) for v in rbac.ssd_violations(s)] == [
            ("alice", ("Auditor", "Clerk"))
        ]


def test_message_counts_users_beyond_those_listed(db: Database) -> None:
    """The error lists a few users; the count of the others must not be understated."""
    with db.action("setup") as s:
        rbac.add_role(s, "A")
        rbac.add_role(s, "B")
        rbac.add_role(s, "AB")
        for i in range(30):
            rbac.add_user(s, f"user{i:02d}")
            rbac.assign_user(s, f"user{i:02d}", "AB")
        rbac.create_ssd_set(s, "Split", ["A", "B"], 2)
        rbac.add_inheritance(s, "AB", "A")
    with db.action("Inherit") as s, pytest.raises(SeparationOfDutyError) as info:
        rbac.add_inheritance(s, "AB", "B")
    assert not str(info.value).endswith("(and 17 more users).")
    assert str(info.value).endswith("user02 would hold A, B (and at least 18 more users).")
    assert info.value.complete is False
    assert len(info.value.violations) == 20
