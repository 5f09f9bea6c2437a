"""What publishing writes into the service file, computed in SQL: the compiled AccessGuard
state (``load_desired``) and the plan of changes against the file (``build_plan``).

Everything runs on the service file's own connection in TEMP tables, set-based, so a
million-user organisation is compared without holding it in Python. ``publish.py`` says
when (which lock, which transaction); this module says what. Names compare exactly
(SQLite's BINARY collation), as the service compares them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, or_, select
from sqlalchemy.orm import Session

from ..changes import check_password_hash
from ..database import Database
from ..errors import AccessGuardError, ValidationError
from ..models import (
    Permission,
    Resource,
    Role,
    RoleInheritance,
    RolePermission,
    User,
    UserRole,
)

# The hash of a user who cannot sign in to the service: a valid Argon2id PHC string (the
# service's passlib parses it and answers "wrong password"), with today's cost parameters
# so a sign-in attempt takes as long as for any user, a fixed salt that marks it
# ("AccessGuard:no password") and an all-zero digest no password produces.
UNUSABLE_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$QWNjZXNzR3VhcmQ6bm8gcGFzc3dvcmQ$"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
)

SAMPLE_LIMIT = 200  # rows per section and verdict the preview lists by name
_BATCH = 5000

SECTIONS = ("users", "roles", "resources", "permissions", "assignments", "grants")
VERDICTS = ("added", "changed", "removed", "kept")


def is_unusable_hash(value: object) -> bool:
    """True for the hash publish writes for a user without a password."""
    return value == UNUSABLE_HASH


@dataclass(frozen=True, slots=True)
class PlannedChange:
    """One row of the preview: ``users added alice``; ``grants removed Staff → read on
    Doc (not granted in AccessGuard)``."""

    section: str
    verdict: str
    key: str
    detail: str = ""


@dataclass(frozen=True)
class PublishPlan:
    """What publishing would change in the service file.

    Attributes:
        target: the service file.
        new_file: True if the file does not exist yet (it will be created).
        counts: (section, verdict) -> number of rows.
        samples: up to SAMPLE_LIMIT rows per (section, verdict), in name order.
        fingerprint: identifies the exact change set (publish refuses a different one).
        kept_users: service-only users kept, and how many assignments they keep.
        kept_for_known: assignments/grants kept that give AccessGuard users access
            AccessGuard does not show (added through the service since the last sync).
        unusable_hashes: users written without a usable password.
    """

    target: Path
    new_file: bool
    counts: dict[tuple[str, str], int]
    samples: tuple[PlannedChange, ...]
    fingerprint: str
    kept_users: int = 0
    kept_user_links: int = 0
    kept_for_known: int = 0
    unusable_hashes: int = 0
    remove_service_only: bool = False
    notes: tuple[str, ...] = field(default=())

    def count(self, section: str, verdict: str) -> int:
        return self.counts.get((section, verdict), 0)

    @property
    def changes(self) -> int:
        """Rows that would be written (added, changed or removed)."""
        return sum(n for (_s, v), n in self.counts.items() if v != "kept")

    def section_line(self, section: str) -> str:
        parts = [
            f"{self.count(section, v):,} {v if v != 'kept' else 'kept (only in the service file)'}"
            for v in VERDICTS
            if self.count(section, v)
        ]
        return f"{section}: {', '.join(parts) if parts else 'no change'}"

    def access_notes(self) -> list[str]:
        """What the kept rows mean for access, in plain words."""
        notes = list(self.notes)
        if self.kept_users:
            notes.append(
                f"{self.kept_users:,} user(s) exist only in the service file and are kept with "
                f"{self.kept_user_links:,} role assignment(s): AccessGuard does not know them, "
                "so their access in the service is not AccessGuard's answer. Import the "
                "service file to manage them, or publish with \u201cremove rows only in the "
                "service file\u201d to delete them."
            )
        if self.kept_for_known:
            notes.append(
                f"{self.kept_for_known:,} assignment(s) or grant(s) were added through the "
                "service since AccessGuard last read the file and are kept: until they are "
                "imported, the service allows these users more than AccessGuard shows."
            )
        if self.unusable_hashes:
            notes.append(
                f"{self.unusable_hashes:,} user(s) have no password the service can check: "
                "they are written with an unusable hash and cannot sign in to the service."
            )
        if not self.kept_users and not self.kept_for_known:
            notes.append(
                "After publishing, the service answers every access check of every "
                "AccessGuard user exactly as AccessGuard does."
            )
        return notes

    def report(self) -> str:
        """The preview as plain text (the command line prints it)."""
        what = "a new service file" if self.new_file else "the service file"
        lines = [f"Publish to {what} {self.target}"]
        lines += ["  " + self.section_line(s) for s in SECTIONS]
        for section in SECTIONS:
            for verdict in VERDICTS:
                total = self.count(section, verdict)
                rows = [c for c in self.samples if c.section == section and c.verdict == verdict]
                if not rows:
                    continue
                lines.append(f"{section.capitalize()} {verdict}:")
                for change in rows:
                    tail = f" ({change.detail})" if change.detail else ""
                    lines.append(f"  {change.key}{tail}")
                if total > len(rows):
                    lines.append(f"  \u2026 and {total - len(rows):,} more")
        lines += ["", *self.access_notes()]
        return "\n".join(lines)


Progress = Callable[[str], None]


class PublishCancelled(AccessGuardError):
    """Cancel was pressed: nothing was written."""

    def __init__(self) -> None:
        super().__init__("Publishing was cancelled; the service file was not changed.")


# ---------------------------------------------------------------------- the compiled state

_DESIRED_DDL = (
    "CREATE TEMP TABLE d_users (username TEXT PRIMARY KEY, hash TEXT NOT NULL, "
    "active INTEGER NOT NULL, note TEXT NOT NULL)",
    "CREATE TEMP TABLE d_roles (name TEXT PRIMARY KEY)",
    "CREATE TEMP TABLE d_resources (name TEXT PRIMARY KEY, description TEXT NOT NULL)",
    "CREATE TEMP TABLE d_perms (resource TEXT, action TEXT, PRIMARY KEY (resource, action))",
    "CREATE TEMP TABLE d_user_roles (username TEXT, role TEXT, PRIMARY KEY (username, role))",
    "CREATE TEMP TABLE d_grants (role TEXT, resource TEXT, action TEXT, "
    "PRIMARY KEY (role, resource, action))",
)


def _service_hash(stored: str | None) -> tuple[str, str]:
    """The hash the service gets, and a note when it is not the user's own."""
    if stored is None:
        return UNUSABLE_HASH, "no password: cannot sign in"
    try:
        check_password_hash(stored)
    except ValidationError:
        return UNUSABLE_HASH, "hash the service cannot read: cannot sign in"
    return stored, ""


