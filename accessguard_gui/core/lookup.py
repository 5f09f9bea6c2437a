"""Small bounded reads the access views need: name completion, picker searches, the role
inheritance graph and blocks of the role × permission matrix.

Completion uses prefix *ranges* on the indexed name keys (core/keys.py:
``name_key >= 'ab' AND name_key < 'ab\\U0010ffff'``), which every database serves from
the index, unlike ``LIKE 'ab%'``; the typed text is folded in Python the same way as the
stored keys, so "Ärzte", "ärzte" and "ÄRZTE" find "Ärzte" on SQLite too. Every function returns at most ``limit``
rows: a completer or picker never loads a whole table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, literal, or_, select
from sqlalchemy.orm import Session

from . import rbac
from .keys import name_key
from .models import Permission, Resource, Role, RoleInheritance, RolePermission, User, UserRole
from .rbac import Ref
from .rows import AssignmentRow

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


# ---------------------------------------------------------------------- completion


def complete_usernames(session: Session, prefix: str, limit: int = 50) -> list[str]:
    keyed = User.username_key
    query = select(User.username).where(_key_prefix(keyed, prefix)).order_by(keyed).limit(limit)
    return list(session.scalars(query))


def complete_roles(session: Session, prefix: str, limit: int = 50) -> list[str]:
    keyed = Role.name_key
    query = select(Role.name).where(_key_prefix(keyed, prefix)).order_by(keyed).limit(limit)
    return list(session.scalars(query))


def complete_resources(session: Session, prefix: str, limit: int = 50) -> list[str]:
    keyed = Resource.name_key
    query = select(Resource.name).where(_key_prefix(keyed, prefix)).order_by(keyed).limit(limit)
    return list(session.scalars(query))


def complete_actions(session: Session, resource: str, prefix: str, limit: int = 50) -> list[str]:
    """Actions defined on ``resource`` (by name, any case); none if it does not exist."""
    res_id = session.scalar(
        select(Resource.id).where(Resource.name_key == name_key(resource))
    )
    if res_id is None:
        return []
    query = (
        select(Permission.action)
        .where(Permission.resource_id == res_id, _prefix(Permission.action, prefix))
        .order_by(Permission.action)
        .limit(limit)
    )
    return list(session.scalars(query))


# ---------------------------------------------------------------------- picker searches


@dataclass(frozen=True, slots=True)
class Choice:
    """One pickable record: its id and the text shown for it."""

    id: int
    label: str


def search_roles(session: Session, text: str, limit: int = 200) -> list[Choice]:
    """Roles whose name starts with ``text`` first, then those containing it."""
    keyed = Role.name_key
    starts = select(Role.id, Role.name).where(_key_prefix(keyed, text)).order_by(keyed).limit(limit)
    found = [Choice(i, n) for i, n in session.execute(starts)]
    if len(found) < limit and text.strip():
        seen = [c.id for c in found]
        more = (
            select(Role.id, Role.name)
            .where(_key_contains(keyed, text), Role.id.not_in(seen))
            .order_by(keyed)
            .limit(limit - len(found))
        )
        found += [Choice(i, n) for i, n in session.execute(more)]
    return found


def search_permissions(session: Session, text: str, limit: int = 200) -> list[Choice]:
    """Permissions as "resource: action"; ``text`` matches the resource name prefix, or
    "resource: act" narrows to actions of that resource."""
    res_text, _, act_text = text.partition(":")
    keyed = Resource.name_key
    query = (
        select(Permission.id, Resource.name, Permission.action)
        .join(Resource, Resource.id == Permission.resource_id)
        .where(_key_prefix(keyed, res_text))
        .order_by(keyed, Permission.action)
        .limit(limit)
    )
    if act_text.strip():
        query = query.where(_prefix(Permission.action, act_text))
    return [Choice(i, f"{r}: {a}") for i, r, a in session.execute(query)]


def search_users(session: Session, text: str, limit: int = 200) -> list[Choice]:
    keyed = User.username_key
    query = (
        select(User.id, User.username, User.display_name)
        .where(_key_prefix(keyed, text))
        .order_by(keyed)
        .limit(limit)
    )
    return [Choice(i, f"{u} ({d})" if d and d != u else u) for i, u, d in session.execute(query)]


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
    found: set[int] = set()
    ids = list(user_ids)
    for start in range(0, len(ids), 500):  # stay under every backend's parameter limit
        chunk = ids[start : start + 500]
        found.update(
            session.scalars(
                select(UserRole.user_id).where(
                    UserRole.role_id == r.id, UserRole.user_id.in_(chunk)
                )
            )
        )
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
