"""The AccessGuard web service's own ``accessguard.db``: recognise it, describe it, read it.

The service (``shared/guide/service-schema.md``) keeps six plain tables in an SQLite file in
rollback-journal mode, written by a running service at any time. Nothing here ever writes
to it: every look goes through a ``mode=ro`` connection (which, in rollback-journal mode,
creates no side file and changes no byte), and an import reads a private snapshot taken
with SQLite's backup API in one short read transaction, so the service is never kept
waiting for the length of an import and the import sees one consistent state.

Only ``publish.py`` writes to a service file.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import (
    DatabaseBusyError,
    DatabaseError,
    DatabaseOpenError,
    ServiceDatabaseFound,
)
from ..sqlite_files import SQLITE_HEADER, side_files
from .records import (
    Origin,
    PermissionRecord,
    Record,
    ResourceRecord,
    RolePermissionRecord,
    RoleRecord,
    SourceProblem,
    UserRecord,
    UserRoleRecord,
)

# The service's schema, statement by statement, exactly as service-schema.md gives it.
SERVICE_DDL: tuple[str, ...] = (
    "CREATE TABLE users (\n"
    "    id INTEGER NOT NULL, username VARCHAR NOT NULL, hashed_password VARCHAR NOT NULL,\n"
    "    is_active BOOLEAN, PRIMARY KEY (id))",
    "CREATE INDEX ix_users_id ON users (id)",
    "CREATE UNIQUE INDEX ix_users_username ON users (username)",
    "CREATE TABLE roles (id INTEGER NOT NULL, name VARCHAR NOT NULL, PRIMARY KEY (id), "
    "UNIQUE (name))",
    "CREATE INDEX ix_roles_id ON roles (id)",
    "CREATE TABLE permissions (\n"
    "    id INTEGER NOT NULL, resource VARCHAR NOT NULL, action VARCHAR NOT NULL, "
    "PRIMARY KEY (id))",
    "CREATE INDEX ix_permissions_id ON permissions (id)",
    "CREATE TABLE resources (\n"
    "    id INTEGER NOT NULL, name VARCHAR NOT NULL, description VARCHAR,\n"
    "    PRIMARY KEY (id), UNIQUE (name))",
    "CREATE INDEX ix_resources_id ON resources (id)",
    "CREATE TABLE user_roles (\n"
    "    user_id INTEGER NOT NULL, role_id INTEGER NOT NULL, PRIMARY KEY (user_id, role_id),\n"
    "    FOREIGN KEY(user_id) REFERENCES users (id), "
    "FOREIGN KEY(role_id) REFERENCES roles (id))",
    "CREATE TABLE role_permissions (\n"
    "    role_id INTEGER NOT NULL, permission_id INTEGER NOT NULL, "
    "PRIMARY KEY (role_id, permission_id),\n"
    "    FOREIGN KEY(role_id) REFERENCES roles (id), "
    "FOREIGN KEY(permission_id) REFERENCES permissions (id))",
)

# The columns recognition asks for, per table (the service may have added others).
SERVICE_COLUMNS: dict[str, frozenset[str]] = {
    "users": frozenset({"id", "username", "hashed_password", "is_active"}),
    "roles": frozenset({"id", "name"}),
    "permissions": frozenset({"id", "resource", "action"}),
    "resources": frozenset({"id", "name", "description"}),
    "user_roles": frozenset({"user_id", "role_id"}),
    "role_permissions": frozenset({"role_id", "permission_id"}),
}

SERVICE_TABLES: tuple[str, ...] = tuple(SERVICE_COLUMNS)

# How long a look waits for the service to finish a write before saying it is busy.
READ_TIMEOUT_S = 5.0


def read_only_uri(path: Path) -> str:
    """The URI a look at ``path`` opens: ``mode=ro`` (shares the service's locks, writes
    nothing), or ``immutable=1`` for a WAL-mode file nobody has open (a read-only open of
    such a file would have to create -wal/-shm files beside it)."""
    uri = path.absolute().as_uri()
    try:
        with open(path, "rb") as fh:
            header = fh.read(20)
    except OSError:
        header = b""
    in_wal_mode = len(header) == 20 and header[18] == 2 and header[19] == 2
    idle = not any(side.exists() for side in side_files(path))
    return uri + ("?immutable=1" if in_wal_mode and idle else "?mode=ro")


def connect_read_only(path: Path, *, timeout: float = READ_TIMEOUT_S) -> sqlite3.Connection:
    """A connection that can only read ``path`` (autocommit: each statement its own read
    transaction unless the caller says BEGIN)."""
    return sqlite3.connect(
        read_only_uri(path), uri=True, timeout=timeout, isolation_level=None
    )


def _service_shape(conn: sqlite3.Connection) -> bool:
    tables = {
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    }
    if "alembic_version" in tables:
        return False  # an AccessGuard desktop database (whose tables share some names)
    for table, wanted in SERVICE_COLUMNS.items():
        if table not in tables:
            return False
        columns = {row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')}
        if not wanted <= columns:
            return False
    return True


def looks_like_service_database(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` is an SQLite file with the service's tables and columns.

    Never raises and never writes: a file that cannot be read is simply not one.
    """
    file = Path(path)
    try:
        if not file.is_file():
            return False
        with open(file, "rb") as fh:
            if not fh.read(len(SQLITE_HEADER)).startswith(SQLITE_HEADER):
                return False
        conn = connect_read_only(file, timeout=2.0)
    except (OSError, sqlite3.Error):
        return False
    try:
        return _service_shape(conn)
    except sqlite3.Error:
        # A file whose writer stopped mid-write (a hot journal) refuses a read-only
        # look: its schema, which the service never changes, is read as it lies.
        return _immutable_shape(file)
    finally:
        conn.close()


