"""Effective access with its reasons: which permissions a user has and through which roles,
and which users hold a resource's permissions and through which roles.

Both questions are answered from deduplicated sets, never by enumerating walks (stacked
diamonds hold exponentially many): one recursive query (UNION: each role once) gives the
roles involved, each with its parents as an id list; ``core/paths.py`` rebuilds the few
shortest paths per answer from that graph. Expired assignments and inactive users are
kept and marked, because "why not?" is as common a question as "why?". Answers come a
page at a time by keyset (permissions by resource and action, users by name) with exact
counts from SQL, so a resource held by half a million users lists them as fast as the
view scrolls and never loads them all.

On SQLite, in a transaction without writes of its own, the closures come from the role
graph cached per connection (``review_sql.role_graph``) and go to SQL as JSON lists of
role ids: no statement recurses. Inside an action or a preview with pending edits the
recursive statements answer, from the transaction.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    CTE,
    Integer,
    Select,
    String,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

from . import rbac, review_sql
from .keys import name_key
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
from .paths import FoundPath, best_paths, distances, parse_ids
from .rbac import MAX_PATH_DEPTH, Ref
from .rows import AccessPath, UserRow

DEFAULT_PATHS_PER_PERMISSION = 5
DEFAULT_ROW_LIMIT = 2000
DEFAULT_USER_LIMIT = 500
MAX_ROLES = MAX_PATH_DEPTH + 1


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
    """A page of the permissions a user reaches (granted or not), with paths.

    Attributes:
        truncated: more permissions follow this page (ask again with ``after=next_after``).
        total: how many permissions the user reaches in all (counted in SQL).
        granted_total: how many of them are granted (the user's effective permissions).
        next_after: the keyset key of the page's last permission.
    """

    user: UserRow
    permissions: tuple[EffectivePermission, ...]
    truncated: bool = False
    total: int = 0
    granted_total: int = 0
    next_after: tuple[str, str] | None = None

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
    """A page of the users who reach the permissions of a resource (one action or all).

    Attributes:
        granted_users: how many distinct users are actually authorized (active, unexpired),
            counted in SQL over everyone, not only the listed page.
        listed_users: how many distinct users the whole list holds (every page): the
            granted ones, plus, unless only granted ones were asked for, those reaching a
            permission through expired assignments or while inactive.
        truncated: more users follow this page (ask again with ``after=next_after``).
        next_after: the keyset key (username key) of the page's last user.
    """

    resource: str
    action: str | None
    entries: tuple[AuthorizedEntry, ...]
    granted_users: int
    truncated: bool = False
    listed_users: int = 0
    next_after: str | None = None


def _status(active: bool, paths: Iterable[AccessPath]) -> AccessStatus:
    if not active:
        return AccessStatus.INACTIVE
    if any(not p.expired for p in paths):
        return AccessStatus.GRANTED
    return AccessStatus.EXPIRED


def _live(column: Any, moment: Any) -> Any:
    return or_(column.is_(None), column > moment)


def _parent_list() -> Any:
    """Each role's parents as one id list ("3,7,9"): a row per role, not per edge."""
    return (
        # Cast: PostgreSQL's string_agg takes text only.
        select(func.aggregate_strings(cast(RoleInheritance.inherits_from_id, String), ","))
        .where(RoleInheritance.role_id == Role.id)
        .scalar_subquery()
    )


@dataclass(slots=True)
class _RoleGraph:
    """Roles with names and parents, as read from one of the graph queries."""

    names: dict[int, str]
    parents: dict[int, list[int]]
    by_name: bool = False  # parent lists sorted by name (the cached role graph's)

    @classmethod
    def read(cls, session: Session, query: Any, params: dict[str, Any]) -> _RoleGraph:
        names: dict[int, str] = {}
        parents: dict[int, list[int]] = {}
        for role_id, name, parent_ids in session.execute(query, params):
            names[role_id] = name
            parents[role_id] = parse_ids(parent_ids)
        return cls(names, parents)

    def explain(
        self,
        starts: dict[int, tuple[datetime | None, bool]],
        dist: dict[int, int],
        goals: Sequence[int],
        k: int,
        cache: dict[Any, tuple[list[FoundPath], bool]] | None = None,
    ) -> tuple[tuple[AccessPath, ...], bool]:
        """At most ``k`` paths from the assignments ``starts`` (role -> (expiry,
        expired)) to ``goals``, live before expired, shortest first.

        ``cache`` (keyed by the goals and the ranked starts) shares the search between
        users assigned the same roles: hundreds of members of one role reach a
        permission the same way, only their expiry dates differ.
        """
        ranks = {role: int(expired) for role, (_e, expired) in starts.items()}
        key = (frozenset(goals), frozenset(ranks.items())) if cache is not None else None
        hit = cache.get(key) if cache is not None else None
        if hit is None:
            hit = best_paths(
                ranks,
                self.parents,
                dist,
                goals,
                self.names,
                k,
                max_nodes=MAX_ROLES,
                by_name=self.by_name,
            )
            if cache is not None:
                cache[key] = hit
        found, more = hit
        name = self.names.__getitem__
        paths = tuple(
            AccessPath(
                roles=tuple(map(name, p.nodes)),
                expires_at=starts[p.nodes[0]][0],
                expired=starts[p.nodes[0]][1],
            )
            for p in found
        )
        return paths, more


def _assignment(expires: datetime | None, moment: datetime) -> tuple[datetime | None, bool]:
    expires_at = rbac._as_utc(expires)
    return expires_at, expires_at is not None and expires_at <= moment


# ---------------------------------------------------------------------- user → permissions


@lru_cache(maxsize=1)
def _user_queries() -> tuple[Any, Select[Any]]:
    """(answer, counts) for one user, built once and run with bound parameters.

    The answer is one statement of three kinds of rows: the user's assignments (kind 0),
    the page of permissions reached with the roles holding each (kind 1), and the roles
    of the user's closure with their parents (kind 2) — the graph the paths are rebuilt
    from. ``up`` is that closure through every assignment (expired ones included), each
    role once; one statement instead of three saved two thirds of the time.
    """
    start = select(UserRole.role_id.label("role_id")).where(
        UserRole.user_id == bindparam("user_id")
    )
    up = rbac._inherited_cte(start, "explain_up")
    in_up = select(up.c.role_id)
    reached = select(RolePermission.permission_id).where(RolePermission.role_id.in_(in_up))
    after = tuple_(Resource.name_key, Permission.action) > tuple_(
        bindparam("after_key", type_=String), bindparam("after_action", type_=String)
    )
    page = (
        select(Permission.id, Resource.name, Permission.action, Resource.name_key)
        .join(Resource, Resource.id == Permission.resource_id)
        .where(Permission.id.in_(reached))
        .where(or_(bindparam("after_key", type_=String).is_(None), after))
        .order_by(Resource.name_key, Permission.action)
        .limit(bindparam("limit"))
        .subquery("explain_page")
    )
    no_int, no_text = cast(null(), Integer), cast(null(), String)
    answer = union_all(
        select(
            literal(0).label("kind"),
            UserRole.role_id.label("a"),
            no_text.label("b"),
            no_text.label("c"),
            no_text.label("d"),
            no_int.label("e"),
            UserRole.expires_at.label("t"),
        ).where(UserRole.user_id == bindparam("user_id")),
        select(
            literal(1),
            page.c.id,
            page.c.name,
            page.c.action,
            page.c.name_key,
            RolePermission.role_id,
            cast(null(), UserRole.expires_at.type),
        )
        .join(RolePermission, RolePermission.permission_id == page.c.id)
        .where(RolePermission.role_id.in_(in_up)),
        select(
            literal(2),
            Role.id,
            Role.name,
            _parent_list(),
            no_text,
            no_int,
            cast(null(), UserRole.expires_at.type),
        ).where(Role.id.in_(in_up)),
    )

    live_start = start.where(_live(UserRole.expires_at, bindparam("now")))
    live = rbac._inherited_cte(live_start, "explain_live")
    up3 = rbac._inherited_cte(start, "explain_up3")
    counts = select(
        select(func.count(func.distinct(RolePermission.permission_id)))
        .where(RolePermission.role_id.in_(select(up3.c.role_id)))
        .scalar_subquery(),
        select(func.count(func.distinct(RolePermission.permission_id)))
        .where(RolePermission.role_id.in_(select(live.c.role_id)))
        .scalar_subquery(),
    )
    return answer, counts


@lru_cache(maxsize=2)
def _user_query(by_id: bool) -> Executable:
    return select(
        User.id,
        User.username,
        User.display_name,
        User.email,
        User.active,
        User.password_hash.is_not(None),
        User.created_at,
        User.updated_at,
        User.version,
    ).where(User.id == bindparam("user") if by_id else User.username_key == bindparam("user"))


def _user_row(session: Session, user: Ref) -> UserRow:
    """The user as a plain row read with Core (an ORM load cost a millisecond); unknown
    references go through rbac.get_user, which names the problem."""
    if isinstance(user, str) or (isinstance(user, int) and not isinstance(user, bool)):
        by_id = isinstance(user, int)
        rows = review_sql.fetch(
            session,
            _user_query(by_id),
            {"user": user if by_id else name_key(str(user))},
            time_columns=(6, 7),
        )
        if rows:
            uid, name, shown, email, active, has_password, created, updated, version = rows[0]
            return UserRow(
                uid,
                name,
                shown,
                email,
                bool(active),
                bool(has_password),
                created,
                updated,
                version,
            )
    return UserRow.of(rbac.get_user(session, user))


# The same answer when the role graph is cached in memory (review_sql.role_graph): the
# user's closure comes from the graph and goes to SQL as a JSON list of role ids, so no
# statement recurses.
_CACHED_ASSIGNMENTS = f"""
SELECT 0, {review_sql.PROBE_SQL}, NULL
UNION ALL
SELECT 1, role_id, expires_at FROM user_roles WHERE user_id = :user_id
"""
_CACHED_PAGE = """
WITH up(role_id) AS (SELECT value FROM json_each(:roles)),
page AS (
    SELECT p.id, r.name, p.action, r.name_key
    FROM permissions p JOIN resources r ON r.id = p.resource_id
    WHERE p.id IN (SELECT permission_id FROM role_permissions WHERE role_id IN up)
      AND (:after_key IS NULL OR (r.name_key, p.action) > (:after_key, :after_action))
    ORDER BY r.name_key, p.action
    LIMIT :limit
)
SELECT page.name_key, page.action, page.id, page.name, rp.role_id
FROM page JOIN role_permissions rp ON rp.permission_id = page.id
WHERE rp.role_id IN up
"""
_CACHED_COUNTS = """
SELECT (SELECT count(DISTINCT permission_id) FROM role_permissions
        WHERE role_id IN (SELECT value FROM json_each(:roles))),
       (SELECT count(DISTINCT permission_id) FROM role_permissions
        WHERE role_id IN (SELECT value FROM json_each(:live)))
"""


def _json_ids(ids: Iterable[int]) -> str:
    return "[" + ",".join(map(str, ids)) + "]"


def _cached_user_answer(session: Session, params: dict[str, Any], moment: datetime) -> Any:
    """(assignments, holders, graph, distances of goals, counts) of effective_permissions
    from the cached role graph, or None when it cannot be used (not SQLite, or the
    transaction holds its own writes: SQL reads them)."""
    dbapi = review_sql.dbapi_of(session)
    if dbapi is None or not review_sql.graph_usable(session):
        return None
    rows = review_sql.run(dbapi, _CACHED_ASSIGNMENTS, params)
    cached = review_sql.role_graph(session, rows[0][1])
    if cached is None:
        return None
    assignments = {
        role: _assignment(review_sql.read_moment(expires), moment)
        for _kind, role, expires in rows[1:]
    }
    up = cached.up(assignments)
    roles = _json_ids(up)
    holders = review_sql.run(
        dbapi,
        _CACHED_PAGE,
        {
            "roles": roles,
            "after_key": params["after_key"],
            "after_action": params["after_action"],
            "limit": params["limit"],
        },
    )
    graph = _RoleGraph(cached.names, cached.parents, by_name=True)

    def dist_of(goals: list[int]) -> dict[int, int]:
        return cached.distances(goals, up)

    def counts() -> tuple[int, int]:
        live = cached.up(r for r, (_e, expired) in assignments.items() if not expired)
        ((every, granted),) = review_sql.run(
            dbapi, _CACHED_COUNTS, {"roles": roles, "live": _json_ids(live)}
        )
        return every, granted

    return assignments, holders, graph, dist_of, counts


def effective_permissions(
    session: Session,
    user: Ref,
    *,
    now: datetime | None = None,
    paths_per_permission: int = DEFAULT_PATHS_PER_PERMISSION,
    limit: int = DEFAULT_ROW_LIMIT,
    after: tuple[str, str] | None = None,
    counts: bool = True,
) -> UserAccess:
    """A page of the permissions ``user`` reaches through any assignment, with paths.

    Expired assignments and inactive users are included and marked (``status``), so the
    view can say why something is *not* granted. ``granted`` entries match
    ``rbac.user_permissions`` exactly.

    Args:
        paths_per_permission: at most this many paths per permission (shortest first).
        limit: at most this many permissions (one page).
        after: the ``next_after`` of the previous page (None: the first page).
        counts: also count every reachable and granted permission (``total``,
            ``granted_total``); a view asks once, not for every page.
    """
    moment = now or utcnow()
    u = _user_row(session, user)
    answer_q, counts_q = _user_queries()
    params: dict[str, Any] = {
        "user_id": u.id,
        "after_key": after[0] if after else None,
        "after_action": after[1] if after else None,
        "limit": limit + 1,
        "now": moment,
    }
    assignments: dict[int, tuple[datetime | None, bool]] = {}
    holders: list[Any] = []
    graph = _RoleGraph({}, {})
    cached = _cached_user_answer(session, params, moment)
    if cached is not None:
        assignments, holders, graph, dist_of, cached_counts = cached
    else:
        started = time.perf_counter()
        for kind, a, b, c, d, e, t in review_sql.fetch(session, answer_q, params):
            if kind == 0:
                assignments[a] = _assignment(review_sql.read_moment(t), moment)
            elif kind == 1:
                holders.append((d, c, a, b, e))  # sorted below by (resource key, action)
            else:
                graph.names[a] = b
                graph.parents[a] = parse_ids(c)
        order = list(graph.names)
        review_sql.spent_on_sql(session, time.perf_counter() - started)

        def dist_of(goals: list[int]) -> dict[int, int]:
            return distances(graph.parents, goals, order)

        def cached_counts() -> tuple[int, int]:
            ((every, live),) = review_sql.fetch(session, counts_q, params, moments=("now",))
            return every, live

    holders.sort()
    grouped: dict[int, list[Any]] = {}
    for row in holders:
        grouped.setdefault(row[2], []).append(row)
    truncated = len(grouped) > limit
    # A first page that holds every permission counts them itself (below); otherwise two
    # more closures in SQL (as much as the answer itself on a deep hierarchy).
    counted_here = after is None and not truncated and paths_per_permission > 0
    total = granted_total = 0
    if counts and assignments and not counted_here:
        total, granted_total = cached_counts()
        granted_total = granted_total if u.active else 0
    if not holders:
        return UserAccess(u, (), False, int(total), int(granted_total))
    perm_ids = list(grouped)[:limit]
    # Permissions held by the same roles have the same paths (a role holds ~15 of them).
    paths_of: dict[frozenset[int], tuple[tuple[AccessPath, ...], bool]] = {}
    result = []
    for pid in perm_ids:
        group = grouped[pid]
        goals = [row[4] for row in group]
        key = frozenset(goals)
        found = paths_of.get(key)
        if found is None:
            dist = dist_of(goals)
            starts = {r: x for r, x in assignments.items() if r in dist}
            found = paths_of[key] = graph.explain(starts, dist, goals, paths_per_permission)
        paths, more = found
        result.append(
            EffectivePermission(
                permission_id=pid,
                resource=group[0][3],
                action=group[0][1],
                status=_status(u.active, paths),
                paths=paths,
                more_paths=more,
            )
        )
    if counts and counted_here:
        # Every reached permission is listed; one is granted when a path from a live
        # assignment reaches it, and the paths come live first.
        total = len(result)
        granted_total = sum(1 for p in result if p.paths and not p.paths[0].expired)
        granted_total = granted_total if u.active else 0
    last = grouped[perm_ids[-1]][0]
    return UserAccess(
        u,
        tuple(result),
        truncated,
        int(total),
        int(granted_total),
        (last[0], last[1]) if truncated else None,
    )


# ---------------------------------------------------------------------- resource → users


def _granting(permission_ids: Any) -> CTE:
    """(permission_id, role_id): every role that has one of ``permission_ids``, directly
    or by inheriting it — each pair once."""
    walk = (
        select(
            RolePermission.permission_id.label("permission_id"),
            RolePermission.role_id.label("role_id"),
        )
        .where(RolePermission.permission_id.in_(permission_ids))
        .cte("explain_granting", recursive=True)
    )
    return walk.union(
        select(walk.c.permission_id, RoleInheritance.role_id).where(
            RoleInheritance.inherits_from_id == walk.c.role_id
        )
    )


def _holders(permission_ids: Any) -> CTE:
    """Distinct roles that have one of ``permission_ids``, directly or by inheriting."""
    start = select(RolePermission.role_id.label("role_id")).where(
        RolePermission.permission_id.in_(permission_ids)
    )
    return rbac._inheriting_cte(start, "holders")


# Audiences up to this many assignments are read by id and sorted; larger ones are read
# in username order from the index (the sort would grow with the audience, the index walk
# with the page: at 5% of the users or more, a page of 100 scans a few thousand names).
SPARSE_AUDIENCE = 50_000


@dataclass(frozen=True, slots=True)
class _ResourceQueries:
    """The statements of one kind of resource_access call, built once with bind
    parameters (``resource_id`` or ``perm_id``, ``now``, ``cap``, ``after``, ``limit``,
    ``user_ids``): building them per call cost more than running them on small files."""

    counts: Executable
    sparse: Executable
    pages: dict[tuple[bool, bool], Executable]  # (sparse, after given) -> page
    graph: Executable  # kind 0: granting role and parents, 1: direct grant, 2: action
    assignments: Executable


@lru_cache(maxsize=16)
def _resource_queries(
    one_action: bool, only_granted: bool, from_list: bool = False
) -> _ResourceQueries:
    """The statements; with ``from_list`` the holders (the roles having a permission,
    directly or by inheriting it) come as a JSON list of ids (``holder_ids``, from the
    cached role graph) instead of a recursive query (SQLite only)."""
    perm_query: Any = (
        select(bindparam("perm_id", type_=Integer))
        if one_action
        else select(Permission.id).where(Permission.resource_id == bindparam("resource_id"))
    )
    holders = (
        select(literal_column("value").label("role_id"))
        .select_from(func.json_each(bindparam("holder_ids", type_=String)))
        .cte("holders")
        if from_list
        else _holders(perm_query)
    )
    live = _live(UserRole.expires_at, bindparam("now", type_=UserRole.expires_at.type))
    members = select(UserRole.user_id).where(UserRole.role_id.in_(select(holders.c.role_id)))
    granted_members = members.where(live)
    listed = select(User.id).where(User.id.in_(granted_members if only_granted else members))
    if only_granted:
        listed = listed.where(User.active.is_(True))
    granted_count = (
        select(func.count())
        .where(User.id.in_(granted_members), User.active.is_(True))
        .scalar_subquery()
    )
    listed_count = (
        granted_count
        if only_granted
        else select(func.count()).select_from(listed.subquery()).scalar_subquery()
    )
    capped = members.limit(bindparam("cap")).subquery()
    pages: dict[tuple[bool, bool], Executable] = {}
    for sparse in (True, False):
        for paged in (True, False):
            page = select(User.id, User.username, User.active, User.username_key)
            if sparse:
                # Few members: read them by id and sort them (a few thousand at most).
                page = page.where(User.id.in_(granted_members if only_granted else members))
            else:
                # Many: walk the username index in order and keep members, so a page of a
                # resource half the company reaches costs a page, not a sort of everyone.
                conditions = [
                    UserRole.user_id == User.id,
                    UserRole.role_id.in_(select(holders.c.role_id)),
                ]
                if only_granted:
                    conditions.append(live)
                page = page.where(select(UserRole.user_id).where(*conditions).exists())
            if only_granted:
                page = page.where(User.active.is_(True))
            if paged:
                page = page.where(User.username_key > bindparam("after", type_=String))
            pages[(sparse, paged)] = page.order_by(User.username_key).limit(bindparam("limit"))
    granting = _granting(perm_query)
    no_int, no_text = cast(null(), Integer), cast(null(), String)
    return _ResourceQueries(
        counts=select(
            granted_count,
            listed_count,
            select(func.count()).select_from(capped).scalar_subquery(),
        ),
        sparse=select(func.count()).select_from(capped),
        pages=pages,
        # One statement, three kinds of rows: a round trip each cost more than the rows.
        graph=union_all(
            select(
                literal(0).label("kind"),
                granting.c.permission_id.label("a"),
                Role.id.label("b"),
                Role.name.label("c"),
                _parent_list().label("d"),
            ).join(Role, Role.id == granting.c.role_id),
            select(
                literal(1), RolePermission.permission_id, RolePermission.role_id, no_text, no_text
            ).where(RolePermission.permission_id.in_(perm_query)),
            select(literal(2), Permission.id, no_int, Permission.action, no_text).where(
                Permission.id.in_(perm_query)
            ),
        ),
        assignments=select(UserRole.user_id, UserRole.role_id, UserRole.expires_at).where(
            UserRole.user_id.in_(bindparam("user_ids", expanding=True)),
            UserRole.role_id.in_(select(holders.c.role_id)),
        ),
    )


@lru_cache(maxsize=4)
def _lookup_queries(by_id: bool) -> tuple[Executable, Executable]:
    """(resource, permission): a resource by id or key, the id of one of its actions."""
    resource = select(Resource.id, Resource.name).where(
        Resource.id == bindparam("resource")
        if by_id
        else Resource.name_key == bindparam("resource")
    )
    permission = select(Permission.id).where(
        Permission.resource_id == bindparam("resource_id"),
        Permission.action == bindparam("action"),
    )
    return resource, permission


def resource_access(
    session: Session,
    resource: Ref,
    action: str | None = None,
    *,
    now: datetime | None = None,
    only_granted: bool = False,
    paths_per_permission: int = DEFAULT_PATHS_PER_PERMISSION,
    user_limit: int = DEFAULT_USER_LIMIT,
    after: str | None = None,
    counts: bool = True,
) -> ResourceAccess:
    """A page of the users who reach ``action`` on ``resource`` (every action if None),
    with paths.

    Users come by username (the index on username_key serves the order and the keyset,
    so any page of a huge audience costs a page, not a sort of everyone); expired and
    inactive ones are included and marked unless ``only_granted``.

    Args:
        user_limit: at most this many users (one page).
        after: the ``next_after`` of the previous page (None: the first page).
        counts: also count the granted and the listed users over every page.
    """
    moment = now or utcnow()
    res_id, res_name = _resource_of(session, resource)
    params: dict[str, Any] = {"resource_id": res_id, "now": moment}
    action_key: str | None = None
    if action is not None:
        action_key = str(action).strip().lower()
        found = review_sql.fetch(
            session, _lookup_queries(True)[1], {"resource_id": res_id, "action": action_key}
        )
        if not found:
            rbac.get_permission(session, (res_id, action_key))  # names the problem
        params["perm_id"] = found[0][0]
    cached = _cached_resource_graph(session, params, action_key is not None)
    started = time.perf_counter()
    queries = _resource_queries(action_key is not None, only_granted, cached is not None)
    if cached is not None:
        params["holder_ids"] = cached[0]
    granted_users = listed_users = 0
    params["cap"] = SPARSE_AUDIENCE
    if counts:  # with the count (capped) that picks the page plan
        ((granted, listed, members),) = review_sql.fetch(
            session, queries.counts, params, moments=("now",)
        )
        granted_users, listed_users = int(granted or 0), int(listed or 0)
    else:
        ((members,),) = review_sql.fetch(session, queries.sparse, params)
    page_query = queries.pages[(int(members or 0) < SPARSE_AUDIENCE, after is not None)]
    page = review_sql.fetch(
        session,
        page_query,
        dict(params, after=after, limit=user_limit + 1),
        moments=("now",),
    )
    truncated = len(page) > user_limit
    page = page[:user_limit]
    next_after = page[-1][3] if truncated else None
    if not page:
        return ResourceAccess(
            res_name, action_key, (), granted_users, truncated, listed_users, next_after
        )

    # The granting roles of each permission, with names and parents: the graph the paths
    # of every listed user are rebuilt from (each role once per permission).
    graph = _RoleGraph({}, {})
    closure: dict[int, list[int]] = {}
    actions: dict[int, str] = {}
    goals: dict[int, list[int]] = {}
    if cached is not None:
        _ids, role_graph, actions, goals, closure_sets = cached
        graph = _RoleGraph(role_graph.names, role_graph.parents, by_name=True)
        closure = {pid: list(roles) for pid, roles in closure_sets.items()}
        dist = {pid: role_graph.distances(goals.get(pid, []), closure_sets[pid]) for pid in closure}
    else:
        for kind, pid, role_id, text, parent_ids in review_sql.fetch(
            session, queries.graph, params
        ):
            if kind == 0:
                graph.names[role_id] = text
                graph.parents[role_id] = parse_ids(parent_ids)
                closure.setdefault(pid, []).append(role_id)
            elif kind == 1:
                goals.setdefault(pid, []).append(role_id)
            else:
                actions[pid] = text
        dist = {
            # Each closure is listed from its holders up; ``distances`` sweeps its list from
            # the end, so it gets it reversed: nearest the holders first, one sweep settles it.
            pid: distances(graph.parents, goals.get(pid, []), roles[::-1])
            for pid, roles in closure.items()
        }
        review_sql.spent_on_sql(session, time.perf_counter() - started)

    assigned: dict[int, dict[int, tuple[datetime | None, bool]]] = {}
    for user_id, role_id, expires in review_sql.fetch(
        session, queries.assignments, dict(params, user_ids=[row[0] for row in page])
    ):
        assigned.setdefault(user_id, {})[role_id] = _assignment(
            review_sql.read_moment(expires), moment
        )
    entries = []
    searches: dict[Any, tuple[list[FoundPath], bool]] = {}
    ordered_perms = sorted(closure, key=lambda pid: actions.get(pid, ""))
    for user_id, username, active, _key in page:
        mine = assigned.get(user_id, {})
        for pid in ordered_perms:
            d = dist[pid]
            starts = {r: a for r, a in mine.items() if r in d and (not only_granted or not a[1])}
            if not starts:
                continue
            paths, more = graph.explain(
                starts, d, goals.get(pid, []), paths_per_permission, searches
            )
            entries.append(
                AuthorizedEntry(
                    user_id=user_id,
                    username=username,
                    active=bool(active),
                    permission_id=pid,
                    resource=res_name,
                    action=actions.get(pid, ""),
                    status=_status(bool(active), paths),
                    paths=paths,
                    more_paths=more,
                )
            )
    return ResourceAccess(
        res_name, action_key, tuple(entries), granted_users, truncated, listed_users, next_after
    )


_CACHED_PERMISSIONS = (
    f"SELECT 0, {review_sql.PROBE_SQL}, NULL, NULL"
    + """
UNION ALL
SELECT 1, p.id, p.action, rp.role_id
FROM permissions p LEFT JOIN role_permissions rp ON rp.permission_id = p.id
WHERE {condition}
"""
)


def _cached_resource_graph(session: Session, params: dict[str, Any], one_action: bool) -> Any:
    """(holder ids as JSON, the cached role graph, action per permission, direct holders
    per permission, closure per permission) for resource_access, or None when the
    cached role graph cannot be used (not SQLite, or the transaction holds its own
    writes: SQL reads them). A permission's closure is every role holding it directly
    or by inheriting it; permissions no role holds are left out, as the graph
    statement leaves them."""
    dbapi = review_sql.dbapi_of(session)
    if dbapi is None or not review_sql.graph_usable(session):
        return None
    condition = "p.id = :perm_id" if one_action else "p.resource_id = :resource_id"
    rows = review_sql.run(
        dbapi,
        _CACHED_PERMISSIONS.format(condition=condition),
        {k: params[k] for k in (("perm_id",) if one_action else ("resource_id",))},
    )
    cached = review_sql.role_graph(session, rows[0][1])
    if cached is None:
        return None
    actions: dict[int, str] = {}
    goals: dict[int, list[int]] = {}
    for _kind, pid, action, role in rows[1:]:
        actions[pid] = action
        if role is not None:
            goals.setdefault(pid, []).append(role)
    closure = {pid: cached.down(roles) for pid, roles in goals.items()}
    every: dict[int, None] = {}
    for roles in closure.values():
        every.update(roles)
    return _json_ids(every), cached, actions, goals, closure


def _resource_of(session: Session, resource: Ref) -> tuple[int, str]:
    """(id, name) of a resource by id or name; rbac.get_resource names what is wrong."""
    if isinstance(resource, str) or (isinstance(resource, int) and not isinstance(resource, bool)):
        by_id = isinstance(resource, int)
        key = resource if by_id else name_key(str(resource))
        found = review_sql.fetch(session, _lookup_queries(by_id)[0], {"resource": key})
        if found:
            return int(found[0][0]), str(found[0][1])
    res = rbac.get_resource(session, resource)
    return res.id, res.name
