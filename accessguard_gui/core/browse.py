"""Browsing tables of any size: per-table column specs and keyset-paginated SQL queries.

Qt-free. The table models (ui/table_model.py) describe *what* they show with a
``TableSpec`` and a ``BrowseQuery`` (sort column, direction, search text, column filters)
and call the functions here inside one short ``db.read()`` session per page.

How it stays fast at a million rows:

- Pages are read by **keyset** on the current order: ``ORDER BY sort, id`` and
  ``WHERE (sort, id) > (last sort value, last id)``, written as
  ``sort >= :k AND (sort > :k OR id > :i)`` so SQLite walks the sort column's index from the
  anchor (row values are not always matched to an index). ``id`` breaks ties, so every
  row has exactly one place in every order; NULLs are placed the way the dialect sorts them.
- Every sortable column has an index (migration 0003), so a sort is an index walk, not a
  full sort.
- Each row comes back as a plain tuple laid out for display:
  ``(id, version, sort value, cell 0 … cell n-1, stored bool/datetime values …)``. The
  cells are computed by SQL (``coalesce(email, '')``, ``substr(created_at, 1, 16)``,
  ``'set'`` for a password), so the model shows them as
  they are, with no Python formatting per row. No ORM objects: statements are Core
  ``select()``s compiled once per query shape and run on the DBAPI cursor of the session's
  connection, which costs the same as hand-written sqlite3.
- Search is literal and case-insensitive over the columns a person expects (users:
  username, display name, e-mail). On SQLite a term of 3 or more characters goes through an
  FTS5 **trigram** index (``search_<table>``, kept in sync by triggers), which answers
  substrings, not only prefixes, without a scan; shorter terms and other databases use
  ``LIKE``/``ILIKE`` with ``%``, ``_`` and the escape character escaped.
  The FTS index finds candidates, LIKE confirms them, so both plans (see ``Plan``) return
  exactly the same rows; ``choose_plan`` picks one per search from two cheap probes (a
  4,096-row sample for density, then a capped candidate count). Few matches: their ids
  are read once in order (``matching_ids``) and pages fetched by id (``fetch_ids``);
  dense matches: pages walk the sort index, ``count_range`` counts in slices.
- ``page_anchors`` reads the keys of every ``page_size``-th row in one C-side pass over an
  index (chunked), so a model can jump to row 500,000 with one keyset seek.
"""

from __future__ import annotations

import enum
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ARRAY,  # the generic type (INTEGER[] on PostgreSQL): the dialect's module pulls asyncio
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    type_coerce,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql import FromClause
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.types import TypeDecorator

from .audit_text import OPERATION_WORDS
from .changes import Entity
from .errors import AccessGuardError, DatabaseError, QueryStoppedError, ValidationError
from .models import AuditEntry, Permission, Resource, Role, User, UserRole, UTCDateTime

PAGE_SIZE = 256
#: The longest search text accepted: longer than any name or record key a person looks
#: for, short enough that a pasted page of text cannot turn a search into minutes of LIKE.
SEARCH_MAX = 256
#: SQLite virtual-machine steps between two looks at a ``bounded`` block's cancel flag
#: and clock (~1 ms of work).
PROGRESS_STEPS = 10_000
FTS_MIN_CHARS = 3
#: A search with fewer candidates than this in the search index looks them up and sorts
#: them; more candidates (dense matches) walk the sort column's index and keep matches.
FTS_DRIVEN_LIMIT = 20_000
#: Rows a search is first tried on, to tell dense matches from sparse ones cheaply.
DENSITY_SAMPLE = 4096

Key = tuple[Any, int]
"""A row's position in the current order: (sort value, id)."""

# Row layout: (id, version, sort value, cells..., raw bools...)
ID, VERSION, SORT, FIRST_CELL = 0, 1, 2, 3


