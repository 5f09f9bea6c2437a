"""A role given to (or taken from) every user a table view shows, as ONE pending edit.

After Ctrl+A on a million-user table, one ``Assign`` edit per user would be a million
edits to hold, review and save one at a time. ``BulkRoleChange`` instead captures *which*
users as data — the view's search text and column filters (``UserMatch``), the same WHERE
``core/browse.py`` builds for the table's pages and count — and is applied on Save by
set-based SQL: the users matching now and needing the change are put in a temporary
table, then one ``INSERT … SELECT`` (or ``DELETE … WHERE``) changes them all, users who
already hold the role (or, when removing, do not) are skipped, separation of duty is
checked for them in one query, and one audit entry per assignment is written in chunks
through ``audit.write_entries``. The review summarises the change per permission (how
many users gain or lose it), never listing 800,000 lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    Column,
    Integer,
    MetaData,
    Table,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session

from . import audit, rbac
from .models import AUDITED_TYPES, Role, RoleInheritance, RolePermission, User, UserRole, utcnow

if TYPE_CHECKING:
    from .browse import BrowseQuery

#: Audit entries built and written per chunk: memory stays flat for a million users.
AUDIT_CHUNK = 20_000

_meta = MetaData()
_ASSIGNMENTS: Table = UserRole.__table__  # type: ignore[assignment]  # Core statements
_targets = Table(
    "ag_bulk_targets",
    _meta,
    Column("user_id", Integer, primary_key=True),
    Column("active", Boolean, nullable=False),  # counted in the review: active users only
    prefixes=["TEMPORARY"],
)
#: (role, permission): holding the role grants the permission — only for the permissions
#: the changed role brings. Indexed by role, so counting holders is a join on an index
#: (the recursive CTE joined directly was scanned once per assignment: 6 s for 31k users).
_grants = Table(
    "ag_bulk_grants",
    _meta,
    Column("role_id", Integer, primary_key=True),
    Column("permission_id", Integer, primary_key=True),
    prefixes=["TEMPORARY"],
)


@dataclass(frozen=True)
class UserMatch:
    """Which users: those the users table shows for this search text and these column
    filters (``browse.BrowseQuery``'s). Empty: every user."""

    search: str = ""
    filters: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, query: BrowseQuery) -> UserMatch:
        """The users a table view's query shows (its order does not matter here)."""
        return cls(query.search.strip(), tuple(query.filters))

    def query(self) -> BrowseQuery:
        from .browse import USERS, BrowseQuery  # browse imports changes, which imports us

        return BrowseQuery(USERS.default_sort, search=self.search, filters=self.filters)

    def describe(self) -> str:
        """ "matching “sales” with active yes"; "" for every user."""
        parts = [f"matching \u201c{self.search}\u201d"] if self.search else []
        for key, value in self.filters:
            shown = ("yes" if value else "no") if isinstance(value, bool) else str(value)
            parts.append(f"with {key.replace('_', ' ')} {shown}")
        return " ".join(parts)


@dataclass(frozen=True)
class BulkRoleChange:
    """Assign (``remove=False``) or remove ``role`` for every user ``users`` matches.

    ``count`` is how many users matched when the edit was made, for its description; the
    save re-reads who matches then (and skips those who need no change).
    """

    role: str
    users: UserMatch
    count: int
    remove: bool = False
    expires_at: datetime | None = None

    def describe(self) -> str:
        who = f"all {self.count:,} user{'' if self.count == 1 else 's'}"
        matching = self.users.describe()
        if matching:
            who += " " + matching
        if self.remove:
            return f"Remove role {self.role} from {who}"
        until = f" until {self.expires_at:%Y-%m-%d}" if self.expires_at else ""
        return f"Assign role {self.role} to {who}{until}"


@dataclass(frozen=True)
class PermissionCount:
    """How many users gain (or lose) one permission through a bulk change."""

    permission: str
    users: int
    gained: bool


@dataclass(frozen=True)
class BulkImpact:
    """What a bulk change does, summarised: ``users`` changed (assigned or removed),
    and per permission how many of them gain or lose it."""

    users: int
    permissions: tuple[PermissionCount, ...]

    @property
    def gained(self) -> int:
        """(user, permission) pairs gained."""
        return sum(p.users for p in self.permissions if p.gained)

    @property
    def lost(self) -> int:
        return sum(p.users for p in self.permissions if not p.gained)


# ---------------------------------------------------------------------- who


def matching_count(session: Session, users: UserMatch) -> int:
    """How many users ``users`` matches now (the table's count for that view)."""
    from .browse import USERS, count

    return count(session, USERS, users.query())