def _grant_rows(session: Session) -> Iterator[Sequence[Any]]:
    """(role, resource, action) for every permission a role has, directly or by
    inheriting it: the grants the flattened role carries in the service."""
    reach = select(Role.id.label("role_id"), Role.id.label("source_id")).cte(
        "reach", recursive=True
    )
    reach = reach.union(
        select(reach.c.role_id, RoleInheritance.inherits_from_id).join(
            RoleInheritance, RoleInheritance.role_id == reach.c.source_id
        )
    )
    query = (
        select(Role.name, Resource.name, Permission.action)
        .distinct()
        .select_from(reach)
        .join(Role, Role.id == reach.c.role_id)
        .join(RolePermission, RolePermission.role_id == reach.c.source_id)
        .join(Permission, Permission.id == RolePermission.permission_id)
        .join(Resource, Resource.id == Permission.resource_id)
    )
    for part in session.execute(query).partitions(_BATCH):
        yield from part


def load_desired(
    db: Database,
    svc: Connection,
    now: datetime,
    progress: Progress,
    cancelled: Callable[[], bool] = lambda: False,
) -> None:
    """Stream the compiled AccessGuard state into TEMP tables of the service connection
    (``cancelled`` is asked between batches: PublishCancelled)."""
    for ddl in _DESIRED_DDL:
        svc.exec_driver_sql(ddl)

    def load(table: str, width: int, rows: Iterable[Sequence[Any]]) -> None:
        if cancelled():
            raise PublishCancelled()
        marks = ", ".join("?" * width)
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append(tuple(row))
            if len(batch) >= _BATCH:
                svc.exec_driver_sql(f"INSERT INTO temp.{table} VALUES ({marks})", batch)
                batch = []
                if cancelled():
                    raise PublishCancelled()
        if batch:
            svc.exec_driver_sql(f"INSERT INTO temp.{table} VALUES ({marks})", batch)

    def users(session: Session) -> Iterator[tuple[Any, ...]]:
        query = select(User.username, User.password_hash, User.active)
        for part in session.execute(query).partitions(_BATCH):
            for name, stored, active in part:
                hashed, note = _service_hash(stored)
                yield name, hashed, 1 if active else 0, note

    def rows(session: Session, query: Any) -> Iterator[Sequence[Any]]:
        for part in session.execute(query).partitions(_BATCH):
            yield from part

    with db.read() as session:
        progress("Reading users")
        load("d_users", 4, users(session))
        progress("Reading roles, resources and permissions")
        load("d_roles", 1, rows(session, select(Role.name)))
        load(
            "d_resources", 2, rows(session, select(Resource.name, Resource.description))
        )
        load(
            "d_perms",
            2,
            rows(
                session,
                select(Resource.name, Permission.action).join(
                    Resource, Resource.id == Permission.resource_id
                ),
            ),
        )
        progress("Reading assignments (expired ones and inactive users left out)")
        live = (
            select(User.username, Role.name)
            .select_from(UserRole)
            .join(User, User.id == UserRole.user_id)
            .join(Role, Role.id == UserRole.role_id)
            .where(
                User.active.is_(True),
                or_(UserRole.expires_at.is_(None), UserRole.expires_at > now),
            )
        )
        load("d_user_roles", 2, rows(session, live))
        progress("Flattening inherited grants onto the roles that inherit them")
        load("d_grants", 3, _grant_rows(session))


