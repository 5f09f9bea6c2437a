"""Effective access with its reasons: which permissions a user has and through which roles,
and which users hold a resource's permissions and through which roles.

Both questions are answered by one recursive query each that walks the inheritance graph
and keeps the walk as a path of role ids ("3,7,9": assigned role 3 inherits from 7, which
inherits from 9, which holds the permission). Expired assignments and inactive users are
kept and marked, because "why not?" is as common a question as "why?". Results are bounded
(paths per permission, rows per answer) so a role held by half a million users cannot
flood a view.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CTE,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session

from . import rbac
from .models import (
    Permission,
    Resource,
    Role,
    RoleInheritance,
    RolePermission,
    User,
    UserRole,
    utcnow,
)
from .rbac import MAX_PATH_DEPTH, Ref
from .rows import AccessPath, UserRow

DEFAULT_PATHS_PER_PERMISSION = 5
DEFAULT_ROW_LIMIT = 2000
DEFAULT_USER_LIMIT = 500


class AccessStatus(enum.StrEnum):
    """Why a reachable permission does or does not count."""

    GRANTED = "granted"
    EXPIRED = "expired assignment"
    INACTIVE = "inactive user"


@dataclass(frozen=True, slots=True)
class EffectivePermission:
    """One permission a user reaches, with the walks that reach it.

    Attributes:
        status: GRANTED if some unexpired path grants it to an active user; EXPIRED if only
            expired assignments lead to it; INACTIVE if the user is inactive.
        paths: the shortest paths first, unexpired before expired, at most the limit asked.
        more_paths: True if further paths exist beyond those listed.
    """

    permission_id: int
    resource: str
    action: str
    status: AccessStatus
    paths: tuple[AccessPath, ...]
    more_paths: bool = False

    @property
    def label(self) -> str:
        return f"{self.resource}: {self.action}"

    @property
    def granted(self) -> bool:
        return self.status is AccessStatus.GRANTED


@dataclass(frozen=True, slots=True)
class UserAccess:
    """Every permission a user reaches (granted or not), with paths.

    Attributes:
        truncated: the answer was cut at the row limit; more permissions exist.
    """

    user: UserRow
    permissions: tuple[EffectivePermission, ...]
    truncated: bool = False

    @property
    def granted(self) -> tuple[EffectivePermission, ...]:
        return tuple(p for p in self.permissions if p.granted)


@dataclass(frozen=True, slots=True)
class AuthorizedEntry:
    """One user reaching one permission of a resource, with the paths."""

    user_id: int
    username: str
    active: bool
    permission_id: int
    resource: str
    action: str
    status: AccessStatus
    paths: tuple[AccessPath, ...]
    more_paths: bool = False

    @property
    def label(self) -> str:
        return f"{self.resource}: {self.action}"

    @property
    def granted(self) -> bool:
        return self.status is AccessStatus.GRANTED


@dataclass(frozen=True, slots=True)
class ResourceAccess:
    """Users who reach the permissions of a resource (one action or all of them).

    Attributes:
        granted_users: how many distinct users are actually authorized (active, unexpired),
            counted in SQL over everyone, not only the listed page.
        truncated: more users exist than the ``entries`` list.
    """

    resource: str
    action: str | None
    entries: tuple[AuthorizedEntry, ...]
    granted_users: int
    truncated: bool = False


def _expired_flag(column: Any, moment: datetime) -> Any:
    return case((and_(column.is_not(None), column <= moment), 1), else_=0)


def _status(active: bool, paths: Iterable[AccessPath]) -> AccessStatus:
    if not active:
        return AccessStatus.INACTIVE
    if any(not p.expired for p in paths):
        return AccessStatus.GRANTED
    return AccessStatus.EXPIRED


def _as_paths(
    session: Session, raw: list[tuple[str, datetime | None]], now: datetime
) -> list[AccessPath]:
    """Turn "id,id,id" walks into role-name paths with one name lookup for all."""
    id_lists = [[int(x) for x in path.split(",")] for path, _ in raw]
    names = _role_names(session, (i for ids in id_lists for i in ids))
    result = []
    for ids, (_, expires) in zip(id_lists, raw, strict=True):
        expires_at = rbac._as_utc(expires)
        result.append(
            AccessPath(
                roles=tuple(names.get(i, f"#{i}") for i in ids),
                expires_at=expires_at,
                expired=expires_at is not None and expires_at <= now,
            )
        )
    return result


def _role_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = session.execute(select(Role.id, Role.name).where(Role.id.in_(wanted)))
    return {rid: name for rid, name in rows}


# ---------------------------------------------------------------------- user → permissions


def _upward_walk(user_ids: Any) -> CTE:
    """Walks from the assignments of ``user_ids`` (expired ones included) along "inherits
    from" edges: (user_id, role_id, path, depth, expires_at)."""
    walk = (
        select(
            UserRole.user_id.label("user_id"),
            UserRole.role_id.label("role_id"),
            cast(UserRole.role_id, String).label("path"),
            literal(0).label("depth"),
            UserRole.expires_at.label("expires_at"),
        )
        .where(UserRole.user_id.in_(user_ids))
        .cte("upwalk", recursive=True)
    )
    return walk.union_all(
        select(
            walk.c.user_id,
            RoleInheritance.inherits_from_id,
            walk.c.path + "," + cast(RoleInheritance.inherits_from_id, String),
            walk.c.depth + 1,
            walk.c.expires_at,
        ).where(RoleInheritance.role_id == walk.c.role_id, walk.c.depth < MAX_PATH_DEPTH)
    )


