"""Small bounded reads the access views need: name completion, picker searches, the role
inheritance graph and blocks of the role × permission matrix.

Completers and pickers search one way (see "search" below): a literal, case-insensitive
substring over username, display name and e-mail (users), name and description (roles,
resources) or "resource: action" (permissions), names starting with the text first.
Prefixes use *ranges* on the indexed name keys (core/keys.py:
``name_key >= 'ab' AND name_key < 'ab\\U0010ffff'``), which every database serves from
the index; user substrings of 3+ characters use the FTS5 trigram index on SQLite. Every
function returns at most ``limit`` rows: a completer or picker never loads a whole table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, column, func, literal, literal_column, or_, select, table, tuple_
from sqlalchemy.orm import Session

from . import browse, rbac
from .browse import escape_like
from .keys import name_key
from .models import Permission, Resource, Role, RoleInheritance, RolePermission, User, UserRole
from .rbac import Ref
from .rows import AssignmentRow, PermissionRow

_TOP = "\U0010ffff"


def _variants(text: str) -> list[str]:
    """The typed text as typed, in lower and in upper case. Folded by the database's own
    lower() (as the column is), so "Ärzte", "ärzte" and "ÄRZTE" all find "Ärzte" even
    where lower() folds ASCII only (SQLite). A NUL would end the string inside SQLite;
    U+FFFF, which no name may hold, keeps it literal (browse.BrowseQuery.term does too)."""
    key = text.strip().replace("\x00", "\uffff")
    if key.isascii():
        # Every lower() folds ASCII the same way: one range, so the index walk stays in
        # order and LIMIT stops it early (three OR-ed ranges sort all matches first:
        # 86 ms instead of 0.2 ms for "a" at a million users, bench/bench_access.py).
        return [key.lower()]
    return list(dict.fromkeys((key, key.lower(), key.upper())))


def _prefix(column: Any, text: str) -> Any:
    if not text.strip():
        return literal(True)
    ranges = []
    for key in _variants(text):
        folded = func.lower(literal(key))
        ranges.append(and_(column >= folded, column < folded.concat(_TOP)))
    return or_(*ranges)


def _typed_key(text: str) -> str:
    """The key of typed text; a NUL would end the string inside SQLite, U+FFFF (which no
    name may hold) keeps it literal, as in _variants."""
    return name_key(text.replace("\x00", "\uffff"))


def _key_prefix(key_column: Any, text: str) -> Any:
    """Keys starting with the key of ``text``: one index range."""
    key = _typed_key(text)
    if not key:
        return literal(True)
    return and_(key_column >= key, key_column < key + _TOP)


def _key_contains(key_column: Any, text: str) -> Any:
    """Keys containing the key of ``text``; ``%`` and ``_`` match literally."""
    key = _typed_key(text)
    escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return key_column.like(f"%{escaped}%", escape="\\")


def _contains(column: Any, text: str) -> Any:
    """Case-insensitive substring match; ``%`` and ``_`` typed by the user match literally."""
    patterns = []
    for key in _variants(text):
        escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        patterns.append(column.like(func.lower(literal(f"%{escaped}%")), escape="\\"))
    return or_(*patterns)


# ---------------------------------------------------------------------- search
#
# One behaviour for every completer and picker (issue 12, item 3): a case-insensitive,
# literal substring ("%" and "_" match themselves) over the fields a person remembers —
# users: username, display name and e-mail; roles and resources: name and description;
# permissions: "resource: action". Names starting with the text come first (one index
# range), then the other matches in name order. Every query ends in LIMIT.

#: How many rows a substring scan of a *short* term (1–2 characters, too short for the
#: trigram index) may look at, so a rare pair of letters cannot scan a million users on
#: every keystroke; the prefix matches (an index range) are found whatever the size.
SHORT_SCAN_ROWS = 50_000


@dataclass(frozen=True, slots=True)
class Choice:
    """One pickable record: its id and the text shown for it."""

    id: int
    label: str


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One completion: ``value`` goes into the field, ``label`` is what the list shows
    (e.g. the username, shown with the display name and e-mail that matched)."""

    value: str
    label: str