def _immutable_shape(file: Path) -> bool:
    if not Path(str(file) + "-journal").exists():
        return False
    try:
        conn = sqlite3.connect(file.absolute().as_uri() + "?immutable=1", uri=True)
    except sqlite3.Error:
        return False
    try:
        return _service_shape(conn)
    except sqlite3.Error:
        return False
    finally:
        conn.close()


def _count(value: int, one: str, many: str) -> str:
    return f"{value:,} {one if value == 1 else many}"


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    """What a service file holds, for the "this is a service database" choice.

    Attributes:
        path: the file.
        users, inactive_users, roles, resources, permissions, user_roles, grants: row
            counts (``permissions`` counts distinct resource/action pairs).
        null_active: users whose ``is_active`` is NULL (active, as the service defaults).
        unlisted_resources: resource names used by permissions without a resources row.
        duplicate_permissions: permission rows repeating another's resource and action.
        argon2i_hashes: users whose hash is the older ``$argon2i$`` variant.
        dangling_links: assignments or grants naming a missing user, role or permission.
    """

    path: Path
    users: int
    inactive_users: int
    roles: int
    resources: int
    permissions: int
    user_roles: int
    grants: int
    null_active: int
    unlisted_resources: int
    duplicate_permissions: int
    argon2i_hashes: int
    dangling_links: int

    def summary(self) -> str:
        """"an AccessGuard service database: 1,204 users, 37 roles, …"."""
        parts = [
            _count(self.users, "user", "users"),
            _count(self.roles, "role", "roles"),
            _count(self.resources, "resource", "resources"),
            _count(self.permissions, "permission", "permissions"),
            _count(self.user_roles, "role assignment", "role assignments"),
            _count(self.grants, "permission grant", "permission grants"),
        ]
        return "an AccessGuard service database: " + ", ".join(parts)

    def notes(self) -> list[str]:
        """The file's oddities in plain words (what an import will make of them)."""
        notes: list[str] = []
        if self.inactive_users:
            notes.append(f"{_count(self.inactive_users, 'user is', 'users are')} inactive.")
        if self.null_active:
            notes.append(
                f"{_count(self.null_active, 'user has', 'users have')} no active flag "
                "(NULL): imported as active, as the service treats them."
            )
        if self.unlisted_resources:
            notes.append(
                f"{_count(self.unlisted_resources, 'resource name is', 'resource names are')} "
                "used by permissions without a resources row: an import creates them."
            )
        if self.duplicate_permissions:
            notes.append(
                f"{_count(self.duplicate_permissions, 'permission row repeats', 'permission rows repeat')}"
                " another: an import keeps one of each."
            )
        if self.argon2i_hashes:
            notes.append(
                f"{_count(self.argon2i_hashes, 'password hash uses', 'password hashes use')} "
                "the older $argon2i$ variant: it still verifies, and AccessGuard renews it "
                "at the next password check."
            )
        if self.dangling_links:
            notes.append(
                f"{_count(self.dangling_links, 'assignment or grant names', 'assignments or grants name')}"
                " a user, role or permission that does not exist: the service ignores them, "
                "and so does an import."
            )
        return notes