def effective_permissions(
    session: Session,
    user: Ref,
    *,
    now: datetime | None = None,
    paths_per_permission: int = DEFAULT_PATHS_PER_PERMISSION,
    limit: int = DEFAULT_ROW_LIMIT,
) -> UserAccess:
    """Every permission ``user`` reaches through any assignment, with the paths.

    Expired assignments and inactive users are included and marked (``status``), so the
    view can say why something is *not* granted. ``granted`` entries match
    ``rbac.user_permissions`` exactly.

    Args:
        paths_per_permission: at most this many paths per permission (shortest first).
        limit: at most this many permissions.
    """
    moment = now or utcnow()
    u = rbac.get_user(session, user)
    walk = _upward_walk([u.id])
    expired = _expired_flag(walk.c.expires_at, moment)
    hits = (
        select(
            RolePermission.permission_id.label("permission_id"),
            walk.c.path,
            walk.c.expires_at,
            func.row_number()
            .over(
                partition_by=RolePermission.permission_id,
                order_by=(expired, walk.c.depth, walk.c.path),
            )
            .label("rn"),
        )
        .join(RolePermission, RolePermission.role_id == walk.c.role_id)
        .subquery("hits")
    )
    # One query: each permission brings at most k+1 paths (k shown, one to say "more"),
    # so (limit+1)·(k+1) rows are enough to see limit+1 permissions, the first limit whole.
    rows = session.execute(
        select(
            hits.c.permission_id, Resource.name, Permission.action, hits.c.path, hits.c.expires_at
        )
        .join(Permission, Permission.id == hits.c.permission_id)
        .join(Resource, Resource.id == Permission.resource_id)
        .where(hits.c.rn <= paths_per_permission + 1)
        .order_by(Resource.name_key, Permission.action, hits.c.rn)
        .limit((limit + 1) * (paths_per_permission + 1))
    ).all()
    grouped: dict[int, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.permission_id, []).append(row)
    truncated = len(grouped) > limit
    perm_ids = list(grouped)[:limit]
    all_raw = [
        (r.path, r.expires_at) for pid in perm_ids for r in grouped[pid][:paths_per_permission]
    ]
    converted = iter(_as_paths(session, all_raw, moment))
    result = []
    for pid in perm_ids:
        group = grouped[pid]
        paths = tuple(next(converted) for _ in group[:paths_per_permission])
        result.append(
            EffectivePermission(
                permission_id=pid,
                resource=group[0].name,
                action=group[0].action,
                status=_status(u.active, paths),
                paths=paths,
                more_paths=len(group) > paths_per_permission,
            )
        )
    return UserAccess(UserRow.of(u), tuple(result), truncated)


# ---------------------------------------------------------------------- resource → users


def _downward_walk(permission_ids: Any) -> CTE:
    """Walks from the roles holding ``permission_ids`` down to every role inheriting from
    them: (permission_id, role_id, path, depth); the path is written in reading order
    (inheriting role first, holder last)."""
    walk = (
        select(
            RolePermission.permission_id.label("permission_id"),
            RolePermission.role_id.label("role_id"),
            cast(RolePermission.role_id, String).label("path"),
            literal(0).label("depth"),
        )
        .where(RolePermission.permission_id.in_(permission_ids))
        .cte("downwalk", recursive=True)
    )
    return walk.union_all(
        select(
            walk.c.permission_id,
            RoleInheritance.role_id,
            cast(RoleInheritance.role_id, String) + "," + walk.c.path,
            walk.c.depth + 1,
        ).where(RoleInheritance.inherits_from_id == walk.c.role_id, walk.c.depth < MAX_PATH_DEPTH)
    )


