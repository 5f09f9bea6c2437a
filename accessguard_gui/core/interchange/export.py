"""The database as a stream of records, for every export format.

``database_records`` yields the whole organisation table by table (users, roles, role
parents, resources, permissions, assignments, grants, separation-of-duty sets and their
roles), read by streaming cursors in one read transaction — a consistent snapshot, never
a whole table in memory. Each table comes in name order (stable, diff-friendly files),
except the assignments, the one table that grows with the users: they come in the order
of their primary key (user id, role id), which needs no sort — an ORDER BY by names over
a million-row join sorts the whole join, in memory on the app's SQLite connections. ``export_database`` hands that stream to a format's writer (``formats.py``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import aliased

from ..collector import collector_on_new_objects_only
from ..database import Database
from ..errors import ImportCancelledError
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
from ..operators import AppAction, check
from .records import (
    PermissionRecord,
    Record,
    ResourceRecord,
    RoleParentRecord,
    RolePermissionRecord,
    RoleRecord,
    SsdSetRecord,
    SsdSetRoleRecord,
    UserRecord,
    UserRoleRecord,
)
from .staging import CancelCheck, Progress, ProgressCallback, from_storage

BATCH = 5000
PASSWORD_WARNING = (
    "Warning: the export holds password hashes. Anyone who gets the file can try to "
    "guess passwords offline; keep it as safe as the database itself."
)


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """What an export writes beyond the records themselves.

    Attributes:
        with_password_hashes: include users' password hashes (off by default).
    """

    with_password_hashes: bool = False


def _batches(conn: Connection, query: Any) -> Iterator[Sequence[Any]]:
    """The rows of ``query``, a batch at a time. On SQLite they come as the driver
    returns them, without SQLAlchemy's processing per row, which costs more than the
    query at a million rows: callers convert the few typed columns themselves
    (``from_storage`` for times, ``bool`` for flags)."""
    if conn.dialect.name != "sqlite":
        # A server-side cursor; SQLAlchemy buffers its first rows, so read through it.
        result = conn.execute(query.execution_options(stream_results=True, yield_per=BATCH))
        for part in result.partitions(BATCH):
            yield [tuple(row) for row in part]
        return
    # SQLite steps a plain cursor lazily and nothing is read ahead: read it directly.
    result = conn.execute(query)
    cursor = result.cursor
    try:
        while rows := cursor.fetchmany(BATCH):
            yield rows
    finally:
        result.close()


def record_rows(
    conn: Connection, *, with_password_hashes: bool = False
) -> Iterator[tuple[type[Record], Sequence[Any]]]:
    """Every record of the database on ``conn`` (one read transaction), table by table,
    as (record type, a batch of rows): each row the record's fields in order, typed as
    the record holds them (``kind(*row)`` is the record)."""
    for rows in _batches(
        conn,
        select(User.username, User.display_name, User.email, User.active, User.password_hash)
        .order_by(User.username_key),
    ):
        yield UserRecord, [
            (name, shown, mail, bool(active), secret if with_password_hashes else None)
            for name, shown, mail, active, secret in rows
        ]
    for rows in _batches(conn, select(Role.name, Role.description).order_by(Role.name_key)):
        yield RoleRecord, rows
    parent = aliased(Role)
    for rows in _batches(
        conn,
        select(Role.name, parent.name)
        .join(RoleInheritance, RoleInheritance.role_id == Role.id)
        .join(parent, parent.id == RoleInheritance.inherits_from_id)
        .order_by(Role.name_key, parent.name_key),
    ):
        yield RoleParentRecord, rows
    for rows in _batches(
        conn, select(Resource.name, Resource.description).order_by(Resource.name_key)
    ):
        yield ResourceRecord, rows
    for rows in _batches(
        conn,
        select(Resource.name, Permission.action, Permission.description)
        .join(Permission, Permission.resource_id == Resource.id)
        .order_by(Resource.name_key, Permission.action),
    ):
        yield PermissionRecord, rows
    for rows in _batches(
        conn,
        select(User.username, Role.name, UserRole.expires_at)
        .select_from(UserRole)
        .join(User, User.id == UserRole.user_id)
        .join(Role, Role.id == UserRole.role_id)
        .order_by(UserRole.user_id, UserRole.role_id),
    ):
        yield UserRoleRecord, [
            (user, role, None if expires is None else from_storage(expires))
            for user, role, expires in rows
        ]
    for rows in _batches(
        conn,
        select(Role.name, Resource.name, Permission.action)
        .join(RolePermission, RolePermission.role_id == Role.id)
        .join(Permission, Permission.id == RolePermission.permission_id)
        .join(Resource, Resource.id == Permission.resource_id)
        .order_by(Role.name_key, Resource.name_key, Permission.action),
    ):
        yield RolePermissionRecord, rows
    for rows in _batches(
        conn, select(SsdSet.name, SsdSet.cardinality, SsdSet.description).order_by(SsdSet.name_key)
    ):
        yield SsdSetRecord, rows
    for rows in _batches(
        conn,
        select(SsdSet.name, Role.name)
        .join(SsdSetRole, SsdSetRole.ssd_set_id == SsdSet.id)
        .join(Role, Role.id == SsdSetRole.role_id)
        .order_by(SsdSet.name_key, Role.name_key),
    ):
        yield SsdSetRoleRecord, rows


def records_of(conn: Connection, *, with_password_hashes: bool = False) -> Iterator[Record]:
    """Every record of the database on ``conn`` (one read transaction), table by table."""
    for kind, rows in record_rows(conn, with_password_hashes=with_password_hashes):
        for row in rows:
            yield kind(*row)


class DatabaseRecords:
    """Every record of a database in one read transaction (a consistent snapshot), with
    progress every batch and cancellation (ImportCancelledError) between batches.

    Iterating gives Record objects, what every format's writer reads. A writer that
    needs no objects may read ``batches()`` instead: (record type, rows of the record's
    fields), the same records without an object each — at a million rows the objects
    cost as much as the query (the CSV directory writer does so).
    """

    def __init__(
        self,
        db: Database,
        *,
        with_password_hashes: bool = False,
        progress: ProgressCallback | None = None,
        cancelled: CancelCheck | None = None,
    ) -> None:
        self.db = db
        self.with_password_hashes = with_password_hashes
        self.progress = progress
        self.cancelled = cancelled

    def batches(self) -> Iterator[tuple[type[Record], Sequence[Any]]]:
        with self.db.read() as session:
            done = 0
            for kind, rows in record_rows(
                session.connection(), with_password_hashes=self.with_password_hashes
            ):
                yield kind, rows
                done += len(rows)
                if self.cancelled is not None and self.cancelled():
                    raise ImportCancelledError("The export was cancelled.")
                if self.progress is not None:
                    self.progress(Progress("Exporting", done))
            if self.progress is not None:
                self.progress(Progress("Exporting", done, done))

    def __iter__(self) -> Iterator[Record]:
        for kind, rows in self.batches():
            for row in rows:
                yield kind(*row)


def database_records(
    db: Database,
    *,
    with_password_hashes: bool = False,
    progress: ProgressCallback | None = None,
    cancelled: CancelCheck | None = None,
) -> DatabaseRecords:
    """Every record of ``db`` in one read transaction (``DatabaseRecords``)."""
    return DatabaseRecords(
        db, with_password_hashes=with_password_hashes, progress=progress, cancelled=cancelled
    )


def export_database(
    db: Database,
    target: str | os.PathLike[str],
    format_name: str,
    options: ExportOptions | None = None,
    *,
    progress: ProgressCallback | None = None,
    cancelled: CancelCheck | None = None,
) -> Any:
    """Write ``db`` to ``target`` in the named format; returns the writer's summary.

    Raises:
        InterchangeError: unknown format, a format that cannot be written, or a target
            that cannot be written (nothing half-written is left behind).
    """
    from .formats import get_format  # formats imports writers that may import this module

    chosen = get_format(format_name)
    writer = chosen.require_writer()
    opts = options or ExportOptions()
    if opts.with_password_hashes:  # hashes can be attacked offline: administrators only
        check(db.access, AppAction.ADMINISTER)
    stream = database_records(
        db, with_password_hashes=opts.with_password_hashes, progress=progress,
        cancelled=cancelled,
    )
    with collector_on_new_objects_only():
        return writer(stream, Path(target), opts)


