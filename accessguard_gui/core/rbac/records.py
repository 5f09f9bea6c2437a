"""ANSI administrative functions for the records themselves: users (and their passwords),
roles, resources and permissions."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .. import passwords, validation
from ..errors import DuplicateError
from ..lookalike import refuse_lookalike
from ..models import (
    Permission,
    Resource,
    Role,
    RoleInheritance,
    RolePermission,
    SsdSet,
    SsdSetRole,
    User,
    UserRole,
)
from ..rows import PermissionRow, ResourceRow, RoleRow, UserRow
from .base import (
    _UNSET,
    PermissionRef,
    Ref,
    _atomic,
    _check_version,
    _exists,
    _named_values,
    _permission_row,
    _user_values,
    get_permission,
    get_resource,
    get_role,
    get_user,
)


def add_user(
    session: Session,
    username: str,
    display_name: str | None = None,
    *,
    email: str | None = None,
    active: bool = True,
    password: str | None = None,
) -> UserRow:
    """ANSI AddUser. The display name defaults to the username."""
    name = validation.username(username)
    shown = validation.display_name(display_name if display_name else name)
    mail = validation.email(email)
    if password is not None:
        validation.password(password)
    with _atomic(session):
        if _exists(session, User, User.username_key, name, None):
            raise DuplicateError(
                f"A user named \u201c{name}\u201d already exists.", field="username"
            )
        refuse_lookalike(session, User, name, None, "user", "username")
        user = User(
            username=name,
            display_name=shown,
            email=mail,
            active=bool(active),
            password_hash=passwords.hash_password(password) if password is not None else None,
        )
        session.add(user)
    return UserRow.of(user)


def update_user(
    session: Session,
    ref: Ref,
    *,
    expected_version: int | None = None,
    username: str = _UNSET,
    display_name: str = _UNSET,
    email: str | None = _UNSET,
    active: bool = _UNSET,
) -> UserRow:
    """Change a user's fields; ``expected_version`` guards against a concurrent change."""
    user = get_user(session, ref)
    _check_version(user, expected_version, f"user {user.username}", lambda: _user_values(user))
    changes: dict[str, Any] = {}
    if username is not _UNSET:
        changes["username"] = validation.username(username)
    if display_name is not _UNSET:
        changes["display_name"] = validation.display_name(display_name)
    if email is not _UNSET:
        changes["email"] = validation.email(email)
    if active is not _UNSET:
        changes["active"] = bool(active)
    with _atomic(session):
        new_name = changes.get("username")
        if new_name is not None and _exists(session, User, User.username_key, new_name, user.id):
            raise DuplicateError(
                f"A user named \u201c{new_name}\u201d already exists.", field="username"
            )
        if new_name is not None and new_name != user.username:
            refuse_lookalike(session, User, new_name, user.id, "user", "username")
        for key, value in changes.items():
            if getattr(user, key) != value:
                setattr(user, key, value)
    return UserRow.of(user)


def delete_user(session: Session, ref: Ref, *, expected_version: int | None = None) -> None:
    """ANSI DeleteUser: the user and all of their assignments."""
    user = get_user(session, ref)
    _check_version(user, expected_version, f"user {user.username}", lambda: _user_values(user))
    with _atomic(session):
        for assignment in session.scalars(select(UserRole).where(UserRole.user_id == user.id)):
            session.delete(assignment)
        session.flush()
        session.delete(user)


def set_password(session: Session, ref: Ref, password: str) -> None:
    """Store an Argon2id hash of ``password``; the password itself is never kept."""
    validation.password(password)
    user = get_user(session, ref)
    with _atomic(session):
        user.password_hash = passwords.hash_password(password)


def clear_password(session: Session, ref: Ref) -> None:
    user = get_user(session, ref)
    with _atomic(session):
        user.password_hash = None


def verify_password(session: Session, ref: Ref, password: str) -> bool:
    """Check a password; rehash it in place when the stored parameters are outdated."""
    user = get_user(session, ref)
    if user.password_hash is None or not isinstance(password, str):
        return False
    if not passwords.verify_password_hash(user.password_hash, password):
        return False
    if passwords.needs_rehash(user.password_hash):
        with _atomic(session):
            user.password_hash = passwords.hash_password(password)
    return True


NamedT = TypeVar("NamedT", Role, Resource)


def _add_named(session: Session, obj: NamedT, kind: str) -> NamedT:
    """Insert a role or resource whose name is free (ignoring case)."""
    with _atomic(session):
        if _exists(session, type(obj), type(obj).name_key, obj.name, None):
            raise DuplicateError(
                f"A {kind} named \u201c{obj.name}\u201d already exists.", field="name"
            )
        refuse_lookalike(session, type(obj), obj.name, None, kind)
        session.add(obj)
    return obj


def _change_named(
    session: Session,
    obj: Role | Resource | SsdSet,
    kind: str,
    name: str | None,
    text: str | None,
) -> None:
    """Rename and/or describe a role, resource or SSD set; a name taken by another is
    refused."""
    with _atomic(session):
        if name is not None and name != obj.name:
            if _exists(session, type(obj), type(obj).name_key, name, obj.id):
                raise DuplicateError(
                    f"A {kind} named \u201c{name}\u201d already exists.", field="name"
                )
            refuse_lookalike(session, type(obj), name, obj.id, kind)
            obj.name = name
        if text is not None and text != obj.description:
            obj.description = text


