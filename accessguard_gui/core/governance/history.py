"""Access at a past date, reconstructed from the audit trail.

Every committed change has an audit entry holding the changed record's fields before and
after (core/audit.py). The state at a moment T is the state now with every entry after T
undone, newest first: an insert is removed, a delete restored from its ``before``, an
update set back to its ``before``. Only what the question needs is reconstructed — the
role model (roles, inheritance links, grants: thousands of rows, never users) and the ONE
user asked about (found by name, followed through renames) — and only entries after T
are read, by index, in one pass. The access is then decided with the rules of
``rbac.check_access``: an active user, an assignment unexpired at T, the inheritance
closure, a role holding the permission.

"What changed between A and B" walks the same pass once, keeping the state at B and at A,
and names for every permission gained or lost the entries of (A, B] that touched the
paths to it: the user's assignments and active flag, the links and the grants on them.

A file whose trail starts after the moment asked cannot answer: ``HistoryNotCoveredError``.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from ..audit import AuditRow
from ..errors import HistoryNotCoveredError, NotFoundError
from ..models import (
    AuditEntry,
    Permission,
    Resource,
    Role,
    RoleInheritance,
    RolePermission,
    User,
    UserRole,
    utcnow,
)
from ..rows import AccessDecision, AccessPath, DenyReason

MAX_PATHS = 5
ARROW = " \u2192 "
Progress = Callable[[str], None]


# ---------------------------------------------------------------------- the state at T


@dataclass
class _User:
    id: int
    username: str
    active: bool
    exists: bool = True


@dataclass
class State:
    """The part of the file a question needs, as it was at one moment.

    Attributes:
        roles: role id -> name. links: (role, inherits_from) pairs.
        grants: (role, permission) pairs. perms: permission id -> (resource id, action).
        resources: resource id -> name. user: the user asked about (``exists`` False if
        the user did not exist yet, or no longer). assignments: role id -> expiry.
    """

    roles: dict[int, str]
    links: set[tuple[int, int]]
    grants: set[tuple[int, int]]
    perms: dict[int, tuple[int, str]]
    resources: dict[int, str]
    user: _User
    assignments: dict[int, datetime | None]

    def copy(self) -> State:
        return State(
            dict(self.roles), set(self.links), set(self.grants), dict(self.perms),
            dict(self.resources), _User(**vars(self.user)), dict(self.assignments),
        )

    def role_id(self, name: str) -> int | None:
        for rid, rname in self.roles.items():
            if rname == name:
                return rid
        return None

    def label(self, permission_id: int) -> str:
        resource_id, action = self.perms.get(permission_id, (0, "?"))
        return f"{self.resources.get(resource_id, '#' + str(resource_id))}: {action}"

    # -------------------------------------------------------------- deciding

    def live_roles(self, moment: datetime) -> list[int]:
        return [r for r, e in self.assignments.items() if e is None or e > moment]

    def closure(self, start: list[int]) -> set[int]:
        juniors: dict[int, list[int]] = {}
        for senior, junior in self.links:
            juniors.setdefault(senior, []).append(junior)
        seen, todo = set(start), list(start)
        while todo:
            for j in juniors.get(todo.pop(), ()):
                if j not in seen:
                    seen.add(j)
                    todo.append(j)
        return seen

    def permissions(self, moment: datetime) -> set[int]:
        """The user's effective permissions at ``moment`` (rbac.user_permissions' rules)."""
        if not self.user.exists or not self.user.active:
            return set()
        reach = self.closure(self.live_roles(moment))
        return {p for r, p in self.grants if r in reach}

    def paths(self, permission_id: int, moment: datetime) -> tuple[list[AccessPath], bool]:
        """Shortest paths (live first) from the user's assignments to a role holding the
        permission, as role names; and whether there are more than MAX_PATHS."""
        holders = {r for r, p in self.grants if p == permission_id}
        juniors: dict[int, list[int]] = {}
        for senior, junior in self.links:
            juniors.setdefault(senior, []).append(junior)
        found: list[tuple[bool, int, tuple[int, ...], datetime | None]] = []
        for start, expires in self.assignments.items():
            expired = expires is not None and expires <= moment
            queue: deque[tuple[int, ...]] = deque([(start,)])
            while queue:
                path = queue.popleft()
                if path[-1] in holders:
                    found.append((expired, len(path), path, expires))
                for j in juniors.get(path[-1], ()):
                    if j not in path and len(path) < 33:
                        queue.append((*path, j))
                if len(found) > 4 * MAX_PATHS:
                    break
        found.sort(key=lambda f: (f[0], f[1], [self.roles.get(r, "") for r in f[2]]))
        paths = [
            AccessPath(tuple(self.roles.get(r, f"#{r}") for r in path), expires, expired)
            for expired, _n, path, expires in found[:MAX_PATHS]
        ]
        return paths, len(found) > MAX_PATHS


# ---------------------------------------------------------------------- reading


def _json(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


def _moment(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def history_start(session: Session) -> datetime | None:
    """When the file's audit trail begins (None: it holds no entry)."""
    first = session.execute(select(AuditEntry.at).order_by(AuditEntry.id).limit(1)).scalar()
    return first


