"""A role's whole story in numbers and lists: direct and effective members, own and
inherited permissions (issue 12, item 8).

"Effective" follows inheritance: a user assigned to a role that inherits (at any depth)
from role R holds R too, so R's effective members are the users assigned to R or to any
role senior to it; R's effective permissions are its own plus those of every role it
inherits from. Everything is one SQL statement over a recursive closure (never a walk in
Python), and member lists are read by keyset pages, so a role held by a million users
costs one page, not a million rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CTE, Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from .lookup import Choice, Page
from .models import Permission, Resource, Role, RoleInheritance, RolePermission, User, UserRole


@dataclass(frozen=True)
class MemberCounts:
    """How many users hold a role: ``direct`` (assigned to it) and ``total`` (assigned to it
    or to a role inheriting from it; each user counted once)."""

    direct: int
    total: int

    @property
    def inherited_only(self) -> int:
        """Users who hold the role only through inheritance."""
        return self.total - self.direct

    def sentence(self, role: str) -> str:
        """``"Staff: 0 direct, 293 in all"``."""
        return f"{role}: {self.direct:,} direct, {self.total:,} in all"


@dataclass(frozen=True)
class _Held:
    """Something a role has or gives; ``via`` is the role it comes through ("" if direct)."""

    @property
    def direct(self) -> bool:
        return not getattr(self, "via", "")


@dataclass(frozen=True)
class EffectiveMember(_Held):
    """A user holding a role; ``via`` names the role they are assigned to that inherits it
    (empty when they are assigned the role directly)."""

    username: str
    via: str = ""

    @property
    def label(self) -> str:
        return self.username if self.direct else f"{self.username}  (via {self.via})"


@dataclass(frozen=True)
class EffectivePermission(_Held):
    """A permission a role has; ``via`` names the role it is inherited from (empty when the
    permission is granted to the role itself)."""

    resource: str
    action: str
    via: str = ""

    @property
    def label(self) -> str:
        text = f"{self.resource}: {self.action}"
        return text if self.direct else f"{text}  (inherited from {self.via})"


def _start(role_id: int) -> Select[Any]:
    """The role itself, as a one-column SELECT of role ids."""
    return select(Role.id.label("role_id")).where(Role.id == role_id)


def seniors_of(role_id: int) -> CTE:
    """Role ids that inherit (at any depth) from ``role_id``, the role itself included."""
    # Started from the roles table (not a bare literal): the column's type is the table's
    # on every backend (PostgreSQL types a bound literal on its own).
    reach = _start(role_id).cte("role_seniors", recursive=True)
    step = select(RoleInheritance.role_id).where(
        RoleInheritance.inherits_from_id == reach.c.role_id
    )
    return reach.union(step)


def juniors_of(role_id: int) -> CTE:
    """Role ids ``role_id`` inherits from (at any depth), the role itself included."""
    reach = _start(role_id).cte("role_juniors", recursive=True)
    step = select(RoleInheritance.inherits_from_id).where(
        RoleInheritance.role_id == reach.c.role_id
    )
    return reach.union(step)


def member_counts(session: Session, role_id: int) -> MemberCounts:
    """Direct and effective member counts of a role, two indexed counts."""
    direct = session.scalar(select(func.count()).where(UserRole.role_id == role_id)) or 0
    seniors = seniors_of(role_id)
    total = (
        session.scalar(
            select(func.count(func.distinct(UserRole.user_id))).where(
                UserRole.role_id.in_(select(seniors.c.role_id))
            )
        )
        or 0
    )
    return MemberCounts(int(direct), int(total))


# Above this many holders a role's members are read by walking the users in name order
# (each probed through the primary key) instead of gathering and sorting every member:
# a dense role fills a page after a few hundred users, a sparse one would walk them all.
DENSE_MEMBERS = 20_000


def effective_members_page(
    session: Session,
    role_id: int,
    after: str | None = None,
    limit: int = 200,
    *,
    direct_only: bool = False,
    holders: int | None = None,
) -> Page:
    """A page of the users holding a role (``EffectiveMember``), by username key after
    ``after``; ``Page.next_after`` is the key for the next page. Each user appears once:
    directly assigned if they are, else through the first (by name) inheriting role.
    ``direct_only`` keeps the directly assigned members ("hide inherited").
    ``holders`` (how many hold it, e.g. ``MemberCounts.total``) picks the plan: above
    ``DENSE_MEMBERS`` the users are walked in name order, below it the members are
    gathered first; both give the same page."""
    if direct_only:
        roles = _start(role_id)
    else:
        roles = select(seniors_of(role_id).c.role_id)
    via = func.min(case((UserRole.role_id == role_id, ""), else_=Role.name))
    if holders is not None and holders > DENSE_MEMBERS:
        held_via = (
            select(via)
            .select_from(UserRole)
            .join(Role, Role.id == UserRole.role_id)
            .where(UserRole.user_id == User.id, UserRole.role_id.in_(roles))
            .scalar_subquery()
        )
        query = (
            select(User.username, User.username_key, held_via)
            .where(
                select(UserRole.user_id)
                .where(UserRole.user_id == User.id, UserRole.role_id.in_(roles))
                .exists()
            )
            .order_by(User.username_key)
            .limit(limit + 1)
        )
    else:
        # Members first (the role_id index), then their names: ordering the users table
        # by key and probing each user would walk the million users of a small role.
        members = (
            select(UserRole.user_id, via.label("via"))
            .join(Role, Role.id == UserRole.role_id)
            .where(UserRole.role_id.in_(roles))
            .group_by(UserRole.user_id)
            .subquery("members")
        )
        query = (
            select(User.username, User.username_key, members.c.via)
            .join(members, members.c.user_id == User.id)
            .order_by(User.username_key)
            .limit(limit + 1)
        )
    if after is not None:
        query = query.where(User.username_key > after)
    rows = list(session.execute(query))
    more = len(rows) > limit
    kept = rows[:limit]
    found = tuple(EffectiveMember(name, via_name or "") for name, _key, via_name in kept)
    return Page(found, kept[-1][1] if more and kept else None)


def effective_permissions(
    session: Session, role_id: int, *, direct_only: bool = False, limit: int = 5000
) -> list[EffectivePermission]:
    """A role's permissions, own and inherited (``via`` names the nearest-by-name role that
    grants an inherited one), sorted by resource and action; at most ``limit``."""
    page = effective_permissions_page(session, role_id, None, limit, direct_only=direct_only)
    return list(page.rows)


def effective_permissions_page(
    session: Session,
    role_id: int,
    after: tuple[str, str] | None = None,
    limit: int = 200,
    *,
    direct_only: bool = False,
) -> Page:
    """A page of ``effective_permissions`` (``EffectivePermission`` rows) after the
    (resource, action) ``after``: a keyset, so a role holding 20,000 permissions is read
    a page at a time as its list is scrolled, none skipped and none capped.
    ``Page.next_after`` is the (resource, action) to read the next page after."""
    roles = _start(role_id) if direct_only else select(juniors_of(role_id).c.role_id)
    via = func.min(case((RolePermission.role_id == role_id, ""), else_=Role.name))
    query = (
        select(Resource.name, Permission.action, via)
        .select_from(RolePermission)
        .join(Permission, Permission.id == RolePermission.permission_id)
        .join(Resource, Resource.id == Permission.resource_id)
        .join(Role, Role.id == RolePermission.role_id)
        .where(RolePermission.role_id.in_(roles))
        .group_by(Permission.id, Resource.name, Permission.action)
        .order_by(Resource.name, Permission.action)
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(
            or_(
                Resource.name > after[0],
                and_(Resource.name == after[0], Permission.action > after[1]),
            )
        )
    rows = [EffectivePermission(res, action, v or "") for res, action, v in session.execute(query)]
    kept = rows[:limit]
    more = len(rows) > limit and kept
    return Page(tuple(kept), (kept[-1].resource, kept[-1].action) if more else None)


def permission_counts(session: Session, role_id: int) -> tuple[int, int]:
    """(own, in all) permission counts of a role."""
    own = session.scalar(select(func.count()).where(RolePermission.role_id == role_id)) or 0
    juniors = juniors_of(role_id)
    total = (
        session.scalar(
            select(func.count(func.distinct(RolePermission.permission_id))).where(
                RolePermission.role_id.in_(select(juniors.c.role_id))
            )
        )
        or 0
    )
    return int(own), int(total)


# ---------------------------------------------------------------------- held marks


@dataclass(frozen=True, slots=True)
class MarkedChoice(Choice):
    """A picker choice the subject already has: ``held`` says how ("already a member");
    ``final`` choices cannot be picked again (a direct assignment or grant), the others
    (held only through inheritance) still can."""

    held: str = ""
    final: bool = True


def held_users(session: Session, role_id: int, user_ids: Sequence[int]) -> dict[int, str]:
    """Of ``user_ids``, those assigned to the role directly, and those holding it through
    a role that inherits it (one query each, bounded by the ids asked about)."""
    if not user_ids:
        return {}
    direct = set(
        session.scalars(
            select(UserRole.user_id).where(
                UserRole.role_id == role_id, UserRole.user_id.in_(user_ids)
            )
        )
    )
    seniors = seniors_of(role_id)
    through = set(
        session.scalars(
            select(UserRole.user_id).where(
                UserRole.role_id.in_(select(seniors.c.role_id)), UserRole.user_id.in_(user_ids)
            )
        )
    )
    marks = {uid: "holds it through an inheriting role" for uid in through - direct}
    marks.update({uid: "already a member" for uid in direct})
    return marks


def held_roles(session: Session, user_id: int, role_ids: Sequence[int]) -> dict[int, str]:
    """Of ``role_ids``, those assigned to the user, and those the user holds through
    inheritance (a role they are assigned inherits from it)."""
    if not role_ids:
        return {}
    direct = set(
        session.scalars(
            select(UserRole.role_id).where(
                UserRole.user_id == user_id, UserRole.role_id.in_(role_ids)
            )
        )
    )
    reach = select(UserRole.role_id.label("role_id")).where(UserRole.user_id == user_id)
    closure = reach.cte("user_reach", recursive=True)
    closure = closure.union(
        select(RoleInheritance.inherits_from_id).where(RoleInheritance.role_id == closure.c.role_id)
    )
    reached = set(session.scalars(select(closure.c.role_id).where(closure.c.role_id.in_(role_ids))))
    marks = {rid: "held through inheritance" for rid in reached - direct}
    marks.update({rid: "already assigned" for rid in direct})
    return marks


def held_permissions(
    session: Session, role_id: int, permission_ids: Sequence[int]
) -> dict[int, str]:
    """Of ``permission_ids``, those granted to the role, and those it inherits."""
    if not permission_ids:
        return {}
    juniors = juniors_of(role_id)
    rows = session.execute(
        select(RolePermission.permission_id, RolePermission.role_id).where(
            RolePermission.role_id.in_(select(juniors.c.role_id)),
            RolePermission.permission_id.in_(permission_ids),
        )
    )
    marks: dict[int, str] = {}
    for pid, holder in rows:
        if holder == role_id:
            marks[pid] = "already granted"
        else:
            marks.setdefault(pid, "inherited")
    return marks


def held_parents(session: Session, role_id: int, role_ids: Sequence[int]) -> dict[int, str]:
    """Of ``role_ids``, those ``role_id`` already inherits from (directly, or not)."""
    if not role_ids:
        return {}
    direct = set(
        session.scalars(
            select(RoleInheritance.inherits_from_id).where(
                RoleInheritance.role_id == role_id,
                RoleInheritance.inherits_from_id.in_(role_ids),
            )
        )
    )
    juniors = juniors_of(role_id)
    reached = set(
        session.scalars(select(juniors.c.role_id).where(juniors.c.role_id.in_(role_ids)))
    ) - {role_id}
    marks = {rid: "inherited through another role" for rid in reached - direct}
    marks.update({rid: "already inherits from it" for rid in direct})
    return marks


def mark_held(choices: Sequence[Choice], marks: dict[int, str]) -> list[Choice]:
    """``choices`` with those in ``marks`` turned into ``MarkedChoice``; a mark that starts
    with "already" is final (picking it again would change nothing)."""
    return [
        MarkedChoice(c.id, c.label, marks[c.id], marks[c.id].startswith("already"))
        if c.id in marks
        else c
        for c in choices
    ]