_COUNTS_SQL = """
SELECT
  (SELECT count(*) FROM users),
  (SELECT count(*) FROM users WHERE is_active IS NOT NULL AND NOT is_active),
  (SELECT count(*) FROM roles),
  (SELECT count(*) FROM (SELECT name FROM resources UNION SELECT resource FROM permissions)),
  (SELECT count(*) FROM (SELECT DISTINCT resource, action FROM permissions)),
  (SELECT count(*) FROM user_roles),
  (SELECT count(*) FROM role_permissions),
  (SELECT count(*) FROM users WHERE is_active IS NULL),
  (SELECT count(*) FROM (SELECT resource FROM permissions EXCEPT SELECT name FROM resources)),
  (SELECT count(*) FROM permissions) -
      (SELECT count(*) FROM (SELECT DISTINCT resource, action FROM permissions)),
  (SELECT count(*) FROM users WHERE hashed_password LIKE '$argon2i$%'),
  (SELECT count(*) FROM user_roles ur
     WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = ur.user_id)
        OR NOT EXISTS (SELECT 1 FROM roles r WHERE r.id = ur.role_id)) +
  (SELECT count(*) FROM role_permissions rp
     WHERE NOT EXISTS (SELECT 1 FROM roles r WHERE r.id = rp.role_id)
        OR NOT EXISTS (SELECT 1 FROM permissions p WHERE p.id = rp.permission_id))
"""


def _refusal(path: Path, exc: sqlite3.Error) -> DatabaseError:
    shown = str(path)
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return DatabaseBusyError(
            f"{shown} is being written by the service right now \u2014 try again in a moment."
        )
    if "readonly" in text or "read-only" in text or "rollback" in text:
        return DatabaseOpenError(
            f"{shown} holds an interrupted write of the service (a -journal file beside it). "
            "Start the service once, or open the file with sqlite3, so that SQLite can roll "
            "it back; then try again.",
            shown,
        )
    return DatabaseOpenError(f"{shown} cannot be read: {exc}.", shown)


def inspect_service_database(
    path: str | os.PathLike[str], *, timeout: float = READ_TIMEOUT_S
) -> ServiceInfo:
    """Count what a service file holds, in one read transaction, writing nothing.

    Raises:
        DatabaseOpenError: not a service database, or it cannot be read (busy: the
            DatabaseBusyError subclass).
    """
    file = Path(path).absolute()
    refused = DatabaseOpenError(f"{file} is not an AccessGuard service database.", str(file))
    try:
        with open(file, "rb") as fh:
            if not fh.read(len(SQLITE_HEADER)).startswith(SQLITE_HEADER):
                raise refused
    except OSError as exc:
        raise DatabaseOpenError(f"{file} cannot be read: {exc.strerror}.", str(file)) from exc
    try:
        conn = connect_read_only(file, timeout=timeout)
        try:
            conn.execute("BEGIN")  # shape and counts from one consistent state
            if not _service_shape(conn):
                raise refused
            row = conn.execute(_COUNTS_SQL).fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise _refusal(file, exc) from exc
    return ServiceInfo(file, *(int(v or 0) for v in row))


