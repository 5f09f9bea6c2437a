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
import time
import weakref
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, Pool, event
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
    if dbapi is not None and _COSTS_KEY not in info:
        info[_COSTS_KEY] = _COSTS.setdefault(conn.engine, {})
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


def rows(dbapi: sqlite3.Connection, sql: str, params: dict[str, Any]) -> Iterator[Any]:
    """The rows of ``sql`` one at a time, for a caller that may stop early (errors
    wrapped as SQLAlchemy's, as ``run`` does)."""
    try:
        cursor = dbapi.execute(sql, params)
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, params, exc, sqlite3.Error) from exc
    try:
        yield from cursor
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, params, exc, sqlite3.Error) from exc
    finally:
        cursor.close()  # a caller that stops early leaves no statement running


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
    return None if text is None else stored_time(text)


def stored_time(text: str) -> datetime:
    """A NOT NULL moment as SQLite stores it (created_at, updated_at): naive UTC text,
    read as an aware UTC datetime. Parsed with the offset appended: 0.15 us, where
    parsing and then ``replace(tzinfo=UTC)`` cost 0.9 us (two per user row of
    authorized_users). Text that already carries an offset (or is not a full moment) is
    read as before: its wall time in UTC."""
    try:
        return datetime.fromisoformat(text + "+00:00")
    except ValueError:
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
    moment = stored_time
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
        return stored_time(value)
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
# connection keeps it. An access check is a security decision: a stale graph would answer
# "may X do Y" wrongly, so the graph is used only under the key it was read at:
#
# - ``PRAGMA data_version``: changes when any other connection (any process) commits;
# - the role writes of this connection: TEMP triggers on ``roles`` and
#   ``role_inheritance`` (installed per connection, ``_install``) call a Python function
#   that counts every row written there, committed or not; savepoint rollbacks that undo
#   such writes count too. Without the triggers (they could not be made, or a migration
#   dropped the tables under them) every row written counts (``total_changes``);
# - whether the transaction holds role writes of its own: a graph read before any (the
#   committed graph) serves every later transaction with the same key (a rollback keeps
#   it so); a graph made after some (a preview's pending inheritance edits) belongs to
#   that transaction only (a token made when it began) and dies with it.
#
# Assignments and grants are not part of the graph (the questions read them by SQL, from
# the transaction), so a preview of pending assignments and grants answers from the
# committed graph. After role writes of its own, a transaction's graph is the committed
# graph with those writes replayed from their log (``_replayed``); where that graph is
# not cached, reading the whole graph may cost more than answering a question or two by
# SQL (2.4 ms on the 1M file, against 0.1 ms a check): it is read once the time spent
# answering by SQL in that state reaches what the last read cost (``spent_on_sql``).
# PostgreSQL never uses the cache.

_GRAPH_KEY = "accessguard_role_graph"  # the committed graph, shared by transactions
_TXN_GRAPH_KEY = "accessguard_txn_graph"  # one read after the transaction's own role writes
_BEGUN_KEY = "accessguard_begun"  # (token, counters) when the transaction began
_WRITES_KEY = "accessguard_role_writes"  # [rows written to roles / role_inheritance]
_UNDONE_KEY = "accessguard_undone"  # [savepoint rollbacks undoing role writes, any writes]
_SAVEPOINTS_KEY = "accessguard_savepoints"  # savepoint name -> counters when it began
_NO_TRIGGERS_KEY = "accessguard_no_triggers"
_PRUNED_KEY = "accessguard_log_pruned"  # the count when the log was last emptied
_COSTS_KEY = "accessguard_costs"  # the engine's: {"graph": last read, "sql": last answer}
_SPENT_KEY = "accessguard_sql_spent"  # (state, seconds answered by SQL in it)
# What reading the graph and answering by SQL last cost, per engine (every connection of
# a pool sees the same file): a connection need not learn it again.
_COSTS: weakref.WeakKeyDictionary[Engine, dict[str, float]] = weakref.WeakKeyDictionary()

