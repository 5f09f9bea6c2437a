"""What pending edits would do before they are saved: the access each user would gain or
lose, computed in SQL against the pending state inside a transaction that is rolled back.

For each edit, its scope is found set-based before it is applied: the users it can affect
(the user of an assignment; the members of a role and of every role inheriting from it for
grants, inheritance and role deletion) and the permissions it can move (the granted
permission; everything the junior role of an inheritance holds; ...). Which of those
permissions those users hold (through the roles granting them: one walk of the role graph
per edit, not one per user) is snapshotted into a temporary table before and after the
edit, and the snapshots are diffed with EXCEPT into a table of gain/loss events; the net
result per user is an aggregate over the events. Nothing is loaded into Python but the
(bounded) lists of differences. The same preview session also answers "what
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
    case,
    except_,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session

from . import changes, rbac
from .bulk_roles import BulkImpact, BulkRoleChange, review_bulk_role_change
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
from .keys import name_key
from .models import (
    Permission,
    Resource,
    Role,
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
_candidates = Table(
    "ag_impact_candidates",
    _meta,
    Column("step", Integer, primary_key=True),
    Column("permission_id", Integer, primary_key=True),
    prefixes=["TEMPORARY"],
)
_events = Table(
    "ag_impact_events",
    _meta,
    Column("step", Integer, primary_key=True),
    Column("user_id", Integer, primary_key=True),
    Column("permission_id", Integer, primary_key=True),
    Column("gained", Integer, nullable=False),
    prefixes=["TEMPORARY"],
)
#: A run's role per step, and the permissions each of those roles brings (its closure):
#: the run's candidates are their join, made in SQL (a thousand steps of a role with 118
#: permissions were 118,000 rows sent from Python, holding the GIL for over 100 ms).
_run_roles = Table(
    "ag_impact_run_roles",
    _meta,
    Column("step", Integer, primary_key=True),
    Column("role_id", Integer, nullable=False),
    prefixes=["TEMPORARY"],
)
_closures = Table(
    "ag_impact_closures",
    _meta,
    Column("role_id", Integer, primary_key=True),
    Column("permission_id", Integer, primary_key=True),
    prefixes=["TEMPORARY"],
)
_TABLES = (
    _affected,
    _candidates,
    _snap,
    _events,
    _user_names,
    _perm_names,
    _run_roles,
    _closures,
)
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
        bulk: for a change of every user a view shows (``BulkRoleChange``), its summary
            per permission instead of a line per user (``gains``/``losses`` stay empty).
    """

    index: int
    edit: Edit
    description: str
    gains: tuple[AccessChange, ...] = ()
    losses: tuple[AccessChange, ...] = ()
    gained_count: int = 0
    lost_count: int = 0
    users_checked: int = 0
    bulk: BulkImpact | None = None

    @property
    def truncated(self) -> bool:
        if self.bulk is not None:
            return False  # summarised by design, not cut
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
        per_user: net gains and losses per user, by username (at most ``limit`` changes).
        net_gained, net_lost: how many (user, permission) pairs are gained / lost in all.
        users_gaining, users_losing: how many distinct users gain / lose something.
        error: the message of the edit that would make the save fail, else None.
        failed_index: its position in ``edits``.
        truncated: some lists were cut at the limit (counts stay exact).
    """

    edits: tuple[Edit, ...]
    per_edit: tuple[EditImpact, ...] = ()
    per_user: tuple[UserImpact, ...] = ()
    net_gained: int = 0
    net_lost: int = 0
    users_gaining: int = 0
    users_losing: int = 0
    error: str | None = None
    failed_index: int | None = None
    truncated: bool = False
    now: datetime = field(default_factory=utcnow)

    @property
    def ok(self) -> bool:
        return self.error is None


# ---------------------------------------------------------------------- scope of an edit


def _members_of_seniors(role_ids: Any) -> Any:
    seniors = rbac._inheriting_cte(
        select(role_ids.subquery().c[0].label("role_id")), "impact_seniors"
    )
    return select(UserRole.user_id).where(UserRole.role_id.in_(select(seniors.c.role_id)))


def _closure_permissions(role_ids: Any) -> Any:
    """Permissions of ``role_ids`` (a one-column SELECT) and of every role they inherit
    from: all a member of them can hold through them."""
    reach = rbac._inherited_cte(select(role_ids.subquery().c[0].label("role_id")), "impact_up")
    return select(RolePermission.permission_id).where(
        RolePermission.role_id.in_(select(reach.c.role_id))
    )


def _scope(session: Session, edit: Edit) -> tuple[Any, Any] | None:
    """(users, permissions): two SELECTs of ids bounding what ``edit`` can change — the
    edit can only make a listed user gain or lose a listed permission — or None if it
    cannot change anyone's access.

    Raises AccessGuardError when a referenced record does not exist; the caller then lets
    the edit itself report the failure.
    """
    match edit:
        case (
            Assign(user=user, role=role)
            | Deassign(user=user, role=role)
            | SetExpiry(user=user, role=role)
        ):
            u = rbac.get_user(session, user).id
            r = rbac.get_role(session, role).id
            return select(literal(u)), _closure_permissions(select(literal(r)))
        case Grant(role=role, permission=perm) | Revoke(role=role, permission=perm):
            r = rbac.get_role(session, role).id
            p = rbac.get_permission(session, perm).id
            return _members_of_seniors(select(literal(r))), select(literal(p))
        case Inherit(role=role, inherits_from=junior) | Uninherit(role=role, inherits_from=junior):
            r = rbac.get_role(session, role).id
            j = rbac.get_role(session, junior).id
            # The junior's own closure is untouched by an edge above it (no cycles).
            return _members_of_seniors(select(literal(r))), _closure_permissions(select(literal(j)))
        case Delete(entity=Entity.ROLE, id=rid):
            r = rbac.get_role(session, rid).id
            return _members_of_seniors(select(literal(r))), _closure_permissions(select(literal(r)))
        case (
            Delete(entity=Entity.USER, id=uid)
            | Update(entity=Entity.USER, id=uid, values={"active": _})
        ):
            u = rbac.get_user(session, uid).id
            roles = select(UserRole.role_id).where(UserRole.user_id == u)
            return select(literal(u)), _closure_permissions(roles)
        case Delete(entity=Entity.PERMISSION, id=pid):
            p = rbac.get_permission(session, pid).id
            holders = select(RolePermission.role_id).where(RolePermission.permission_id == p)
            return _members_of_seniors(holders), select(literal(p))
        case Delete(entity=Entity.RESOURCE, id=res_id):
            perms = select(Permission.id).where(Permission.resource_id == res_id)
            holders = select(RolePermission.role_id).where(RolePermission.permission_id.in_(perms))
            return _members_of_seniors(holders), perms
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


def _record_scope(session: Session, step: int, users: Any, perms: Any) -> int:
    """Store the edit's users and permissions (before it is applied: a delete would make
    them unreachable) with their names; returns the number of users."""
    session.execute(
        _affected.insert().from_select(
            ["step", "user_id"], select(literal(step), users.subquery().c[0]).distinct()
        )
    )
    session.execute(
        _candidates.insert().from_select(
            ["step", "permission_id"], select(literal(step), perms.subquery().c[0]).distinct()
        )
    )
    session.execute(
        _user_names.insert().from_select(
            ["user_id", "username"],
            select(User.id, User.username).where(
                User.id.in_(select(_affected.c.user_id).where(_affected.c.step == step)),
                User.id.not_in(select(_user_names.c.user_id)),
            ),
        )
    )
    session.execute(
        _perm_names.insert().from_select(
            ["permission_id", "label"],
            select(Permission.id, Resource.name + ": " + Permission.action)
            .join(Resource, Resource.id == Permission.resource_id)
            .where(
                Permission.id.in_(
                    select(_candidates.c.permission_id).where(_candidates.c.step == step)
                ),
                Permission.id.not_in(select(_perm_names.c.permission_id)),
            ),
        )
    )
    return int(
        session.scalar(select(func.count()).select_from(_affected).where(_affected.c.step == step))
        or 0
    )


def _snapshot(
    session: Session, step: int, side: int, now: datetime, last: int | None = None
) -> None:
    """Insert which of the step's candidate permissions each of the step's users holds now
    (every step from ``step`` to ``last``, when given: a run of edits in one statement).

    Walks the role graph once, not once per user or step: the roles granting any
    candidate permission (its holders and every role inheriting from them), then keeps
    each step's active users with a live assignment to one of those roles.
    """
    steps = _candidates.c.step.between(step, step if last is None else last)
    start = select(
        RolePermission.permission_id.label("permission_id"),
        RolePermission.role_id.label("role_id"),
    ).where(RolePermission.permission_id.in_(select(_candidates.c.permission_id).where(steps)))
    granting = start.cte("impact_granting", recursive=True)
    granting = granting.union(
        select(granting.c.permission_id, RoleInheritance.role_id).where(
            RoleInheritance.inherits_from_id == granting.c.role_id
        )
    )
    rows = (
        select(_affected.c.step, literal(side), UserRole.user_id, granting.c.permission_id)
        .select_from(_affected)
        .join(UserRole, UserRole.user_id == _affected.c.user_id)
        .join(User, User.id == UserRole.user_id)
        .join(granting, granting.c.role_id == UserRole.role_id)
        .join(
            _candidates,
            (_candidates.c.step == _affected.c.step)
            & (_candidates.c.permission_id == granting.c.permission_id),
        )
        .where(
            _affected.c.step.between(step, step if last is None else last),
            User.active.is_(True),
            or_(UserRole.expires_at.is_(None), UserRole.expires_at > now),
        )
        .distinct()
    )
    session.execute(_snap.insert().from_select(["step", "side", "user_id", "permission_id"], rows))


def _pairs(step: int, side: int) -> Any:
    return select(_snap.c.user_id, _snap.c.permission_id).where(
        _snap.c.step == step, _snap.c.side == side
    )


def _record_events(session: Session, step: int) -> tuple[int, int]:
    """Store the step's gains (after EXCEPT before) and losses (before EXCEPT after)."""
    counts = []
    for gained, plus, minus in ((1, AFTER, BEFORE), (0, BEFORE, AFTER)):
        diff = except_(_pairs(step, plus), _pairs(step, minus)).subquery("impact_diff")
        session.execute(
            _events.insert().from_select(
                ["step", "user_id", "permission_id", "gained"],
                select(literal(step), diff.c.user_id, diff.c.permission_id, literal(gained)),
            )
        )
        counts.append(
            int(
                session.scalar(
                    select(func.count())
                    .select_from(_events)
                    .where(_events.c.step == step, _events.c.gained == gained)
                )
                or 0
            )
        )
    session.execute(_snap.delete().where(_snap.c.step == step))
    return counts[0], counts[1]