def _literal_pattern(text: str) -> str:
    return "%" + escape_like(text) + "%"


def _contains_any(session: Session, columns: Sequence[Any], text: str) -> Any:
    """Any of ``columns`` contains ``text``: case-insensitive and literal on every backend
    (ILIKE on PostgreSQL; on SQLite, whose LIKE folds ASCII only, a non-ASCII term is
    also tried as typed and in upper case, as browse does)."""
    key = text.strip().replace("\x00", "\uffff")
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return or_(*(c.ilike(_literal_pattern(key), escape="\\") for c in columns))
    if dialect == "sqlite":
        variants = [key.lower()] if key.isascii() else list(
            dict.fromkeys((key, key.lower(), key.upper()))
        )
        return or_(
            *(c.like(_literal_pattern(v), escape="\\") for c in columns for v in variants)
        )
    pattern = _literal_pattern(key.lower())
    return or_(*(func.lower(c).like(pattern, escape="\\") for c in columns))


def _not_prefix(key_column: Any, text: str) -> Any:
    key = _typed_key(text)
    return or_(key_column < key, key_column >= key + _TOP)


def _user_label(username: str, display: str | None, email: str | None) -> str:
    extra = [x for x in (display if display != username else None, email) if x]
    return f"{username} ({', '.join(extra)})" if extra else username


def _user_rows(session: Session, text: str, limit: int) -> list[tuple[int, str, str, str | None]]:
    """(id, username, display name, e-mail) of at most ``limit`` users matching ``text``:
    username prefix first, then substrings of username, display name or e-mail.

    On SQLite a term of 3+ characters with few candidates in the trigram index
    (``search_users``, browse.choose_plan) is answered from it; a dense term walks the
    username index with LIKE and stops at ``limit``; a 1–2 character term scans at most
    ``SHORT_SCAN_ROWS`` rows."""
    cols = (User.id, User.username, User.display_name, User.email)
    keyed = User.username_key
    rows = [
        (i, u, d, e)
        for i, u, d, e in session.execute(
            select(*cols).where(_key_prefix(keyed, text)).order_by(keyed).limit(limit)
        )
    ]
    term = text.strip()
    if not term or len(rows) >= limit or not _typed_key(term):
        return rows
    wanted = limit - len(rows)
    matches = and_(
        _contains_any(session, (User.username, User.display_name, User.email), term),
        _not_prefix(keyed, term),
    )
    query = select(*cols).where(matches).order_by(keyed).limit(wanted)
    if len(term) < browse.FTS_MIN_CHARS:
        window = select(User.id).order_by(keyed).limit(SHORT_SCAN_ROWS).subquery()
        query = query.where(User.id.in_(select(window.c.id)))
    else:
        plan = browse.choose_plan(session, browse.USERS, browse.USERS.default_query().searching(term))
        if plan is browse.Plan.INDEXED:
            fts = table("search_users", column("rowid"))
            hits = select(fts.c.rowid).where(
                literal_column("search_users").op("MATCH")(literal(browse.fts_phrase(term)))
            )
            query = query.where(User.id.in_(hits))
    rows += [(i, u, d, e) for i, u, d, e in session.execute(query)]
    return rows


def search_users(session: Session, text: str, limit: int = 200) -> list[Choice]:
    """Users whose username, display name or e-mail contains ``text``."""
    return [Choice(i, _user_label(u, d, e)) for i, u, d, e in _user_rows(session, text, limit)]


def suggest_users(session: Session, text: str, limit: int = 50) -> list[Suggestion]:
    """Usernames for a completer, each labelled with the display name and e-mail."""
    return [Suggestion(u, _user_label(u, d, e)) for _i, u, d, e in _user_rows(session, text, limit)]


