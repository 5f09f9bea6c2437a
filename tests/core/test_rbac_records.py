"""Users, roles, resources and permissions: add, update, delete, lookups, versions, cascades."""

from __future__ import annotations

from datetime import UTC

import pytest
from sqlalchemy import text

from accessguard_gui.core import rbac
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import (
    ConflictError,
    DuplicateError,
    NotFoundError,
)
from accessguard_gui.core.rows import DenyReason

from .reference import snapshot

# ---------------------------------------------------------------------- users


def test_add_user_returns_a_snapshot_with_defaults(db: Database) -> None:
    with db.action("Add user") as s:
        row = rbac.add_user(s, "  alice  ", email=" alice@example.org ")
    assert row.username == "alice"
    assert row.display_name == "alice"  # defaults to the username
    assert row.email == "alice@example.org"
    assert row.active is True
    assert row.has_password is False
    assert row.version == 1
    assert row.created_at.tzinfo is not None and row.created_at.utcoffset() == UTC.utcoffset(None)
    with db.read() as s:
        again = rbac.get_user(s, "ALICE")
        assert (again.id, again.username, again.email) == (row.id, "alice", "alice@example.org")
        assert again.created_at.tzinfo is not None


def test_add_user_with_display_name_inactive(db: Database) -> None:
    with db.action("Add user") as s:
        row = rbac.add_user(s, "bob", "Bob Builder", active=False)
    assert (row.display_name, row.active) == ("Bob Builder", False)


def test_usernames_are_unique_ignoring_case(db: Database) -> None:
    with db.action("Add user") as s:
        rbac.add_user(s, "alice")
    with db.action("Add user") as s, pytest.raises(DuplicateError) as info:
        rbac.add_user(s, " ALICE ")
    assert str(info.value) == "A user named \u201cALICE\u201d already exists."
    assert info.value.field == "username"


def test_update_user_changes_fields_and_bumps_version(db: Database) -> None:
    with db.action("Add user") as s:
        row = rbac.add_user(s, "alice", "Alice")
    with db.action("Rename") as s:
        new = rbac.update_user(
            s,
            row.id,
            expected_version=1,
            username="alice.smith",
            display_name="Alice Smith",
            email="a@example.org",
            active=False,
        )
    assert (new.username, new.display_name, new.email, new.active) == (
        "alice.smith",
        "Alice Smith",
        "a@example.org",
        False,
    )
    assert new.version == 2
    assert new.updated_at >= row.updated_at
    with db.read() as s:
        assert rbac.get_user(s, "alice.smith").id == row.id
        with pytest.raises(NotFoundError):
            rbac.get_user(s, "alice")


def test_update_user_may_change_only_the_case_of_its_name(db: Database) -> None:
    with db.action("Add user") as s:
        rbac.add_user(s, "alice")
    with db.action("Rename") as s:
        assert rbac.update_user(s, "alice", username="Alice").username == "Alice"


def test_update_user_refuses_a_taken_name(db: Database) -> None:
    with db.action("Add users") as s:
        rbac.add_user(s, "alice")
        rbac.add_user(s, "bob")
    with db.action("Rename") as s:
        before = snapshot(s)
        with pytest.raises(DuplicateError, match="A user named \u201cAlice\u201d already exists"):
            rbac.update_user(s, "bob", username="Alice", display_name="Bob the Builder")
        assert snapshot(s) == before
    with db.read() as s:
        assert rbac.get_user(s, "bob").display_name == "bob"


def test_update_user_with_an_old_version_is_a_conflict_with_current_values(
    db: Database,
) -> None:
    with db.action("Add user") as s:
        rbac.add_user(s, "alice", "Alice", email="alice@example.org")
    with db.action("Someone else") as s:
        rbac.update_user(s, "alice", display_name="Alice A.")
    with db.action("Me") as s, pytest.raises(ConflictError) as info:
        rbac.update_user(s, "alice", expected_version=1, display_name="Alice B.")
    err = info.value
    assert str(err) == "The user alice was changed by someone else since you loaded it."
    assert err.record == "user alice"
    assert err.theirs == {
        "username": "alice",
        "display_name": "Alice A.",
        "email": "alice@example.org",
        "active": True,
        "version": 2,
    }
    with db.read() as s:
        assert rbac.get_user(s, "alice").display_name == "Alice A."