def _named(session: Session, rows_query: Any, limit: int) -> list[AccessChange]:
    """(user_id, permission_id, gained) rows with names, by username then permission."""
    sub = rows_query.subquery("impact_rows")
    rows = session.execute(
        select(
            sub.c.user_id,
            _user_names.c.username,
            sub.c.permission_id,
            _perm_names.c.label,
            sub.c.gained,
        )
        .join(_user_names, _user_names.c.user_id == sub.c.user_id, isouter=True)
        .join(_perm_names, _perm_names.c.permission_id == sub.c.permission_id, isouter=True)
        .order_by(func.lower(_user_names.c.username), _perm_names.c.label)
        .limit(limit)
    ).all()
    return [_change(u, name, p, label, g) for u, name, p, label, g in rows]


def _change(
    user_id: int, name: str | None, pid: int, label: str | None, gained: Any
) -> AccessChange:
    """One row of the events with its names (a record deleted by an edit has none left)."""
    return AccessChange(
        user_id=user_id,
        username=name or f"user #{user_id}",
        permission_id=pid,
        permission=label or f"permission #{pid}",
        gained=bool(gained),
    )


def _step_changes(session: Session, step: int, gained: int, limit: int) -> list[AccessChange]:
    query = select(_events.c.user_id, _events.c.permission_id, _events.c.gained).where(
        _events.c.step == step, _events.c.gained == gained
    )
    return _named(session, query, limit)