_WROTE = "accessguard_role_written"
_TRIGGER_PREFIX = "accessguard_graph_"
# Every role and inheritance row this connection writes is also logged, in order, in a
# TEMP table: it is part of the transaction (a rollback, a savepoint rolled back or a
# failed statement takes its rows with it), so the rows after the counter's value at
# BEGIN are exactly the transaction's own surviving role writes, and its graph is the
# committed graph with them replayed (``_replayed``) instead of a whole read.
_LOG = "accessguard_graph_log"
_LOG_TABLE = (
    f"CREATE TEMP TABLE IF NOT EXISTS {_LOG} "
    "(seq INTEGER PRIMARY KEY, op INTEGER NOT NULL, a INTEGER, b INTEGER, name TEXT)"
)
_ROLE_SET, _ROLE_DROP, _EDGE_ADD, _EDGE_DROP, _ROLE_RENAME = 1, 2, 3, 4, 5


def _logged(op: int, a: str, b: str = "NULL", name: str = "NULL") -> str:
    """The statement a trigger runs: the function's count is the log row's ``seq``
    (SQLite takes no schema name there; a TEMP trigger finds the TEMP table first)."""
    return f"INSERT INTO {_LOG} VALUES ({_WROTE}(), {op}, {a}, {b}, {name});"


_TRIGGERS = tuple(
    f"CREATE TEMP TRIGGER IF NOT EXISTS {_TRIGGER_PREFIX}{table}_{event_name} "
    f"AFTER {event_sql} ON main.{table} BEGIN {body} END"
    for table, event_name, event_sql, body in (
        ("roles", "insert", "INSERT", _logged(_ROLE_SET, "NEW.id", name="NEW.name")),
        (
            "roles",
            "update",
            "UPDATE OF id, name",
            _logged(_ROLE_RENAME, "OLD.id", "NEW.id", "NEW.name"),
        ),
        ("roles", "delete", "DELETE", _logged(_ROLE_DROP, "OLD.id")),
        (
            "role_inheritance",
            "insert",
            "INSERT",
            _logged(_EDGE_ADD, "NEW.role_id", "NEW.inherits_from_id"),
        ),
        (
            "role_inheritance",
            "update",
            "UPDATE",
            _logged(_EDGE_DROP, "OLD.role_id", "OLD.inherits_from_id")
            + " "
            + _logged(_EDGE_ADD, "NEW.role_id", "NEW.inherits_from_id"),
        ),
        (
            "role_inheritance",
            "delete",
            "DELETE",
            _logged(_EDGE_DROP, "OLD.role_id", "OLD.inherits_from_id"),
        ),
    )
)
# The key the questions' statements carry (one integer, so each statement needs one column
# for it): data_version * 16 + how many of the triggers exist.
PROBE_SQL = (
    "(SELECT data_version * 16 + (SELECT count(*) FROM temp.sqlite_master "
    f"WHERE type = 'trigger' AND name GLOB '{_TRIGGER_PREFIX}*') FROM pragma_data_version)"
)


@dataclass(slots=True)
class RoleGraph:
    """Every role's name, parents (the roles it inherits from, sorted by name) and
    children, as the connection saw them at ``key``."""

    key: tuple[Any, ...]
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

    def distances(
        self, goals: Iterable[int], within: Container[int] | None = None
    ) -> dict[int, int]:
        """Edges from each role of ``within`` (every role if None) to the nearest goal,
        following parents inside ``within`` only; roles that reach no goal are left out
        (as ``paths.distances`` gives them, by one breadth-first search from the goals:
        its keys are every role reaching a goal, nearest first)."""
        dist = {g: 0 for g in goals if within is None or g in within}
        frontier = list(dist)
        children = self.children
        depth = 0
        while frontier:
            depth += 1
            following: list[int] = []
            for role in frontier:
                for child in children.get(role, ()):
                    if child not in dist and (within is None or child in within):
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


def _counters(dbapi: sqlite3.Connection, info: dict[Any, Any]) -> tuple[Any, ...]:
    """(role rows written, savepoint rollbacks undoing them, rows written, savepoint
    rollbacks undoing any): what changes whenever this connection changes what it sees."""
    writes = info.get(_WRITES_KEY)
    undone = info.get(_UNDONE_KEY) or (0, 0)
    return (None if writes is None else writes[0], undone[0], dbapi.total_changes, undone[1])


