"""The staging file: an import's rows on disk, checked row by row on the way in.

Every import first streams its source into a temporary SQLite file (``Staging``), one
table per record kind (``s_users``, ``s_user_roles``, …) with the row's origin
(file:line), the cleaned values and their name keys, and a ``problem`` column holding why
the row is refused. Memory stays flat in the input size: rows travel in batches, and the
set-based checks (``checks.py``) and the writes (``apply.py``) read them back with SQL.

The staging file is always SQLite, whatever the target database: the target's current
state appears in it as the schema ``tgt`` — the target file itself attached read-only
(an SQLite target) or a copy streamed into a second temporary file (PostgreSQL).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, select
from sqlalchemy.pool import StaticPool

from .. import validation
from ..errors import ImportCancelledError, ValidationError
from ..keys import name_key
from ..models import (
    Permission,
    Resource,
    Role,
    RoleInheritance,
    RolePermission,
    SsdSet,
    SsdSetRole,
    User,
    UserRole,
)
from .records import (
    Origin,
    PermissionRecord,
    Record,
    ResourceRecord,
    RoleParentRecord,
    RolePermissionRecord,
    RoleRecord,
    Source,
    SourceProblem,
    SsdSetRecord,
    SsdSetRoleRecord,
    UserRecord,
    UserRoleRecord,
)

try:  # the look-alike rule (core/lookalike.py, migration 0005) where this version has it
    from ..lookalike import skeleton_key as _skeleton_key
except ImportError:  # pragma: no cover - an older tree
    _skeleton_key = None  # type: ignore[assignment]

BATCH = 5000
# How SQLAlchemy stores a UTC datetime in an SQLite file (models.UTCDateTime): naive text.
STORAGE_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
PASSWORD_HASH_MAX = 512
# A PHC string of Argon2 as argon2-cffi and passlib write it; the version part is absent
# in hashes of Argon2 1.0.
_ARGON2_PHC = re.compile(
    r"\$argon2(id|i)\$(v=\d{1,3}\$)?m=\d{1,10},t=\d{1,10},p=\d{1,3}\$[A-Za-z0-9+/]{8,}\$[A-Za-z0-9+/]{16,}"
)

# Table of the staging file per record kind, and the tables a source can cover.
KINDS = (
    "users",
    "roles",
    "role_parents",
    "resources",
    "permissions",
    "user_roles",
    "role_permissions",
    "ssd_sets",
    "ssd_set_roles",
)

# ``staged``: why reading refused the row (kept); ``problem``: that, or what the checks
# found (recomputed by every check run, as are the columns in DERIVED).
_COMMON = "seq INTEGER PRIMARY KEY, file INTEGER NOT NULL, line INTEGER NOT NULL, " \
    "staged TEXT, problem TEXT, verdict TEXT, detail TEXT"

SOURCE_TABLES: dict[str, str] = {
    "users": "username TEXT, ukey TEXT, display_name TEXT, email TEXT, active INTEGER, "
    "password_hash TEXT, skel TEXT, target_id INTEGER, new_id INTEGER",
    "roles": "name TEXT, nkey TEXT, description TEXT, skel TEXT, target_id INTEGER, "
    "new_id INTEGER",
    "resources": "name TEXT, nkey TEXT, description TEXT, skel TEXT, target_id INTEGER, "
    "new_id INTEGER",
    "ssd_sets": "name TEXT, nkey TEXT, cardinality INTEGER, description TEXT, skel TEXT, "
    "target_id INTEGER, new_id INTEGER",
    "permissions": "resource TEXT, reskey TEXT, action TEXT, description TEXT, "
    "target_id INTEGER, new_id INTEGER, resource_id INTEGER, rname TEXT",
    "role_parents": "role TEXT, rkey TEXT, parent TEXT, pkey TEXT, role_id INTEGER, "
    "parent_id INTEGER, in_target INTEGER, rname TEXT, pname TEXT",
    "user_roles": "username TEXT, ukey TEXT, role TEXT, rkey TEXT, expires_at TEXT, "
    "user_id INTEGER, role_id INTEGER, in_target INTEGER, uname TEXT, rname TEXT",
    "role_permissions": "role TEXT, rkey TEXT, resource TEXT, reskey TEXT, action TEXT, "
    "role_id INTEGER, permission_id INTEGER, in_target INTEGER, rname TEXT, pname TEXT",
    "ssd_set_roles": "set_name TEXT, skey TEXT, role TEXT, rkey TEXT, set_id INTEGER, "
    "role_id INTEGER, in_target INTEGER, sname TEXT, rname TEXT",
}

# The named records: (staged key column, name column, the target's key column).
ENTITIES: dict[str, tuple[str, str, str]] = {
    "users": ("ukey", "username", "username_key"),
    "roles": ("nkey", "name", "name_key"),
    "resources": ("nkey", "name", "name_key"),
    "ssd_sets": ("nkey", "name", "name_key"),
}

# Columns the checks and the writes fill in, reset before every check run.
DERIVED: dict[str, tuple[str, ...]] = {
    "users": ("target_id", "new_id"),
    "roles": ("target_id", "new_id"),
    "resources": ("target_id", "new_id"),
    "ssd_sets": ("target_id", "new_id"),
    "permissions": ("target_id", "new_id", "resource_id", "rname"),
    "role_parents": ("role_id", "parent_id", "in_target", "rname", "pname"),
    "user_roles": ("user_id", "role_id", "in_target", "uname", "rname"),
    "role_permissions": ("role_id", "permission_id", "in_target", "rname", "pname"),
    "ssd_set_roles": ("set_id", "role_id", "in_target", "sname", "rname"),
}

# Columns filled when a row is staged, in insert order.
_INSERTED: dict[str, tuple[str, ...]] = {
    "users": ("username", "ukey", "display_name", "email", "active", "password_hash", "skel"),
    "roles": ("name", "nkey", "description", "skel"),
    "resources": ("name", "nkey", "description", "skel"),
    "ssd_sets": ("name", "nkey", "cardinality", "description", "skel"),
    "permissions": ("resource", "reskey", "action", "description"),
    "role_parents": ("role", "rkey", "parent", "pkey"),
    "user_roles": ("username", "ukey", "role", "rkey", "expires_at"),
    "role_permissions": ("role", "rkey", "resource", "reskey", "action"),
    "ssd_set_roles": ("set_name", "skey", "role", "rkey"),
}

# The target's tables as the checks read them (schema ``tgt``): the columns a copy holds.
TARGET_TABLES: dict[str, tuple[Any, ...]] = {
    "users": (User.id, User.username, User.username_key, User.display_name, User.email,
              User.active, User.password_hash, User.created_at),
    "roles": (Role.id, Role.name, Role.name_key, Role.description, Role.created_at),
    "resources": (Resource.id, Resource.name, Resource.name_key, Resource.description,
                  Resource.created_at),
    "permissions": (Permission.id, Permission.resource_id, Permission.action,
                    Permission.description, Permission.created_at),
    "user_roles": (UserRole.user_id, UserRole.role_id, UserRole.expires_at,
                   UserRole.granted_at, UserRole.granted_by),
    "role_permissions": (RolePermission.role_id, RolePermission.permission_id,
                         RolePermission.granted_at, RolePermission.granted_by),
    "role_inheritance": (RoleInheritance.role_id, RoleInheritance.inherits_from_id,
                         RoleInheritance.created_at),
    "ssd_sets": (SsdSet.id, SsdSet.name, SsdSet.name_key, SsdSet.cardinality,
                 SsdSet.description),
    "ssd_set_roles": (SsdSetRole.ssd_set_id, SsdSetRole.role_id),
}
SKELETONS = "username_skeleton" in User.__table__.c
"""True when this schema stores look-alike skeletons (``*_skeleton``, core/lookalike.py):
an import then refuses names that read like another and writes the skeleton column."""
if SKELETONS:  # the copy of a server's tables carries them too
    TARGET_TABLES["users"] += (User.__table__.c.username_skeleton,)
    for _model in (Role, Resource, SsdSet):
        TARGET_TABLES[_model.__tablename__] += (_model.__table__.c.name_skeleton,)


def skeleton_of(name: str) -> str | None:
    """The look-alike key of a name, or None where this version has no such rule."""
    if not SKELETONS or _skeleton_key is None:
        return None
    return str(_skeleton_key(name))


_TARGET_INDEXES = (
    "CREATE UNIQUE INDEX tgt.t_users_key ON users(username_key)",
    "CREATE UNIQUE INDEX tgt.t_roles_key ON roles(name_key)",
    "CREATE UNIQUE INDEX tgt.t_resources_key ON resources(name_key)",
    "CREATE UNIQUE INDEX tgt.t_ssd_sets_key ON ssd_sets(name_key)",
    *(
        (
            "CREATE INDEX tgt.t_users_skel ON users(username_skeleton)",
            "CREATE INDEX tgt.t_roles_skel ON roles(name_skeleton)",
            "CREATE INDEX tgt.t_resources_skel ON resources(name_skeleton)",
            "CREATE INDEX tgt.t_ssd_sets_skel ON ssd_sets(name_skeleton)",
        )
        if "username_skeleton" in User.__table__.c
        else ()
    ),
    "CREATE UNIQUE INDEX tgt.t_permissions_key ON permissions(resource_id, action)",
    "CREATE UNIQUE INDEX tgt.t_user_roles_pk ON user_roles(user_id, role_id)",
    "CREATE INDEX tgt.t_user_roles_role ON user_roles(role_id)",
    "CREATE UNIQUE INDEX tgt.t_role_permissions_pk ON role_permissions(role_id, permission_id)",
    "CREATE UNIQUE INDEX tgt.t_role_inheritance_pk ON role_inheritance(role_id, inherits_from_id)",
    "CREATE UNIQUE INDEX tgt.t_ssd_set_roles_pk ON ssd_set_roles(ssd_set_id, role_id)",
)


@dataclass(frozen=True, slots=True)
class Progress:
    """How far an import or export got: ``phase`` in words, ``done`` of ``total`` units
    (``total`` None when unknown, e.g. while reading a source)."""

    phase: str
    done: int
    total: int | None = None


ProgressCallback = Callable[[Progress], None]
CancelCheck = Callable[[], bool]


def storage_text(moment: datetime) -> str:
    """A UTC datetime as models.UTCDateTime stores it in SQLite."""
    return moment.astimezone(UTC).strftime(STORAGE_FORMAT)


def from_storage(text: str | datetime | None) -> datetime | None:
    if text is None:
        return None
    if isinstance(text, datetime):
        return text if text.tzinfo else text.replace(tzinfo=UTC)
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def password_hash(value: str | None) -> str | None:
    """A password hash to store: only well-formed Argon2 PHC strings."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if len(text) > PASSWORD_HASH_MAX or not _ARGON2_PHC.fullmatch(text):
        raise ValidationError(
            "password_hash",
            "The password hash is not an Argon2 PHC string ($argon2id$… or $argon2i$…).",
        )
    return text