def test_delete_user_removes_their_assignments(db: Database) -> None:
    with db.action("setup") as s:
        rbac.add_user(s, "alice")
        rbac.add_user(s, "bob")
        rbac.add_role(s, "Staff")
        rbac.assign_user(s, "alice", "Staff")
        rbac.assign_user(s, "bob", "Staff")
    with db.action("Delete user") as s:
        rbac.delete_user(s, "alice", expected_version=1)
    with db.read() as s:
        with pytest.raises(NotFoundError, match="There is no user named \u201calice\u201d"):
            rbac.get_user(s, "alice")
        assert [a.username for a in rbac.assigned_users(s, "Staff")] == ["bob"]
        assert s.execute(text("SELECT count(*) FROM user_roles")).scalar() == 1


def test_delete_user_with_an_old_version_is_refused(db: Database) -> None:
    with db.action("setup") as s:
        rbac.add_user(s, "alice")
        rbac.update_user(s, "alice", display_name="A")
    with db.action("Delete") as s, pytest.raises(ConflictError):
        rbac.delete_user(s, "alice", expected_version=1)
    with db.read() as s:
        assert rbac.get_user(s, "alice").version == 2


def test_lookup_by_id_and_unknown_refs(db: Database) -> None:
    with db.action("setup") as s:
        row = rbac.add_user(s, "alice")
    with db.read() as s:
        assert rbac.get_user(s, row.id).username == "alice"
        with pytest.raises(NotFoundError, match="The user #999 does not exist"):
            rbac.get_user(s, 999)
        with pytest.raises(NotFoundError):
            rbac.get_user(s, True)  # a bool is not an id
        with pytest.raises(NotFoundError):
            rbac.get_user(s, None)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- roles, resources


def test_add_update_delete_role(db: Database) -> None:
    with db.action("Add role") as s:
        row = rbac.add_role(s, "  Sales   Team ", "Sells things")
    assert (row.name, row.description, row.version) == ("Sales Team", "Sells things", 1)
    with db.action("Rename role") as s:
        row = rbac.update_role(s, "sales team", expected_version=1, name="Sales", description="")
    assert (row.name, row.description, row.version) == ("Sales", "", 2)
    with db.action("Delete role") as s:
        rbac.delete_role(s, "Sales", expected_version=2)
    with (
        db.read() as s,
        pytest.raises(NotFoundError, match="There is no role named \u201cSales\u201d"),
    ):
        rbac.get_role(s, "Sales")


def test_role_names_are_unique_ignoring_case(db: Database) -> None:
    with db.action("setup") as s:
        rbac.add_role(s, "Sales")
        rbac.add_role(s, "Support")
    with db.action("dup") as s:
        with pytest.raises(DuplicateError, match="A role named \u201cSALES\u201d already exists"):
            rbac.add_role(s, "SALES")
        with pytest.raises(DuplicateError) as info:
            rbac.update_role(s, "Support", name="sales")
        assert info.value.field == "name"


def test_non_ascii_role_names_are_found_by_their_own_name(db: Database) -> None:
    with db.action("setup") as s:
        rbac.add_role(s, "Ärzte")
        rbac.add_resource(s, "Büro Zürich")
    with db.read() as s:
        assert rbac.get_role(s, "Ärzte").name == "Ärzte"
        assert rbac.get_resource(s, " Büro Zürich ").name == "Büro Zürich"
    with db.action("dup") as s, pytest.raises(DuplicateError):
        rbac.add_role(s, "Ärzte")


def test_role_version_conflict(db: Database) -> None:
    with db.action("setup") as s:
        rbac.add_role(s, "Sales", "old")
        rbac.update_role(s, "Sales", description="new")
    with db.action("stale") as s:
        with pytest.raises(ConflictError) as info:
            rbac.update_role(s, "Sales", expected_version=1, description="mine")
        assert info.value.theirs == {"name": "Sales", "description": "new", "version": 2}
        with pytest.raises(ConflictError):
            rbac.delete_role(s, "Sales", expected_version=1)