class Kind(enum.StrEnum):
    TEXT = "text"
    BOOL = "bool"
    DATETIME = "datetime"
    INT = "int"


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a table view.

    Attributes:
        key: the record field (``"username"``); also the key of ``Update.values``.
        title: the header text.
        kind: how the value is shown and edited.
        expr: the SQL expression of the stored value.
        sort: the SQL expression ordered by (an index exists for it), None if unsortable.
        editable: can be changed in place (through the pending edits).
        nullable: the value may be NULL (matters for keyset pagination and display).
        width: a hint for the initial column width, in characters.
        check: show a bool as a check box (else as the text of ``cell``).
        cell: for a bool shown as text, the SQL of that text.
    """

    key: str
    title: str
    kind: Kind
    expr: ColumnElement[Any]
    sort: ColumnElement[Any] | None = None
    editable: bool = False
    nullable: bool = False
    width: int = 16
    check: bool = True
    cell: ColumnElement[Any] | None = None

    @property
    def sortable(self) -> bool:
        return self.sort is not None


@dataclass(frozen=True)
class TableSpec:
    """What a table view shows and how to read it.

    Attributes:
        key: a stable name ("users"), also used in settings.
        title, singular, plural: texts for navigation and the row count ("12 of 1,000 users").
        entity: the kind of record edits apply to, None for the read-only audit log.
        columns: the visible columns, in order.
        id_expr / version_expr: the record's id and version (version None: not versioned).
        from_: the FROM clause (a table or a join).
        search_columns: expressions a search looks in (substring, case-insensitive).
        fts: name of the FTS5 trigram table over ``search_columns`` (SQLite only), or None.
        default_sort / default_descending: the order a fresh view shows.
        label_key: the column that names a record in edit labels ("username").
    """

    key: str
    title: str
    singular: str
    plural: str
    entity: Entity | None
    columns: tuple[ColumnSpec, ...]
    id_expr: ColumnElement[Any]
    version_expr: ColumnElement[Any] | None
    from_: FromClause
    search_columns: tuple[ColumnElement[Any], ...]
    fts: str | None = None
    default_sort: str = ""
    default_descending: bool = False
    label_key: str = ""

    def column(self, key: str) -> ColumnSpec:
        for col in self.columns:
            if col.key == key:
                return col
        raise KeyError(key)

    def index_of(self, key: str) -> int:
        for i, col in enumerate(self.columns):
            if col.key == key:
                return i
        raise KeyError(key)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(col.key for col in self.columns)

    @property
    def raw_columns(self) -> tuple[int, ...]:
        """Positions of the columns whose stored value differs from the cell shown (bools,
        datetimes); their stored values follow the cells in a row tuple, in this order."""
        return tuple(
            i for i, col in enumerate(self.columns) if col.kind in (Kind.BOOL, Kind.DATETIME)
        )

    def default_query(self) -> BrowseQuery:
        return BrowseQuery(sort=self.default_sort, descending=self.default_descending)


@dataclass(frozen=True)
class BrowseQuery:
    """The order and filter of a table view.

    Attributes:
        sort: the key of the column ordered by.
        descending: reverse order.
        search: literal text searched for (case-insensitive substring); "" for none.
        filters: (column key, value) pairs that must be equal, e.g. ``(("active", True),)``;
            a key ``"<column>__since"`` is a lower time bound instead (see ``SINCE``).
    """

    sort: str
    descending: bool = False
    search: str = ""
    filters: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        check_search(self.search)

    def sorted_by(self, key: str, descending: bool = False) -> BrowseQuery:
        return replace(self, sort=key, descending=descending)

    def searching(self, text: str) -> BrowseQuery:
        """The same view searching ``text``.

        Raises:
            ValidationError: the text is longer than ``SEARCH_MAX`` characters.
        """
        return replace(self, search=check_search(text))

    def filtered(self, **filters: Any) -> BrowseQuery:
        """Replace the column filters; a value of None removes that filter."""
        current = dict(self.filters)
        for key, value in filters.items():
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value
        return replace(self, filters=tuple(sorted(current.items())))

    @property
    def term(self) -> str:
        """The text searched for. A NUL (pasted) would end the string inside SQLite;
        U+FFFF, which no stored value may hold, keeps the search literal: no match."""
        return self.search.strip().replace("\x00", "\uffff")


@dataclass(frozen=True, slots=True)
class Record:
    """A snapshot of one row as the view shows it (stored values, no pending overlay).

    Attributes:
        id, version: identify the record and the version it was read at.
        values: field key -> stored value (datetimes as aware UTC datetimes).
    """

    id: int
    version: int | None
    values: Mapping[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


# ---------------------------------------------------------------------- display expressions


class _Stored(TypeDecorator[Any]):
    """A column as the database stores it: on SQLite the given type (datetimes are text,
    booleans integers, compared as such), elsewhere the column's own type, so keyset and
    filter parameters are bound (and cast, on PostgreSQL) as booleans and timestamps."""

    impl = String
    cache_ok = True

    def __init__(self, sqlite_type: Any, native_type: Any) -> None:
        super().__init__()
        self.sqlite_type = sqlite_type
        self.native_type = native_type

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        chosen = self.sqlite_type if dialect.name == "sqlite" else self.native_type
        return dialect.type_descriptor(chosen)


def _raw(expr: ColumnElement[Any], type_: Any = String) -> ColumnElement[Any]:
    """The column without SQLAlchemy's result/bind processing (datetimes stay text)."""
    return type_coerce(expr, _Stored(type_, expr.type))


def _cell(col: ColumnSpec, dialect: Dialect) -> ColumnElement[Any]:
    """What the view shows for a column, computed by the database."""
    if col.cell is not None:
        return col.cell
    if col.kind is Kind.BOOL:
        return literal_column("''")
    if col.kind is Kind.INT:
        return col.expr
    if col.kind is Kind.DATETIME:
        if dialect.name == "sqlite":
            # Stored as naive UTC text "YYYY-MM-DD HH:MM:SS.ffffff": the first 16 characters.
            return func.substr(col.expr, 1, 16)
        if dialect.name == "postgresql":
            return func.to_char(
                func.timezone("UTC", col.expr), literal_column("'YYYY-MM-DD HH24:MI'")
            )
        return func.coalesce(type_coerce(col.expr, String), literal_column("''"))
    if col.nullable:
        return func.coalesce(col.expr, literal_column("''"))
    return col.expr


