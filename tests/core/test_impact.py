"""Review of pending edits: the access each user gains and loses, without saving."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from accessguard_gui.core import changes, impact, rbac
from accessguard_gui.core.changes import (
    Assign,
    Deassign,
    Delete,
    Entity,
    Grant,
    Inherit,
    Revoke,
    SetExpiry,
    Uninherit,
    Update,
)
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import AccessGuardError, CycleError, SeparationOfDutyError

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def office(db: Database) -> Database:
    """Auditor and Admin inherit from Staff, Staff from Base; Admin also from Operator."""
    with db.action("build") as s:
        for name in ("Base", "Staff", "Operator", "Auditor", "Admin", "Payments", "Approvals"):
            rbac.add_role(s, name)
        for a, b in (
            ("Staff", "Base"),
            ("Operator", "Base"),
            ("Auditor", "Staff"),
            ("Admin", "Staff"),
            ("Admin", "Operator"),
        ):
            rbac.add_inheritance(s, a, b)
        rbac.add_resource(s, "Door")
        rbac.add_resource(s, "Ledger")
        for res, act in (("Door", "open"), ("Ledger", "read"), ("Ledger", "write")):
            rbac.add_permission(s, res, act)
        rbac.grant_permission(s, "Base", ("Door", "open"))
        rbac.grant_permission(s, "Staff", ("Ledger", "read"))
        rbac.grant_permission(s, "Payments", ("Ledger", "write"))
        rbac.add_user(s, "alice")
        rbac.add_user(s, "bob")
        rbac.add_user(s, "carol", active=False)
        rbac.add_user(s, "dave")
        rbac.assign_user(s, "alice", "Admin")
        rbac.assign_user(s, "bob", "Auditor")
        rbac.assign_user(s, "carol", "Staff")
        rbac.assign_user(s, "dave", "Payments", expires_at=NOW - timedelta(days=1))
        rbac.create_ssd_set(s, "Pay and approve", ["Payments", "Approvals"], 2)
    return db


def _changes(
    report: impact.ImpactReport, index: int
) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    edit = report.per_edit[index]
    return (
        {(c.username, c.permission) for c in edit.gains},
        {(c.username, c.permission) for c in edit.losses},
    )


def test_grant_reaches_members_of_inheriting_roles(office: Database) -> None:
    report = impact.review(office, [Grant("Base", ("Ledger", "write"))], now=NOW)
    gains, losses = _changes(report, 0)
    # alice via Admin → Staff → Base, bob via Auditor → Staff → Base; carol is inactive.
    assert gains == {("alice", "Ledger: write"), ("bob", "Ledger: write")}
    assert losses == set()
    assert report.per_edit[0].users_checked == 3


def test_revoke_and_uninherit_lose_access(office: Database) -> None:
    report = impact.review(
        office, [Revoke("Staff", ("Ledger", "read")), Uninherit("Admin", "Operator")], now=NOW
    )
    assert _changes(report, 0) == (set(), {("alice", "Ledger: read"), ("bob", "Ledger: read")})
    # alice still reaches Door: open through Admin → Staff → Base: no loss.
    assert _changes(report, 1) == (set(), set())
    assert report.net_lost == 2


def test_inherit_gain_and_delete_role_loss(office: Database) -> None:
    report = impact.review(
        office,
        [Inherit("Auditor", "Payments"), Delete(Entity.ROLE, _role_id(office, "Staff"), None)],
        now=NOW,
    )
    assert _changes(report, 0) == ({("bob", "Ledger: write")}, set())
    gains, losses = _changes(report, 1)
    assert gains == set()
    assert losses == {("alice", "Ledger: read"), ("bob", "Ledger: read"), ("bob", "Door: open")}
    # Net: bob gains write and loses read and the door; alice loses read only.
    net = {u.username: u for u in report.per_user}
    assert net["bob"].gains == ("Ledger: write",)
    assert set(net["bob"].losses) == {"Door: open", "Ledger: read"}
    assert net["alice"].losses == ("Ledger: read",)


def test_assign_then_remove_nets_to_nothing(office: Database) -> None:
    report = impact.review(office, [Assign("dave", "Staff"), Deassign("dave", "Staff")], now=NOW)
    assert _changes(report, 0)[0] == {("dave", "Door: open"), ("dave", "Ledger: read")}
    assert _changes(report, 1)[1] == {("dave", "Door: open"), ("dave", "Ledger: read")}
    assert report.per_user == ()
    assert report.net_gained == report.net_lost == 0


def test_expiry_and_activation(office: Database) -> None:
    carol = _user_id(office, "carol")
    report = impact.review(
        office,
        [SetExpiry("dave", "Payments", None), Update(Entity.USER, carol, None, {"active": True})],
        now=NOW,
    )
    assert _changes(report, 0) == ({("dave", "Ledger: write")}, set())
    assert _changes(report, 1) == ({("carol", "Door: open"), ("carol", "Ledger: read")}, set())


def test_review_writes_nothing(office: Database) -> None:
    impact.review(office, [Grant("Base", ("Ledger", "write")), Assign("dave", "Staff")], now=NOW)
    with office.read() as s:
        assert [p.label for p in rbac.role_permissions(s, "Base")] == ["Door: open"]
        assert [a.role for a in rbac.assigned_roles(s, "dave")] == ["Payments"]


def test_failing_edit_is_reported_and_stops_the_review(office: Database) -> None:
    report = impact.review(
        office,
        [Assign("dave", "Staff"), Inherit("Base", "Admin"), Grant("Base", ("Ledger", "write"))],
        now=NOW,
    )
    assert not report.ok
    assert report.failed_index == 1
    assert report.error is not None and "Admin \u2192" in report.error
    assert len(report.per_edit) == 1


def test_deleting_a_user_loses_everything(office: Database) -> None:
    report = impact.review(office, [Delete(Entity.USER, _user_id(office, "bob"), None)], now=NOW)
    assert _changes(report, 0)[1] == {
        ("bob", "Door: open"),
        ("bob", "Ledger: read"),
    }


def test_limit_keeps_counts_exact(office: Database) -> None:
    report = impact.review(office, [Grant("Base", ("Ledger", "write"))], now=NOW, limit=1)
    assert len(report.per_edit[0].gains) == 1
    assert report.per_edit[0].gained_count == 2
    assert report.truncated
    assert (report.net_gained, report.users_gaining) == (2, 2)  # counted beyond the list
    assert len(report.per_user) == 1


def test_refusal_names_cycle_and_ssd(office: Database) -> None:
    cycle = impact.refusal(office, [], [Inherit("Base", "Auditor")])
    assert isinstance(cycle, CycleError)
    assert "Base \u2192 Auditor \u2192 Staff \u2192 Base" in cycle.message
    # The pending edit makes the next one break the set.
    pending = [SetExpiry("dave", "Payments", None)]
    ssd = impact.refusal(office, pending, [Assign("dave", "Approvals")])
    assert isinstance(ssd, SeparationOfDutyError)
    assert impact.refusal(office, pending, [Assign("dave", "Staff")]) is None


def test_with_pending_shows_the_pending_state(office: Database) -> None:
    roles, problems = impact.with_pending(
        office,
        [Assign("dave", "Staff"), Assign("dave", "Nope")],
        lambda s: [a.role for a in rbac.assigned_roles(s, "dave")],
    )
    assert roles == ["Payments", "Staff"]
    assert len(problems) == 1 and "Nope" in problems[0]


def test_bulk_role_edits_skip_users_that_need_nothing(office: Database) -> None:
    ids = [_user_id(office, n) for n in ("alice", "bob", "carol")]
    with office.read() as s:
        add = impact.bulk_role_edits(s, ids, "Staff")
        remove = impact.bulk_role_edits(s, ids, "Staff", remove=True)
    assert add == [Assign("alice", "Staff"), Assign("bob", "Staff")]
    assert remove == [Deassign("carol", "Staff")]


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_net_diff_matches_brute_force(db: Database, seed: int) -> None:
    """Random edits on a generated hierarchy (depth 5, diamonds): the net diff equals the
    difference of rbac.user_permissions before and after applying the edits."""
    rng = random.Random(seed)
    layers = [[f"R{d}x{i}" for i in range(4)] for d in range(6)]
    users = [f"u{i}" for i in range(15)]
    perms = [(f"res{r}", act) for r in range(4) for act in ("read", "write")]
    with db.action("gen") as s:
        for name in (n for layer in layers for n in layer):
            rbac.add_role(s, name)
        for d in range(5):
            for name in layers[d]:
                for junior in rng.sample(layers[d + 1], rng.choice((1, 2))):
                    rbac.add_inheritance(s, name, junior)
        for r in range(4):
            rbac.add_resource(s, f"res{r}")
        for perm in perms:
            rbac.add_permission(s, *perm)
            for holder in rng.sample([n for layer in layers for n in layer], 2):
                rbac.grant_permission(s, holder, perm)
        for name in users:
            rbac.add_user(s, name, active=rng.random() > 0.1)
            for role in rng.sample(layers[0] + layers[2], 2):
                rbac.assign_user(s, name, role)
    edits: list[changes.Edit] = []
    with db.preview() as s:
        candidates: list[changes.Edit] = []
        for _ in range(60):
            kind = rng.randrange(9)
            role = rng.choice([n for layer in layers for n in layer])
            if kind == 0:
                candidates.append(Grant(role, rng.choice(perms)))
            elif kind == 1:
                candidates.append(Revoke(role, rng.choice(perms)))
            elif kind == 2:
                d = rng.randrange(5)
                candidates.append(Inherit(rng.choice(layers[d]), rng.choice(layers[d + 1])))
            elif kind == 3:
                candidates.append(Assign(rng.choice(users), role))
            elif kind == 4:
                candidates.append(Deassign(rng.choice(users), role))
            elif kind == 5:
                d = rng.randrange(5)
                candidates.append(Uninherit(rng.choice(layers[d]), rng.choice(layers[d + 1])))
            elif kind == 6:
                expiry = rng.choice((None, NOW - timedelta(days=1)))
                candidates.append(SetExpiry(rng.choice(users), role, expiry))
            elif kind == 7:
                uid = rbac.get_user(s, rng.choice(users)).id
                candidates.append(Update(Entity.USER, uid, None, {"active": rng.random() < 0.5}))
            elif rng.random() < 0.3:
                candidates.append(Delete(Entity.ROLE, rbac.get_role(s, role).id, None))
        for edit in candidates:  # keep only edits that apply, so the whole list saves
            try:
                changes.apply_edit(s, edit)
            except AccessGuardError:
                continue  # refused edits are simply not kept
            edits.append(edit)
            if len(edits) == 20:
                break
    report = impact.review(db, edits, now=NOW)
    assert report.ok
    with db.read() as s:
        before = {u: {p.label for p in rbac.user_permissions(s, u, now=NOW)} for u in users}
    with db.preview() as s:
        changes.apply_edits(s, edits)
        after = {}
        for u in users:
            try:
                after[u] = {p.label for p in rbac.user_permissions(s, u, now=NOW)}
            except AccessGuardError:  # deleted by an edit
                after[u] = set()
    expected = {
        u: (tuple(sorted(after[u] - before[u])), tuple(sorted(before[u] - after[u])))
        for u in users
        if after[u] != before[u]
    }
    assert expected, "the random edits should change someone's access"
    got = {u.username: (tuple(sorted(u.gains)), tuple(sorted(u.losses))) for u in report.per_user}
    assert got == expected


def _role_id(db: Database, name: str) -> int:
    with db.read() as s:
        return rbac.get_role(s, name).id


def _user_id(db: Database, name: str) -> int:
    with db.read() as s:
        return rbac.get_user(s, name).id


def _seen(report: impact.ImpactReport) -> tuple[object, ...]:
    return (
        [
            (e.index, e.description, e.gains, e.losses, e.gained_count, e.lost_count)
            for e in report.per_edit
        ],
        report.per_user,
        (report.net_gained, report.net_lost, report.users_gaining, report.users_losing),
        (report.error, report.failed_index),
    )


@pytest.mark.parametrize("refused", [False, True])
def test_a_run_of_assignments_is_reviewed_as_one_edit_at_a_time_would_be(
    office: Database, monkeypatch: pytest.MonkeyPatch, refused: bool
) -> None:
    """Runs of assignments of distinct users are measured together (a few statements for
    a thousand edits); the report must be the one the edit-at-a-time review gives."""
    with office.action("more") as s:
        for k in range(12):
            rbac.add_user(s, f"u{k:02d}", active=k != 3)
            if k % 4 == 0:
                rbac.assign_user(s, f"u{k:02d}", "Staff")
    edits: list[changes.Edit] = [Grant("Operator", ("Ledger", "write"))]
    edits += [Assign(f"u{k:02d}", ("Admin", "Auditor", "Operator")[k % 3]) for k in range(10)]
    edits += [Deassign("alice", "Admin"), SetExpiry("dave", "Payments", NOW + timedelta(days=9))]
    if refused:  # dave holds Payments: Approvals breaks "Pay and approve"
        edits.insert(6, Assign("dave", "Approvals"))
    edits += [Assign("u10", "Staff"), Revoke("Staff", ("Ledger", "read"))]
    runs: list[tuple[int, int]] = []
    real = impact._review_run

    def spy(session, edits, start, end, now, limit):  # type: ignore[no-untyped-def]
        runs.append((start, end))
        return real(session, edits, start, end, now, limit)

    monkeypatch.setattr(impact, "_review_run", spy)
    together = impact.review(office, edits, now=NOW, limit=5)
    assert runs and runs[0][0] == 1 and runs[0][1] - runs[0][0] >= impact.MIN_RUN
    monkeypatch.setattr(impact, "MIN_RUN", 10**9)
    one_by_one = impact.review(office, edits, now=NOW, limit=5)
    assert _seen(together) == _seen(one_by_one)
    assert (together.failed_index is not None) == refused
    assert any(e.gained_count for e in together.per_edit)