def _holders(permission_ids: Any) -> CTE:
    """Distinct roles that have one of ``permission_ids``, directly or by inheriting."""
    start = select(RolePermission.role_id.label("role_id")).where(
        RolePermission.permission_id.in_(permission_ids)
    )
    return rbac._inheriting_cte(start, "holders")


def resource_access(
    session: Session,
    resource: Ref,
    action: str | None = None,
    *,
    now: datetime | None = None,
    only_granted: bool = False,
    paths_per_permission: int = DEFAULT_PATHS_PER_PERMISSION,
    user_limit: int = DEFAULT_USER_LIMIT,
) -> ResourceAccess:
    """Users who reach ``action`` on ``resource`` (every action if None), with paths.

    The first ``user_limit`` users by username are listed (the index on username_key
    serves the order, so a huge audience costs a page, not a sort of everyone); expired
    and inactive ones are included and marked unless ``only_granted``.
    """
    moment = now or utcnow()
    res = rbac.get_resource(session, resource)
    perm_query = select(Permission.id).where(Permission.resource_id == res.id)
    action_key: str | None = None
    if action is not None:
        action_key = str(action).strip().lower()
        perm = rbac.get_permission(session, (res.id, action_key))
        perm_query = select(literal(perm.id))
    holders = _holders(perm_query)
    live = or_(UserRole.expires_at.is_(None), UserRole.expires_at > moment)
    members = select(UserRole.user_id).where(UserRole.role_id.in_(select(holders.c.role_id)))
    granted_members = members.where(live)
    granted_users = int(
        session.scalar(
            select(func.count()).where(User.id.in_(granted_members), User.active.is_(True))
        )
        or 0
    )
    page_query = select(User.id).where(User.id.in_(granted_members if only_granted else members))
    if only_granted:
        page_query = page_query.where(User.active.is_(True))
    page = list(
        session.scalars(page_query.order_by(User.username_key).limit(user_limit + 1))
    )
    truncated = len(page) > user_limit
    page = page[:user_limit]
    if not page:
        return ResourceAccess(res.name, action_key, (), granted_users, truncated)

    walk = _downward_walk(perm_query)
    expired = _expired_flag(UserRole.expires_at, moment)
    hits = (
        select(
            UserRole.user_id.label("user_id"),
            walk.c.permission_id,
            walk.c.path,
            UserRole.expires_at.label("expires_at"),
            func.row_number()
            .over(
                partition_by=(UserRole.user_id, walk.c.permission_id),
                order_by=(expired, walk.c.depth, walk.c.path),
            )
            .label("rn"),
        )
        .join(UserRole, UserRole.role_id == walk.c.role_id)
        .where(UserRole.user_id.in_(page))
    )
    if only_granted:
        hits = hits.where(live)
    hit_sq = hits.subquery("hits")
    rows = session.execute(
        select(
            hit_sq.c.user_id,
            User.username,
            User.active,
            hit_sq.c.permission_id,
            Permission.action,
            hit_sq.c.path,
            hit_sq.c.expires_at,
        )
        .join(User, User.id == hit_sq.c.user_id)
        .join(Permission, Permission.id == hit_sq.c.permission_id)
        .where(hit_sq.c.rn <= paths_per_permission + 1)
        .order_by(User.username_key, Permission.action, hit_sq.c.rn)
    ).all()
    grouped: dict[tuple[int, int], list[Any]] = {}
    for row in rows:
        grouped.setdefault((row.user_id, row.permission_id), []).append(row)
    all_raw = [
        (r.path, r.expires_at) for group in grouped.values() for r in group[:paths_per_permission]
    ]
    converted = iter(_as_paths(session, all_raw, moment))
    entries = []
    for (user_id, perm_id), group in grouped.items():
        shown = group[:paths_per_permission]
        paths = tuple(next(converted) for _ in shown)
        first = group[0]
        entries.append(
            AuthorizedEntry(
                user_id=user_id,
                username=first.username,
                active=bool(first.active),
                permission_id=perm_id,
                resource=res.name,
                action=first.action,
                status=_status(bool(first.active), paths),
                paths=paths,
                more_paths=len(group) > paths_per_permission,
            )
        )
    return ResourceAccess(res.name, action_key, tuple(entries), granted_users, truncated)