def _fill_targets(session: Session, edit: BulkRoleChange, role_id: int) -> int:
    """Put the users the change touches in the temporary table: those matching without
    the role (assign) or with it (remove). Returns how many."""
    from .browse import USERS, matching_select

    conn = session.connection()
    _targets.drop(conn, checkfirst=True)
    _targets.create(conn)
    matching, params = matching_select(session, USERS, edit.users.query())
    found = matching.subquery("bulk_matching")
    holders = select(UserRole.user_id).where(UserRole.role_id == bindparam("bulk_role"))
    user = found.c[0]
    wanted = (
        select(user, User.active)
        .join(User, User.id == user)
        .where(user.in_(holders) if edit.remove else user.not_in(holders))
    )
    session.execute(
        insert(_targets).from_select(["user_id", "active"], wanted),
        {**params, "bulk_role": role_id},
    )
    return int(session.scalar(select(func.count()).select_from(_targets)) or 0)


def _drop_targets(session: Session) -> None:
    _targets.drop(session.connection(), checkfirst=True)


# ---------------------------------------------------------------------- apply


def apply_bulk_role_change(session: Session, edit: BulkRoleChange) -> int:
    """Apply ``edit`` set-based inside the caller's action; returns how many users changed.

    Raises:
        NotFoundError: the role does not exist (any more).
        SeparationOfDutyError: assigning would authorize some user for too many roles of a
            set (naming them, as a single assignment does); nothing is changed then.
        ValidationError: a naive expiry time.
    """
    role = rbac.get_role(session, edit.role)
    if edit.expires_at is not None:
        rbac._check_aware(edit.expires_at)
    session.flush()  # what earlier edits of this save changed is in the file
    try:
        changed = _fill_targets(session, edit, role.id)
        if changed:
            _change_targets(session, edit, role, audited=True)
        return changed
    finally:
        _drop_targets(session)


def _change_targets(session: Session, edit: BulkRoleChange, role: Role, *, audited: bool) -> None:
    """Assign or remove the role for the users in the temporary table."""
    if audited:
        _write_earlier_entries(session)
    if edit.remove:
        if audited:
            _audit(session, role, "delete")  # the rows as they were
        session.execute(
            delete(_ASSIGNMENTS).where(
                UserRole.role_id == role.id,
                UserRole.user_id.in_(select(_targets.c.user_id)),
            )
        )
    else:
        _insert(session, role.id, edit.expires_at)
        _check_ssd(session, role.id)
        if audited:
            _audit(session, role, "insert")
    session.expire_all()  # assignments the session holds may have changed


def _insert(session: Session, role_id: int, expires_at: datetime | None) -> None:
    ur = _ASSIGNMENTS
    rows = select(
        _targets.c.user_id,
        literal(role_id),
        bindparam("now", type_=ur.c.granted_at.type),
        literal(rbac._operator(session, None)),
        bindparam("until", type_=ur.c.expires_at.type),
        literal(1),
    )
    session.execute(
        insert(ur).from_select(
            ["user_id", "role_id", "granted_at", "granted_by", "expires_at", "version"], rows
        ),
        {"now": utcnow(), "until": expires_at},
    )


def _check_ssd(session: Session, role_id: int) -> None:
    """The sets this role (or one it inherits from) belongs to, checked for the newly
    assigned users only, in one query (as ``rbac.assign_user`` does for one user)."""
    gained = rbac._inherited_cte(select(literal(role_id).label("role_id")), "bulk_gained")
    touched = rbac._ssd_sets_of(session, select(gained.c.role_id))
    if touched:
        rbac._refuse_ssd_violations(session, users=select(_targets.c.user_id), sets=touched)


def _write_earlier_entries(session: Session) -> None:
    """Entries collected for earlier edits of this save go first: the trail keeps the
    order of the edits."""
    collected = session.info.get(audit.COLLECT_KEY)
    if isinstance(collected, list) and collected:
        audit.write_entries(session.connection(), list(collected))
        collected.clear()


def _audit(session: Session, role: Role, operation: str) -> None:
    """One entry per assignment made or removed, as the ORM path writes them
    ("alice → Sales", its values), built and written a chunk at a time as plain tuples
    (``audit.write_records``: one moment, operator, action and reason for the change)."""
    kind = AUDITED_TYPES[UserRole]
    conn = session.connection()
    info = session.info
    moment = utcnow()
    for chunk in _assignment_chunks(session, role.id):
        records: list[audit.RecordEntry] = []
        for user_id, username, granted_at, granted_by, expires_at in chunk:
            values = audit._dump(  # the JSON text after_flush writes for the same row
                {
                    "expires_at": expires_at.isoformat() if expires_at else None,
                    "granted_at": granted_at.isoformat(),
                    "granted_by": granted_by,
                    "role_id": role.id,
                    "user_id": user_id,
                }
            )
            before, after = (values, None) if operation == "delete" else (None, values)
            records.append((operation, kind, f"{username} \u2192 {role.name}", before, after))
        audit.write_records(
            conn,
            records,
            at=moment,
            operator=str(info.get("operator", "unknown")),
            action=str(info.get("action", "Change")),
            reason=info.get("reason") or None,
        )


