"""Operators (issue 14): AccessGuard's own permissions as records, sign-in with back-off,
and the core refusing every change an operator may not make, leaving the file unchanged."""

from __future__ import annotations

import sqlite3
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from accessguard_gui.core import audit, changes, operators, passwords, rbac
from accessguard_gui.core.bulk_roles import BulkRoleChange, UserMatch
from accessguard_gui.core.changes import (
    AddSsdRole,
    Assign,
    ChangeSsdSet,
    Create,
    CreateSsdSet,
    Deassign,
    Delete,
    DeleteSsdSet,
    Edit,
    EditFailed,
    Entity,
    Grant,
    Inherit,
    RemoveSsdRole,
    Revoke,
    SetExpiry,
    SetPasswordHash,
    Uninherit,
    Update,
)
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import (
    LockoutError,
    OperatorPermissionError,
    SignInError,
    SignInRequiredError,
)
from accessguard_gui.core.models import Role, User
from accessguard_gui.core.operators import (
    ADMIN_ROLE,
    APP_RESOURCE,
    AppAction,
    OperatorAccess,
    SetSignInRequired,
    delay_after,
)
from accessguard_gui.core.schema import downgrade

PASSWORD = "correct horse battery staple"
_HASHES: dict[str, str] = {}


def _hash(password: str = PASSWORD) -> str:
    """Argon2 is slow on purpose: one hash per password for the whole module."""
    if password not in _HASHES:
        _HASHES[password] = passwords.hash_password(password)
    return _HASHES[password]


@pytest.fixture(autouse=True)
def quick_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 at its smallest cost: dozens of sign-ins per test stay quick (verifying
    reads the cost from each hash, so the checks are the real ones)."""
    from argon2 import PasswordHasher, Type

    quick = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID)
    monkeypatch.setattr(passwords, "_hasher", lambda: quick)
    _HASHES.clear()


class Clock:
    """An injected clock: the back-off is tested without sleeping."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)  # the trail is in time order: start at the real time

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _role_with(session: Session, name: str, actions: list[AppAction]) -> None:
    rbac.add_role(session, name)
    for action in actions:
        rbac.grant_permission(session, name, (APP_RESOURCE, action.value))


def _organisation(db: Database) -> None:
    """alice administers; bob may only view (roles of his are added per test); carol and
    dave are ordinary users; a door, three roles, an SSD set and an inheritance."""
    with db.action("Set up") as s:
        for name in ("alice", "bob", "carol", "dave"):
            rbac.add_user(s, name)
            rbac.get_user(s, name).password_hash = _hash()
        rbac.add_resource(s, "Door")
        rbac.add_permission(s, "Door", "open")
        rbac.add_permission(s, "Door", "lock")
        for role in ("Staff", "Auditor", "Night", "Manager"):
            rbac.add_role(s, role)
        rbac.grant_permission(s, "Staff", ("Door", "open"))
        rbac.add_inheritance(s, "Manager", "Staff")
        rbac.assign_user(s, "dave", "Staff")
        rbac.create_ssd_set(s, "Split", ["Staff", "Auditor", "Night"], 2)
        changes.apply_edits(s, operators.setup_edits(s, "alice"))
        _role_with(s, "Viewers", [AppAction.VIEW])
        rbac.assign_user(s, "bob", "Viewers")
        changes.apply_edits(s, [SetSignInRequired(True)])


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def org(db_path: Path, clock: Clock) -> Iterator[Database]:
    database = Database(db_path, operator="os-user")
    database.clock = clock
    _organisation(database)
    try:
        yield database
    finally:
        database.close()


