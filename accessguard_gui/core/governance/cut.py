"""The revoking cut: the smallest sets of changes that would deny an allowed access.

A user reaches a permission through paths user \u2192 assigned role \u2192 inherited roles
\u2192 role holding the permission. Each step is one record a change can remove: the
assignment, an inheritance link, the grant. The smallest sets of removals that break
every path are the minimum edge cuts of that graph: max-flow with unit capacities
(Edmonds\u2013Karp) gives their size, and every minimum cut is a closed set of the residual
graph (Picard\u2013Queyranne), so a few of them are enumerated without trying subsets.

Only the relevant part of the role model is read: the roles the user reaches through live
assignments that also lead to a holder of the permission (two recursive CTEs). The side
effects of each cut \u2014 who else would lose what \u2014 come from ``impact.review``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .. import impact, rbac
from ..changes import Deassign, Edit, Revoke, Uninherit
from ..database import Database
from ..errors import ReadOnlyDatabaseError
from ..models import Role, RoleInheritance, RolePermission, UserRole, utcnow

MAX_CUTS = 5
SOURCE, SINK = -1, -2
Node = int


@dataclass(frozen=True, slots=True)
class Step:
    """One removable record on the paths: ("assignment", user, role), ("inheritance",
    senior, junior) or ("grant", role, permission)."""

    kind: str
    first: str
    second: str

    def edit(self, resource: str, action: str) -> Edit:
        if self.kind == "assignment":
            return Deassign(user=self.first, role=self.second)
        if self.kind == "inheritance":
            return Uninherit(role=self.first, inherits_from=self.second)
        return Revoke(role=self.first, permission=(resource, action))

    def describe(self) -> str:
        if self.kind == "assignment":
            return f"Remove {self.first} from {self.second}"
        if self.kind == "inheritance":
            return f"{self.first} no longer inherits from {self.second}"
        return f"Revoke {self.second} from {self.first}"


@dataclass(frozen=True)
class Cut:
    """One minimum set of removals, and (once reviewed) what else it would take away.

    Attributes:
        others_losing: users who would lose something besides the access asked about
            (the user too, for other permissions); -1 until reviewed.
        losses: those (user, permission) pairs (at most the review's limit).
        lost_count: how many pairs in all.
        error: why the cut would be refused on top of the pending edits, if it would.
        note: why the side effects are unknown (a read-only file cannot preview them).
    """

    steps: tuple[Step, ...]
    edits: tuple[Edit, ...]
    others_losing: int = -1
    losses: tuple[tuple[str, str], ...] = ()
    lost_count: int = 0
    error: str | None = None
    note: str = ""

    @property
    def reviewed(self) -> bool:
        return self.others_losing >= 0


@dataclass(frozen=True)
class CutAnswer:
    """The minimum cuts of one allowed access (empty when it is not allowed)."""

    username: str
    permission: str
    allowed: bool
    size: int
    cuts: tuple[Cut, ...]
    paths: int


# ---------------------------------------------------------------------- the graph


@dataclass
class _Graph:
    names: dict[Node, str]
    edges: list[tuple[Node, Node, Step]]


def _graph(session: Session, user_id: int, username: str, permission_id: int, label: str, now: datetime) -> _Graph:
    live = select(UserRole.role_id.label("role_id")).where(
        UserRole.user_id == user_id, or_(UserRole.expires_at.is_(None), UserRole.expires_at > now)
    )
    down = live.cte("cut_down", recursive=True)
    down = down.union(
        select(RoleInheritance.inherits_from_id).where(RoleInheritance.role_id == down.c.role_id)
    )
    holders = select(RolePermission.role_id.label("role_id")).where(
        RolePermission.permission_id == permission_id
    )
    up = holders.cte("cut_up", recursive=True)
    up = up.union(select(RoleInheritance.role_id).where(RoleInheritance.inherits_from_id == up.c.role_id))
    relevant = set(session.scalars(select(down.c.role_id).intersect(select(up.c.role_id))))
    if not relevant:
        return _Graph({}, [])
    names = {int(i): str(n) for i, n in session.execute(select(Role.id, Role.name).where(Role.id.in_(relevant)))}
    edges: list[tuple[Node, Node, Step]] = []
    for (role_id,) in session.execute(live.where(UserRole.role_id.in_(relevant))):
        edges.append((SOURCE, role_id, Step("assignment", username, names[role_id])))
    for senior, junior in session.execute(
        select(RoleInheritance.role_id, RoleInheritance.inherits_from_id).where(
            RoleInheritance.role_id.in_(relevant), RoleInheritance.inherits_from_id.in_(relevant)
        )
    ):
        edges.append((senior, junior, Step("inheritance", names[senior], names[junior])))
    for (role_id,) in session.execute(
        select(RolePermission.role_id).where(
            RolePermission.permission_id == permission_id, RolePermission.role_id.in_(relevant)
        )
    ):
        edges.append((role_id, SINK, Step("grant", names[role_id], label)))
    return _Graph(names, edges)


def _max_flow(edges: Sequence[tuple[Node, Node, Step]]) -> list[int]:
    """Flow (0/1) per edge of a maximum flow from SOURCE to SINK, unit capacities."""
    flow = [0] * len(edges)
    out: dict[Node, list[int]] = {}
    inc: dict[Node, list[int]] = {}
    for i, (a, b, _s) in enumerate(edges):
        out.setdefault(a, []).append(i)
        inc.setdefault(b, []).append(i)
    while True:
        parent: dict[Node, tuple[int, bool]] = {}
        queue = deque([SOURCE])
        seen = {SOURCE}
        while queue and SINK not in seen:
            node = queue.popleft()
            for i in out.get(node, ()):  # forward residual: unused edge
                b = edges[i][1]
                if not flow[i] and b not in seen:
                    seen.add(b)
                    parent[b] = (i, True)
                    queue.append(b)
            for i in inc.get(node, ()):  # backward residual: used edge
                a = edges[i][0]
                if flow[i] and a not in seen:
                    seen.add(a)
                    parent[a] = (i, False)
                    queue.append(a)
        if SINK not in seen:
            return flow
        node = SINK
        while node != SOURCE:
            i, forward = parent[node]
            flow[i] = 1 if forward else 0
            node = edges[i][0] if forward else edges[i][1]


def _residual(edges: Sequence[tuple[Node, Node, Step]], flow: list[int]) -> dict[Node, set[Node]]:
    succ: dict[Node, set[Node]] = {}
    for i, (a, b, _s) in enumerate(edges):
        succ.setdefault(a, set())
        succ.setdefault(b, set())
        if flow[i]:
            succ[b].add(a)
        else:
            succ[a].add(b)
    return succ


def _closure(succ: dict[Node, set[Node]], start: set[Node]) -> set[Node]:
    seen, todo = set(start), list(start)
    while todo:
        for n in succ.get(todo.pop(), ()):
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return seen


def minimum_cuts(edges: Sequence[tuple[Node, Node, Step]], limit: int = MAX_CUTS) -> list[tuple[Step, ...]]:
    """Up to ``limit`` distinct minimum SOURCE\u2013SINK edge cuts, smallest source side first.

    Every minimum cut is the set of edges leaving a set S of nodes that holds SOURCE, not
    SINK, and is closed under residual edges; S grows from the residual closure of SOURCE
    by adding the residual closure of one more node at a time.
    """
    flow = _max_flow(edges)
    if not any(flow[i] for i, e in enumerate(edges) if e[0] == SOURCE):
        return []
    succ = _residual(edges, flow)
    pred: dict[Node, set[Node]] = {}
    for a, targets in succ.items():
        for b in targets:
            pred.setdefault(b, set()).add(a)
    forbidden = _closure(pred, {SINK})  # nodes that reach SINK in the residual graph

    def edges_leaving(side: frozenset[Node]) -> tuple[Step, ...]:
        return tuple(s for a, b, s in edges if a in side and b not in side)

    first = frozenset(_closure(succ, {SOURCE}))
    sides, cuts = {first}, [edges_leaving(first)]
    seen_cuts = {frozenset(cuts[0])}
    queue = deque([first])
    nodes = sorted(succ)
    explored = 0
    # Different sides can leave through the same edges (nodes off every path): the cuts
    # are told apart by their edges; the search is bounded by limit * nodes sides.
    while queue and len(cuts) < limit and explored < limit * (len(nodes) + 1):
        side = queue.popleft()
        explored += 1
        for n in nodes:
            if n in side or n in forbidden:
                continue
            bigger = frozenset(_closure(succ, set(side) | {n}))
            if bigger & forbidden or bigger in sides:
                continue
            sides.add(bigger)
            queue.append(bigger)
            found = edges_leaving(bigger)
            if frozenset(found) not in seen_cuts:
                seen_cuts.add(frozenset(found))
                cuts.append(found)
                if len(cuts) >= limit:
                    break
    return cuts


# ---------------------------------------------------------------------- the question


def revoking_cuts(
    session: Session,
    user: str,
    resource: str,
    action: str,
    *,
    now: datetime | None = None,
    limit: int = MAX_CUTS,
) -> CutAnswer:
    """The minimum sets of removals that would deny ``user`` ``action`` on ``resource``."""
    moment = now or utcnow()
    decision = rbac.check_access(session, user, resource, action, now=moment)
    if not decision.allowed:
        return CutAnswer(decision.username, decision.permission, False, 0, (), 0)
    u = rbac.get_user(session, user)
    perm = rbac.get_permission(session, (resource, action))
    graph = _graph(session, u.id, u.username, perm.id, decision.permission, moment)
    found = minimum_cuts(graph.edges, limit)
    res, act = decision.resource, decision.action
    cuts = tuple(Cut(steps, tuple(s.edit(res, act) for s in steps)) for steps in found)
    paths = sum(1 for a, _b, _s in graph.edges if a == SOURCE)
    return CutAnswer(decision.username, decision.permission, True, len(found[0]) if found else 0, cuts, paths)


def review_cut(db: Database, pending: Sequence[Edit], answer: CutAnswer, cut: Cut) -> Cut:
    """``cut`` with its side effects: every (user, permission) it would take away besides
    the one asked about, given the pending edits (a rolled-back preview)."""
    before = len(pending)
    try:
        report = impact.review(db, [*pending, *cut.edits])
    except ReadOnlyDatabaseError:
        return Cut(cut.steps, cut.edits, note="not previewed: the file is open read-only")
    if not report.ok:
        return Cut(cut.steps, cut.edits, 0, (), 0, report.error)
    losses: list[tuple[str, str]] = []
    lost = 0
    for step in report.per_edit[before:]:
        lost += step.lost_count
        losses += [(c.username, c.permission) for c in step.losses]
    target = (answer.username, answer.permission)
    others = [loss for loss in losses if loss != target]
    users = {name for name, _p in others}
    return Cut(cut.steps, cut.edits, len(users), tuple(others), max(0, lost - 1), None)

