"""Pending edits as plain values, and the one function that applies them.

The windows collect what the user changed as a list of edits; Save applies the whole list
in one ``db.action()`` (one transaction, audit entries included). If any edit is refused,
``apply_edits`` raises ``EditFailed`` naming that edit, the action rolls back, and the
window keeps every pending edit so the user can fix and save again.
"""

from __future__ import annotations

import binascii
import enum
import inspect
import re
from base64 import b64decode
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from . import audit, edit_batches, rbac
from .bulk_roles import BulkRoleChange, apply_bulk_role_change
from .errors import AccessGuardError, ConflictError, ValidationError
from .keys import name_key
from .models import Permission, Resource, Role, User
from .operators import SetSignInRequired, require_assignment, set_sign_in_required
from .rbac import PermissionRef, Ref


class Entity(enum.StrEnum):
    USER = "user"
    ROLE = "role"
    RESOURCE = "resource"
    PERMISSION = "permission"


@dataclass(frozen=True)
class Create:
    """A new record. For a permission, ``values`` holds ``resource`` and ``action``."""

    entity: Entity
    values: Mapping[str, Any]

    def describe(self) -> str:
        key = self.values.get("username") or self.values.get("name") or self.values.get("action")
        return f"Add {self.entity} {key}"


#: Longest value shown in a description (a long description would make the line unreadable).
SHOWN_VALUE_MAX = 60


def shown_value(value: Any) -> str:
    """A field value as a person reads it in a change description: yes/no for flags,
    "(empty)"/"(none)" for nothing, long texts cut with an ellipsis."""
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    if not text:
        return "(empty)"
    if len(text) > SHOWN_VALUE_MAX:
        return text[: SHOWN_VALUE_MAX - 1] + "\u2026"
    return text


def describe_field(name: str, new: Any, before: Mapping[str, Any]) -> str:
    """ "username adam.zimmermann \u2192 adam.zimmerman"; a password (or its hash) is never
    shown: "password: changed"."""
    if "password" in name:
        return "password: changed"
    words = name.replace("_", " ")
    if name in before:
        return f"{words} {shown_value(before[name])} \u2192 {shown_value(new)}"
    return f"{words} \u2192 {shown_value(new)}"


@dataclass(frozen=True)
class Update:
    """Changed fields of an existing record read at ``version``.

    ``before`` holds what the user saw in the changed fields when editing them (filled
    by the table and the record form), so the change can be described as old \u2192 new.
    It is for people only: the version guards against concurrent changes. Edits made
    before it existed (and callers that do not know the old values) leave it empty and
    are described by the new values alone.
    """

    entity: Entity
    id: int
    version: int | None
    values: Mapping[str, Any]
    label: str = ""
    before: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        parts = "; ".join(describe_field(k, v, self.before) for k, v in self.values.items())
        return f"Change {self.entity} {self.label or '#' + str(self.id)}: {parts}"


@dataclass(frozen=True)
class Delete:
    entity: Entity
    id: int
    version: int | None
    label: str = ""

    def describe(self) -> str:
        return f"Delete {self.entity} {self.label or '#' + str(self.id)}"


@dataclass(frozen=True)
class Assign:
    user: Ref
    role: Ref
    expires_at: datetime | None = None

    def describe(self) -> str:
        return f"Assign {self.user} to {self.role}"


@dataclass(frozen=True)
class Deassign:
    user: Ref
    role: Ref

    def describe(self) -> str:
        return f"Remove {self.user} from {self.role}"


@dataclass(frozen=True)
class SetExpiry:
    user: Ref
    role: Ref
    expires_at: datetime | None
    version: int | None = None

    def describe(self) -> str:
        when = f"{self.expires_at:%Y-%m-%d}" if self.expires_at else "never"
        return f"Set expiry of {self.user} \u2192 {self.role} to {when}"


@dataclass(frozen=True)
class Grant:
    role: Ref
    permission: PermissionRef

    def describe(self) -> str:
        return f"Grant {_perm_label(self.permission)} to {self.role}"


