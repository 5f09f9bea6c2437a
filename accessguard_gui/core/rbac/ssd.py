"""Static separation of duty (ANSI SSD): the sets, their checks (set-based SQL over the role
closure) and their administrative and review functions."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import CTE, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from .. import validation
from ..errors import DuplicateError, NotFoundError, SeparationOfDutyError, ValidationError
from ..lookalike import refuse_lookalike
from ..models import Role, RoleInheritance, SsdSet, SsdSetRole, User, UserRole
from ..rows import RoleRow, SsdSetRow, SsdViolation
from .base import _UNSET, Ref, _atomic, _exists, get_role, get_ssd_set
from .closure import _inheriting_cte
from .records import _change_named


def _ssd_sets_of(session: Session, roles: Select[Any]) -> list[int]:
    """Ids of the separation-of-duty sets that hold any of ``roles``."""
    query = select(SsdSetRole.ssd_set_id).where(SsdSetRole.role_id.in_(roles)).distinct()
    return list(session.scalars(query))


def _ssd_seniors(sets: Sequence[int] | None) -> CTE:
    """(ssd_set_id, member_id, role_id): holding ``role_id`` authorizes for the set's role
    ``member_id`` — the member itself and every role inheriting from it, each triple once
    (UNION), so the work follows the set's roles, never the number of users."""
    start = select(
        SsdSetRole.ssd_set_id.label("ssd_set_id"),
        SsdSetRole.role_id.label("member_id"),
        SsdSetRole.role_id.label("role_id"),
    )
    if sets is not None:
        start = start.where(SsdSetRole.ssd_set_id.in_(list(sets)))
    seniors = start.cte("ssd_authorizing", recursive=True)
    return seniors.union(
        select(seniors.c.ssd_set_id, seniors.c.member_id, RoleInheritance.role_id).where(
            RoleInheritance.inherits_from_id == seniors.c.role_id
        )
    )


def _ssd_held(sets: Sequence[int] | None, users: Select[Any] | Iterable[int] | None) -> Select[Any]:
    """(ssd_set_id, user_id, member_id) for every role of a set a user is authorized for
    (any assignment, expired ones included, and inheritance); ``users`` limits the users."""
    seniors = _ssd_seniors(sets)
    held = select(seniors.c.ssd_set_id, UserRole.user_id, seniors.c.member_id).join(
        UserRole, UserRole.role_id == seniors.c.role_id
    )
    if users is not None:
        held = held.where(UserRole.user_id.in_(users))
    return held


def ssd_violations(
    session: Session,
    *,
    users: Select[Any] | None = None,
    sets: Sequence[int] | None = None,
    limit: int | None = None,
    after: tuple[int, int] | None = None,
    cancel: threading.Event | None = None,
) -> list[SsdViolation]:
    """Every user authorized (through any assignment, expired ones included, and
    inheritance) for ``cardinality`` or more roles of a separation-of-duty set, ordered
    by set and user id.

    Set-based: the roles that authorize for a set's roles are found first (a walk of the
    role graph per set), then only the members of those roles are grouped — a million
    users holding none of them cost nothing, and with no set at all nothing is read.
    Expired assignments count: extending an expiry must never be a way around a set.

    Args:
        limit: at most this many violations (a page); ``after``: the ``page_key`` of the
            last violation of the previous page.
        cancel: set it (from any thread) to stop the check: QueryStoppedError is raised
            and nothing is changed (core/browse.py ``bounded``).
    """
    if sets is not None and not sets:
        return []
    if session.scalar(select(SsdSetRole.ssd_set_id).limit(1)) is None:
        return []  # no set: nothing can be violated (and the check is instant)
    if cancel is None:
        return _ssd_violations(session, users, sets, limit, after)
    from ..browse import bounded  # browse imports changes, which imports this module

    with bounded(session, cancel=cancel):
        return _ssd_violations(session, users, sets, limit, after)


