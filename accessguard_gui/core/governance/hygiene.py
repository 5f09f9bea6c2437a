"""Role hygiene: what in the role model does nothing, repeats itself, or can never bite —
each finding with a fix made of ``core.changes`` edits (pending until Save).

Every check is one set-based statement (the role closure is built once per scan into two
temporary tables with indexes, the users are only ever probed through indexes), listed up
to a limit and counted up to a cap, so a million users cost seconds, not memory. The
caller runs ``scan`` inside ``browse.bounded`` so Cancel stops the running statement;
``progress`` is called between checks (and may raise to stop).

Definitions (chosen so that every fix changes nobody's access, except where it says so):
    unused role            no user is assigned to it or to any role inheriting from it
    role granting nothing  neither it nor any role it inherits from holds a permission
    permission granted to nobody   no role holds it
    user without roles     no assignment at all (expired ones count as assignments)
    redundant assignment   a user holds role R directly and also through a role S that
                           inherits from R, assigned at least as long (S never expires, or
                           expires no earlier than R)
    identical roles        two roles with the same, non-empty, effective permissions
    inheritance adding nothing   everything the junior role gives, the senior already has
                           through its own grants or its other inheritance links
    SoD set that can never be violated   fewer member roles than its limit
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from ..changes import (
    Assign,
    Deassign,
    Delete,
    DeleteSsdSet,
    Edit,
    Entity,
    Inherit,
    Uninherit,
    Update,
)

DEFAULT_LIMIT = 200
#: Counts stop here ("10,000+"): the list is what a person reads, the count is a size.
COUNT_CAP = 10_000
#: A duplicate role with more members than this is not merged by one click.
MERGE_LIMIT = 500


class Kind(enum.Enum):
    UNUSED_ROLE = "unused_role"
    ROLE_GRANTS_NOTHING = "role_grants_nothing"
    PERMISSION_UNGRANTED = "permission_ungranted"
    USER_WITHOUT_ROLES = "user_without_roles"
    REDUNDANT_ASSIGNMENT = "redundant_assignment"
    IDENTICAL_ROLES = "identical_roles"
    USELESS_INHERITANCE = "useless_inheritance"
    TOOTHLESS_SOD = "toothless_sod"

    @property
    def title(self) -> str:
        return _TITLES[self][0]

    @property
    def why(self) -> str:
        return _TITLES[self][1]


_TITLES: dict[Kind, tuple[str, str]] = {
    Kind.UNUSED_ROLE: (
        "Unused roles",
        "No user is assigned to the role or to any role that inherits from it.",
    ),
    Kind.ROLE_GRANTS_NOTHING: (
        "Roles granting nothing",
        "Neither the role nor any role it inherits from holds a permission.",
    ),
    Kind.PERMISSION_UNGRANTED: ("Permissions granted to nobody", "No role holds the permission."),
    Kind.USER_WITHOUT_ROLES: ("Users without roles", "The user has no assignment at all."),
    Kind.REDUNDANT_ASSIGNMENT: (
        "Redundant assignments",
        "The user holds the role directly and also through a role inheriting from it, "
        "assigned at least as long.",
    ),
    Kind.IDENTICAL_ROLES: (
        "Roles with identical effective permissions",
        "Two roles give exactly the same permissions (through grants and inheritance).",
    ),
    Kind.USELESS_INHERITANCE: (
        "Inheritance links that add nothing",
        "Everything the inherited role gives, the role already has by its own grants or "
        "other inheritance links.",
    ),
    Kind.TOOTHLESS_SOD: (
        "Separation-of-duty sets that can never be violated",
        "The set has fewer roles than its limit, so no user can ever hold that many.",
    ),
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem and its fix.

    Attributes:
        subject: what the finding is about ("Payroll", "alice \u2192 Clerk").
        detail: why, in a sentence.
        fix: what the fix does ("" if none is offered, with the reason in ``detail``).
        edits: the fix as pending edits.
    """

    kind: Kind
    subject: str
    detail: str
    fix: str
    edits: tuple[Edit, ...]


@dataclass(frozen=True, slots=True)
class KindResult:
    """The findings of one check: at most the limit asked for, counted up to COUNT_CAP."""

    kind: Kind
    findings: tuple[Finding, ...]
    total: int
    capped: bool = False

    @property
    def total_text(self) -> str:
        return f"{self.total:,}+" if self.capped else f"{self.total:,}"