# ---------------------------------------------------------------------- the plan, in SQL

# The service file as it is (exact names; links naming missing rows are left out) and
# the baseline ("b_", empty without one), indexed for the comparisons below.
def _state_sql(schema: str, prefix: str) -> tuple[str, ...]:
    return (
        f"CREATE TEMP TABLE {prefix}_users AS SELECT id, username FROM {schema}.users",
        f"CREATE INDEX temp.{prefix}_users_name ON {prefix}_users (username)",
        f"CREATE TEMP TABLE {prefix}_roles AS SELECT id, name FROM {schema}.roles",
        f"CREATE INDEX temp.{prefix}_roles_name ON {prefix}_roles (name)",
        f"CREATE TEMP TABLE {prefix}_resources AS SELECT id, name, description "
        f"FROM {schema}.resources",
        f"CREATE INDEX temp.{prefix}_resources_name ON {prefix}_resources (name)",
        f"CREATE TEMP TABLE {prefix}_perms AS SELECT resource, action, min(id) AS id "
        f"FROM {schema}.permissions GROUP BY resource, action",
        f"CREATE INDEX temp.{prefix}_perms_key ON {prefix}_perms (resource, action)",
        f"CREATE TEMP TABLE {prefix}_user_roles AS SELECT ur.rowid AS rid, u.username, "
        f"r.name AS role FROM {schema}.user_roles ur JOIN {schema}.users u ON u.id = ur.user_id "
        f"JOIN {schema}.roles r ON r.id = ur.role_id",
        f"CREATE INDEX temp.{prefix}_user_roles_key ON {prefix}_user_roles (username, role)",
        f"CREATE TEMP TABLE {prefix}_grants AS SELECT rp.rowid AS rid, r.name AS role, "
        f"p.resource, p.action FROM {schema}.role_permissions rp "
        f"JOIN {schema}.roles r ON r.id = rp.role_id "
        f"JOIN {schema}.permissions p ON p.id = rp.permission_id",
        f"CREATE INDEX temp.{prefix}_grants_key ON {prefix}_grants (role, resource, action)",
    )


_EMPTY_BASELINE = (
    "CREATE TEMP TABLE b_users (id INTEGER, username TEXT)",
    "CREATE TEMP TABLE b_roles (id INTEGER, name TEXT)",
    "CREATE TEMP TABLE b_resources (id INTEGER, name TEXT, description TEXT)",
    "CREATE TEMP TABLE b_perms (resource TEXT, action TEXT, id INTEGER)",
    "CREATE TEMP TABLE b_user_roles (rid INTEGER, username TEXT, role TEXT)",
    "CREATE TEMP TABLE b_grants (rid INTEGER, role TEXT, resource TEXT, action TEXT)",
)