def test_delete_role_removes_assignments_grants_inheritance_and_set_memberships(
    db: Database,
) -> None:
    with db.action("setup") as s:
        for role in ("Clerk", "Approver", "Boss", "Auditor"):
            rbac.add_role(s, role)
        rbac.add_user(s, "alice")
        rbac.add_resource(s, "Ledger")
        rbac.add_permission(s, "Ledger", "read")
        rbac.grant_permission(s, "Clerk", ("Ledger", "read"))
        rbac.assign_user(s, "alice", "Clerk")
        rbac.add_inheritance(s, "Boss", "Clerk")
        rbac.add_inheritance(s, "Clerk", "Auditor")
        rbac.create_ssd_set(s, "Payments", ["Clerk", "Approver", "Auditor"], 3)
    with db.action("Delete role") as s:
        rbac.delete_role(s, "Clerk")
    with db.read() as s:
        counts = {
            table: s.execute(text(f"SELECT count(*) FROM {table}")).scalar()
            for table in ("user_roles", "role_permissions", "role_inheritance", "ssd_set_roles")
        }
        assert counts == {
            "user_roles": 0,
            "role_permissions": 0,
            "role_inheritance": 0,
            "ssd_set_roles": 2,
        }
        assert rbac.assigned_roles(s, "alice") == []
        assert rbac.ssd_role_sets(s)[0].roles == ("Approver", "Auditor")


def test_add_update_delete_resource(db: Database) -> None:
    with db.action("Add") as s:
        row = rbac.add_resource(s, "Door B2.14", "Second floor")
        rbac.add_permission(s, row.id, "open")
    assert (row.name, row.description) == ("Door B2.14", "Second floor")
    with (
        db.action("dup") as s,
        pytest.raises(DuplicateError, match="A resource named \u201cdoor b2.14\u201d"),
    ):
        rbac.add_resource(s, "door b2.14")
    with db.action("Rename") as s:
        row = rbac.update_resource(s, "door b2.14", expected_version=1, name="Door B2.15")
    assert (row.name, row.version) == ("Door B2.15", 2)
    with (
        db.action("stale") as s,
        pytest.raises(ConflictError, match="The resource Door B2.15 was changed"),
    ):
        rbac.update_resource(s, row.id, expected_version=1, description="x")
    with db.read() as s:
        assert rbac.get_permission(s, ("Door B2.15", "open")).action == "open"


def test_delete_resource_removes_its_permissions_and_grants(db: Database) -> None:
    with db.action("setup") as s:
        rbac.add_resource(s, "Door")
        rbac.add_resource(s, "Safe")
        rbac.add_permission(s, "Door", "open")
        rbac.add_permission(s, "Safe", "open")
        rbac.add_role(s, "Staff")
        rbac.add_user(s, "alice")
        rbac.assign_user(s, "alice", "Staff")
        rbac.grant_permission(s, "Staff", ("Door", "open"))
        rbac.grant_permission(s, "Staff", ("Safe", "open"))
    with db.action("Delete resource") as s:
        rbac.delete_resource(s, "Door", expected_version=1)
    with db.read() as s:
        assert [p.label for p in rbac.user_permissions(s, "alice")] == ["Safe: open"]
        assert s.execute(text("SELECT count(*) FROM permissions")).scalar() == 1
        assert s.execute(text("SELECT count(*) FROM role_permissions")).scalar() == 1
        decision = rbac.check_access(s, "alice", "Door", "open")
        assert decision.reason is DenyReason.UNKNOWN_RESOURCE


# ---------------------------------------------------------------------- permissions


def test_add_permission_normalises_the_action(db: Database) -> None:
    with db.action("setup") as s:
        rbac.add_resource(s, "Ledger")
        row = rbac.add_permission(s, "ledger", "  Approve-Invoice ", "Sign off")
    assert (row.resource, row.action, row.description, row.label) == (
        "Ledger",
        "approve-invoice",
        "Sign off",
        "Ledger: approve-invoice",
    )
    with db.action("dup") as s, pytest.raises(DuplicateError) as info:
        rbac.add_permission(s, "Ledger", "APPROVE-INVOICE")
    assert (
        str(info.value) == "The resource Ledger already has the action \u201capprove-invoice\u201d."
    )
    assert info.value.field == "action"


def test_add_permission_to_unknown_resource(db: Database) -> None:
    with (
        db.action("x") as s,
        pytest.raises(NotFoundError, match="There is no resource named \u201cNowhere\u201d"),
    ):
        rbac.add_permission(s, "Nowhere", "open")