def iter_ssd_violations(
    session: Session,
    *,
    page_size: int = 500,
    sets: Sequence[int] | None = None,
    cancel: threading.Event | None = None,
) -> Iterator[list[SsdViolation]]:
    """Every violation, a page at a time (keyset by set and user), so a caller off the
    GUI thread can show them as they come and stop early; ``cancel`` stops the query
    running (QueryStoppedError) as well as the pages still to come."""
    after: tuple[int, int] | None = None
    while True:
        page = ssd_violations(session, sets=sets, limit=page_size, after=after, cancel=cancel)
        if page:
            yield page
        if len(page) < page_size:
            return
        after = page[-1].page_key


def _ssd_violations(
    session: Session,
    users: Select[Any] | None,
    sets: Sequence[int] | None,
    limit: int | None,
    after: tuple[int, int] | None,
) -> list[SsdViolation]:
    held = _ssd_held(sets, users).subquery("ssd_held")
    counted = (
        select(held.c.ssd_set_id, held.c.user_id)
        .join(SsdSet, SsdSet.id == held.c.ssd_set_id)
        .group_by(held.c.ssd_set_id, held.c.user_id, SsdSet.cardinality)
        .having(func.count(func.distinct(held.c.member_id)) >= SsdSet.cardinality)
    )
    if after is not None:
        counted = counted.where(
            or_(
                held.c.ssd_set_id > after[0],
                and_(held.c.ssd_set_id == after[0], held.c.user_id > after[1]),
            )
        )
    counted = counted.order_by(held.c.ssd_set_id, held.c.user_id)
    if limit is not None:
        counted = counted.limit(limit)
    pairs = [(int(a), int(b)) for a, b in session.execute(counted)]
    if not pairs:
        return []
    # Names of the offending roles per (set, user): the same walk for these users only.
    set_ids = sorted({s for s, _ in pairs})
    user_ids = sorted({u for _, u in pairs})
    detail = _ssd_held(set_ids, user_ids).subquery("ssd_detail")
    names = session.execute(
        select(detail.c.ssd_set_id, detail.c.user_id, Role.name, Role.name_key)
        .join(Role, Role.id == detail.c.member_id)
        .distinct()
        .order_by(Role.name_key)
    ).all()
    roles_of: dict[tuple[int, int], list[str]] = defaultdict(list)
    for set_id, user_id, role_name, _key in names:
        roles_of[(set_id, user_id)].append(role_name)
    set_info = {
        s.id: (s.name, s.cardinality)
        for s in session.scalars(select(SsdSet).where(SsdSet.id.in_(set_ids)))
    }
    usernames = dict(
        session.execute(select(User.id, User.username).where(User.id.in_(user_ids))).all()
    )
    return [
        SsdViolation(
            ssd_set=set_info[s][0],
            cardinality=set_info[s][1],
            username=usernames[u],
            roles=tuple(roles_of[(s, u)]),
            page_key=(s, u),
        )
        for s, u in pairs
    ]


def _refuse_ssd_violations(
    session: Session, *, users: Select[Any] | None = None, sets: Sequence[int] | None = None
) -> None:
    shown = 20
    # One row more than shown: tells whether the first set has further violators.
    found = ssd_violations(session, users=users, sets=sets, limit=shown + 1)
    if not found:
        return
    first = found[0]
    same_set = [v for v in found if v.ssd_set == first.ssd_set]
    raise SeparationOfDutyError(
        first.ssd_set,
        first.cardinality,
        {v.username: v.roles for v in same_set[:shown]},
        complete=len(same_set) <= shown,
    )


def _ssd_set_users(ssd: SsdSet) -> Select[Any]:
    """Users authorized for any role of the set: members of the set's roles or of any
    role inheriting from them."""
    members = select(SsdSetRole.role_id.label("role_id")).where(SsdSetRole.ssd_set_id == ssd.id)
    seniors = _inheriting_cte(members, "ssd_seniors")
    return select(UserRole.user_id).where(UserRole.role_id.in_(select(seniors.c.role_id)))