_ACTIVE = (
    "CASE WHEN {v} IS NULL THEN 1 "
    "WHEN lower(trim({v})) IN ('0', 'false', 'f', 'no', '') THEN 0 ELSE 1 END"
)
_S_ACTIVE = _ACTIVE.format(v="u.is_active")

# :all = remove_service_only, :base = a baseline was given. Order matters: links are
# judged after the records they name.
_PLAN_SQL = (
    "CREATE TEMP TABLE plan (section TEXT, verdict TEXT, a TEXT, b TEXT, c TEXT, "
    "detail TEXT NOT NULL DEFAULT '')",
    # users
    "INSERT INTO plan SELECT 'users', 'added', d.username, NULL, NULL, "
    "trim(CASE WHEN d.active THEN '' ELSE 'inactive; ' END || d.note, '; ') "
    "FROM d_users d WHERE NOT EXISTS (SELECT 1 FROM s_users s WHERE s.username = d.username)",
    "INSERT INTO plan SELECT 'users', 'changed', d.username, NULL, NULL, "
    "trim(CASE WHEN u.hashed_password IS NOT d.hash THEN "
    "  CASE WHEN d.note <> '' THEN 'password removed (' || d.note || '); ' "
    "  ELSE 'password; ' END ELSE '' END || "
    f"CASE WHEN ({_S_ACTIVE}) <> d.active THEN "
    "  CASE WHEN d.active THEN 'made active' ELSE 'made inactive' END ELSE '' END, '; ') "
    "FROM d_users d JOIN main.users u ON u.username = d.username "
    f"WHERE u.hashed_password IS NOT d.hash OR ({_S_ACTIVE}) <> d.active",
    "INSERT INTO plan SELECT 'users', "
    "CASE WHEN :all OR EXISTS (SELECT 1 FROM b_users b WHERE b.username = s.username) "
    "THEN 'removed' ELSE 'kept' END, s.username, NULL, NULL, "
    "CASE WHEN :all THEN 'only in the service file' "
    "WHEN EXISTS (SELECT 1 FROM b_users b WHERE b.username = s.username) "
    "THEN 'deleted in AccessGuard' ELSE 'only in the service file' END "
    "FROM s_users s WHERE NOT EXISTS (SELECT 1 FROM d_users d WHERE d.username = s.username)",
    # roles
    "INSERT INTO plan SELECT 'roles', 'added', d.name, NULL, NULL, '' FROM d_roles d "
    "WHERE NOT EXISTS (SELECT 1 FROM s_roles s WHERE s.name = d.name)",
    "INSERT INTO plan SELECT 'roles', "
    "CASE WHEN :all OR EXISTS (SELECT 1 FROM b_roles b WHERE b.name = s.name) "
    "THEN 'removed' ELSE 'kept' END, s.name, NULL, NULL, "
    "CASE WHEN NOT :all AND EXISTS (SELECT 1 FROM b_roles b WHERE b.name = s.name) "
    "THEN 'deleted in AccessGuard' ELSE 'only in the service file' END "
    "FROM s_roles s WHERE NOT EXISTS (SELECT 1 FROM d_roles d WHERE d.name = s.name)",
    # resources
    "INSERT INTO plan SELECT 'resources', 'added', d.name, NULL, NULL, '' FROM d_resources d "
    "WHERE NOT EXISTS (SELECT 1 FROM s_resources s WHERE s.name = d.name)",
    "INSERT INTO plan SELECT 'resources', 'changed', d.name, NULL, NULL, 'description' "
    "FROM d_resources d JOIN s_resources s ON s.name = d.name "
    "WHERE coalesce(s.description, '') <> d.description",
    "INSERT INTO plan SELECT 'resources', "
    "CASE WHEN :all OR EXISTS (SELECT 1 FROM b_resources b WHERE b.name = s.name) "
    "THEN 'removed' ELSE 'kept' END, s.name, NULL, NULL, "
    "CASE WHEN NOT :all AND EXISTS (SELECT 1 FROM b_resources b WHERE b.name = s.name) "
    "THEN 'deleted in AccessGuard' ELSE 'only in the service file' END "
    "FROM s_resources s WHERE NOT EXISTS (SELECT 1 FROM d_resources d WHERE d.name = s.name)",
    # permissions (resource/action pairs; duplicate rows count once)
    "INSERT INTO plan SELECT 'permissions', 'added', d.resource, d.action, NULL, '' "
    "FROM d_perms d WHERE NOT EXISTS "
    "(SELECT 1 FROM s_perms s WHERE s.resource = d.resource AND s.action = d.action)",
    "INSERT INTO plan SELECT 'permissions', "
    "CASE WHEN :all OR EXISTS (SELECT 1 FROM b_perms b WHERE b.resource = s.resource "
    "AND b.action = s.action) THEN 'removed' ELSE 'kept' END, s.resource, s.action, NULL, "
    "CASE WHEN NOT :all AND EXISTS (SELECT 1 FROM b_perms b WHERE b.resource = s.resource "
    "AND b.action = s.action) THEN 'deleted in AccessGuard' ELSE 'only in the service file' END "
    "FROM s_perms s WHERE NOT EXISTS "
    "(SELECT 1 FROM d_perms d WHERE d.resource = s.resource AND d.action = s.action)",
    # assignments
    "INSERT INTO plan SELECT 'assignments', 'added', d.username, d.role, NULL, '' "
    "FROM d_user_roles d WHERE NOT EXISTS "
    "(SELECT 1 FROM s_user_roles s WHERE s.username = d.username AND s.role = d.role)",
    "INSERT INTO plan SELECT 'assignments', CASE "
    "  WHEN :all OR gone_user OR gone_role THEN 'removed' "
    "  WHEN known IS NULL THEN 'kept' "
    "  WHEN NOT known OR NOT :base OR in_base THEN 'removed' ELSE 'kept' END, "
    "username, role, NULL, CASE "
    "  WHEN :all AND known IS NULL THEN 'only in the service file' "
    "  WHEN gone_user THEN 'user removed' WHEN gone_role THEN 'role removed' "
    "  WHEN known IS NULL THEN 'user only in the service file' "
    "  WHEN NOT known THEN 'user inactive in AccessGuard' "
    "  WHEN NOT :base THEN 'not assigned in AccessGuard' "
    "  WHEN in_base THEN 'removed in AccessGuard' "
    "  ELSE 'added through the service since the last sync' END "
    "FROM (SELECT DISTINCT s.username, s.role, "
    "  (SELECT d.active FROM d_users d WHERE d.username = s.username) AS known, "
    "  EXISTS (SELECT 1 FROM plan p WHERE p.section = 'users' AND p.verdict = 'removed' "
    "          AND p.a = s.username) AS gone_user, "
    "  EXISTS (SELECT 1 FROM plan p WHERE p.section = 'roles' AND p.verdict = 'removed' "
    "          AND p.a = s.role) AS gone_role, "
    "  EXISTS (SELECT 1 FROM b_user_roles b WHERE b.username = s.username "
    "          AND b.role = s.role) AS in_base "
    "  FROM s_user_roles s WHERE NOT EXISTS "
    "  (SELECT 1 FROM d_user_roles d WHERE d.username = s.username AND d.role = s.role))",
    # grants
    "INSERT INTO plan SELECT 'grants', 'added', d.role, d.resource, d.action, '' "
    "FROM d_grants d WHERE NOT EXISTS (SELECT 1 FROM s_grants s WHERE s.role = d.role "
    "AND s.resource = d.resource AND s.action = d.action)",
    "INSERT INTO plan SELECT 'grants', CASE "
    "  WHEN :all OR gone_role OR gone_perm THEN 'removed' "
    "  WHEN NOT known THEN 'kept' "
    "  WHEN NOT :base OR in_base THEN 'removed' ELSE 'kept' END, "
    "role, resource, action, CASE "
    "  WHEN :all AND NOT known THEN 'only in the service file' "
    "  WHEN gone_role THEN 'role removed' WHEN gone_perm THEN 'permission removed' "
    "  WHEN NOT known THEN 'role only in the service file' "
    "  WHEN NOT :base THEN 'not granted in AccessGuard' "
    "  WHEN in_base THEN 'revoked in AccessGuard' "
    "  ELSE 'added through the service since the last sync' END "
    "FROM (SELECT DISTINCT s.role, s.resource, s.action, "
    "  EXISTS (SELECT 1 FROM d_roles d WHERE d.name = s.role) AS known, "
    "  EXISTS (SELECT 1 FROM plan p WHERE p.section = 'roles' AND p.verdict = 'removed' "
    "          AND p.a = s.role) AS gone_role, "
    "  EXISTS (SELECT 1 FROM plan p WHERE p.section = 'permissions' AND p.verdict = 'removed' "
    "          AND p.a = s.resource AND p.b = s.action) AS gone_perm, "
    "  EXISTS (SELECT 1 FROM b_grants b WHERE b.role = s.role AND b.resource = s.resource "
    "          AND b.action = s.action) AS in_base "
    "  FROM s_grants s WHERE NOT EXISTS (SELECT 1 FROM d_grants d WHERE d.role = s.role "
    "  AND d.resource = s.resource AND d.action = s.action))",
    # Links naming a row that does not exist: the service ignores them; removed on request.
    "INSERT INTO plan SELECT 'assignments', 'removed', '#' || ur.user_id, '#' || ur.role_id, "
    "NULL, 'names a missing user or role' FROM main.user_roles ur WHERE :all AND ("
    "NOT EXISTS (SELECT 1 FROM main.users u WHERE u.id = ur.user_id) OR "
    "NOT EXISTS (SELECT 1 FROM main.roles r WHERE r.id = ur.role_id))",
    "INSERT INTO plan SELECT 'grants', 'removed', '#' || rp.role_id, '#' || rp.permission_id, "
    "NULL, 'names a missing role or permission' FROM main.role_permissions rp WHERE :all AND ("
    "NOT EXISTS (SELECT 1 FROM main.roles r WHERE r.id = rp.role_id) OR "
    "NOT EXISTS (SELECT 1 FROM main.permissions p WHERE p.id = rp.permission_id))",
    "CREATE INDEX temp.plan_key ON plan (section, verdict, a, b, c)",
)