@dataclass(frozen=True)
class Revoke:
    role: Ref
    permission: PermissionRef

    def describe(self) -> str:
        return f"Revoke {_perm_label(self.permission)} from {self.role}"


@dataclass(frozen=True)
class Inherit:
    """``role`` inherits from ``inherits_from``."""

    role: Ref
    inherits_from: Ref

    def describe(self) -> str:
        return f"{self.role} inherits from {self.inherits_from}"


@dataclass(frozen=True)
class Uninherit:
    role: Ref
    inherits_from: Ref

    def describe(self) -> str:
        return f"{self.role} no longer inherits from {self.inherits_from}"


@dataclass(frozen=True)
class SetPasswordHash:
    """A password change, carried as its Argon2id hash (never the password), or None to
    remove the password."""

    user: Ref
    password_hash: str | None = field(repr=False)

    def describe(self) -> str:
        return f"{'Set' if self.password_hash else 'Remove'} password of {self.user}"


# ---------------------------------------------------------------------- separation of duty
# Sets are rules, not table rows, but they are edited like everything else: pending until
# Save, listed in Review changes (where they change nobody's access), undoable. An existing
# set is named by its id (a pending rename does not break the edits after it) with the
# name the user saw as its label; a new set exists only as its CreateSsdSet, which the
# window replaces while the set is still unsaved.

SSD = "separation-of-duty set"
_SSD_FIELDS = ("name", "description", "roles", "cardinality")


def _quoted(value: Any) -> str:
    return f"\u201c{value}\u201d"


def _limit(n: Any) -> str:
    return f"fewer than {n}"


@dataclass(frozen=True)
class CreateSsdSet:
    """A new separation-of-duty set: no user may be authorized for ``cardinality`` or more
    of ``roles``."""

    name: str
    roles: tuple[str, ...]
    cardinality: int
    description: str = ""

    def describe(self) -> str:
        return f"Create {SSD} {self.name}: {_limit(self.cardinality)} of {', '.join(self.roles)}"


@dataclass(frozen=True)
class ChangeSsdSet:
    """New name, description, roles (a tuple of names) and/or cardinality of an existing
    set. Roles and cardinality given together are changed in one step, checked once.

    ``before`` holds the values the user saw for the changed fields: if the file holds
    others when the edit is applied, someone else changed the set meanwhile and the edit
    is refused as a conflict instead of overwriting their change.
    """

    ssd_set: Ref
    values: Mapping[str, Any]
    before: Mapping[str, Any]
    label: str = ""

    def describe(self) -> str:
        parts = []
        for key in _SSD_FIELDS:
            if key not in self.values:
                continue
            old, new = self.before.get(key, "?"), self.values[key]
            if key == "cardinality":
                parts.append(f"limit {_limit(old)} \u2192 {_limit(new)}")
            elif key == "roles":
                parts.append(f"roles {', '.join(old)} \u2192 {', '.join(new)}")
            elif key == "description":
                parts.append(f"description {_quoted(old)} \u2192 {_quoted(new)}")
            else:
                parts.append(f"name {old} \u2192 {new}")
        return f"Change {SSD} {self.label or self.ssd_set}: {'; '.join(parts)}"


@dataclass(frozen=True)
class AddSsdRole:
    ssd_set: Ref
    role: Ref
    label: str = ""

    def describe(self) -> str:
        return f"Add role {self.role} to {SSD} {self.label or self.ssd_set}"


@dataclass(frozen=True)
class RemoveSsdRole:
    ssd_set: Ref
    role: Ref
    label: str = ""

    def describe(self) -> str:
        return f"Remove role {self.role} from {SSD} {self.label or self.ssd_set}"


@dataclass(frozen=True)
class DeleteSsdSet:
    ssd_set: Ref
    label: str = ""

    def describe(self) -> str:
        return f"Delete {SSD} {self.label or self.ssd_set}"


SsdEdit = CreateSsdSet | ChangeSsdSet | AddSsdRole | RemoveSsdRole | DeleteSsdSet