def parse_datetime(value: Any) -> datetime | None:
    """A stored datetime (text on SQLite) as an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


# ---------------------------------------------------------------------- the tables

_u = User.__table__.c
_r = Role.__table__.c
_res = Resource.__table__.c
_p = Permission.__table__.c
_a = AuditEntry.__table__.c
_ur = UserRole.__table__.c

_member_count = (
    select(func.count()).where(_ur.role_id == _r.id).correlate(Role.__table__).scalar_subquery()
)
_has_password = _u.password_hash.is_not(None)

USERS = TableSpec(
    key="users",
    title="Users",
    singular="user",
    plural="users",
    entity=Entity.USER,
    columns=(
        ColumnSpec("username", "Username", Kind.TEXT, _u.username, _u.username_key,
                   editable=True, width=18),
        ColumnSpec("display_name", "Display name", Kind.TEXT, _u.display_name, _u.display_name,
                   editable=True, width=24),
        ColumnSpec("email", "E-mail", Kind.TEXT, _u.email, _u.email, editable=True,
                   nullable=True, width=28),
        ColumnSpec("active", "Active", Kind.BOOL, _raw(_u.active, Integer),
                   _raw(_u.active, Integer), editable=True, width=7),
        # Shown as text, not a check box: it is not edited here, and text paints faster.
        ColumnSpec("has_password", "Password", Kind.BOOL, _raw(_has_password, Integer),
                   _raw(_has_password, Integer), width=9, check=False,
                   cell=case((_has_password, literal_column("'set'")), else_=literal_column("''"))),
        ColumnSpec("created_at", "Created (UTC)", Kind.DATETIME, _raw(_u.created_at),
                   _raw(_u.created_at), width=17),
        ColumnSpec("updated_at", "Updated (UTC)", Kind.DATETIME, _raw(_u.updated_at),
                   _raw(_u.updated_at), width=17),
    ),
    id_expr=_u.id,
    version_expr=_u.version,
    from_=User.__table__,
    search_columns=(_u.username, _u.display_name, _u.email),
    fts="search_users",
    default_sort="username",
    label_key="username",
)

ROLES = TableSpec(
    key="roles",
    title="Roles",
    singular="role",
    plural="roles",
    entity=Entity.ROLE,
    columns=(
        ColumnSpec("name", "Name", Kind.TEXT, _r.name, _r.name_key, editable=True,
                   width=28),
        ColumnSpec("description", "Description", Kind.TEXT, _r.description, _r.description,
                   editable=True, width=40),
        ColumnSpec("members", "Direct members", Kind.INT, _member_count, _member_count, width=9),
        ColumnSpec("updated_at", "Updated (UTC)", Kind.DATETIME, _raw(_r.updated_at),
                   _raw(_r.updated_at), width=17),
    ),
    id_expr=_r.id,
    version_expr=_r.version,
    from_=Role.__table__,
    search_columns=(_r.name, _r.description),
    default_sort="name",
    label_key="name",
)

RESOURCES = TableSpec(
    key="resources",
    title="Resources",
    singular="resource",
    plural="resources",
    entity=Entity.RESOURCE,
    columns=(
        ColumnSpec("name", "Name", Kind.TEXT, _res.name, _res.name_key, editable=True,
                   width=28),
        ColumnSpec("description", "Description", Kind.TEXT, _res.description,
                   _res.description, editable=True, width=40),
        ColumnSpec("updated_at", "Updated (UTC)", Kind.DATETIME, _raw(_res.updated_at),
                   _raw(_res.updated_at), width=17),
    ),
    id_expr=_res.id,
    version_expr=_res.version,
    from_=Resource.__table__,
    search_columns=(_res.name, _res.description),
    default_sort="name",
    label_key="name",
)

_perm_from = Permission.__table__.join(Resource.__table__, _p.resource_id == _res.id)

PERMISSIONS = TableSpec(
    key="permissions",
    title="Permissions",
    singular="permission",
    plural="permissions",
    entity=Entity.PERMISSION,
    columns=(
        ColumnSpec("resource", "Resource", Kind.TEXT, _res.name, _res.name_key,
                   width=28),
        ColumnSpec("action", "Action", Kind.TEXT, _p.action, _p.action, editable=True,
                   width=18),
        ColumnSpec("description", "Description", Kind.TEXT, _p.description, _p.description,
                   editable=True, width=40),
    ),
    id_expr=_p.id,
    version_expr=_p.version,
    from_=_perm_from,
    search_columns=(_res.name, _p.action, _p.description),
    default_sort="resource",
    label_key="action",
)

#: Characters of an audit text shown in a cell. The app writes at most 400 (operators 64),
#: but a file written by other means may hold megabytes in one cell: a page of 256 such
#: rows must not fill the memory.
AUDIT_CELL_MAX = 400


def _capped(expr: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.substr(expr, 1, AUDIT_CELL_MAX)


#: Characters of each of before/after in the Before → after cell: whole JSON for any
#: change the app writes, so the view can put it in words (core/audit_text.summary_text)
#: per painted row; a longer one is cut and shown as stored.
AUDIT_CHANGE_MAX = 2000

_summary = func.coalesce(
    func.substr(_a.before, 1, AUDIT_CHANGE_MAX), literal_column("''")
).op("||")(literal_column("' \u2192 '")).op("||")(
    func.coalesce(func.substr(_a.after, 1, AUDIT_CHANGE_MAX), literal_column("''"))
)
#: The operation in the words of the filter (Added / Changed / Deleted, core/audit_text).
_operation_word = case(
    *((_a.operation == literal_column(f"'{stored}'"), literal_column(f"'{word}'"))
      for stored, word in OPERATION_WORDS.items()),
    else_=_a.operation,
)

AUDIT = TableSpec(
    key="audit",
    title="Audit log",
    singular="entry",
    plural="entries",
    entity=None,
    columns=(
        # Shown in local time (or UTC, View > Times in UTC) by the view, the other on hover.
        ColumnSpec("at", "When", Kind.DATETIME, _raw(_a.at), _raw(_a.at), width=19),
        ColumnSpec("operator", "Operator", Kind.TEXT, _a.operator, _a.operator, width=14,
                   cell=_capped(_a.operator)),
        ColumnSpec("action", "Action", Kind.TEXT, _a.action, None, width=24,
                   cell=_capped(_a.action)),
        # Typed at File > Save with reason… (migration 0008); the same for every entry of
        # that save.
        ColumnSpec("reason", "Reason", Kind.TEXT, _a.reason, None, nullable=True, width=24,
                   cell=func.coalesce(_capped(_a.reason), literal_column("''"))),
        ColumnSpec("operation", "Operation", Kind.TEXT, _a.operation, None, width=9,
                   cell=_operation_word),
        ColumnSpec("record_type", "Record type", Kind.TEXT, _a.record_type, _a.record_type,
                   width=11),
        ColumnSpec("record_key", "Record", Kind.TEXT, _a.record_key, None, width=24,
                   cell=_capped(_a.record_key)),
        ColumnSpec("summary", "Before \u2192 after", Kind.TEXT, _summary, None, width=60),
    ),
    id_expr=_a.id,
    version_expr=None,
    from_=AuditEntry.__table__,
    search_columns=(_a.operator, _a.action, _a.record_type, _a.record_key),
    fts="search_audit_log",
    default_sort="at",
    default_descending=True,
)

SPECS: dict[str, TableSpec] = {s.key: s for s in (USERS, ROLES, RESOURCES, PERMISSIONS, AUDIT)}


# ---------------------------------------------------------------------- query building


# A filter key "<column>__since" keeps rows whose datetime column is at or after the value
# (an aware datetime), e.g. ``query.filtered(at__since=now - timedelta(days=7))``.
SINCE = "__since"
# "<column>__from" is another lower bound (a date range's start, so it combines with a
# "last 7 days" choice), "<column>__until" an upper bound: rows before the value.
FROM = "__from"
UNTIL = "__until"
_TIME_BOUNDS = (SINCE, FROM, UNTIL)


def _time_bound(key: str) -> str | None:
    """The bound suffix of a filter key, None for an equality filter."""
    return next((suffix for suffix in _TIME_BOUNDS if key.endswith(suffix)), None)


def escape_like(text: str, escape: str = "\\") -> str:
    """``text`` with LIKE's wildcards and the escape character matching themselves."""
    return (
        text.replace(escape, escape + escape).replace("%", escape + "%").replace("_", escape + "_")
    )