_REMOVED = "SELECT {cols} FROM plan WHERE section = '{section}' AND verdict = 'removed'"

# Applying the plan: removals first (links, then records), then records, then links.
APPLY_SQL = (
    "DELETE FROM main.user_roles WHERE rowid IN (SELECT s.rid FROM s_user_roles s "
    "JOIN plan p ON p.section = 'assignments' AND p.verdict = 'removed' "
    "AND p.a = s.username AND p.b = s.role)",
    "DELETE FROM main.role_permissions WHERE rowid IN (SELECT s.rid FROM s_grants s "
    "JOIN plan p ON p.section = 'grants' AND p.verdict = 'removed' "
    "AND p.a = s.role AND p.b = s.resource AND p.c = s.action)",
    # dangling links (only planned with remove_service_only)
    "DELETE FROM main.user_roles WHERE :all AND ("
    "user_id NOT IN (SELECT id FROM main.users) OR role_id NOT IN (SELECT id FROM main.roles))",
    "DELETE FROM main.role_permissions WHERE :all AND ("
    "role_id NOT IN (SELECT id FROM main.roles) OR "
    "permission_id NOT IN (SELECT id FROM main.permissions))",
    "DELETE FROM main.users WHERE username IN (" + _REMOVED.format(cols="a", section="users") + ")",
    "DELETE FROM main.roles WHERE name IN (" + _REMOVED.format(cols="a", section="roles") + ")",
    "DELETE FROM main.resources WHERE name IN ("
    + _REMOVED.format(cols="a", section="resources")
    + ")",
    "DELETE FROM main.permissions WHERE (resource, action) IN ("
    + _REMOVED.format(cols="a, b", section="permissions")
    + ")",
    "INSERT INTO main.users (username, hashed_password, is_active) "
    "SELECT d.username, d.hash, d.active FROM d_users d JOIN plan p "
    "ON p.section = 'users' AND p.verdict = 'added' AND p.a = d.username ORDER BY d.username",
    # A NULL is_active that already means what AccessGuard says is left as it is.
    "UPDATE main.users SET "
    "hashed_password = (SELECT d.hash FROM d_users d WHERE d.username = users.username), "
    "is_active = CASE WHEN ("
    + _ACTIVE.format(v="is_active")
    + ") = (SELECT d.active FROM d_users d WHERE d.username = users.username) "
    "THEN is_active ELSE (SELECT d.active FROM d_users d WHERE d.username = users.username) END "
    "WHERE username IN (SELECT a FROM plan WHERE section = 'users' AND verdict = 'changed')",
    "INSERT INTO main.roles (name) SELECT a FROM plan "
    "WHERE section = 'roles' AND verdict = 'added' ORDER BY a",
    "INSERT INTO main.resources (name, description) SELECT d.name, d.description "
    "FROM d_resources d JOIN plan p ON p.section = 'resources' AND p.verdict = 'added' "
    "AND p.a = d.name ORDER BY d.name",
    "UPDATE main.resources SET "
    "description = (SELECT d.description FROM d_resources d WHERE d.name = resources.name) "
    "WHERE name IN (SELECT a FROM plan WHERE section = 'resources' AND verdict = 'changed')",
    "INSERT INTO main.permissions (resource, action) SELECT a, b FROM plan "
    "WHERE section = 'permissions' AND verdict = 'added' ORDER BY a, b",
    "CREATE TEMP TABLE perm_ids AS SELECT resource, action, min(id) AS id "
    "FROM main.permissions GROUP BY resource, action",
    "CREATE INDEX temp.perm_ids_key ON perm_ids (resource, action)",
    "INSERT INTO main.user_roles (user_id, role_id) SELECT u.id, r.id FROM plan p "
    "JOIN main.users u ON u.username = p.a JOIN main.roles r ON r.name = p.b "
    "WHERE p.section = 'assignments' AND p.verdict = 'added' ORDER BY u.id, r.id",
    "INSERT INTO main.role_permissions (role_id, permission_id) SELECT r.id, x.id FROM plan p "
    "JOIN main.roles r ON r.name = p.a JOIN perm_ids x ON x.resource = p.b AND x.action = p.c "
    "WHERE p.section = 'grants' AND p.verdict = 'added' ORDER BY r.id, x.id",
)