def _check_covered(session: Session, moment: datetime) -> None:
    start = history_start(session)
    if start is None or start > moment:
        raise HistoryNotCoveredError(moment, start)


def _find_user(session: Session, username: str) -> _User:
    """The user called ``username`` now, or once: renames are followed forward to the
    name the user has now, and a deleted user is found in its delete entry."""
    name, seen = username, set()
    while name not in seen:
        seen.add(name)
        row = session.execute(
            select(User.id, User.username, User.active).where(User.username == name)
        ).first()
        if row is not None:
            return _User(int(row[0]), row[1], bool(row[2]))
        renamed = session.execute(
            select(AuditEntry.after)
            .where(
                AuditEntry.record_type == "user",
                AuditEntry.operation == "update",
                AuditEntry.before.contains(f'"username": {json.dumps(name, ensure_ascii=False)}', autoescape=True),
            )
            .order_by(AuditEntry.id.desc())
            .limit(1)
        ).scalar()
        new_name = _json(renamed).get("username")
        if not new_name:
            break
        name = str(new_name)
    # Deleted since: the newest delete entry under that name holds the record.
    entry = session.execute(
        select(AuditEntry.before)
        .where(
            AuditEntry.record_type == "user",
            AuditEntry.record_key.in_(seen),
            AuditEntry.operation == "delete",
        )
        .order_by(AuditEntry.id.desc())
        .limit(1)
    ).scalar()
    before = _json(entry)
    if "id" not in before:
        raise NotFoundError(f"There is no user named \u201c{username}\u201d, now or in the audit trail.")
    return _User(
        int(before["id"]), str(before.get("username", username)), bool(before.get("active", True)), False
    )


def _current(session: Session, user: _User, permission_ids: set[int] | None) -> State:
    roles = {int(i): str(n) for i, n in session.execute(select(Role.id, Role.name))}
    links = {(int(a), int(b)) for a, b in session.execute(select(RoleInheritance.role_id, RoleInheritance.inherits_from_id))}
    grant_query = select(RolePermission.role_id, RolePermission.permission_id)
    perm_query = select(Permission.id, Permission.resource_id, Permission.action)
    if permission_ids is not None:
        grant_query = grant_query.where(RolePermission.permission_id.in_(permission_ids))
        perm_query = perm_query.where(Permission.id.in_(permission_ids))
    grants = {(int(r), int(p)) for r, p in session.execute(grant_query)}
    perms = {int(i): (int(r), str(a)) for i, r, a in session.execute(perm_query)}
    resources = {int(i): str(n) for i, n in session.execute(select(Resource.id, Resource.name))}
    assignments = {
        int(r): e
        for r, e in session.execute(
            select(UserRole.role_id, UserRole.expires_at).where(UserRole.user_id == user.id)
        )
    }
    return State(roles, links, grants, perms, resources, user, assignments)


def _user_names(session: Session, user: _User, since: datetime) -> set[str]:
    """Every name the user had since ``since`` (renames followed back)."""
    names = {user.username}
    todo = [user.username]
    while todo:
        name = todo.pop()
        for before, after in session.execute(
            select(AuditEntry.before, AuditEntry.after).where(
                AuditEntry.record_type == "user",
                AuditEntry.record_key == name,
                AuditEntry.operation == "update",
                AuditEntry.at > since,
            )
        ):
            old = _json(before).get("username")
            if old and _json(after).get("username") == name and old not in names:
                names.add(str(old))
                todo.append(str(old))
    return names


