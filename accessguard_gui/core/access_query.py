"""The access check as one SQL statement: user, resource, action and every explaining path.

check_access is the hottest query of the app (the access views call it per cell). One
recursive CTE looks up the user and the permission by name and walks from the user's
assignments (expired ones included, flagged) up the inheritance graph, carrying the role
names along, and keeps the walks that end at a role holding the permission. On SQLite the
statement runs on the DBAPI connection of the caller's session (same transaction):
SQLAlchemy's per-statement cost (~50 µs measured, bench/bench_core.py) is larger than the
query itself, and the target is <= 3x the bare recursive CTE. Other dialects run the same
SQL through ``text()``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Boolean, Dialect, Integer, String, TextClause, bindparam, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from .keys import name_key
from .models import UTCDateTime

# Role names never contain control characters (validation.role_name), so the unit
# separator can join them into one path string.
NAME_SEPARATOR = "\x1f"

# The first branch is the header row (user, resource, permission; NULL where a name
# matched nothing; expired = -1), the second the explaining walks, granting ones first
# so that the LIMIT never cuts off a walk that grants. Lookups are repeated rather than
# shared through CTEs: SQLite would materialize a CTE used twice, which costs more than
# the index lookup it saves. PostgreSQL types a bare NULL in a subquery as text, which a
# UNION with the header's integer and boolean columns refuses: there they are cast.
_SQL = """
WITH RECURSIVE walk(role_id, names, depth, expires_at) AS (
    SELECT ur.role_id, CAST(r.name AS TEXT), 0, ur.expires_at
    FROM user_roles ur JOIN roles r ON r.id = ur.role_id
    WHERE ur.user_id = (SELECT id FROM users WHERE {user_cond})
    UNION ALL
    SELECT ri.inherits_from_id, walk.names || :sep || r.name, walk.depth + 1, walk.expires_at
    FROM walk
    JOIN role_inheritance ri ON ri.role_id = walk.role_id
    JOIN roles r ON r.id = ri.inherits_from_id
    WHERE walk.depth < :max_depth
)
SELECT u.id AS user_id, u.username AS username, u.active AS active, res.name AS resource,
       p.id AS permission_id, NULL AS names, NULL AS expires_at, -1 AS expired, 0 AS depth
FROM (SELECT 1 AS one) AS anchor
LEFT JOIN users u ON {user_join}
LEFT JOIN resources res ON {resource_join}
LEFT JOIN permissions p ON p.resource_id = res.id AND p.action = :action
UNION ALL
SELECT * FROM (
    SELECT {header_nulls}, names, expires_at,
           CASE WHEN expires_at IS NOT NULL AND expires_at <= :now THEN 1 ELSE 0 END AS expired,
           depth
    FROM walk
    WHERE role_id IN (
        SELECT rp.role_id FROM role_permissions rp
        WHERE rp.permission_id = (
            SELECT p.id FROM permissions p JOIN resources res ON res.id = p.resource_id
            WHERE {resource_join} AND p.action = :action))
    ORDER BY expired, depth, names
    LIMIT :limit
) AS hits
"""


@dataclass(frozen=True, slots=True)
class AccessRows:
    """What the statement found; None where a name matched nothing."""

    user_id: int | None
    username: str | None
    active: bool
    resource: str | None
    permission_id: int | None
    paths: list[tuple[tuple[str, ...], datetime | None]]


_BARE_NULLS = "NULL, NULL, NULL, NULL, NULL"
_TYPED_NULLS = (
    "CAST(NULL AS INTEGER), CAST(NULL AS TEXT), CAST(NULL AS BOOLEAN), CAST(NULL AS TEXT), "
    "CAST(NULL AS INTEGER)"
)


@lru_cache(maxsize=8)
def access_sql(user_by_id: bool, resource_by_id: bool, typed_nulls: bool = False) -> str:
    """The statement for a user / resource given by id or by name (names ignore case
    by their stored keys, core/keys.py: the caller binds the *key* of a name, and the
    unique indexes on the key columns serve the lookup)."""
    return _SQL.format(
        header_nulls=_TYPED_NULLS if typed_nulls else _BARE_NULLS,
        user_cond="id = :user" if user_by_id else "username_key = :user",
        user_join="u.id = :user" if user_by_id else "u.username_key = :user",
        resource_join="res.id = :resource" if resource_by_id else "res.name_key = :resource",
    )


@lru_cache(maxsize=8)
def _text(user_by_id: bool, resource_by_id: bool) -> TextClause:
    return (
        text(access_sql(user_by_id, resource_by_id, typed_nulls=True))
        .bindparams(bindparam("now", type_=UTCDateTime()))
        .columns(  # type: ignore[return-value]
            user_id=Integer,
            username=String,
            active=Boolean,
            resource=String,
            permission_id=Integer,
            names=String,
            expires_at=UTCDateTime,
            expired=Integer,
            depth=Integer,
        )
    )


@lru_cache(maxsize=4)
def _datetime_processors(
    dialect: Dialect,
) -> tuple[Callable[[Any], Any] | None, Callable[[Any], Any] | None]:
    """The column type's own converters, so the text compared in SQL is exactly the text
    SQLAlchemy stores."""
    kind = UTCDateTime().dialect_impl(dialect)
    return kind.bind_processor(dialect), kind.result_processor(dialect, None)


def run_access_query(
    session: Session,
    user: int | str,
    resource: int | str,
    action: str,
    now: datetime,
    *,
    max_depth: int,
    limit: int,
) -> AccessRows:
    """Run the access statement in ``session``'s transaction (never commits)."""
    user_by_id = isinstance(user, int)
    resource_by_id = isinstance(resource, int)
    params: dict[str, Any] = {
        "user": user if user_by_id else name_key(str(user)),
        "resource": resource if resource_by_id else name_key(str(resource)),
        "action": action,
        "sep": NAME_SEPARATOR,
        "max_depth": max_depth,
        "limit": limit,
    }
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        to_db, from_db = _datetime_processors(conn.dialect)
        params["now"] = to_db(now) if to_db else now
        dbapi = conn.connection.driver_connection
        assert dbapi is not None
        sql = access_sql(user_by_id, resource_by_id)
        try:
            raw = dbapi.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            # As SQLAlchemy would wrap it, so Database turns it into a typed error
            # (busy, damaged file...) like any other query's.
            raise DBAPIError.instance(sql, params, exc, sqlite3.Error) from exc
        rows = [
            (*r[:6], from_db(r[6]) if from_db and r[6] is not None else r[6], *r[7:])
            for r in raw
        ]
    else:
        params["now"] = now
        rows = [tuple(r) for r in conn.execute(_text(user_by_id, resource_by_id), params)]
    header = next(r for r in rows if r[7] == -1)
    return AccessRows(
        user_id=header[0],
        username=header[1],
        active=bool(header[2]),
        resource=header[3],
        permission_id=header[4],
        paths=[
            (tuple(r[5].split(NAME_SEPARATOR)), _utc(r[6]))
            for r in sorted((r for r in rows if r[7] != -1), key=lambda r: (r[7], r[8], r[5]))
        ],
    )


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