def _key(section: str, a: str, b: str | None, c: str | None) -> str:
    if section == "permissions":
        return f"{b} on {a}"
    if section == "assignments":
        return f"{a} \u2192 {b}"
    if section == "grants":
        return f"{a} \u2192 {c} on {b}"
    return a


_PLAN_TABLES = (
    *(f"{prefix}_{name}" for prefix in "sb"
      for name in ("users", "roles", "resources", "perms", "user_roles", "grants")),
    "plan",
)


def drop_plan(svc: Connection) -> None:
    """Forget a plan (its TEMP tables), to compute it again."""
    for table in _PLAN_TABLES:
        svc.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{table}")


def build_plan(
    svc: Connection,
    target: Path,
    new_file: bool,
    *,
    remove_service_only: bool,
    has_base: bool,
    state: str = "main",
) -> PublishPlan:
    """Compute the plan in TEMP tables and read it back (counts, samples, fingerprint).

    Args:
        state: the schema holding the service tables to compare with: ``main`` (the file,
            under its lock) or an attached snapshot of it (rowids are the file's own).
    """
    for statement in _state_sql(state, "s"):
        svc.exec_driver_sql(statement)
    if has_base:
        for statement in _state_sql("base", "b"):
            svc.exec_driver_sql(statement)
    else:
        for statement in _EMPTY_BASELINE:
            svc.exec_driver_sql(statement)
    params = {"all": int(remove_service_only), "base": int(has_base)}
    for statement in _PLAN_SQL:
        # sqlite3 ignores the names a statement lacks
        svc.exec_driver_sql(statement.replace("main.", f"{state}."), params)
    return read_plan(
        svc, target, new_file, remove_service_only=remove_service_only, has_base=has_base
    )