def _entries_after(
    session: Session, since: datetime, names: set[str], permission_ids: set[int] | None
) -> Iterator[AuditEntry]:
    """The entries after ``since`` that can change the answer, newest first."""
    # "username → role": a prefix (LIKE, escaped). Letters' case may over-fetch on SQLite;
    # _undo_assignment matches ids and exact names, so an extra entry changes nothing.
    user_keys = [AuditEntry.record_key.startswith(n + ARROW, autoescape=True) for n in names]
    wanted = or_(
        AuditEntry.record_type.in_(("role", "inheritance", "resource")),
        and_(AuditEntry.record_type == "user", AuditEntry.record_key.in_(names)),
        and_(AuditEntry.record_type == "assignment", or_(*user_keys)),
        AuditEntry.record_type.in_(("grant", "permission")),
    )
    query = (
        select(AuditEntry)
        .where(AuditEntry.at > since, wanted)
        .order_by(AuditEntry.id.desc())
        .execution_options(yield_per=2000)
    )
    yield from session.scalars(query)


def _undo(state: State, entry: AuditEntry, permission_ids: set[int] | None) -> bool:
    """Undo one entry on ``state``; True if it touched the state."""
    kind, op = entry.record_type, entry.operation
    before, after = _json(entry.before), _json(entry.after)
    if kind == "role":
        if op == "insert":
            return state.roles.pop(int(after.get("id", 0)), None) is not None
        if op == "delete":
            state.roles[int(before["id"])] = str(before.get("name", "?"))
            return True
        if "name" in before:
            rid = state.role_id(str(after.get("name", entry.record_key)))
            if rid is not None:
                state.roles[rid] = str(before["name"])
                return True
        return False
    if kind == "resource":
        if op == "delete" and "id" in before:
            state.resources[int(before["id"])] = str(before.get("name", "?"))
        elif op == "update" and "name" in before:
            for rid, name in state.resources.items():
                if name == after.get("name", entry.record_key):
                    state.resources[rid] = str(before["name"])
                    break
        return False
    if kind == "inheritance":
        values = after if op == "insert" else before
        link = (int(values["role_id"]), int(values["inherits_from_id"]))
        if op == "insert":
            state.links.discard(link)
        else:
            state.links.add(link)
        return True
    if kind == "grant":
        values = after if op == "insert" else before
        grant = (int(values["role_id"]), int(values["permission_id"]))
        if permission_ids is not None and grant[1] not in permission_ids:
            return False
        if op == "insert":
            state.grants.discard(grant)
        else:
            state.grants.add(grant)
        return True
    if kind == "permission":
        values = after if op == "insert" else before
        if op == "delete" and "id" in values:
            pid = int(values["id"])
            if permission_ids is None or pid in permission_ids:
                state.perms[pid] = (int(values["resource_id"]), str(values.get("action", "?")))
        elif op == "update" and "action" in before:
            for pid, (res, action) in list(state.perms.items()):
                if action == after.get("action") and state.label(pid) == entry.record_key:
                    state.perms[pid] = (res, str(before["action"]))
        return False
    if kind == "user":
        return _undo_user(state, op, before, after, entry.record_key)
    if kind == "assignment":
        return _undo_assignment(state, op, before, after, entry.record_key)
    return False


def _undo_user(state: State, op: str, before: dict[str, Any], after: dict[str, Any], key: str) -> bool:
    user = state.user
    if op == "insert":
        if int(after.get("id", -1)) == user.id:
            user.exists = False
            return True
        return False
    if op == "delete":
        if int(before.get("id", -1)) == user.id:
            user.exists = True
            user.active = bool(before.get("active", True))
            user.username = str(before.get("username", user.username))
            return True
        return False
    if key != user.username or not user.exists:
        return False
    if "username" in before:
        user.username = str(before["username"])
    if "active" in before:
        user.active = bool(before["active"])
        return True
    return "username" in before


