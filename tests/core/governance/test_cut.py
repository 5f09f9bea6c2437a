"""The revoking cut: minimum cuts are minimum, each denies the access, side effects named."""

from __future__ import annotations

import itertools
import random

import pytest

from accessguard_gui.core import changes, rbac
from accessguard_gui.core.database import Database
from accessguard_gui.core.governance import cut
from accessguard_gui.core.governance.cut import SINK, SOURCE, Step


@pytest.fixture
def diamond(db: Database) -> Database:
    """alice → Payroll → {Clerk, Approver} → Base (holds approve); Approver also holds it."""
    with db.action("Seed") as s:
        rbac.add_user(s, "alice")
        rbac.add_user(s, "bob")
        for role in ("Payroll", "Clerk", "Approver", "Base"):
            rbac.add_role(s, role)
        rbac.add_resource(s, "Payroll")
        rbac.add_permission(s, "Payroll", "approve")
        rbac.add_permission(s, "Payroll", "read")
        rbac.add_inheritance(s, "Payroll", "Clerk")
        rbac.add_inheritance(s, "Payroll", "Approver")
        rbac.add_inheritance(s, "Clerk", "Base")
        rbac.add_inheritance(s, "Approver", "Base")
        rbac.grant_permission(s, "Base", ("Payroll", "approve"))
        rbac.grant_permission(s, "Base", ("Payroll", "read"))
        rbac.grant_permission(s, "Approver", ("Payroll", "approve"))
        rbac.assign_user(s, "alice", "Payroll")
        rbac.assign_user(s, "bob", "Clerk")
    return db


def _texts(answer: cut.CutAnswer) -> list[list[str]]:
    return [[s.describe() for s in c.steps] for c in answer.cuts]


def test_the_cuts_of_a_diamond(diamond: Database) -> None:
    with diamond.read() as s:
        answer = cut.revoking_cuts(s, "alice", "Payroll", "approve")
    assert answer.allowed and answer.size == 1
    found = _texts(answer)
    assert ["Remove alice from Payroll"] in found
    assert all(len(c) == 1 for c in found)
    # Every cut denies the access once applied (and only then).
    for option in answer.cuts:
        with diamond.preview() as s:
            changes.apply_edits(s, option.edits)
            assert not rbac.check_access(s, "alice", "Payroll", "approve").allowed


def test_side_effects_name_who_else_loses_what(diamond: Database) -> None:
    with diamond.read() as s:
        answer = cut.revoking_cuts(s, "alice", "Payroll", "approve", limit=10)
    reviewed = {tuple(x.describe() for x in c.steps): cut.review_cut(diamond, [], answer, c) for c in answer.cuts}
    alone = reviewed[("Remove alice from Payroll",)]
    assert alone.error is None
    assert alone.losses == (("alice", "Payroll: read"),)  # collateral: alice's read goes too
    assert alone.others_losing == 1


def test_two_disjoint_paths_need_two_removals(db: Database) -> None:
    with db.action("Seed") as s:
        rbac.add_user(s, "carol")
        for role in ("A", "B"):
            rbac.add_role(s, role)
        rbac.add_resource(s, "Vault")
        rbac.add_permission(s, "Vault", "open")
        for role in ("A", "B"):
            rbac.grant_permission(s, role, ("Vault", "open"))
            rbac.assign_user(s, "carol", role)
    with db.read() as s:
        answer = cut.revoking_cuts(s, "carol", "Vault", "open", limit=10)
    assert answer.size == 2
    assert sorted(sorted(c) for c in _texts(answer)) == [
        ["Remove carol from A", "Remove carol from B"],
        ["Remove carol from A", "Revoke Vault: open from B"],
        ["Remove carol from B", "Revoke Vault: open from A"],
        ["Revoke Vault: open from A", "Revoke Vault: open from B"],
    ]


def test_a_denied_access_has_nothing_to_cut(diamond: Database) -> None:
    with diamond.action("Deactivate") as s:
        rbac.update_user(s, "bob", active=False)
    with diamond.read() as s:
        inactive = cut.revoking_cuts(s, "bob", "Payroll", "approve")
        unknown = cut.revoking_cuts(s, "alice", "Payroll", "shred")
    assert not inactive.allowed and inactive.cuts == ()
    assert not unknown.allowed and unknown.cuts == ()


def _brute_force_size(edges: list[tuple[int, int, Step]]) -> int:
    def connected(kept: list[tuple[int, int, Step]]) -> bool:
        reach, todo = {SOURCE}, [SOURCE]
        while todo:
            n = todo.pop()
            for a, b, _ in kept:
                if a == n and b not in reach:
                    reach.add(b)
                    todo.append(b)
        return SINK in reach

    for k in range(len(edges) + 1):
        for removed in itertools.combinations(range(len(edges)), k):
            if not connected([e for i, e in enumerate(edges) if i not in removed]):
                return k
    return len(edges)


@pytest.mark.parametrize("seed", range(30))
def test_cuts_are_minimum_on_random_graphs(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(2, 6)
    edges: list[tuple[int, int, Step]] = []
    for r in range(n):
        if rng.random() < 0.5:
            edges.append((SOURCE, r, Step("assignment", "u", f"R{r}")))
        if rng.random() < 0.4:
            edges.append((r, SINK, Step("grant", f"R{r}", "P")))
        for j in range(r + 1, n):  # a DAG, as inheritance is
            if rng.random() < 0.35:
                edges.append((r, j, Step("inheritance", f"R{r}", f"R{j}")))
    size = _brute_force_size(edges)
    found = cut.minimum_cuts(edges, limit=20)
    if size == 0:
        assert found == []
        return
    assert found and all(len(c) == size for c in found)
    assert len({frozenset(c) for c in found}) == len(found)
    for c in found:
        kept = [e for e in edges if e[2] not in c]
        assert _brute_force_size(kept) == 0
    # With room for all of them, every minimum cut is found.
    every = {
        frozenset(edges[i][2] for i in removed)
        for removed in itertools.combinations(range(len(edges)), size)
        if _brute_force_size([e for i, e in enumerate(edges) if i not in removed]) == 0
    }
    assert {frozenset(c) for c in cut.minimum_cuts(edges, limit=1000)} == every