def _ssd_row(session: Session, ssd: SsdSet) -> SsdSetRow:
    names = session.scalars(
        select(Role.name)
        .join(SsdSetRole, SsdSetRole.role_id == Role.id)
        .where(SsdSetRole.ssd_set_id == ssd.id)
        .order_by(Role.name_key)
    ).all()
    return SsdSetRow.of(ssd, tuple(names))


def _ssd_role_count(session: Session, ssd: SsdSet) -> int:
    return int(session.scalar(select(func.count()).where(SsdSetRole.ssd_set_id == ssd.id)) or 0)


def create_ssd_set(
    session: Session,
    name: str,
    roles: Sequence[Ref],
    cardinality: int,
    description: str | None = "",
) -> SsdSetRow:
    """ANSI CreateSsdSet: refused if some user already breaks it."""
    clean = validation.ssd_name(name)
    n = validation.cardinality(cardinality)
    text = validation.description(description)
    role_objs = {r.id: r for r in (get_role(session, ref) for ref in roles)}
    if n > len(role_objs):
        raise ValidationError(
            "cardinality",
            f"Cardinality {n} is larger than the number of roles in the set ({len(role_objs)}).",
        )
    with _atomic(session):
        if _exists(session, SsdSet, SsdSet.name_key, clean, None):
            raise DuplicateError(
                f"A separation-of-duty set named \u201c{clean}\u201d already exists.", field="name"
            )
        refuse_lookalike(session, SsdSet, clean, None, "separation-of-duty set")
        ssd = SsdSet(name=clean, cardinality=n, description=text)
        session.add(ssd)
        session.flush()
        for role_id in role_objs:
            session.add(SsdSetRole(ssd_set_id=ssd.id, role_id=role_id))
        session.flush()
        _refuse_ssd_violations(session, users=_ssd_set_users(ssd), sets=[ssd.id])
    return _ssd_row(session, ssd)


def add_ssd_role_member(session: Session, ssd_set: Ref, role: Ref) -> SsdSetRow:
    """ANSI AddSsdRoleMember: refused if some user would break the set."""
    ssd = get_ssd_set(session, ssd_set)
    r = get_role(session, role)
    with _atomic(session):
        if session.get(SsdSetRole, (ssd.id, r.id)) is not None:
            raise DuplicateError(f"{r.name} is already in the set {ssd.name}.")
        session.add(SsdSetRole(ssd_set_id=ssd.id, role_id=r.id))
        session.flush()
        _refuse_ssd_violations(session, users=_ssd_set_users(ssd), sets=[ssd.id])
    return _ssd_row(session, ssd)


def delete_ssd_role_member(session: Session, ssd_set: Ref, role: Ref) -> SsdSetRow:
    """ANSI DeleteSsdRoleMember: the set must keep at least ``cardinality`` roles."""
    ssd = get_ssd_set(session, ssd_set)
    r = get_role(session, role)
    member = session.get(SsdSetRole, (ssd.id, r.id))
    if member is None:
        raise NotFoundError(f"{r.name} is not in the set {ssd.name}.")
    if _ssd_role_count(session, ssd) - 1 < ssd.cardinality:
        # The cardinality cannot go below 2, so a two-role set can only be deleted.
        remedy = "lower its cardinality first" if ssd.cardinality > 2 else "delete the set instead"
        raise ValidationError(
            "roles",
            f"The set {ssd.name} needs at least {ssd.cardinality} roles; {remedy}.",
        )
    with _atomic(session):
        session.delete(member)
    return _ssd_row(session, ssd)


def delete_ssd_set(session: Session, ssd_set: Ref) -> None:
    """ANSI DeleteSsdSet."""
    ssd = get_ssd_set(session, ssd_set)
    with _atomic(session):
        for member in session.scalars(select(SsdSetRole).where(SsdSetRole.ssd_set_id == ssd.id)):
            session.delete(member)
        session.flush()
        session.delete(ssd)


