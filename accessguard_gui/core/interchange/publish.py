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

import os
import sqlite3
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Connection, create_engine
from sqlalchemy.pool import NullPool

from ..database import Database
from ..errors import (
    AccessGuardError,
    ConflictError,
    DatabaseBusyError,
    DatabaseError,
    DatabaseOpenError,
)
from ..models import utcnow
from ..operators import AppAction, check
from ..sqlite_files import (
    SQLITE_HEADER,
    copy_file,
    remove_with_side_files,
    sync_folder,
    unused_name,
)
from .service_db import (
    SERVICE_DDL,
    change_counter,
    connect_read_only,
    looks_like_service_database,
    service_snapshot,
    snapshot_to,
)
from .service_plan import (
    APPLY_SQL,
    KEEP_BASELINE_SQL,
    SECTIONS,
    UNUSABLE_HASH,
    VERDICTS,
    PlannedChange,
    Progress,
    PublishCancelled,
    PublishPlan,
    build_plan,
    drop_plan,
    is_unusable_hash,
    load_desired,
)

__all__ = [
    "SECTIONS",
    "UNUSABLE_HASH",
    "VERDICTS",
    "PlannedChange",
    "PublishCancelled",
    "PublishOptions",
    "PublishPlan",
    "PublishResult",
    "is_unusable_hash",
    "preview_publish",
    "publish",
    "publish_command",
]

BUSY_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class PublishOptions:
    """How to publish.

    Attributes:
        remove_service_only: also delete rows only the service file has (users who
            registered there, roles and permissions made there, links naming missing
            rows). Off by default: they are kept and listed.
        baseline: a copy of the service file as AccessGuard last saw it (linked editing):
            rows absent from it were added through the service since and are kept.
        create: make the file if it does not exist (False for a linked file, whose
            absence means it was moved or deleted).
        busy_timeout: seconds to wait for the service to finish a write.
        now: the moment expiries are judged at (default: now).
    """

    remove_service_only: bool = False
    baseline: Path | None = None
    create: bool = True
    busy_timeout: float = BUSY_TIMEOUT_S
    now: datetime | None = None


@dataclass(frozen=True, slots=True)
class PublishResult:
    plan: PublishPlan
    backup: Path | None


# ---------------------------------------------------------------------- connections