# ---------------------------------------------------------------------- the role closure

_CLOSURE = "ag_gov_closure"  # (role_id, junior_id): every role a role reaches, itself included
_CP = "ag_gov_cp"  # (role_id, permission_id): effective permissions of every role


def _prepare(session: Session) -> None:
    """Build the closure and the effective role permissions once per scan (roles are
    thousands, never users: this is the size of the role model)."""
    _drop(session)
    session.execute(
        text(f"CREATE TEMPORARY TABLE {_CLOSURE} (role_id INTEGER NOT NULL, junior_id INTEGER NOT NULL, PRIMARY KEY (role_id, junior_id))")
    )
    session.execute(
        text(
            f"""INSERT INTO {_CLOSURE} (role_id, junior_id)
            WITH RECURSIVE reach(role_id, junior_id) AS (
                SELECT id, id FROM roles
                UNION
                SELECT reach.role_id, ri.inherits_from_id
                FROM reach JOIN role_inheritance ri ON ri.role_id = reach.junior_id)
            SELECT role_id, junior_id FROM reach"""
        )
    )
    session.execute(
        text(f"CREATE TEMPORARY TABLE {_CP} (role_id INTEGER NOT NULL, permission_id INTEGER NOT NULL, PRIMARY KEY (role_id, permission_id))")
    )
    session.execute(
        text(
            f"""INSERT INTO {_CP} (role_id, permission_id)
            SELECT DISTINCT c.role_id, rp.permission_id
            FROM {_CLOSURE} c JOIN role_permissions rp ON rp.role_id = c.junior_id"""
        )
    )
    session.execute(text(f"CREATE INDEX {_CP}_perm ON {_CP} (permission_id, role_id)"))


def _drop(session: Session) -> None:
    for table in (_CP, _CLOSURE):
        session.execute(text(f"DROP TABLE IF EXISTS {table}"))


def _capped_count(session: Session, query: str, params: dict[str, Any]) -> tuple[int, bool]:
    n = int(
        session.execute(
            text(f"SELECT count(*) FROM ({query} LIMIT {COUNT_CAP + 1}) AS counted"), params
        ).scalar_one()
    )
    return min(n, COUNT_CAP), n > COUNT_CAP


def _result(
    session: Session,
    kind: Kind,
    query: str,
    make: Callable[[Any], Finding],
    limit: int,
    params: dict[str, Any] | None = None,
    order: str = "",
) -> KindResult:
    values = params or {}
    total, capped = _capped_count(session, query, values)
    rows = session.execute(text(f"{query} {order} LIMIT {int(limit)}"), values).all() if total else []
    return KindResult(kind, tuple(make(row) for row in rows), total, capped)


def _members(session: Session, role_id: int) -> int:
    return int(
        session.execute(
            text("SELECT count(*) FROM user_roles WHERE role_id = :r"), {"r": role_id}
        ).scalar_one()
    )


# ---------------------------------------------------------------------- the checks


def _unused_roles(session: Session, limit: int) -> KindResult:
    query = f"""SELECT r.id, r.name, r.version FROM roles r
        WHERE NOT EXISTS (
            SELECT 1 FROM {_CLOSURE} c JOIN user_roles ur ON ur.role_id = c.role_id
            WHERE c.junior_id = r.id)"""

    def make(row: Any) -> Finding:
        return Finding(
            Kind.UNUSED_ROLE, row.name, Kind.UNUSED_ROLE.why, "Delete the role",
            (Delete(Entity.ROLE, row.id, row.version, row.name),),
        )

    return _result(session, Kind.UNUSED_ROLE, query, make, limit, order="ORDER BY r.name_key")


def _roles_granting_nothing(session: Session, limit: int) -> KindResult:
    query = f"""SELECT r.id, r.name, r.version FROM roles r
        WHERE NOT EXISTS (SELECT 1 FROM {_CP} cp WHERE cp.role_id = r.id)"""

    def make(row: Any) -> Finding:
        members = _members(session, row.id)
        detail = Kind.ROLE_GRANTS_NOTHING.why
        if members:
            detail += f" {members:,} assignment{'s' if members != 1 else ''} would go with it."
        return Finding(
            Kind.ROLE_GRANTS_NOTHING, row.name, detail, "Delete the role",
            (Delete(Entity.ROLE, row.id, row.version, row.name),),
        )

    return _result(session, Kind.ROLE_GRANTS_NOTHING, query, make, limit, order="ORDER BY r.name_key")