# ---------------------------------------------------------------------- runs of assignments

#: Shorter runs are reviewed an edit at a time (the run's few statements cost more).
MIN_RUN = 8
_USER_SCOPED = (Assign, Deassign, SetExpiry)


def _run_end(edits: Sequence[Edit], start: int) -> int:
    """End (exclusive) of the run of assignment edits from ``start`` whose users are all
    different: each changes only its own user's access, so the run can be measured with
    one snapshot before and one after. ``start + 1`` when there is no such run."""
    seen: set[str] = set()
    end = start
    while end < len(edits) and isinstance(edits[end], _USER_SCOPED):
        edit = edits[end]
        assert isinstance(edit, _USER_SCOPED)
        user = edit.user
        key = name_key(user) if isinstance(user, str) else f"#{user}"
        if key in seen:
            break
        seen.add(key)
        end += 1
    return end if end - start >= MIN_RUN else start + 1


def _ids(session: Session, model: Any, key_col: Any, refs: set[Any]) -> dict[Any, tuple[int, str]]:
    """ref -> (id, name) for user or role references (ids or names), in a few queries."""
    name_col = model.username if model is User else model.name
    found: dict[Any, tuple[int, str]] = {}
    numbers = sorted(r for r in refs if isinstance(r, int) and not isinstance(r, bool))
    keyed = {name_key(r): r for r in refs if isinstance(r, str)}
    for at in range(0, len(numbers), 500):
        chunk = numbers[at : at + 500]
        for i, name in session.execute(select(model.id, name_col).where(model.id.in_(chunk))):
            found[int(i)] = (int(i), name)
    keys = sorted(keyed)
    for at in range(0, len(keys), 500):
        query = select(model.id, name_col, key_col).where(key_col.in_(keys[at : at + 500]))
        for i, name, key in session.execute(query):
            found[keyed[key]] = (int(i), name)
    return found


