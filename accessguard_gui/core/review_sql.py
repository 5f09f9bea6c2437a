"""The review functions' statements on SQLite, run on the session's own DBAPI connection.

user_permissions, authorized_roles and authorized_users answer with one recursive query
each. Through SQLAlchemy the query was the smaller part of their cost: building the
result rows (ORM lookups of the user first, then a Result with a type processor per
column — a regex per timestamp) cost 2.7-3.7x the bare statement (bench/bench_core.py).
Here each is one statement that also looks the user / permission up by key or id, run in
the caller's transaction on the DBAPI connection (as ``access_query`` does), its rows
turned into the same ``*Row`` snapshots with C-speed conversions. An empty answer is
ambiguous (no such user, or nothing granted), so only then does the caller look the
record up properly to raise the right NotFoundError. Other databases keep the
SQLAlchemy statements (these functions return None there).

``fetch`` does the same for any Core statement built once (explain.py's effective-access
statements): compiled once to SQLite's text, run on the DBAPI connection, elsewhere
through the session.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Container, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

from .keys import name_key
from .rows import PermissionRow, RoleRow, UserRow

_SQL_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how UTCDateTime stores a moment on SQLite

_LIVE_REACH = """
WITH RECURSIVE reach(role_id) AS (
    SELECT ur.role_id FROM user_roles ur
    WHERE ur.user_id = (SELECT id FROM users WHERE {user} AND active)
      AND (ur.expires_at IS NULL OR ur.expires_at > :now)
    UNION
    SELECT ri.inherits_from_id FROM role_inheritance ri JOIN reach ON ri.role_id = reach.role_id
)
"""
_USER_PERMISSIONS = (
    _LIVE_REACH
    + """SELECT p.id, p.resource_id, r.name, p.action, p.description, p.version
FROM permissions p JOIN resources r ON r.id = p.resource_id
WHERE p.id IN (SELECT permission_id FROM role_permissions WHERE role_id IN reach)
ORDER BY r.name_key, p.action
"""
)
_AUTHORIZED_ROLES = (
    _LIVE_REACH
    + """SELECT id, name, description, version FROM roles WHERE id IN reach ORDER BY name_key
"""
)
_AUTHORIZED_USERS = """
WITH RECURSIVE granting(role_id) AS (
    SELECT role_id FROM role_permissions WHERE permission_id = (
        SELECT p.id FROM permissions p JOIN resources r ON r.id = p.resource_id
        WHERE {resource} AND p.action = :action)
    UNION
    SELECT ri.role_id FROM role_inheritance ri JOIN granting ON ri.inherits_from_id = granting.role_id
)
SELECT id, username, display_name, email, active, password_hash IS NOT NULL,
       created_at, updated_at, version
FROM users
WHERE active AND id IN (
    SELECT user_id FROM user_roles
    WHERE role_id IN granting AND (expires_at IS NULL OR expires_at > :now))
ORDER BY username_key
"""


_DBAPI_KEY = "accessguard_sqlite_dbapi"


def _connection_of(session: Session) -> tuple[sqlite3.Connection | None, dict[Any, Any]]:
    """The SQLite DBAPI connection of ``session``'s transaction (None elsewhere) and the
    pool's ``info`` dict of that connection (it lives as long as the DBAPI connection:
    the role-graph cache is kept there).

    Remembered for the transaction (``session.info``): asking the session for its
    connection again cost a tenth of an access check (bench/bench_core.py). A new
    transaction (after a commit or rollback) is a new object, so it asks again."""
    transaction = session.get_transaction()
    if transaction is not None:
        known = session.info.get(_DBAPI_KEY)
        if known is not None and known[0] is transaction:
            return known[1], known[2]
    conn = session.connection()
    raw = conn.connection.driver_connection if conn.dialect.name == "sqlite" else None
    dbapi = raw if isinstance(raw, sqlite3.Connection) else None
    info: dict[Any, Any] = conn.connection.info if dbapi is not None else {}
    session.info[_DBAPI_KEY] = (session.get_transaction(), dbapi, info)
    return dbapi, info


def _dbapi(session: Session) -> sqlite3.Connection | None:
    """The SQLite DBAPI connection of ``session``'s transaction (None elsewhere)."""
    return _connection_of(session)[0]