def _permissions_granted_to_nobody(session: Session, limit: int) -> KindResult:
    query = """SELECT p.id, res.name AS resource, p.action, p.version
        FROM permissions p JOIN resources res ON res.id = p.resource_id
        WHERE NOT EXISTS (SELECT 1 FROM role_permissions rp WHERE rp.permission_id = p.id)"""

    def make(row: Any) -> Finding:
        label = f"{row.resource}: {row.action}"
        return Finding(
            Kind.PERMISSION_UNGRANTED, label, Kind.PERMISSION_UNGRANTED.why,
            "Delete the permission", (Delete(Entity.PERMISSION, row.id, row.version, label),),
        )

    return _result(
        session, Kind.PERMISSION_UNGRANTED, query, make, limit, order="ORDER BY res.name_key, p.action"
    )


def _users_without_roles(session: Session, limit: int) -> KindResult:
    query = """SELECT u.id, u.username, u.active, u.version FROM users u
        WHERE NOT EXISTS (SELECT 1 FROM user_roles ur WHERE ur.user_id = u.id)"""

    def make(row: Any) -> Finding:
        if row.active:
            return Finding(
                Kind.USER_WITHOUT_ROLES, row.username, "Active, but has no assignment at all.",
                "Deactivate the user",
                (
                    Update(
                        Entity.USER, row.id, row.version, {"active": False}, row.username,
                        before={"active": True},  # described "active yes → no"
                    ),
                ),
            )
        return Finding(
            Kind.USER_WITHOUT_ROLES, row.username, "Inactive and has no assignment at all.",
            "Delete the user", (Delete(Entity.USER, row.id, row.version, row.username),),
        )

    return _result(
        session, Kind.USER_WITHOUT_ROLES, query, make, limit, order="ORDER BY u.username_key"
    )


def _redundant_assignments(session: Session, limit: int) -> KindResult:
    # (user, junior) held directly and through an assigned senior that covers it as long.
    # Driven by the assignments to roles that have a senior at all, each probed for a
    # covering senior among the same user's few assignments (primary-key seeks): on a
    # million users this was 2x faster than walking the members of every closure pair.
    covered = f"""SELECT a.user_id, a.role_id FROM user_roles a
        WHERE a.role_id IN (SELECT junior_id FROM {_CLOSURE} WHERE role_id <> junior_id)
          AND EXISTS (
            SELECT 1 FROM user_roles b
            JOIN {_CLOSURE} c ON c.role_id = b.role_id AND c.junior_id = a.role_id
            WHERE b.user_id = a.user_id AND b.role_id <> a.role_id
              AND (b.expires_at IS NULL OR (a.expires_at IS NOT NULL AND b.expires_at >= a.expires_at)))"""
    total, capped = _capped_count(session, covered, {})
    if not total:
        return KindResult(Kind.REDUNDANT_ASSIGNMENT, (), 0)
    pairs = session.execute(text(f"{covered} LIMIT {int(limit)}")).all()
    users = {u for u, _ in pairs}
    names = _names(session, "users", "username", users)
    roles = _names(session, "roles", "name", {r for _, r in pairs})
    through: dict[tuple[int, int], list[str]] = defaultdict(list)
    for user_id, junior, senior_name in session.execute(
        text(
            f"""SELECT a.user_id, a.role_id, sr.name FROM {_CLOSURE} c
            JOIN user_roles a ON a.role_id = c.junior_id
            JOIN user_roles b ON b.user_id = a.user_id AND b.role_id = c.role_id
            JOIN roles sr ON sr.id = c.role_id
            WHERE c.role_id <> c.junior_id AND a.user_id IN ({_ids(users)})"""
        )
    ):
        through[(user_id, junior)].append(senior_name)
    findings = []
    for user_id, role_id in sorted(pairs, key=lambda p: (names[p[0]].casefold(), roles[p[1]].casefold())):
        user, role = names[user_id], roles[role_id]
        via = ", ".join(sorted(through[(user_id, role_id)], key=str.casefold))
        findings.append(
            Finding(
                Kind.REDUNDANT_ASSIGNMENT, f"{user} \u2192 {role}",
                f"Also held through {via}, assigned at least as long.",
                "Remove the direct assignment", (Deassign(user=user, role=role),),
            )
        )
    return KindResult(Kind.REDUNDANT_ASSIGNMENT, tuple(findings), total, capped)