def add_role(session: Session, name: str, description: str | None = "") -> RoleRow:
    """ANSI AddRole."""
    clean = validation.role_name(name)
    text = validation.description(description)
    role = _add_named(session, Role(name=clean, description=text), "role")
    return RoleRow.of(role)


def update_role(
    session: Session,
    ref: Ref,
    *,
    expected_version: int | None = None,
    name: str = _UNSET,
    description: str = _UNSET,
) -> RoleRow:
    role = get_role(session, ref)
    _check_version(role, expected_version, f"role {role.name}", lambda: _named_values(role))
    new_name = validation.role_name(name) if name is not _UNSET else None
    new_text = validation.description(description) if description is not _UNSET else None
    _change_named(session, role, "role", new_name, new_text)
    return RoleRow.of(role)


def delete_role(session: Session, ref: Ref, *, expected_version: int | None = None) -> None:
    """ANSI DeleteRole: the role, its assignments, grants, inheritances and set memberships."""
    role = get_role(session, ref)
    _check_version(role, expected_version, f"role {role.name}", lambda: _named_values(role))
    with _atomic(session):
        dependents: list[Any] = []
        dependents += session.scalars(select(UserRole).where(UserRole.role_id == role.id))
        dependents += session.scalars(
            select(RolePermission).where(RolePermission.role_id == role.id)
        )
        dependents += session.scalars(
            select(RoleInheritance).where(
                or_(RoleInheritance.role_id == role.id, RoleInheritance.inherits_from_id == role.id)
            )
        )
        dependents += session.scalars(select(SsdSetRole).where(SsdSetRole.role_id == role.id))
        for obj in dependents:
            session.delete(obj)
        session.flush()
        session.delete(role)


def add_resource(session: Session, name: str, description: str | None = "") -> ResourceRow:
    clean = validation.resource_name(name)
    text = validation.description(description)
    resource = _add_named(session, Resource(name=clean, description=text), "resource")
    return ResourceRow.of(resource)


def update_resource(
    session: Session,
    ref: Ref,
    *,
    expected_version: int | None = None,
    name: str = _UNSET,
    description: str = _UNSET,
) -> ResourceRow:
    resource = get_resource(session, ref)
    _check_version(
        resource, expected_version, f"resource {resource.name}", lambda: _named_values(resource)
    )
    new_name = validation.resource_name(name) if name is not _UNSET else None
    new_text = validation.description(description) if description is not _UNSET else None
    _change_named(session, resource, "resource", new_name, new_text)
    return ResourceRow.of(resource)


def delete_resource(session: Session, ref: Ref, *, expected_version: int | None = None) -> None:
    """The resource, its permissions and every grant of them."""
    resource = get_resource(session, ref)
    _check_version(
        resource, expected_version, f"resource {resource.name}", lambda: _named_values(resource)
    )
    with _atomic(session):
        perms = list(
            session.scalars(select(Permission).where(Permission.resource_id == resource.id))
        )
        for perm in perms:
            _delete_permission(session, perm)
        session.flush()
        session.delete(resource)


def add_permission(
    session: Session, resource: Ref, action: str, description: str | None = ""
) -> PermissionRow:
    """Define an action on a resource (ANSI: an operation on an object)."""
    target = get_resource(session, resource)
    act = validation.action(action)
    text = validation.description(description)
    with _atomic(session):
        duplicate = session.scalar(
            select(Permission.id).where(
                Permission.resource_id == target.id, Permission.action == act
            )
        )
        if duplicate is not None:
            raise DuplicateError(
                f"The resource {target.name} already has the action \u201c{act}\u201d.",
                field="action",
            )
        perm = Permission(resource_id=target.id, action=act, description=text)
        session.add(perm)
    return PermissionRow.of(perm, target.name)


def update_permission(
    session: Session,
    ref: PermissionRef,
    *,
    expected_version: int | None = None,
    action: str = _UNSET,
    description: str = _UNSET,
) -> PermissionRow:
    perm = get_permission(session, ref)
    row = _permission_row(session, perm)
    _check_version(
        perm,
        expected_version,
        f"permission {row.label}",
        lambda: {"action": perm.action, "description": perm.description, "version": perm.version},
    )
    new_action = validation.action(action) if action is not _UNSET else None
    new_text = validation.description(description) if description is not _UNSET else None
    with _atomic(session):
        if new_action is not None and new_action != perm.action:
            clash = session.scalar(
                select(Permission.id).where(
                    Permission.resource_id == perm.resource_id,
                    Permission.action == new_action,
                    Permission.id != perm.id,
                )
            )
            if clash is not None:
                raise DuplicateError(
                    f"The resource {row.resource} already has the action \u201c{new_action}\u201d.",
                    field="action",
                )
            perm.action = new_action
        if new_text is not None and new_text != perm.description:
            perm.description = new_text
    return _permission_row(session, perm)


def _delete_permission(session: Session, perm: Permission) -> None:
    for grant in session.scalars(
        select(RolePermission).where(RolePermission.permission_id == perm.id)
    ):
        session.delete(grant)
    session.flush()
    session.delete(perm)


def delete_permission(
    session: Session, ref: PermissionRef, *, expected_version: int | None = None
) -> None:
    perm = get_permission(session, ref)
    _check_version(
        perm,
        expected_version,
        f"permission {_permission_row(session, perm).label}",
        lambda: {"action": perm.action, "description": perm.description, "version": perm.version},
    )
    with _atomic(session):
        _delete_permission(session, perm)
