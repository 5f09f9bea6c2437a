"""Pending edits as plain values, and the one function that applies them.

The windows collect what the user changed as a list of edits; Save applies the whole list
in one ``db.action()`` (one transaction, audit entries included). If any edit is refused,
``apply_edits`` raises ``EditFailed`` naming that edit, the action rolls back, and the
window keeps every pending edit so the user can fix and save again.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from . import rbac
from .errors import AccessGuardError, ConflictError
from .models import Permission, Resource, Role, User
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


@dataclass(frozen=True)
class Update:
    """Changed fields of an existing record read at ``version``."""

    entity: Entity
    id: int
    version: int | None
    values: Mapping[str, Any]
    label: str = ""

    def describe(self) -> str:
        return f"Change {self.entity} {self.label or '#' + str(self.id)}: {', '.join(self.values)}"


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


def _require(session: Session, entity: Entity, id_: int, label: str) -> None:
    """A pending change to a row someone else deleted meanwhile is a conflict (the window
    offers to reload), not a bare "does not exist"."""
    if session.get(_MODELS[entity], id_) is None:
        raise ConflictError(f"{entity} {label or '#' + str(id_)}", None)


def apply_edit(session: Session, edit: Edit) -> None:
    """Apply one edit through the RBAC rules (validation, duplicates, cycles, SoD)."""
    match edit:
        case Create(entity, values):
            _CREATE[entity](session, values)
        case Update(entity, id_, version, values, label):
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
            target: User = rbac.get_user(session, user)
            target.password_hash = password_hash
            session.flush()
        case _:  # pragma: no cover - exhaustive
            raise TypeError(f"unknown edit {edit!r}")


def apply_edits(session: Session, edits: Sequence[Edit], *, savepoint: bool = True) -> None:
    """Apply every edit in order inside the caller's action, all or nothing.

    The edits run inside one SAVEPOINT: if one is refused, the ones before it are undone
    too, even when the caller catches ``EditFailed`` and its action goes on to commit.

    ``savepoint=False`` leaves the all-or-nothing guarantee to the caller's action (which
    must then not catch ``EditFailed`` inside it) and saves the SAVEPOINT's cost.

    Raises:
        EditFailed: the first edit refused, with its index; nothing of the list remains.
    """
    with rbac.batch(session, savepoint=savepoint):
        for index, edit in enumerate(edits):
            try:
                apply_edit(session, edit)
            except EditFailed:
                raise
            except AccessGuardError as exc:
                raise EditFailed(index, edit, exc) from exc
