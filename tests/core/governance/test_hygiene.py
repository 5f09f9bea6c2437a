"""Role hygiene: each finding is found, its fix is a valid edit list that removes it and
changes nobody's access."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from accessguard_gui.core import changes, impact, rbac
from accessguard_gui.core.database import Database
from accessguard_gui.core.governance import hygiene
from accessguard_gui.core.governance.hygiene import Kind

LATER = datetime(2031, 1, 1, tzinfo=UTC)


@pytest.fixture
def messy(db: Database) -> Database:
    with db.action("Seed") as s:
        for name in ("alice", "bob", "carol", "dave", "erin"):
            rbac.add_user(s, name)
        rbac.add_user(s, "gone", active=False)
        for role in ("Base", "Staff", "Manager", "Ghost", "Hollow", "Twin A", "Twin B", "Senior B"):
            rbac.add_role(s, role)
        rbac.add_resource(s, "Ledger")
        for action in ("read", "write", "approve", "archive"):
            rbac.add_permission(s, "Ledger", action)
        rbac.grant_permission(s, "Base", ("Ledger", "read"))
        rbac.grant_permission(s, "Staff", ("Ledger", "write"))
        rbac.grant_permission(s, "Staff", ("Ledger", "read"))  # Staff → Base adds nothing
        rbac.grant_permission(s, "Manager", ("Ledger", "approve"))
        rbac.add_inheritance(s, "Staff", "Base")
        rbac.add_inheritance(s, "Manager", "Staff")
        for twin in ("Twin A", "Twin B"):
            rbac.grant_permission(s, twin, ("Ledger", "read"))
        rbac.add_inheritance(s, "Senior B", "Twin B")
        rbac.grant_permission(s, "Senior B", ("Ledger", "write"))
        rbac.assign_user(s, "alice", "Manager")
        rbac.assign_user(s, "alice", "Staff", expires_at=LATER)  # redundant: Manager never expires
        rbac.assign_user(s, "bob", "Manager", expires_at=LATER)
        rbac.assign_user(s, "bob", "Staff")  # not redundant: Manager expires first
        rbac.assign_user(s, "carol", "Hollow")  # Hollow grants nothing
        rbac.assign_user(s, "dave", "Twin A")
        rbac.assign_user(s, "erin", "Twin B", expires_at=LATER)
        rbac.assign_user(s, "erin", "Senior B")
        rbac.create_ssd_set(s, "Hollow or twin", ["Hollow", "Twin A"], 2)
    with db.action("Shrink the set") as s:
        rbac.delete_role(s, "Ghost")
        rbac.add_role(s, "Ghost")  # unused and granting nothing
    return db


def _subjects(results: list[hygiene.KindResult]) -> dict[Kind, list[str]]:
    return {r.kind: [f.subject for f in r.findings] for r in results}


def test_every_check_finds_its_case(messy: Database) -> None:
    with messy.read() as s:
        results = hygiene.scan(s)
    found = _subjects(results)
    assert found[Kind.UNUSED_ROLE] == ["Ghost"]
    assert found[Kind.ROLE_GRANTS_NOTHING] == ["Ghost", "Hollow"]
    assert found[Kind.PERMISSION_UNGRANTED] == ["Ledger: archive"]
    assert found[Kind.USER_WITHOUT_ROLES] == ["gone"]
    assert found[Kind.REDUNDANT_ASSIGNMENT] == ["alice \u2192 Staff", "erin \u2192 Twin B"]
    # Roles giving nothing are not "identical": that is the check above.
    assert found[Kind.IDENTICAL_ROLES] == ["Twin A = Base", "Twin B = Base", "Staff = Senior B"]
    assert found[Kind.USELESS_INHERITANCE] == ["Staff inherits from Base"]
    assert found[Kind.TOOTHLESS_SOD] == []
    assert all(r.total == len(r.findings) for r in results)


def test_a_set_with_fewer_roles_than_its_limit_is_found(messy: Database) -> None:
    with messy.action("Lose a role") as s:
        rbac.create_ssd_set(s, "Three of a kind", ["Base", "Hollow", "Ghost"], 3)
        rbac.delete_role(s, "Ghost")
    with messy.read() as s:
        (result,) = hygiene.scan(s, [Kind.TOOTHLESS_SOD])
    (finding,) = result.findings
    assert finding.subject == "Three of a kind"
    assert "only 2 roles" in finding.detail


@pytest.mark.parametrize("kind", [k for k in Kind if k is not Kind.TOOTHLESS_SOD])
def test_each_fix_removes_its_finding_and_changes_nobodys_access(messy: Database, kind: Kind) -> None:
    with messy.read() as s:
        (result,) = hygiene.scan(s, [kind])
    edits = [e for f in result.findings for e in f.edits]
    assert edits, kind
    report = impact.review(messy, edits)
    assert report.ok, report.error
    assert (report.net_gained, report.net_lost) == (0, 0), report.per_user
    with messy.action("Fix") as s:
        changes.apply_edits(s, edits)
    with messy.read() as s:
        (after,) = hygiene.scan(s, [kind])
    assert after.total == 0, [f.subject for f in after.findings]


def test_lists_are_limited_and_counts_capped(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    with db.action("Many") as s:
        for n in range(30):
            rbac.add_user(s, f"user{n:02}")
    monkeypatch.setattr(hygiene, "COUNT_CAP", 20)
    with db.read() as s:
        (result,) = hygiene.scan(s, [Kind.USER_WITHOUT_ROLES], limit=5)
    assert [f.subject for f in result.findings] == [f"user{n:02}" for n in range(5)]
    assert (result.total, result.capped, result.total_text) == (20, True, "20+")


def test_expired_cover_does_not_make_an_assignment_redundant(messy: Database) -> None:
    with messy.action("Expire") as s:
        rbac.set_assignment_expiry(s, "alice", "Manager", datetime.now(UTC) - timedelta(days=1))
    with messy.read() as s:
        (result,) = hygiene.scan(s, [Kind.REDUNDANT_ASSIGNMENT])
    assert [f.subject for f in result.findings] == ["erin \u2192 Twin B"]