Edit = (
    Create
    | Update
    | Delete
    | Assign
    | Deassign
    | SetExpiry
    | Grant
    | Revoke
    | Inherit
    | Uninherit
    | SetPasswordHash
    | CreateSsdSet
    | ChangeSsdSet
    | AddSsdRole
    | RemoveSsdRole
    | DeleteSsdSet
    | SetSignInRequired
    | BulkRoleChange
)


def _perm_label(ref: PermissionRef) -> str:
    if isinstance(ref, tuple):
        return f"{ref[0]}: {ref[1]}"
    return f"permission #{ref}"


class EditFailed(AccessGuardError):
    """One pending edit was refused; nothing of the save was applied.

    Attributes:
        index: position of the failing edit in the list given to ``apply_edits``.
        edit: the failing edit.
        cause: the typed error that refused it (ValidationError, DuplicateError, ...).
    """

    def __init__(self, index: int, edit: Edit, cause: AccessGuardError) -> None:
        super().__init__(f"{edit.describe()}: {cause.message}")
        self.index = index
        self.edit = edit
        self.cause = cause


_CREATE: dict[Entity, Callable[[Session, Mapping[str, Any]], object]] = {
    Entity.USER: lambda s, v: rbac.add_user(
        s,
        v.get("username", ""),
        v.get("display_name"),
        email=v.get("email"),
        active=v.get("active", True),
    ),
    Entity.ROLE: lambda s, v: rbac.add_role(s, v.get("name", ""), v.get("description", "")),
    Entity.RESOURCE: lambda s, v: rbac.add_resource(s, v.get("name", ""), v.get("description", "")),
    Entity.PERMISSION: lambda s, v: rbac.add_permission(
        s, v.get("resource", ""), v.get("action", ""), v.get("description", "")
    ),
}
# Each takes (session, id, expected_version=..., **fields); their keywords differ.
_UPDATE: dict[Entity, Callable[..., object]] = {
    Entity.USER: rbac.update_user,
    Entity.ROLE: rbac.update_role,
    Entity.RESOURCE: rbac.update_resource,
    Entity.PERMISSION: rbac.update_permission,
}
_DELETE: dict[Entity, Callable[..., object]] = {
    Entity.USER: rbac.delete_user,
    Entity.ROLE: rbac.delete_role,
    Entity.RESOURCE: rbac.delete_resource,
    Entity.PERMISSION: rbac.delete_permission,
}


_MODELS: dict[Entity, type[Any]] = {
    Entity.USER: User,
    Entity.ROLE: Role,
    Entity.RESOURCE: Resource,
    Entity.PERMISSION: Permission,
}


def _update_fields(entity: Entity) -> frozenset[str]:
    """The fields an ``Update`` of ``entity`` may change: the keyword parameters of its
    rbac update function, so the list cannot drift from what the rules accept."""
    parameters = inspect.signature(_UPDATE[entity]).parameters.values()
    return frozenset(
        p.name
        for p in parameters
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name != "expected_version"
    )


_UPDATE_FIELDS: dict[Entity, frozenset[str]] = {e: _update_fields(e) for e in _UPDATE}


def _check_update_fields(entity: Entity, values: Mapping[str, Any]) -> None:
    """An unknown field (a typo, a column of another table) is refused by name, instead
    of reaching the update function as a stray keyword (a TypeError)."""
    allowed = _UPDATE_FIELDS[entity]
    for name in values:
        if name not in allowed:
            shown = ", ".join(sorted(allowed))
            raise ValidationError(
                str(name),
                f"A {entity} has no field \u201c{name}\u201d that can be changed "
                f"(fields: {shown}).",
            )


# A PHC string as argon2-cffi writes it: Argon2id or Argon2i, version 19 (1.3), numeric
# parameters, unpadded standard base64 salt (>= 8 bytes) and hash (>= 16 bytes). Bounded
# lengths: a hash is short, and the column is no place for megabytes.
_PHC = re.compile(
    r"\$argon2(?:id|i)\$v=19\$m=([1-9][0-9]{0,9}),t=([1-9][0-9]{0,9}),p=([1-9][0-9]{0,5})"
    r"\$([A-Za-z0-9+/]{11,88})\$([A-Za-z0-9+/]{22,176})"
)


