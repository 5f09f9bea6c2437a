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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import aliased

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


def _stream(conn: Connection, query: Any) -> Iterator[Any]:
    """The rows of ``query``, streamed in batches. On SQLite they come as the driver
    returns them, without SQLAlchemy's processing per row, which costs more than the
    query at a million rows: callers convert the few typed columns themselves
    (``from_storage`` for times, ``bool`` for flags)."""
    if conn.dialect.name != "sqlite":
        # A server-side cursor; SQLAlchemy buffers its first rows, so read through it.
        result = conn.execute(query.execution_options(stream_results=True, yield_per=BATCH))
        for part in result.partitions(BATCH):
            yield from part
        return
    # SQLite steps a plain cursor lazily and nothing is read ahead: read it directly.
    result = conn.execute(query)
    cursor = result.cursor
    try:
        while rows := cursor.fetchmany(BATCH):
            yield from rows
    finally:
        result.close()


def records_of(conn: Connection, *, with_password_hashes: bool = False) -> Iterator[Record]:
    """Every record of the database on ``conn`` (one read transaction), table by table."""
    for name, shown, mail, active, secret in _stream(
        conn,
        select(User.username, User.display_name, User.email, User.active, User.password_hash)
        .order_by(User.username_key),
    ):
        yield UserRecord(name, shown, mail, bool(active),
                         secret if with_password_hashes else None)
    for name, text in _stream(conn, select(Role.name, Role.description).order_by(Role.name_key)):
        yield RoleRecord(name, text)
    parent = aliased(Role)
    for role, inherited in _stream(
        conn,
        select(Role.name, parent.name)
        .join(RoleInheritance, RoleInheritance.role_id == Role.id)
        .join(parent, parent.id == RoleInheritance.inherits_from_id)
        .order_by(Role.name_key, parent.name_key),
    ):
        yield RoleParentRecord(role, inherited)
    for name, text in _stream(
        conn, select(Resource.name, Resource.description).order_by(Resource.name_key)
    ):
        yield ResourceRecord(name, text)
    for resource, action, text in _stream(
        conn,
        select(Resource.name, Permission.action, Permission.description)
        .join(Permission, Permission.resource_id == Resource.id)
        .order_by(Resource.name_key, Permission.action),
    ):
        yield PermissionRecord(resource, action, text)
    for user, role, expires in _stream(
        conn,
        select(User.username, Role.name, UserRole.expires_at)
        .select_from(UserRole)
        .join(User, User.id == UserRole.user_id)
        .join(Role, Role.id == UserRole.role_id)
        .order_by(UserRole.user_id, UserRole.role_id),
    ):
        yield UserRoleRecord(user, role, from_storage(expires))
    for role, resource, action in _stream(
        conn,
        select(Role.name, Resource.name, Permission.action)
        .join(RolePermission, RolePermission.role_id == Role.id)
        .join(Permission, Permission.id == RolePermission.permission_id)
        .join(Resource, Resource.id == Permission.resource_id)
        .order_by(Role.name_key, Resource.name_key, Permission.action),
    ):
        yield RolePermissionRecord(role, resource, action)
    for name, count, text in _stream(
        conn, select(SsdSet.name, SsdSet.cardinality, SsdSet.description).order_by(SsdSet.name_key)
    ):
        yield SsdSetRecord(name, count, text)
    for set_name, role in _stream(
        conn,
        select(SsdSet.name, Role.name)
        .join(SsdSetRole, SsdSetRole.ssd_set_id == SsdSet.id)
        .join(Role, Role.id == SsdSetRole.role_id)
        .order_by(SsdSet.name_key, Role.name_key),
    ):
        yield SsdSetRoleRecord(set_name, role)


def database_records(
    db: Database,
    *,
    with_password_hashes: bool = False,
    progress: ProgressCallback | None = None,
    cancelled: CancelCheck | None = None,
) -> Iterator[Record]:
    """Every record of ``db`` in one read transaction (a consistent snapshot), with
    progress every batch and cancellation (ImportCancelledError) between batches."""
    with db.read() as session:
        done = 0
        for record in records_of(session.connection(),
                                 with_password_hashes=with_password_hashes):
            yield record
            done += 1
            if done % BATCH == 0:
                if cancelled is not None and cancelled():
                    raise ImportCancelledError("The export was cancelled.")
                if progress is not None:
                    progress(Progress("Exporting", done))
        if progress is not None:
            progress(Progress("Exporting", done, done))


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
    return writer(stream, Path(target), opts)