def dbapi_of(session: Session) -> sqlite3.Connection | None:
    """The SQLite DBAPI connection of ``session``'s transaction, or None on another
    database: statements run there in the caller's transaction, without SQLAlchemy's
    per-statement work."""
    return _dbapi(session)


def run(dbapi: sqlite3.Connection, sql: str, params: dict[str, Any]) -> list[Any]:
    """The rows of ``sql`` on the DBAPI connection (errors wrapped as SQLAlchemy's)."""
    return _run(dbapi, sql, params)


def _run(dbapi: sqlite3.Connection, sql: str, params: dict[str, Any]) -> list[Any]:
    try:
        return dbapi.execute(sql, params).fetchall()
    except sqlite3.Error as exc:
        # As SQLAlchemy would wrap it, so Database turns it into a typed error.
        raise DBAPIError.instance(sql, params, exc, sqlite3.Error) from exc


def stored_text(moment: datetime) -> str:
    """``moment`` as UTCDateTime stores it on SQLite (naive UTC text), for comparisons."""
    return moment.astimezone(UTC).replace(tzinfo=None).strftime(_SQL_TIME)


def stored_moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text).replace(tzinfo=UTC)


def _stored_time(text: str) -> datetime:
    """A NOT NULL moment as SQLite stores it (created_at, updated_at)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _user_condition(ref: int | str) -> tuple[str, Any]:
    if isinstance(ref, int):
        return "id = :user", ref
    return "username_key = :user", name_key(ref)


def user_permissions(
    session: Session, user: int | str, now: datetime
) -> list[PermissionRow] | None:
    """The effective permissions of an active ``user``; None when not on SQLite."""
    dbapi = _dbapi(session)
    if dbapi is None:
        return None
    condition, value = _user_condition(user)
    rows = _run(
        dbapi, _USER_PERMISSIONS.format(user=condition), {"user": value, "now": stored_text(now)}
    )
    return [PermissionRow(*row) for row in rows]


def authorized_roles(session: Session, user: int | str, now: datetime) -> list[RoleRow] | None:
    """The roles an active ``user`` is authorized for; None when not on SQLite."""
    dbapi = _dbapi(session)
    if dbapi is None:
        return None
    condition, value = _user_condition(user)
    rows = _run(
        dbapi, _AUTHORIZED_ROLES.format(user=condition), {"user": value, "now": stored_text(now)}
    )
    return [RoleRow(*row) for row in rows]


def authorized_users(
    session: Session, resource: int | str, action: str, now: datetime, limit: int | None
) -> list[UserRow] | None:
    """Active users with a live path to the permission; None when not on SQLite."""
    dbapi = _dbapi(session)
    if dbapi is None:
        return None
    value: int | str = resource if isinstance(resource, int) else name_key(resource)
    condition = "r.id = :resource" if isinstance(resource, int) else "r.name_key = :resource"
    sql = _AUTHORIZED_USERS.format(resource=condition)
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    params = {"resource": value, "action": action, "now": stored_text(now)}
    moment = _stored_time
    return [
        UserRow(
            uid,
            username,
            display,
            email,
            bool(active),
            bool(has_password),
            moment(created),
            moment(updated),
            version,
        )
        for uid, username, display, email, active, has_password, created, updated, version in _run(
            dbapi, sql, params
        )
    ]


# ---------------------------------------------------------------------- any statement

# SQLite's SQL with named parameters (sqlite3 takes ``:name``), so a statement compiled
# once runs on the DBAPI connection with the caller's parameter dict as it is.
_NAMED_SQLITE = SQLiteDialect_pysqlite(paramstyle="named")


@lru_cache(maxsize=64)
def _compiled(statement: Executable) -> tuple[str, dict[str, Any], frozenset[str]]:
    """The SQLite text of a statement built once (an ``lru_cache``'d constant of the
    caller), the values of the literals it binds (``literal(0)``...) and the names of its
    list parameters (``bindparam(..., expanding=True)``), spelled out per execution. A
    literal SQLAlchemy renders only at execution (the separator of ``aggregate_strings``)
    is bound like the others."""
    compiled: Any = statement.compile(dialect=_NAMED_SQLITE)  # type: ignore[attr-defined]
    expanding = frozenset(name for name, bind in compiled.binds.items() if bind.expanding)

    def placeholder(match: re.Match[str]) -> str:
        name = match.group(1)
        return match.group(0) if name in expanding else f":{name}"

    sql = _POSTCOMPILE.sub(placeholder, compiled.string)
    return sql, dict(compiled.construct_params(_check=False)), expanding


_POSTCOMPILE = re.compile(r"__\[POSTCOMPILE_(\w+)\]")


def fetch(
    session: Session,
    statement: Executable,
    params: dict[str, Any],
    *,
    moments: tuple[str, ...] = (),
    time_columns: tuple[int, ...] = (),
) -> list[Any]:
    """The rows of a Core statement built once with ``bindparam``\\ s, as plain tuples.

    On SQLite the statement's text (compiled once) runs on the session's DBAPI connection:
    SQLAlchemy's work per execution (cache key, parameter and result processing: ~0.1 ms
    a statement) cost more than the small queries of the access views. There the
    parameters named in ``moments`` are bound as SQLite stores them and the
    ``time_columns`` of the rows are read back into aware datetimes, as the column type
    would. Other databases run the statement through the session.
    """
    dbapi = _dbapi(session)
    if dbapi is None:
        rows = [tuple(row) for row in session.execute(statement, params)]
        return [_with_moments(row, time_columns) for row in rows] if time_columns else rows
    sql, defaults, expanding = _compiled(statement)
    values = {**defaults, **params}
    for name in expanding:
        items = values.pop(name)
        names = [f"{name}_{i}" for i in range(len(items))]
        values.update(zip(names, items, strict=True))
        # An empty list matches nothing, as SQLAlchemy renders it.
        listed = ", ".join(f":{n}" for n in names) if names else "SELECT NULL WHERE 0"
        sql = sql.replace(f"__[POSTCOMPILE_{name}]", listed)
    for name in moments:
        if values[name] is not None:
            values[name] = stored_text(values[name])
    rows = _run(dbapi, sql, values)
    if time_columns:
        rows = [_with_moments(row, time_columns) for row in rows]
    return rows


def _with_moments(row: tuple[Any, ...], columns: tuple[int, ...]) -> tuple[Any, ...]:
    values = list(row)
    for index in columns:
        values[index] = read_moment(values[index])
    return tuple(values)


def read_moment(value: Any) -> datetime | None:
    """A moment as ``fetch`` gives it (SQLite's stored text, or a datetime from another
    database) as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
    return value.astimezone(UTC)  # type: ignore[no-any-return]


