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

On SQLite the closures come from the role graph cached per connection
(``review_sql.role_graph``: the committed graph, with a transaction's own pending role
edits replayed on it) and go to SQL as JSON lists of role ids: no statement recurses.
The recursive statements answer where it cannot (PostgreSQL; a graph SQLite must read
whole while SQL is cheaper).
"""

from __future__ import annotations

import enum
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
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
    text,
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
        # Positional arguments and a list: keywords and a generator cost a third more of
        # what building ten paths of 33 roles costs (about as much as finding them).
        paths = tuple([AccessPath(tuple(map(name, p.nodes)), *starts[p.nodes[0]]) for p in found])
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


def _as_user_row(values: Sequence[Any], moment: Callable[[Any], datetime]) -> UserRow:
    """A UserRow from the columns of ``_user_query`` (``moment`` reads the two times)."""
    uid, name, shown, email, active, has_password, created, updated, version = values
    return UserRow(
        uid,
        name,
        shown,
        email,
        bool(active),
        bool(has_password),
        moment(created),
        moment(updated),
        version,
    )


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
            return _as_user_row(rows[0], lambda moment: moment)
    return UserRow.of(rbac.get_user(session, user))


# The same answer when the role graph is cached in memory (review_sql.role_graph): the
# user's closure comes from the graph and goes to SQL as a JSON list of role ids, so no
# statement recurses.
# The user (by id or key) with the cache's key, then their assignments: one statement.
_CACHED_ASSIGNMENTS = (
    f"SELECT 0, {review_sql.PROBE_SQL}, id, username, display_name, email, active, "
    "password_hash IS NOT NULL, created_at, updated_at, version FROM users WHERE {user}"
    + """
UNION ALL
SELECT 1, role_id, expires_at, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM user_roles WHERE user_id = (SELECT id FROM users WHERE {user})
"""
)
# One row per (permission, role of the closure holding it), in page order; the caller
# reads rows until the page holds ``limit`` permissions (and one more, to know that more
# follow). A join from the closure's ids measured 10 us on stacked diamonds where the
# same page as ``IN`` lists (two, each built per execution) with a LIMIT cost 35 us.
_CACHED_PAGE = """
SELECT r.name_key, p.action, p.id, r.name, rp.role_id
FROM json_each(:roles) AS up
JOIN role_permissions rp ON rp.role_id = up.value
JOIN permissions p ON p.id = rp.permission_id
JOIN resources r ON r.id = p.resource_id
WHERE :after_key IS NULL OR (r.name_key, p.action) > (:after_key, :after_action)
ORDER BY r.name_key, p.action
"""
_CACHED_COUNTS = """
SELECT (SELECT count(DISTINCT permission_id) FROM role_permissions
        WHERE role_id IN (SELECT value FROM json_each(:roles))),
       (SELECT count(DISTINCT permission_id) FROM role_permissions
        WHERE role_id IN (SELECT value FROM json_each(:live)))