def _check_target(target: Path, *, create: bool = True) -> bool:
    """True if ``target`` must be created; refuses anything but a service file."""
    shown = str(target)
    if target.is_dir():
        raise DatabaseOpenError(f"{shown} is a folder, not a service database file.", shown)
    if not create and not target.exists():
        raise DatabaseOpenError(
            f"The service file {shown} is not there any more (moved, renamed or deleted).",
            shown,
        )
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
    cancelled: Callable[[], bool] | None = None,
) -> PublishPlan:
    """What publishing ``db`` into ``target`` would change; writes nothing anywhere.

    Raises:
        DatabaseOpenError: ``target`` exists and is not a service file.
        DatabaseBusyError: the service held its file locked longer than the timeout.
    """
    path = Path(target).expanduser().absolute()
    new_file = _check_target(path, create=options.create)
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
            load_desired(db, svc, now, say, cancelled or (lambda: False))
            say("Comparing with the service file")
            svc.exec_driver_sql("BEGIN")
            return build_plan(
                svc,
                path,
                new_file,
                remove_service_only=options.remove_service_only,
                has_base=options.baseline is not None,
            )
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
    baseline_out: Path | None = None,
) -> PublishResult:
    """Write ``db`` into the service file ``target`` (created if missing) in one
    transaction, after a timestamped backup of an existing file.

    Args:
        expected: the previewed plan; if the file or the database changed since, so that
            the changes would differ, nothing is written (ConflictError).
        cancelled: polled between steps; True rolls back and raises PublishCancelled.
        baseline_out: where to keep a copy of the service tables exactly as this publish
            commits them (the next baseline of linked editing), written in the same
            transaction so that nothing the service writes right after is mistaken for
            something AccessGuard had seen.

    Returns:
        the plan that was applied and the backup taken (None for a new file).

    Raises:
        DatabaseBusyError: the service holds its file; nothing written.
        ConflictError: the changes differ from ``expected``; nothing written.
        PublishCancelled, DatabaseOpenError, DatabaseError.
        OperatorPermissionError: the operator may not administer (core/operators.py).
    """
    # The service answers access checks from this file: administrators only (operators).
    check(db.access, AppAction.ADMINISTER)
    path = Path(target).expanduser().absolute()
    new_file = _check_target(path, create=options.create)
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
    keep = baseline_out.with_name(baseline_out.name + ".partial") if baseline_out else None
    snapshots = ExitStack()
    try:
        with snapshots, _service_connection(
            work, write=True, timeout=options.busy_timeout, baseline=options.baseline
        ) as svc:
            load_desired(db, svc, now, say, stop)
            check_cancel()
            plan_args: dict[str, Any] = {
                "remove_service_only": options.remove_service_only,
                "has_base": options.baseline is not None,
            }
            counter: int | None = None
            snapshot_plan: PublishPlan | None = None
            if not new_file:
                # Compare with a snapshot first, holding no lock: the service keeps
                # working. Under the write lock an unchanged file (same change counter)
                # needs no second look.
                say("Comparing with the service file")
                folder = Path(snapshots.enter_context(tempfile.TemporaryDirectory()))
                counter = snapshot_to(path, folder / "snapshot.db")
                svc.exec_driver_sql(
                    "ATTACH DATABASE ? AS snap", ((folder / "snapshot.db").as_uri() + "?mode=ro",)
                )
                snapshot_plan = build_plan(svc, path, new_file, state="snap", **plan_args)
                check_cancel()
            if keep is not None:
                remove_with_side_files(keep)
                svc.exec_driver_sql("ATTACH DATABASE ? AS keep", (str(keep),))
            say("Waiting for the service file's write lock")
            try:
                svc.exec_driver_sql("BEGIN IMMEDIATE")
            except Exception as exc:
                raise _translate(exc, path) from exc
            if new_file:
                for ddl in SERVICE_DDL:
                    svc.exec_driver_sql(ddl)
                plan = build_plan(svc, path, new_file, **plan_args)
            else:
                backup = _backup(path, say)
                if snapshot_plan is None or counter is None or change_counter(path) != counter:
                    say("The service wrote meanwhile: comparing again")
                    drop_plan(svc)
                    plan = build_plan(svc, path, new_file, **plan_args)
                else:
                    plan = snapshot_plan
            if expected is not None and expected.fingerprint != plan.fingerprint:
                raise _changed(path)
            check_cancel()
            say("Writing the service file")
            params = {"all": int(options.remove_service_only)}
            for statement in APPLY_SQL:
                svc.exec_driver_sql(statement, params)
            if keep is not None:
                for statement in KEEP_BASELINE_SQL:
                    svc.exec_driver_sql(statement)
            check_cancel()
            try:
                svc.exec_driver_sql("COMMIT")
            except Exception as exc:
                raise _translate(exc, path) from exc
        if new_file:
            os.replace(work, path)
            sync_folder(path.parent)
        if keep is not None and baseline_out is not None:
            os.replace(keep, baseline_out)
    except BaseException as exc:
        _discard(backup, work if new_file else None)
        if keep is not None:
            remove_with_side_files(keep)
        typed = _typed(exc, path)
        if typed is not None:
            raise typed from exc
        raise
    return PublishResult(plan, backup)


def _backup(path: Path, say: Progress) -> Path:
    """The timestamped copy of the service file, taken under its write lock."""
    say("Backing up the service file")
    backup = backup_name(path)
    try:
        copy_file(path, backup, mode=stat.S_IRUSR | stat.S_IWUSR)
    except OSError as exc:
        raise DatabaseError(
            f"No backup of {path} could be written next to it ({exc.strerror}); "
            "nothing was written."
        ) from exc
    return backup


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
    sign_in: Callable[[Database], None] | None = None,
) -> int:
    """``python -m accessguard_gui publish DB --to SERVICE_DB [--dry-run]``.

    Prints the preview to ``out``; publishes unless ``dry_run``. Returns the exit status:
    0 on success, 1 when anything is refused (the reason on ``err``). ``sign_in`` signs
    the operator in to a database that requires it (cli.py).
    """
    options = PublishOptions(remove_service_only=remove_service_only)
    try:
        with Database(db, create=False, read_only=True) as source:
            if sign_in is not None:
                sign_in(source)
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