def _optional(check: Callable[[object], str], value: str | None) -> str | None:
    return None if value is None else check(value)


class _Checked:
    """A validation rule with a bounded memory of the values it has seen: relation rows
    repeat a few thousand role and resource names millions of times, and the rules are
    pure functions of the text."""

    LIMIT = 1 << 16

    def __init__(self, check: Callable[[object], str]) -> None:
        self.check = check
        self.seen: dict[str, tuple[str, str, str | None]] = {}

    def __call__(self, value: str, problems: list[str]) -> tuple[str, str]:
        """The cleaned value and its name key; the rule's message goes to ``problems``."""
        hit = self.seen.get(value)
        if hit is None:
            try:
                clean = self.check(value)
                hit = (clean, name_key(clean), None)
            except ValidationError as exc:
                hit = (value, name_key(value), exc.message)
            if len(self.seen) >= self.LIMIT:
                self.seen.clear()
            self.seen[value] = hit
        if hit[2] is not None:
            problems.append(hit[2])
        return hit[0], hit[1]


_USERNAME = _Checked(validation.username)
_ROLE = _Checked(validation.role_name)
_RESOURCE = _Checked(validation.resource_name)
_ACTION = _Checked(validation.action)
_SSD = _Checked(validation.ssd_name)


def _clean(record: Record, problems: list[str]) -> tuple[str, tuple[Any, ...]]:
    """The kind and the staged values of a record; value errors go to ``problems``."""
    if isinstance(record, UserRecord):
        name, key = _USERNAME(record.username, problems)
        shown = mail = secret = None
        try:
            shown = _optional(validation.display_name, record.display_name or None)
            if record.email is not None:
                mail = validation.email(record.email) or ""
            secret = password_hash(record.password_hash)
        except ValidationError as exc:
            problems.append(exc.message)
        active = None if record.active is None else int(bool(record.active))
        return "users", (name, key, shown, mail, active, secret, skeleton_of(name))
    if isinstance(record, (RoleRecord, ResourceRecord)):
        check = _ROLE if isinstance(record, RoleRecord) else _RESOURCE
        name, key = check(record.name, problems)
        text = _description(record.description, problems)
        kind = "roles" if isinstance(record, RoleRecord) else "resources"
        return kind, (name, key, text, skeleton_of(name))
    if isinstance(record, SsdSetRecord):
        name, key = _SSD(record.name, problems)
        count: Any = record.cardinality
        try:
            count = validation.cardinality(record.cardinality)
        except ValidationError as exc:
            problems.append(exc.message)
            count = None
        text = _description(record.description, problems)
        return "ssd_sets", (name, key, count, text, skeleton_of(name))
    if isinstance(record, PermissionRecord):
        resource, rkey = _RESOURCE(record.resource, problems)
        act, _ = _ACTION(record.action, problems)
        text = _description(record.description, problems)
        return "permissions", (resource, rkey, act, text)
    if isinstance(record, RoleParentRecord):
        role, rkey = _ROLE(record.role, problems)
        parent, pkey = _ROLE(record.parent_role, problems)
        return "role_parents", (role, rkey, parent, pkey)
    if isinstance(record, UserRoleRecord):
        user, ukey = _USERNAME(record.username, problems)
        role, rkey = _ROLE(record.role, problems)
        expires = None
        if record.expires_at is not None:
            if record.expires_at.tzinfo is None:
                problems.append("The expiry date needs a time zone.")
            else:
                expires = storage_text(record.expires_at)
        return "user_roles", (user, ukey, role, rkey, expires)
    if isinstance(record, RolePermissionRecord):
        role, rkey = _ROLE(record.role, problems)
        resource, reskey = _RESOURCE(record.resource, problems)
        act, _ = _ACTION(record.action, problems)
        return "role_permissions", (role, rkey, resource, reskey, act)
    if isinstance(record, SsdSetRoleRecord):
        name, skey = _SSD(record.set_name, problems)
        role, rkey = _ROLE(record.role, problems)
        return "ssd_set_roles", (name, skey, role, rkey)
    raise TypeError(f"not an import record: {record!r}")


