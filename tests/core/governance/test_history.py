"""Access at a past date from the audit trail: examples, the period diff with its causes,
the uncovered file, and a property test against live answers recorded as edits happen."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

import pytest

from accessguard_gui.core import rbac
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import AccessGuardError, HistoryNotCoveredError, NotFoundError
from accessguard_gui.core.governance import history
from accessguard_gui.core.models import utcnow
from accessguard_gui.core.rows import DenyReason


def _tick() -> datetime:
    """A moment strictly between two actions' audit entries."""
    time.sleep(0.002)
    moment = utcnow()
    time.sleep(0.002)
    return moment


@pytest.fixture
def office(db: Database) -> Database:
    with db.action("Seed") as s:
        rbac.add_user(s, "alice")
        rbac.add_user(s, "bob")
        for role in ("Clerk", "Payroll", "Approver"):
            rbac.add_role(s, role)
        rbac.add_resource(s, "Payroll")
        rbac.add_permission(s, "Payroll", "approve")
        rbac.add_permission(s, "Payroll", "read")
        rbac.grant_permission(s, "Approver", ("Payroll", "approve"))
        rbac.grant_permission(s, "Clerk", ("Payroll", "read"))
        rbac.add_inheritance(s, "Payroll", "Approver")
        rbac.assign_user(s, "alice", "Payroll")
    return db


def test_access_then_with_the_paths_of_then(office: Database) -> None:
    then = _tick()
    with office.action("Reorganise") as s:
        rbac.delete_inheritance(s, "Payroll", "Approver")
        rbac.update_role(s, "Payroll", name="Payroll Team")
        rbac.update_user(s, "alice", username="alicia")
    with office.read() as s:
        assert not rbac.check_access(s, "alicia", "Payroll", "approve").allowed
        past = history.access_at(s, "alicia", "Payroll", "approve", then)
        by_old_name = history.access_at(s, "alice", "Payroll", "approve", then)
    assert past.decision.allowed
    assert past.decision.paths[0].roles == ("Payroll", "Approver")
    assert past.username_then == "alice"
    assert "alice \u2192 Payroll \u2192 Approver \u2192 Payroll: approve" in past.explanation()
    assert by_old_name.decision.allowed


def test_expired_and_inactive_then(office: Database) -> None:
    soon = utcnow() + timedelta(milliseconds=50)
    with office.action("Expire") as s:
        rbac.set_assignment_expiry(s, "alice", "Payroll", soon)
    before_expiry = _tick()
    time.sleep(0.06)
    after_expiry = _tick()
    with office.action("Deactivate") as s:
        rbac.update_user(s, "bob", active=False)
        rbac.assign_user(s, "bob", "Approver")
    inactive = _tick()
    with office.read() as s:
        assert history.access_at(s, "alice", "Payroll", "approve", before_expiry).decision.allowed
        expired = history.access_at(s, "alice", "Payroll", "approve", after_expiry).decision
        assert expired.reason is DenyReason.EXPIRED_ASSIGNMENT
        bob = history.access_at(s, "bob", "Payroll", "approve", inactive).decision
        assert bob.reason is DenyReason.INACTIVE_USER


def test_a_deleted_user_and_a_user_who_did_not_exist_yet(office: Database) -> None:
    then = _tick()
    with office.action("Leave and join") as s:
        rbac.delete_user(s, "alice")
        rbac.add_user(s, "carol")
        rbac.assign_user(s, "carol", "Approver")
    with office.read() as s:
        assert history.access_at(s, "alice", "Payroll", "approve", then).decision.allowed
        carol = history.access_at(s, "carol", "Payroll", "approve", then).decision
        assert carol.reason is DenyReason.UNKNOWN_USER
        with pytest.raises(NotFoundError):
            history.access_at(s, "nobody", "Payroll", "approve", then)


def test_a_date_before_the_trail_says_so(office: Database) -> None:
    with office.read() as s, pytest.raises(HistoryNotCoveredError) as refused:
        history.access_at(s, "alice", "Payroll", "approve", datetime(2020, 3, 14, 10, tzinfo=UTC))
    assert "audit trail starts on" in refused.value.message
    assert "2020-03-14 10:00" in refused.value.message