def _review_run(
    session: Session, edits: tuple[Edit, ...], start: int, end: int, now: datetime, limit: int
) -> tuple[list[EditImpact] | None, str | None, int | None]:
    """Review ``edits[start:end]`` (a ``_run_end`` run) together: scope, one snapshot
    before, each edit applied, one snapshot after, the differences per step. Returns
    (impacts, error, failed index), or (None, None, None) when a reference is unknown
    (the edit-at-a-time path then names the failure as usual)."""
    run = [e for e in edits[start:end] if isinstance(e, _USER_SCOPED)]
    assert len(run) == end - start
    users = _ids(session, User, User.username_key, {e.user for e in run})
    roles = _ids(session, Role, Role.name_key, {e.role for e in run})
    if any(e.user not in users or e.role not in roles for e in run):
        return None, None, None
    steps = range(start, end)
    session.execute(
        _affected.insert(),
        [{"step": k, "user_id": users[e.user][0]} for k, e in zip(steps, run, strict=True)],
    )
    session.execute(
        _run_roles.insert(),
        [{"step": k, "role_id": roles[e.role][0]} for k, e in zip(steps, run, strict=True)],
    )
    known_roles = set(session.scalars(select(_closures.c.role_id).distinct()))
    for role_id in {r for r, _name in roles.values()} - known_roles:
        brings = _closure_permissions(select(literal(role_id))).subquery()
        session.execute(
            _closures.insert().from_select(
                ["role_id", "permission_id"],
                select(literal(role_id), brings.c[0]).distinct(),
            )
        )
    session.execute(
        _candidates.insert().from_select(
            ["step", "permission_id"],
            select(_run_roles.c.step, _closures.c.permission_id)
            .join(_closures, _closures.c.role_id == _run_roles.c.role_id)
            .where(_run_roles.c.step.between(start, end - 1)),
        )
    )
    known = set(session.scalars(select(_user_names.c.user_id)))
    fresh = {uid: name for uid, name in users.values() if uid not in known}
    if fresh:
        session.execute(
            _user_names.insert(), [{"user_id": u, "username": n} for u, n in fresh.items()]
        )
    session.execute(
        _perm_names.insert().from_select(
            ["permission_id", "label"],
            select(Permission.id, Resource.name + ": " + Permission.action)
            .join(Resource, Resource.id == Permission.resource_id)
            .where(
                Permission.id.in_(
                    select(_candidates.c.permission_id).where(
                        _candidates.c.step.between(start, end - 1)
                    )
                ),
                Permission.id.not_in(select(_perm_names.c.permission_id)),
            ),
        )
    )
    _snapshot(session, start, BEFORE, now, end - 1)
    error: str | None = None
    failed: int | None = None
    last = end - 1
    for k, edit in zip(steps, run, strict=True):
        try:
            changes.apply_edit(session, edit)
        except AccessGuardError as exc:
            error, failed, last = f"{edit.describe()}: {exc.message}", k, k - 1
            break
    impacts: list[EditImpact] = []
    if last >= start:
        _snapshot(session, start, AFTER, now, last)
        counts = _record_run_events(session, start, last)
        listed = _run_changes(session, start, last, limit)
        for k in range(start, last + 1):
            n_gain, n_loss = counts.get((k, 1), 0), counts.get((k, 0), 0)
            impacts.append(
                EditImpact(
                    k,
                    edits[k],
                    edits[k].describe(),
                    tuple(listed.get((k, 1), ())),
                    tuple(listed.get((k, 0), ())),
                    n_gain,
                    n_loss,
                    1,
                )
            )
    session.execute(_snap.delete().where(_snap.c.step.between(start, end - 1)))
    return impacts, error, failed