def _undo_assignment(
    state: State, op: str, before: dict[str, Any], after: dict[str, Any], key: str
) -> bool:
    if op in ("insert", "delete"):
        values = after if op == "insert" else before
        if int(values.get("user_id", -1)) != state.user.id:
            return False
        role = int(values["role_id"])
        if op == "insert":
            state.assignments.pop(role, None)
        else:
            state.assignments[role] = _moment(values.get("expires_at"))
        return True
    # An update names the assignment "username → role" as they were called then.
    if "expires_at" not in before or not key.startswith(state.user.username + ARROW):
        return False
    named = state.role_id(key[len(state.user.username) + len(ARROW):])
    if named is None or named not in state.assignments:
        return False
    state.assignments[named] = _moment(before.get("expires_at"))
    return True


def _audit_row(entry: AuditEntry) -> AuditRow:
    return AuditRow(
        entry.id, entry.at, entry.operator, entry.action, entry.operation, entry.record_type,
        entry.record_key, _json(entry.before) or None, _json(entry.after) or None,
    )


# ---------------------------------------------------------------------- questions


@dataclass(frozen=True)
class PastDecision:
    """The answer at a past moment, with the paths as they were then."""

    moment: datetime
    decision: AccessDecision
    history_start: datetime | None
    username_then: str

    def explanation(self) -> str:
        return f"On {self.moment:%Y-%m-%d %H:%M} UTC:\n" + self.decision.explanation()


def _permission_id(session: Session, resource: str, action: str) -> int | None:
    found = session.execute(
        select(Permission.id)
        .join(Resource, Resource.id == Permission.resource_id)
        .where(func.lower(Resource.name) == resource.strip().lower(), Permission.action == action.strip().lower())
    ).scalar()
    if found is not None:
        return int(found)
    entry = session.execute(
        select(AuditEntry.before)
        .where(
            AuditEntry.record_type == "permission",
            AuditEntry.operation == "delete",
            AuditEntry.record_key == f"{resource.strip()}: {action.strip().lower()}",
        )
        .order_by(AuditEntry.id.desc())
        .limit(1)
    ).scalar()
    before = _json(entry)
    return int(before["id"]) if "id" in before else None


def state_at(
    session: Session,
    username: str,
    moment: datetime,
    *,
    permission_ids: set[int] | None = None,
    progress: Progress | None = None,
    keep: datetime | None = None,
    on_entry: Callable[[AuditEntry, bool], None] | None = None,
) -> tuple[State, State | None]:
    """The state at ``moment`` (and at ``keep``, a later moment, if given).

    Raises:
        HistoryNotCoveredError: the audit trail starts after ``moment``.
        NotFoundError: no such user now or in the trail.
    """
    _check_covered(session, moment)
    user = _find_user(session, username)
    state = _current(session, user, permission_ids)
    names = _user_names(session, user, moment)
    kept: State | None = None
    for n, entry in enumerate(_entries_after(session, moment, names, permission_ids), start=1):
        if keep is not None and kept is None and entry.at <= keep:
            kept = state.copy()
        touched = _undo(state, entry, permission_ids)
        if on_entry is not None:
            on_entry(entry, touched)
        if progress is not None and n % 5000 == 0:
            progress(f"Undoing the changes since then: {n:,} entries\u2026")
    if keep is not None and kept is None:
        kept = state.copy()
    return state, kept


def access_at(
    session: Session,
    username: str,
    resource: str,
    action: str,
    moment: datetime,
    *,
    progress: Progress | None = None,
) -> PastDecision:
    """Could ``username`` do ``action`` on ``resource`` at ``moment``, and why?"""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given")
    action_label = action.strip().lower()
    pid = _permission_id(session, resource, action)
    perm_ids = {pid} if pid is not None else set()
    state, _ = state_at(session, username, moment, permission_ids=perm_ids, progress=progress)
    start = history_start(session)
    who = state.user.username
    if not state.user.exists:
        decision = AccessDecision(False, who, resource, action_label, DenyReason.UNKNOWN_USER)
    elif pid is None or pid not in state.perms:
        decision = AccessDecision(False, who, resource, action_label, DenyReason.UNKNOWN_ACTION)
    else:
        label = state.label(pid)
        res_name, act = label.split(": ", 1)
        paths, more = state.paths(pid, moment)
        granted = any(not p.expired for p in paths)
        if not state.user.active:
            reason: DenyReason | None = DenyReason.INACTIVE_USER
        elif granted:
            reason = None
        elif paths:
            reason = DenyReason.EXPIRED_ASSIGNMENT
        else:
            reason = DenyReason.NO_PATH
        decision = AccessDecision(reason is None, who, res_name, act, reason, tuple(paths), more)
    return PastDecision(moment, decision, start, who)