def _named_rows(
    session: Session, model: Any, text: str, limit: int
) -> list[tuple[int, str, str | None]]:
    """(id, name, description) of roles or resources: name prefix first, then names or
    descriptions containing ``text`` (bounded scans in name order)."""
    keyed = model.name_key
    cols = (model.id, model.name, model.description)
    rows = [
        (i, n, d)
        for i, n, d in session.execute(
            select(*cols).where(_key_prefix(keyed, text)).order_by(keyed).limit(limit)
        )
    ]
    term = text.strip()
    if term and len(rows) < limit and _typed_key(term):
        matches = and_(
            or_(_key_contains(keyed, term), _contains_any(session, (model.description,), term)),
            _not_prefix(keyed, term),
        )
        query = select(*cols).where(matches).order_by(keyed).limit(limit - len(rows))
        rows += [(i, n, d) for i, n, d in session.execute(query)]
    return rows


def _described(name: str, description: str | None) -> str:
    return f"{name} \u2014 {description}" if description else name


def search_roles(session: Session, text: str, limit: int = 200) -> list[Choice]:
    """Roles whose name or description contains ``text`` (name prefix first)."""
    return [Choice(i, n) for i, n, _d in _named_rows(session, Role, text, limit)]


def search_resources(session: Session, text: str, limit: int = 200) -> list[Choice]:
    """Resources whose name or description contains ``text`` (name prefix first)."""
    return [Choice(i, n) for i, n, _d in _named_rows(session, Resource, text, limit)]


def suggest_roles(session: Session, text: str, limit: int = 50) -> list[Suggestion]:
    return [Suggestion(n, _described(n, d)) for _i, n, d in _named_rows(session, Role, text, limit)]


def suggest_resources(session: Session, text: str, limit: int = 50) -> list[Suggestion]:
    return [
        Suggestion(n, _described(n, d)) for _i, n, d in _named_rows(session, Resource, text, limit)
    ]


def search_permissions(session: Session, text: str, limit: int = 200) -> list[Choice]:
    """Permissions as "resource: action" whose label contains ``text``; "res: act"
    narrows to resources containing "res" and actions containing "act"."""
    keyed = Resource.name_key
    query = (
        select(Permission.id, Resource.name, Permission.action)
        .join(Resource, Resource.id == Permission.resource_id)
        .order_by(keyed, Permission.action)
        .limit(limit)
    )
    res_text, colon, act_text = text.partition(":")
    if colon:
        if res_text.strip():
            query = query.where(_key_contains(keyed, res_text))
        if act_text.strip():
            query = query.where(_contains_any(session, (Permission.action,), act_text))
    elif text.strip():
        query = query.where(
            or_(_key_contains(keyed, text), _contains_any(session, (Permission.action,), text))
        )
    return [Choice(i, f"{r}: {a}") for i, r, a in session.execute(query)]


# Completers that insert plain names (older callers): the same search, values only.


def complete_usernames(session: Session, prefix: str, limit: int = 50) -> list[str]:
    return [s.value for s in suggest_users(session, prefix, limit)]


def complete_roles(session: Session, prefix: str, limit: int = 50) -> list[str]:
    return [s.value for s in suggest_roles(session, prefix, limit)]


def complete_resources(session: Session, prefix: str, limit: int = 50) -> list[str]:
    return [s.value for s in suggest_resources(session, prefix, limit)]


def complete_actions(session: Session, resource: str, prefix: str, limit: int = 50) -> list[str]:
    """Actions defined on ``resource`` (by name, any case) containing ``prefix``, those
    starting with it first; none if the resource does not exist."""
    res_id = session.scalar(
        select(Resource.id).where(Resource.name_key == name_key(resource))
    )
    if res_id is None:
        return []
    query = (
        select(Permission.action)
        .where(Permission.resource_id == res_id)
        .order_by(Permission.action)
        .limit(limit)
    )
    if prefix.strip():
        query = query.where(_contains_any(session, (Permission.action,), prefix))
    found = list(session.scalars(query))
    typed = prefix.strip().lower()
    return sorted(found, key=lambda a: not a.lower().startswith(typed))


# ---------------------------------------------------------------------- inheritance graph