def _record_run_events(session: Session, first: int, last: int) -> dict[tuple[int, int], int]:
    """The run's gains and losses into the events table; (step, gained) -> count."""

    def pairs(side: int) -> Any:
        return select(_snap.c.step, _snap.c.user_id, _snap.c.permission_id).where(
            _snap.c.step.between(first, last), _snap.c.side == side
        )

    for gained, plus, minus in ((1, AFTER, BEFORE), (0, BEFORE, AFTER)):
        diff = except_(pairs(plus), pairs(minus)).subquery("impact_run_diff")
        session.execute(
            _events.insert().from_select(
                ["step", "user_id", "permission_id", "gained"],
                select(diff.c.step, diff.c.user_id, diff.c.permission_id, literal(gained)),
            )
        )
    counted = session.execute(
        select(_events.c.step, _events.c.gained, func.count())
        .where(_events.c.step.between(first, last))
        .group_by(_events.c.step, _events.c.gained)
    )
    return {(int(k), int(g)): int(n) for k, g, n in counted}


def _run_changes(
    session: Session, first: int, last: int, limit: int
) -> dict[tuple[int, int], list[AccessChange]]:
    """The run's changes with names, per (step, gained), at most ``limit`` each."""
    query = (
        select(
            _events.c.step,
            _events.c.gained,
            _events.c.user_id,
            _user_names.c.username,
            _events.c.permission_id,
            _perm_names.c.label,
        )
        .join(_user_names, _user_names.c.user_id == _events.c.user_id, isouter=True)
        .join(_perm_names, _perm_names.c.permission_id == _events.c.permission_id, isouter=True)
        .where(_events.c.step.between(first, last))
        .order_by(
            _events.c.step,
            _events.c.gained,
            func.lower(_user_names.c.username),
            _perm_names.c.label,
        )
    )
    # A few thousand rows at a time: converting one large result holds the GIL long
    # enough to freeze the window this review runs beside.
    rows = session.execute(query, execution_options={"yield_per": 2000})
    listed: dict[tuple[int, int], list[AccessChange]] = {}
    for k, g, u, name, p, label in rows:
        bucket = listed.setdefault((int(k), int(g)), [])
        if len(bucket) < limit:
            bucket.append(_change(u, name, p, label, g))
    return listed


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
    index = -1
    while index + 1 < len(edits):
        index += 1
        edit = edits[index]
        end = _run_end(edits, index)
        if end > index + 1:
            # A run of assignments of distinct users (a bulk change of selected users):
            # reviewed together, a few statements for the whole run.
            done, error, failed = _review_run(session, edits, index, end, now, limit)
            if done is not None:
                per_edit += done
                truncated = truncated or any(e.truncated for e in done)
                if error is not None:
                    break
                index = end - 1
                continue
        if isinstance(edit, BulkRoleChange):
            # Every user a view shows: summarised per permission, set-based, never a
            # snapshot of each user (core/bulk_roles.py).
            try:
                summary = review_bulk_role_change(session, edit, now)
            except AccessGuardError as exc:
                error = f"{edit.describe()}: {exc.message}"
                failed = index
                break
            description = edit.describe()
            per_edit.append(
                EditImpact(
                    index,
                    edit,
                    description,
                    gained_count=summary.gained,
                    lost_count=summary.lost,
                    users_checked=summary.users,
                    bulk=summary,
                )
            )
            continue
        try:
            scope = _scope(session, edit)
        except AccessGuardError:
            scope = None
        checked = 0
        if scope is not None:
            checked = _record_scope(session, index, *scope)
            if checked:
                _snapshot(session, index, BEFORE, now)
        try:
            changes.apply_edit(session, edit)
        except AccessGuardError as exc:
            error = f"{edit.describe()}: {exc.message}"
            failed = index
            break
        if not checked:
            per_edit.append(EditImpact(index, edit, edit.describe()))
            continue
        _snapshot(session, index, AFTER, now)
        n_gain, n_loss = _record_events(session, index)
        impact = EditImpact(
            index,
            edit,
            edit.describe(),
            tuple(_step_changes(session, index, 1, limit)) if n_gain else (),
            tuple(_step_changes(session, index, 0, limit)) if n_loss else (),
            n_gain,
            n_loss,
            checked,
        )
        truncated = truncated or impact.truncated
        per_edit.append(impact)

    # Net: a user's gains and losses of one permission alternate from edit to edit (each
    # is measured against the state the previous edits left), so an odd number of events
    # is a net change, in the direction of the first (and last) one.
    net = (
        select(
            _events.c.user_id,
            _events.c.permission_id,
            case((2 * func.sum(_events.c.gained) > func.count(), 1), else_=0).label("gained"),
        )
        .group_by(_events.c.user_id, _events.c.permission_id)
        .having(func.count() % 2 == 1)
    )
    net_sq = net.subquery("impact_net")
    totals: dict[int, tuple[int, int]] = {
        int(g): (int(n), int(u))
        for g, n, u in session.execute(
            select(
                net_sq.c.gained, func.count(), func.count(func.distinct(net_sq.c.user_id))
            ).group_by(net_sq.c.gained)
        )
    }
    (n_gain, users_gaining), (n_loss, users_losing) = totals.get(1, (0, 0)), totals.get(0, (0, 0))
    changed = _named(session, select(net_sq), limit) if n_gain or n_loss else []
    truncated = truncated or len(changed) < n_gain + n_loss
    by_user: dict[int, tuple[str, list[str], list[str]]] = {}
    for change in changed:
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
        users_gaining=users_gaining,
        users_losing=users_losing,
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
    CycleError naming the cycle, a SeparationOfDutyError naming the set, a duplicate, an
    OperatorPermissionError when sign-in is required and the operator may not make it...)
    or None. Checked with the real rules in a preview session that is rolled back.

    The operator's gate is asked here, not only at Save: a fix or an assignment the
    operator may not make is refused where it is proposed, instead of sitting in Review
    until a save fails on it."""
    with db.preview("Check edit") as session:
        _apply_tolerant(session, pending)
        gated = _gate_what_comes_next(session, db, pending)
        for edit in new:
            try:
                changes.apply_edit(session, edit)
            except AccessGuardError as exc:
                return exc
        if gated:
            try:
                session.flush()  # the gate (a before_flush hook) judges the new edits
            except AccessGuardError as exc:
                return exc
    return None


def _gate_what_comes_next(session: Session, db: Database, pending: Sequence[Edit]) -> bool:
    """Put the operator's gate on ``session`` for what is applied after the pending edits
    (which were asked about when they were made). False when sign-in is not required, or
    the pending edits cannot be written as they stand (Review shows their problems; the
    new edits are then checked by the rules alone, and the gate still judges the save)."""
    access = db.access
    if not access.enforced:
        return False
    from . import operators

    try:
        session.flush()
    except Exception:  # noqa: BLE001 - the pending edits' own problem, reported elsewhere
        session.rollback()
        _apply_tolerant(session, pending)
        return False
    operators.gate(session, access)
    return True


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