def set_ssd_set_cardinality(session: Session, ssd_set: Ref, cardinality: int) -> SsdSetRow:
    """ANSI SetSsdSetCardinality: refused if some user would break the tighter limit."""
    ssd = get_ssd_set(session, ssd_set)
    n = validation.cardinality(cardinality)
    count = _ssd_role_count(session, ssd)
    if n > count:
        raise ValidationError(
            "cardinality",
            f"Cardinality {n} is larger than the number of roles in the set ({count}).",
        )
    with _atomic(session):
        if ssd.cardinality != n:
            ssd.cardinality = n
            session.flush()
            _refuse_ssd_violations(session, users=_ssd_set_users(ssd), sets=[ssd.id])
    return _ssd_row(session, ssd)


def update_ssd_set(
    session: Session, ssd_set: Ref, *, name: str = _UNSET, description: str = _UNSET
) -> SsdSetRow:
    """Rename a separation-of-duty set or change its description (its roles and its
    cardinality have their ANSI functions above). A name another set has is refused."""
    ssd = get_ssd_set(session, ssd_set)
    new_name = validation.ssd_name(name) if name is not _UNSET else None
    new_text = validation.description(description) if description is not _UNSET else None
    _change_named(session, ssd, "separation-of-duty set", new_name, new_text)
    return _ssd_row(session, ssd)


def set_ssd_set_roles(
    session: Session, ssd_set: Ref, roles: Sequence[Ref], cardinality: int | None = None
) -> SsdSetRow:
    """Replace a set's roles (and, if given, its cardinality) in one step, checked once
    at the end: swapping a role, or adding one while raising the limit, may have no order
    of single ANSI steps whose every intermediate set is unbroken."""
    ssd = get_ssd_set(session, ssd_set)
    n = validation.cardinality(ssd.cardinality if cardinality is None else cardinality)
    wanted = {r.id: r for r in (get_role(session, ref) for ref in roles)}
    if n > len(wanted):
        raise ValidationError(
            "cardinality",
            f"Cardinality {n} is larger than the number of roles in the set ({len(wanted)}).",
        )
    with _atomic(session):
        members = session.scalars(select(SsdSetRole).where(SsdSetRole.ssd_set_id == ssd.id))
        current = {m.role_id: m for m in members}
        for role_id, member in current.items():
            if role_id not in wanted:
                session.delete(member)
        for role_id in wanted:
            if role_id not in current:
                session.add(SsdSetRole(ssd_set_id=ssd.id, role_id=role_id))
        if ssd.cardinality != n:
            ssd.cardinality = n
        session.flush()
        _refuse_ssd_violations(session, users=_ssd_set_users(ssd), sets=[ssd.id])
    return _ssd_row(session, ssd)


def ssd_role_sets(session: Session) -> list[SsdSetRow]:
    """ANSI SsdRoleSets: every separation-of-duty set with its roles."""
    sets = session.scalars(select(SsdSet).order_by(SsdSet.name_key)).all()
    return [_ssd_row(session, s) for s in sets]


def ssd_role_set_roles(session: Session, ssd_set: Ref) -> list[RoleRow]:
    """ANSI SsdRoleSetRoles."""
    ssd = get_ssd_set(session, ssd_set)
    query = (
        select(Role)
        .join(SsdSetRole, SsdSetRole.role_id == Role.id)
        .where(SsdSetRole.ssd_set_id == ssd.id)
        .order_by(Role.name_key)
    )
    return [RoleRow.of(r) for r in session.scalars(query)]


def ssd_role_set_cardinality(session: Session, ssd_set: Ref) -> int:
    """ANSI SsdRoleSetCardinality."""
    return get_ssd_set(session, ssd_set).cardinality