def _identical_roles(session: Session, limit: int) -> KindResult:
    # A signature per role narrows the candidates; equal sets are then confirmed exactly.
    signatures: dict[tuple[int, int, int], list[int]] = defaultdict(list)
    for role_id, n, s1, s2 in session.execute(
        text(
            f"""SELECT role_id, count(*), sum(permission_id), sum((permission_id * 7919) % 1000003)
            FROM {_CP} GROUP BY role_id"""
        )
    ):
        signatures[(int(n), int(s1), int(s2))].append(int(role_id))
    candidates = [ids for ids in signatures.values() if len(ids) > 1]
    if not candidates:
        return KindResult(Kind.IDENTICAL_ROLES, (), 0)
    wanted = {r for ids in candidates for r in ids}
    perms: dict[int, set[int]] = defaultdict(set)
    for role_id, perm_id in session.execute(
        text(f"SELECT role_id, permission_id FROM {_CP} WHERE role_id IN ({_ids(wanted)})")
    ):
        perms[role_id].add(perm_id)
    info = {
        row.id: row
        for row in session.execute(
            text(f"SELECT id, name, name_key, version FROM roles WHERE id IN ({_ids(wanted)})")
        )
    }
    groups: list[list[int]] = []
    for ids in candidates:
        by_set: dict[frozenset[int], list[int]] = defaultdict(list)
        for r in ids:
            by_set[frozenset(perms[r])].append(r)
        groups += [g for g in by_set.values() if len(g) > 1]
    findings: list[Finding] = []
    total = 0
    for group in sorted(groups, key=lambda g: min(info[r].name_key for r in g)):
        keep, *others = sorted(group, key=lambda r: info[r].name_key)
        for dup in others:
            total += 1
            if len(findings) < limit:
                findings.append(_merge_finding(session, info[keep], info[dup], len(perms[keep])))
    return KindResult(Kind.IDENTICAL_ROLES, tuple(findings), total)


def _merge_finding(session: Session, keep: Any, dup: Any, n_perms: int) -> Finding:
    subject = f"{dup.name} = {keep.name}"
    detail = f"Both give the same {n_perms:,} permission{'s' if n_perms != 1 else ''}."
    members = session.execute(
        text(
            """SELECT u.username, d.expires_at FROM user_roles d JOIN users u ON u.id = d.user_id
            WHERE d.role_id = :dup AND NOT EXISTS (
                SELECT 1 FROM user_roles k WHERE k.user_id = d.user_id AND k.role_id = :keep)
            ORDER BY u.username_key LIMIT :cap"""
        ),
        {"dup": dup.id, "keep": keep.id, "cap": MERGE_LIMIT + 1},
    ).all()
    if len(members) > MERGE_LIMIT:
        return Finding(
            Kind.IDENTICAL_ROLES, subject,
            detail + f" {dup.name} has more than {MERGE_LIMIT:,} members to move: merge it with "
            "Access \u2192 Assign or remove a role for selected users.", "", (),
        )
    seniors = session.execute(
        text(
            """SELECT s.name FROM role_inheritance l JOIN roles s ON s.id = l.role_id
            WHERE l.inherits_from_id = :dup AND NOT EXISTS (
                SELECT 1 FROM role_inheritance o WHERE o.role_id = l.role_id AND o.inherits_from_id = :keep)
            ORDER BY s.name_key"""
        ),
        {"dup": dup.id, "keep": keep.id},
    ).scalars().all()
    edits: list[Edit] = [Assign(user=u, role=keep.name, expires_at=_aware(e)) for u, e in members]
    edits += [Inherit(role=s, inherits_from=keep.name) for s in seniors if s != keep.name]
    edits.append(Delete(Entity.ROLE, dup.id, dup.version, dup.name))
    return Finding(
        Kind.IDENTICAL_ROLES, subject, detail,
        f"Merge {dup.name} into {keep.name} (move {len(members):,} member"
        f"{'s' if len(members) != 1 else ''} and {len(seniors):,} inheriting role"
        f"{'s' if len(seniors) != 1 else ''}, then delete {dup.name})",
        tuple(edits),
    )


