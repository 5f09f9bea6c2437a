"""Pending edits applied in one action: all or nothing, the failing edit named."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import event, text

from accessguard_gui.core import audit, passwords, rbac
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
    apply_edits,
)
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import (
    ConflictError,
    CycleError,
    DuplicateError,
    NotFoundError,
    SeparationOfDutyError,
    ValidationError,
)
from accessguard_gui.core.integrity import verify_audit_chain
from accessguard_gui.core.rows import UserRow

from .reference import snapshot

EXPIRY = datetime(2031, 1, 31, 17, 0, tzinfo=UTC)


@pytest.fixture
def org(db: Database) -> Database:
    with db.action("setup") as s:
        rbac.add_user(s, "alice", "Alice")
        rbac.add_user(s, "bob")
        rbac.add_role(s, "Staff")
        rbac.add_role(s, "Boss")
        rbac.add_resource(s, "Door")
        rbac.add_permission(s, "Door", "open")
        rbac.grant_permission(s, "Staff", ("Door", "open"))
        rbac.assign_user(s, "bob", "Staff")
        rbac.add_inheritance(s, "Boss", "Staff")
    return db


def test_every_kind_of_edit_is_applied_in_one_save(org: Database) -> None:
    with org.read() as s:
        alice = rbac.get_user(s, "alice")
        alice_id, alice_version = alice.id, alice.version
        bob_id = rbac.get_user(s, "bob").id
    hashed = passwords.hash_password("a long passphrase")
    edits: list[Edit] = [
        Create(Entity.USER, {"username": "carol", "display_name": "Carol", "email": "c@x.org"}),
        Create(Entity.ROLE, {"name": "Auditor", "description": "Reads"}),
        Create(Entity.RESOURCE, {"name": "Safe"}),
        Create(Entity.PERMISSION, {"resource": "Safe", "action": "open"}),
        Update(Entity.USER, alice_id, alice_version, {"display_name": "Alice S."}, "alice"),
        Assign("carol", "Auditor", EXPIRY),
        Grant("Auditor", ("Safe", "open")),
        Inherit("Boss", "Auditor"),
        Uninherit("Boss", "Staff"),
        Revoke("Staff", ("Door", "open")),
        Deassign("bob", "Staff"),
        SetExpiry("carol", "Auditor", None, 1),
        SetPasswordHash("carol", hashed),
        Delete(Entity.USER, bob_id, 1, "bob"),
    ]
    with org.action("Save") as s:
        apply_edits(s, edits)
    with org.read() as s:
        assert rbac.get_user(s, "alice").display_name == "Alice S."
        carol = rbac.get_user(s, "carol")
        assert (carol.display_name, carol.email, carol.password_hash) == (
            "Carol",
            "c@x.org",
            hashed,
        )
        assert rbac.verify_password(s, "carol", "a long passphrase")
        assert [(a.role, a.expires_at) for a in rbac.assigned_roles(s, "carol")] == [
            ("Auditor", None)
        ]
        assert rbac.check_access(s, "carol", "Safe", "open").allowed
        assert [r.name for r in rbac.inherits_from(s, "Boss")] == ["Auditor"]
        assert rbac.role_permissions(s, "Staff") == []
        with pytest.raises(NotFoundError):
            rbac.get_user(s, "bob")
        saved = audit.audit_entries(s, limit=100)
    saved = [e for e in saved if e.action == "Save"]
    assert {e.record_type for e in saved} == {
        "user",
        "role",
        "resource",
        "permission",
        "assignment",
        "grant",
        "inheritance",
    }
    assert ("delete", "user", "bob") in {(e.operation, e.record_type, e.record_key) for e in saved}
    password_set = [e for e in saved if e.operation == "update" and e.record_key == "carol"]
    assert [(e.before, e.after) for e in password_set] == [
        ({"password_hash": None}, {"password_hash": "(set)"})
    ]


def test_one_refused_edit_refuses_the_whole_save(org: Database) -> None:
    with org.read() as s:
        before = snapshot(s)
    edits: list[Edit] = [
        Create(Entity.ROLE, {"name": "Auditor"}),
        Assign("alice", "Auditor"),
        Create(Entity.ROLE, {"name": "staff"}),  # duplicate of Staff
        Assign("alice", "Staff"),
    ]
    with pytest.raises(EditFailed) as info, org.action("Save") as s:
        apply_edits(s, edits)
    err = info.value
    assert err.index == 2
    assert err.edit is edits[2]
    assert isinstance(err.cause, DuplicateError)
    assert str(err) == "Add role staff: A role named \u201cstaff\u201d already exists."
    with org.read() as s:
        assert snapshot(s) == before  # nothing written, no audit entries either


@pytest.mark.parametrize(
    ("edit", "cause"),
    [
        (Create(Entity.USER, {"username": "bad name"}), ValidationError),
        (Inherit("Staff", "Boss"), CycleError),
        (Deassign("alice", "Staff"), NotFoundError),
        (Grant("Staff", ("Door", "open")), DuplicateError),
        (Assign("alice", "Nobody"), NotFoundError),
        (SetExpiry("bob", "Staff", EXPIRY, version=5), ConflictError),
    ],
)
def test_edit_failed_carries_the_cause(org: Database, edit: Edit, cause: type) -> None:
    with pytest.raises(EditFailed) as info, org.action("Save") as s:
        apply_edits(s, [Create(Entity.ROLE, {"name": "Fine"}), edit])
    assert info.value.index == 1
    assert isinstance(info.value.cause, cause)
    assert str(info.value).endswith(info.value.cause.message)
    with org.read() as s, pytest.raises(NotFoundError):
        rbac.get_role(s, "Fine")


def test_a_stale_version_is_a_conflict_with_the_current_values(org: Database) -> None:
    with org.read() as s:
        loaded = UserRow.of(rbac.get_user(s, "alice"))
    with org.action("Someone else saves") as s:
        rbac.update_user(s, "alice", display_name="Alice (theirs)", email="theirs@x.org")
    with pytest.raises(EditFailed) as info, org.action("I save") as s:
        apply_edits(
            s,
            [Update(Entity.USER, loaded.id, loaded.version, {"display_name": "Mine"}, "alice")],
        )
    conflict = info.value.cause
    assert isinstance(conflict, ConflictError)
    assert conflict.theirs == {
        "username": "alice",
        "display_name": "Alice (theirs)",
        "email": "theirs@x.org",
        "active": True,
        "version": 2,
    }
    assert str(info.value) == (
        "Change user alice: display name \u2192 Mine: The user alice was changed by someone else since "
        "you loaded it."
    )
    with org.read() as s:
        assert rbac.get_user(s, "alice").display_name == "Alice (theirs)"


def test_a_stale_delete_is_a_conflict(org: Database) -> None:
    with org.read() as s:
        role = rbac.get_role(s, "Boss")
        role_id, version = role.id, role.version
    with org.action("Someone else") as s:
        rbac.update_role(s, "Boss", description="changed")
    with pytest.raises(EditFailed) as info, org.action("Save") as s:
        apply_edits(s, [Delete(Entity.ROLE, role_id, version, "Boss")])
    assert isinstance(info.value.cause, ConflictError)
    assert info.value.cause.theirs == {"name": "Boss", "description": "changed", "version": 2}


def test_editing_a_record_deleted_meanwhile_is_a_conflict(org: Database) -> None:
    with org.read() as s:
        bob_id = rbac.get_user(s, "bob").id
    with org.action("Someone else") as s:
        rbac.delete_user(s, "bob")
    with pytest.raises(EditFailed) as info, org.action("Save") as s:
        apply_edits(s, [Update(Entity.USER, bob_id, 1, {"active": False}, "bob")])
    assert isinstance(info.value.cause, ConflictError)
    assert info.value.cause.theirs is None
    assert str(info.value.cause) == "The user bob was deleted by someone else since you loaded it."
    with pytest.raises(EditFailed) as deleting, org.action("Save") as s:
        apply_edits(s, [Delete(Entity.USER, bob_id, 1)])
    assert str(deleting.value.cause) == (
        f"The user #{bob_id} was deleted by someone else since you loaded it."
    )


def test_descriptions_for_the_pending_list() -> None:
    assert Create(Entity.USER, {"username": "carol"}).describe() == "Add user carol"
    assert Create(Entity.PERMISSION, {"resource": "Door", "action": "open"}).describe() == (
        "Add permission open"
    )
    assert Update(Entity.ROLE, 3, 1, {"name": "X", "description": ""}).describe() == (
        "Change role #3: name \u2192 X; description \u2192 (empty)"
    )
    assert Delete(Entity.RESOURCE, 4, 1, "Door").describe() == "Delete resource Door"
    assert Assign("alice", "Staff").describe() == "Assign alice to Staff"
    assert Deassign("alice", "Staff").describe() == "Remove alice from Staff"
    assert SetExpiry("alice", "Staff", EXPIRY).describe() == (
        "Set expiry of alice \u2192 Staff to 2031-01-31"
    )
    assert SetExpiry("alice", "Staff", None).describe().endswith("to never")
    assert Grant("Staff", ("Door", "open")).describe() == "Grant Door: open to Staff"
    assert Revoke("Staff", 7).describe() == "Revoke permission #7 from Staff"
    assert Inherit("Boss", "Staff").describe() == "Boss inherits from Staff"
    assert Uninherit("Boss", "Staff").describe() == "Boss no longer inherits from Staff"
    assert SetPasswordHash("alice", "$argon2id$secret").describe() == "Set password of alice"
    assert SetPasswordHash("alice", None).describe() == "Remove password of alice"
    assert "secret" not in repr(SetPasswordHash("alice", "$argon2id$secret"))


def test_a_refused_save_leaves_nothing_even_if_the_caller_goes_on(org: Database) -> None:
    """A window may catch EditFailed inside its action to show it; the edits before the
    failing one must not be committed by the same action."""
    with org.read() as s:
        before = snapshot(s)
    with org.action("Save") as s:
        with pytest.raises(EditFailed) as info:
            apply_edits(
                s,
                [
                    Create(Entity.ROLE, {"name": "Auditor"}),
                    Update(Entity.ROLE, rbac.get_role(s, "Boss").id, None, {"description": "x"}),
                    Assign("alice", "Nobody"),
                ],
            )
        assert info.value.index == 2
        assert snapshot(s) == before
    with org.read() as s:
        assert snapshot(s) == before


@pytest.mark.parametrize(
    ("entity", "field"),
    [
        (Entity.USER, "nickname"),
        (Entity.ROLE, "username"),
        (Entity.RESOURCE, "expected_version"),
        (Entity.PERMISSION, "name"),
    ],
)
def test_an_update_of_an_unknown_field_is_a_validation_error_naming_it(
    org: Database, entity: Entity, field: str
) -> None:
    with org.read() as s:
        record_id = {
            Entity.USER: lambda: rbac.get_user(s, "alice").id,
            Entity.ROLE: lambda: rbac.get_role(s, "Staff").id,
            Entity.RESOURCE: lambda: rbac.get_resource(s, "Door").id,
            Entity.PERMISSION: lambda: rbac.get_permission(s, ("Door", "open")).id,
        }[entity]()
        before = snapshot(s)
    with pytest.raises(EditFailed) as info, org.action("Save") as s:
        apply_edits(s, [Update(entity, record_id, None, {field: "x"}, "it")])
    cause = info.value.cause
    assert isinstance(cause, ValidationError)
    assert cause.field == field
    assert f"\u201c{field}\u201d" in cause.message and entity.value in cause.message
    with org.read() as s:
        assert snapshot(s) == before


VALID_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzYWx0$RdescudvJCsgt3ub+b+dWRWJTmaaJObGzMtqMA"
)


@pytest.mark.parametrize(
    "value",
    [
        "a plain password",
        "",
        "$argon2id$secret",
        "$argon2id$v=19$m=65536,t=3,p=4",  # no salt, no hash
        "$argon2id$v=19$m=65536,t=3,p=4$$",  # empty salt and hash
        "$argon2d$v=19$m=65536,t=3,p=4$c29tZXNhbHRzYWx0$RdescudvJCsgt3ub+b+dWRWJTmaaJObGzMtqMA",
        "$argon2id$v=16$m=65536,t=3,p=4$c29tZXNhbHRzYWx0$RdescudvJCsgt3ub+b+dWRWJTmaaJObGzMtqMA",
        "$argon2id$v=19$m=65536,t=0,p=4$c29tZXNhbHRzYWx0$RdescudvJCsgt3ub+b+dWRWJTmaaJObGzMtqMA",
        "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzYWx0$RdescudvJCsgt3ub+b+dWRWJTmaaJObGzMtqMA\n",
        "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzYWx0$Rdes cudvJCsgt3ub+b+dWRWJTmaaJObGzMtq",
        "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzYWx0$RdescudvJCsgt3ub+b+dWRWJTmaaJObGzMtqMA=",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",  # bcrypt
    ],
)
def test_a_password_hash_must_be_a_well_formed_argon2_phc_string(org: Database, value: str) -> None:
    with org.read() as s:
        before = snapshot(s)
    with pytest.raises(EditFailed) as info, org.action("Save") as s:
        apply_edits(s, [SetPasswordHash("alice", value)])
    cause = info.value.cause
    assert isinstance(cause, ValidationError)
    assert cause.field == "password_hash"
    assert value not in cause.message or not value  # a password is never echoed back
    with org.read() as s:
        assert snapshot(s) == before


@pytest.mark.parametrize(
    "value",
    [
        VALID_HASH,
        VALID_HASH.replace("$argon2id$", "$argon2i$"),
        passwords.hash_password("correct horse battery staple"),
    ],
)
def test_well_formed_argon2_hashes_are_stored(org: Database, value: str) -> None:
    with org.action("Save") as s:
        apply_edits(s, [SetPasswordHash("alice", value), SetPasswordHash("bob", None)])
    with org.read() as s:
        assert rbac.get_user(s, "alice").password_hash == value
        assert rbac.get_user(s, "bob").password_hash is None


# ---------------------------------------------------------------------- separation of duty


@pytest.fixture
def sod(org: Database) -> Database:
    with org.action("setup sod") as s:
        for name in ("Payer", "Approver", "Clerk"):
            rbac.add_role(s, name)
        rbac.create_ssd_set(s, "Pay apart", ["Payer", "Approver"], 2, "Nobody pays and approves")
    return org


def _ssd_id(db: Database, name: str) -> int:
    with db.read() as s:
        return rbac.get_ssd_set(s, name).id


def test_ssd_edits_are_applied_with_the_rules_and_audited(sod: Database) -> None:
    set_id = _ssd_id(sod, "Pay apart")
    edits: list[Edit] = [
        CreateSsdSet("Keys apart", ("Staff", "Clerk"), 2, "Door keys"),
        AddSsdRole(set_id, "Clerk", "Pay apart"),
        ChangeSsdSet(
            set_id,
            {"name": "Payments apart", "description": "", "cardinality": 3},
            {"name": "Pay apart", "description": "Nobody pays and approves", "cardinality": 2},
            "Pay apart",
        ),
        ChangeSsdSet(set_id, {"cardinality": 2}, {"cardinality": 3}, "Payments apart"),
        RemoveSsdRole(set_id, "Clerk", "Payments apart"),
    ]
    with sod.action("Save") as s:
        apply_edits(s, edits)
    with sod.read() as s:
        sets = {r.name: r for r in rbac.ssd_role_sets(s)}
        entries = [e for e in audit.audit_entries(s, limit=100) if e.action == "Save"]
    assert set(sets) == {"Keys apart", "Payments apart"}
    assert sets["Keys apart"].roles == ("Clerk", "Staff")
    assert sets["Keys apart"].description == "Door keys"
    renamed = sets["Payments apart"]
    assert (renamed.roles, renamed.cardinality, renamed.description) == (
        ("Approver", "Payer"),
        2,
        "",
    )
    assert {e.record_type for e in entries} == {"ssd_set", "ssd_member"}
    assert ("update", "ssd_set") in {(e.operation, e.record_type) for e in entries}
    with sod.action("Delete") as s:
        apply_edits(s, [DeleteSsdSet(set_id, "Payments apart")])
    with sod.read() as s:
        assert [r.name for r in rbac.ssd_role_sets(s)] == ["Keys apart"]
        deleted = [e for e in audit.audit_entries(s, limit=100) if e.action == "Delete"]
    assert ("delete", "ssd_set", "Payments apart") in {
        (e.operation, e.record_type, e.record_key) for e in deleted
    }


@pytest.mark.parametrize(
    ("edit", "cause", "words"),
    [
        # Accepted: bob holds Staff, nobody holds Boss (or Staff through it).
        (CreateSsdSet("Door apart", ("Boss", "Staff"), 2), None, ""),
        (CreateSsdSet("pay APART", ("Staff", "Clerk"), 2), DuplicateError, "already exists"),
        (CreateSsdSet("Too tight", ("Staff", "Clerk"), 3), ValidationError, "larger than"),
        (RemoveSsdRole("Pay apart", "Payer"), ValidationError, "delete the set instead"),
        (AddSsdRole("Pay apart", "Payer"), DuplicateError, "already in the set"),
        (
            ChangeSsdSet("Pay apart", {"name": "<h1>x</h1>"}, {"name": "Pay apart"}),
            ValidationError,
            "may contain",
        ),
        (ChangeSsdSet("Pay apart", {"colour": "red"}, {}), ValidationError, "\u201ccolour\u201d"),
        (DeleteSsdSet("No such set"), NotFoundError, "No such set"),
    ],
)
def test_ssd_edits_are_refused_by_the_rules(
    sod: Database, edit: Edit, cause: type | None, words: str
) -> None:
    with sod.read() as s:
        before = snapshot(s)
        sets_before = rbac.ssd_role_sets(s)
    if cause is None:
        with sod.action("Save") as s:
            apply_edits(s, [edit])
        return
    with pytest.raises(EditFailed) as info, sod.action("Save") as s:
        apply_edits(s, [edit])
    assert isinstance(info.value.cause, cause)
    assert words in info.value.cause.message
    with sod.read() as s:
        assert snapshot(s) == before and rbac.ssd_role_sets(s) == sets_before


def test_a_set_some_user_would_break_is_refused_naming_the_user(sod: Database) -> None:
    with sod.action("bob pays") as s:
        rbac.assign_user(s, "bob", "Payer")
    with pytest.raises(EditFailed) as info, sod.action("Save") as s:
        apply_edits(s, [CreateSsdSet("Staff or pay", ("Staff", "Payer"), 2)])
    assert isinstance(info.value.cause, SeparationOfDutyError)
    assert "bob" in info.value.cause.message


def test_a_set_changed_meanwhile_is_a_conflict(sod: Database) -> None:
    set_id = _ssd_id(sod, "Pay apart")
    with sod.action("Someone else") as s:
        rbac.update_ssd_set(s, set_id, description="theirs")
    edit = ChangeSsdSet(
        set_id, {"description": "mine"}, {"description": "Nobody pays and approves"}, "Pay apart"
    )
    with pytest.raises(EditFailed) as info, sod.action("Save") as s:
        apply_edits(s, [edit])
    conflict = info.value.cause
    assert isinstance(conflict, ConflictError)
    assert conflict.theirs is not None and conflict.theirs["description"] == "theirs"
    assert "separation-of-duty set Pay apart was changed by someone else" in conflict.message


def test_ssd_edits_describe_old_and_new_values() -> None:
    assert CreateSsdSet("Pay apart", ("Payer", "Approver"), 2).describe() == (
        "Create separation-of-duty set Pay apart: fewer than 2 of Payer, Approver"
    )
    assert ChangeSsdSet(
        4,
        {"name": "Payments apart", "cardinality": 3, "description": "x"},
        {"name": "Pay apart", "cardinality": 2, "description": ""},
        "Pay apart",
    ).describe() == (
        "Change separation-of-duty set Pay apart: name Pay apart \u2192 Payments apart; "
        "description \u201c\u201d \u2192 \u201cx\u201d; limit fewer than 2 \u2192 fewer than 3"
    )
    assert AddSsdRole(4, "Clerk", "Pay apart").describe() == (
        "Add role Clerk to separation-of-duty set Pay apart"
    )
    assert RemoveSsdRole(4, "Clerk", "Pay apart").describe() == (
        "Remove role Clerk from separation-of-duty set Pay apart"
    )
    assert DeleteSsdSet(4, "Pay apart").describe() == "Delete separation-of-duty set Pay apart"


def test_review_lists_ssd_edits_as_no_change_in_access(sod: Database) -> None:
    from accessguard_gui.core import impact

    set_id = _ssd_id(sod, "Pay apart")
    edits: list[Edit] = [
        CreateSsdSet("Keys apart", ("Staff", "Clerk"), 2),
        ChangeSsdSet(set_id, {"description": "x"}, {"description": "Nobody pays and approves"}),
        Grant("Boss", ("Door", "open")),
    ]
    report = impact.review(sod, edits)
    assert report.ok
    assert [e.description for e in report.per_edit] == [e.describe() for e in edits]
    assert not any(e.changes_access for e in report.per_edit)
    with sod.read() as s:
        assert [r.name for r in rbac.ssd_role_sets(s)] == ["Pay apart"]  # rolled back


def test_a_role_swap_with_a_new_limit_is_one_step_checked_once(sod: Database) -> None:
    """bob holds Staff and Payer: adding Staff to the set under its limit 2 is refused,
    adding it while raising the limit to 3 is fine — as one step, checked once."""
    set_id = _ssd_id(sod, "Pay apart")
    with sod.action("bob pays") as s:
        rbac.assign_user(s, "bob", "Payer")
    edit = ChangeSsdSet(
        set_id,
        {"roles": ("Payer", "Approver", "Staff"), "cardinality": 3},
        {"roles": ("Approver", "Payer"), "cardinality": 2},
        "Pay apart",
    )
    with pytest.raises(EditFailed), sod.action("Save") as s:
        apply_edits(s, [AddSsdRole(set_id, "Staff", "Pay apart")])  # bob: Staff + Payer
    with sod.action("Save") as s:
        apply_edits(s, [edit])
    with sod.read() as s:
        (row,) = rbac.ssd_role_sets(s)
        members = [e for e in audit.audit_entries(s, limit=50) if e.record_type == "ssd_member"]
    assert (row.roles, row.cardinality) == (("Approver", "Payer", "Staff"), 3)
    assert edit.describe() == (
        "Change separation-of-duty set Pay apart: roles Approver, Payer \u2192 Payer, "
        "Approver, Staff; limit fewer than 2 \u2192 fewer than 3"
    )
    assert any(e.operation == "insert" and e.action == "Save" for e in members)
    # The roles the user saw, in another order, are no conflict; other roles are.
    reordered = ChangeSsdSet(
        set_id,
        {"roles": ("Payer", "Approver", "Staff", "Clerk")},
        {"roles": ("Staff", "Payer", "Approver")},
        "Pay apart",
    )
    stale = ChangeSsdSet(
        set_id, {"roles": ("Payer", "Approver", "Staff")}, {"roles": ("Payer", "Approver")}
    )
    with sod.action("Save") as s:
        apply_edits(s, [reordered])
    with pytest.raises(EditFailed) as info, sod.action("Save") as s:
        apply_edits(s, [stale])
    assert isinstance(info.value.cause, ConflictError)


# ---------------------------------------------------------------------- set-based runs


def _people(db: Database, n: int) -> list[tuple[int, int, str]]:
    with db.action("people") as s:
        for k in range(n):
            rbac.add_user(s, f"user{k:02d}", f"User {k}", email=f"u{k}@example.org")
    with db.read() as s:
        rows = s.execute(
            rbac.select(rbac.User.id, rbac.User.version, rbac.User.username)
            .where(rbac.User.username.like("user%"))
            .order_by(rbac.User.username)
        ).all()
    return [(r[0], r[1], r[2]) for r in rows]


def _users_and_trail(db: Database) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    with db.read() as s:
        users = [
            tuple(r)
            for r in s.execute(
                rbac.select(
                    rbac.User.username,
                    rbac.User.display_name,
                    rbac.User.email,
                    rbac.User.active,
                    rbac.User.version,
                ).order_by(rbac.User.username)
            )
        ]
        trail = [
            (e.operation, e.record_type, e.record_key, e.before, e.after, e.action, e.operator)
            for e in sorted(audit.audit_entries(s, limit=10_000), key=lambda e: e.id)
            if e.action.startswith("Save")
        ]
    return users, trail


def _save(db: Database, edits: list[Edit], one_by_one: bool = False) -> None:
    with db.action("Save") as s:
        if one_by_one:  # the ORM path, an edit at a time: what the fast path must equal
            for edit in edits:
                apply_edits(s, [edit], savepoint=False)
        else:
            apply_edits(s, edits, savepoint=False)


def test_a_run_of_field_updates_writes_what_the_orm_path_writes(
    tmp_path: pytest.TempPathFactory,
) -> None:
    """Set-based (one read, one executemany) and one ORM flush per edit leave the same
    users, versions and audit entries."""
    results = []
    for one_by_one in (False, True):
        db = Database(tmp_path / f"run{one_by_one}.db", operator="tester")  # type: ignore[operator]
        try:
            people = _people(db, 12)
            edits: list[Edit] = [
                Update(Entity.USER, uid, version, {"display_name": f"Renamed {name}"}, name)
                for uid, version, name in people[:6]
            ]
            uid, version, name = people[6]
            edits.append(Update(Entity.USER, uid, version, {"email": "", "active": False}, name))
            uid, version, name = people[7]
            edits.append(Update(Entity.USER, uid, version, {"display_name": "User 7"}, name))
            uid, version, name = people[8]
            edits.append(Update(Entity.USER, uid, None, {"display_name": " Padded  "}, name))
            _save(db, edits, one_by_one)
            results.append(_users_and_trail(db))
        finally:
            db.close()
    (users, trail), (orm_users, orm_trail) = results
    assert users == orm_users
    assert trail == orm_trail
    assert len(trail) == 8  # user07's display name was already "User 7": no entry
    assert ("user06", "User 6", None, False, 2) in users


def _refused_at(db: Database, edits: list[Edit], index: int, cause: type) -> None:
    """Saving ``edits`` fails at ``index`` with ``cause`` and leaves every table as it was."""
    with db.read() as s:
        before = snapshot(s)
    with pytest.raises(EditFailed) as failed:
        _save(db, edits)
    assert failed.value.index == index
    assert isinstance(failed.value.cause, cause)
    with db.read() as s:
        assert snapshot(s) == before


@pytest.mark.parametrize(
    ("bad", "cause"),
    [
        (5, ConflictError),  # edit 5 was made on an older version of its user
        (3, ValidationError),  # edit 3 empties a display name
    ],
)
def test_a_refused_edit_in_a_run_is_named_by_its_index(
    org: Database, bad: int, cause: type
) -> None:
    people = _people(org, 8)
    edits: list[Edit] = []
    for k, (uid, version, name) in enumerate(people):
        stale = version + 1 if k == bad and cause is ConflictError else version
        value = "" if k == bad and cause is ValidationError else "Y"
        edits.append(Update(Entity.USER, uid, stale, {"display_name": value}, name))
    _refused_at(org, edits, bad, cause)


def test_a_run_sees_the_edits_before_it_and_the_session_sees_the_run(org: Database) -> None:
    """A record changed by an earlier edit of the same save is read as changed; objects the
    session already holds show the run's values afterwards."""
    people = _people(org, 6)
    uid, version, name = people[0]
    first = Update(Entity.USER, uid, version, {"display_name": "First"}, name)
    run: list[Edit] = [
        Update(Entity.USER, i, v + (1 if i == uid else 0), {"display_name": f"Run {n}"}, n)
        for i, v, n in people
    ]
    with org.action("Save") as s:
        held = s.get(rbac.User, uid)
        assert held is not None
        apply_edits(s, [first], savepoint=False)
        apply_edits(s, run, savepoint=False)
        assert held.display_name == f"Run {name}" and held.version == version + 2
    _users, trail = _users_and_trail(org)
    assert [t[4] for t in trail if t[2] == name] == [
        {"display_name": "First"},
        {"display_name": f"Run {name}"},
    ]