def _state(dbapi: sqlite3.Connection, info: dict[Any, Any], tracked: bool) -> Any:
    """What the connection's transaction sees of the role graph, as a hashable key
    (with the token of the transaction when it holds role writes of its own), or None
    when that cannot be told (a transaction begun without our knowing)."""
    counters = _counters(dbapi, info)
    mine = counters[:2] if tracked else counters[2:]
    if not dbapi.in_transaction:
        return (tracked, mine, None)
    begun = info.get(_BEGUN_KEY)
    if begun is None:
        return None
    token, at_begin = begun
    if (at_begin[:2] if tracked else at_begin[2:]) == mine:
        return (tracked, mine, None)  # no role writes of its own: the committed graph
    return (tracked, mine, token)


def _probe(dbapi: sqlite3.Connection) -> int:
    return int(_run(dbapi, "SELECT " + PROBE_SQL, {})[0][0])


def data_version(dbapi: sqlite3.Connection) -> int:
    """``PRAGMA data_version`` of the connection: changes when another connection commits."""
    return int(dbapi.execute("PRAGMA data_version").fetchone()[0])


def _worth_reading(info: dict[Any, Any], state: Any) -> bool:
    """In a transaction holding role writes: read the graph once answering by SQL in this
    state has cost what the last read did, or would with one more answer (as long as the
    last one); SQL answers first when no answer by SQL has been timed yet."""
    costs = info.get(_COSTS_KEY) or {}
    cost = costs.get("graph")
    if cost is None:  # never read: nothing to weigh
        return True
    last = costs.get("sql")
    if last is None:  # what an answer by SQL costs is not known yet: one will tell
        return False
    spent = info.get(_SPENT_KEY)
    seconds = spent[1] if spent is not None and spent[0] == state else 0.0
    return bool(cost <= seconds + last)


def graph_usable(session: Session) -> bool:
    """Whether ``role_graph`` will likely answer in this transaction (SQLite, and the
    graph it sees is cached or worth reading): callers ask before running the statements
    that go with the cached graph, and still fall back to SQL if it does not."""
    dbapi, info = _connection_of(session)
    if dbapi is None:
        return False
    state = _state(dbapi, info, _WRITES_KEY in info)
    if state is None:
        return False
    if state[2] is None:
        return True
    graph = info.get(_TXN_GRAPH_KEY)
    if graph is not None and graph.key[1:] == state:
        return True
    if _replay_base(info, state) is not None:
        return True  # the committed graph it began from: its writes are replayed
    return _worth_reading(info, state)


def role_graph(session: Session, probe: int | None = None) -> RoleGraph | None:
    """The role graph as this transaction sees it, from the connection's cache (read
    again when it changed), or None: not SQLite, or a transaction holding role writes
    where answering by SQL is still cheaper (then the caller asks SQL, and says what it
    cost with ``spent_on_sql``).

    Args:
        probe: the value of ``PROBE_SQL`` if the caller read it in this transaction
            already (its statement can carry it); read here otherwise.
    """
    dbapi, info = _connection_of(session)
    if dbapi is None:
        return None
    if probe is None:
        probe = _probe(dbapi)
    version, triggers = divmod(probe, 16)
    state = _state(dbapi, info, triggers == len(_TRIGGERS) and _WRITES_KEY in info)
    if state is None:
        return None
    key = (version, *state)
    slot = _GRAPH_KEY if state[2] is None else _TXN_GRAPH_KEY
    graph: RoleGraph | None = info.get(slot)
    if graph is not None and graph.key == key:
        return graph
    if state[2] is not None:
        graph = _replayed(dbapi, info, version, state)
        if graph is not None:
            info[slot] = graph
            return graph
        if not _worth_reading(info, state):
            return None
    counters = _counters(dbapi, info)
    start = time.perf_counter()
    graph = read_role_graph(dbapi, key)
    info.setdefault(_COSTS_KEY, {})["graph"] = time.perf_counter() - start
    if _counters(dbapi, info) == counters:  # reading wrote nothing (it never does; to be sure)
        info[slot] = graph
    return graph


