"""Role mining: the fewest roles that reproduce every user's permissions exactly.

This is the basic role minimization problem (a minimum biclique cover of the user ×
permission graph; NP-hard). Following Ene et al. (SACMAT 2008):

1. Users with the same permissions, and permissions held by the same users, are merged
   (one row / one column each); the answer is unchanged.
2. Exact reduction: for an edge (user u, permission p), every role covering it has users
   among the holders of p and permissions among those of u. When every holder of p holds
   all of u's permissions, that biclique is the only maximal one containing the edge, so
   some optimal answer uses it: it is taken as a role.
3. The edges still uncovered are covered greedily by the maximal biclique that covers the
   most of them, among two families of candidates: a user's whole permission set with
   every user holding it, and a permission's holders with the permissions they all share
   (lazy greedy: a candidate's gain only shrinks, so stale gains are re-evaluated only
   when they reach the top of the heap).
4. Roles made redundant by later ones are dropped.

Sets are Python integers used as bitsets (rows over columns and columns over rows), so
every step is word-parallel. ``restructure`` turns a result into pending edits: new
roles, their grants, and every active user moved onto exactly the mined roles.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import rbac
from ..changes import Assign, Create, Deassign, Edit, Entity, Grant
from ..errors import ValidationError
from ..keys import name_key
from ..models import Permission, Resource, Role, SsdSet, User, UserRole, utcnow

#: A restructure beyond this many users is proposed as figures only, not as edits.
RESTRUCTURE_LIMIT = 20_000
Progress = Callable[[str], None]


@dataclass(frozen=True)
class MinedRole:
    users: frozenset[str]
    permissions: frozenset[str]


@dataclass(frozen=True)
class MiningResult:
    """The mined roles, and figures about the run.

    Attributes:
        roles: the roles, largest (users × permissions) first.
        users, permissions, edges: the size of the input.
        distinct_users, distinct_permissions: after merging identical rows and columns.
        exact: roles fixed by the exact reduction (the rest are greedy).
    """

    roles: tuple[MinedRole, ...]
    users: int
    permissions: int
    edges: int
    distinct_users: int
    distinct_permissions: int
    exact: int
    stats: dict[str, float] = field(default_factory=dict)


def _bits(mask: int) -> Iterable[int]:
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def mine(
    assignment: Mapping[str, Iterable[str]],
    *,
    progress: Progress | None = None,
    check: Callable[[], None] | None = None,
) -> MiningResult:
    """The roles for ``assignment`` (user -> permissions). Users without permissions get
    no role. ``check`` is called now and then (it may raise to stop)."""
    user_perms = {u: frozenset(ps) for u, ps in assignment.items()}
    user_perms = {u: ps for u, ps in user_perms.items() if ps}
    edges = sum(len(ps) for ps in user_perms.values())
    # -- merge identical users (rows) and identical permissions (columns)
    rows_of: dict[frozenset[str], list[str]] = {}
    for user, perms in user_perms.items():
        rows_of.setdefault(perms, []).append(user)
    row_sets = list(rows_of)
    holders: dict[str, int] = {}
    for r, perms in enumerate(row_sets):
        for p in perms:
            holders[p] = holders.get(p, 0) | (1 << r)
    cols_of: dict[int, list[str]] = {}
    for p, mask in holders.items():
        cols_of.setdefault(mask, []).append(p)
    col_masks = list(cols_of)  # column j: the rows holding it
    col_index = {mask: j for j, mask in enumerate(col_masks)}
    rows = [0] * len(row_sets)  # row r: the columns it holds
    for j, mask in enumerate(col_masks):
        for r in _bits(mask):
            rows[r] |= 1 << j
    del col_index
    if progress is not None:
        progress(f"{len(rows):,} distinct users \u00d7 {len(col_masks):,} distinct permissions")

    chosen: list[tuple[int, int]] = []  # (row mask, column mask)
    seen: set[tuple[int, int]] = set()
    uncovered = list(rows)

    def take(users: int, cols: int) -> None:
        if (users, cols) in seen:
            return
        seen.add((users, cols))
        chosen.append((users, cols))
        for r in _bits(users):
            uncovered[r] &= ~cols

    # -- exact reduction: edge (r, j) whose holders all hold all of row r
    supersets = []
    for row in rows:
        sup = -1
        for j in _bits(row):
            sup &= col_masks[j]
        supersets.append(sup)  # rows holding every column of row r
    for r, row in enumerate(rows):
        if check is not None and r % 256 == 0:
            check()
        for j in _bits(row):
            if uncovered[r] >> j & 1 and col_masks[j] & ~supersets[r] == 0:
                take(col_masks[j], row)
    exact = len(chosen)
    if progress is not None:
        progress(f"{exact:,} roles fixed exactly; covering the rest greedily\u2026")

    # -- greedy over maximal bicliques
    def closure(cols: int) -> tuple[int, int]:
        """The maximal biclique generated by a set of columns: every row holding all of
        them, and every column all those rows hold."""
        users = -1
        for j in _bits(cols):
            users &= col_masks[j]
        common = -1
        for r in _bits(users):
            common &= rows[r]
        return users, common

    def gain(users: int, cols: int) -> int:
        return sum((uncovered[r] & cols).bit_count() for r in _bits(users))

    # Static candidates: a row's whole set, a column's holders. Dynamic ones (None): the
    # closure of what a row still lacks, recomputed when it reaches the top of the heap.
    static: list[tuple[int, int]] = []
    for r, row in enumerate(rows):
        if uncovered[r]:
            static.append((supersets[r], row))
    for j, users in enumerate(col_masks):
        if any(uncovered[r] >> j & 1 for r in _bits(users)):
            static.append(closure(1 << j))
    static = list(dict.fromkeys(static))
    heap: list[tuple[int, int, int]] = [(-gain(u, c), 0, i) for i, (u, c) in enumerate(static)]
    for r in range(len(rows)):
        if uncovered[r]:
            u, c = closure(uncovered[r])
            heap.append((-gain(u, c), 1, r))
    heapq.heapify(heap)
    while heap and any(uncovered):
        if check is not None:
            check()
        _negative, dynamic, i = heapq.heappop(heap)
        if dynamic:
            if not uncovered[i]:
                continue
            users, cols = closure(uncovered[i])
        else:
            users, cols = static[i]
        now = gain(users, cols)
        if now == 0:
            continue
        if heap and now < -heap[0][0]:
            heapq.heappush(heap, (-now, dynamic, i))  # stale: back with its current gain
            continue
        take(users, cols)
        if dynamic and uncovered[i]:
            heapq.heappush(heap, (-gain(*closure(uncovered[i])), 1, i))
    if any(uncovered):  # cannot happen: each edge lies in its row's candidate
        raise AssertionError("role mining left permissions uncovered")

    # -- drop roles whose every edge another role also covers
    kept = _merge_pairs(_drop_redundant(chosen, len(rows)), rows, col_masks, check)
    named = [
        MinedRole(
            frozenset(u for r in _bits(users) for u in rows_of[row_sets[r]]),
            frozenset(p for j in _bits(cols) for p in cols_of[col_masks[j]]),
        )
        for users, cols in kept
    ]
    named.sort(key=lambda m: (-len(m.users) * len(m.permissions), sorted(m.permissions)[:1]))
    return MiningResult(
        tuple(named), len(user_perms), len(holders), edges, len(rows), len(col_masks), exact
    )


def _drop_redundant(chosen: list[tuple[int, int]], n_rows: int) -> list[tuple[int, int]]:
    """Greedy roles taken early may be covered by later ones: drop them, latest first;
    then merge pairs of roles whose needed edges one biclique of the graph covers."""
    count: dict[tuple[int, int], int] = {}
    for users, cols in chosen:
        for r in _bits(users):
            for j in _bits(cols):
                count[(r, j)] = count.get((r, j), 0) + 1
    kept = []
    for users, cols in reversed(chosen):
        needed = any(count[(r, j)] == 1 for r in _bits(users) for j in _bits(cols))
        if needed:
            kept.append((users, cols))
        else:
            for r in _bits(users):
                for j in _bits(cols):
                    count[(r, j)] -= 1
    kept.reverse()
    return kept


def _merge_pairs(
    kept: list[tuple[int, int]], rows: list[int], col_masks: list[int], check: Callable[[], None] | None
) -> list[tuple[int, int]]:
    """Replace two roles by one when the edges only they cover fit in one biclique of the
    graph (the closure of those edges' columns holds all of those edges' rows)."""
    roles = list(kept)
    improved = True
    start = 0  # pairs before it were tried; after a merge the scan resumes there
    while improved:
        improved = False
        count: dict[tuple[int, int], int] = {}
        for users, cols in roles:
            for r in _bits(users):
                for j in _bits(cols):
                    count[(r, j)] = count.get((r, j), 0) + 1
        # What each role alone covers, as (rows, columns) spans.
        spans = []
        for users, cols in roles:
            need_rows = need_cols = 0
            for r in _bits(users):
                for j in _bits(cols):
                    if count[(r, j)] == 1:
                        need_rows |= 1 << r
                        need_cols |= 1 << j
            spans.append((need_rows, need_cols))
        for a in range(start, len(roles)):
            if check is not None and a % 32 == 0:
                check()
            for b in range(a + 1, len(roles)):
                need_rows = spans[a][0] | spans[b][0]
                need_cols = spans[a][1] | spans[b][1]
                holders = -1
                for j in _bits(need_cols):
                    holders &= col_masks[j]
                if need_rows & ~holders:
                    continue  # some row needing an edge lacks one of the columns
                common = -1
                for r in _bits(holders):
                    common &= rows[r]
                roles[a] = (holders, common)
                del roles[b]
                improved = True
                start = a
                break
            if improved:
                break
    return roles


def verify(assignment: Mapping[str, Iterable[str]], result: MiningResult) -> bool:
    """Does every user get exactly their permissions from the mined roles?"""
    got: dict[str, set[str]] = {}
    for role in result.roles:
        for u in role.users:
            got.setdefault(u, set()).update(role.permissions)
    wanted = {u: set(ps) for u, ps in assignment.items() if set(ps)}
    return got == wanted


# ---------------------------------------------------------------------- the file


def effective_assignment(session: Session, *, limit: int = RESTRUCTURE_LIMIT) -> dict[str, frozenset[str]]:
    """Every active user's effective permissions (as "resource: action" labels), read
    user by user through ``rbac.user_permissions``' query; refused above ``limit`` users."""
    users = session.scalars(
        select(User.username).where(User.active.is_(True)).order_by(User.username_key).limit(limit + 1)
    ).all()
    if len(users) > limit:
        raise ValidationError(
            "users", f"Role mining proposes a restructure for at most {limit:,} active users."
        )
    now = utcnow()
    return {u: frozenset(p.label for p in rbac.user_permissions(session, u, now=now)) for u in users}


