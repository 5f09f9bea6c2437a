"""A role for every user a view shows, as one pending edit applied set-based (issue 11)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from accessguard_gui.core import audit, impact, integrity, rbac
from accessguard_gui.core.bulk_roles import BulkRoleChange, UserMatch, matching_count
from accessguard_gui.core.changes import (
    Assign,
    Deassign,
    Edit,
    EditFailed,
    Entity,
    Update,
    apply_edits,
)
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import NotFoundError, SeparationOfDutyError
from accessguard_gui.core.models import UserRole

from .reference import snapshot

SALES = ("sara", "sam", "sally", "samir")  # "sa" matches these four
OTHERS = ("bob", "carl")


@pytest.fixture
def org(db: Database) -> Database:
    with db.action("setup") as s:
        for name in SALES + OTHERS:
            rbac.add_user(s, name, name.title(), active=name != "sally")
        for role in ("Sales", "Staff", "Cashier", "Auditor"):
            rbac.add_role(s, role)
        rbac.add_resource(s, "Ledger")
        for action in ("read", "write"):
            rbac.add_permission(s, "Ledger", action)
        rbac.grant_permission(s, "Staff", ("Ledger", "read"))
        rbac.grant_permission(s, "Sales", ("Ledger", "write"))
        rbac.add_inheritance(s, "Sales", "Staff")  # Sales brings write and (via Staff) read
        rbac.assign_user(s, "sam", "Sales")  # already holds it: skipped
        rbac.assign_user(s, "samir", "Staff")  # holds read already
    return db


def _holders(db: Database, role: str) -> set[str]:
    with db.read() as s:
        return {u.username for u in rbac.assigned_users(s, role)}


def _save(db: Database, edits: list[Edit]) -> None:
    with db.action("Save 1 change") as s:
        apply_edits(s, edits, savepoint=False)


def _trail(db: Database) -> list[audit.AuditRow]:
    with db.read() as s:
        return sorted(
            (e for e in audit.audit_entries(s, limit=1000) if e.action.startswith("Save")),
            key=lambda e: e.id,
        )


def test_the_edit_says_what_it_does() -> None:
    edit = BulkRoleChange("Sales", UserMatch("sa", (("active", True),)), 812_345)
    assert edit.describe() == (
        "Assign role Sales to all 812,345 users matching \u201csa\u201d with active yes"
    )
    until = datetime(2031, 1, 31, tzinfo=UTC)
    assert BulkRoleChange("Sales", UserMatch(), 1, expires_at=until).describe() == (
        "Assign role Sales to all 1 user until 2031-01-31"
    )
    assert BulkRoleChange("Sales", UserMatch("x"), 2, remove=True).describe() == (
        "Remove role Sales from all 2 users matching \u201cx\u201d"
    )


def test_assigning_to_all_matching_skips_those_who_hold_it_and_audits_each(
    org: Database,
) -> None:
    match = UserMatch("sa")
    with org.read() as s:
        assert matching_count(s, match) == 4
    _save(org, [BulkRoleChange("Sales", match, 4)])
    assert _holders(org, "Sales") == set(SALES)
    assert integrity.verify_audit_chain(org).intact  # chained like every other entry
    entries = _trail(org)
    assert [e.record_key for e in entries] == [  # in user id order
        f"{u} \u2192 Sales" for u in SALES if u != "sam"
    ]
    assert {e.operation for e in entries} == {"insert"}
    after = entries[0].after
    assert after is not None
    assert set(after) == {"expires_at", "granted_at", "granted_by", "role_id", "user_id"}
    assert after["granted_by"] == "tester" and after["expires_at"] is None
    # The same shape as the entry an Assign edit writes through the ORM.
    _save(org, [Assign("bob", "Auditor")])
    orm = _trail(org)[-1].after
    assert orm is not None and set(orm) == set(after)


def test_removing_from_all_matching_a_filter(org: Database) -> None:
    _save(org, [BulkRoleChange("Sales", UserMatch("sa"), 4)])
    inactive = UserMatch("", (("active", False),))
    _save(org, [BulkRoleChange("Sales", inactive, 1, remove=True)])
    assert _holders(org, "Sales") == set(SALES) - {"sally"}
    last = _trail(org)[-1]
    assert (last.operation, last.record_key, last.after) == ("delete", "sally \u2192 Sales", None)


def test_a_separation_of_duty_breach_refuses_the_whole_change(org: Database) -> None:
    with org.action("sod") as s:
        rbac.create_ssd_set(s, "Till", ["Sales", "Cashier"], 2)
        rbac.assign_user(s, "sara", "Cashier")
    with org.read() as s:
        before = snapshot(s)
    with pytest.raises(EditFailed) as failed:
        _save(org, [BulkRoleChange("Sales", UserMatch("sa"), 4)])
    assert isinstance(failed.value.cause, SeparationOfDutyError)
    assert "sara" in failed.value.cause.message
    with org.read() as s:
        assert snapshot(s) == before


def test_an_unknown_role_is_refused(org: Database) -> None:
    with pytest.raises(EditFailed) as failed:
        _save(org, [BulkRoleChange("Nobody", UserMatch("sa"), 4)])
    assert isinstance(failed.value.cause, NotFoundError)


def test_the_trail_keeps_the_order_of_the_edits(org: Database) -> None:
    with org.read() as s:
        bob = rbac.get_user(s, "bob")
        bob_id, bob_version = bob.id, bob.version
    edits: list[Edit] = [
        Update(Entity.USER, bob_id, bob_version, {"display_name": "Robert"}, "bob"),
        BulkRoleChange("Sales", UserMatch("sa"), 4),
        Deassign("samir", "Staff"),
    ]
    _save(org, edits)
    keys = [e.record_key for e in _trail(org)]
    assert keys[0] == "bob" and keys[-1] == "samir \u2192 Staff"
    assert len(keys) == 5


def test_review_summarises_per_permission(org: Database) -> None:
    report = impact.review(org, [BulkRoleChange("Sales", UserMatch("sa"), 4)])
    assert report.ok
    (step,) = report.per_edit
    assert step.bulk is not None and step.users_checked == 3  # sam holds it already
    counts = {(p.permission, p.gained): p.users for p in step.bulk.permissions}
    # sally is inactive: she gains nothing; samir holds read through Staff already.
    assert counts == {("Ledger: read", True): 1, ("Ledger: write", True): 2}
    assert (step.gained_count, step.lost_count) == (3, 0)
    assert not step.truncated


def test_review_names_a_refusal(org: Database) -> None:
    with org.action("sod") as s:
        rbac.create_ssd_set(s, "Till", ["Sales", "Cashier"], 2)
        rbac.assign_user(s, "sara", "Cashier")
    report = impact.review(org, [BulkRoleChange("Sales", UserMatch("sa"), 4)])
    assert not report.ok and report.failed_index == 0
    assert report.error is not None and "sara" in report.error


def test_nothing_to_change_writes_nothing(org: Database) -> None:
    _save(org, [BulkRoleChange("Auditor", UserMatch("nobody-matches"), 0)])
    assert _trail(org) == []
    with org.read() as s:
        assert (
            s.query(UserRole).filter(UserRole.role_id == rbac.get_role(s, "Auditor").id).count()
            == 0
        )


def test_review_of_a_removal_counts_who_keeps_a_permission_through_another_role(
    org: Database,
) -> None:
    _save(org, [BulkRoleChange("Sales", UserMatch("sa"), 4)])
    report = impact.review(org, [BulkRoleChange("Sales", UserMatch("sa"), 4, remove=True)])
    (step,) = report.per_edit
    assert step.bulk is not None and step.users_checked == 4
    counts = {(p.permission, p.gained): p.users for p in step.bulk.permissions}
    # sally is inactive (holds nothing); samir keeps read through Staff.
    assert counts == {("Ledger: read", False): 2, ("Ledger: write", False): 3}
    assert (step.gained_count, step.lost_count) == (0, 5)


def test_review_of_an_assignment_already_expired_gains_nothing(org: Database) -> None:
    past = datetime(2020, 1, 1, tzinfo=UTC)
    report = impact.review(org, [BulkRoleChange("Sales", UserMatch("sa"), 4, expires_at=past)])
    (step,) = report.per_edit
    assert step.bulk is not None and step.users_checked == 3
    assert step.bulk.permissions == ()