def _everything(db: Database) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Users (all but their times), assignments and the save's trail, times left out:
    what the set-based paths must write exactly as the ORM path does."""
    users, trail = _users_and_trail(db)
    with db.read() as s:
        rows = s.execute(
            text(
                "SELECT u.id, u.username, u.username_key, u.username_skeleton, u.password_hash,"
                " (SELECT group_concat(r.name || '@' || coalesce(ur.expires_at, '-'), ',')"
                "  FROM user_roles ur JOIN roles r ON r.id = ur.role_id"
                "  WHERE ur.user_id = u.id) FROM users u ORDER BY u.id"
            )
        ).all()
    timeless = [
        tuple(
            {k: ("<time>" if k in ("created_at", "granted_at") else v) for k, v in side.items()}
            if isinstance(side, dict)
            else side
            for side in entry
        )
        for entry in trail
    ]
    return [*users, *(tuple(r) for r in rows)], timeless


def _two_ways(tmp_path: pytest.TempPathFactory, make: object) -> list[tuple[object, ...]]:
    """Run ``make(db)`` (which returns the edits to save) on two fresh files, saving set
    based on one and an edit at a time (the ORM path) on the other; returns both
    results of ``_everything``."""
    results = []
    tmp_path.mkdir(parents=True, exist_ok=True)  # type: ignore[attr-defined]
    for one_by_one in (False, True):
        db = Database(tmp_path / f"two{one_by_one}.db", operator="tester")  # type: ignore[operator]
        try:
            edits = make(db)  # type: ignore[operator]
            _save(db, edits, one_by_one)
            results.append(_everything(db))
            assert verify_audit_chain(db).broken_count == 0
            with db.read() as s:  # the users' search index still matches the table
                s.execute(text("INSERT INTO search_users(search_users) VALUES ('integrity-check')"))
        finally:
            db.close()
    return results


def test_a_run_of_user_creates_writes_what_the_orm_path_writes(
    tmp_path: pytest.TempPathFactory,
) -> None:
    def make(db: Database) -> list[Edit]:
        _people(db, 3)
        return [
            Create(Entity.USER, {"username": "new.one", "active": True}),
            Create(Entity.USER, {"username": " Padded ", "display_name": " Shown  "}),
            Create(Entity.USER, {"username": "mail", "email": "m@example.org", "active": False}),
            Create(Entity.USER, {"username": "Erika", "display_name": "", "email": ""}),
            Create(Entity.USER, {"username": "last"}),
        ]

    (mine, trail), (theirs, orm_trail) = _two_ways(tmp_path, make)
    assert mine == theirs
    assert trail == orm_trail
    assert [t[2] for t in trail] == ["new.one", "Padded", "mail", "Erika", "last"]


def test_a_run_of_user_deletes_writes_what_the_orm_path_writes(
    tmp_path: pytest.TempPathFactory,
) -> None:
    """Each user's assignments go first, one entry each, then the user's own entry."""

    def make(db: Database) -> list[Edit]:
        people = _people(db, 8)
        with db.action("roles") as s:
            for name in ("Zeta", "Alpha", "Mid"):
                rbac.add_role(s, name)
            for k, (uid, _version, _name) in enumerate(people):
                for role in ("Zeta", "Alpha", "Mid")[: k % 4]:
                    rbac.assign_user(s, uid, role, expires_at=EXPIRY if k == 2 else None)
            rbac.set_password(s, people[1][0], "a long enough password 1")
        with db.read() as s:
            fresh = {u.id: u.version for u in s.scalars(rbac.select(rbac.User))}
        return [Delete(Entity.USER, uid, fresh[uid], name) for uid, _v, name in people[1:7]]

    (mine, trail), (theirs, orm_trail) = _two_ways(tmp_path, make)
    assert mine == theirs
    assert trail == orm_trail
    kinds = [(t[0], t[1], t[2]) for t in trail]
    assert kinds[:3] == [
        ("delete", "assignment", "user01 \u2192 Zeta"),
        ("delete", "user", "user01"),
        ("delete", "assignment", "user02 \u2192 Zeta"),
    ]
    assert any(t[3] and t[3].get("password_hash") == "(set)" for t in trail)


@pytest.mark.parametrize(
    ("bad", "cause"),
    [
        (4, DuplicateError),  # "user02" is taken in the file
        (3, DuplicateError),  # looks like edit 1's name (ASCII l for digit 1)
        (2, ValidationError),  # no username
    ],
)
def test_a_refused_create_in_a_run_is_named_by_its_index(
    org: Database, bad: int, cause: type
) -> None:
    _people(org, 3)
    names = ["n0", "name1", "n2", "n3", "n4", "n5"]
    if bad == 4:
        names[4] = "USER02"
    elif bad == 3:
        names[3] = "namel"
    else:
        names[2] = ""
    edits: list[Edit] = [Create(Entity.USER, {"username": n}) for n in names]
    _refused_at(org, edits, bad, cause)


@pytest.mark.parametrize("gone", [False, True])
def test_a_refused_delete_in_a_run_is_named_by_its_index(org: Database, gone: bool) -> None:
    """A user changed meanwhile (a newer version) or deleted meanwhile is a conflict."""
    people = _people(org, 6)
    edits: list[Edit] = [Delete(Entity.USER, uid, v, name) for uid, v, name in people]
    uid, version, name = people[3]
    with org.action("someone else") as s:
        if gone:
            rbac.delete_user(s, uid)
        else:
            rbac.update_user(s, uid, display_name="Changed")
    _refused_at(org, edits, 3, ConflictError)


def test_deleted_users_leave_the_session_and_created_ones_can_be_edited_next(
    org: Database,
) -> None:
    people = _people(org, 5)
    with org.action("Save") as s:
        held = s.get(rbac.User, people[0][0])
        apply_edits(s, [Delete(Entity.USER, uid, v, n) for uid, v, n in people], savepoint=False)
        assert held is not None and held not in s
        assert s.get(rbac.User, people[0][0]) is None
        apply_edits(
            s, [Create(Entity.USER, {"username": f"fresh{k}"}) for k in range(5)], savepoint=False
        )
        fresh = rbac.get_user(s, "fresh3")
        apply_edits(
            s,
            [Update(Entity.USER, fresh.id, 1, {"display_name": "Third"}, "fresh3")],
            savepoint=False,
        )
    with org.read() as s:
        assert rbac.get_user(s, "fresh3").display_name == "Third"
        assert rbac.get_user(s, "fresh3").version == 2


@pytest.mark.parametrize("old_sqlite", [False, True])
def test_runs_split_over_many_statements_write_the_same(
    tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, old_sqlite: bool
) -> None:
    """With a tiny bound-parameter limit (old SQLite: 999) every batch takes several
    statements, and without UPDATE … FROM (SQLite < 3.33) updates go one by one: the
    file and the trail come out the same either way."""
    from accessguard_gui.core import edit_batches, set_sql

    def make(db: Database) -> list[Edit]:
        people = _people(db, 9)
        with db.action("roles") as s:
            rbac.add_role(s, "Staff")
            for uid, _v, _n in people[:5]:
                rbac.assign_user(s, uid, "Staff")
        with db.read() as s:
            fresh = {u.id: u.version for u in s.scalars(rbac.select(rbac.User))}
        return [
            *(
                Update(Entity.USER, uid, fresh[uid], {"display_name": f"N {n}", "active": False}, n)
                for uid, _v, n in people[:6]
            ),
            *(
                Create(Entity.USER, {"username": f"more{k}", "email": f"m{k}@x.org"})
                for k in range(7)
            ),
            *(Delete(Entity.USER, uid, None, n) for uid, _v, n in people[2:8]),
        ]

    expected = _two_ways(tmp_path / "plain", make)  # type: ignore[operator]
    monkeypatch.setattr(set_sql, "parameter_limit", lambda _connection: 25)
    monkeypatch.setattr(edit_batches, "parameter_limit", lambda _connection: 25)
    monkeypatch.setattr(edit_batches, "_CHUNK", 3)
    monkeypatch.setattr(edit_batches, "_UPDATE_FROM", not old_sqlite)
    split = _two_ways(tmp_path / "split", make)  # type: ignore[operator]
    assert split[0] == expected[0] == expected[1]
    assert len(expected[0][1]) == 6 + 7 + 6 + 3  # updates, creates, deletes, assignments


def test_a_run_of_updates_is_one_statement_that_seeks_each_row(db: Database) -> None:
    """The UPDATE … FROM (VALUES …) of a run walks the values and finds each record by
    its id: a plan that scanned the table would cost seconds at a million users."""
    people = _people(db, 6)
    seen: list[tuple[str, tuple[object, ...]]] = []

    def spy(_conn: object, _cursor: object, statement: str, parameters: object, *_: object) -> None:
        if statement.startswith("UPDATE") and isinstance(parameters, tuple):
            seen.append((statement, parameters))

    engine = db._engine  # noqa: SLF001 - the statements the save sends
    event.listen(engine, "before_cursor_execute", spy)
    try:
        edits: list[Edit] = [
            Update(Entity.USER, uid, v, {"display_name": f"X {n}"}, n) for uid, v, n in people
        ]
        _save(db, edits)
    finally:
        event.remove(engine, "before_cursor_execute", spy)
    assert len(seen) == 1
    statement, parameters = seen[0]
    with db.read() as s:
        plan = " / ".join(
            str(row[3])
            for row in s.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        )
    assert "SEARCH users USING INTEGER PRIMARY KEY" in plan, plan
    assert "SCAN users" not in plan, plan
