"""Many rows in few SQL statements: what set-based writers send to SQLite.

Why not ``executemany``: the users table and the audit trail carry FTS5 search indexes
kept by triggers (migration 0003), and FTS5 writes what it holds in memory to the file at
every statement that changes it, then merges the little segments. An ``executemany`` of
1,000 UPDATEs of users is 1,000 statements: measured 0.5-0.8 s on SQLite 3.40, where one
UPDATE of the same 1,000 rows took 40 ms and 1,000 audit entries inserted as one
multi-row INSERT took a third of their ``executemany`` (bench/bench_save.py says it per
save). So the writers here bind a whole batch into one statement, as many rows as
SQLite's bound-parameter limit allows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection

#: The fewest parameters any SQLite since 3.32 allows in one statement (older: 999).
_DEFAULT_LIMIT = 32766
#: More rows per statement would only make the statement text longer: 1,000 edits fit.
_MOST_PARAMETERS = 32766


def parameter_limit(connection: Connection) -> int:
    """How many ``?`` one statement on ``connection`` may bind (SQLite's compile-time
    limit as the library reports it; 999 before 3.32)."""
    raw = connection.connection.driver_connection
    if isinstance(raw, sqlite3.Connection):
        return min(raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER), _MOST_PARAMETERS)
    return _DEFAULT_LIMIT


def chunks(items: Sequence[Any], width: int, limit: int) -> Iterator[Sequence[Any]]:
    """``items`` in slices of at most ``limit // width`` (one statement's worth of rows
    of ``width`` parameters each)."""
    per = max(1, limit // max(1, width))
    for at in range(0, len(items), per):
        yield items[at : at + per]


def values_rows(count: int, width: int) -> str:
    """``(?,?,…),(?,?,…)…``: ``count`` rows of ``width`` positional parameters."""
    row = "(" + ",".join("?" * width) + ")"
    return ",".join([row] * count)


def insert_rows(connection: Connection, head: str, rows: Sequence[Sequence[Any]]) -> None:
    """Run ``head`` + ``VALUES (…),(…)`` over ``rows`` (tuples of one width, in the
    driver's own types: no SQLAlchemy type processing), as few statements as the
    parameter limit allows, in order. ``head`` is ``INSERT INTO t (a, b, …)``."""
    if not rows:
        return
    width = len(rows[0])
    for part in chunks(rows, width, parameter_limit(connection)):
        flat = tuple(value for row in part for value in row)
        connection.exec_driver_sql(f"{head} VALUES {values_rows(len(part), width)}", flat)