def _unpadded_b64(text: str) -> bool:
    try:
        b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return len(text) % 4 != 1


def check_password_hash(value: str | None) -> str | None:
    """``value`` if it is a well-formed Argon2id/Argon2i PHC string (or None, no password).

    Anything else — a plain password above all, but also bcrypt, Argon2d or a truncated
    hash — is refused: stored, it would either leak the password or lock the user out.

    Raises:
        ValidationError: on field ``password_hash``; the message never quotes the value.
    """
    if value is None:
        return None
    found = _PHC.fullmatch(value) if isinstance(value, str) else None
    if found is None or not all(_unpadded_b64(part) for part in found.group(4, 5)):
        raise ValidationError(
            "password_hash",
            "The password hash is not a well-formed Argon2id hash "
            "($argon2id$v=19$m=\u2026,t=\u2026,p=\u2026$salt$hash); set the password "
            "through AccessGuard instead.",
        )
    memory, parallelism = int(found.group(1)), int(found.group(3))
    if memory < 8 * parallelism:
        raise ValidationError(
            "password_hash",
            "The password hash has impossible Argon2 parameters (memory below 8 KiB "
            "per lane); set the password through AccessGuard instead.",
        )
    return value


def _require(session: Session, entity: Entity, id_: int, label: str) -> None:
    """A pending change to a row someone else deleted meanwhile is a conflict (the window
    offers to reload), not a bare "does not exist"."""
    if session.get(_MODELS[entity], id_) is None:
        raise ConflictError(f"{entity} {label or '#' + str(id_)}", None)


def _ssd_values(session: Session, ssd_set: Ref) -> dict[str, Any]:
    ssd = rbac.get_ssd_set(session, ssd_set)
    roles = tuple(r.name for r in rbac.ssd_role_set_roles(session, ssd.id))
    return {
        "name": ssd.name,
        "description": ssd.description,
        "roles": roles,
        "cardinality": ssd.cardinality,
    }


def _same(key: str, theirs: Any, seen: Any) -> bool:
    if key == "roles":  # as a set of names: the order shown is not part of the rule
        return {name_key(str(r)) for r in theirs} == {name_key(str(r)) for r in seen}
    return bool(theirs == seen)


def _change_ssd_set(session: Session, edit: ChangeSsdSet) -> None:
    unknown = [key for key in edit.values if key not in _SSD_FIELDS]
    if unknown:
        raise ValidationError(
            unknown[0], f"A {SSD} has no field {_quoted(unknown[0])} that can be changed."
        )
    theirs = _ssd_values(session, edit.ssd_set)
    if any(
        key in edit.before and not _same(key, theirs[key], edit.before[key]) for key in edit.values
    ):
        raise ConflictError(f"{SSD} {edit.label or edit.ssd_set}", theirs)
    renamed = {k: v for k, v in edit.values.items() if k in ("name", "description")}
    if renamed:
        rbac.update_ssd_set(session, edit.ssd_set, **renamed)
    if "roles" in edit.values:
        roles = list(edit.values["roles"])
        rbac.set_ssd_set_roles(session, edit.ssd_set, roles, edit.values.get("cardinality"))
    elif "cardinality" in edit.values:
        rbac.set_ssd_set_cardinality(session, edit.ssd_set, edit.values["cardinality"])


def _apply_ssd_edit(session: Session, edit: SsdEdit) -> None:
    """The ANSI SSD functions, each refusing a set some user would break."""
    match edit:
        case CreateSsdSet(name, roles, cardinality, description):
            rbac.create_ssd_set(session, name, list(roles), cardinality, description)
        case ChangeSsdSet():
            _change_ssd_set(session, edit)
        case AddSsdRole(ssd_set, role):
            rbac.add_ssd_role_member(session, ssd_set, role)
        case RemoveSsdRole(ssd_set, role):
            rbac.delete_ssd_role_member(session, ssd_set, role)
        case DeleteSsdSet(ssd_set):
            rbac.delete_ssd_set(session, ssd_set)


