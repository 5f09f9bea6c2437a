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