def fts_phrase(text: str) -> str:
    """An FTS5 query that matches ``text`` literally: one quoted phrase."""
    return '"' + text.replace('"', '""') + '"'


class Plan(enum.StrEnum):
    """How a query finds its rows.

    ``SCAN``: no search, or a search walked along the sort index with LIKE — cheap when
    matches are dense (every few rows) or the table is small. ``INDEXED``: the FTS5 trigram
    index finds the candidates, LIKE confirms them, then they are sorted — cheap when the
    matches are few, whatever the table size.
    """

    SCAN = "scan"
    INDEXED = "indexed"


def choose_plan(session: Session, spec: TableSpec, query: BrowseQuery) -> Plan:
    """Pick the plan for a query: ``INDEXED`` for a search of 3+ characters with fewer than
    ``FTS_DRIVEN_LIMIT`` candidates in the search index, else ``SCAN``.

    Two cheap probes, no full count: the search is first tried on the first
    ``DENSITY_SAMPLE`` rows (by id); matching 5% of them means matches are dense and a
    scan finds a page at once (a capped count in the search index would cost more, since
    it walks the candidates one by one). Otherwise a count of candidates capped at
    ``FTS_DRIVEN_LIMIT`` decides.
    """
    term = query.term
    dialect = _dialect(session)
    if not (term and spec.fts and dialect.name == "sqlite" and len(term) >= FTS_MIN_CHARS):
        return Plan.SCAN
    fts = spec.fts

    def build_bound(_d: Dialect) -> Select[Any]:
        return (
            select(spec.id_expr).select_from(spec.from_).order_by(spec.id_expr)
            .limit(1).offset(DENSITY_SAMPLE - 1)
        )

    bound = _run(session, ("sample_bound", spec.key), build_bound, {})
    if bound:
        low = id_bounds(session, spec)[0]
        sampled = count_range(session, spec, query, low, int(bound[0][0]), plan=Plan.SCAN)
        if sampled * 20 >= DENSITY_SAMPLE:
            return Plan.SCAN

    def build(_d: Dialect) -> Select[Any]:
        inner = _fts_ids(spec).limit(bindparam("cap", type_=Integer)).subquery("candidates")
        return select(func.count()).select_from(inner)

    rows = _run(session, ("plan", fts), build, {"q": fts_phrase(term), "cap": FTS_DRIVEN_LIMIT})
    return Plan.INDEXED if int(rows[0][0]) < FTS_DRIVEN_LIMIT else Plan.SCAN


def _fts_ids(spec: TableSpec) -> Select[Any]:
    assert spec.fts is not None
    fts = table(spec.fts, column("rowid"))
    return select(fts.c.rowid).where(literal_column(spec.fts).op("MATCH")(bindparam("q")))


def _conditions(
    spec: TableSpec, query: BrowseQuery, dialect: Dialect, plan: Plan
) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if query.term:
        if plan is Plan.INDEXED:
            conds.append(spec.id_expr.in_(_fts_ids(spec)))
        pattern: BindParameter[Any] = bindparam("p")
        if dialect.name == "postgresql":
            conds.append(or_(*(c.ilike(pattern, escape="\\") for c in spec.search_columns)))
        elif dialect.name == "sqlite":
            # SQLite's LIKE ignores ASCII case only: a term with other letters is also
            # tried as typed and in upper case, so "Ärzte", "ärzte" and "ÄRZTE" all find
            # "Ärzte". An ASCII term needs one pattern (three would triple a scan's cost).
            patterns: tuple[BindParameter[Any], ...] = (pattern,)
            if not query.term.isascii():
                patterns += (bindparam("p_typed"), bindparam("p_upper"))
            conds.append(
                or_(*(c.like(p, escape="\\") for c in spec.search_columns for p in patterns))
            )
        else:
            conds.append(
                or_(*(func.lower(c).like(pattern, escape="\\") for c in spec.search_columns))
            )
    for key, _value in query.filters:
        bound = _time_bound(key)
        if bound is not None:
            # A time bound ("the last 24 hours", a date range): bound through the UTC type
            # so the value is compared in the column's own stored form on every backend.
            col = spec.column(key.removesuffix(bound))
            param = bindparam(f"f_{key}", type_=UTCDateTime())
            conds.append(col.expr < param if bound == UNTIL else col.expr >= param)
            continue
        col = spec.column(key)
        conds.append(col.expr == bindparam(f"f_{key}"))
    return conds


