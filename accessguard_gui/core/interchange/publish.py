"""Publish an AccessGuard database into the web service's own file (service-schema.md).

The service's check knows only direct roles: a user may do an action on a resource when
a role assigned to them holds that exact permission row. It knows no inheritance, no
expiry, no separation of duty, and ignores ``is_active``. Publishing therefore compiles:

* every role gets the grants of every role it inherits from (names stay meaningful);
* expired assignments are left out, and inactive users are written inactive and without
  any role assignment;
* users without a password (or with a hash the service cannot read) get ``UNUSABLE_HASH``,
  a well-formed Argon2id PHC string no password verifies: the service's login answers
  "wrong password" instead of failing on them.

So afterwards the service answers exactly as ``rbac.check_access`` for every AccessGuard
user, resource and action (names compared exactly, as the service does).

What the service file holds and AccessGuard does not is never removed silently. Rows
about records AccessGuard does not know (users who registered through the service,
roles and permissions made there, their assignments and grants) are *kept* unless
``remove_service_only`` is asked for. The assignments of a user AccessGuard knows and
the grants of a role it knows are AccessGuard's to decide: those it does not have are
removed — unless a *baseline* (a copy of the service file as AccessGuard last saw it,
kept by linked editing) shows they were added through the service since, in which case
they are kept for the next import to pick up. The preview lists every row either way.

The work happens in SQL inside the service file's connection: the compiled state is
streamed into TEMP tables (outside any lock), then one transaction (BEGIN IMMEDIATE with
a busy timeout) takes a timestamped backup, recomputes the plan, checks it is the one
that was previewed, and applies it. No table or column is added to the service file; a
new file gets exactly the service's DDL.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Connection, create_engine, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from ..changes import check_password_hash
from ..database import Database
from ..errors import (
    AccessGuardError,
    ConflictError,
    DatabaseBusyError,
    DatabaseError,
    DatabaseOpenError,
    ValidationError,
)
from ..models import (
    Permission,
    Resource,
    Role,
    RoleInheritance,
    RolePermission,
    User,
    UserRole,
    utcnow,
)
from ..sqlite_files import (
    SQLITE_HEADER,
    copy_file,
    remove_with_side_files,
    sync_folder,
    unused_name,
)
from .service_db import (
    SERVICE_DDL,
    connect_read_only,
    looks_like_service_database,
    service_snapshot,
)

# The hash of a user who cannot sign in to the service: a valid Argon2id PHC string (the
# service's passlib parses it and answers "wrong password"), with today's cost parameters
# so a sign-in attempt takes as long as for any user, a fixed salt that marks it
# ("AccessGuard:no password") and an all-zero digest no password produces.
UNUSABLE_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$QWNjZXNzR3VhcmQ6bm8gcGFzc3dvcmQ$"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
)

BUSY_TIMEOUT_S = 5.0
SAMPLE_LIMIT = 200  # rows per section and verdict the preview lists by name
_BATCH = 5000

SECTIONS = ("users", "roles", "resources", "permissions", "assignments", "grants")
VERDICTS = ("added", "changed", "removed", "kept")


def is_unusable_hash(value: object) -> bool:
    """True for the hash publish writes for a user without a password."""
    return value == UNUSABLE_HASH


@dataclass(frozen=True, slots=True)
class PublishOptions:
    """How to publish.

    Attributes:
        remove_service_only: also delete rows only the service file has (users who
            registered there, roles and permissions made there, links naming missing
            rows). Off by default: they are kept and listed.
        baseline: a copy of the service file as AccessGuard last saw it (linked editing):
            rows absent from it were added through the service since and are kept.
        busy_timeout: seconds to wait for the service to finish a write.
        now: the moment expiries are judged at (default: now).
    """

    remove_service_only: bool = False
    baseline: Path | None = None
    busy_timeout: float = BUSY_TIMEOUT_S
    now: datetime | None = None


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


@dataclass(frozen=True, slots=True)
class PublishResult:
    plan: PublishPlan
    backup: Path | None


class PublishCancelled(AccessGuardError):
    """Cancel was pressed: nothing was written."""

    def __init__(self) -> None:
        super().__init__("Publishing was cancelled; the service file was not changed.")


Progress = Callable[[str], None]


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


def _load_desired(db: Database, svc: Connection, now: datetime, progress: Progress) -> None:
    """Stream the compiled AccessGuard state into TEMP tables of the service connection."""
    for ddl in _DESIRED_DDL:
        svc.exec_driver_sql(ddl)

    def load(table: str, width: int, rows: Iterable[Sequence[Any]]) -> None:
        marks = ", ".join("?" * width)
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append(tuple(row))
            if len(batch) >= _BATCH:
                svc.exec_driver_sql(f"INSERT INTO temp.{table} VALUES ({marks})", batch)
                batch = []
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
_APPLY_SQL = (
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


def _build_plan(
    svc: Connection, target: Path, new_file: bool, options: PublishOptions, has_base: bool
) -> PublishPlan:
    """Compute the plan in TEMP tables and read it back (counts, samples, fingerprint)."""
    for statement in _state_sql("main", "s"):
        svc.exec_driver_sql(statement)
    if has_base:
        for statement in _state_sql("base", "b"):
            svc.exec_driver_sql(statement)
    else:
        for statement in _EMPTY_BASELINE:
            svc.exec_driver_sql(statement)
    params = {"all": int(options.remove_service_only), "base": int(has_base)}
    for statement in _PLAN_SQL:
        svc.exec_driver_sql(statement, params)  # sqlite3 ignores names a statement lacks
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
    for (section, verdict), _n in sorted(counts.items()):
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
        target=target,
        new_file=new_file,
        counts=counts,
        samples=tuple(samples),
        fingerprint=digest.hexdigest(),
        kept_users=int(kept_users),
        kept_user_links=int(kept_user_links),
        kept_for_known=int(kept_for_known),
        unusable_hashes=int(unusable),
        remove_service_only=options.remove_service_only,
    )


# ---------------------------------------------------------------------- connections


def _check_target(target: Path) -> bool:
    """True if ``target`` must be created; refuses anything but a service file."""
    shown = str(target)
    if target.is_dir():
        raise DatabaseOpenError(f"{shown} is a folder, not a service database file.", shown)
    if not target.exists() or target.stat().st_size == 0:
        if not target.parent.is_dir():
            raise DatabaseOpenError(f"The folder {target.parent} does not exist.", shown)
        return True
    with open(target, "rb") as fh:
        if not fh.read(len(SQLITE_HEADER)).startswith(SQLITE_HEADER):
            raise DatabaseOpenError(f"{shown} is not an SQLite database file.", shown)
    if not looks_like_service_database(target):
        raise DatabaseOpenError(
            f"{shown} is not an AccessGuard service database (its tables are not the "
            "service's); publishing writes only into service files.",
            shown,
        )
    return False


@contextmanager
def _service_connection(
    path: Path | None, *, write: bool, timeout: float, baseline: Path | None
) -> Iterator[Connection]:
    """A SQLAlchemy connection to the service file (read-only for a preview, or an
    in-memory file with the service's DDL when ``path`` is None), in autocommit mode at
    the driver so that this module says BEGIN itself."""

    def connect() -> sqlite3.Connection:
        if path is None:
            conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            for ddl in SERVICE_DDL:
                conn.execute(ddl)
            return conn
        if not write:
            conn = connect_read_only(path, timeout=timeout)
        else:
            conn = sqlite3.connect(
                path.as_uri(), uri=True, timeout=timeout, isolation_level=None
            )
        return conn

    engine = create_engine("sqlite://", creator=connect, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            assert isinstance(raw, sqlite3.Connection)
            raw.execute("PRAGMA temp_store = FILE")  # a big publish's plan stays on disk
            if baseline is not None:
                raw.execute("ATTACH DATABASE ? AS base", (baseline.absolute().as_uri() + "?mode=ro",))
            try:
                yield conn
            finally:
                if raw.in_transaction:
                    raw.rollback()
    finally:
        engine.dispose()


def _translate(exc: BaseException, target: Path) -> AccessGuardError:
    text = str(getattr(exc, "orig", exc)).lower()
    if "locked" in text or "busy" in text:
        return DatabaseBusyError(
            f"The service database {target} is busy: the service (or another program) is "
            "writing to it. Nothing was written; try again in a moment."
        )
    if "readonly" in text or "read-only" in text or "permission" in text:
        return DatabaseError(
            f"The service database {target} cannot be written (read-only file or folder). "
            "Nothing was written."
        )
    return DatabaseError(f"The service database {target} could not be used: {exc}")


def _typed(exc: BaseException, target: Path) -> AccessGuardError | None:
    """An sqlite3 failure (bare or wrapped by SQLAlchemy) as a typed error; None otherwise."""
    if isinstance(exc, sqlite3.Error) or isinstance(getattr(exc, "orig", None), sqlite3.Error):
        return _translate(exc, target)
    return None


# ---------------------------------------------------------------------- public API


def preview_publish(
    db: Database,
    target: str | os.PathLike[str],
    options: PublishOptions = PublishOptions(),
    *,
    progress: Progress | None = None,
) -> PublishPlan:
    """What publishing ``db`` into ``target`` would change; writes nothing anywhere.

    Raises:
        DatabaseOpenError: ``target`` exists and is not a service file.
        DatabaseBusyError: the service held its file locked longer than the timeout.
    """
    path = Path(target).expanduser().absolute()
    new_file = _check_target(path)
    say = progress or (lambda _text: None)
    now = options.now or utcnow()
    try:
        with ExitStack() as stack:
            # A private snapshot: the service is never kept waiting while we compare.
            source = None if new_file else stack.enter_context(service_snapshot(path))
            svc = stack.enter_context(
                _service_connection(
                    source, write=False, timeout=options.busy_timeout, baseline=options.baseline
                )
            )
            _load_desired(db, svc, now, say)
            say("Comparing with the service file")
            svc.exec_driver_sql("BEGIN")
            return _build_plan(svc, path, new_file, options, options.baseline is not None)
    except Exception as exc:
        typed = _typed(exc, path)
        if typed is not None:
            raise typed from exc
        raise


def backup_name(path: Path, now: datetime | None = None) -> Path:
    """``accessguard.backup-20261130-071500.db`` beside the service file."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return unused_name(path.with_name(f"{path.stem}.backup-{stamp}{path.suffix or '.db'}"))


def publish(
    db: Database,
    target: str | os.PathLike[str],
    options: PublishOptions = PublishOptions(),
    *,
    expected: PublishPlan | None = None,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> PublishResult:
    """Write ``db`` into the service file ``target`` (created if missing) in one
    transaction, after a timestamped backup of an existing file.

    Args:
        expected: the previewed plan; if the file or the database changed since, so that
            the changes would differ, nothing is written (ConflictError).
        cancelled: polled between steps; True rolls back and raises PublishCancelled.

    Returns:
        the plan that was applied and the backup taken (None for a new file).

    Raises:
        DatabaseBusyError: the service holds its file; nothing written.
        ConflictError: the changes differ from ``expected``; nothing written.
        PublishCancelled, DatabaseOpenError, DatabaseError.
    """
    path = Path(target).expanduser().absolute()
    new_file = _check_target(path)
    say = progress or (lambda _text: None)
    stop = cancelled or (lambda: False)
    now = options.now or utcnow()

    def check_cancel() -> None:
        if stop():
            raise PublishCancelled()

    work = path
    if new_file:
        work = path.with_name(path.name + ".partial")
        remove_with_side_files(work)
        fd = os.open(work, os.O_CREAT | os.O_EXCL | os.O_WRONLY, stat.S_IRUSR | stat.S_IWUSR)
        os.close(fd)
    backup: Path | None = None
    try:
        with _service_connection(
            work, write=True, timeout=options.busy_timeout, baseline=options.baseline
        ) as svc:
            _load_desired(db, svc, now, say)
            check_cancel()
            say("Waiting for the service file's write lock")
            try:
                svc.exec_driver_sql("BEGIN IMMEDIATE")
            except Exception as exc:
                raise _translate(exc, path) from exc
            if new_file:
                for ddl in SERVICE_DDL:
                    svc.exec_driver_sql(ddl)
            else:
                say("Backing up the service file")
                backup = backup_name(path)
                try:
                    copy_file(path, backup, mode=stat.S_IRUSR | stat.S_IWUSR)
                except OSError as exc:
                    backup = None
                    raise DatabaseError(
                        f"No backup of {path} could be written next to it ({exc.strerror}); "
                        "nothing was written."
                    ) from exc
            say("Comparing with the service file")
            plan = _build_plan(svc, path, new_file, options, options.baseline is not None)
            if expected is not None and expected.fingerprint != plan.fingerprint:
                raise _changed(path)
            check_cancel()
            say("Writing the service file")
            params = {"all": int(options.remove_service_only)}
            for statement in _APPLY_SQL:
                svc.exec_driver_sql(statement, params)
            check_cancel()
            try:
                svc.exec_driver_sql("COMMIT")
            except Exception as exc:
                raise _translate(exc, path) from exc
        if new_file:
            os.replace(work, path)
            sync_folder(path.parent)
    except BaseException as exc:
        _discard(backup, work if new_file else None)
        typed = _typed(exc, path)
        if typed is not None:
            raise typed from exc
        raise
    return PublishResult(plan, backup)


def _changed(path: Path) -> ConflictError:
    error = ConflictError("service file", {})
    error.message = (
        f"{path} or the database changed since the preview, so publishing would now do "
        "something else. Nothing was written; look at the preview again."
    )
    return error


def _discard(backup: Path | None, partial: Path | None) -> None:
    """After a failure nothing is left: the backup of an unchanged file, a half-made file."""
    if backup is not None:
        backup.unlink(missing_ok=True)
    if partial is not None:
        remove_with_side_files(partial)


def publish_command(
    db: str,
    to: str,
    dry_run: bool,
    out: TextIO,
    err: TextIO,
    *,
    remove_service_only: bool = False,
) -> int:
    """``python -m accessguard_gui publish DB --to SERVICE_DB [--dry-run]``.

    Prints the preview to ``out``; publishes unless ``dry_run``. Returns the exit status:
    0 on success, 1 when anything is refused (the reason on ``err``).
    """
    options = PublishOptions(remove_service_only=remove_service_only)
    try:
        with Database(db, create=False, read_only=True) as source:
            if dry_run:
                plan = preview_publish(source, to, options)
                print(plan.report(), file=out)
                print("Dry run: nothing was written.", file=out)
                return 0
            result = publish(source, to, options)
    except AccessGuardError as exc:
        print(f"publish: {exc}", file=err)
        return 1
    print(result.plan.report(), file=out)
    if result.backup is not None:
        print(f"Published. The previous file was backed up to {result.backup}.", file=out)
    else:
        print(f"Published into the new file {result.plan.target}.", file=out)
    return 0
