"""Role mining: exact covers, the reductions on known cases, random inputs always
reproduced exactly, and a restructure whose review changes nobody's access."""

from __future__ import annotations

import random

import pytest

from accessguard_gui.core import changes, impact, rbac
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import ValidationError
from accessguard_gui.core.governance import mining


def test_a_known_minimum() -> None:
    # Two overlapping job functions and one person holding both: two roles suffice.
    data = {
        "ann": {"a", "b"},
        "ben": {"a", "b"},
        "cy": {"c", "d"},
        "dee": {"a", "b", "c", "d"},
        "eve": set(),
    }
    result = mining.mine(data)
    assert len(result.roles) == 2
    assert {r.permissions for r in result.roles} == {frozenset("ab"), frozenset("cd")}
    assert mining.verify(data, result)
    assert (result.users, result.distinct_users, result.distinct_permissions) == (4, 3, 2)


@pytest.mark.parametrize("seed", range(25))
def test_random_inputs_are_reproduced_exactly(seed: int) -> None:
    rng = random.Random(seed)
    roles = [set(rng.sample(range(30), rng.randint(1, 8))) for _ in range(rng.randint(1, 8))]
    data = {f"u{n}": set().union(*rng.sample(roles, rng.randint(1, min(3, len(roles))))) for n in range(40)}
    data = {u: {f"p{p}" for p in ps} for u, ps in data.items()}
    result = mining.mine(data)
    assert mining.verify(data, result)
    assert len(result.roles) <= len(roles)  # never worse than the roles that made the data


def test_cancel_stops_mining() -> None:
    class Stop(Exception):
        pass

    def check() -> None:
        raise Stop

    with pytest.raises(Stop):
        mining.mine({f"u{n}": {f"p{n % 7}", f"q{n % 5}"} for n in range(600)}, check=check)


def test_restructure_changes_nobodys_access(db: Database) -> None:
    with db.action("Seed") as s:
        for user in ("ann", "ben", "cy", "dee", "off"):
            rbac.add_user(s, user, active=user != "off")
        rbac.add_resource(s, "Ledger")
        for action in ("read", "write", "approve", "audit"):
            rbac.add_permission(s, "Ledger", action)
        for role, perms in {"R1": ["read"], "R2": ["write"], "R3": ["read", "write"], "R4": ["approve", "audit"], "R5": ["audit"]}.items():
            rbac.add_role(s, role)
            for p in perms:
                rbac.grant_permission(s, role, ("Ledger", p))
        for user, roles in {"ann": ["R1", "R2"], "ben": ["R3"], "cy": ["R4", "R5"], "dee": ["R3", "R4"], "off": ["R1"]}.items():
            for role in roles:
                rbac.assign_user(s, user, role)
    with db.read() as s:
        data = mining.effective_assignment(s)
        result = mining.mine(data)
        edits = mining.restructure(s, result)
    assert "off" not in data and len(result.roles) == 2
    report = impact.review(db, edits)
    assert report.ok, report.error
    assert (report.net_gained, report.net_lost) == (0, 0)
    with db.action("Restructure") as s:
        changes.apply_edits(s, edits)
    with db.read() as s:
        assert {a.role for a in rbac.assigned_roles(s, "dee")} == {"Mined role 1", "Mined role 2"}
        assert {a.role for a in rbac.assigned_roles(s, "off")} == {"R1"}  # inactive: untouched


def test_too_many_users_is_refused(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    with db.action("Seed") as s:
        for n in range(5):
            rbac.add_user(s, f"user{n}")
    with db.read() as s, pytest.raises(ValidationError, match="at most 3"):
        mining.effective_assignment(s, limit=3)