def _params(spec: TableSpec, query: BrowseQuery, plan: Plan) -> dict[str, Any]:
    params: dict[str, Any] = {}
    term = query.term
    if term:
        params["p"] = "%" + escape_like(term.lower()) + "%"
        if not term.isascii():
            params["p_typed"] = "%" + escape_like(term) + "%"
            params["p_upper"] = "%" + escape_like(term.upper()) + "%"
        if plan is Plan.INDEXED:
            params["q"] = fts_phrase(term)
    for key, value in query.filters:
        if _time_bound(key) is not None:
            params[f"f_{key}"] = value
            continue
        col = spec.column(key)
        # A bool binds as 1 / 0 on SQLite and as a boolean elsewhere.
        params[f"f_{key}"] = bool(int(value)) if col.kind is Kind.BOOL else value
    return params


def _plan_of(session: Session, spec: TableSpec, query: BrowseQuery, plan: Plan | None) -> Plan:
    if not query.term:
        return Plan.SCAN
    if _dialect(session).name != "sqlite":
        return Plan.SCAN  # the FTS5 search indexes exist on SQLite only
    return plan if plan is not None else choose_plan(session, spec, query)


def _nulls_low(dialect: Dialect) -> bool:
    """Does the dialect sort NULLs before every value in ascending order?"""
    return dialect.name in ("sqlite", "mysql", "mariadb", "mssql")


def _keyset(
    sort: ColumnElement[Any],
    id_expr: ColumnElement[Any],
    *,
    forward: bool,
    key_is_null: bool,
    nullable: bool,
    nulls_low: bool,
) -> ColumnElement[bool]:
    """Rows strictly after (sort, id) = (:k, :i) in the direction walked.

    ``forward`` is the direction of the walk in SQL terms (ascending when True).
    """
    k: BindParameter[Any] = bindparam("k")
    i: BindParameter[Any] = bindparam("i")
    if forward:
        strict, loose, id_after = sort > k, sort >= k, id_expr > i
    else:
        strict, loose, id_after = sort < k, sort <= k, id_expr < i
    nulls_first = forward == nulls_low  # do NULLs come before values in this walk?
    if key_is_null:
        same = and_(sort.is_(None), id_after)
        return or_(same, sort.is_not(None)) if nulls_first else same
    after = and_(loose, or_(strict, id_after))
    if nullable and not nulls_first:
        return or_(after, sort.is_(None))
    return after


@dataclass(frozen=True)
class _Shape:
    spec: str
    sort: str
    forward: bool
    plan: Plan
    search: str  # "", "ascii" or "unicode": how many LIKE patterns a search needs
    filters: tuple[str, ...]
    keyset: str  # "" | "value" | "null"
    offset: bool


_SQL_CACHE: dict[tuple[str, Any], tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}


def _run(
    session: Session,
    cache_key: Any,
    build: Callable[[Dialect], Select[Any]],
    params: dict[str, Any],
    *,
    explain: bool = False,
) -> list[tuple[Any, ...]]:
    """Execute a statement compiled once per shape on the raw DBAPI cursor.

    SQLAlchemy compiles it (dialect-correct SQL, no string pasting of values); the rows
    come back as plain tuples without Row objects or result processing.
    """
    conn = session.connection()
    dialect = conn.dialect
    key = (dialect.name, cache_key)
    entry = _SQL_CACHE.get(key)
    if entry is None:
        compiled = build(dialect).compile(dialect=dialect)
        positions = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
        if compiled.positional and positions is None:
            positions = ()
        entry = (str(compiled), positions, dict(compiled.params))
        _SQL_CACHE[key] = entry
    sql, positions, defaults = entry
    if explain:
        sql = "EXPLAIN QUERY PLAN " + sql
    values = {**defaults, **params} if defaults else params
    raw = conn.connection.driver_connection
    assert raw is not None
    args: Any = values if positions is None else [values[name] for name in positions]
    try:
        return _fetch(raw, sql, args)
    except Exception as exc:
        if _undecodable(exc):
            # Text that is not UTF-8 in an otherwise healthy file (written by another
            # program): show it with U+FFFD where it cannot be read, rather than lose
            # the page. Only this query pays for the Python-level decoding.
            previous = raw.text_factory
            raw.text_factory = _lenient_text
            try:
                return _fetch(raw, sql, args)
            except Exception as again:
                typed = translate_error(again)
                if typed is None:
                    raise
                raise typed from again
            finally:
                raw.text_factory = previous
        typed = translate_error(exc)
        if typed is None:
            raise
        raise typed from exc


def _fetch(raw: Any, sql: str, args: Any) -> list[tuple[Any, ...]]:
    cursor = raw.cursor()
    try:
        cursor.execute(sql, args)
        return cursor.fetchall()  # type: ignore[no-any-return]
    finally:
        cursor.close()


