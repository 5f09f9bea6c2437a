"""What pending edits would do before they are saved: the access each user would gain or
lose, computed in SQL against the pending state inside a transaction that is rolled back.

For each edit, the users it can affect are found set-based (the user of an assignment; the
members of a role and of every role inheriting from it for grants, inheritance and role
deletion), their effective permissions are snapshotted into a temporary table before and
after the edit is applied, and the two snapshots are diffed with EXCEPT. Nothing is loaded
into Python but the (bounded) differences. The same preview session also answers "what
would this view show if the pending edits were saved" (``with_pending``) and "would this
new edit be refused" (``refusal``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    except_,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session

from . import changes, rbac
from .changes import (
    Assign,
    Deassign,
    Delete,
    Edit,
    Entity,
    Grant,
    Inherit,
    Revoke,
    SetExpiry,
    Uninherit,
    Update,
)
from .database import Database
from .errors import AccessGuardError
from .models import (
    Permission,
    Resource,
    RoleInheritance,
    RolePermission,
    User,
    UserRole,
    utcnow,
)

T = TypeVar("T")
DEFAULT_CHANGE_LIMIT = 1000

_meta = MetaData()
_affected = Table(
    "ag_impact_affected",
    _meta,
    Column("step", Integer, primary_key=True),
    Column("user_id", Integer, primary_key=True),
    prefixes=["TEMPORARY"],
)
_snap = Table(
    "ag_impact_snap",
    _meta,
    Column("step", Integer, primary_key=True),
    Column("side", Integer, primary_key=True),
    Column("user_id", Integer, primary_key=True),
    Column("permission_id", Integer, primary_key=True),
    prefixes=["TEMPORARY"],
)
_user_names = Table(
    "ag_impact_users",
    _meta,
    Column("user_id", Integer, primary_key=True),
    Column("username", String),
    prefixes=["TEMPORARY"],
)
_perm_names = Table(
    "ag_impact_perms",
    _meta,
    Column("permission_id", Integer, primary_key=True),
    Column("label", String),
    prefixes=["TEMPORARY"],
)
_TABLES = (_affected, _snap, _user_names, _perm_names)
BEFORE, AFTER = 0, 1


@dataclass(frozen=True, slots=True)
class AccessChange:
    """One user gaining or losing one permission."""

    user_id: int
    username: str
    permission_id: int
    permission: str
    gained: bool


@dataclass(frozen=True, slots=True)
class EditImpact:
    """What one pending edit changes, given every edit before it.

    Attributes:
        gains, losses: the changes (at most the limit asked for; counts are complete).
        users_checked: how many users the edit could affect (and were compared).
    """

    index: int
    edit: Edit
    description: str
    gains: tuple[AccessChange, ...] = ()
    losses: tuple[AccessChange, ...] = ()
    gained_count: int = 0
    lost_count: int = 0
    users_checked: int = 0

    @property
    def truncated(self) -> bool:
        return len(self.gains) < self.gained_count or len(self.losses) < self.lost_count

    @property
    def changes_access(self) -> bool:
        return bool(self.gained_count or self.lost_count)


@dataclass(frozen=True, slots=True)
class UserImpact:
    """The net difference for one user once every reviewed edit is saved."""

    user_id: int
    username: str
    gains: tuple[str, ...]
    losses: tuple[str, ...]


@dataclass(frozen=True)
class ImpactReport:
    """The review of a list of pending edits.

    Attributes:
        edits: exactly the edits reviewed, in order (what Save must apply).
        per_edit: one entry per edit up to (and excluding) a failing one.
        per_user: net gains and losses per user, by username.
        error: the message of the edit that would make the save fail, else None.
        failed_index: its position in ``edits``.
        truncated: some lists were cut at the limit (counts stay exact).
    """

    edits: tuple[Edit, ...]
    per_edit: tuple[EditImpact, ...] = ()
    per_user: tuple[UserImpact, ...] = ()
    net_gained: int = 0
    net_lost: int = 0
    error: str | None = None
    failed_index: int | None = None
    truncated: bool = False
    now: datetime = field(default_factory=utcnow)

    @property
    def ok(self) -> bool:
        return self.error is None


# ---------------------------------------------------------------------- affected users


def _members_of_seniors(role_ids: Any) -> Any:
    seniors = rbac._inheriting_cte(
        select(role_ids.subquery().c[0].label("role_id")), "impact_seniors"
    )
    return select(UserRole.user_id).where(UserRole.role_id.in_(select(seniors.c.role_id)))


def _affected_users(session: Session, edit: Edit) -> Any | None:
    """A SELECT of the ids of users whose access ``edit`` can change, or None.

    Raises AccessGuardError when a referenced record does not exist; the caller then lets
    the edit itself report the failure.
    """
    match edit:
        case Assign(user=user) | Deassign(user=user) | SetExpiry(user=user):
            return select(literal(rbac.get_user(session, user).id))
        case Grant(role=role) | Revoke(role=role) | Inherit(role=role) | Uninherit(role=role):
            return _members_of_seniors(select(literal(rbac.get_role(session, role).id)))
        case Delete(entity=Entity.ROLE, id=rid):
            return _members_of_seniors(select(literal(rbac.get_role(session, rid).id)))
        case Delete(entity=Entity.USER, id=uid):
            return select(literal(rbac.get_user(session, uid).id))
        case Update(entity=Entity.USER, id=uid, values=values) if "active" in values:
            return select(literal(rbac.get_user(session, uid).id))
        case Delete(entity=Entity.PERMISSION, id=pid):
            holders = select(RolePermission.role_id).where(RolePermission.permission_id == pid)
            return _members_of_seniors(holders)
        case Delete(entity=Entity.RESOURCE, id=res_id):
            holders = select(RolePermission.role_id).where(
                RolePermission.permission_id.in_(
                    select(Permission.id).where(Permission.resource_id == res_id)
                )
            )
            return _members_of_seniors(holders)
    return None


# ---------------------------------------------------------------------- snapshots


def _prepare(session: Session) -> None:
    conn = session.connection()
    for table in _TABLES:
        table.drop(conn, checkfirst=True)
        table.create(conn)


def _drop(session: Session) -> None:
    conn = session.connection()
    for table in _TABLES:
        table.drop(conn, checkfirst=True)


def _snapshot(session: Session, step: int, side: int, users: Any, now: datetime) -> None:
    """Insert the effective permissions of ``users`` (a SELECT of ids) as (step, side)."""
    start = (
        select(UserRole.user_id.label("user_id"), UserRole.role_id.label("role_id"))
        .join(User, User.id == UserRole.user_id)
        .where(
            UserRole.user_id.in_(users),
            User.active.is_(True),
            or_(UserRole.expires_at.is_(None), UserRole.expires_at > now),
        )
        .cte("impact_reach", recursive=True)
    )
    reach = start.union(
        select(start.c.user_id, RoleInheritance.inherits_from_id).where(
            RoleInheritance.role_id == start.c.role_id
        )
    )
    rows = (
        select(literal(step), literal(side), reach.c.user_id, RolePermission.permission_id)
        .join(RolePermission, RolePermission.role_id == reach.c.role_id)
        .distinct()
    )
    session.execute(_snap.insert().from_select(["step", "side", "user_id", "permission_id"], rows))
    # Labels as they are now: a later edit may delete or rename the record.
    known_perms = select(_perm_names.c.permission_id)
    session.execute(
        _perm_names.insert().from_select(
            ["permission_id", "label"],
            select(Permission.id, Resource.name + ": " + Permission.action)
            .join(Resource, Resource.id == Permission.resource_id)
            .where(
                Permission.id.in_(
                    select(_snap.c.permission_id).where(_snap.c.step == step, _snap.c.side == side)
                ),
                Permission.id.not_in(known_perms),
            ),
        )
    )


def _step_users(step: int) -> Any:
    return select(_affected.c.user_id).where(_affected.c.step == step)


def _record_affected(session: Session, step: int, users: Any) -> int:
    session.execute(
        _affected.insert().from_select(
            ["step", "user_id"],
            select(literal(step), users.subquery().c[0]).distinct(),
        )
    )
    session.execute(
        _user_names.insert().from_select(
            ["user_id", "username"],
            select(User.id, User.username).where(
                User.id.in_(_step_users(step)),
                User.id.not_in(select(_user_names.c.user_id)),
            ),
        )
    )
    return int(
        session.scalar(select(func.count()).select_from(_affected).where(_affected.c.step == step))
        or 0
    )


def _pairs(step: int, side: int) -> Any:
    return select(_snap.c.user_id, _snap.c.permission_id).where(
        _snap.c.step == step, _snap.c.side == side
    )


def _diff(
    session: Session, plus: Any, minus: Any, gained: bool, limit: int
) -> tuple[list[AccessChange], int]:
    """Rows of ``plus`` EXCEPT ``minus`` with names, at most ``limit``, and their count."""
    diff = except_(plus, minus).subquery("impact_diff")
    count = int(session.scalar(select(func.count()).select_from(diff)) or 0)
    if not count:
        return [], 0
    rows = session.execute(
        select(diff.c.user_id, _user_names.c.username, diff.c.permission_id, _perm_names.c.label)
        .join(_user_names, _user_names.c.user_id == diff.c.user_id, isouter=True)
        .join(_perm_names, _perm_names.c.permission_id == diff.c.permission_id, isouter=True)
        .order_by(func.lower(_user_names.c.username), _perm_names.c.label)
        .limit(limit)
    ).all()
    found = [
        AccessChange(
            user_id=u,
            username=name or f"user #{u}",
            permission_id=p,
            permission=label or f"permission #{p}",
            gained=gained,
        )
        for u, name, p, label in rows
    ]
    return found, count


# ---------------------------------------------------------------------- the review


def review(
    db: Database,
    edits: Sequence[Edit],
    *,
    now: datetime | None = None,
    limit: int = DEFAULT_CHANGE_LIMIT,
) -> ImpactReport:
    """The access every user would gain and lose if ``edits`` were saved, per edit and
    net per user. Runs in ``db.preview()``: the edits are applied and rolled back.

    Args:
        limit: at most this many changes listed per edit and in the net list.
    """
    moment = now or utcnow()
    reviewed = tuple(edits)
    with db.preview("Review changes") as session:
        return _review(session, reviewed, moment, limit)


def review_in_session(
    session: Session,
    edits: Sequence[Edit],
    *,
    now: datetime | None = None,
    limit: int = DEFAULT_CHANGE_LIMIT,
) -> ImpactReport:
    """``review`` inside a session the caller owns and rolls back (applies the edits)."""
    return _review(session, tuple(edits), now or utcnow(), limit)


def _review(session: Session, edits: tuple[Edit, ...], now: datetime, limit: int) -> ImpactReport:
    _prepare(session)
    per_edit: list[EditImpact] = []
    error: str | None = None
    failed: int | None = None
    truncated = False
    for index, edit in enumerate(edits):
        try:
            users = _affected_users(session, edit)
        except AccessGuardError:
            users = None
        checked = 0
        if users is not None:
            checked = _record_affected(session, index, users)
            _snapshot(session, index, BEFORE, _step_users(index), now)
        try:
            changes.apply_edit(session, edit)
        except AccessGuardError as exc:
            error = f"{edit.describe()}: {exc.message}"
            failed = index
            break
        if not checked:
            per_edit.append(EditImpact(index, edit, edit.describe()))
            continue
        _snapshot(session, index, AFTER, _step_users(index), now)
        gains, n_gain = _diff(session, _pairs(index, AFTER), _pairs(index, BEFORE), True, limit)
        losses, n_loss = _diff(session, _pairs(index, BEFORE), _pairs(index, AFTER), False, limit)
        impact = EditImpact(
            index, edit, edit.describe(), tuple(gains), tuple(losses), n_gain, n_loss, checked
        )
        truncated = truncated or impact.truncated
        per_edit.append(impact)

    # Net: each user's permissions before the first edit that could touch them (no earlier
    # edit changed them) against their permissions after the last edit.
    final = len(edits)
    everyone = select(_affected.c.user_id).distinct()
    _snapshot(session, final, AFTER, everyone, now)
    first_step = (
        select(_affected.c.user_id, func.min(_affected.c.step).label("step"))
        .group_by(_affected.c.user_id)
        .subquery("impact_first")
    )
    before = select(_snap.c.user_id, _snap.c.permission_id).join(
        first_step,
        and_(
            first_step.c.user_id == _snap.c.user_id,
            first_step.c.step == _snap.c.step,
            _snap.c.side == BEFORE,
        ),
    )
    after = _pairs(final, AFTER)
    gains, n_gain = _diff(session, after, before, True, limit)
    losses, n_loss = _diff(session, before, after, False, limit)
    truncated = truncated or len(gains) < n_gain or len(losses) < n_loss
    by_user: dict[int, tuple[str, list[str], list[str]]] = {}
    for change in gains + losses:
        entry = by_user.setdefault(change.user_id, (change.username, [], []))
        (entry[1] if change.gained else entry[2]).append(change.permission)
    per_user = tuple(
        UserImpact(uid, name, tuple(g), tuple(lost))
        for uid, (name, g, lost) in sorted(by_user.items(), key=lambda kv: kv[1][0].lower())
    )
    _drop(session)
    return ImpactReport(
        edits=edits,
        per_edit=tuple(per_edit),
        per_user=per_user,
        net_gained=n_gain,
        net_lost=n_loss,
        error=error,
        failed_index=failed,
        truncated=truncated,
        now=now,
    )


# ---------------------------------------------------------------------- the pending state


def with_pending(
    db: Database, edits: Sequence[Edit], read: Callable[[Session], T]
) -> tuple[T, list[str]]:
    """What ``read`` returns once ``edits`` are applied, without saving them.

    Pending edits that would be refused are skipped (their own savepoint undoes them) and
    their messages returned, so a view can still show the rest of the pending state.
    """
    with db.preview("Pending state") as session:
        problems = _apply_tolerant(session, edits)
        return read(session), problems


def _apply_tolerant(session: Session, edits: Sequence[Edit]) -> list[str]:
    problems = []
    for edit in edits:
        try:
            changes.apply_edit(session, edit)
        except AccessGuardError as exc:
            problems.append(f"{edit.describe()}: {exc.message}")
    return problems


def refusal(db: Database, pending: Sequence[Edit], new: Sequence[Edit]) -> AccessGuardError | None:
    """Would ``new`` be refused on top of the pending edits? Returns the error (a
    CycleError naming the cycle, a SeparationOfDutyError naming the set, a duplicate...)
    or None. Checked with the real rules in a preview session that is rolled back."""
    with db.preview("Check edit") as session:
        _apply_tolerant(session, pending)
        for edit in new:
            try:
                changes.apply_edit(session, edit)
            except AccessGuardError as exc:
                return exc
    return None


def bulk_role_edits(
    session: Session,
    user_ids: Sequence[int],
    role: rbac.Ref,
    *,
    remove: bool = False,
    expires_at: datetime | None = None,
) -> list[Edit]:
    """Assign (or remove) ``role`` for every user in ``user_ids`` that needs it: users
    already assigned (or not assigned, when removing) are skipped, found in one query."""
    r = rbac.get_role(session, role)
    ids = list(dict.fromkeys(int(i) for i in user_ids))
    if not ids:
        return []
    assigned = select(UserRole.user_id).where(UserRole.role_id == r.id)
    wanted: dict[int, str] = {}
    # Chunks keep each IN list under SQLite's bound-parameter limit for huge selections.
    for start in range(0, len(ids), 5000):
        query = select(User.id, User.username).where(User.id.in_(ids[start : start + 5000]))
        query = query.where(User.id.in_(assigned) if remove else User.id.not_in(assigned))
        # Edits name their records, so the pending list and the review read like sentences.
        wanted.update({uid: name for uid, name in session.execute(query)})
    kept = [wanted[i] for i in ids if i in wanted]
    if remove:
        return [Deassign(user=name, role=r.name) for name in kept]
    return [Assign(user=name, role=r.name, expires_at=expires_at) for name in kept]
