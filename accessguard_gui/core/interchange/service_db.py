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
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import DatabaseBusyError, DatabaseError, DatabaseOpenError
from ..sqlite_files import SQLITE_HEADER, side_files
from .records import (
    Origin,
    PermissionRecord,
    Record,
    ResourceRecord,
    RolePermissionRecord,
    RoleRecord,
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
                f"{_count(self.argon2i_hashes, 'password hash is', 'password hashes are')} "
                "older $argon2i$ hashes: they still verify, and are renewed at the next "
                "sign-in check."
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


@contextmanager
def service_snapshot(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A private, consistent copy of a service file, deleted afterwards.

    Taken with SQLite's backup API in a single step (one short read lock on the service
    file); the import then reads the copy at its own pace without holding the service up.
    """
    file = Path(path).absolute()
    folder = Path(tempfile.mkdtemp(prefix="ag-service-"))
    copy = folder / "snapshot.db"
    try:
        try:
            source = connect_read_only(file)
            try:
                target = sqlite3.connect(copy)
                try:
                    source.backup(target)
                finally:
                    target.close()
            finally:
                source.close()
        except sqlite3.Error as exc:
            raise _refusal(file, exc) from exc
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


# Origins name the table and the row id: "users:17" in a dry-run report.
_USERS = "SELECT id, username, hashed_password, is_active FROM users ORDER BY id"
_ROLES = "SELECT id, name FROM roles ORDER BY id"
_RESOURCES = "SELECT id, name, description FROM resources ORDER BY id"
# A resource name used only by permissions: created by the import (first use as origin).
_UNLISTED_RESOURCES = """
SELECT min(p.id), p.resource FROM permissions p
WHERE NOT EXISTS (SELECT 1 FROM resources r WHERE r.name = p.resource)
GROUP BY p.resource ORDER BY min(p.id)
"""
# Duplicate permission rows collapse to the first.
_PERMISSIONS = (
    "SELECT min(id), resource, action FROM permissions GROUP BY resource, action ORDER BY min(id)"
)
# Links naming a missing row are skipped, as the service's check skips them.
_USER_ROLES = """
SELECT ur.rowid, u.username, r.name FROM user_roles ur
JOIN users u ON u.id = ur.user_id JOIN roles r ON r.id = ur.role_id
ORDER BY ur.rowid
"""
_GRANTS = """
SELECT min(rp.rowid), r.name, p.resource, p.action FROM role_permissions rp
JOIN roles r ON r.id = rp.role_id JOIN permissions p ON p.id = rp.permission_id
GROUP BY r.name, p.resource, p.action ORDER BY min(rp.rowid)
"""


class ServiceSource:
    """The import source of a service file (``records.Source``).

    Users come with their hashes as they are (``$argon2id$``/``$argon2i$`` PHC strings
    verify with ``core/passwords``) and no display name (an import uses the username);
    the hash publish writes for users without a password comes back as "no password".

    Args:
        path: the service file; it is read through a private snapshot, never written.

    Attributes:
        name: the file name, for "Import from <name>".
        path: the service file.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).absolute()
        self.name = self.path.name

    def records(self) -> Iterator[tuple[Origin, Record]]:
        from .service_plan import is_unusable_hash  # it imports this module

        with service_snapshot(self.path) as copy:
            conn = sqlite3.connect(copy.as_uri() + "?mode=ro", uri=True)
            try:
                for row_id, username, hashed, active in conn.execute(_USERS):
                    yield Origin("users", row_id), UserRecord(
                        username=str(username),
                        active=is_active_value(active),
                        password_hash=None if is_unusable_hash(hashed) else hashed,
                    )
                for row_id, name in conn.execute(_ROLES):
                    yield Origin("roles", row_id), RoleRecord(str(name))
                for row_id, name, description in conn.execute(_RESOURCES):
                    yield Origin("resources", row_id), ResourceRecord(str(name), description)
                for row_id, name in conn.execute(_UNLISTED_RESOURCES):
                    yield Origin("permissions", row_id), ResourceRecord(str(name))
                for row_id, resource, action in conn.execute(_PERMISSIONS):
                    yield Origin("permissions", row_id), PermissionRecord(
                        str(resource), str(action)
                    )
                for row_id, username, role in conn.execute(_USER_ROLES):
                    yield Origin("user_roles", row_id), UserRoleRecord(str(username), str(role))
                for row_id, role, resource, action in conn.execute(_GRANTS):
                    yield Origin("role_permissions", row_id), RolePermissionRecord(
                        str(role), str(resource), str(action)
                    )
            except sqlite3.Error as exc:
                raise _refusal(self.path, exc) from exc
            finally:
                conn.close()