def _dump(db: Database) -> list[str]:
    """Every row of the file, as SQL: to show a refusal changed nothing."""
    assert db.path is not None
    conn = sqlite3.connect(db.path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def _grant_bob(db: Database, action: AppAction) -> None:
    """As alice (an administrator), give bob ``action`` too; then bob signs in again."""
    db.sign_in("alice", PASSWORD)
    with db.action("Give bob a right") as s:
        _role_with(s, f"Bob may {action.value}", [action])
        rbac.assign_user(s, "bob", f"Bob may {action.value}")
    db.sign_in("bob", PASSWORD)


# ---------------------------------------------------------------------- every edit type


@dataclass(frozen=True)
class Case:
    """An edit, made for the organisation above, and the action it needs."""

    make: Callable[[Database], Edit]
    needs: AppAction


def _id(db: Database, model: type[User | Role], name: str) -> int:
    with db.internal_session() as s:
        key = model.username_key if model is User else model.name_key  # type: ignore[union-attr]
        found = s.scalar(select(model.id).where(key == name))
        assert found is not None
        return int(found)


def _permission_id(db: Database, action: str) -> int:
    with db.internal_session() as s:
        return rbac.get_permission(s, (APP_RESOURCE, action)).id


CASES: dict[str, Case] = {
    "Create user": Case(lambda db: Create(Entity.USER, {"username": "erin"}), AppAction.EDIT_USERS),
    "Create role": Case(lambda db: Create(Entity.ROLE, {"name": "Porter"}), AppAction.EDIT_ROLES),
    "Create resource": Case(
        lambda db: Create(Entity.RESOURCE, {"name": "Gate"}), AppAction.EDIT_ROLES
    ),
    "Create permission": Case(
        lambda db: Create(Entity.PERMISSION, {"resource": "Door", "action": "close"}),
        AppAction.EDIT_ROLES,
    ),
    "Update user": Case(
        lambda db: Update(Entity.USER, _id(db, User, "carol"), None, {"display_name": "C"}),
        AppAction.EDIT_USERS,
    ),
    "Update role": Case(
        lambda db: Update(Entity.ROLE, _id(db, Role, "night"), None, {"description": "x"}),
        AppAction.EDIT_ROLES,
    ),
    "Delete user": Case(
        lambda db: Delete(Entity.USER, _id(db, User, "carol"), None), AppAction.EDIT_USERS
    ),
    "Delete role": Case(
        lambda db: Delete(Entity.ROLE, _id(db, Role, "manager"), None), AppAction.EDIT_ROLES
    ),
    "Assign": Case(lambda db: Assign("carol", "Staff"), AppAction.ASSIGN_ROLES),
    "Deassign": Case(lambda db: Deassign("dave", "Staff"), AppAction.ASSIGN_ROLES),
    "SetExpiry": Case(
        lambda db: SetExpiry("dave", "Staff", datetime(2030, 1, 1, tzinfo=UTC)),
        AppAction.ASSIGN_ROLES,
    ),
    "Grant": Case(lambda db: Grant("Auditor", ("Door", "open")), AppAction.EDIT_ROLES),
    "Revoke": Case(lambda db: Revoke("Staff", ("Door", "open")), AppAction.EDIT_ROLES),
    "Inherit": Case(lambda db: Inherit("Night", "Manager"), AppAction.EDIT_ROLES),
    "Uninherit": Case(lambda db: Uninherit("Manager", "Staff"), AppAction.EDIT_ROLES),
    "SetPasswordHash": Case(
        lambda db: SetPasswordHash("carol", _hash("another password 1")), AppAction.EDIT_USERS
    ),
    "CreateSsdSet": Case(
        lambda db: CreateSsdSet("Split 2", ("Auditor", "Manager"), 2), AppAction.EDIT_SSD
    ),
    "ChangeSsdSet": Case(
        lambda db: ChangeSsdSet("Split", {"description": "x"}, {"description": ""}),
        AppAction.EDIT_SSD,
    ),
    "AddSsdRole": Case(lambda db: AddSsdRole("Split", "Manager"), AppAction.EDIT_SSD),
    "RemoveSsdRole": Case(lambda db: RemoveSsdRole("Split", "Night"), AppAction.EDIT_SSD),
    "DeleteSsdSet": Case(lambda db: DeleteSsdSet("Split"), AppAction.EDIT_SSD),
    "SetSignInRequired": Case(lambda db: SetSignInRequired(False), AppAction.ADMINISTER),
    "BulkRoleChange": Case(
        lambda db: BulkRoleChange("Night", UserMatch("carol"), 1), AppAction.ASSIGN_ROLES
    ),
}

# Changes that reach AccessGuard's own rights need administer whatever else they are.
ADMIN_CASES: dict[str, Case] = {
    "assign an operator role": Case(lambda db: Assign("carol", ADMIN_ROLE), AppAction.ASSIGN_ROLES),
    "remove an operator": Case(lambda db: Deassign("bob", "Viewers"), AppAction.ASSIGN_ROLES),
    "an operator's password": Case(
        lambda db: SetPasswordHash("alice", _hash("another password 1")), AppAction.EDIT_USERS
    ),
    "rename an operator": Case(
        lambda db: Update(Entity.USER, _id(db, User, "alice"), None, {"display_name": "A"}),
        AppAction.EDIT_USERS,
    ),
    "grant an AccessGuard permission": Case(
        lambda db: Grant("Staff", (APP_RESOURCE, AppAction.ADMINISTER.value)),
        AppAction.EDIT_ROLES,
    ),
    "inherit an operator role": Case(lambda db: Inherit("Staff", ADMIN_ROLE), AppAction.EDIT_ROLES),
    "add an AccessGuard action": Case(
        lambda db: Create(Entity.PERMISSION, {"resource": APP_RESOURCE, "action": "export"}),
        AppAction.EDIT_ROLES,
    ),
    "bulk-assign an operator role": Case(
        lambda db: BulkRoleChange(ADMIN_ROLE, UserMatch("carol"), 1), AppAction.ASSIGN_ROLES
    ),
    "rename an AccessGuard action": Case(
        lambda db: Update(Entity.PERMISSION, _permission_id(db, "review"), None, {"action": "x"}),
        AppAction.EDIT_ROLES,
    ),
    "delete an operator role": Case(
        lambda db: Delete(Entity.ROLE, _id(db, Role, "viewers"), None), AppAction.EDIT_ROLES
    ),
}


def test_every_edit_type_has_a_case(org: Database) -> None:
    """A new Edit type must say which action it needs (add it to CASES)."""
    assert {type(case.make(org)) for case in CASES.values()} == set(typing.get_args(Edit))


@pytest.mark.parametrize("name", list(CASES))
def test_an_edit_is_refused_without_its_permission_and_the_file_is_unchanged(
    org: Database, name: str
) -> None:
    case = CASES[name]
    org.sign_in("bob", PASSWORD)
    edit = case.make(org)
    before = _dump(org)
    with pytest.raises(EditFailed) as failed, org.action("Try") as s:
        changes.apply_edits(s, [edit])
    cause = failed.value.cause
    assert isinstance(cause, OperatorPermissionError)
    assert cause.action == case.needs.value
    assert str(cause).startswith("Signed in as bob, who may not ")
    assert f"(needs {APP_RESOURCE}: {case.needs.value})" in str(cause)
    assert _dump(org) == before

    # With the right, the same edit goes through: it was the permission that refused it.
    _grant_bob(org, case.needs)
    with org.action("Try again") as s:
        changes.apply_edits(s, [edit])


@pytest.mark.parametrize("name", list(ADMIN_CASES))
def test_changes_to_accessguards_own_rights_need_administer(org: Database, name: str) -> None:
    case = ADMIN_CASES[name]
    _grant_bob(org, case.needs)  # the ordinary right is not enough
    edit = case.make(org)
    before = _dump(org)
    with pytest.raises(EditFailed) as failed, org.action("Try") as s:
        changes.apply_edits(s, [edit])
    assert isinstance(failed.value.cause, OperatorPermissionError)
    assert failed.value.cause.action == AppAction.ADMINISTER.value
    assert _dump(org) == before
    org.sign_in("alice", PASSWORD)
    with org.action("As an administrator") as s:
        changes.apply_edits(s, [edit])


# ---------------------------------------------------------------------- set-based writers


def test_an_import_needs_administer(org: Database, tmp_path: Path) -> None:
    from accessguard_gui.core.interchange import formats
    from accessguard_gui.core.interchange.checks import Mode
    from accessguard_gui.core.interchange.export import ExportOptions, export_database
    from accessguard_gui.core.interchange.pipeline import ImportPlan, apply_import, stage

    org.sign_in("alice", PASSWORD)
    export_database(org, tmp_path / "org.json", "json", ExportOptions())
    _grant_bob(org, AppAction.EDIT_USERS)
    before = _dump(org)
    plan = ImportPlan(stage(formats.open_source(tmp_path / "org.json")), Mode.UPDATE)
    try:
        with pytest.raises(OperatorPermissionError) as refused:
            apply_import(org, plan)
    finally:
        plan.close()
    assert refused.value.action == AppAction.ADMINISTER.value
    assert _dump(org) == before
    org.sign_in("alice", PASSWORD)
    plan = ImportPlan(stage(formats.open_source(tmp_path / "org.json")), Mode.UPDATE)
    try:
        apply_import(org, plan)
    finally:
        plan.close()


def test_exporting_password_hashes_needs_administer(org: Database, tmp_path: Path) -> None:
    from accessguard_gui.core.interchange.export import ExportOptions, export_database

    org.sign_in("bob", PASSWORD)
    export_database(org, tmp_path / "plain.json", "json", ExportOptions())  # view suffices
    with pytest.raises(OperatorPermissionError):
        export_database(
            org, tmp_path / "hashes.json", "json", ExportOptions(with_password_hashes=True)
        )
    assert not (tmp_path / "hashes.json").exists()


def test_publishing_needs_administer(org: Database, tmp_path: Path) -> None:
    from accessguard_gui.core.interchange.publish import publish

    org.sign_in("bob", PASSWORD)
    with pytest.raises(OperatorPermissionError):
        publish(org, tmp_path / "service.db")
    assert not (tmp_path / "service.db").exists()
    org.sign_in("alice", PASSWORD)
    publish(org, tmp_path / "service.db")
    assert (tmp_path / "service.db").exists()


def test_review_campaigns_need_review(org: Database) -> None:
    from accessguard_gui.core.governance import campaigns

    org.sign_in("bob", PASSWORD)
    before = _dump(org)
    with pytest.raises(OperatorPermissionError) as refused, org.action("Open a campaign") as s:
        campaigns.create_campaign(s, "Q4", campaigns.Scope.ALL, ["bob"])
    assert refused.value.action == AppAction.REVIEW.value
    assert _dump(org) == before

    _grant_bob(org, AppAction.REVIEW)
    with org.action("Open a campaign") as s:
        row = campaigns.create_campaign(s, "Q4", campaigns.Scope.ALL, ["bob"])
    with org.read() as s:
        items = campaigns.items_page(s, row.id)
    # A reviewer who lost the right cannot record a decision (a bulk UPDATE, not the ORM).
    org.sign_in("alice", PASSWORD)
    with org.action("Take it back") as s:
        rbac.deassign_user(s, "bob", f"Bob may {AppAction.REVIEW.value}")
    org.sign_in("bob", PASSWORD)
    before = _dump(org)
    with pytest.raises(OperatorPermissionError), org.action("Decide") as s:
        campaigns.decide(s, row.id, [items[0].id], campaigns.Decision.KEEP)
    assert _dump(org) == before


def test_require_refuses_set_based_writers(org: Database) -> None:
    org.sign_in("bob", PASSWORD)
    with pytest.raises(OperatorPermissionError), org.action("Bulk") as s:
        operators.require(s, AppAction.EDIT_USERS)
    with org.action("Bulk") as s:
        operators.require(s, AppAction.VIEW)


# ---------------------------------------------------------------------- sign-in


def test_nothing_but_sign_in_works_until_someone_signs_in(org: Database) -> None:
    assert operators.sign_in_required(org)
    assert org.access == OperatorAccess.nobody()
    with pytest.raises(SignInRequiredError):
        with org.read():
            pass
    with pytest.raises(SignInRequiredError):
        with org.action("Anything"):
            pass
    with pytest.raises(SignInRequiredError):
        with org.preview("What if"):
            pass
    assert org.access.why_not(AppAction.VIEW) is not None
    access = org.sign_in("alice", PASSWORD)
    assert access.signed_in and access.enforced and access.actions == operators.ALL_ACTIONS
    org.sign_out()
    with pytest.raises(SignInRequiredError):
        with org.read():
            pass


def test_the_audit_operator_is_the_signed_in_user(org: Database) -> None:
    org.sign_in("Alice", PASSWORD)  # any case: the stored spelling is recorded
    with org.action("Add a user") as s:
        rbac.add_user(s, "erin")
    with org.read() as s:
        newest = audit.audit_entries(s, 1)[0]
    assert (newest.operator, newest.record_key) == ("alice", "erin")


def test_an_operator_without_a_right_reads_why_not(org: Database) -> None:
    access = org.sign_in("bob", PASSWORD)
    assert access.actions == frozenset({AppAction.VIEW})
    assert access.may(AppAction.VIEW)
    assert access.why_not(AppAction.VIEW) is None
    assert access.why_not(AppAction.EDIT_USERS) == (
        "Signed in as bob, who may not edit users (needs AccessGuard: edit-users)."
    )


def test_rights_taken_away_count_at_the_next_action(org: Database) -> None:
    _grant_bob(org, AppAction.EDIT_USERS)
    other = Database(org.path)
    other.sign_in("alice", PASSWORD)
    with other.action("Take it back") as s:
        rbac.deassign_user(s, "bob", f"Bob may {AppAction.EDIT_USERS.value}")
    other.close()
    assert org.access.may(AppAction.EDIT_USERS)  # as it was at sign-in…
    with pytest.raises(OperatorPermissionError), org.action("Add") as s:
        rbac.add_user(s, "erin")
    assert not org.access.may(AppAction.EDIT_USERS)  # …and as the file says now


@pytest.mark.parametrize(
    "spoil",
    ["unknown name", "wrong password", "inactive", "no view", "no password"],
)
def test_every_refused_sign_in_reads_the_same(org: Database, spoil: str) -> None:
    org.sign_in("alice", PASSWORD)
    name, password = "carol", PASSWORD
    with org.action("Spoil") as s:
        _role_with(s, "Carol views", [AppAction.VIEW])
        rbac.assign_user(s, "carol", "Carol views")
        carol = rbac.get_user(s, "carol")
        if spoil == "unknown name":
            name = "nobody-here"
        elif spoil == "wrong password":
            password = "not the password"
        elif spoil == "inactive":
            carol.active = False
        elif spoil == "no view":
            rbac.deassign_user(s, "carol", "Carol views")
        else:
            carol.password_hash = None
    org.sign_out()
    with pytest.raises(SignInError) as refused:
        org.sign_in(name, password)
    assert str(refused.value) == "Wrong user name or password, or this user may not sign in."
    assert org.access == OperatorAccess.nobody()


def test_an_expired_assignment_grants_no_right(org: Database, clock: Clock) -> None:
    org.sign_in("alice", PASSWORD)
    with org.action("Temporary") as s:
        _role_with(s, "Temp users", [AppAction.EDIT_USERS])
        rbac.assign_user(s, "bob", "Temp users", expires_at=clock.now + timedelta(hours=1))
    with org.read() as s:
        now = operators.operator_actions(s, "bob", now=clock.now)
        later = operators.operator_actions(s, "bob", now=clock.now + timedelta(hours=2))
        for action in AppAction:  # the same answer as check_access, action by action
            for moment, actions in ((clock.now, now), (clock.now + timedelta(hours=2), later)):
                allowed = rbac.check_access(s, "bob", APP_RESOURCE, action.value, now=moment)
                assert allowed.allowed == (action in actions)
    assert AppAction.EDIT_USERS in now
    assert AppAction.EDIT_USERS not in later


# ---------------------------------------------------------------------- back-off


def _sign_in_entries(db: Database) -> list[audit.AuditRow]:
    with db.internal_session() as s:
        return [e for e in audit.audit_entries(s, 200) if e.record_type == "sign-in"][::-1]


def test_failed_sign_ins_slow_down_and_are_recorded(
    org: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert [delay_after(n) for n in range(9)] == [0, 0, 1, 2, 4, 8, 16, 30, 30]
    waits: list[float] = []
    for _ in range(5):
        with pytest.raises(SignInError) as refused:
            org.sign_in("bob", "wrong")
        waits.append(refused.value.retry_after)
        clock.advance(refused.value.retry_after)
    assert waits == [0, 1, 2, 4, 8]
    failed = _sign_in_entries(org)
    assert [e.operation for e in failed] == ["sign-in failed"] * 5
    assert {e.record_key for e in failed} == {"user:bob"}
    assert {e.operator for e in failed} == {"os-user"}
    assert not any("wrong" in line for line in _dump(org))

    # Within the delay even the right password is not checked.
    clock.advance(-1)
    checked: list[object] = []

    def verify(*args: object) -> bool:
        checked.append(args)
        return True

    monkeypatch.setattr(passwords, "verify_password_hash", verify)
    with pytest.raises(SignInError) as waiting:
        org.sign_in("bob", PASSWORD)
    assert waiting.value.retry_after == pytest.approx(1)
    assert "Too many failed sign-ins" in str(waiting.value)
    assert checked == []
    monkeypatch.undo()

    # Another process (a restart) sees the same failures: they are in the trail.
    other = Database(org.path)
    other.clock = clock
    with pytest.raises(SignInError):
        other.sign_in("BOB", PASSWORD)
    other.close()

    clock.advance(1)
    org.sign_in("bob", PASSWORD)  # a success ends the run
    assert _sign_in_entries(org)[-1].operation == "signed in"
    with pytest.raises(SignInError) as again:
        org.sign_in("bob", "wrong")
    assert again.value.retry_after == 0


def test_failures_older_than_the_window_are_forgotten(org: Database, clock: Clock) -> None:
    for _ in range(4):
        with pytest.raises(SignInError) as refused:
            org.sign_in("nobody-here", "x")
        clock.advance(refused.value.retry_after)
    clock.advance(operators.FAILURE_WINDOW.total_seconds() + 1)
    with pytest.raises(SignInError) as fresh:
        org.sign_in("nobody-here", "x")
    assert fresh.value.retry_after == 0  # one failure in the window again


def test_a_read_only_file_counts_failures_in_the_process(org: Database, clock: Clock) -> None:
    org.close()
    ro = Database(org.path, read_only=True)
    ro.clock = clock
    before = _dump(org)
    retry: list[float] = []
    for _ in range(3):
        clock.advance(retry[-1] if retry else 0)
        with pytest.raises(SignInError) as refused:
            ro.sign_in("bob", "wrong")
        retry.append(refused.value.retry_after)
        assert "read-only" in str(refused.value)
    assert retry == [0, 1, 2]
    with pytest.raises(SignInError) as waiting:
        ro.sign_in("bob", PASSWORD)  # still waiting, counted in this process
    assert "this program only" in str(waiting.value)
    clock.advance(2)
    assert ro.sign_in("bob", PASSWORD).name == "bob"
    assert ro.sign_in_note is not None and "cannot be recorded" in ro.sign_in_note
    ro.close()
    assert _dump(org) == before


def test_a_busy_file_still_slows_sign_ins_down(org: Database, clock: Clock) -> None:
    """Another program holds the write lock: the attempt cannot be recorded, so it is
    counted in the process, and the sign-in itself still works."""
    assert org.path is not None
    busy = Database(org.path, busy_timeout=0.05)
    busy.clock = clock
    holder = sqlite3.connect(org.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(SignInError):
            busy.sign_in("bob", "wrong")
        with pytest.raises(SignInError) as second:
            busy.sign_in("bob", "wrong")
        assert second.value.retry_after == 1 and "(busy)" in str(second.value)
        with pytest.raises(SignInError):
            busy.sign_in("bob", PASSWORD)  # waiting, though nothing reached the trail
        clock.advance(1)
        assert busy.sign_in("bob", PASSWORD).name == "bob"
        assert busy.sign_in_note is not None and "busy" in busy.sign_in_note
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        busy.close()


# ---------------------------------------------------------------------- the setting


def test_existing_files_do_not_require_sign_in(db_path: Path) -> None:
    with Database(db_path, operator="os-user") as db:
        with db.engine.begin() as conn:
            downgrade(conn, "0008")
    with Database(db_path, operator="os-user") as db:
        assert db.backup_path is not None  # upgraded to 0009
        assert not operators.sign_in_required(db)
        assert db.access == OperatorAccess.unrestricted("os-user")
        with db.action("As before") as s:
            rbac.add_user(s, "erin")
        with db.read() as s:
            assert audit.audit_entries(s, 1)[0].operator == "os-user"


def test_sign_in_cannot_be_required_without_an_administrator(db: Database) -> None:
    with db.action("Users") as s:
        rbac.add_user(s, "alice")
    with db.read() as s:
        before = audit.audit_entries(s, 1000)
    with pytest.raises(EditFailed) as refused, db.action("Require sign-in") as s:
        changes.apply_edits(s, [SetSignInRequired(True)])
    assert isinstance(refused.value.cause, LockoutError)
    with db.read() as s:  # on any database (this test runs on PostgreSQL too)
        assert audit.audit_entries(s, 1000) == before  # refused: nothing written
    # An administrator without a password (or inactive) is no administrator either.
    with db.action("Set up") as s:
        changes.apply_edits(s, operators.setup_edits(s, "alice"))
    with pytest.raises(EditFailed), db.action("Require sign-in") as s:
        changes.apply_edits(s, [SetSignInRequired(True)])
    with db.action("Password") as s:
        rbac.get_user(s, "alice").password_hash = _hash()
        rbac.get_user(s, "alice").active = False
    with pytest.raises(EditFailed), db.action("Require sign-in") as s:
        changes.apply_edits(s, [SetSignInRequired(True)])
    assert not operators.sign_in_required(db)
    with db.action("Active") as s:
        rbac.get_user(s, "alice").active = True
    with db.action("Require sign-in") as s:
        changes.apply_edits(s, [SetSignInRequired(True)])
    assert operators.sign_in_required(db)
    if db.dialect == "sqlite":
        assert db.access == OperatorAccess.nobody()  # switched on: nobody until a sign-in
    else:  # the server login is the operator; it is no AccessGuard user here: no rights
        assert db.access.enforced and not db.access.actions


def test_the_last_administrator_cannot_be_removed(org: Database) -> None:
    org.sign_in("alice", PASSWORD)
    before = _dump(org)
    with pytest.raises(LockoutError), org.action("Leave") as s:
        rbac.deassign_user(s, "alice", ADMIN_ROLE)
    with pytest.raises(LockoutError), org.action("Deactivate") as s:
        rbac.get_user(s, "alice").active = False
    assert _dump(org) == before
    with org.action("A second administrator") as s:
        rbac.assign_user(s, "carol", ADMIN_ROLE)
    with org.action("Leave") as s:
        rbac.deassign_user(s, "alice", ADMIN_ROLE)


def test_every_operator_may_change_their_own_password_only(org: Database) -> None:
    org.sign_in("bob", PASSWORD)  # view alone
    new_hash = _hash("bob's new password")
    with org.action("My password") as s:
        changes.apply_edits(s, [SetPasswordHash("bob", new_hash)])
    with pytest.raises(EditFailed), org.action("My name") as s:
        changes.apply_edits(
            s, [Update(Entity.USER, _id(org, User, "bob"), None, {"email": "b@x.org"})]
        )
    with pytest.raises(EditFailed), org.action("Her password") as s:
        changes.apply_edits(s, [SetPasswordHash("alice", new_hash)])
    org.sign_out()
    assert org.sign_in("bob", "bob's new password").name == "bob"
    # The last administrator cannot remove their own password: nobody could sign in.
    org.sign_in("alice", PASSWORD)
    with pytest.raises(LockoutError), org.action("No password") as s:
        changes.apply_edits(s, [SetPasswordHash("alice", None)])


def test_setup_edits_skip_what_exists(org: Database) -> None:
    org.sign_in("alice", PASSWORD)
    with org.read() as s:
        assert operators.setup_edits(s, "alice") == []
        assert [e.describe() for e in operators.setup_edits(s, "carol")] == [
            f"Assign carol to {ADMIN_ROLE}"
        ]
    with org.read() as s:
        perms = {p.action for p in rbac.role_permissions(s, ADMIN_ROLE)}
    assert perms == {a.value for a in AppAction}


def test_switching_sign_in_off_is_audited(org: Database) -> None:
    org.sign_in("alice", PASSWORD)
    with org.action("Sign-in off") as s:
        changes.apply_edits(s, [SetSignInRequired(False)])
    assert not operators.sign_in_required(org)
    with org.read() as s:
        newest = audit.audit_entries(s, 1)[0]
    assert (newest.operator, newest.record_type, newest.record_key) == (
        "alice",
        "setting",
        "sign_in_required",
    )
    assert newest.after == {"value": "0"}
    org.sign_out()
    assert org.access == OperatorAccess.unrestricted("os-user")


# ---------------------------------------------------------------------- PostgreSQL


def test_on_postgresql_the_operator_is_the_server_login(pg_url: str) -> None:
    """No password sign-in there: the login is the operator, recorded as the trail's who;
    once sign-in is required its rights come from the records like anyone's."""
    with Database(pg_url) as db:
        with db.internal_session() as s:
            login = operators.session_user(s)
        assert db.access == OperatorAccess(login, True, False, operators.ALL_ACTIONS)
        with pytest.raises(SignInError, match="server login"):
            db.sign_in(login, "anything")
        with db.action("Set up") as s:
            rbac.add_user(s, login)
            rbac.get_user(s, login).password_hash = _hash()
            changes.apply_edits(s, operators.setup_edits(s, login))
            rbac.add_user(s, "erin")
        with db.read() as s:
            assert audit.audit_entries(s, 1)[0].operator == login
        with db.action("Require sign-in") as s:
            changes.apply_edits(s, [SetSignInRequired(True)])
        assert db.access.enforced and db.access.actions == operators.ALL_ACTIONS
    with Database(pg_url, operator="someone else") as db:  # a claim does not count now
        assert db.operator == login and db.access.enforced


def test_a_run_of_updates_is_gated_record_by_record(org: Database) -> None:
    """Saving many field changes at once takes a set-based path (core/edit_batches.py):
    an operator who may edit users saves a run of ordinary users' changes, and a run that
    also deactivates an operator (alice, an administrator) is refused whole."""
    _grant_bob(org, AppAction.EDIT_USERS)
    with org.action("Add users") as s:
        for n in range(8):
            rbac.add_user(s, f"temp{n}")
    ids = [_id(org, User, f"temp{n}") for n in range(8)]
    with org.action("Rename many") as s:
        changes.apply_edits(
            s, [Update(Entity.USER, i, None, {"display_name": f"T {i}"}) for i in ids]
        )
    with org.read() as s:
        assert {u.display_name for u in s.scalars(select(User).where(User.id.in_(ids)))} == {
            f"T {i}" for i in ids
        }
    before = _dump(org)
    run = [Update(Entity.USER, i, None, {"active": False}) for i in ids]
    run.insert(4, Update(Entity.USER, _id(org, User, "alice"), None, {"active": False}))
    with pytest.raises(EditFailed) as info, org.action("Deactivate many") as s:
        changes.apply_edits(s, run)
    assert isinstance(info.value.cause, OperatorPermissionError)
    assert _dump(org) == before


# ---------------------------------------------------------------------- set-based runs


def _fast_only(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """Edits may no longer go the ORM way (apply_edit fails): a save that succeeds went
    set-based. Returns how many runs went set-based since."""
    from accessguard_gui.core import edit_batches

    def no_orm(_session: Session, edit: Edit) -> None:
        raise AssertionError(f"the ORM path ran for {edit.describe()}")

    monkeypatch.setattr(changes, "apply_edit", no_orm)
    start = edit_batches.runs_applied
    return lambda: edit_batches.runs_applied - start


def _outcome(db: Database, edits: list[Edit]) -> tuple[int, type[Exception], str] | None:
    """Save ``edits`` in one action: None, or the failing index, error type and words."""
    try:
        with db.action("Save") as s:
            changes.apply_edits(s, edits)
    except EditFailed as failed:
        return failed.index, type(failed.cause), str(failed.cause)
    except LockoutError as error:
        return -1, LockoutError, str(error)
    return None


def _both_ways(
    db: Database, edits: list[Edit], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, type[Exception], str]:
    """The same save refused the same way set-based and record by record, the file
    unchanged by either; returns the refusal."""
    from accessguard_gui.core import edit_batches

    before = _dump(db)
    fast = _outcome(db, edits)
    assert _dump(db) == before
    with monkeypatch.context() as m:
        m.setattr(edit_batches, "run_length", lambda *_: 0)
        slow = _outcome(db, edits)
    assert _dump(db) == before
    assert fast == slow
    assert fast is not None
    return fast


_REFUSED = "Signed in as {name}, who may not {verb} (needs AccessGuard: {action})."


def _add(db: Database, users: int, *, assign: str | None = None) -> list[int]:
    db.sign_in("alice", PASSWORD)
    with db.action("Add users") as s:
        for n in range(users):
            rbac.add_user(s, f"temp{n}")
            if assign is not None and n % 2:
                rbac.assign_user(s, f"temp{n}", assign)
    return [_id(db, User, f"temp{n}") for n in range(users)]


def _user_versions(db: Database, ids: list[int]) -> dict[int, int]:
    with db.read() as s:
        return dict(s.execute(select(User.id, User.version).where(User.id.in_(ids))).all())


def _newest_operators(db: Database, count: int) -> set[str]:
    with db.read() as s:
        return {e.operator for e in audit.audit_entries(s, count)}


def test_runs_go_set_based_for_an_operator_who_may(
    org: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Updates, creates and deletes (with assignments) of users, and updates of roles,
    saved set-based by bob, who may edit users, assign and edit roles; the trail says
    bob did them."""
    ids = _add(org, 8, assign="Staff")
    for action in (AppAction.EDIT_USERS, AppAction.ASSIGN_ROLES, AppAction.EDIT_ROLES):
        _grant_bob(org, action)
    runs = _fast_only(monkeypatch)
    renames: list[Edit] = [Update(Entity.USER, i, None, {"display_name": f"T {i}"}) for i in ids]
    assert _outcome(org, renames) is None
    assert _newest_operators(org, 8) == {"bob"}
    creates: list[Edit] = [Create(Entity.USER, {"username": f"new{n}"}) for n in range(6)]
    assert _outcome(org, creates) is None
    assert _newest_operators(org, 6) == {"bob"}
    roles = [_id(org, Role, name) for name in ("staff", "auditor", "night", "manager")]
    described: list[Edit] = [Update(Entity.ROLE, r, None, {"description": "d"}) for r in roles]
    assert _outcome(org, described) is None
    deletes: list[Edit] = [Delete(Entity.USER, i, None) for i in ids]
    assert _outcome(org, deletes) is None
    assert _newest_operators(org, 12) == {"bob"}  # 8 users and 4 assignments
    assert runs() == 4
    with org.read() as s:
        assert s.scalar(select(User.id).where(User.id.in_(ids))) is None
        assert {u.username for u in s.scalars(select(User))} >= {f"new{n}" for n in range(6)}
        assert {r.description for r in s.scalars(select(Role).where(Role.id.in_(roles)))} == {"d"}


def test_an_operator_edits_operators_set_based_with_administer(
    org: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """alice administers: her own account and bob's go in a run like anyone's."""
    ids = _add(org, 4)
    ids[1:1] = [_id(org, User, "alice"), _id(org, User, "bob")]
    org.sign_in("alice", PASSWORD)
    runs = _fast_only(monkeypatch)
    renames: list[Edit] = [Update(Entity.USER, i, None, {"email": f"u{i}@x.org"}) for i in ids]
    assert _outcome(org, renames) is None
    assert runs() == 1 and _newest_operators(org, 6) == {"alice"}


def test_a_refused_run_is_refused_as_record_by_record(
    org: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every refusal of a set-based run is the ORM path's: the same edit, error and
    words, and the file unchanged."""
    ids = _add(org, 8, assign="Staff")
    alice, bob = _id(org, User, "alice"), _id(org, User, "bob")
    org.sign_in("bob", PASSWORD)  # view only
    renames: list[Edit] = [Update(Entity.USER, i, None, {"display_name": f"T {i}"}) for i in ids]
    edit_users = _REFUSED.format(name="bob", verb="edit users", action="edit-users")
    assert _both_ways(org, renames, monkeypatch) == (0, OperatorPermissionError, edit_users)
    creates: list[Edit] = [Create(Entity.USER, {"username": f"new{n}"}) for n in range(6)]
    assert _both_ways(org, creates, monkeypatch)[:2] == (0, OperatorPermissionError)

    _grant_bob(org, AppAction.EDIT_USERS)
    administer = _REFUSED.format(name="bob", verb="administer AccessGuard", action="administer")
    for operator, at in ((alice, 4), (bob, 2)):  # another operator; bob himself
        run = list(renames)
        run.insert(at, Update(Entity.USER, operator, None, {"display_name": "Op"}))
        assert _both_ways(org, run, monkeypatch) == (at, OperatorPermissionError, administer)
    # Unchanged values need nothing (no write); a bad value before the refusal is its own error.
    same = list(renames)
    same.insert(1, Update(Entity.USER, alice, None, {"active": True}))
    assert _outcome(org, same) is None
    bad = list(renames)
    bad.insert(1, Update(Entity.USER, ids[0], None, {"email": "not an address"}))
    bad.insert(3, Update(Entity.USER, alice, None, {"active": False}))
    assert _both_ways(org, bad, monkeypatch)[0] == 1

    # Deleting users with assignments needs assign roles too: the first one assigned.
    deletes: list[Edit] = [Delete(Entity.USER, i, None) for i in ids]
    assign = _REFUSED.format(name="bob", verb="assign roles", action="assign-roles")
    assert _both_ways(org, deletes, monkeypatch) == (1, OperatorPermissionError, assign)
    _grant_bob(org, AppAction.ASSIGN_ROLES)
    carol = _id(org, User, "carol")
    org.sign_in("alice", PASSWORD)
    with org.action("Give carol a role carrying AccessGuard's rights") as s:
        rbac.assign_user(s, "carol", "Viewers")  # bob may assign, but not this one
    org.sign_in("bob", PASSWORD)
    doomed = [*deletes[:3], Delete(Entity.USER, carol, None), *deletes[3:]]
    assert _both_ways(org, doomed, monkeypatch) == (3, OperatorPermissionError, administer)


def test_a_refused_run_of_roles_and_resources_needs_administer(
    org: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AccessGuard's own role and resource inside a run of description changes."""
    org.sign_in("alice", PASSWORD)
    with org.action("More resources") as s:
        for name in ("Gate", "Lift", "Safe"):
            rbac.add_resource(s, name)
        resource_ids = [rbac.get_resource(s, n).id for n in ("Door", "Gate", "Lift", "Safe")]
        app_id = rbac.get_resource(s, APP_RESOURCE).id
    _grant_bob(org, AppAction.EDIT_ROLES)
    administer = _REFUSED.format(name="bob", verb="administer AccessGuard", action="administer")
    roles = [_id(org, Role, n) for n in ("staff", "auditor", "night", "manager")]
    run: list[Edit] = [Update(Entity.ROLE, r, None, {"description": "d"}) for r in roles]
    run.insert(2, Update(Entity.ROLE, _id(org, Role, "viewers"), None, {"description": "d"}))
    assert _both_ways(org, run, monkeypatch) == (2, OperatorPermissionError, administer)
    things: list[Edit] = [
        Update(Entity.RESOURCE, r, None, {"description": "d"}) for r in resource_ids
    ]
    things.insert(3, Update(Entity.RESOURCE, app_id, None, {"description": "d"}))
    assert _both_ways(org, things, monkeypatch) == (3, OperatorPermissionError, administer)
    runs = _fast_only(monkeypatch)
    assert _outcome(org, run[:2] + run[3:]) is None  # without AccessGuard's own: saved
    assert runs() == 1


def test_a_run_cannot_remove_the_last_administrator(
    org: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """alice deactivating herself in a run: the commit refuses it as it does for one edit."""
    ids = _add(org, 4)
    ids.insert(2, _id(org, User, "alice"))
    org.sign_in("alice", PASSWORD)
    run: list[Edit] = [Update(Entity.USER, i, None, {"active": False}) for i in ids]
    refused = _both_ways(org, run, monkeypatch)
    assert refused[:2] == (-1, LockoutError)


def test_runs_on_postgresql_are_gated_as_record_by_record(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL the fast path sends ORM statements (the gate's statement hook lets a
    checked run through): the login administers and saves set-based; erin, who may edit
    users only, is refused as record by record."""
    from accessguard_gui.core import edit_batches

    with Database(pg_url) as db:
        with db.internal_session() as s:
            login = operators.session_user(s)
        with db.action("Set up") as s:
            rbac.add_user(s, login)
            rbac.get_user(s, login).password_hash = _hash()
            changes.apply_edits(s, operators.setup_edits(s, login))
            _role_with(s, "Editors", [AppAction.VIEW, AppAction.EDIT_USERS])
            rbac.add_user(s, "erin")
            rbac.assign_user(s, "erin", "Editors")
            rbac.add_role(s, "Staff")
            for n in range(8):
                rbac.add_user(s, f"temp{n}")
                if n % 2:
                    rbac.assign_user(s, f"temp{n}", "Staff")
            changes.apply_edits(s, [SetSignInRequired(True)])
        with db.read() as s:
            ids = [rbac.get_user(s, f"temp{n}").id for n in range(8)]
            me = rbac.get_user(s, login).id
        assert db.access.enforced
        renames: list[Edit] = [Update(Entity.USER, i, None, {"email": f"u{i}@x.org"}) for i in ids]
        with monkeypatch.context() as m:
            runs = _fast_only(m)
            own = Update(Entity.USER, me, None, {"email": "a@x.org"})  # administer: saved
            assert _outcome(db, [*renames[:3], own]) is None
            assert _outcome(db, renames) is None
            assert (
                _outcome(db, [Create(Entity.USER, {"username": f"new{n}"}) for n in range(5)])
                is None
            )
            assert runs() == 3
        with db.read() as s:
            assert audit.audit_entries(s, 1)[0].operator == login
        db.become(OperatorAccess("erin", True, True, frozenset()))  # rights read per action
        creates: list[Edit] = [Create(Entity.USER, {"username": f"more{n}"}) for n in range(5)]
        with monkeypatch.context() as m:
            runs = _fast_only(m)
            assert _outcome(db, creates) is None and runs() == 1
        with db.read() as s:
            assert audit.audit_entries(s, 1)[0].operator == "erin"
        administer = _REFUSED.format(
            name="erin", verb="administer AccessGuard", action="administer"
        )
        assign = _REFUSED.format(name="erin", verb="assign roles", action="assign-roles")
        for edits, refused in (
            (
                [*renames[:2], Update(Entity.USER, me, None, {"email": "b@x.org"}), *renames[2:]],
                (2, administer),
            ),
            ([Delete(Entity.USER, i, None) for i in ids], (1, assign)),
        ):
            fast = _outcome(db, edits)
            with monkeypatch.context() as m:
                m.setattr(edit_batches, "run_length", lambda *_: 0)
                assert _outcome(db, edits) == fast
            assert fast == (refused[0], OperatorPermissionError, refused[1])