# ---------------------------------------------------------------------- role graph cache

# The role-inheritance graph (and the role names) kept in memory per SQLite connection.
#
# On deep hierarchies (stacked diamonds, lattices) the statements returning the closure
# graph cost ~2.7x the bare recursive query in SQLite alone (bench/bench_core.py): the
# explanation needs every role of the closure with its parents, read again per question.
# The graph is small (a row per role and per edge) and changes rarely, so each DBAPI
# connection keeps it, with the key it was read at: (``PRAGMA data_version``,
# ``total_changes``). ``data_version`` changes when any other connection (any process)
# commits, ``total_changes`` grows with every row this connection writes (committed or
# not). An access check is a security decision: a stale graph would answer "may X do Y"
# wrongly. So the cache is used, and built, only when the connection's transaction holds
# no writes of its own (a preview's pending edits are read by SQL, from the
# transaction), i.e. outside a transaction or with ``total_changes`` still at its value
# when the transaction began (recorded by the listeners below). PostgreSQL never uses it.

_GRAPH_KEY = "accessguard_role_graph"
_BEGUN_KEY = "accessguard_changes_at_begin"


@dataclass(slots=True)
class RoleGraph:
    """Every role's name, parents (the roles it inherits from, sorted by name) and
    children, as committed at ``key`` (data_version, total_changes)."""

    key: tuple[int, int]
    names: dict[int, str]
    parents: dict[int, list[int]]
    children: dict[int, list[int]]

    def up(self, starts: Iterable[int]) -> dict[int, None]:
        """The roles ``starts`` reach by inheritance, themselves included (each once,
        breadth-first: an ordered dict used as a set)."""
        seen: dict[int, None] = dict.fromkeys(starts)
        return _closure(seen, self.parents)

    def down(self, starts: Iterable[int]) -> dict[int, None]:
        """The roles inheriting (directly or not) from ``starts``, themselves included."""
        seen: dict[int, None] = dict.fromkeys(starts)
        return _closure(seen, self.children)

    def distances(self, goals: Iterable[int], within: Container[int]) -> dict[int, int]:
        """Edges from each role of ``within`` to the nearest goal, following parents
        inside ``within`` only; roles that reach no goal are left out (as
        ``paths.distances`` gives them, by one breadth-first search from the goals)."""
        dist = {g: 0 for g in goals if g in within}
        frontier = list(dist)
        children = self.children
        depth = 0
        while frontier:
            depth += 1
            following: list[int] = []
            for role in frontier:
                for child in children.get(role, ()):
                    if child not in dist and child in within:
                        dist[child] = depth
                        following.append(child)
            frontier = following
        return dist