@dataclass(frozen=True, slots=True)
class RoleGraph:
    """The inheritance neighbourhood of one role.

    Attributes:
        center: the role asked about.
        names: role id -> name for every role drawn.
        levels: role id -> level: negative above (roles ``center`` inherits from, -1 for
            direct), 0 the center, positive below (roles inheriting from it).
        edges: (role, inherits_from) pairs among the drawn roles.
        truncated: the neighbourhood was larger than the limit.
    """

    center: int
    names: dict[int, str]
    levels: dict[int, int]
    edges: tuple[tuple[int, int], ...]
    truncated: bool = False


def role_graph(session: Session, role: Ref, limit: int = 150) -> RoleGraph:
    """Roles ``role`` inherits from (above) and roles inheriting from it (below), each at
    its longest distance so every edge points one way on the page."""
    center = rbac.get_role(session, role)
    up = select(literal(center.id).label("role_id"), literal(0).label("depth")).cte(
        "up", recursive=True
    )
    up = up.union(
        select(RoleInheritance.inherits_from_id, up.c.depth + 1).where(
            RoleInheritance.role_id == up.c.role_id, up.c.depth < rbac.MAX_PATH_DEPTH
        )
    )
    down = select(literal(center.id).label("role_id"), literal(0).label("depth")).cte(
        "down", recursive=True
    )
    down = down.union(
        select(RoleInheritance.role_id, down.c.depth + 1).where(
            RoleInheritance.inherits_from_id == down.c.role_id, down.c.depth < rbac.MAX_PATH_DEPTH
        )
    )
    above = session.execute(
        select(up.c.role_id, func.max(up.c.depth)).group_by(up.c.role_id).limit(limit + 1)
    ).all()
    below = session.execute(
        select(down.c.role_id, func.max(down.c.depth)).group_by(down.c.role_id).limit(limit + 1)
    ).all()
    truncated = len(above) > limit or len(below) > limit
    levels: dict[int, int] = {center.id: 0}
    for rid, depth in above[:limit]:
        if rid != center.id:
            levels[rid] = -int(depth)
    for rid, depth in below[:limit]:
        if rid != center.id:
            levels[rid] = int(depth)
    ids = list(levels)
    edges = session.execute(
        select(RoleInheritance.role_id, RoleInheritance.inherits_from_id).where(
            RoleInheritance.role_id.in_(ids), RoleInheritance.inherits_from_id.in_(ids)
        )
    ).all()
    # In an acyclic graph every kept level makes an edge point upward; filter anyway so a
    # damaged file (a cycle) still draws.
    kept = tuple((a, b) for a, b in edges if levels[a] > levels[b])
    names = {
        rid: name
        for rid, name in session.execute(select(Role.id, Role.name).where(Role.id.in_(ids)))
    }
    return RoleGraph(center.id, names, levels, kept, truncated)


# ---------------------------------------------------------------------- role × permission matrix


def matrix_roles(session: Session, text: str = "") -> list[tuple[int, str]]:
    """(id, name) of the roles whose name contains ``text``, in name order (the matrix's
    rows: ids and names only, a few bytes per role)."""
    keyed = Role.name_key
    query = select(Role.id, Role.name).order_by(keyed)
    if text.strip():
        query = query.where(_key_contains(keyed, text))
    return [(i, n) for i, n in session.execute(query)]


def matrix_permissions(session: Session, text: str = "") -> list[tuple[int, str]]:
    """(id, "resource: action") of permissions whose label contains ``text``, in order."""
    keyed = Resource.name_key
    query = (
        select(Permission.id, Resource.name, Permission.action)
        .join(Resource, Resource.id == Permission.resource_id)
        .order_by(keyed, Permission.action)
    )
    return [(i, f"{r}: {a}") for i, r, a in session.execute(_permission_filter(query, text))]


@dataclass(frozen=True, slots=True)
class MatrixBlock:
    """Grants inside one block of the matrix: direct and inherited (role, permission)."""

    direct: frozenset[tuple[int, int]]
    inherited: frozenset[tuple[int, int]]