def _assignment_chunks(session: Session, role_id: int) -> Iterator[list[Any]]:
    after = -1
    while True:
        rows = session.execute(
            select(
                UserRole.user_id,
                User.username,
                UserRole.granted_at,
                UserRole.granted_by,
                UserRole.expires_at,
            )
            .join(User, User.id == UserRole.user_id)
            .where(
                UserRole.role_id == role_id,
                UserRole.user_id.in_(select(_targets.c.user_id)),
                UserRole.user_id > after,
            )
            .order_by(UserRole.user_id)
            .limit(AUDIT_CHUNK)
        ).all()
        if not rows:
            return
        yield list(rows)
        after = rows[-1][0]


# ---------------------------------------------------------------------- review


def review_bulk_role_change(session: Session, edit: BulkRoleChange, now: datetime) -> BulkImpact:
    """Apply ``edit`` in the caller's (rolled-back) session, without audit entries, and
    summarise it: the users changed and, per permission the role brings, how many of
    them gain (or lose) it.

    Counted without comparing every (user, permission) pair before and after (118
    permissions × 31,000 users took seconds): a user gains (loses) a permission the
    role brings unless another of their live roles grants it too. So per permission:
    the users reached (active, with a live assignment to the role after the assignment
    or before the removal) minus those of them holding it through another role.

    Raises:
        AccessGuardError: as ``apply_bulk_role_change`` (the review names the refusal).
    """
    role = rbac.get_role(session, edit.role)
    if edit.expires_at is not None:
        rbac._check_aware(edit.expires_at)
    session.flush()
    try:
        users = _fill_targets(session, edit, role.id)
        if not users:
            return BulkImpact(0, ())
        live_after = edit.remove or edit.expires_at is None or edit.expires_at > now
        reached, elsewhere = (
            _held_elsewhere(session, role.id, now, removing=edit.remove) if live_after else (0, {})
        )
        _change_targets(session, edit, role, audited=False)
    finally:
        _drop_targets(session)
    labels = _permission_labels(session, set(elsewhere))
    counts = [
        PermissionCount(labels.get(pid, f"permission #{pid}"), reached - n, not edit.remove)
        for pid, n in sorted(elsewhere.items(), key=lambda item: labels.get(item[0], ""))
        if reached - n
    ]
    return BulkImpact(users, tuple(counts))


def _held_elsewhere(
    session: Session, role_id: int, now: datetime, *, removing: bool
) -> tuple[int, dict[int, int]]:
    """The target users the change reaches — active ones; when ``removing``, only those
    whose assignment to the role is live — and, for each permission the role brings (its
    own and those of roles it inherits from), how many of them hold it through a live
    assignment to another role."""
    live = or_(UserRole.expires_at.is_(None), UserRole.expires_at > now)
    reached = select(_targets.c.user_id).where(_targets.c.active.is_(True))
    if removing:
        reached = reached.where(
            _targets.c.user_id.in_(
                select(UserRole.user_id).where(UserRole.role_id == role_id, live)
            )
        )
    count = int(session.scalar(select(func.count()).select_from(reached.subquery())) or 0)
    up = rbac._inherited_cte(select(literal(role_id).label("role_id")), "bulk_up")
    perms = select(RolePermission.permission_id).where(
        RolePermission.role_id.in_(select(up.c.role_id))
    )
    start = select(
        RolePermission.role_id.label("role_id"),
        RolePermission.permission_id.label("permission_id"),
    ).where(RolePermission.permission_id.in_(perms))
    granting = start.cte("bulk_granting", recursive=True)
    granting = granting.union(
        select(RoleInheritance.role_id, granting.c.permission_id).where(
            RoleInheritance.inherits_from_id == granting.c.role_id
        )
    )
    conn = session.connection()
    _grants.drop(conn, checkfirst=True)
    _grants.create(conn)
    try:
        session.execute(
            insert(_grants).from_select(
                ["role_id", "permission_id"], select(granting.c.role_id, granting.c.permission_id)
            )
        )
        # Driven by the reached users (an IN list): the planner, knowing nothing of the
        # temporary tables, otherwise walked every active user or every granting role's
        # members.
        query = (
            select(_grants.c.permission_id, func.count(func.distinct(UserRole.user_id)))
            .select_from(UserRole)
            .join(_grants, _grants.c.role_id == UserRole.role_id)
            .where(UserRole.user_id.in_(reached), UserRole.role_id != role_id, live)
            .group_by(_grants.c.permission_id)
        )
        held = {int(p): int(n) for p, n in session.execute(query)}
        for (pid,) in session.execute(perms.distinct()):
            held.setdefault(int(pid), 0)
    finally:
        _grants.drop(conn)
    return count, held


def _permission_labels(session: Session, ids: set[int]) -> dict[int, str]:
    from .models import Permission, Resource

    if not ids:
        return {}
    rows = session.execute(
        select(Permission.id, Resource.name, Permission.action)
        .join(Resource, Resource.id == Permission.resource_id)
        .where(Permission.id.in_(sorted(ids)))
    )
    return {int(i): f"{r}: {a}" for i, r, a in rows}