def read_plan(
    svc: Connection, target: Path, new_file: bool, *, remove_service_only: bool, has_base: bool
) -> PublishPlan:
    """The plan ``build_plan`` left in the TEMP tables, as a value."""
    del has_base  # the plan rows already say what the baseline decided
    counts = {
        (section, verdict): int(n)
        for section, verdict, n in svc.exec_driver_sql(
            "SELECT section, verdict, count(*) FROM plan GROUP BY section, verdict"
        )
    }
    digest = hashlib.sha256()
    for row in svc.exec_driver_sql(
        "SELECT section, verdict, a, b, c FROM plan ORDER BY section, verdict, a, b, c"
    ):
        digest.update(repr(tuple(row)).encode())
    samples: list[PlannedChange] = []
    for section, verdict in ((s, v) for s in SECTIONS for v in VERDICTS if (s, v) in counts):
        for a, b, c, detail in svc.exec_driver_sql(
            "SELECT a, b, c, detail FROM plan WHERE section = ? AND verdict = ? "
            "ORDER BY a, b, c LIMIT ?",
            (section, verdict, SAMPLE_LIMIT),
        ):
            samples.append(PlannedChange(section, verdict, _key(section, a, b, c), detail))
    kept_users, kept_user_links = svc.exec_driver_sql(
        "SELECT (SELECT count(*) FROM plan WHERE section = 'users' AND verdict = 'kept'), "
        "(SELECT count(*) FROM plan p JOIN s_user_roles s ON s.username = p.a "
        " WHERE p.section = 'users' AND p.verdict = 'kept')"
    ).one()
    kept_for_known = svc.exec_driver_sql(
        "SELECT count(*) FROM plan WHERE verdict = 'kept' AND "
        "detail = 'added through the service since the last sync'"
    ).scalar_one()
    unusable = svc.exec_driver_sql("SELECT count(*) FROM d_users WHERE note <> ''").scalar_one()
    return PublishPlan(
        notes=tuple(_case_twins(svc)),
        target=target,
        new_file=new_file,
        counts=counts,
        samples=tuple(samples),
        fingerprint=digest.hexdigest(),
        kept_users=int(kept_users),
        kept_user_links=int(kept_user_links),
        kept_for_known=int(kept_for_known),
        unusable_hashes=int(unusable),
        remove_service_only=remove_service_only,
    )