def matrix_block(
    session: Session, role_ids: Sequence[int], permission_ids: Sequence[int]
) -> MatrixBlock:
    """Which of ``role_ids`` × ``permission_ids`` are granted directly and which come
    through inheritance: two queries for the whole block, never one per cell."""
    if not role_ids or not permission_ids:
        return MatrixBlock(frozenset(), frozenset())
    direct = session.execute(
        select(RolePermission.role_id, RolePermission.permission_id).where(
            RolePermission.role_id.in_(role_ids), RolePermission.permission_id.in_(permission_ids)
        )
    ).all()
    reach = (
        select(
            RoleInheritance.role_id.label("origin"),
            RoleInheritance.inherits_from_id.label("role_id"),
        )
        .where(RoleInheritance.role_id.in_(role_ids))
        .cte("mreach", recursive=True)
    )
    reach = reach.union(
        select(reach.c.origin, RoleInheritance.inherits_from_id).where(
            RoleInheritance.role_id == reach.c.role_id
        )
    )
    inherited = session.execute(
        select(reach.c.origin, RolePermission.permission_id)
        .join(RolePermission, RolePermission.role_id == reach.c.role_id)
        .where(RolePermission.permission_id.in_(permission_ids))
        .distinct()
    ).all()
    return MatrixBlock(
        frozenset((r, p) for r, p in direct), frozenset((r, p) for r, p in inherited)
    )


# ---------------------------------------------------------------------- role members


def saved_members(session: Session, role: Ref, user_ids: Sequence[int]) -> set[int]:
    """Which of ``user_ids`` are members of ``role`` in the file: to mark the rest of a
    pending member list as pending, whatever the role's size (one indexed IN query)."""
    r = rbac.get_role(session, role)
    return _found_among(session, UserRole.user_id, UserRole.role_id == r.id, user_ids)


def _found_among(session: Session, column: Any, where: Any, ids: Sequence[int]) -> set[int]:
    """Which of ``ids`` the rows matching ``where`` hold in ``column``, asked in chunks
    that stay under every backend's parameter limit."""
    found: set[int] = set()
    wanted = list(ids)
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found.update(session.scalars(select(column).where(where, column.in_(chunk))))
    return found


