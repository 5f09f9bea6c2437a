"""Type-ahead in a table view: the first row whose sorted column starts with typed text.

A person types "zim" in the users table and expects the first user from "zim…" on to be
selected, as in every file manager. Qt's own ``keyboardSearch`` finds it by reading the
model row after row through ``data()`` — at a million rows that reads the whole table.
Here the sorted column's index answers it: one keyset seek (per spelling of the prefix)
finds the candidate row, ``browse.position_of`` its row number with one count along the
same index. The search box and filters of the view apply (the same ``BrowseQuery``).

This is part of the browse machinery (core/browse.py) and uses its statement builders, so
the seek has exactly the order, filters and search plan of the rows the view shows.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from . import browse
from .browse import (
    BrowseQuery,
    ColumnSpec,
    Key,
    Kind,
    Plan,
    TableSpec,
    _anchor_params,
    _dialect,
    _order,
    _params,
    _plan_of,
    _run,
    _shape,
    _sort_expr,
    _where,
    escape_like,
)

#: Above every character: ``prefix + TOP`` sorts after every text that starts with prefix.
TOP = "\U0010ffff"
#: Ids below and above every record id: a keyset anchor that admits every row of a key.
#: SQLite's rowids are 64-bit; PostgreSQL's id columns are INTEGER (32-bit), where a
#: larger anchor is an "integer out of range" error rather than a comparison.
_ID_BOUNDS = {"sqlite": (-(2**62), 2**62)}
_INT32_BOUNDS = (-(2**31), 2**31 - 1)


def can_jump_by_prefix(spec: TableSpec, query: BrowseQuery) -> bool:
    """Does the query's sort column hold text, so that a typed prefix can find a row?"""
    col = spec.column(query.sort or spec.default_sort)
    return col.kind is Kind.TEXT and col.sort is not None


def prefix_spellings(col: ColumnSpec, prefix: str) -> tuple[str, ...]:
    """The stored spellings to seek for a typed prefix, matched without regard to case.

    A ``*_key`` sort column holds case-folded names (core/keys.name_key): one seek. A
    plain text column sorts by its stored text, where "adam" and "Adam" are far apart:
    one seek per usual casing (as typed, lower, upper, capitalised, each word capitalised).
    A text stored in another mix of cases ("mcDonald") is found when typed as stored.
    """
    if col.sort is not col.expr:
        folded = unicodedata.normalize("NFC", prefix).casefold()
        return (unicodedata.normalize("NFC", folded),)
    spellings = (
        prefix,
        prefix.lower(),
        prefix.upper(),
        prefix[:1].upper() + prefix[1:].lower(),
        prefix.title(),
    )
    return tuple(dict.fromkeys(spellings))


def first_with_prefix(
    session: Session,
    spec: TableSpec,
    query: BrowseQuery,
    prefix: str,
    *,
    plan: Plan | None = None,
) -> int | None:
    """The row number of the first row, in the query's order, whose sort column starts
    with ``prefix`` (case-insensitive); None if no row the query shows does, or the sort
    column holds no text (see ``can_jump_by_prefix``).

    Each spelling of the prefix is one ``ORDER BY … LIMIT 1`` seek along the sort index,
    whatever the table's size; when several spellings find a row, the database's own order
    picks the first (its collation, not Python's, decides what the view shows first).
    """
    if not prefix or not can_jump_by_prefix(spec, query):
        return None
    col = spec.column(query.sort or spec.default_sort)
    plan = _plan_of(session, spec, query, plan)
    sort = _sort_expr(spec, query, plan)
    forward = not query.descending
    wanted = prefix.casefold()
    found: list[int] = []
    for spelling in prefix_spellings(col, prefix):
        hit = _seek(session, spec, query, plan, sort, spelling, forward)
        if hit is not None and str(hit[0]).casefold().startswith(wanted):
            found.append(hit[1])
    if not found:
        return None
    first = found[0]
    if len(set(found)) > 1:
        stmt = (
            select(spec.id_expr).select_from(spec.from_).where(spec.id_expr.in_(set(found)))
            .order_by(*_order(sort, spec.id_expr, forward)).limit(1)
        )
        first = int(session.execute(stmt).scalar_one())
    return browse.position_of(session, spec, query, first, plan=plan)


def _seek(
    session: Session,
    spec: TableSpec,
    query: BrowseQuery,
    plan: Plan,
    sort: ColumnElement[Any],
    spelling: str,
    forward: bool,
) -> Key | None:
    """The first row in the walk's direction that may start with ``spelling``.

    Ascending: the first key at or after it. Descending on SQLite (which compares text by
    code points): the last key below ``spelling + TOP``. Descending elsewhere, where a
    collation may give U+10FFFF no weight at all: the last key at or after the spelling
    that is LIKE it, walked from the end of the index.
    """
    dialect = _dialect(session).name
    if forward or dialect == "sqlite":
        floor, ceiling = _ID_BOUNDS.get(dialect, _INT32_BOUNDS)
        anchor: Key = (spelling, floor) if forward else (spelling + TOP, ceiling)
        shape = _shape(spec, query, plan, forward, anchor)

        def build(d: Dialect) -> Select[Any]:
            conds = _where(spec, query, d, shape, sort)
            stmt = select(sort, spec.id_expr).select_from(spec.from_).where(*conds)
            return stmt.order_by(*_order(sort, spec.id_expr, forward)).limit(1)

        params = _anchor_params(_params(spec, query, plan), anchor)
        rows = _run(session, ("prefix", shape), build, params)
    else:
        plain = _shape(spec, query, plan, forward, None)

        def build_like(d: Dialect) -> Select[Any]:
            conds = _where(spec, query, d, plain, sort)
            conds += [sort >= bindparam("k"), sort.like(bindparam("starts"), escape="\\")]
            stmt = select(sort, spec.id_expr).select_from(spec.from_).where(*conds)
            return stmt.order_by(*_order(sort, spec.id_expr, forward)).limit(1)

        params = {
            **_params(spec, query, plan), "k": spelling, "starts": escape_like(spelling) + "%",
        }
        rows = _run(session, ("prefix_like", plain), build_like, params)
    return (rows[0][0], int(rows[0][1])) if rows else None