def role_model_size(session: Session) -> tuple[int, int]:
    """(roles, separation-of-duty sets) in the file: what a restructure is compared with."""
    roles = int(session.execute(select(func.count()).select_from(Role)).scalar_one())
    sets = int(session.execute(select(func.count()).select_from(SsdSet)).scalar_one())
    return roles, sets


def restructure(
    session: Session, result: MiningResult, *, prefix: str = "Mined role"
) -> list[Edit]:
    """Pending edits that put the mined roles in place: create each role, grant its
    permissions, move every mined user from their assignments onto exactly the mined
    roles. Existing roles are kept (unassigned roles show up in Role hygiene).

    Separation-of-duty sets name the existing roles: after a restructure they no longer
    bind the users moved off them (the window says so before anything is pending)."""
    taken = {name_key(n) for n in session.scalars(select(Role.name))}
    perm_refs = {
        f"{res}: {act}": (res, act)
        for res, act in session.execute(
            select(Resource.name, Permission.action).join(Permission, Permission.resource_id == Resource.id)
        )
    }
    edits: list[Edit] = []
    names: list[str] = []
    number = 0
    for role in result.roles:
        number += 1
        while name_key(f"{prefix} {number}") in taken:
            number += 1
        name = f"{prefix} {number}"
        names.append(name)
        edits.append(Create(Entity.ROLE, {"name": name, "description": "Proposed by role mining"}))
        edits += [Grant(role=name, permission=perm_refs[p]) for p in sorted(role.permissions)]
    mined_users = {u for role in result.roles for u in role.users}
    for username, role_name in session.execute(
        select(User.username, Role.name)
        .join(UserRole, UserRole.user_id == User.id)
        .join(Role, Role.id == UserRole.role_id)
        .where(User.active.is_(True))
        .order_by(User.username_key, Role.name_key)
    ):
        if username in mined_users:
            edits.append(Deassign(user=username, role=role_name))
    for name, role in zip(names, result.roles, strict=True):
        edits += [Assign(user=u, role=name) for u in sorted(role.users)]
    return edits
