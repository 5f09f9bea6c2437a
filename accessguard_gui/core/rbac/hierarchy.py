"""ANSI role hierarchy: adding and removing inheritance (cycles, chain length and
separation of duty checked) and the direct parents / children of a role."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import exists, func, literal, select
from sqlalchemy.orm import Session

from ..errors import CycleError, DuplicateError, NotFoundError, ValidationError
from ..models import Role, RoleInheritance, UserRole
from ..rows import RoleRow
from .base import MAX_PATH_DEPTH, Ref, _atomic, get_role
from .closure import _inherited_cte, _inheriting_cte
from .ssd import _refuse_ssd_violations, _ssd_sets_of


def _role_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = session.execute(select(Role.id, Role.name).where(Role.id.in_(wanted)))
    return {rid: name for rid, name in rows}


def add_inheritance(session: Session, role: Ref, inherits_from: Ref) -> None:
    """ANSI AddInheritance: ``role`` gets every permission of ``inherits_from``.

    Raises:
        CycleError: ``inherits_from`` already inherits (at any depth) from ``role``.
        SeparationOfDutyError: a member of ``role`` (or of a role inheriting from it) would
            become authorized for too many roles of a set.
    """
    senior = get_role(session, role)
    junior = get_role(session, inherits_from)
    if senior.id == junior.id:
        raise CycleError([senior.name, senior.name])
    if session.get(RoleInheritance, (senior.id, junior.id)) is not None:
        raise DuplicateError(f"{senior.name} already inherits from {junior.name}.")
    cycle = _path_between(session, junior.id, senior.id)
    if cycle is not None:
        names = _role_names(session, cycle)
        raise CycleError([senior.name, *(names[i] for i in cycle)])
    # check_access explains by walking at most MAX_PATH_DEPTH steps: a longer chain
    # would grant in user_permissions but be invisible to check_access.
    chain = _longest_chain(session, senior.id, up=True) + 1 + _longest_chain(session, junior.id)
    if chain > MAX_PATH_DEPTH:
        raise ValidationError(
            "inherits_from",
            f"This inheritance would make a chain of {chain + 1} roles each inheriting from "
            f"the next; at most {MAX_PATH_DEPTH + 1} are allowed.",
        )
    with _atomic(session):
        session.add(RoleInheritance(role_id=senior.id, inherits_from_id=junior.id))
        session.flush()
        affected_roles = select(
            _inheriting_cte(select(literal(senior.id).label("role_id")))
        ).subquery()
        members = select(UserRole.user_id).where(UserRole.role_id.in_(select(affected_roles)))
        new_roles = _inherited_cte(select(literal(junior.id).label("role_id")), "newroles")
        touched = _ssd_sets_of(session, select(new_roles.c.role_id))
        if touched:
            _refuse_ssd_violations(session, users=members, sets=touched)


def _path_between(session: Session, start: int, goal: int) -> list[int] | None:
    """The role ids along a shortest inheritance path start → … → goal, or None.

    Reachability is one set-based query (UNION, so it ends on any graph, at any depth);
    only when ``goal`` is reachable are the edges of that part of the graph read to name
    the path. A depth-bounded path walk would miss long cycles and grows exponentially
    with diamonds.
    """
    reach = _inherited_cte(select(literal(start).label("role_id")), "cyclecheck")
    if session.scalar(select(exists().where(reach.c.role_id == goal))) is not True:
        return None
    reach = _inherited_cte(select(literal(start).label("role_id")), "cyclepath")
    edges = session.execute(
        select(RoleInheritance.role_id, RoleInheritance.inherits_from_id).where(
            RoleInheritance.role_id.in_(select(reach.c.role_id))
        )
    ).all()
    parents: dict[int, list[int]] = defaultdict(list)
    for child, parent in edges:
        parents[child].append(parent)
    previous: dict[int, int] = {}
    frontier = [start]
    seen = {start}
    while frontier and goal not in seen:
        step: list[int] = []
        for node in frontier:
            for nxt in sorted(parents.get(node, ())):
                if nxt not in seen:
                    seen.add(nxt)
                    previous[nxt] = node
                    step.append(nxt)
        frontier = step
    path = [goal]
    while path[-1] != start:
        path.append(previous[path[-1]])
    return path[::-1]


def _longest_chain(session: Session, role_id: int, *, up: bool = False) -> int:
    """Edges on the longest inheritance chain from ``role_id`` down to the roles it
    inherits from (or, with ``up``, up to the roles inheriting from it), counted up to
    MAX_PATH_DEPTH + 1. UNION over (role, depth) pairs keeps it polynomial on diamonds."""
    walk = select(literal(role_id).label("role_id"), literal(0).label("depth")).cte(
        "chain", recursive=True
    )
    if up:
        step = select(RoleInheritance.role_id, walk.c.depth + 1).where(
            RoleInheritance.inherits_from_id == walk.c.role_id
        )
    else:
        step = select(RoleInheritance.inherits_from_id, walk.c.depth + 1).where(
            RoleInheritance.role_id == walk.c.role_id
        )
    walk = walk.union(step.where(walk.c.depth <= MAX_PATH_DEPTH))
    return int(session.scalar(select(func.max(walk.c.depth))) or 0)


def delete_inheritance(session: Session, role: Ref, inherits_from: Ref) -> None:
    """ANSI DeleteInheritance."""
    senior = get_role(session, role)
    junior = get_role(session, inherits_from)
    link = session.get(RoleInheritance, (senior.id, junior.id))
    if link is None:
        raise NotFoundError(f"{senior.name} does not inherit from {junior.name}.")
    with _atomic(session):
        session.delete(link)


def inherits_from(session: Session, role: Ref) -> list[RoleRow]:
    """The roles ``role`` inherits from directly (its "parents")."""
    r = get_role(session, role)
    query = (
        select(Role)
        .join(RoleInheritance, RoleInheritance.inherits_from_id == Role.id)
        .where(RoleInheritance.role_id == r.id)
        .order_by(Role.name_key)
    )
    return [RoleRow.of(x) for x in session.scalars(query)]


def inherited_by(session: Session, role: Ref) -> list[RoleRow]:
    """The roles that inherit from ``role`` directly (its "children")."""
    r = get_role(session, role)
    query = (
        select(Role)
        .join(RoleInheritance, RoleInheritance.role_id == Role.id)
        .where(RoleInheritance.inherits_from_id == r.id)
        .order_by(Role.name_key)
    )
    return [RoleRow.of(x) for x in session.scalars(query)]