def apply_edit(session: Session, edit: Edit) -> None:
    """Apply one edit through the RBAC rules (validation, duplicates, cycles, SoD)."""
    match edit:
        case Create(entity, values):
            _CREATE[entity](session, values)
        case Update(entity, id_, version, values, label):
            _check_update_fields(entity, values)
            _require(session, entity, id_, label)
            _UPDATE[entity](session, id_, expected_version=version, **dict(values))
        case Delete(entity, id_, version, label):
            _require(session, entity, id_, label)
            _DELETE[entity](session, id_, expected_version=version)
        case Assign(user, role, expires_at):
            rbac.assign_user(session, user, role, expires_at=expires_at)
        case Deassign(user, role):
            rbac.deassign_user(session, user, role)
        case SetExpiry(user, role, expires_at, version):
            rbac.set_assignment_expiry(session, user, role, expires_at, expected_version=version)
        case Grant(role, permission):
            rbac.grant_permission(session, role, permission)
        case Revoke(role, permission):
            rbac.revoke_permission(session, role, permission)
        case Inherit(role, inherits_from):
            rbac.add_inheritance(session, role, inherits_from)
        case Uninherit(role, inherits_from):
            rbac.delete_inheritance(session, role, inherits_from)
        case SetPasswordHash(user, password_hash):
            checked = check_password_hash(password_hash)
            target: User = rbac.get_user(session, user)
            target.password_hash = checked
            session.flush()
        case CreateSsdSet() | ChangeSsdSet() | AddSsdRole() | RemoveSsdRole() | DeleteSsdSet():
            _apply_ssd_edit(session, edit)
        case BulkRoleChange():  # every user a view shows, set-based (core/bulk_roles.py)
            require_assignment(session, edit.role)  # operators: the gate sees no rows
            apply_bulk_role_change(session, edit)
        case SetSignInRequired(required):  # core/operators.py: needs administer
            set_sign_in_required(session, required)
        case _:  # pragma: no cover - exhaustive
            raise TypeError(f"unknown edit {edit!r}")


def apply_edits(session: Session, edits: Sequence[Edit], *, savepoint: bool = True) -> None:
    """Apply every edit in order inside the caller's action, all or nothing.

    The edits run inside one SAVEPOINT: if one is refused, the ones before it are undone
    too, even when the caller catches ``EditFailed`` and its action goes on to commit.

    ``savepoint=False`` leaves the all-or-nothing guarantee to the caller's action (which
    must then not catch ``EditFailed`` inside it) and saves the SAVEPOINT's cost.

    Set-based where it can be: runs of plain field updates go through
    ``edit_batches`` (one read, one executemany), and the audit entries of the whole
    list are collected and written once at the end (one head read, one INSERT) instead
    of once per flush.

    Raises:
        EditFailed: the first edit refused, with its index; nothing of the list remains.
    """
    outer = isinstance(session.info.get(audit.COLLECT_KEY), list)  # a caller collects
    collected: list[dict[str, Any]] = []
    if not outer:
        session.info[audit.COLLECT_KEY] = collected
    try:
        with rbac.batch(session, savepoint=savepoint):
            index = 0
            while index < len(edits):
                index += _apply_from(session, edits, index)
            session.flush()  # the last edits' entries are collected too
            if not outer:
                del session.info[audit.COLLECT_KEY]
                audit.write_entries(session.connection(), collected)
    finally:
        if not outer:
            session.info.pop(audit.COLLECT_KEY, None)


def _apply_from(session: Session, edits: Sequence[Edit], index: int) -> int:
    """Apply ``edits[index]`` (and a run of like edits after it, set-based); returns how
    many were applied."""
    # With operators enforced, the set-based path checks each record with the gate's rules.
    run = edit_batches.run_length(edits, index)
    try:
        if run:
            done = edit_batches.apply_run(session, edits, index, run)
            if done:
                return done
        apply_edit(session, edits[index])
    except EditFailed:
        raise
    except AccessGuardError as exc:
        raise EditFailed(index, edits[index], exc) from exc
    return 1