@dataclass(frozen=True)
class AccessChange:
    """One permission gained or lost between two moments, with the entries behind it."""

    permission: str
    gained: bool
    entries: tuple[AuditRow, ...]


@dataclass(frozen=True)
class AccessDiff:
    username: str
    start: datetime
    end: datetime
    changes: tuple[AccessChange, ...] = field(default_factory=tuple)
    history_start: datetime | None = None

    @property
    def gains(self) -> tuple[AccessChange, ...]:
        return tuple(c for c in self.changes if c.gained)

    @property
    def losses(self) -> tuple[AccessChange, ...]:
        return tuple(c for c in self.changes if not c.gained)


def changes_between(
    session: Session,
    username: str,
    start: datetime,
    end: datetime | None = None,
    *,
    progress: Progress | None = None,
    entry_limit: int = 50,
) -> AccessDiff:
    """What ``username`` gained and lost between ``start`` and ``end`` (default now), each
    with the audit entries of that period that touched a path to the permission."""
    finish = end or utcnow()
    if finish < start:
        start, finish = finish, start
    window: list[AuditEntry] = []

    def collect(entry: AuditEntry, touched: bool) -> None:
        if touched and start < entry.at <= finish:
            window.append(entry)

    at_start, at_end = state_at(session, username, start, keep=finish, progress=progress, on_entry=collect)
    assert at_end is not None
    before, after = at_start.permissions(start), at_end.permissions(finish)
    union_links = at_start.links | at_end.links
    assigned = set(at_start.assignments) | set(at_end.assignments)
    probe = State(
        {**at_start.roles, **at_end.roles}, union_links, at_start.grants | at_end.grants,
        {**at_start.perms, **at_end.perms}, {**at_start.resources, **at_end.resources},
        at_end.user, {},
    )
    for entry in window:  # links and assignments that existed only in between count too
        values = _json(entry.after) or _json(entry.before)
        if entry.record_type == "inheritance":
            probe.links.add((int(values["role_id"]), int(values["inherits_from_id"])))
        elif entry.record_type == "assignment" and "role_id" in values:
            assigned.add(int(values["role_id"]))
    reach = probe.closure(sorted(assigned))
    out: list[AccessChange] = []
    for pid in sorted(before ^ after, key=probe.label):
        holders = {r for r, p in probe.grants if p == pid} | {
            int(_json(e.after or e.before).get("role_id", -1))
            for e in window
            if e.record_type == "grant" and int(_json(e.after or e.before).get("permission_id", -1)) == pid
        }
        leads = {r for r in reach if probe.closure([r]) & holders}
        causes = [e for e in reversed(window) if _causes(e, probe, leads, holders, pid)]
        out.append(AccessChange(probe.label(pid), pid in after, tuple(_audit_row(e) for e in causes[:entry_limit])))
    return AccessDiff(at_end.user.username, start, finish, tuple(out), history_start(session))


def _causes(entry: AuditEntry, probe: State, leads: set[int], holders: set[int], pid: int) -> bool:
    values = _json(entry.after) or _json(entry.before)
    kind = entry.record_type
    if kind == "user":
        return "active" in _json(entry.before) or entry.operation != "update"
    if kind == "assignment":
        role: int | None = int(values["role_id"]) if "role_id" in values else None
        if role is None:  # an expiry change: named by "user → role"
            role = probe.role_id(entry.record_key.split(ARROW, 1)[-1])
        return role is not None and role in leads
    if kind == "inheritance":
        return int(values["role_id"]) in leads and int(values["inherits_from_id"]) in leads
    if kind == "grant":
        return int(values["permission_id"]) == pid and int(values["role_id"]) in leads
    return False