def _replay_base(info: dict[Any, Any], state: Any) -> RoleGraph | None:
    """The committed graph a transaction holding role writes began from, if cached
    (cached under the state it began in, with the writes tracked), else None."""
    tracked, _mine, token = state
    begun = info.get(_BEGUN_KEY)
    base: RoleGraph | None = info.get(_GRAPH_KEY)
    if not tracked or begun is None or begun[0] is not token or base is None:
        return None
    at_begin = begun[1][:2]
    if at_begin[0] is None or base.key[1:] != (True, at_begin, None):
        return None
    return base


def _replayed(
    dbapi: sqlite3.Connection, info: dict[Any, Any], version: int, state: Any
) -> RoleGraph | None:
    """The graph of a transaction holding role writes, as the committed graph it began
    from (cached under the state it began in) with its own logged writes replayed; None
    when that graph is not cached, the writes are not tracked, or a write cannot be
    replayed (a role's id changed)."""
    base = _replay_base(info, state)
    if base is None or base.key[0] != version:
        return None
    ops = _run(
        dbapi,
        f"SELECT op, a, b, name FROM temp.{_LOG} WHERE seq > :mark ORDER BY seq",
        {"mark": base.key[2][0]},
    )
    names = dict(base.names)
    parents = dict(base.parents)
    children = dict(base.children)
    own: set[tuple[int, int]] = set()  # (0: parents / 1: children, role) copied already

    def edges(side: int, role: int) -> list[int]:
        table = children if side else parents
        if (side, role) not in own:
            table[role] = list(table.get(role, ()))
            own.add((side, role))
        return table[role]

    resort: set[int] = set()
    for op, a, b, name in ops:
        if op == _ROLE_SET:
            names[a] = name
        elif op == _ROLE_RENAME:
            if a != b:
                return None
            names[a] = name
            resort.update(children.get(a, ()))  # lists holding it are sorted by name
        elif op == _ROLE_DROP:
            names.pop(a, None)
            for parent in list(parents.get(a, ())):
                _drop(edges(1, parent), a)
            for child in list(children.get(a, ())):
                _drop(edges(0, child), a)
            parents.pop(a, None)
            children.pop(a, None)
            own.discard((0, a))
            own.discard((1, a))
        elif op == _EDGE_ADD:
            listed = edges(0, a)
            if b not in listed:
                listed.append(b)
                resort.add(a)
            listed = edges(1, b)
            if a not in listed:
                listed.append(a)
        elif op == _EDGE_DROP:
            _drop(edges(0, a), b)
            _drop(edges(1, b), a)
        else:
            return None
    for role in resort:
        if role in parents:
            listed = edges(0, role)  # a copy: the committed graph's lists stay as they are
            if any(p not in names for p in listed):
                return None
            listed.sort(key=names.__getitem__)
    return RoleGraph((version, *state), names, parents, children)


def _drop(listed: list[int], role: int) -> None:
    if role in listed:
        listed.remove(role)


def spent_on_sql(session: Session, seconds: float) -> None:
    """A question was answered by SQL (not from the graph) in ``seconds``: counted
    towards reading the graph of a transaction holding role writes (``role_graph``)."""
    dbapi, info = _connection_of(session)
    if dbapi is None:
        return
    state = _state(dbapi, info, _WRITES_KEY in info)
    spent = info.get(_SPENT_KEY)
    before = spent[1] if spent is not None and spent[0] == state else 0.0
    info[_SPENT_KEY] = (state, before + seconds)
    info.setdefault(_COSTS_KEY, {})["sql"] = seconds


def read_role_graph(dbapi: sqlite3.Connection, key: tuple[Any, ...]) -> RoleGraph:
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