"""


def _json_ids(ids: Iterable[int]) -> str:
    """Role ids as a JSON list for ``json_each``: a Python list of ints prints as one
    (a third cheaper than joining their texts)."""
    return str(list(ids))


def _graph_rows(
    session: Session,
    ref: Ref,
    sql: str,
    name: str,
    columns: tuple[str, str],
    params: dict[str, Any],
) -> tuple[Any, list[Any], review_sql.RoleGraph] | None:
    """(DBAPI connection, rows, cached role graph) of ``sql``, a statement looking ``ref``
    up by id or by key (``columns``, formatted into ``{name}``) whose first row (kind 0)
    carries ``review_sql.PROBE_SQL``; None when the cached graph cannot answer (not
    SQLite; a transaction holding role writes where SQL answers) or nothing was found
    by a plain id or name (the caller's own lookup names the problem)."""
    dbapi = review_sql.dbapi_of(session)
    if (
        dbapi is None
        or not review_sql.graph_usable(session)
        or isinstance(ref, bool)
        or not isinstance(ref, int | str)
    ):
        return None
    by_id = isinstance(ref, int)
    condition = f"{columns[0] if by_id else columns[1]} = :{name}"
    rows = review_sql.run(
        dbapi,
        sql.format(**{name: condition}),
        {**params, name: ref if by_id else name_key(str(ref))},
    )
    if not rows or rows[0][0] != 0:
        return None
    cached = review_sql.role_graph(session, rows[0][1])
    return None if cached is None else (dbapi, rows, cached)


def _cached_user_answer(
    session: Session, user: Ref, params: dict[str, Any], moment: datetime
) -> Any:
    """(user, assignments, holders, graph, distances of goals, counts) of
    effective_permissions from the cached role graph, or None when it cannot be used
    (not SQLite; a transaction holding role writes where SQL answers) or the user is
    not found by a plain id or name (the caller's lookup names the problem)."""
    found = _graph_rows(session, user, _CACHED_ASSIGNMENTS, "user", ("id", "username_key"), {})
    if found is None:
        return None
    dbapi, rows, cached = found
    u = _as_user_row(rows[0][2:], review_sql.stored_time)
    assignments = {row[1]: _assignment(review_sql.read_moment(row[2]), moment) for row in rows[1:]}
    up = cached.up(assignments)
    roles = _json_ids(up)
    holders: list[Any] = []
    wanted = params["limit"]  # permissions: the page's and one more
    seen: set[int] = set()
    page_params = {
        "roles": roles,
        "after_key": params["after_key"],
        "after_action": params["after_action"],
    }
    for row in review_sql.rows(dbapi, _CACHED_PAGE, page_params):
        if row[2] not in seen:
            if len(seen) == wanted:
                break
            seen.add(row[2])
        holders.append(row)
    graph = _RoleGraph(cached.names, cached.parents, by_name=True)

    def dist_of(goals: list[int]) -> dict[int, int]:
        return cached.distances(goals, up)

    def counts() -> tuple[int, int]:
        live = cached.up(r for r, (_e, expired) in assignments.items() if not expired)
        ((every, granted),) = review_sql.run(
            dbapi, _CACHED_COUNTS, {"roles": roles, "live": _json_ids(live)}
        )
        return every, granted

    return u, assignments, holders, graph, dist_of, counts


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
    answer_q, counts_q = _user_queries()
    params: dict[str, Any] = {
        "after_key": after[0] if after else None,
        "after_action": after[1] if after else None,
        "limit": limit + 1,
        "now": moment,
    }
    assignments: dict[int, tuple[datetime | None, bool]] = {}
    holders: list[Any] = []
    graph = _RoleGraph({}, {})
    cached = _cached_user_answer(session, user, params, moment)
    if cached is not None:
        u, assignments, holders, graph, dist_of, cached_counts = cached
    else:
        u = _user_row(session, user)
        params["user_id"] = u.id
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
                pid, group[0][3], group[0][1], _status(u.active, paths), paths, more
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


# The counts when the holders come as a list of ids (the cached role graph): the members
# of the holders (user, live) are read once, not once per count (three ``IN`` lists over
# the holders cost 37 us of a 200 us resource view on stacked diamonds; this, 12 us).
_GRANTED_FROM_LIST = """(SELECT count(*) FROM users u
        WHERE u.active IS 1 AND u.id IN (SELECT user_id FROM members WHERE live))"""
_COUNTS_FROM_LIST = """
WITH holders(role_id) AS {materialized}(SELECT value FROM json_each(:holder_ids)),
members(user_id, live) AS {materialized}(
    SELECT ur.user_id, ur.expires_at IS NULL OR ur.expires_at > :now
    FROM holders JOIN user_roles ur ON ur.role_id = holders.role_id
)
SELECT {granted} AS granted, {listed} AS listed,
       (SELECT count(*) FROM (SELECT 1 FROM members LIMIT :cap)) AS capped
"""
_LISTED_COUNTS = {
    only: text(
        _COUNTS_FROM_LIST.format(
            # Read once, not once per use (SQLite 3.35+; older ones choose themselves).
            materialized="MATERIALIZED " if sqlite3.sqlite_version_info >= (3, 35) else "",
            granted=_GRANTED_FROM_LIST,
            listed=_GRANTED_FROM_LIST
            if only
            else "(SELECT count(*) FROM users u WHERE u.id IN (SELECT user_id FROM members))",
        )
    )
    for only in (False, True)
}


# A page of a resource's audience when it is small (SPARSE_AUDIENCE) and the holders
# come as a list of ids (the cached role graph): the page's users, each with every
# assignment of theirs (those reaching no holder are left out in Python), one statement
# where a page and then its users' assignments took two. ``now`` is bound as stored text.
_SPARSE_PAGE = """
WITH page AS (
    SELECT u.id, u.username, u.active, u.username_key FROM users u
    WHERE u.id IN (
        SELECT ur.user_id FROM json_each(:holder_ids) AS h
        JOIN user_roles ur ON ur.role_id = h.value{live})
      {conditions}
    ORDER BY u.username_key
    LIMIT :limit
)
SELECT page.id, page.username, page.active, page.username_key, ur.role_id, ur.expires_at
FROM page LEFT JOIN user_roles ur ON ur.user_id = page.id
ORDER BY page.username_key
"""
_SPARSE_PAGES = {
    (only_granted, paged): _SPARSE_PAGE.format(
        live=" AND (ur.expires_at IS NULL OR ur.expires_at > :now)" if only_granted else "",
        conditions="".join(
            (
                " AND u.active IS 1" if only_granted else "",
                " AND u.username_key > :after" if paged else "",
            )
        ),
    )
    for only_granted in (False, True)
    for paged in (False, True)
}


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
        counts=_LISTED_COUNTS[only_granted]
        if from_list
        else select(
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
        # With the holders listed, a page user's other assignments are left out in
        # Python (they reach no holder): cheaper than filtering by the list in SQL.
        assignments=select(UserRole.user_id, UserRole.role_id, UserRole.expires_at).where(
            UserRole.user_id.in_(bindparam("user_ids", expanding=True)),
            *(() if from_list else (UserRole.role_id.in_(select(holders.c.role_id)),)),
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
    action_key = None if action is None else str(action).strip().lower()
    cached = _cached_resource_graph(session, resource, action_key)
    started = time.perf_counter()
    moments: tuple[str, ...] = ("now",)  # bound as SQLite stores a moment, by fetch
    if cached is not None:
        res_id, res_name = cached.res_id, cached.res_name
        # SQLite: the moment as stored text once, not once per statement.
        params: dict[str, Any] = {"resource_id": res_id, "now": review_sql.stored_text(moment)}
        moments = ()
        params["perm_id"] = cached.perm_id
        params["holder_ids"] = cached.holder_ids
    else:
        res_id, res_name = _resource_of(session, resource)
        params = {"resource_id": res_id, "now": moment}
        if action_key is not None:
            found = review_sql.fetch(
                session, _lookup_queries(True)[1], {"resource_id": res_id, "action": action_key}
            )
            if not found:
                rbac.get_permission(session, (res_id, action_key))  # names the problem
            params["perm_id"] = found[0][0]
    queries = _resource_queries(action_key is not None, only_granted, cached is not None)
    granted_users = listed_users = 0
    params["cap"] = SPARSE_AUDIENCE
    if counts:  # with the count (capped) that picks the page plan
        ((granted, listed, members),) = review_sql.fetch(
            session, queries.counts, params, moments=moments
        )
        granted_users, listed_users = int(granted or 0), int(listed or 0)
    else:
        ((members,),) = review_sql.fetch(session, queries.sparse, params)
    sparse = int(members or 0) < SPARSE_AUDIENCE
    assigned: dict[int, dict[int, tuple[datetime | None, bool]]] | None = None
    page_params = dict(params, after=after, limit=user_limit + 1)
    if cached is not None and sparse:
        # The page's users with every assignment of theirs, in one statement.
        page: list[Any] = []
        assigned = {}
        for uid, username, active, key, role_id, expires in review_sql.run(
            cached.dbapi, _SPARSE_PAGES[(only_granted, after is not None)], page_params
        ):
            if not page or page[-1][0] != uid:
                page.append((uid, username, active, key))
            if role_id is not None:
                assigned.setdefault(uid, {})[role_id] = _assignment(
                    review_sql.read_moment(expires), moment
                )
    else:
        page_query = queries.pages[(sparse, after is not None)]
        page = review_sql.fetch(session, page_query, page_params, moments=moments)
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
        graph = _RoleGraph(cached.graph.names, cached.graph.parents, by_name=True)
        actions, goals, dist = cached.actions, cached.goals, cached.dist
        closure = {pid: [] for pid in dist}
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

    if assigned is None:
        assigned = {}
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
                    user_id,
                    username,
                    bool(active),
                    pid,
                    res_name,
                    actions.get(pid, ""),
                    _status(bool(active), paths),
                    paths,
                    more,
                )
            )
    return ResourceAccess(
        res_name, action_key, tuple(entries), granted_users, truncated, listed_users, next_after
    )


# The resource, the permission(s) asked about and the roles holding each directly, with
# the cache's key: one statement where three lookups cost a round trip each.
_CACHED_RESOURCE = (
    f"SELECT 0, {review_sql.PROBE_SQL}, r.id, r.name FROM resources r WHERE {{resource}}"
    + """
UNION ALL
SELECT 1, p.id, p.action, rp.role_id
FROM resources r JOIN permissions p ON p.resource_id = r.id
LEFT JOIN role_permissions rp ON rp.permission_id = p.id
WHERE {resource} AND (:action IS NULL OR p.action = :action)
"""
)


@dataclass(frozen=True, slots=True)
class _CachedResource:
    """What resource_access needs from the cached role graph: the resource, the id of
    the one permission asked about, the holders (roles having a permission directly or
    by inheriting it) of all as JSON, and per permission its action, direct holders and
    every holder's distance to the nearest direct one."""

    dbapi: Any  # the session's SQLite connection
    res_id: int
    res_name: str
    perm_id: int | None
    holder_ids: str
    graph: review_sql.RoleGraph
    actions: dict[int, str]
    goals: dict[int, list[int]]
    dist: dict[int, dict[int, int]]


def _cached_resource_graph(
    session: Session, resource: Ref, action: str | None
) -> _CachedResource | None:
    """The resource's permissions and their holders from the cached role graph, or None
    when it cannot be used (not SQLite; a transaction holding role writes where SQL
    answers), or when the resource or the action is unknown (the caller's lookups name
    the problem). Permissions no role holds are left out, as the graph statement
    leaves them."""
    found = _graph_rows(
        session, resource, _CACHED_RESOURCE, "resource", ("r.id", "r.name_key"), {"action": action}
    )
    if found is None or (action is not None and len(found[1]) < 2):
        return None
    dbapi, rows, cached = found
    actions: dict[int, str] = {}
    goals: dict[int, list[int]] = {}
    for _kind, pid, action_name, role in rows[1:]:
        actions[pid] = action_name
        if role is not None:
            goals.setdefault(pid, []).append(role)
    # One breadth-first search per permission gives both its holders (every role
    # reaching a direct holder) and their distances.
    dist = {pid: cached.distances(roles) for pid, roles in goals.items()}
    every: dict[int, None] = {}
    for reached in dist.values():
        every.update(dict.fromkeys(reached))
    return _CachedResource(
        dbapi,
        rows[0][2],
        rows[0][3],
        rows[1][1] if action is not None else None,
        _json_ids(every),
        cached,
        actions,
        goals,
        dist,
    )


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