def test_changes_between_two_dates_name_their_entries(office: Database) -> None:
    start = _tick()
    with office.action("Give read") as s:
        rbac.assign_user(s, "alice", "Clerk")
    with office.action("Take approve") as s:
        rbac.revoke_permission(s, "Approver", ("Payroll", "approve"))
    with office.action("Unrelated") as s:
        rbac.assign_user(s, "bob", "Clerk")
    end = _tick()
    with office.action("After the period") as s:
        rbac.deassign_user(s, "alice", "Clerk")
    with office.read() as s:
        diff = history.changes_between(s, "alice", start, end)
    assert [(c.permission, c.gained) for c in diff.changes] == [
        ("Payroll: approve", False),
        ("Payroll: read", True),
    ]
    lost, gained = diff.changes
    assert [(e.action, e.record_key) for e in lost.entries] == [
        ("Take approve", "Approver \u2192 Payroll: approve")
    ]
    assert [(e.action, e.record_key) for e in gained.entries] == [("Give read", "alice \u2192 Clerk")]


# ---------------------------------------------------------------------- property test

USERS = ("ann", "ben", "cy")
ROLES = ("R0", "R1", "R2", "R3", "R4")
ACTIONS = ("read", "write", "sign")


def _random_edit(s: object, rng: random.Random, moment: datetime) -> None:
    user, role, other = rng.choice(USERS), rng.choice(ROLES), rng.choice(ROLES)
    action = rng.choice(ACTIONS)
    expiry = rng.choice([None, None, moment - timedelta(days=1), moment + timedelta(seconds=rng.choice([0.05, 3600]))])
    op = rng.randrange(9)
    if op == 0:
        rbac.assign_user(s, user, role, expires_at=expiry)  # type: ignore[arg-type]
    elif op == 1:
        rbac.deassign_user(s, user, role)  # type: ignore[arg-type]
    elif op == 2:
        rbac.set_assignment_expiry(s, user, role, expiry)  # type: ignore[arg-type]
    elif op == 3:
        rbac.grant_permission(s, role, ("Doc", action))  # type: ignore[arg-type]
    elif op == 4:
        rbac.revoke_permission(s, role, ("Doc", action))  # type: ignore[arg-type]
    elif op == 5:
        rbac.add_inheritance(s, role, other)  # type: ignore[arg-type]
    elif op == 6:
        rbac.delete_inheritance(s, role, other)  # type: ignore[arg-type]
    elif op == 7:
        current = rbac.get_user(s, user)  # type: ignore[arg-type]
        rbac.update_user(s, user, active=not current.active)  # type: ignore[arg-type]
    else:  # a role deleted and re-created: same name, new id, no grants
        rbac.delete_role(s, role)  # type: ignore[arg-type]
        rbac.add_role(s, role)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_past_matches_what_was_answered_live(db: Database, seed: int) -> None:
    rng = random.Random(seed)
    with db.action("Seed") as s:
        for u in USERS:
            rbac.add_user(s, u)
        for r in ROLES:
            rbac.add_role(s, r)
        rbac.add_resource(s, "Doc")
        for a in ACTIONS:
            rbac.add_permission(s, "Doc", a)
    recorded: list[tuple[datetime, str, str, bool, frozenset[str]]] = []
    for _ in range(60):
        try:
            with db.action("Random edit") as s:
                _random_edit(s, rng, utcnow())
        except AccessGuardError:
            pass  # refused (duplicate, cycle, not assigned...): nothing was written
        moment = _tick()
        with db.read() as s:
            for u in USERS:
                perms = frozenset(p.label for p in rbac.user_permissions(s, u, now=moment))
                for a in ACTIONS:
                    allowed = rbac.check_access(s, u, "Doc", a, now=moment).allowed
                    recorded.append((moment, u, a, allowed, perms))
        if rng.random() < 0.1:
            time.sleep(0.06)  # let the short expiries lapse between some answers
    assert {r[3] for r in recorded} == {True, False}  # both answers were exercised
    with db.read() as s:
        for moment, u, a, allowed, _ in recorded:
            past = history.access_at(s, u, "Doc", a, moment)
            assert past.decision.allowed == allowed, (moment, u, a, past.explanation())
        # The diff between consecutive moments reproduces the permission sets.
        first, last = recorded[0], recorded[-1]
        for u in USERS:
            diff = history.changes_between(s, u, first[0], last[0])
            start = next(r[4] for r in recorded if r[0] == first[0] and r[1] == u)
            end = next(r[4] for r in recorded if r[0] == last[0] and r[1] == u)
            assert {c.permission for c in diff.gains} == set(end - start)
            assert {c.permission for c in diff.losses} == set(start - end)