def change_counter(path: Path) -> int | None:
    """The file change counter of a rollback-journal file (header bytes 24-27: SQLite
    bumps it at every commit), or None for a WAL-mode file, where it says nothing.
    Meaningful while a lock keeps writers out."""
    try:
        with open(path, "rb") as fh:
            header = fh.read(100)
    except OSError:
        return None
    if len(header) < 100 or header[18] != 1 or header[19] != 1:
        return None
    return int.from_bytes(header[24:28], "big")


def snapshot_to(path: str | os.PathLike[str], dest: Path) -> int | None:
    """Copy a service file to ``dest`` with SQLite's backup API in a single step: one
    short read lock on the service file, and a consistent copy even while it runs.

    Returns:
        the file's change counter under the same lock (``change_counter``): if it is
        the same later, under the write lock, the copy still holds what the file holds.
    """
    file = Path(path).absolute()
    dest.unlink(missing_ok=True)
    try:
        source = connect_read_only(file)
        try:
            source.execute("BEGIN")
            source.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the lock
            counter = change_counter(file)
            target = sqlite3.connect(dest)
            try:
                source.backup(target)
            finally:
                target.close()
            source.execute("COMMIT")
        finally:
            source.close()
    except sqlite3.Error as exc:
        dest.unlink(missing_ok=True)
        raise _refusal(file, exc) from exc
    return counter


def service_database_found(path: str | os.PathLike[str]) -> None:
    """Raise the open error of a service file; return if the file is not one. Called by
    ``Database`` before it refuses (or recovers) a file that is not its own.

    Raises:
        ServiceDatabaseFound: it is one (its summary and oddities).
        DatabaseOpenError: it is one that cannot be read now: busy (the
            DatabaseBusyError subclass), or interrupted mid-write — each says why.
    """
    if not looks_like_service_database(path):
        return None
    info = inspect_service_database(path)
    raise ServiceDatabaseFound(str(path), info.summary(), info.notes())