def _aware(value: Any) -> Any:
    """A raw SQL datetime (naive UTC text on SQLite) as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _useless_inheritance(session: Session, limit: int) -> KindResult:
    query = f"""SELECT l.role_id, s.name AS senior, l.inherits_from_id, j.name AS junior
        FROM role_inheritance l
        JOIN roles s ON s.id = l.role_id JOIN roles j ON j.id = l.inherits_from_id
        WHERE NOT EXISTS (
            SELECT 1 FROM {_CP} cp WHERE cp.role_id = l.inherits_from_id
            AND NOT EXISTS (SELECT 1 FROM role_permissions rp
                            WHERE rp.role_id = l.role_id AND rp.permission_id = cp.permission_id)
            AND NOT EXISTS (SELECT 1 FROM role_inheritance o
                            JOIN {_CP} c2 ON c2.role_id = o.inherits_from_id
                            WHERE o.role_id = l.role_id AND o.inherits_from_id <> l.inherits_from_id
                              AND c2.permission_id = cp.permission_id))"""

    def make(row: Any) -> Finding:
        return Finding(
            Kind.USELESS_INHERITANCE, f"{row.senior} inherits from {row.junior}",
            Kind.USELESS_INHERITANCE.why, "Remove the inheritance link",
            (Uninherit(role=row.senior, inherits_from=row.junior),),
        )

    return _result(
        session, Kind.USELESS_INHERITANCE, query, make, limit, order="ORDER BY s.name_key, j.name_key"
    )


def _toothless_sod(session: Session, limit: int) -> KindResult:
    query = """SELECT s.id, s.name, s.cardinality,
            (SELECT count(*) FROM ssd_set_roles m WHERE m.ssd_set_id = s.id) AS members
        FROM ssd_sets s
        WHERE (SELECT count(*) FROM ssd_set_roles m WHERE m.ssd_set_id = s.id) < s.cardinality"""

    def make(row: Any) -> Finding:
        return Finding(
            Kind.TOOTHLESS_SOD, row.name,
            f"Limit: fewer than {row.cardinality}, but the set has only {row.members} "
            f"role{'s' if row.members != 1 else ''}.",
            "Delete the set", (DeleteSsdSet(ssd_set=row.id, label=row.name),),
        )

    return _result(session, Kind.TOOTHLESS_SOD, query, make, limit, order="ORDER BY s.name_key")


def _ids(ids: Iterable[int]) -> str:
    """An IN list of integers (ids read from the file, never user text)."""
    return ", ".join(str(int(i)) for i in ids) or "NULL"


def _names(session: Session, table: str, column: str, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(text(f"SELECT id, {column} FROM {table} WHERE id IN ({_ids(ids)})"))
    return {int(i): str(n) for i, n in rows}


_CHECKS: dict[Kind, Callable[[Session, int], KindResult]] = {
    Kind.UNUSED_ROLE: _unused_roles,
    Kind.ROLE_GRANTS_NOTHING: _roles_granting_nothing,
    Kind.PERMISSION_UNGRANTED: _permissions_granted_to_nobody,
    Kind.USER_WITHOUT_ROLES: _users_without_roles,
    Kind.REDUNDANT_ASSIGNMENT: _redundant_assignments,
    Kind.IDENTICAL_ROLES: _identical_roles,
    Kind.USELESS_INHERITANCE: _useless_inheritance,
    Kind.TOOTHLESS_SOD: _toothless_sod,
}


def scan(
    session: Session,
    kinds: Sequence[Kind] | None = None,
    *,
    limit: int = DEFAULT_LIMIT,
    progress: Callable[[str], None] | None = None,
) -> list[KindResult]:
    """Run the checks (all by default), in ``Kind`` order. Reads only: the temporary
    tables live in the caller's session, which rolls back."""
    chosen = list(Kind) if kinds is None else [k for k in Kind if k in set(kinds)]
    if progress is not None:
        progress("Building the role closure\u2026")
    _prepare(session)
    results = []
    for number, kind in enumerate(chosen, start=1):
        if progress is not None:
            progress(f"Checking {kind.title.lower()} ({number} of {len(chosen)})\u2026")
        results.append(_CHECKS[kind](session, limit))
    _drop(session)
    return results
