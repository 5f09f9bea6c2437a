"""Role inheritance: diamonds, deep chains, cycles refused, and what inheritance grants."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from accessguard_gui.core import rbac
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import CycleError, DuplicateError, NotFoundError, ValidationError
from accessguard_gui.core.rows import DenyReason, RoleRow

from .reference import snapshot


def _names(rows: Sequence[RoleRow]) -> list[str]:
    return [r.name for r in rows]


@pytest.fixture
def diamond(db: Database) -> Database:
    """Manager inherits from Sales and Support, both inherit from Staff (a diamond);
    Staff holds "Door: open", alice is a Manager."""
    with db.action("setup") as s:
        for role in ("Manager", "Sales", "Support", "Staff"):
            rbac.add_role(s, role)
        rbac.add_inheritance(s, "Manager", "Sales")
        rbac.add_inheritance(s, "Manager", "Support")
        rbac.add_inheritance(s, "Sales", "Staff")
        rbac.add_inheritance(s, "Support", "Staff")
        rbac.add_resource(s, "Door")
        rbac.add_permission(s, "Door", "open")
        rbac.add_permission(s, "Door", "lock")
        rbac.grant_permission(s, "Staff", ("Door", "open"))
        rbac.grant_permission(s, "Sales", ("Door", "lock"))
        rbac.add_user(s, "alice")
        rbac.assign_user(s, "alice", "Manager")
    return db


def test_diamond_grants_once_and_is_explained_by_two_paths(diamond: Database) -> None:
    with diamond.read() as s:
        perms = rbac.user_permissions(s, "alice")
        assert [p.label for p in perms] == ["Door: lock", "Door: open"]
        decision = rbac.check_access(s, "alice", "Door", "open")
    assert decision.allowed
    assert {p.roles for p in decision.paths} == {
        ("Manager", "Sales", "Staff"),
        ("Manager", "Support", "Staff"),
    }
    text = decision.explanation()
    assert "alice \u2192 Manager \u2192 Sales \u2192 Staff \u2192 Door: open" in text
    assert "alice \u2192 Manager \u2192 Support \u2192 Staff \u2192 Door: open" in text


def test_role_permissions_direct_and_inherited(diamond: Database) -> None:
    with diamond.read() as s:
        assert rbac.role_permissions(s, "Manager") == []
        inherited = rbac.role_permissions(s, "Manager", inherited=True)
        assert [p.label for p in inherited] == ["Door: lock", "Door: open"]
        assert [p.label for p in rbac.role_permissions(s, "Sales")] == ["Door: lock"]
        assert [p.label for p in rbac.role_permissions(s, "Support", inherited=True)] == [
            "Door: open"
        ]
        assert rbac.role_permissions(s, "Staff", inherited=True)[0].label == "Door: open"


def test_parents_and_children_are_listed(diamond: Database) -> None:
    with diamond.read() as s:
        assert _names(rbac.inherits_from(s, "Manager")) == ["Sales", "Support"]
        assert _names(rbac.inherited_by(s, "Staff")) == ["Sales", "Support"]
        assert rbac.inherits_from(s, "Staff") == []
        assert rbac.inherited_by(s, "Manager") == []


def test_delete_inheritance_removes_one_path_then_the_grant(diamond: Database) -> None:
    with diamond.action("cut") as s:
        rbac.delete_inheritance(s, "Manager", "Sales")
    with diamond.read() as s:
        decision = rbac.check_access(s, "alice", "Door", "open")
        assert decision.allowed
        assert [p.roles for p in decision.paths] == [("Manager", "Support", "Staff")]
        assert not rbac.check_access(s, "alice", "Door", "lock").allowed
    with diamond.action("cut") as s:
        rbac.delete_inheritance(s, "support", "STAFF")  # names ignore case
    with diamond.read() as s:
        decision = rbac.check_access(s, "alice", "Door", "open")
    assert not decision.allowed
    assert decision.reason is DenyReason.NO_PATH


def test_delete_missing_inheritance_is_refused(diamond: Database) -> None:
    with (
        diamond.action("cut") as s,
        pytest.raises(NotFoundError, match="Staff does not inherit from Manager"),
    ):
        rbac.delete_inheritance(s, "Staff", "Manager")


def test_self_inheritance_is_refused(diamond: Database) -> None:
    with diamond.action("self") as s, pytest.raises(CycleError) as info:
        rbac.add_inheritance(s, "Staff", "staff")
    assert info.value.cycle == ("Staff", "Staff")
    assert str(info.value) == "A role cannot inherit from itself (Staff)."


def test_cycle_is_refused_and_named(diamond: Database) -> None:
    with diamond.action("cycle") as s:
        before = snapshot(s)
        with pytest.raises(CycleError) as info:
            rbac.add_inheritance(s, "Staff", "Manager")
        assert snapshot(s) == before
    assert info.value.cycle[0] == info.value.cycle[-1] == "Staff"
    assert info.value.cycle[1] == "Manager"
    assert len(info.value.cycle) == 4
    assert "This inheritance would create a cycle: Staff \u2192 Manager \u2192" in str(info.value)


def test_duplicate_inheritance_is_refused(diamond: Database) -> None:
    with (
        diamond.action("again") as s,
        pytest.raises(DuplicateError, match="Manager already inherits from Sales"),
    ):
        rbac.add_inheritance(s, "Manager", "Sales")


def test_unknown_roles_are_refused(diamond: Database) -> None:
    with diamond.action("x") as s:
        with pytest.raises(NotFoundError, match="There is no role named \u201cNobody\u201d"):
            rbac.add_inheritance(s, "Nobody", "Staff")
        with pytest.raises(NotFoundError):
            rbac.add_inheritance(s, "Staff", 9999)


def _chain(db: Database, length: int) -> None:
    """Roles L0 -> L1 -> ... -> L{length-1}, each inheriting from the next; the last one
    holds "Vault: open"; user u is assigned L0."""
    with db.action("chain") as s:
        for i in range(length):
            rbac.add_role(s, f"L{i}")
        for i in range(length - 1):
            rbac.add_inheritance(s, f"L{i}", f"L{i + 1}")
        rbac.add_resource(s, "Vault")
        rbac.add_permission(s, "Vault", "open")
        rbac.grant_permission(s, f"L{length - 1}", ("Vault", "open"))
        rbac.add_user(s, "u")
        rbac.assign_user(s, "u", "L0")


def test_deep_chain_grants_and_is_explained_end_to_end(db: Database) -> None:
    length = rbac.MAX_PATH_DEPTH + 1  # the longest chain allowed
    _chain(db, length)
    with db.read() as s:
        decision = rbac.check_access(s, "u", "Vault", "open")
        assert decision.allowed
        assert decision.paths[0].roles == tuple(f"L{i}" for i in range(length))
        assert [p.label for p in rbac.user_permissions(s, "u")] == ["Vault: open"]
        assert [u.username for u in rbac.authorized_users(s, "Vault", "open")] == ["u"]
        assert len(rbac.authorized_roles(s, "u")) == length
        assert len(rbac.authorized_roles_for(s, "Vault", "open")) == length


def test_cycle_through_a_deep_chain_is_refused(db: Database) -> None:
    length = rbac.MAX_PATH_DEPTH + 1
    _chain(db, length)
    with db.action("close the loop") as s, pytest.raises(CycleError) as info:
        rbac.add_inheritance(s, f"L{length - 1}", "L0")
    assert len(info.value.cycle) == length + 1


def test_chain_longer_than_the_limit_is_refused(db: Database) -> None:
    length = rbac.MAX_PATH_DEPTH + 1
    _chain(db, length)
    with db.action("extend") as s:
        rbac.add_role(s, "Top")
        rbac.add_role(s, "Bottom")
        with pytest.raises(ValidationError, match="at most 33 are allowed") as info:
            rbac.add_inheritance(s, "Top", "L0")
        assert info.value.field == "inherits_from"
        with pytest.raises(ValidationError):
            rbac.add_inheritance(s, f"L{length - 1}", "Bottom")
        # Joining in the middle is fine as long as no chain gets longer than the limit.
        rbac.add_inheritance(s, "Top", "L1")
    with db.read() as s:
        assert rbac.inherits_from(s, "Top")[0].name == "L1"


def test_stacked_diamonds_add_quickly_and_explain_every_path(db: Database) -> None:
    """Eight diamonds on top of each other: 2**8 paths from top to bottom. Adding the
    edges and detecting the cycle must not enumerate all of them."""
    levels = 8
    with db.action("stack") as s:
        rbac.add_role(s, "D0")
        for i in range(levels):
            rbac.add_role(s, f"A{i}")
            rbac.add_role(s, f"B{i}")
            rbac.add_role(s, f"D{i + 1}")
            rbac.add_inheritance(s, f"D{i}", f"A{i}")
            rbac.add_inheritance(s, f"D{i}", f"B{i}")
            rbac.add_inheritance(s, f"A{i}", f"D{i + 1}")
            rbac.add_inheritance(s, f"B{i}", f"D{i + 1}")
        rbac.add_resource(s, "Safe")
        rbac.add_permission(s, "Safe", "open")
        rbac.grant_permission(s, f"D{levels}", ("Safe", "open"))
        rbac.add_user(s, "u")
        rbac.assign_user(s, "u", "D0")
        with pytest.raises(CycleError):
            rbac.add_inheritance(s, f"D{levels}", "D0")
    with db.read() as s:
        decision = rbac.check_access(s, "u", "Safe", "open")
    assert decision.allowed
    assert len(decision.paths) == rbac.MAX_EXPLAINED_PATHS
    assert all(len(p.roles) == 2 * levels + 1 for p in decision.paths)


def test_parents_and_children_sort_ignoring_case(db: Database) -> None:
    with db.action("setup") as s:
        for role in ("Middle", "zeta", "Alpha", "beta", "omega", "Delta"):
            rbac.add_role(s, role)
        for parent in ("zeta", "Alpha", "beta"):
            rbac.add_inheritance(s, "Middle", parent)
        for child in ("omega", "Delta"):
            rbac.add_inheritance(s, child, "Middle")
    with db.read() as s:
        assert _names(rbac.inherits_from(s, "Middle")) == ["Alpha", "beta", "zeta"]
        assert _names(rbac.inherited_by(s, "Middle")) == ["Delta", "omega"]
