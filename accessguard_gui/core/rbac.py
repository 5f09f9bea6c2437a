"""The RBAC rules, named after the ANSI INCITS 359 functions (in snake_case).

Every function takes an open session and never commits: the caller's ``db.action()``
does. Each administrative function runs inside a SAVEPOINT, so a refused call (validation,
duplicate, cycle, separation of duty) changes nothing even if the caller goes on using
the session. Review and system functions are set-based SQL (recursive CTEs), never Python
loops over relationships, so they stay fast at a million users.

Records are referenced by id (int) or by name (str): usernames, role, resource and set
names are unique ignoring case. A permission is referenced by its id or by a
``(resource, action)`` pair.
"""

from __future__ import annotations

import threading
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import (
    CTE,
    Select,
    and_,
    bindparam,
    exists,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session

from . import passwords, review_sql, validation
from .access_query import run_access_query
from .errors import (
    ConflictError,
    CycleError,
    DuplicateError,
    NotFoundError,
    SeparationOfDutyError,
    ValidationError,
)
from .keys import name_key
from .lookalike import refuse_lookalike
from .models import (
    Permission,
    Resource,
    Role,
    RoleInheritance,
    RolePermission,
    SsdSet,
    SsdSetRole,
    User,
    UserRole,
    UTCDateTime,
    utcnow,
)
from .rows import (
    AccessDecision,
    AccessPath,
    AssignmentRow,
    DenyReason,
    PermissionRow,
    ResourceRow,
    RoleRow,
    SsdSetRow,
    SsdViolation,
    UserRow,
)

Ref = int | str
PermissionRef = int | tuple[Ref, str]
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

# Inheritance chains longer than this are refused outright; real hierarchies are far
# shallower, and the bound keeps path searches finite even on a damaged file.
MAX_PATH_DEPTH = 32
# Paths shown by check_access: the shortest ones, rebuilt from the deduplicated role
# graph (core/paths.py); more only make the answer harder to read and the check slower.
MAX_EXPLAINED_PATHS = 5

_UNSET: Any = object()


@contextmanager
def _atomic(session: Session) -> Iterator[None]:
    """A SAVEPOINT: on any error, undo exactly what this call did, nothing more.

    Inside ``batch()`` the enclosing SAVEPOINT already guarantees all-or-nothing for the
    whole batch, so no SAVEPOINT per call: SQLite's RELEASE costs ~1.5 ms each with a large
    page cache, which made saving 1,000 edits take seconds.
    """
    if session.info.get(_BATCH_KEY):
        yield
    else:
        with session.begin_nested():
            yield
    session.flush()


_BATCH_KEY = "accessguard_batch"


@contextmanager
def batch(session: Session, *, savepoint: bool = True) -> Iterator[None]:
    """Run many administrative calls as one unit: one SAVEPOINT around all of them.

    A refusal inside undoes every call of the batch (not only the failing one), so the
    caller must treat the batch as all-or-nothing — as saving pending edits does.
    ``savepoint=False`` is for a caller whose whole transaction is the batch (its action
    rolls back on any error): an open SAVEPOINT makes SQLite journal every page the batch
    touches a second time, measured 4x slower on the search-indexed users table.
    """
    if session.info.get(_BATCH_KEY):
        yield
        return
    session.info[_BATCH_KEY] = True
    try:
        if savepoint:
            with session.begin_nested():
                yield
        else:
            yield
    finally:
        session.info.pop(_BATCH_KEY, None)


def _operator(session: Session, granted_by: str | None) -> str:
    return granted_by or str(session.info.get("operator", ""))


# ---------------------------------------------------------------------- lookups


def _by_ref(session: Session, model: Any, ref: Ref, key_col: Any, kind: str) -> Any:
    if isinstance(ref, bool):
        raise NotFoundError(f"No {kind} {ref!r}.")
    if isinstance(ref, int):
        obj = session.get(model, ref)
        if obj is None:
            raise NotFoundError(f"The {kind} #{ref} does not exist (any more).")
        return obj
    if not isinstance(ref, str):
        raise NotFoundError(f"No {kind} {ref!r}.")
    shown = unicodedata.normalize("NFC", ref).strip()  # as validation stores names
    # The stored key column (core/keys.py), served by its unique index.
    obj = session.scalars(select(model).where(key_col == name_key(ref))).first()
    if obj is None:
        raise NotFoundError(f"There is no {kind} named \u201c{shown}\u201d.")
    return obj


def get_user(session: Session, ref: Ref) -> User:
    user: User = _by_ref(session, User, ref, User.username_key, "user")
    return user


def get_role(session: Session, ref: Ref) -> Role:
    role: Role = _by_ref(session, Role, ref, Role.name_key, "role")
    return role


def get_resource(session: Session, ref: Ref) -> Resource:
    resource: Resource = _by_ref(session, Resource, ref, Resource.name_key, "resource")
    return resource


def get_ssd_set(session: Session, ref: Ref) -> SsdSet:
    ssd: SsdSet = _by_ref(session, SsdSet, ref, SsdSet.name_key, "separation-of-duty set")
    return ssd


def get_permission(session: Session, ref: PermissionRef) -> Permission:
    if isinstance(ref, int) and not isinstance(ref, bool):
        perm = session.get(Permission, ref)
        if perm is None:
            raise NotFoundError(f"The permission #{ref} does not exist (any more).")
        return perm
    if not (isinstance(ref, tuple) and len(ref) == 2):
        # A bare "Door" (or "ab", which would unpack into two letters) names no permission.
        raise NotFoundError(f"No permission {ref!r}: give an id or a (resource, action) pair.")
    resource_ref, action = ref
    resource = get_resource(session, resource_ref)
    action_key = str(action).strip().lower()
    found = session.scalars(
        select(Permission).where(
            Permission.resource_id == resource.id, Permission.action == action_key
        )
    ).first()
    if found is None:
        raise NotFoundError(f"The resource {resource.name} has no action \u201c{action_key}\u201d.")
    return found


def _exists(session: Session, model: Any, key_col: Any, name: str, exclude_id: int | None) -> bool:
    # The same key as the unique index on the key column (see _by_ref).
    query = select(model.id).where(key_col == name_key(name))
    if exclude_id is not None:
        query = query.where(model.id != exclude_id)
    return session.scalar(query.limit(1)) is not None


def _check_version(obj: Any, expected: int | None, label: str, values: Callable[[], Any]) -> None:
    if expected is not None and obj.version != expected:
        raise ConflictError(label, values())


def _user_values(user: User) -> dict[str, Any]:
    row = UserRow.of(user)
    return {
        "username": row.username,
        "display_name": row.display_name,
        "email": row.email,
        "active": row.active,
        "version": row.version,
    }


def _named_values(obj: Role | Resource) -> dict[str, Any]:
    return {"name": obj.name, "description": obj.description, "version": obj.version}


def _permission_row(session: Session, perm: Permission) -> PermissionRow:
    resource = session.get(Resource, perm.resource_id)
    return PermissionRow.of(perm, resource.name if resource else f"#{perm.resource_id}")


# ---------------------------------------------------------------------- users


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
            raise DuplicateError(f"A user named \u201c{name}\u201d already exists.", field="username")
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


# ---------------------------------------------------------------------- roles, resources


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
        dependents += session.scalars(select(RolePermission).where(RolePermission.role_id == role.id))
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
        perms = list(session.scalars(select(Permission).where(Permission.resource_id == resource.id)))
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


# ---------------------------------------------------------------------- assignments


def _assignment(session: Session, user: User, role: Role) -> UserRole | None:
    return session.get(UserRole, (user.id, role.id))


def assign_user(
    session: Session,
    user: Ref,
    role: Ref,
    *,
    expires_at: datetime | None = None,
    granted_by: str | None = None,
) -> AssignmentRow:
    """ANSI AssignUser; refused if it would break a separation-of-duty set."""
    u = get_user(session, user)
    r = get_role(session, role)
    _check_aware(expires_at)
    with _atomic(session):
        if _assignment(session, u, r) is not None:
            raise DuplicateError(f"{u.username} is already assigned to {r.name}.")
        assignment = UserRole(
            user_id=u.id,
            role_id=r.id,
            expires_at=expires_at,
            granted_by=_operator(session, granted_by),
        )
        session.add(assignment)
        session.flush()
        # Only sets holding a role this assignment authorizes can be broken by it (a
        # breach of another set, e.g. from imported data, must not block it).
        gained = _inherited_cte(select(literal(r.id).label("role_id")), "gained")
        touched = _ssd_sets_of(session, select(gained.c.role_id))
        if touched:
            _refuse_ssd_violations(session, users=select(literal(u.id)), sets=touched)
    return AssignmentRow.of(assignment, u.username, r.name)


def deassign_user(
    session: Session, user: Ref, role: Ref, *, expected_version: int | None = None
) -> None:
    """ANSI DeassignUser."""
    u = get_user(session, user)
    r = get_role(session, role)
    assignment = _assignment(session, u, r)
    if assignment is None:
        raise NotFoundError(f"{u.username} is not assigned to {r.name}.")
    _check_version(
        assignment,
        expected_version,
        f"assignment {u.username} \u2192 {r.name}",
        lambda: {"expires_at": assignment.expires_at, "version": assignment.version},
    )
    with _atomic(session):
        session.delete(assignment)


def set_assignment_expiry(
    session: Session,
    user: Ref,
    role: Ref,
    expires_at: datetime | None,
    *,
    expected_version: int | None = None,
) -> AssignmentRow:
    """Set or clear (None) the moment an assignment stops granting anything."""
    u = get_user(session, user)
    r = get_role(session, role)
    _check_aware(expires_at)
    assignment = _assignment(session, u, r)
    if assignment is None:
        raise NotFoundError(f"{u.username} is not assigned to {r.name}.")
    _check_version(
        assignment,
        expected_version,
        f"assignment {u.username} \u2192 {r.name}",
        lambda: {"expires_at": assignment.expires_at, "version": assignment.version},
    )
    with _atomic(session):
        if assignment.expires_at != expires_at:
            assignment.expires_at = expires_at
    return AssignmentRow.of(assignment, u.username, r.name)


def _check_aware(moment: datetime | None) -> None:
    if moment is not None and moment.tzinfo is None:
        raise ValidationError("expires_at", "The expiry date needs a time zone.")


# ---------------------------------------------------------------------- grants


def grant_permission(
    session: Session, role: Ref, permission: PermissionRef, *, granted_by: str | None = None
) -> None:
    """ANSI GrantPermission: give ``role`` the permission directly."""
    r = get_role(session, role)
    perm = get_permission(session, permission)
    with _atomic(session):
        if session.get(RolePermission, (r.id, perm.id)) is not None:
            label = _permission_row(session, perm).label
            raise DuplicateError(f"{r.name} already has {label}.")
        session.add(
            RolePermission(role_id=r.id, permission_id=perm.id, granted_by=_operator(session, granted_by))
        )


def revoke_permission(session: Session, role: Ref, permission: PermissionRef) -> None:
    """ANSI RevokePermission."""
    r = get_role(session, role)
    perm = get_permission(session, permission)
    grant = session.get(RolePermission, (r.id, perm.id))
    if grant is None:
        label = _permission_row(session, perm).label
        raise NotFoundError(f"{r.name} does not have {label} directly.")
    with _atomic(session):
        session.delete(grant)


# ---------------------------------------------------------------------- inheritance


def _inherited_cte(start: Select[Any], name: str = "reach") -> CTE:
    """Roles reachable from ``start`` (a one-column SELECT of role ids) by following
    "inherits from" edges, including the start roles themselves."""
    reach = start.cte(name, recursive=True)
    step = select(RoleInheritance.inherits_from_id).where(
        RoleInheritance.role_id == reach.c.role_id
    )
    return reach.union(step)


def _inheriting_cte(start: Select[Any], name: str = "seniors") -> CTE:
    """Roles that inherit (directly or not) from the ``start`` roles, including them."""
    reach = start.cte(name, recursive=True)
    step = select(RoleInheritance.role_id).where(RoleInheritance.inherits_from_id == reach.c.role_id)
    return reach.union(step)


def _role_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = session.execute(select(Role.id, Role.name).where(Role.id.in_(wanted)))
    return {rid: name for rid, name in rows}


def add_inheritance(session: Session, role: Ref, inherits_from: Ref) -> None:
    """ANSI AddInheritance: ``role`` gets every permission of ``inherits_from``.

    Raises:
        CycleError: ``inherits_from`` already inherits (at any depth) from ``role``.
        SeparationOfDutyError: a member of ``role`` (or of a role inheriting from it) would
            become authorized for too many roles of a set.
    """
    senior = get_role(session, role)
    junior = get_role(session, inherits_from)
    if senior.id == junior.id:
        raise CycleError([senior.name, senior.name])
    if session.get(RoleInheritance, (senior.id, junior.id)) is not None:
        raise DuplicateError(f"{senior.name} already inherits from {junior.name}.")
    cycle = _path_between(session, junior.id, senior.id)
    if cycle is not None:
        names = _role_names(session, cycle)
        raise CycleError([senior.name, *(names[i] for i in cycle)])
    # check_access explains by walking at most MAX_PATH_DEPTH steps: a longer chain
    # would grant in user_permissions but be invisible to check_access.
    chain = _longest_chain(session, senior.id, up=True) + 1 + _longest_chain(session, junior.id)
    if chain > MAX_PATH_DEPTH:
        raise ValidationError(
            "inherits_from",
            f"This inheritance would make a chain of {chain + 1} roles each inheriting from "
            f"the next; at most {MAX_PATH_DEPTH + 1} are allowed.",
        )
    with _atomic(session):
        session.add(RoleInheritance(role_id=senior.id, inherits_from_id=junior.id))
        session.flush()
        affected_roles = select(_inheriting_cte(select(literal(senior.id).label("role_id")))).subquery()
        members = select(UserRole.user_id).where(UserRole.role_id.in_(select(affected_roles)))
        new_roles = _inherited_cte(select(literal(junior.id).label("role_id")), "newroles")
        touched = _ssd_sets_of(session, select(new_roles.c.role_id))
        if touched:
            _refuse_ssd_violations(session, users=members, sets=touched)


def _path_between(session: Session, start: int, goal: int) -> list[int] | None:
    """The role ids along a shortest inheritance path start → … → goal, or None.

    Reachability is one set-based query (UNION, so it ends on any graph, at any depth);
    only when ``goal`` is reachable are the edges of that part of the graph read to name
    the path. A depth-bounded path walk would miss long cycles and grows exponentially
    with diamonds.
    """
    reach = _inherited_cte(select(literal(start).label("role_id")), "cyclecheck")
    if session.scalar(select(exists().where(reach.c.role_id == goal))) is not True:
        return None
    reach = _inherited_cte(select(literal(start).label("role_id")), "cyclepath")
    edges = session.execute(
        select(RoleInheritance.role_id, RoleInheritance.inherits_from_id).where(
            RoleInheritance.role_id.in_(select(reach.c.role_id))
        )
    ).all()
    parents: dict[int, list[int]] = defaultdict(list)
    for child, parent in edges:
        parents[child].append(parent)
    previous: dict[int, int] = {}
    frontier = [start]
    seen = {start}
    while frontier and goal not in seen:
        step: list[int] = []
        for node in frontier:
            for nxt in sorted(parents.get(node, ())):
                if nxt not in seen:
                    seen.add(nxt)
                    previous[nxt] = node
                    step.append(nxt)
        frontier = step
    path = [goal]
    while path[-1] != start:
        path.append(previous[path[-1]])
    return path[::-1]


def _longest_chain(session: Session, role_id: int, *, up: bool = False) -> int:
    """Edges on the longest inheritance chain from ``role_id`` down to the roles it
    inherits from (or, with ``up``, up to the roles inheriting from it), counted up to
    MAX_PATH_DEPTH + 1. UNION over (role, depth) pairs keeps it polynomial on diamonds."""
    walk = select(literal(role_id).label("role_id"), literal(0).label("depth")).cte(
        "chain", recursive=True
    )
    if up:
        step = select(RoleInheritance.role_id, walk.c.depth + 1).where(
            RoleInheritance.inherits_from_id == walk.c.role_id
        )
    else:
        step = select(RoleInheritance.inherits_from_id, walk.c.depth + 1).where(
            RoleInheritance.role_id == walk.c.role_id
        )
    walk = walk.union(step.where(walk.c.depth <= MAX_PATH_DEPTH))
    return int(session.scalar(select(func.max(walk.c.depth))) or 0)


def delete_inheritance(session: Session, role: Ref, inherits_from: Ref) -> None:
    """ANSI DeleteInheritance."""
    senior = get_role(session, role)
    junior = get_role(session, inherits_from)
    link = session.get(RoleInheritance, (senior.id, junior.id))
    if link is None:
        raise NotFoundError(f"{senior.name} does not inherit from {junior.name}.")
    with _atomic(session):
        session.delete(link)


def inherits_from(session: Session, role: Ref) -> list[RoleRow]:
    """The roles ``role`` inherits from directly (its "parents")."""
    r = get_role(session, role)
    query = (
        select(Role)
        .join(RoleInheritance, RoleInheritance.inherits_from_id == Role.id)
        .where(RoleInheritance.role_id == r.id)
        .order_by(Role.name_key)
    )
    return [RoleRow.of(x) for x in session.scalars(query)]


def inherited_by(session: Session, role: Ref) -> list[RoleRow]:
    """The roles that inherit from ``role`` directly (its "children")."""
    r = get_role(session, role)
    query = (
        select(Role)
        .join(RoleInheritance, RoleInheritance.role_id == Role.id)
        .where(RoleInheritance.inherits_from_id == r.id)
        .order_by(Role.name_key)
    )
    return [RoleRow.of(x) for x in session.scalars(query)]


# ---------------------------------------------------------------------- review functions


def assigned_users(session: Session, role: Ref) -> list[AssignmentRow]:
    """ANSI AssignedUsers: the direct members of a role, with their assignment details."""
    r = get_role(session, role)
    query = (
        select(UserRole, User.username)
        .join(User, User.id == UserRole.user_id)
        .where(UserRole.role_id == r.id)
        .order_by(User.username_key)
    )
    return [AssignmentRow.of(a, name, r.name) for a, name in session.execute(query)]


def assigned_roles(session: Session, user: Ref) -> list[AssignmentRow]:
    """ANSI AssignedRoles: the roles assigned to a user directly, expired ones included."""
    u = get_user(session, user)
    query = (
        select(UserRole, Role.name)
        .join(Role, Role.id == UserRole.role_id)
        .where(UserRole.user_id == u.id)
        .order_by(Role.name_key)
    )
    return [AssignmentRow.of(a, u.username, name) for a, name in session.execute(query)]


def _active_assignments(user_id: int, now: datetime) -> Select[Any]:
    return select(UserRole.role_id.label("role_id")).where(
        UserRole.user_id == user_id,
        or_(UserRole.expires_at.is_(None), UserRole.expires_at > now),
    )


def authorized_roles(
    session: Session, user: Ref, *, now: datetime | None = None
) -> list[RoleRow]:
    """ANSI AuthorizedRoles: assigned roles (not expired) and all they inherit from.
    Inactive users have none, as in user_permissions (assigned_roles still lists them)."""
    moment = now or utcnow()
    if _plain_ref(user):
        fast = review_sql.authorized_roles(session, user, moment)
        if fast is not None:
            if not fast:
                get_user(session, user)  # an unknown user is an error, not "nothing"
            return fast
    u = get_user(session, user)
    if not u.active:
        return []
    reach = _inherited_cte(_active_assignments(u.id, moment))
    query = select(Role).where(Role.id.in_(select(reach.c.role_id))).order_by(Role.name_key)
    return [RoleRow.of(r) for r in session.scalars(query)]


def _permission_rows(session: Session, ids_query: Select[Any]) -> list[PermissionRow]:
    return [PermissionRow(*row) for row in session.execute(_permission_query(ids_query))]


def _permission_query(ids_query: Select[Any]) -> Select[int, int, str, str, str, int]:
    # Plain columns, not ORM objects: an effective-permission list is a read, and ORM
    # instances cost several times a Core row (shared/guide/performance.md).
    return (
        select(
            Permission.id,
            Permission.resource_id,
            Resource.name,
            Permission.action,
            Permission.description,
            Permission.version,
        )
        .join(Resource, Resource.id == Permission.resource_id)
        .where(Permission.id.in_(ids_query))
        .order_by(Resource.name_key, Permission.action)
    )


def role_permissions(
    session: Session, role: Ref, *, inherited: bool = False
) -> list[PermissionRow]:
    """ANSI RolePermissions: the role's direct grants, or with ``inherited`` also every
    permission it gets from the roles it inherits from."""
    r = get_role(session, role)
    if inherited:
        reach = _inherited_cte(select(literal(r.id).label("role_id")))
        roles: Any = select(reach.c.role_id)
    else:
        roles = [r.id]
    ids = select(RolePermission.permission_id).where(RolePermission.role_id.in_(roles))
    return _permission_rows(session, ids)


def user_permissions(
    session: Session, user: Ref, *, now: datetime | None = None
) -> list[PermissionRow]:
    """ANSI UserPermissions: the effective permissions of a user through every unexpired
    assignment and inheritance. Inactive users have none."""
    moment = now or utcnow()
    if _plain_ref(user):
        fast = review_sql.user_permissions(session, user, moment)
        if fast is not None:
            if not fast:
                get_user(session, user)  # an unknown user is an error, not "nothing"
            return fast
    u = get_user(session, user)
    if not u.active:
        return []
    rows = session.execute(_user_permissions_query(), {"user_id": u.id, "now": moment})
    return [PermissionRow(*row) for row in rows]


def _plain_ref(ref: object) -> bool:
    """An id or a name the fast statements of review_sql can look up (anything else goes
    through get_user, which names the problem)."""
    return isinstance(ref, str) or (isinstance(ref, int) and not isinstance(ref, bool))


@lru_cache(maxsize=1)
def _user_permissions_query() -> Select[int, int, str, str, str, int]:
    """Built once, run with bound parameters: constructing the recursive statement (and
    its cache key) cost more than running it (bench/bench_core.py)."""
    start = select(UserRole.role_id.label("role_id")).where(
        UserRole.user_id == bindparam("user_id"),
        or_(
            UserRole.expires_at.is_(None),
            UserRole.expires_at > bindparam("now", type_=UTCDateTime()),
        ),
    )
    reach = _inherited_cte(start)
    ids = select(RolePermission.permission_id).where(
        RolePermission.role_id.in_(select(reach.c.role_id))
    )
    return _permission_query(ids)


def _granting_roles(permission_id: int) -> CTE:
    """Every role that has the permission, directly or by inheriting it."""
    direct = select(RolePermission.role_id.label("role_id")).where(
        RolePermission.permission_id == permission_id
    )
    return _inheriting_cte(direct, "granting")


def authorized_roles_for(session: Session, resource: Ref, action: str) -> list[RoleRow]:
    """Roles that have the permission directly or through inheritance."""
    perm = get_permission(session, (resource, action))
    granting = _granting_roles(perm.id)
    query = select(Role).where(Role.id.in_(select(granting.c.role_id))).order_by(Role.name_key)
    return [RoleRow.of(r) for r in session.scalars(query)]


def authorized_users(
    session: Session,
    resource: Ref,
    action: str,
    *,
    now: datetime | None = None,
    limit: int | None = None,
) -> list[UserRow]:
    """ANSI AuthorizedUsers for a permission: active users with an unexpired assignment to a
    role that has it, directly or through inheritance."""
    moment = now or utcnow()
    if _plain_ref(resource) and isinstance(action, str):
        fast = review_sql.authorized_users(
            session, resource, action.strip().lower(), moment, limit
        )
        if fast is not None:
            if not fast:
                get_permission(session, (resource, action))  # unknown: an error
            return fast
    perm = get_permission(session, (resource, action))
    granting = _granting_roles(perm.id)
    members = select(UserRole.user_id).where(
        UserRole.role_id.in_(select(granting.c.role_id)),
        or_(UserRole.expires_at.is_(None), UserRole.expires_at > moment),
    )
    query = (
        select(  # plain columns: thousands of rows, ORM objects would cost ~3x
            User.id,
            User.username,
            User.display_name,
            User.email,
            User.active,
            User.password_hash.is_not(None),
            User.created_at,
            User.updated_at,
            User.version,
        )
        .where(User.id.in_(members), User.active.is_(True))
        .order_by(User.username_key)
    )
    if limit is not None:
        query = query.limit(limit)
    return [UserRow(*row) for row in session.execute(query)]


# ---------------------------------------------------------------------- the access check


def check_access(
    session: Session,
    user: Ref,
    resource: Ref,
    action: str,
    *,
    now: datetime | None = None,
) -> AccessDecision:
    """ANSI CheckAccess, with the reason: may ``user`` do ``action`` on ``resource``?

    One statement computes, deduplicated, the roles the user reaches (expired assignments
    included, flagged) that lead to a role holding the permission; at most
    MAX_EXPLAINED_PATHS paths through them (live first, shortest first) are the
    explanation (``more_paths`` says if there are others). Inactive users and expired
    assignments never grant.
    """
    moment = now or utcnow()
    user_label = str(user)
    resource_label = str(resource)
    action_label = str(action).strip().lower()
    user_key = _lookup_key(user)
    resource_key = _lookup_key(resource)
    if user_key is None:
        return AccessDecision(False, user_label, resource_label, action_label, DenyReason.UNKNOWN_USER)
    if resource_key is None:
        resource_key = -1  # matches nothing: reported as an unknown resource below
    # One statement for lookups and the explaining graph (access_query.py says why).
    found = run_access_query(
        session,
        user_key,
        resource_key,
        action_label,
        moment,
        max_roles=MAX_PATH_DEPTH + 1,
        limit=MAX_EXPLAINED_PATHS,
    )
    if found.user_id is None or found.username is None:
        return AccessDecision(False, user_label, resource_label, action_label, DenyReason.UNKNOWN_USER)
    if found.resource is None:
        return AccessDecision(
            False, found.username, resource_label, action_label, DenyReason.UNKNOWN_RESOURCE
        )
    if found.permission_id is None:
        return AccessDecision(
            False, found.username, found.resource, action_label, DenyReason.UNKNOWN_ACTION
        )
    # Live paths first, then shortest first (access_query returns them in that order).
    paths = tuple(
        AccessPath(roles=roles, expires_at=expires, expired=expires is not None and expires <= moment)
        for roles, expires in found.paths
    )
    if not found.active:
        reason: DenyReason | None = DenyReason.INACTIVE_USER
    elif found.granted_path:
        reason = None
    elif paths:
        reason = DenyReason.EXPIRED_ASSIGNMENT
    else:
        reason = DenyReason.NO_PATH
    return AccessDecision(
        allowed=reason is None,
        username=found.username,
        resource=found.resource,
        action=action_label,
        reason=reason,
        paths=paths,
        more_paths=found.more_paths,
    )


def _lookup_key(ref: Ref) -> int | str | None:
    """An id or a trimmed name to look a record up by, as _by_ref does; None for refs
    that can name nothing."""
    if isinstance(ref, bool):
        return None
    if isinstance(ref, int):
        return ref
    if isinstance(ref, str):
        return unicodedata.normalize("NFC", ref).strip()
    return None


def _as_utc(value: datetime | None) -> datetime | None:
    """The CTE keeps the column's UTC type on SQLAlchemy's side; be safe if a driver
    hands back a naive value anyway."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


# ---------------------------------------------------------------------- separation of duty


def _ssd_sets_of(session: Session, roles: Select[Any]) -> list[int]:
    """Ids of the separation-of-duty sets that hold any of ``roles``."""
    query = select(SsdSetRole.ssd_set_id).where(SsdSetRole.role_id.in_(roles)).distinct()
    return list(session.scalars(query))


def _ssd_seniors(sets: Sequence[int] | None) -> CTE:
    """(ssd_set_id, member_id, role_id): holding ``role_id`` authorizes for the set's role
    ``member_id`` — the member itself and every role inheriting from it, each triple once
    (UNION), so the work follows the set's roles, never the number of users."""
    start = select(
        SsdSetRole.ssd_set_id.label("ssd_set_id"),
        SsdSetRole.role_id.label("member_id"),
        SsdSetRole.role_id.label("role_id"),
    )
    if sets is not None:
        start = start.where(SsdSetRole.ssd_set_id.in_(list(sets)))
    seniors = start.cte("ssd_authorizing", recursive=True)
    return seniors.union(
        select(seniors.c.ssd_set_id, seniors.c.member_id, RoleInheritance.role_id).where(
            RoleInheritance.inherits_from_id == seniors.c.role_id
        )
    )


def _ssd_held(sets: Sequence[int] | None, users: Select[Any] | Iterable[int] | None) -> Select[Any]:
    """(ssd_set_id, user_id, member_id) for every role of a set a user is authorized for
    (any assignment, expired ones included, and inheritance); ``users`` limits the users."""
    seniors = _ssd_seniors(sets)
    held = select(seniors.c.ssd_set_id, UserRole.user_id, seniors.c.member_id).join(
        UserRole, UserRole.role_id == seniors.c.role_id
    )
    if users is not None:
        held = held.where(UserRole.user_id.in_(users))
    return held


def ssd_violations(
    session: Session,
    *,
    users: Select[Any] | None = None,
    sets: Sequence[int] | None = None,
    limit: int | None = None,
    after: tuple[int, int] | None = None,
    cancel: threading.Event | None = None,
) -> list[SsdViolation]:
    """Every user authorized (through any assignment, expired ones included, and
    inheritance) for ``cardinality`` or more roles of a separation-of-duty set, ordered
    by set and user id.

    Set-based: the roles that authorize for a set's roles are found first (a walk of the
    role graph per set), then only the members of those roles are grouped — a million
    users holding none of them cost nothing, and with no set at all nothing is read.
    Expired assignments count: extending an expiry must never be a way around a set.

    Args:
        limit: at most this many violations (a page); ``after``: the ``page_key`` of the
            last violation of the previous page.
        cancel: set it (from any thread) to stop the check: QueryStoppedError is raised
            and nothing is changed (core/browse.py ``bounded``).
    """
    if sets is not None and not sets:
        return []
    if session.scalar(select(SsdSetRole.ssd_set_id).limit(1)) is None:
        return []  # no set: nothing can be violated (and the check is instant)
    if cancel is None:
        return _ssd_violations(session, users, sets, limit, after)
    from .browse import bounded  # browse imports changes, which imports this module

    with bounded(session, cancel=cancel):
        return _ssd_violations(session, users, sets, limit, after)


def iter_ssd_violations(
    session: Session,
    *,
    page_size: int = 500,
    sets: Sequence[int] | None = None,
    cancel: threading.Event | None = None,
) -> Iterator[list[SsdViolation]]:
    """Every violation, a page at a time (keyset by set and user), so a caller off the
    GUI thread can show them as they come and stop early; ``cancel`` stops the query
    running (QueryStoppedError) as well as the pages still to come."""
    after: tuple[int, int] | None = None
    while True:
        page = ssd_violations(session, sets=sets, limit=page_size, after=after, cancel=cancel)
        if page:
            yield page
        if len(page) < page_size:
            return
        after = page[-1].page_key


def _ssd_violations(
    session: Session,
    users: Select[Any] | None,
    sets: Sequence[int] | None,
    limit: int | None,
    after: tuple[int, int] | None,
) -> list[SsdViolation]:
    held = _ssd_held(sets, users).subquery("ssd_held")
    counted = (
        select(held.c.ssd_set_id, held.c.user_id)
        .join(SsdSet, SsdSet.id == held.c.ssd_set_id)
        .group_by(held.c.ssd_set_id, held.c.user_id, SsdSet.cardinality)
        .having(func.count(func.distinct(held.c.member_id)) >= SsdSet.cardinality)
    )
    if after is not None:
        counted = counted.where(
            or_(
                held.c.ssd_set_id > after[0],
                and_(held.c.ssd_set_id == after[0], held.c.user_id > after[1]),
            )
        )
    counted = counted.order_by(held.c.ssd_set_id, held.c.user_id)
    if limit is not None:
        counted = counted.limit(limit)
    pairs = [(int(a), int(b)) for a, b in session.execute(counted)]
    if not pairs:
        return []
    # Names of the offending roles per (set, user): the same walk for these users only.
    set_ids = sorted({s for s, _ in pairs})
    user_ids = sorted({u for _, u in pairs})
    detail = _ssd_held(set_ids, user_ids).subquery("ssd_detail")
    names = session.execute(
        select(detail.c.ssd_set_id, detail.c.user_id, Role.name, Role.name_key)
        .join(Role, Role.id == detail.c.member_id)
        .distinct()
        .order_by(Role.name_key)
    ).all()
    roles_of: dict[tuple[int, int], list[str]] = defaultdict(list)
    for set_id, user_id, role_name, _key in names:
        roles_of[(set_id, user_id)].append(role_name)
    set_info = {
        s.id: (s.name, s.cardinality)
        for s in session.scalars(select(SsdSet).where(SsdSet.id.in_(set_ids)))
    }
    usernames = dict(session.execute(select(User.id, User.username).where(User.id.in_(user_ids))).all())
    return [
        SsdViolation(
            ssd_set=set_info[s][0],
            cardinality=set_info[s][1],
            username=usernames[u],
            roles=tuple(roles_of[(s, u)]),
            page_key=(s, u),
        )
        for s, u in pairs
    ]


def _refuse_ssd_violations(
    session: Session, *, users: Select[Any] | None = None, sets: Sequence[int] | None = None
) -> None:
    shown = 20
    # One row more than shown: tells whether the first set has further violators.
    found = ssd_violations(session, users=users, sets=sets, limit=shown + 1)
    if not found:
        return
    first = found[0]
    same_set = [v for v in found if v.ssd_set == first.ssd_set]
    raise SeparationOfDutyError(
        first.ssd_set,
        first.cardinality,
        {v.username: v.roles for v in same_set[:shown]},
        complete=len(same_set) <= shown,
    )


def _ssd_set_users(ssd: SsdSet) -> Select[Any]:
    """Users authorized for any role of the set: members of the set's roles or of any
    role inheriting from them."""
    members = select(SsdSetRole.role_id.label("role_id")).where(SsdSetRole.ssd_set_id == ssd.id)
    seniors = _inheriting_cte(members, "ssd_seniors")
    return select(UserRole.user_id).where(UserRole.role_id.in_(select(seniors.c.role_id)))


def _ssd_row(session: Session, ssd: SsdSet) -> SsdSetRow:
    names = session.scalars(
        select(Role.name)
        .join(SsdSetRole, SsdSetRole.role_id == Role.id)
        .where(SsdSetRole.ssd_set_id == ssd.id)
        .order_by(Role.name_key)
    ).all()
    return SsdSetRow.of(ssd, tuple(names))


def _ssd_role_count(session: Session, ssd: SsdSet) -> int:
    return int(
        session.scalar(select(func.count()).where(SsdSetRole.ssd_set_id == ssd.id)) or 0
    )


def create_ssd_set(
    session: Session,
    name: str,
    roles: Sequence[Ref],
    cardinality: int,
    description: str | None = "",
) -> SsdSetRow:
    """ANSI CreateSsdSet: refused if some user already breaks it."""
    clean = validation.ssd_name(name)
    n = validation.cardinality(cardinality)
    text = validation.description(description)
    role_objs = {r.id: r for r in (get_role(session, ref) for ref in roles)}
    if n > len(role_objs):
        raise ValidationError(
            "cardinality",
            f"Cardinality {n} is larger than the number of roles in the set ({len(role_objs)}).",
        )
    with _atomic(session):
        if _exists(session, SsdSet, SsdSet.name_key, clean, None):
            raise DuplicateError(
                f"A separation-of-duty set named \u201c{clean}\u201d already exists.", field="name"
            )
        refuse_lookalike(session, SsdSet, clean, None, "separation-of-duty set")
        ssd = SsdSet(name=clean, cardinality=n, description=text)
        session.add(ssd)
        session.flush()
        for role_id in role_objs:
            session.add(SsdSetRole(ssd_set_id=ssd.id, role_id=role_id))
        session.flush()
        _refuse_ssd_violations(session, users=_ssd_set_users(ssd), sets=[ssd.id])
    return _ssd_row(session, ssd)


def add_ssd_role_member(session: Session, ssd_set: Ref, role: Ref) -> SsdSetRow:
    """ANSI AddSsdRoleMember: refused if some user would break the set."""
    ssd = get_ssd_set(session, ssd_set)
    r = get_role(session, role)
    with _atomic(session):
        if session.get(SsdSetRole, (ssd.id, r.id)) is not None:
            raise DuplicateError(f"{r.name} is already in the set {ssd.name}.")
        session.add(SsdSetRole(ssd_set_id=ssd.id, role_id=r.id))
        session.flush()
        _refuse_ssd_violations(session, users=_ssd_set_users(ssd), sets=[ssd.id])
    return _ssd_row(session, ssd)


def delete_ssd_role_member(session: Session, ssd_set: Ref, role: Ref) -> SsdSetRow:
    """ANSI DeleteSsdRoleMember: the set must keep at least ``cardinality`` roles."""
    ssd = get_ssd_set(session, ssd_set)
    r = get_role(session, role)
    member = session.get(SsdSetRole, (ssd.id, r.id))
    if member is None:
        raise NotFoundError(f"{r.name} is not in the set {ssd.name}.")
    if _ssd_role_count(session, ssd) - 1 < ssd.cardinality:
        # The cardinality cannot go below 2, so a two-role set can only be deleted.
        remedy = "lower its cardinality first" if ssd.cardinality > 2 else "delete the set instead"
        raise ValidationError(
            "roles",
            f"The set {ssd.name} needs at least {ssd.cardinality} roles; {remedy}.",
        )
    with _atomic(session):
        session.delete(member)
    return _ssd_row(session, ssd)


def delete_ssd_set(session: Session, ssd_set: Ref) -> None:
    """ANSI DeleteSsdSet."""
    ssd = get_ssd_set(session, ssd_set)
    with _atomic(session):
        for member in session.scalars(select(SsdSetRole).where(SsdSetRole.ssd_set_id == ssd.id)):
            session.delete(member)
        session.flush()
        session.delete(ssd)


def set_ssd_set_cardinality(session: Session, ssd_set: Ref, cardinality: int) -> SsdSetRow:
    """ANSI SetSsdSetCardinality: refused if some user would break the tighter limit."""
    ssd = get_ssd_set(session, ssd_set)
    n = validation.cardinality(cardinality)
    count = _ssd_role_count(session, ssd)
    if n > count:
        raise ValidationError(
            "cardinality",
            f"Cardinality {n} is larger than the number of roles in the set ({count}).",
        )
    with _atomic(session):
        if ssd.cardinality != n:
            ssd.cardinality = n
            session.flush()
            _refuse_ssd_violations(session, users=_ssd_set_users(ssd), sets=[ssd.id])
    return _ssd_row(session, ssd)


def update_ssd_set(
    session: Session, ssd_set: Ref, *, name: str = _UNSET, description: str = _UNSET
) -> SsdSetRow:
    """Rename a separation-of-duty set or change its description (its roles and its
    cardinality have their ANSI functions above). A name another set has is refused."""
    ssd = get_ssd_set(session, ssd_set)
    new_name = validation.ssd_name(name) if name is not _UNSET else None
    new_text = validation.description(description) if description is not _UNSET else None
    _change_named(session, ssd, "separation-of-duty set", new_name, new_text)
    return _ssd_row(session, ssd)


def set_ssd_set_roles(
    session: Session, ssd_set: Ref, roles: Sequence[Ref], cardinality: int | None = None
) -> SsdSetRow:
    """Replace a set's roles (and, if given, its cardinality) in one step, checked once
    at the end: swapping a role, or adding one while raising the limit, may have no order
    of single ANSI steps whose every intermediate set is unbroken."""
    ssd = get_ssd_set(session, ssd_set)
    n = validation.cardinality(ssd.cardinality if cardinality is None else cardinality)
    wanted = {r.id: r for r in (get_role(session, ref) for ref in roles)}
    if n > len(wanted):
        raise ValidationError(
            "cardinality",
            f"Cardinality {n} is larger than the number of roles in the set ({len(wanted)}).",
        )
    with _atomic(session):
        members = session.scalars(select(SsdSetRole).where(SsdSetRole.ssd_set_id == ssd.id))
        current = {m.role_id: m for m in members}
        for role_id, member in current.items():
            if role_id not in wanted:
                session.delete(member)
        for role_id in wanted:
            if role_id not in current:
                session.add(SsdSetRole(ssd_set_id=ssd.id, role_id=role_id))
        if ssd.cardinality != n:
            ssd.cardinality = n
        session.flush()
        _refuse_ssd_violations(session, users=_ssd_set_users(ssd), sets=[ssd.id])
    return _ssd_row(session, ssd)


def ssd_role_sets(session: Session) -> list[SsdSetRow]:
    """ANSI SsdRoleSets: every separation-of-duty set with its roles."""
    sets = session.scalars(select(SsdSet).order_by(SsdSet.name_key)).all()
    return [_ssd_row(session, s) for s in sets]


def ssd_role_set_roles(session: Session, ssd_set: Ref) -> list[RoleRow]:
    """ANSI SsdRoleSetRoles."""
    ssd = get_ssd_set(session, ssd_set)
    query = (
        select(Role)
        .join(SsdSetRole, SsdSetRole.role_id == Role.id)
        .where(SsdSetRole.ssd_set_id == ssd.id)
        .order_by(Role.name_key)
    )
    return [RoleRow.of(r) for r in session.scalars(query)]


def ssd_role_set_cardinality(session: Session, ssd_set: Ref) -> int:
    """ANSI SsdRoleSetCardinality."""
    return get_ssd_set(session, ssd_set).cardinality