def _closure(seen: dict[int, None], edges: dict[int, list[int]]) -> dict[int, None]:
    frontier = list(seen)
    while frontier:
        following: list[int] = []
        for role in frontier:
            for other in edges.get(role, ()):
                if other not in seen:
                    seen[other] = None
                    following.append(other)
        frontier = following
    return seen


def _clean(dbapi: sqlite3.Connection, info: dict[Any, Any]) -> bool:
    """True when the connection's transaction holds no writes of its own: it sees the
    committed database (the cache's view) exactly."""
    if not dbapi.in_transaction:
        return True
    begun = info.get(_BEGUN_KEY)
    return begun is not None and begun == dbapi.total_changes


def graph_usable(session: Session) -> bool:
    """Whether ``role_graph`` can answer in this transaction (SQLite, no writes of its
    own): callers ask before running the statements that go with the cached graph."""
    dbapi, info = _connection_of(session)
    return dbapi is not None and _clean(dbapi, info)


def data_version(dbapi: sqlite3.Connection) -> int:
    """``PRAGMA data_version`` of the connection: changes when another connection commits."""
    return int(dbapi.execute("PRAGMA data_version").fetchone()[0])


def role_graph(session: Session, version: int | None = None) -> RoleGraph | None:
    """The committed role graph from the connection's cache (read again when the
    database changed), or None: not SQLite, or the transaction holds its own writes
    (then the caller asks SQL, which sees them).

    Args:
        version: ``PRAGMA data_version`` if the caller read it in this transaction
            already (its statement can carry it); read here otherwise.
    """
    dbapi, info = _connection_of(session)
    if dbapi is None or not _clean(dbapi, info):
        return None
    if version is None:
        version = data_version(dbapi)
    key = (version, dbapi.total_changes)
    graph: RoleGraph | None = info.get(_GRAPH_KEY)
    if graph is not None and graph.key == key:
        return graph
    graph = read_role_graph(dbapi, key)
    if dbapi.total_changes == key[1]:  # reading wrote nothing (it never does; to be sure)
        info[_GRAPH_KEY] = graph
    return graph


def read_role_graph(dbapi: sqlite3.Connection, key: tuple[int, int]) -> RoleGraph:
    """The role graph as the connection's transaction sees it (two scans of small
    tables: what a change costs the next question; bench/bench_core.py times it)."""
    names: dict[int, str] = dict(_run(dbapi, "SELECT id, name FROM roles", {}))
    parents: dict[int, list[int]] = {}
    children: dict[int, list[int]] = {}
    for role, parent in _run(
        dbapi, "SELECT role_id, inherits_from_id FROM role_inheritance ORDER BY role_id", {}
    ):
        parents.setdefault(role, []).append(parent)
        children.setdefault(parent, []).append(role)
    for listed in parents.values():  # by name: the order the explanations take them in
        listed.sort(key=names.__getitem__)
    return RoleGraph(key, names, parents, children)


def _note_begin(conn: Connection) -> None:
    """A transaction begins on ``conn``: remember its SQLite connection's
    ``total_changes``, so writes made inside the transaction are recognised."""
    record = conn.connection
    driver = record.driver_connection
    if isinstance(driver, sqlite3.Connection):
        record.info[_BEGUN_KEY] = driver.total_changes


def _note_end(conn: Connection) -> None:
    """The transaction ended: until the next one begins, nothing is known of it."""
    conn.connection.info.pop(_BEGUN_KEY, None)


event.listen(Engine, "begin", _note_begin)
event.listen(Engine, "commit", _note_end)
event.listen(Engine, "rollback", _note_end)