def test_get_permission_by_id_and_pair(db: Database) -> None:
    with db.action("setup") as s:
        rbac.add_resource(s, "Door")
        row = rbac.add_permission(s, "Door", "open")
    with db.read() as s:
        assert rbac.get_permission(s, row.id).action == "open"
        assert rbac.get_permission(s, ("DOOR", " Open ")).id == row.id
        with pytest.raises(
            NotFoundError, match="The resource Door has no action \u201cclose\u201d"
        ):
            rbac.get_permission(s, ("Door", "close"))
        with pytest.raises(NotFoundError, match="The permission #99 does not exist"):
            rbac.get_permission(s, 99)


def test_update_and_delete_permission(db: Database) -> None:
    with db.action("setup") as s:
        rbac.add_resource(s, "Door")
        rbac.add_permission(s, "Door", "open")
        rbac.add_permission(s, "Door", "lock")
        rbac.add_role(s, "Staff")
        rbac.grant_permission(s, "Staff", ("Door", "open"))
    with db.action("rename") as s:
        with pytest.raises(DuplicateError, match="already has the action \u201clock\u201d"):
            rbac.update_permission(s, ("Door", "open"), action="LOCK")
        row = rbac.update_permission(
            s, ("Door", "open"), expected_version=1, action="unlock", description="With a key"
        )
    assert (row.label, row.description, row.version) == ("Door: unlock", "With a key", 2)
    with db.action("stale") as s:
        with pytest.raises(ConflictError) as info:
            rbac.update_permission(s, row.id, expected_version=1, description="x")
        assert info.value.theirs == {"action": "unlock", "description": "With a key", "version": 2}
        with pytest.raises(ConflictError) as deleting:
            rbac.delete_permission(s, row.id, expected_version=1)
        assert str(deleting.value) == (
            "The permission Door: unlock was changed by someone else since you loaded it."
        )
        assert deleting.value.theirs == info.value.theirs
    with db.action("delete") as s:
        rbac.delete_permission(s, ("Door", "unlock"), expected_version=2)
    with db.read() as s:
        assert rbac.role_permissions(s, "Staff") == []
        assert [p.action for p in rbac.role_permissions(s, "Staff", inherited=True)] == []


# ---------------------------------------------------------------------- raw SQL cascades


@pytest.mark.parametrize(
    ("table", "key"),
    [("users", "username = 'alice'"), ("roles", "name = 'Staff'"), ("resources", "name = 'Door'")],
)
def test_a_raw_sql_delete_cascades(db: Database, table: str, key: str) -> None:
    """PRAGMA foreign_keys=ON on every connection: deletes that bypass the ORM cascade too."""
    with db.action("setup") as s:
        rbac.add_user(s, "alice")
        rbac.add_role(s, "Staff")
        rbac.add_resource(s, "Door")
        rbac.add_permission(s, "Door", "open")
        rbac.grant_permission(s, "Staff", ("Door", "open"))
        rbac.assign_user(s, "alice", "Staff")
    with db.action("raw delete") as s:
        assert s.execute(text("PRAGMA foreign_keys")).scalar() == 1
        s.execute(text(f"DELETE FROM {table} WHERE {key}"))
    with db.read() as s:
        assignments = s.execute(text("SELECT count(*) FROM user_roles")).scalar()
        grants = s.execute(text("SELECT count(*) FROM role_permissions")).scalar()
        problems = s.execute(text("PRAGMA foreign_key_check")).all()
    expected = {"users": (0, 1), "roles": (0, 0), "resources": (1, 0)}[table]
    assert (assignments, grants) == expected
    assert problems == []


@pytest.mark.parametrize("bad", ["Door", "do", ("Door",), ("Door", "open", "x"), None, True])
def test_a_malformed_permission_reference_is_not_found(db: Database, bad: object) -> None:
    with db.action("setup") as s:
        rbac.add_resource(s, "d")
        rbac.add_permission(s, "d", "o")  # "do" must not unpack into ("d", "o")
        rbac.add_role(s, "Staff")
    with db.action("Grant") as s, pytest.raises(NotFoundError):
        rbac.grant_permission(s, "Staff", bad)  # type: ignore[arg-type]


def test_every_name_rbac_exports_resolves() -> None:
    """rbac serves its review functions lazily (a module __getattr__ over a list of their
    names): a name added to the package's imports but not to that list must fail here, not
    in a user's window."""
    import subprocess
    import sys

    probe = (
        "from accessguard_gui.core import rbac\n"
        "missing = [n for n in rbac.__all__ if not hasattr(rbac, n)]\n"
        "assert not missing, missing\n"
    )  # a fresh process: the lazy names are not loaded yet
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