@contextmanager
def service_snapshot(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A private, consistent copy of a service file (``snapshot_to``), deleted afterwards:
    an import reads it at its own pace without holding the service up."""
    folder = Path(tempfile.mkdtemp(prefix="ag-service-"))
    try:
        copy = folder / "snapshot.db"
        snapshot_to(path, copy)
        yield copy
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def is_active_value(value: object) -> bool:
    """The service's ``is_active``: NULL (a row written by hand) means active."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "f", "no", "")
    return bool(value)


# The tables a service file speaks for in full (mirror mode empties what it lacks there).
COVERS = frozenset(
    {"users", "roles", "resources", "permissions", "user_roles", "role_permissions"}
)

# A baseline (the file as AccessGuard last saw it) as indexed TEMP tables, so that "only
# what changed since" is a set of indexed anti-joins, whatever indexes the copy has.
_BASELINE_SQL = (
    "CREATE TEMP TABLE b_users AS SELECT username, hashed_password, is_active FROM base.users",
    "CREATE INDEX temp.b_users_key ON b_users (username)",
    "CREATE TEMP TABLE b_roles AS SELECT DISTINCT name FROM base.roles",
    "CREATE INDEX temp.b_roles_key ON b_roles (name)",
    "CREATE TEMP TABLE b_resources AS SELECT name, description FROM base.resources",
    "CREATE INDEX temp.b_resources_key ON b_resources (name)",
    "CREATE TEMP TABLE b_perms AS SELECT DISTINCT resource, action FROM base.permissions",
    "CREATE INDEX temp.b_perms_key ON b_perms (resource, action)",
    "CREATE TEMP TABLE b_user_roles AS SELECT DISTINCT u.username, r.name AS role "
    "FROM base.user_roles ur JOIN base.users u ON u.id = ur.user_id "
    "JOIN base.roles r ON r.id = ur.role_id",
    "CREATE INDEX temp.b_user_roles_key ON b_user_roles (username, role)",
    "CREATE TEMP TABLE b_grants AS SELECT DISTINCT r.name AS role, p.resource, p.action "
    "FROM base.role_permissions rp JOIN base.roles r ON r.id = rp.role_id "
    "JOIN base.permissions p ON p.id = rp.permission_id",
    "CREATE INDEX temp.b_grants_key ON b_grants (role, resource, action)",
)


def _queries(since: bool) -> dict[str, str]:
    """The reading statements; with ``since`` only rows absent from (or different in)
    the baseline. Origins name the table and the row id: "users:17" in a report."""

    def new(condition: str) -> str:
        return f"AND NOT EXISTS ({condition})" if since else ""

    return {
        "users": "SELECT id, username, hashed_password, is_active FROM main.users u WHERE 1 "
        + new(
            "SELECT 1 FROM b_users b WHERE b.username = u.username AND "
            "b.hashed_password IS u.hashed_password AND b.is_active IS u.is_active"
        )
        + " ORDER BY id",
        "roles": "SELECT id, name FROM main.roles r WHERE 1 "
        + new("SELECT 1 FROM b_roles b WHERE b.name = r.name")
        + " ORDER BY id",
        "resources": "SELECT id, name, description FROM main.resources r WHERE 1 "
        + new(
            "SELECT 1 FROM b_resources b WHERE b.name = r.name "
            "AND b.description IS r.description"
        )
        + " ORDER BY id",
        # A resource name used only by permissions: the import creates it.
        "unlisted": "SELECT min(p.id), p.resource FROM main.permissions p "
        "WHERE NOT EXISTS (SELECT 1 FROM main.resources r WHERE r.name = p.resource) "
        + new("SELECT 1 FROM b_perms b WHERE b.resource = p.resource")
        + new("SELECT 1 FROM b_resources b WHERE b.name = p.resource")
        + " GROUP BY p.resource ORDER BY min(p.id)",
        # Duplicate permission rows collapse to the first.
        "permissions": "SELECT min(id), resource, action FROM main.permissions p WHERE 1 "
        + new("SELECT 1 FROM b_perms b WHERE b.resource = p.resource AND b.action = p.action")
        + " GROUP BY resource, action ORDER BY min(id)",
        # Links naming a missing row are left out, as the service's check leaves them out.
        "user_roles": "SELECT ur.rowid, u.username, r.name FROM main.user_roles ur "
        "JOIN main.users u ON u.id = ur.user_id JOIN main.roles r ON r.id = ur.role_id WHERE 1 "
        + new("SELECT 1 FROM b_user_roles b WHERE b.username = u.username AND b.role = r.name")
        + " ORDER BY ur.rowid",
        "grants": "SELECT min(rp.rowid), r.name, p.resource, p.action "
        "FROM main.role_permissions rp JOIN main.roles r ON r.id = rp.role_id "
        "JOIN main.permissions p ON p.id = rp.permission_id WHERE 1 "
        + new(
            "SELECT 1 FROM b_grants b WHERE b.role = r.name AND b.resource = p.resource "
            "AND b.action = p.action"
        )
        + " GROUP BY r.name, p.resource, p.action ORDER BY min(rp.rowid)",
        "dangling_user_roles": "SELECT ur.rowid, ur.user_id, ur.role_id "
        "FROM main.user_roles ur "
        "WHERE NOT EXISTS (SELECT 1 FROM main.users u WHERE u.id = ur.user_id) "
        "OR NOT EXISTS (SELECT 1 FROM main.roles r WHERE r.id = ur.role_id) ORDER BY ur.rowid",
        "dangling_grants": "SELECT rp.rowid, rp.role_id, rp.permission_id "
        "FROM main.role_permissions rp "
        "WHERE NOT EXISTS (SELECT 1 FROM main.roles r WHERE r.id = rp.role_id) "
        "OR NOT EXISTS (SELECT 1 FROM main.permissions p WHERE p.id = rp.permission_id) "
        "ORDER BY rp.rowid",
    }


class ServiceSource:
    """The import source of a service file (``records.Source``).

    Users come with their hashes as they are (``$argon2id$``/``$argon2i$`` PHC strings
    verify with ``core/passwords``) and no display name (an import uses the username);
    the hash publish writes for users without a password comes back as "no password".
    Assignments and grants naming a missing row are reported as warnings and skipped.

    Args:
        path: the service file; read through a private snapshot, never written.
        since: a copy of the file as it was at the last sync (linked editing): only the
            rows added or changed since are yielded.
        snapshot: False when ``path`` already is a private copy nobody writes.

    Attributes:
        name: the file name, for "Import from <name>".
        path: the service file.
        covers: the tables it speaks for in full (none when reading changes ``since``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        since: str | os.PathLike[str] | None = None,
        snapshot: bool = True,
        name: str | None = None,
    ) -> None:
        self.path = Path(path).absolute()
        self.since = Path(since).absolute() if since is not None else None
        self.snapshot = snapshot
        self.name = name or self.path.name
        self.covers: frozenset[str] = frozenset() if since is not None else COVERS

    def records(self) -> Iterator[tuple[Origin, Record | SourceProblem]]:
        with ExitStack() as stack:
            copy = stack.enter_context(service_snapshot(self.path)) if self.snapshot else self.path
            conn = sqlite3.connect(copy.as_uri() + "?mode=ro", uri=True)
            stack.callback(conn.close)
            try:
                if self.since is not None:
                    conn.execute("ATTACH DATABASE ? AS base", (self.since.as_uri() + "?mode=ro",))
                    for statement in _BASELINE_SQL:
                        conn.execute(statement)
                yield from _read(conn, _queries(self.since is not None), self.since is None)
            except sqlite3.Error as exc:
                raise _refusal(self.path, exc) from exc


def _read(
    conn: sqlite3.Connection, sql: dict[str, str], warn_dangling: bool
) -> Iterator[tuple[Origin, Record | SourceProblem]]:
    from .service_plan import is_unusable_hash  # it imports this module

    for row_id, username, hashed, active in conn.execute(sql["users"]):
        yield Origin("users", row_id), UserRecord(
            username=str(username),
            active=is_active_value(active),
            password_hash=None if is_unusable_hash(hashed) else hashed,
        )
    for row_id, name in conn.execute(sql["roles"]):
        yield Origin("roles", row_id), RoleRecord(str(name))
    for row_id, name, description in conn.execute(sql["resources"]):
        yield Origin("resources", row_id), ResourceRecord(str(name), description)
    for row_id, name in conn.execute(sql["unlisted"]):
        yield Origin("permissions", row_id), ResourceRecord(str(name))
    for row_id, resource, action in conn.execute(sql["permissions"]):
        yield Origin("permissions", row_id), PermissionRecord(str(resource), str(action))
    for row_id, username, role in conn.execute(sql["user_roles"]):
        yield Origin("user_roles", row_id), UserRoleRecord(str(username), str(role))
    for row_id, role, resource, action in conn.execute(sql["grants"]):
        yield Origin("role_permissions", row_id), RolePermissionRecord(
            str(role), str(resource), str(action)
        )
    if not warn_dangling:
        return
    for row_id, user_id, role_id in conn.execute(sql["dangling_user_roles"]):
        yield Origin("user_roles", row_id), SourceProblem(
            f"The assignment of user #{user_id} to role #{role_id} names a user or role "
            "that does not exist; the service ignores it, and so does this import.",
            refuses=False,
            kind="user_roles",
        )
    for row_id, role_id, permission_id in conn.execute(sql["dangling_grants"]):
        yield Origin("role_permissions", row_id), SourceProblem(
            f"The grant of permission #{permission_id} to role #{role_id} names a role or "
            "permission that does not exist; the service ignores it, and so does this import.",
            refuses=False,
            kind="role_permissions",
        )