def _lenient_text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _undecodable(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "could not decode" in str(exc).lower()


def translate_error(exc: BaseException) -> AccessGuardError | None:
    """A driver error from a browse query as a typed error a person can read; None for
    what is not a database failure (a bug: let it surface)."""
    if isinstance(exc, AccessGuardError):
        return exc
    if isinstance(exc, DBAPIError) and isinstance(exc.orig, BaseException):
        exc = exc.orig  # SQLAlchemy's wrapper around the driver's own error
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    lowered = text.lower()
    if isinstance(exc, sqlite3.Error) or type(exc).__module__.startswith("psycopg"):
        if "interrupt" in lowered or "canceling statement" in lowered:
            return QueryStoppedError("The query was stopped before it finished.")
        if "locked" in lowered or "busy" in lowered:
            return DatabaseError("The database is busy \u2014 try again.")
        if "malformed" in lowered or "not a database" in lowered:
            return DatabaseError(f"The database file is damaged: {text}.")
        return DatabaseError(f"The database could not be read: {text}.")
    return None


def check_search(text: str) -> str:
    """``text`` if it is short enough to search for; else a ValidationError that says so
    (the UI shows it beside the search box and keeps the previous results)."""
    if len(text) > SEARCH_MAX:
        raise ValidationError(
            "search",
            f"The search text is too long: {len(text):,} characters, at most {SEARCH_MAX} "
            "are searched for.",
        )
    return text


@contextmanager
def bounded(
    session: Session,
    *,
    cancel: threading.Event | None = None,
    timeout: float | None = None,
) -> Iterator[None]:
    """Run the browse queries of the block so that they can be stopped.

    Any statement of the block stops when ``cancel`` is set (from any thread: the
    Cancel button) or once ``timeout`` seconds have passed, raising QueryStoppedError;
    the session is then only fit to be closed. SQLite checks both every
    ``PROGRESS_STEPS`` virtual-machine steps (a progress handler); PostgreSQL gets a
    ``statement_timeout`` (its cancel flag is looked at between statements only).

        with db.read() as s, browse.bounded(s, cancel=flag, timeout=30):
            n = browse.count(s, browse.AUDIT, query)
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    conn = session.connection()
    raw = conn.connection.driver_connection
    sqlite = conn.dialect.name == "sqlite"

    def stop() -> bool:
        return (cancel is not None and cancel.is_set()) or (
            deadline is not None and time.monotonic() > deadline
        )

    if sqlite:
        assert isinstance(raw, sqlite3.Connection)
        raw.set_progress_handler(lambda: 1 if stop() else 0, PROGRESS_STEPS)
    elif timeout is not None and conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, int(timeout * 1000))}")
    try:
        if stop():
            raise QueryStoppedError("The query was stopped before it finished.")
        yield
    except Exception as exc:
        if not isinstance(translate_error(exc), QueryStoppedError):
            raise
        if deadline is not None and time.monotonic() > deadline:
            raise QueryStoppedError(
                f"The query took longer than {timeout:g} s and was stopped; narrow the "
                "search or the filters.",
                timed_out=True,
            ) from exc
        raise QueryStoppedError("The query was cancelled.") from exc
    finally:
        if sqlite:
            assert isinstance(raw, sqlite3.Connection)
            raw.set_progress_handler(None, 0)


def _dialect(session: Session) -> Dialect:
    return session.connection().dialect


def _select_row(spec: TableSpec, sort: ColumnElement[Any], dialect: Dialect) -> Select[Any]:
    version = spec.version_expr if spec.version_expr is not None else literal_column("NULL")
    cells = [_cell(c, dialect) for c in spec.columns]
    raws = [spec.columns[i].expr for i in spec.raw_columns]
    return select(spec.id_expr, version, sort, *cells, *raws).select_from(spec.from_)


def _order(
    sort: ColumnElement[Any], id_expr: ColumnElement[Any], forward: bool
) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    if forward:
        return sort.asc(), id_expr.asc()
    return sort.desc(), id_expr.desc()


def _unindexed(expr: ColumnElement[Any], kind: Kind) -> ColumnElement[Any]:
    """The same value, as an expression no index matches."""
    if kind in (Kind.BOOL, Kind.INT):
        return expr.op("+")(literal_column("0"))
    return expr.op("||")(literal_column("''"))


def _sort_expr(spec: TableSpec, query: BrowseQuery, plan: Plan) -> ColumnElement[Any]:
    col = spec.column(query.sort or spec.default_sort)
    sort = col.sort if col.sort is not None else spec.id_expr
    if plan is Plan.INDEXED:
        # Force the plan "look up the matches, then sort them": with an index usable for
        # the order, SQLite would walk all of it to find a few matches.
        return _unindexed(sort, col.kind)
    return sort


def _shape(
    spec: TableSpec, query: BrowseQuery, plan: Plan, forward: bool, anchor: Key | None,
    offset: bool = False,
) -> _Shape:
    keyset = "" if anchor is None else ("null" if anchor[0] is None else "value")
    col = spec.column(query.sort or spec.default_sort)
    return _Shape(
        spec.key, col.key, forward, plan,
        "" if not query.term else ("ascii" if query.term.isascii() else "unicode"),
        tuple(k for k, _ in query.filters),
        keyset, offset,
    )


def _where(
    spec: TableSpec, query: BrowseQuery, d: Dialect, shape: _Shape, sort: ColumnElement[Any]
) -> list[ColumnElement[bool]]:
    conds = _conditions(spec, query, d, shape.plan)
    if shape.keyset:
        col = spec.column(shape.sort)
        conds.append(
            _keyset(
                sort, spec.id_expr, forward=shape.forward, key_is_null=shape.keyset == "null",
                nullable=col.nullable, nulls_low=_nulls_low(d),
            )
        )
    return conds


def _anchor_params(params: dict[str, Any], anchor: Key | None) -> dict[str, Any]:
    if anchor is not None:
        if anchor[0] is not None:
            params["k"] = anchor[0]
        params["i"] = anchor[1]
    return params


def count(
    session: Session, spec: TableSpec, query: BrowseQuery | None = None, *,
    plan: Plan | None = None,
) -> int:
    """How many rows the query shows (``SELECT count(*)`` with the same filter)."""
    query = query or spec.default_query()
    plan = _plan_of(session, spec, query, plan)
    shape = _shape(spec, query, plan, True, None)

    def build(d: Dialect) -> Select[Any]:
        stmt = select(func.count()).select_from(spec.from_)
        conds = _conditions(spec, query, d, plan)
        return stmt.where(*conds) if conds else stmt

    rows = _run(session, ("count", shape), build, _params(spec, query, plan))
    return int(rows[0][0])


def matching_select(
    session: Session, spec: TableSpec, query: BrowseQuery
) -> tuple[Select[Any], dict[str, Any]]:
    """A SELECT of the ids of every row ``query`` shows (no order, no limit) and its
    parameters: what "all N matching rows" means to a set-based write (INSERT … SELECT,
    DELETE … WHERE id IN), with the same WHERE as the table's pages and count."""
    plan = _plan_of(session, spec, query, None)
    stmt = select(spec.id_expr).select_from(spec.from_)
    conds = _conditions(spec, query, _dialect(session), plan)
    return (stmt.where(*conds) if conds else stmt), _params(spec, query, plan)


def matching_ids(session: Session, spec: TableSpec, query: BrowseQuery) -> list[int]:
    """The ids of every match of an ``INDEXED`` search, in the query's order.

    Fewer than ``FTS_DRIVEN_LIMIT`` candidates by definition of the plan, so a model can
    keep this list (a few hundred KB at most): its count is the list's length, and any
    page is ``fetch_ids`` of a slice — the search index is asked once per search, not once
    per page.
    """
    plan = Plan.INDEXED if _dialect(session).name == "sqlite" else Plan.SCAN
    shape = _shape(spec, query, plan, not query.descending, None)

    def build(d: Dialect) -> Select[Any]:
        sort = _sort_expr(spec, query, plan)
        return (
            select(spec.id_expr)
            .select_from(spec.from_)
            .where(*_conditions(spec, query, d, plan))
            .order_by(*_order(sort, spec.id_expr, not query.descending))
        )

    return [r[0] for r in _run(session, ("ids", shape), build, _params(spec, query, plan))]


def fetch_ids(
    session: Session, spec: TableSpec, ids: Sequence[int], query: BrowseQuery | None = None
) -> list[tuple[Any, ...]]:
    """The rows of these ids (as ``fetch_page`` tuples for ``query``'s sort), in the order
    given; gone ids are left out. The ids travel as one JSON text (``json_each``) on
    SQLite, as one array elsewhere."""
    if not ids:
        return []
    query = query or spec.default_query()
    sort_key = query.sort or spec.default_sort
    sqlite = _dialect(session).name == "sqlite"

    def build(d: Dialect) -> Select[Any]:
        sort = _sort_expr(spec, query, Plan.SCAN)
        if d.name != "sqlite":
            listed = bindparam("ids", type_=ARRAY(Integer))
            return _select_row(spec, sort, d).where(spec.id_expr == func.any(listed))
        wanted: Select[Any] = select(literal_column("value")).select_from(
            func.json_each(bindparam("ids"))
        )
        return _select_row(spec, sort, d).where(spec.id_expr.in_(wanted))

    ids_param: Any = json.dumps(list(ids)) if sqlite else list(ids)
    rows = _run(session, ("by_ids", spec.key, sort_key), build, {"ids": ids_param})
    where = {rid: n for n, rid in enumerate(ids)}
    rows.sort(key=lambda r: where[r[ID]])
    return rows


def id_bounds(session: Session, spec: TableSpec) -> tuple[int, int]:
    """(smallest id - 1, largest id) of the table: the range ``count_range`` walks."""
    rows = _run(
        session, ("bounds", spec.key),
        # Two subqueries: SQLite answers a lone min() or max() from the end of the index,
        # but "SELECT min(id), max(id)" scans the table.
        lambda d: select(
            select(func.min(spec.id_expr)).select_from(spec.from_).scalar_subquery(),
            select(func.max(spec.id_expr)).select_from(spec.from_).scalar_subquery(),
        ),
        {},
    )
    low, high = rows[0]
    return (int(low) - 1, int(high)) if high is not None else (0, 0)


def count_range(
    session: Session, spec: TableSpec, query: BrowseQuery, after_id: int, upto_id: int, *,
    plan: Plan | None = None,
) -> int:
    """``count`` restricted to ``after_id < id <= upto_id``: a search that must scan the
    table is counted a slice at a time from idle time, so its first page shows at once."""
    plan = _plan_of(session, spec, query, plan)
    shape = _shape(spec, query, plan, True, None)

    def build(d: Dialect) -> Select[Any]:
        conds = _conditions(spec, query, d, plan)
        conds += [spec.id_expr > bindparam("lo"), spec.id_expr <= bindparam("hi")]
        return select(func.count()).select_from(spec.from_).where(*conds)

    params = {**_params(spec, query, plan), "lo": after_id, "hi": upto_id}
    return int(_run(session, ("count_range", shape), build, params)[0][0])


def fetch_page(
    session: Session,
    spec: TableSpec,
    query: BrowseQuery,
    *,
    after: Key | None = None,
    before: Key | None = None,
    from_end: bool = False,
    offset: int = 0,
    limit: int = PAGE_SIZE,
    plan: Plan | None = None,
    explain: bool = False,
) -> list[tuple[Any, ...]]:
    """Up to ``limit`` rows in the query's order, as display tuples.

    Args:
        after: start just after this key (keyset seek); None starts at the first row.
        before: read the rows just before this key instead (returned in order).
        from_end: read the last rows of the order (``offset`` counted from the end).
        offset: skip this many rows after the seek (only for short hops from an anchor).
        plan: from ``choose_plan`` (chosen here if None; a model keeps it per search).
        explain: return SQLite's EXPLAIN QUERY PLAN rows instead (tests pin plans).

    Returns:
        Tuples ``(id, version, sort value, cell 0..n-1, stored values of raw_columns...)``.
    """
    plan = _plan_of(session, spec, query, plan)
    backwards = before is not None or from_end
    forward = (not query.descending) != backwards
    anchor = before if before is not None else after
    shape = _shape(spec, query, plan, forward, anchor, bool(offset))

    def build(d: Dialect) -> Select[Any]:
        sort = _sort_expr(spec, query, plan)
        stmt = _select_row(spec, sort, d)
        conds = _where(spec, query, d, shape, sort)
        if conds:
            stmt = stmt.where(*conds)
        stmt = stmt.order_by(*_order(sort, spec.id_expr, forward))
        stmt = stmt.limit(bindparam("lim", type_=Integer))
        if offset:
            stmt = stmt.offset(bindparam("off", type_=Integer))
        return stmt

    params = _anchor_params(_params(spec, query, plan), anchor)
    params["lim"] = limit
    if offset:
        params["off"] = offset
    rows = _run(session, ("page", shape), build, params, explain=explain)
    if backwards and not explain:
        rows.reverse()
    return rows


def page_anchors(
    session: Session,
    spec: TableSpec,
    query: BrowseQuery,
    *,
    after: Key | None = None,
    page_size: int = PAGE_SIZE,
    pages: int = 32,
    plan: Plan | None = None,
) -> list[Key]:
    """The keys that end each of the next ``pages`` complete pages after ``after``.

    One pass over the sort index in SQL; only every ``page_size``-th key comes back to
    Python. A model calls this in chunks (from idle time) until fewer than ``pages`` keys
    come back, then reaches any page with one keyset seek.
    """
    plan = _plan_of(session, spec, query, plan)
    forward = not query.descending
    shape = _shape(spec, query, plan, forward, after)

    def build(d: Dialect) -> Select[Any]:
        sort = _sort_expr(spec, query, plan)
        inner = select(sort.label("k"), spec.id_expr.label("i")).select_from(spec.from_)
        conds = _where(spec, query, d, shape, sort)
        if conds:
            inner = inner.where(*conds)
        chunk = (
            inner.order_by(*_order(sort, spec.id_expr, forward))
            .limit(bindparam("lim", type_=Integer))
            .subquery("chunk")
        )
        # row_number() over the chunk as it comes (already in order): no second sort.
        numbered = select(
            chunk.c.k, chunk.c.i, func.row_number().over().label("n")
        ).subquery("numbered")
        return select(numbered.c.k, numbered.c.i).where(
            numbered.c.n % bindparam("ps", type_=Integer) == 0
        )

    params = _anchor_params(_params(spec, query, plan), after)
    params["lim"] = page_size * pages
    params["ps"] = page_size
    return [(r[0], r[1]) for r in _run(session, ("anchors", shape), build, params)]


def position_of(
    session: Session, spec: TableSpec, query: BrowseQuery, record_id: int, *,
    plan: Plan | None = None,
) -> int | None:
    """The row number of a record in the query's order, None if the query hides it."""
    plan = _plan_of(session, spec, query, plan)
    sort = _sort_expr(spec, query, plan)
    base = _shape(spec, query, plan, True, None)

    def build_key(d: Dialect) -> Select[Any]:
        stmt = select(sort, spec.id_expr).select_from(spec.from_)
        conds = _conditions(spec, query, d, plan)
        return stmt.where(spec.id_expr == bindparam("rid"), *conds)

    params = _params(spec, query, plan)
    found = _run(session, ("key", base), build_key, {**params, "rid": record_id})
    if not found:
        return None
    key: Key = (found[0][0], record_id)
    # Count the rows before it: walk from it against the order.
    shape = _shape(spec, query, plan, query.descending, key)

    def build_count(d: Dialect) -> Select[Any]:
        conds = _where(spec, query, d, shape, sort)
        return select(func.count()).select_from(spec.from_).where(*conds)

    rows = _run(session, ("before", shape), build_count, _anchor_params(params, key))
    return int(rows[0][0])


def to_record(spec: TableSpec, row: Sequence[Any]) -> Record:
    """A row tuple from ``fetch_page`` as a ``Record`` of stored values."""
    values: dict[str, Any] = {}
    raws = spec.raw_columns
    n = len(spec.columns)
    for i, col in enumerate(spec.columns):
        if col.kind is Kind.BOOL:
            values[col.key] = bool(row[FIRST_CELL + n + raws.index(i)])
        elif col.kind is Kind.DATETIME:
            values[col.key] = parse_datetime(row[FIRST_CELL + n + raws.index(i)])
        else:
            cell = row[FIRST_CELL + i]
            values[col.key] = None if (col.nullable and cell == "") else cell
    return Record(id=int(row[ID]), version=row[VERSION], values=values)


def fetch_record(session: Session, spec: TableSpec, record_id: int) -> Record | None:
    """One record as the view would show it, None if it is gone."""
    sort = _sort_expr(spec, spec.default_query(), Plan.SCAN)
    rows = _run(
        session,
        ("record", spec.key),
        lambda d: _select_row(spec, sort, d).where(spec.id_expr == bindparam("rid")),
        {"rid": record_id},
    )
    return to_record(spec, rows[0]) if rows else None
