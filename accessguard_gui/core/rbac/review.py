"""ANSI review and system functions: who is assigned to what, the effective roles,
permissions and users (set-based recursive SQL), and the access check with its reasons."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeGuard, TypeVar

from sqlalchemy import CTE, Select, bindparam, literal, or_, select
from sqlalchemy.orm import Session

from .. import review_sql
from ..access_query import run_access_query
from ..models import (
    Permission,
    Resource,
    Role,
    RolePermission,
    User,
    UserRole,
    UTCDateTime,
    utcnow,
)
from ..rows import (
    AccessDecision,
    AccessPath,
    AssignmentRow,
    DenyReason,
    PermissionRow,
    RoleRow,
    UserRow,
)
from .base import MAX_EXPLAINED_PATHS, MAX_PATH_DEPTH, Ref, get_permission, get_role, get_user
from .closure import _inherited_cte, _inheriting_cte

T = TypeVar("T")


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


def authorized_roles(session: Session, user: Ref, *, now: datetime | None = None) -> list[RoleRow]:
    """ANSI AuthorizedRoles: assigned roles (not expired) and all they inherit from.
    Inactive users have none, as in user_permissions (assigned_roles still lists them)."""
    moment = now or utcnow()
    fast = _answered_fast(session, user, moment, review_sql.authorized_roles)
    if fast is not None:
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
    fast = _answered_fast(session, user, moment, review_sql.user_permissions)
    if fast is not None:
        return fast
    u = get_user(session, user)
    if not u.active:
        return []
    rows = session.execute(_user_permissions_query(), {"user_id": u.id, "now": moment})
    return [PermissionRow(*row) for row in rows]


def _answered_fast(
    session: Session,
    user: Ref,
    moment: datetime,
    fast: Callable[[Session, int | str, datetime], list[T] | None],
) -> list[T] | None:
    """review_sql's answer for a plain id or name, or None (the caller then asks the ORM
    path). An empty answer for an unknown user becomes the usual NotFoundError."""
    if not _plain_ref(user):
        return None
    answer = fast(session, user, moment)
    if answer is not None and not answer:
        get_user(session, user)  # an unknown user is an error, not "nothing"
    return answer


def _plain_ref(ref: object) -> TypeGuard[int | str]:
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
        fast = review_sql.authorized_users(session, resource, action.strip().lower(), moment, limit)
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
        return AccessDecision(
            False, user_label, resource_label, action_label, DenyReason.UNKNOWN_USER
        )
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
        return AccessDecision(
            False, user_label, resource_label, action_label, DenyReason.UNKNOWN_USER
        )
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
        [
            AccessPath(roles, expires, expires is not None and expires <= moment)
            for roles, expires in found.paths
        ]
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