def _description(value: str | None, problems: list[str]) -> str | None:
    if value is None:
        return None
    try:
        return validation.description(value)
    except ValidationError as exc:
        problems.append(exc.message)
        return value


class Staging:
    """A temporary SQLite file holding one import's rows; removed by ``close``.

    Attributes:
        conn: the one connection to it (SQLAlchemy, raw SQL: it is scratch space).
        covered: the tables the source speaks for in full (mirror mode's scope).
        source_name: the source's name, for the audit trail's action.
    """

    def __init__(self, source_name: str) -> None:
        self.source_name = source_name
        self.folder = Path(tempfile.mkdtemp(prefix="accessguard-import-"))
        self.path = self.folder / "staging.db"
        self.target_copy = self.folder / "target.db"
        self._files: dict[str, int] = {}
        self.covered: frozenset[str] = frozenset()
        self.target_attached = False
        path = self.path

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(path.as_uri(), uri=True, check_same_thread=False)

        self.engine: Engine = create_engine("sqlite://", creator=connect, poolclass=StaticPool)
        self.conn: Connection = self.engine.connect()
        for pragma in (
            "journal_mode=OFF", "synchronous=OFF", "cache_size=-131072", "temp_store=FILE",
            "foreign_keys=OFF",
        ):
            self.conn.exec_driver_sql(f"PRAGMA {pragma}")
        self.conn.exec_driver_sql(
            "CREATE TABLE s_files (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)"
        )
        self.conn.exec_driver_sql(
            "CREATE TABLE s_notes (seq INTEGER PRIMARY KEY, file INTEGER NOT NULL, "
            "line INTEGER NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL, "
            "refuses INTEGER NOT NULL)"
        )
        self.conn.exec_driver_sql(
            "CREATE TABLE s_removals (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, "
            "id1 INTEGER, id2 INTEGER, label TEXT NOT NULL)"
        )
        for kind, columns in SOURCE_TABLES.items():
            self.conn.exec_driver_sql(f"CREATE TABLE s_{kind} ({_COMMON}, {columns})")
        self.conn.commit()

    # ------------------------------------------------------------------ loading

    def file_id(self, name: str) -> int:
        known = self._files.get(name)
        if known is None:
            known = len(self._files) + 1
            self._files[name] = known
            self.conn.exec_driver_sql("INSERT INTO s_files VALUES (?, ?)", (known, name))
        return known

    def load(
        self,
        source: Source,
        *,
        progress: ProgressCallback | None = None,
        cancelled: CancelCheck | None = None,
    ) -> int:
        """Stream ``source`` into the staging tables; returns the number of rows read."""
        buffers: dict[str, list[tuple[Any, ...]]] = {kind: [] for kind in KINDS}
        notes: list[tuple[Any, ...]] = []
        seen: set[str] = set()
        count = 0
        for origin, item in source.records():
            file = self.file_id(origin.file)
            if isinstance(item, SourceProblem):
                notes.append((file, origin.line, item.kind, item.message, int(item.refuses)))
                continue
            problems: list[str] = []
            kind, values = _clean(item, problems)
            seen.add(kind)
            problem = " ".join(problems) if problems else None
            buffer = buffers[kind]
            buffer.append((file, origin.line, problem, problem, *values))
            count += 1
            if len(buffer) >= BATCH:
                self._flush(kind, buffer)
                if cancelled is not None and cancelled():
                    raise ImportCancelledError()
                if progress is not None:
                    progress(Progress("Reading the source", count))
        for kind, buffer in buffers.items():
            self._flush(kind, buffer)
        if notes:
            self.conn.exec_driver_sql(
                "INSERT INTO s_notes (file, line, kind, message, refuses) VALUES (?,?,?,?,?)",
                notes,
            )
        covers = getattr(source, "covers", None)
        self.covered = frozenset(covers) if covers is not None else frozenset(seen)
        self._index()
        self.conn.commit()
        if progress is not None:
            progress(Progress("Reading the source", count, count))
        return count

    def _flush(self, kind: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        columns = ("file", "line", "staged", "problem", *_INSERTED[kind])
        marks = ",".join("?" * len(columns))
        self.conn.exec_driver_sql(
            f"INSERT INTO s_{kind} ({', '.join(columns)}) VALUES ({marks})", rows
        )
        rows.clear()

    def _index(self) -> None:
        for statement in (
            "CREATE INDEX s_users_key ON s_users(ukey)",
            "CREATE INDEX s_roles_key ON s_roles(nkey)",
            "CREATE INDEX s_resources_key ON s_resources(nkey)",
            "CREATE INDEX s_ssd_sets_key ON s_ssd_sets(nkey)",
            "CREATE INDEX s_users_skel ON s_users(skel)",
            "CREATE INDEX s_roles_skel ON s_roles(skel)",
            "CREATE INDEX s_resources_skel ON s_resources(skel)",
            "CREATE INDEX s_ssd_sets_skel ON s_ssd_sets(skel)",
            "CREATE INDEX s_permissions_key ON s_permissions(reskey, action)",
            "CREATE INDEX s_role_parents_key ON s_role_parents(rkey, pkey)",
            "CREATE INDEX s_user_roles_key ON s_user_roles(ukey, rkey)",
            "CREATE INDEX s_role_permissions_key ON s_role_permissions(rkey, reskey, action)",
            "CREATE INDEX s_ssd_set_roles_key ON s_ssd_set_roles(skey, rkey)",
        ):
            self.conn.exec_driver_sql(statement)

    # ------------------------------------------------------------------ the target

    def attach_target_file(self, path: Path) -> None:
        """The target SQLite file as schema ``tgt``, read-only: the checks see exactly
        what is committed (an import's own uncommitted writes stay invisible)."""
        self.detach_target()
        self.conn.commit()
        self.conn.exec_driver_sql(
            "ATTACH DATABASE ? AS tgt", (path.as_uri() + "?mode=ro",)
        )
        self.target_attached = True

    def copy_target(
        self, target: Connection, *, cancelled: CancelCheck | None = None
    ) -> None:
        """Stream the target's tables (any backend) into a temporary file attached as
        ``tgt``, with the same columns and SQLite storage formats."""
        self.detach_target()
        self.target_copy.unlink(missing_ok=True)
        self.conn.commit()
        self.conn.exec_driver_sql("ATTACH DATABASE ? AS tgt", (self.target_copy.as_uri(),))
        self.target_attached = True
        for table, columns in TARGET_TABLES.items():
            names = [c.key for c in columns]
            self.conn.exec_driver_sql(f"CREATE TABLE tgt.{table} ({', '.join(names)})")
            marks = ",".join("?" * len(names))
            statement = f"INSERT INTO tgt.{table} VALUES ({marks})"
            # Per statement: Connection.execution_options would change the caller's
            # connection for good (a server-side cursor cannot executemany).
            result = target.execute(
                select(*columns).execution_options(stream_results=True, yield_per=BATCH)
            )
            for part in result.partitions(BATCH):
                self.conn.exec_driver_sql(statement, [_sqlite_values(row) for row in part])
                if cancelled is not None and cancelled():
                    raise ImportCancelledError()
        for statement in _TARGET_INDEXES:
            self.conn.exec_driver_sql(statement)
        self.conn.commit()

    def detach_target(self) -> None:
        if self.target_attached:
            self.conn.commit()
            self.conn.exec_driver_sql("DETACH DATABASE tgt")
            self.target_attached = False

    # ------------------------------------------------------------------ reading back

    def rows(self, sql: str, params: Iterable[Any] = ()) -> Iterator[Any]:
        """Stream the rows of a query on the staging file."""
        yield from self.conn.exec_driver_sql(sql, tuple(params))

    def scalar(self, sql: str, params: Iterable[Any] = ()) -> Any:
        return self.conn.exec_driver_sql(sql, tuple(params)).scalar()

    def execute(self, sql: str, params: Iterable[Any] = ()) -> None:
        self.conn.exec_driver_sql(sql, tuple(params))

    def close(self) -> None:
        try:
            self.conn.close()
            self.engine.dispose()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __del__(self) -> None:  # a plan dropped without close(): do not leak the folder
        folder = getattr(self, "folder", None)
        if folder is not None and os.path.isdir(folder):
            shutil.rmtree(folder, ignore_errors=True)


def _sqlite_values(row: Any) -> tuple[Any, ...]:
    out: list[Any] = []
    for value in row:
        if isinstance(value, datetime):
            out.append(storage_text(value))
        elif isinstance(value, bool):
            out.append(int(value))
        else:
            out.append(value)
    return tuple(out)


def origin_of(name: str, line: int) -> Origin:
    return Origin(name, line)