def _install(dbapi: Any, record: Any, _proxy: Any) -> None:
    """A connection is checked out of the pool (outside any transaction): give it, once,
    the function and TEMP triggers that count its writes to the role graph. Before the
    schema exists (a new file, before its migrations) it tries again at the next
    checkout; where they cannot be made, every write counts (``total_changes``)."""
    info = record.info
    if not isinstance(dbapi, sqlite3.Connection) or dbapi.in_transaction:
        return  # (TEMP objects made in a transaction would go with its rollback)
    writes = info.get(_WRITES_KEY)
    if writes is not None and info.get(_PRUNED_KEY) != writes[0]:
        # Role writes since the last checkout: their log rows are committed or gone,
        # no transaction needs them any more.
        try:
            dbapi.execute(f"DELETE FROM temp.{_LOG}")
        except sqlite3.Error:
            pass  # the next checkout tries again; the rows are never read wrongly
        else:
            info[_PRUNED_KEY] = writes[0]
    if writes is not None or _NO_TRIGGERS_KEY in info:
        return
    try:
        (tables,) = dbapi.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
            "AND name IN ('roles', 'role_inheritance')"
        ).fetchone()
        if tables != 2:
            return
        counter = [0]

        def wrote() -> int:
            counter[0] += 1
            return counter[0]

        dbapi.create_function(_WROTE, 0, wrote)
        dbapi.execute(_LOG_TABLE)
        for sql in _TRIGGERS:
            dbapi.execute(sql)
    except sqlite3.Error:
        info[_NO_TRIGGERS_KEY] = True
        return
    info[_WRITES_KEY] = counter


def _note_begin(conn: Connection) -> None:
    """A transaction begins on ``conn``: a new token, and the counters, so writes made
    inside the transaction are recognised."""
    record = conn.connection
    driver = record.driver_connection
    if isinstance(driver, sqlite3.Connection):
        record.info[_BEGUN_KEY] = (object(), _counters(driver, record.info))
        record.info.pop(_SAVEPOINTS_KEY, None)


def _note_end(conn: Connection) -> None:
    """The transaction ended: until the next one begins, nothing is known of it (its
    graph, if it read one after writes of its own, is never used again)."""
    info = conn.connection.info
    info.pop(_BEGUN_KEY, None)
    info.pop(_TXN_GRAPH_KEY, None)
    info.pop(_SAVEPOINTS_KEY, None)


def _note_rollback(conn: Connection) -> None:
    """The transaction rolled back: what is committed is what it began from, so the
    committed graph cached under the state it began in is still the committed graph —
    kept under the counters as they are now (its own role writes, undone, moved them),
    so the next transaction finds it (and replays its own writes on it) instead of
    reading the graph again after every preview of role edits."""
    record = conn.connection
    driver = record.driver_connection
    info = record.info
    begun = info.get(_BEGUN_KEY)
    graph: RoleGraph | None = info.get(_GRAPH_KEY)
    if isinstance(driver, sqlite3.Connection) and begun is not None and graph is not None:
        tracked = graph.key[1]
        at_begin = begun[1][:2] if tracked else begun[1][2:]
        if graph.key[2] == at_begin:
            now = _counters(driver, info)
            graph.key = (graph.key[0], tracked, now[:2] if tracked else now[2:], None)
    _note_end(conn)


def _note_savepoint(conn: Connection, name: str) -> None:
    driver = conn.connection.driver_connection
    if isinstance(driver, sqlite3.Connection):
        info = conn.connection.info
        info.setdefault(_SAVEPOINTS_KEY, {})[name] = _counters(driver, info)


def _note_savepoint_rollback(conn: Connection, name: str, _context: Any) -> None:
    """A savepoint rolled back: the writes it undoes lower no counter, so the rollback
    counts as a change of what the transaction sees (of the role graph when it undid
    role writes, or when that is not known)."""
    driver = conn.connection.driver_connection
    if not isinstance(driver, sqlite3.Connection):
        return
    info = conn.connection.info
    now = _counters(driver, info)
    then = info.get(_SAVEPOINTS_KEY, {}).pop(name, None)
    roles, rows = info.get(_UNDONE_KEY) or (0, 0)
    if then is None or then[0] != now[0]:
        roles += 1
    if then is None or then[2] != now[2]:
        rows += 1
    info[_UNDONE_KEY] = (roles, rows)


def _note_release(conn: Connection, name: str, _context: Any) -> None:
    conn.connection.info.get(_SAVEPOINTS_KEY, {}).pop(name, None)


event.listen(Pool, "checkout", _install)
event.listen(Engine, "begin", _note_begin)
event.listen(Engine, "commit", _note_end)
event.listen(Engine, "rollback", _note_rollback)
event.listen(Engine, "savepoint", _note_savepoint)
event.listen(Engine, "rollback_savepoint", _note_savepoint_rollback)
event.listen(Engine, "release_savepoint", _note_release)