# ---------------------------------------------------------------------- keyset pages


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a long list, read by keyset (never OFFSET, never the whole list).

    Attributes:
        rows: the page, in the list's order.
        next_after: the key to pass as ``after`` for the next page; None on the last one.
    """

    rows: tuple[Any, ...]
    next_after: Any = None

    @property
    def last(self) -> bool:
        return self.next_after is None


def _page(rows: Sequence[Any], limit: int, key: Any) -> Page:
    """A page from ``limit + 1`` fetched rows: the extra one only says there is more."""
    more = len(rows) > limit
    kept = tuple(rows[:limit])
    return Page(kept, key(kept[-1]) if more and kept else None)


def role_member_count(session: Session, role: Ref) -> int:
    """How many users are assigned to ``role`` directly (one indexed count)."""
    r = rbac.get_role(session, role)
    return int(session.scalar(select(func.count()).where(UserRole.role_id == r.id)) or 0)


def role_members_page(
    session: Session, role: Ref, after: str | None = None, limit: int = 200
) -> Page:
    """A page of a role's direct members (``AssignmentRow``) by username key, after the
    member whose username key is ``after``: the (role_id, user_id) index finds the
    members, the username index orders them, whatever the role's size."""
    r = rbac.get_role(session, role)
    query = (
        select(UserRole, User.username, User.username_key)
        .join(User, User.id == UserRole.user_id)
        .where(UserRole.role_id == r.id)
        .order_by(User.username_key)
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(User.username_key > after)
    rows = [(AssignmentRow.of(a, name, r.name), key) for a, name, key in session.execute(query)]
    page = _page(rows, limit, lambda last: last[1])
    return Page(tuple(row for row, _key in page.rows), page.next_after)


def role_grant_count(session: Session, role: Ref) -> int:
    """How many permissions are granted to ``role`` directly (one indexed count)."""
    r = rbac.get_role(session, role)
    query = select(func.count()).where(RolePermission.role_id == r.id)
    return int(session.scalar(query) or 0)


def role_grants_page(
    session: Session, role: Ref, after: tuple[str, str] | None = None, limit: int = 200
) -> Page:
    """A page of a role's direct grants (``PermissionRow``) in ``rbac.role_permissions``'
    order (resource name key, action), after the grant whose (resource name key, action)
    is ``after``. A role granted every permission (an administrators' role: 20,000 in the
    1M file) took half a second of the window to list whole; a page costs the same
    whatever the role holds."""
    r = rbac.get_role(session, role)
    granted = select(RolePermission.permission_id).where(RolePermission.role_id == r.id)
    # rbac.role_permissions' own statement (its columns and order), the key added.
    query = rbac._permission_query(granted).add_columns(Resource.name_key).limit(limit + 1)
    if after is not None:
        query = query.where(
            tuple_(Resource.name_key, Permission.action)
            > tuple_(literal(after[0]), literal(after[1]))
        )
    page = _page(list(session.execute(query)), limit, lambda last: (last[6], last[3]))
    return Page(tuple(PermissionRow(*row[:6]) for row in page.rows), page.next_after)


def saved_grants(session: Session, role: Ref, permission_ids: Sequence[int]) -> set[int]:
    """Which of ``permission_ids`` are granted to ``role`` in the file: the rest of a
    pending list of grants is pending."""
    r = rbac.get_role(session, role)
    where = RolePermission.role_id == r.id
    return _found_among(session, RolePermission.permission_id, where, permission_ids)


def matrix_role_count(session: Session, text: str = "") -> int:
    """How many roles the matrix lists for the filter ``text``."""
    query = select(func.count()).select_from(Role)
    if text.strip():
        query = query.where(_key_contains(Role.name_key, text))
    return int(session.scalar(query) or 0)


def matrix_roles_page(
    session: Session, text: str = "", after: str | None = None, limit: int = 500
) -> Page:
    """A page of the matrix's rows: (id, name) of the roles whose name contains
    ``text``, by name key, after the role whose name key is ``after``."""
    keyed = Role.name_key
    query = select(Role.id, Role.name, keyed).order_by(keyed).limit(limit + 1)
    if text.strip():
        query = query.where(_key_contains(keyed, text))
    if after is not None:
        query = query.where(keyed > after)
    page = _page(list(session.execute(query)), limit, lambda last: last[2])
    return Page(tuple((i, n) for i, n, _k in page.rows), page.next_after)


def _permission_filter(query: Any, text: str) -> Any:
    keyed = Resource.name_key
    res_text, colon, act_text = text.partition(":")
    if colon:
        if res_text.strip():
            query = query.where(_key_contains(keyed, res_text))
        if act_text.strip():
            query = query.where(_prefix(Permission.action, act_text))
    elif text.strip():
        query = query.where(or_(_key_contains(keyed, text), _contains(Permission.action, text)))
    return query


def matrix_permission_count(session: Session, text: str = "") -> int:
    """How many permissions the matrix lists for the filter ``text``."""
    query = select(func.count()).select_from(Permission).join(
        Resource, Resource.id == Permission.resource_id
    )
    return int(session.scalar(_permission_filter(query, text)) or 0)


def matrix_permissions_page(
    session: Session, text: str = "", after: tuple[str, str] | None = None, limit: int = 500
) -> Page:
    """A page of the matrix's columns: (id, "resource: action") of the permissions whose
    label matches ``text`` (as ``matrix_permissions``), by resource key and action,
    after ``after`` = (resource name key, action)."""
    keyed = Resource.name_key
    query = (
        select(Permission.id, Resource.name, Permission.action, keyed)
        .join(Resource, Resource.id == Permission.resource_id)
        .order_by(keyed, Permission.action)
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(
            or_(keyed > after[0], and_(keyed == after[0], Permission.action > after[1]))
        )
    rows = list(session.execute(_permission_filter(query, text)))
    page = _page(rows, limit, lambda last: (last[3], last[2]))
    return Page(tuple((i, f"{r}: {a}") for i, r, a, _k in page.rows), page.next_after)