def _case_twins(svc: Connection) -> Iterator[str]:
    """Notes on kept service-only names that differ from AccessGuard's only by case: the
    service keeps them apart (it compares exactly), an import would refuse them."""
    for section, table, column, what in (
        ("users", "d_users", "username", "user"),
        ("roles", "d_roles", "name", "role"),
    ):
        svc.exec_driver_sql(
            f"CREATE INDEX IF NOT EXISTS temp.{table}_folded ON {table} (lower({column}))"
        )
        pairs = svc.exec_driver_sql(
            f"SELECT p.a, d.{column} FROM plan p JOIN {table} d "
            f"ON lower(d.{column}) = lower(p.a) WHERE p.section = '{section}' "
            "AND p.verdict = 'kept' ORDER BY p.a LIMIT 6"
        ).all()
        if pairs:
            shown = ", ".join(f"\u201c{a}\u201d ~ \u201c{b}\u201d" for a, b in pairs[:5])
            yield (
                f"Some {what} names only in the service file differ from AccessGuard's only "
                f"by case ({shown}{', …' if len(pairs) > 5 else ''}): the service keeps them "
                "apart, AccessGuard would refuse to import both. Rename or remove one of each."
            )


def _not_kept(section: str, columns: str) -> str:
    return (
        f"({columns}) NOT IN (SELECT {', '.join('abc'[: columns.count(',') + 1])} FROM plan "
        f"WHERE section = '{section}' AND verdict = 'kept')"
    )


# The next baseline of linked editing: the service tables as this publish commits them,
# less the rows it kept only because they were added through the service since the last
# sync (AccessGuard has not seen them: the next refresh must still find them new).
KEEP_BASELINE_SQL = (
    "CREATE TABLE keep.users AS SELECT * FROM main.users WHERE "
    + _not_kept("users", "username"),
    "CREATE TABLE keep.roles AS SELECT * FROM main.roles WHERE " + _not_kept("roles", "name"),
    "CREATE TABLE keep.resources AS SELECT * FROM main.resources WHERE "
    + _not_kept("resources", "name"),
    "CREATE TABLE keep.permissions AS SELECT * FROM main.permissions WHERE "
    + _not_kept("permissions", "resource, action"),
    "CREATE TABLE keep.user_roles AS SELECT ur.* FROM main.user_roles ur "
    "JOIN main.users u ON u.id = ur.user_id JOIN main.roles r ON r.id = ur.role_id WHERE "
    + _not_kept("assignments", "u.username, r.name"),
    "CREATE TABLE keep.role_permissions AS SELECT rp.* FROM main.role_permissions rp "
    "JOIN main.roles r ON r.id = rp.role_id JOIN main.permissions p ON p.id = rp.permission_id "
    "WHERE " + _not_kept("grants", "r.name, p.resource, p.action"),
)
