"""The database: one SQLite file (or any SQLAlchemy URL) and one short session per action.

``Database`` checks a file before touching it (is it SQLite? ours? which schema version?),
creates or upgrades the schema through Alembic, and hands out sessions:

    with db.action("Assign role") as session:   # one transaction, committed at the end
        rbac.assign_user(session, "alice", "Staff")
    with db.read() as session:                  # a short read, never committed
        rows = rbac.assigned_roles(session, "alice")

No session outlives the ``with`` block: a long-lived session would pin a read transaction,
block WAL checkpoints and show stale data.

Every SQLite connection gets foreign keys on, WAL with synchronous=FULL (a committed save
survives a crash or power loss), and a busy timeout: a save while another process holds
the write lock waits that long, then fails with DatabaseBusyError and writes nothing.
A refused file is never written to; an older file is upgraded on a copy that replaces it
only when complete, after a timestamped backup of the original (``_upgrade_with_backup``).
File-level helpers live in ``sqlite_files``.

On a PostgreSQL URL the schema is created or upgraded in place, and write transactions
take turns through one advisory lock (``_writers_take_turns``), as on an SQLite file.

Operators (core/operators.py): ``db.access`` says who is at the keyboard and what they
may do. A database that requires sign-in reads and writes nothing until ``sign_in``;
every action re-reads the operator's rights in its own transaction and its session
refuses, through ``operators.gate``, each change the operator may not make.
"""

from __future__ import annotations

import getpass
import glob
import os
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.pool import QueuePool, StaticPool

from . import audit, file_lock, operators
from .checkpoints import SAFETY_PAGES, Checkpointer
from .errors import (
    AccessGuardError,
    ConflictError,
    CorruptDatabaseError,
    DatabaseBusyError,
    DatabaseError,
    DatabaseOpenError,
    DuplicateError,
    EmptyFileError,
    ForeignDatabaseError,
    HotJournalError,
    MigrationError,
    NewerSchemaError,
    QueryStoppedError,
    ReadOnlyDatabaseError,
    SpecialFileError,
)
from .models import utcnow
from .operators import AppAction, OperatorAccess
from .schema import head_revision, is_known_revision, upgrade
from .sqlite_files import (
    PARTIAL,
    QUICK_CHECK_LIMIT,
    SQLITE_HEADER,
    copy_file,
    hot_journal,
    inspect_sqlite_file,
    is_frozen,
    make_self_contained,
    remove_with_side_files,
    restore_backup,
    settle,
    side_files,
    sqlite_backup,
    sync_folder,
    translate_sqlite,
    unused_name,
)
from .validation import safe_operator

__all__ = [
    "QUICK_CHECK_LIMIT",
    "SQLITE_HEADER",
    "Database",
    "current_operator",
    "default_database_path",
    "inspect_sqlite_file",
    "restore_backup",
]

APP_NAME = "AccessGuard"
DEFAULT_FILENAME = "accessguard.db"
BUSY_TIMEOUT_S = 5.0
# How long an opener waits while another process upgrades the same file (the user can
# cancel sooner through ``on_wait``): upgrading a million-user file takes tens of seconds.
UPGRADE_WAIT_S = 600.0
# Tables whose row counts an upgrade must keep: a work copy that lost rows (or a fresh,
# empty database in its place) never replaces the user's file.
KEPT_TABLES = (
    "users", "roles", "resources", "permissions", "user_roles", "role_permissions",
    "role_inheritance", "audit_log",
)
# The PostgreSQL advisory lock every AccessGuard write transaction holds ("AGWR").
PG_WRITE_LOCK = 0x41475752


def default_database_path() -> Path:
    """``accessguard.db`` in the per-user data directory (created if needed)."""
    import platformdirs  # only a start without a file asks (cold start, issue 11)

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False, ensure_exists=True)) / (
        DEFAULT_FILENAME
    )


def current_operator() -> str:
    """The person making changes, recorded in the audit trail: for now the OS user, made
    safe (``validation.safe_operator``: $LOGNAME and $USER can say anything)."""
    return safe_operator(_os_user())[0]


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "unknown"


def _is_url(target: str) -> bool:
    return "://" in target


# PostgreSQL: lock_not_available (lock_timeout), serialization_failure, deadlock_detected.
PG_BUSY_STATES = frozenset({"55P03", "40001", "40P01"})


def _translate(exc: BaseException) -> AccessGuardError | None:
    """Known database failures as typed errors a person can read; None for bugs."""
    if isinstance(exc, AccessGuardError):
        return exc
    if isinstance(exc, StaleDataError):
        return ConflictError("record", None)
    if isinstance(exc, IntegrityError):
        text = str(exc.orig).lower()
        if "unique" in text or "duplicate" in text:
            return DuplicateError("A record with this name already exists.")
        if "foreign key" in text:
            return DatabaseError("A referenced record no longer exists.")
        return DatabaseError(f"The database refused the change: {exc.orig}")
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None)
    if isinstance(exc, DBAPIError) and sqlstate in PG_BUSY_STATES:
        return DatabaseBusyError()
    if isinstance(exc, DBAPIError) and sqlstate == "P0001":
        # A PostgreSQL trigger's RAISE EXCEPTION (the append-only audit log): SQLite's
        # RAISE(ABORT) arrives as an IntegrityError and reads the same.
        diag = getattr(exc.orig, "diag", None)
        message = getattr(diag, "message_primary", None) or str(exc.orig)
        return DatabaseError(f"The database refused the change: {message}")
    if isinstance(exc, DBAPIError) and sqlstate == "42501":
        # The server refused the login (core/server_enforcement.py): the operator's rights.
        from .server_enforcement import refusal

        return refusal(exc.orig)
    if isinstance(exc, DBAPIError):
        text = str(exc.orig).lower()
        if "locked" in text or "busy" in text:
            return DatabaseBusyError()
        if "readonly" in text or "read-only" in text:
            return ReadOnlyDatabaseError(
                "The database file cannot be written (read-only file or folder)."
            )
        if "malformed" in text or "not a database" in text:
            return DatabaseError("The database file is damaged: " + str(exc.orig))
        if "disk i/o" in text or "full" in text:
            return DatabaseError("The database file could not be written: " + str(exc.orig))
        if isinstance(exc, OperationalError) and "unable to open" in text:
            return DatabaseError("The database file can no longer be opened.")
    return None


class Database:
    """An opened AccessGuard database.

    Args:
        target: a file path, an SQLAlchemy URL, or None for the per-user default file.
        create: create a missing file (default True); when False a missing file is refused.
        read_only: open without write access even if the file is writable.
        operator: the name recorded in the audit trail (default: the OS user).
        busy_timeout: seconds a save waits for another writer before DatabaseBusyError.
        on_wait: called with a message for the user, about every 50 ms, while another
            process upgrades the same file; return False to stop waiting
            (DatabaseBusyError). Without it the open waits up to UPGRADE_WAIT_S.
        on_progress: called with a message for the user before a long step of the open
            (upgrading the file, recovering it after a crash), so a window can say why
            opening takes a while.

    Attributes:
        path: the SQLite file, or None for a server URL.
        read_only: True if changes cannot be saved (asked for, or the file is not writable).
        backup_path: the copy taken before an upgrade of an older file, if any.
        recovery_backup: the copy taken before a rollback journal left by a crashed
            program was played back, if any.
        created: True if this open created a new database.
        operator / operator_note: the name the audit trail records (validation.safe_operator)
            and, if it had to be made safe, why (None otherwise).
    """

    def __init__(
        self,
        target: str | os.PathLike[str] | None = None,
        *,
        create: bool = True,
        read_only: bool = False,
        operator: str | None = None,
        busy_timeout: float = BUSY_TIMEOUT_S,
        on_wait: Callable[[str], bool] | None = None,
        on_progress: Callable[[str], None] | None = None,
    ) -> None:
        # Bounded and visible, whatever the environment or the caller says; the note
        # says what was changed (the window shows it).
        self.operator, self.operator_note = safe_operator(operator or _os_user())
        # Who opened the file, kept while an operator is signed in (sign-in records).
        self.os_operator = self.operator
        self.operator_given = operator is not None
        # Time for sign-in back-off (tests inject a clock instead of sleeping).
        self.clock: Callable[[], datetime] = utcnow
        # Failed sign-ins per name in this process: a read-only file cannot record them.
        self.sign_in_failures: dict[str, list[datetime]] = {}
        self.sign_in_note: str | None = None
        self.busy_timeout = busy_timeout
        self._on_wait = on_wait
        self._on_progress = on_progress
        self.backup_path: Path | None = None
        self.recovery_backup: Path | None = None
        self.created = False
        self.read_only = read_only
        self._checkpoints: Checkpointer | None = None  # core/checkpoints.py
        self.path: Path | None
        if target is None:
            self.path = default_database_path()
            self.url: URL = make_url(f"sqlite:///{self.path}")
        elif isinstance(target, str) and _is_url(target):
            self.url = make_url(target)
            if self.url.drivername == "postgresql":
                # The driver of the "postgres" extra (SQLAlchemy's default is psycopg2).
                self.url = self.url.set(drivername="postgresql+psycopg")
            self.path = None
            if self.url.get_backend_name() == "sqlite" and self.url.database not in (
                None,
                "",
                ":memory:",
            ):
                self.path = Path(self.url.database).expanduser().absolute()
        else:
            self.path = Path(target).expanduser().absolute()
            self.url = make_url(f"sqlite:///{self.path}")
        if self.path is not None:
            self._engine = self._open_sqlite(self.path, create=create)
            if not self.read_only:
                wal, path = Path(f"{self.path}-wal"), self.path
                self._checkpoints = Checkpointer(wal, lambda: self._connect(path))
        elif self.url.get_backend_name() == "sqlite":
            # An in-memory database (tests, previews): one shared connection.
            self._engine = create_engine(
                self.url, poolclass=StaticPool, connect_args={"check_same_thread": False}
            )
            event.listen(self._engine, "connect", _memory_pragmas)
            self._prepare_schema_server()
        else:
            self._engine = self._open_server()
        self._write_engine = self._engine.execution_options(accessguard_write=True)
        factory_args: dict[str, Any] = {"autoflush": False, "expire_on_commit": False}
        self._read_sessions = sessionmaker(bind=self._engine, **factory_args)
        self._write_sessions = sessionmaker(bind=self._write_engine, **factory_args)
        self._access = operators.initial_access(self)
        if self._access.signed_in:  # PostgreSQL: the server login is the operator
            self.operator = self.os_operator = self._access.name

    # ------------------------------------------------------------------ public API

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    @property
    def display_name(self) -> str:
        if self.path is not None:
            return str(self.path)
        return self.url.render_as_string(hide_password=True)

    # ------------------------------------------------------------------ operators

    @property
    def access(self) -> OperatorAccess:
        """Who is at the keyboard and what they may do (core/operators.py)."""
        return self._access

    def sign_in(self, username: str, password: str) -> OperatorAccess:
        """Sign an operator in (``operators.sign_in``): SignInError if refused."""
        return operators.sign_in(self, username, password)

    def sign_out(self) -> None:
        operators.sign_out(self)

    def become(self, access: OperatorAccess | None) -> None:
        """Make ``access`` the operator (None: nobody signed in), the audit's "who"."""
        if access is None:
            self.operator = self.os_operator
            required = operators.sign_in_required(self)
            if self.dialect == "postgresql":
                access = operators.initial_access(self)
            else:
                access = (OperatorAccess.nobody() if required
                          else OperatorAccess.unrestricted(self.operator))
        else:
            self.operator = access.name
        self._access = access

    def refresh_access(self) -> OperatorAccess:
        """Read the operator's rights (and the sign-in setting) again from the file."""
        with self.internal_session() as session:
            self._check_operator(session)
        return self._access

    def _check_operator(self, session: Session) -> None:
        """The operator's access as the records say now, in the action's transaction: a
        right taken away (or sign-in switched on by someone else) counts at once."""
        access = self._access
        now = self.clock()
        if self.dialect == "postgresql":  # the operator is the login, never signed out
            if access.enforced:
                self._access = operators.access_for(session, access.name, now=now)
            elif operators.stored_sign_in_required(session):
                login = operators.session_user(session)
                self._access = operators.access_for(session, login, now=now)
                self.operator = self.os_operator = login
            else:
                return
        elif access.signed_in:
            self._access = operators.access_for(session, access.name, now=now)
        elif operators.stored_sign_in_required(session):
            self._access = OperatorAccess.nobody()
        elif not access.enforced:
            return
        if not self._access.may(AppAction.VIEW):
            raise self._access.refusal(AppAction.VIEW)

    @contextmanager
    def internal_session(self, *, write: bool = False) -> Iterator[Session]:
        """A session outside the operator's gate, for the operators module's own
        bookkeeping (the setting, sign-in records); never for the user's changes."""
        session = (self._write_sessions if write else self._read_sessions)()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    # ------------------------------------------------------------------ sessions

    @contextmanager
    def action(self, name: str) -> Iterator[Session]:
        """One user action: a session whose work is committed once at the end.

        Any exception rolls back everything the action did and is re-raised, known
        database failures as typed errors (busy, read-only, conflict, duplicate).
        The operator's rights are read again first; every change they may not make is
        refused by the gate (``operators.gate``) with OperatorPermissionError.
        """
        if self.read_only:
            raise ReadOnlyDatabaseError()
        session = self._write_sessions()
        session.info["action"] = name
        event.listen(session, "after_flush", audit.after_flush)
        try:
            self._check_operator(session)
            session.info["operator"] = self.operator
            operators.gate(session, self._access)
            yield session
            session.commit()
            if self._checkpoints is not None:
                self._checkpoints.after_commit()
            if operators.setting_changed(session):
                # PostgreSQL: the login's access is worked out again (enforced or not);
                # a file keeps whoever is signed in, else nobody / the OS user.
                keep = self._access.signed_in and self.dialect != "postgresql"
                self.become(self._access if keep else None)
        except BaseException as exc:
            session.rollback()
            typed = _translate(exc)
            if typed is not None and typed is not exc:
                raise typed from exc
            raise
        finally:
            session.close()

    @contextmanager
    def preview(self, name: str = "Preview") -> Iterator[Session]:
        """Like ``action`` but always rolled back: to see what a change would do (for
        example the access users would gain or lose) without committing it.

        It takes the write lock like an action (a deferred read transaction that later
        writes fails at once when another process wrote meanwhile), unless the database
        is read-only, where a preview can only read."""
        self._require_view()
        session = self._read_sessions() if self.read_only else self._write_sessions()
        session.info["operator"] = self.operator
        session.info["action"] = name
        try:
            yield session
        except BaseException as exc:
            typed = _translate(exc)
            if typed is not None and typed is not exc:
                raise typed from exc
            raise
        finally:
            session.rollback()
            session.close()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A short read-only conversation; always rolled back and closed. Needs
        AccessGuard: view when the database requires sign-in."""
        self._require_view()
        session = self._read_sessions()
        try:
            yield session
        except BaseException as exc:
            typed = _translate(exc)
            if typed is not None and typed is not exc:
                raise typed from exc
            raise
        finally:
            session.rollback()
            session.close()

    def _require_view(self) -> None:
        if not self._access.may(AppAction.VIEW):
            raise self._access.refusal(AppAction.VIEW)

    def close(self) -> None:
        """Release every pooled connection (lets SQLite checkpoint and drop -wal/-shm)."""
        if self._checkpoints is not None:
            self._checkpoints.close()
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def backup_to(self, destination: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """A consistent copy of the open database, taken with SQLite's online backup API
        while other connections (ours or another process's) may be writing.

        The copy is written to a temporary file next to ``destination`` and renamed into
        place only when complete, so a failed backup never leaves a half-written file.
        New copies are readable and writable by their owner only.

        Raises:
            DatabaseError: a server database, the destination is the open file itself, it
                exists and ``overwrite`` is False, or it cannot be written.
        """
        if self.path is None:
            raise DatabaseError("Backups of server databases are made with the server's tools.")
        dest = Path(destination).expanduser().absolute()
        if dest.exists() and dest.resolve() == self.path.resolve():
            raise DatabaseError("A backup cannot replace the database it copies.")
        if dest.exists() and not overwrite:
            raise DatabaseError(f"{dest} already exists.")
        if dest.is_dir():
            raise DatabaseError(f"{dest} is a folder.")
        try:
            sqlite_backup(self.path, dest, replace=True)
        except sqlite3.Error as exc:
            typed = translate_sqlite(exc)
            raise typed from exc
        except OSError as exc:
            raise DatabaseError(
                f"The backup could not be written to {dest}: {exc.strerror}."
            ) from exc
        return dest

    def check(self, cancel: threading.Event | None = None) -> list[str]:
        """Integrity and foreign-key checks; an empty list means the file is healthy.

        Runs on a fresh connection of its own, so it reads the file as it is on disk
        rather than pages a pooled connection has cached. Can take seconds on a very
        large file: call it on demand ("Check database", off the GUI thread), not on
        every open. The audit chain and schema objects: core/integrity.py.

        Raises:
            QueryStoppedError: ``cancel`` was set (from another thread) meanwhile.
        """
        problems: list[str] = []
        if self.dialect != "sqlite" or self.path is None:
            return problems
        try:
            conn = self._connect()
        except sqlite3.Error as exc:
            return [f"The database file cannot be opened: {exc}."]
        if cancel is not None:
            conn.set_progress_handler(lambda: 1 if cancel.is_set() else 0, 10_000)
        try:
            if cancel is not None and cancel.is_set():
                raise sqlite3.OperationalError("interrupted")
            for (line,) in conn.execute("PRAGMA integrity_check").fetchall():
                if line != "ok":
                    problems.append(str(line))
            for row in conn.execute("PRAGMA foreign_key_check").fetchall():
                problems.append(f"table {row[0]} row {row[1]} refers to a missing {row[2]} record")
        except sqlite3.DatabaseError as exc:
            if cancel is not None and cancel.is_set():
                raise QueryStoppedError("The check was cancelled.") from exc
            problems.append(f"The database file is damaged: {exc}.")
        finally:
            conn.close()
        return problems

    # ------------------------------------------------------------------ SQLite opening

    def _open_sqlite(self, path: Path, *, create: bool) -> Engine:
        shown = str(path)
        self._refuse_special(path)
        if path.is_dir():
            raise DatabaseOpenError(f"{shown} is a folder, not a database file.", shown)
        if not path.exists():
            if not create or self.read_only:
                raise DatabaseOpenError(f"{shown} does not exist.", shown)
            if not path.parent.is_dir():
                raise DatabaseOpenError(f"The folder {path.parent} does not exist.", shown)
            self._create_file(path)
            create = True
        if not os.access(path, os.R_OK):
            raise DatabaseOpenError(f"You do not have permission to read {shown}.", shown)
        writable = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
        if not writable:
            self.read_only = True
        size = path.stat().st_size
        if size == 0:
            if self.read_only:
                raise DatabaseOpenError(
                    f"{shown} is empty and cannot be written, so no database can be created in it.",
                    shown,
                )
            if not create:
                raise EmptyFileError(
                    f"{shown} is an empty file. AccessGuard can make a new, empty database of "
                    "it.",
                    shown,
                )
            engine = self._make_engine(path)
            self._init_schema(engine)
            self.created = True
            return engine
        if hot_journal(path):
            # Only publishing writes to the web service's own file (issue 9): a service
            # file interrupted mid-write is refused with the reason, not rolled back here.
            from .interchange.service_db import service_database_found

            service_database_found(path)
            self.recovery_backup = self._recover_hot_journal(path)
        state = inspect_sqlite_file(path)
        if state.revision is None and not state.tables:
            if self.read_only:
                raise DatabaseOpenError(f"{shown} holds no tables and cannot be written.", shown)
            engine = self._make_engine(path)
            self._init_schema(engine)
            self.created = True
            return engine
        self._check_revision(path, state.revision, state.tables)
        if state.revision != head_revision():
            if self.read_only:
                raise DatabaseOpenError(
                    f"{shown} uses an older schema and must be upgraded, but it is read-only.",
                    shown,
                )
            self.backup_path = self._upgrade_under_lock(path)
        return self._make_engine(path)

    @staticmethod
    def _refuse_special(path: Path) -> None:
        """Only regular files (or links to one) are databases. A FIFO would block the
        first read forever; a device such as /dev/zero reads as an empty file and would
        be "created" as a database, with a -journal made next to it."""
        shown = str(path)
        try:
            info = os.stat(path)
        except FileNotFoundError:
            if os.path.lexists(path):
                raise SpecialFileError(
                    f"{shown} is a link to a file that does not exist "
                    f"({os.readlink(path)}); AccessGuard does not create databases through "
                    "broken links.",
                    shown,
                ) from None
            return
        except OSError as exc:
            raise DatabaseOpenError(f"{shown} cannot be read: {exc.strerror}.", shown) from exc
        if stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode):
            return
        kind = (
            "a named pipe (FIFO)" if stat.S_ISFIFO(info.st_mode)
            else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
            else "a socket" if stat.S_ISSOCK(info.st_mode)
            else "not a regular file"
        )
        raise SpecialFileError(
            f"{shown} is {kind}, not a database file. AccessGuard opens regular files only.",
            shown,
        )

    def _check_revision(self, path: Path, revision: str | None, tables: list[str]) -> None:
        shown = str(path)
        if revision is None:
            # The web service's own accessguard.db is AccessGuard data: say what it is, so
            # the caller can offer linked editing or an import (issue 9).
            from .interchange.service_db import service_database_found

            service_database_found(path)
            raise ForeignDatabaseError(
                f"{shown} is an SQLite database of another application "
                f"(tables: {', '.join(tables[:5])}{'…' if len(tables) > 5 else ''}), "
                "not an AccessGuard database.",
                shown,
            )
        if not is_known_revision(revision):
            raise NewerSchemaError(
                f"{shown} was written by a newer version of AccessGuard "
                f"(schema {revision}). Please update AccessGuard to open it.",
                shown,
            )

    def _recover_hot_journal(self, path: Path) -> Path:
        """Play back a rollback journal left by a program that stopped mid-write.

        SQLite rolls the interrupted transaction back on the next read-write open; the
        file and its journal are first copied aside (kept), so even a failed recovery
        loses nothing. Returns the copy of the file as it was.
        """
        shown = str(path)
        if self.read_only:
            raise HotJournalError(
                f"{shown} has unfinished changes from a program that stopped while writing "
                "it (a rollback journal beside it). AccessGuard can undo them safely, but "
                "that needs write access to the file and its folder.",
                shown,
            )
        real = path.resolve()
        journal = Path(str(real) + "-journal")
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        backup = unused_name(real.with_name(f"{real.stem}.before-recovery-{stamp}{real.suffix or '.db'}"))
        try:
            copy_file(real, backup, mode=stat.S_IRUSR | stat.S_IWUSR)
            copy_file(journal, Path(str(backup) + "-journal"), mode=stat.S_IRUSR | stat.S_IWUSR)
        except OSError as exc:
            backup.unlink(missing_ok=True)
            raise HotJournalError(
                f"{shown} has unfinished changes from a program that stopped while writing "
                f"it, and no copy could be made before undoing them ({exc.strerror}); the "
                "file was left as it was.",
                shown,
            ) from exc
        conn = self._connect(real)
        try:
            # Any read on a read-write connection plays the hot journal back.
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            result = conn.execute("PRAGMA quick_check").fetchall()
        except sqlite3.Error as exc:
            raise translate_sqlite(exc) from exc
        finally:
            conn.close()
        if result != [("ok",)]:
            raise CorruptDatabaseError(
                f"{shown} is damaged even after undoing the unfinished changes "
                f"({result[0][0]}); the file as it was is kept at {backup}.",
                shown,
            )
        return backup

    def _upgrade_under_lock(self, path: Path) -> Path | None:
        """Upgrade an older file, one process at a time.

        Any number of AccessGuard processes may open the same older file at once (two
        windows after an update, two colleagues on a shared folder). They take turns
        through an inter-process lock; each one looks at the file again once it holds
        the lock, so the second finds the first one's upgraded file and simply opens
        it. Returns the backup this process made, or None if another one upgraded.
        """
        real = path.resolve()
        shown = str(path)
        message = (
            f"Another AccessGuard is upgrading {shown} to this version. Waiting for it to "
            "finish…"
        )

        def waiting() -> bool:
            return self._on_wait is None or self._on_wait(message)

        with file_lock.exclusive(
            file_lock.lock_path_for(real),
            timeout=UPGRADE_WAIT_S,
            on_wait=waiting,
            busy_message=(
                f"Another AccessGuard is still upgrading {shown}; the file was not opened. "
                "Try again when it has finished."
            ),
        ):
            state = inspect_sqlite_file(real)
            self._check_revision(path, state.revision, state.tables)
            if state.revision == head_revision():
                return None
            assert state.revision is not None
            if self._on_progress is not None:
                self._on_progress(
                    f"Upgrading {shown} to this version of AccessGuard. The original is "
                    "kept as a backup beside it; a large file takes a minute or two."
                )
            return self._upgrade_with_backup(path, state.revision)

    def _create_file(self, path: Path) -> None:
        """A new, empty file readable and writable by its owner only."""
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, stat.S_IRUSR | stat.S_IWUSR)
        os.close(fd)

    def _connect(self, path: Path | None = None) -> sqlite3.Connection:
        """A raw connection to the file with the busy timeout (read-only if we are)."""
        target = path or self.path
        assert target is not None
        uri = target.as_uri()
        if self.read_only:
            uri += "?immutable=1" if is_frozen(target) else "?mode=ro"
        else:
            # Never create: a file that vanished (or a work copy removed under us) must
            # fail to open, not come back as a new, empty database.
            uri += "?mode=rw"
        return sqlite3.connect(
            uri,
            uri=True,
            check_same_thread=False,
            timeout=self.busy_timeout,
            isolation_level=None,
        )

    def _make_engine(self, path: Path) -> Engine:
        read_only = self.read_only
        timeout = self.busy_timeout

        def connect() -> sqlite3.Connection:
            return self._connect(path)

        engine = create_engine(
            "sqlite://", creator=connect, poolclass=QueuePool, pool_size=4, max_overflow=8
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
            # WAL + synchronous=FULL: a committed transaction survives power loss.
            cur.execute("PRAGMA synchronous=FULL")
            # The default 2 MB page cache is the cliff at a million rows (performance.md).
            cur.execute("PRAGMA cache_size=-65536")
            cur.execute("PRAGMA mmap_size=268435456")
            cur.execute("PRAGMA temp_store=MEMORY")
            if not read_only:
                # Persistent in the file; a no-op once the file is in WAL mode.
                cur.execute("PRAGMA journal_mode=WAL")
                # Checkpoints run after a save, not inside its commit (core/checkpoints.py).
                cur.execute(f"PRAGMA wal_autocheckpoint={SAFETY_PAGES}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # Writers take the write lock up front (BEGIN IMMEDIATE) so a busy database
            # waits busy_timeout and fails cleanly instead of deadlocking on lock upgrade.
            if conn.get_execution_options().get("accessguard_write"):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.exec_driver_sql("BEGIN")

        return engine

    def _init_schema(self, engine: Engine) -> None:
        try:
            with engine.execution_options(accessguard_write=True).begin() as conn:
                upgrade(conn, "head")
        except Exception:
            engine.dispose()
            raise

    def _upgrade_with_backup(self, path: Path, revision: str) -> Path:
        """Upgrade an older file without ever writing to it until the upgrade succeeded.

        Called with the upgrade lock held (``_upgrade_under_lock``). The file is copied
        twice: to a timestamped backup next to it (kept, so the user can go back) and to
        a work copy of a name no other process uses, which is migrated. Only a work copy
        that is complete — at the newest schema, healthy, with every record of the
        original — replaces the file, by an atomic rename, and only if nobody changed
        the original meanwhile. If anything fails (or the app dies halfway) the
        original is left exactly as it was, byte for byte.
        """
        real = path.resolve()
        settle(real, self.busy_timeout)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        backup = unused_name(
            real.with_name(f"{real.stem}.backup-{stamp}-{revision}{real.suffix or '.db'}")
        )
        import secrets  # only an upgrade needs it (cold start, issue 11)

        work = real.with_name(f"{real.name}.{os.getpid()}-{secrets.token_hex(4)}.upgrading")
        self._remove_stale_upgrades(real)
        mode = stat.S_IMODE(real.stat().st_mode)
        original = _identity(real)
        try:
            copy_file(real, backup, mode=stat.S_IRUSR | stat.S_IWUSR)
            copy_file(real, work, mode=mode)
        except OSError as exc:
            remove_with_side_files(work)
            if backup.exists():
                backup.unlink()
            raise DatabaseOpenError(
                f"{path} uses an older schema, but no backup could be written next to it "
                f"({exc.strerror}); the file was left as it was.",
                str(path),
            ) from exc
        engine = self._make_engine(work)
        try:
            with engine.execution_options(accessguard_write=True).begin() as conn:
                upgrade(conn, "head")
            engine.dispose()
            make_self_contained(work)
            _verify_upgraded_copy(backup, work)
            if _identity(real) != original or any(s.exists() for s in side_files(real)):
                raise DatabaseBusyError(
                    "another program opened or changed the file during the upgrade"
                )
            os.replace(work, real)
            sync_folder(real.parent)
        except Exception as exc:
            engine.dispose()
            remove_with_side_files(work)
            backup.unlink(missing_ok=True)
            reason = exc.message if isinstance(exc, AccessGuardError) else str(exc)
            raise MigrationError(
                f"Upgrading {path} to this version of AccessGuard failed ({reason}); "
                "the file was left as it was.",
                str(path),
            ) from exc
        return backup

    @staticmethod
    def _remove_stale_upgrades(real: Path) -> None:
        """Drop leftovers of upgrades that died halfway: never the user's data. Safe only
        with the upgrade lock held — a live upgrader would hold it."""
        name = glob.escape(real.name)
        for work in (
            *real.parent.glob(f"{name}.*.upgrading"),
            real.with_name(real.name + ".upgrading"),  # the name older versions used
        ):
            remove_with_side_files(work)
        for stale in real.parent.glob(f"{glob.escape(real.stem)}.backup-*{PARTIAL}"):
            stale.unlink(missing_ok=True)

    def _open_server(self) -> Engine:
        """A database server's engine, its schema created or upgraded; a missing driver
        or a server that cannot be reached is a DatabaseOpenError, not a traceback."""
        shown = self.display_name
        try:
            self._engine = create_engine(self.url, pool_pre_ping=True)
        except ImportError as exc:
            raise DatabaseOpenError(
                f"AccessGuard cannot talk to {self.url.get_backend_name()} here: its driver "
                f"is not installed ({exc.name or exc}). For PostgreSQL install "
                "accessguard[postgres].",
                shown,
            ) from exc
        if self._engine.dialect.name == "postgresql":
            _writers_take_turns(self._engine, self.busy_timeout)
        try:
            self._prepare_schema_server()
        except (OperationalError, DBAPIError) as exc:
            self._engine.dispose()
            typed = _translate(exc)
            if isinstance(typed, DatabaseBusyError):
                raise typed from exc
            first = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise DatabaseOpenError(f"{shown} cannot be opened: {first}", shown) from exc
        return self._engine

    def _prepare_schema_server(self) -> None:
        names = inspect(self._engine).get_table_names()
        with self._engine.connect() as conn:
            revision = None
            if "alembic_version" in names:
                revision = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        writer = self._engine.execution_options(accessguard_write=True)
        if not names:
            with writer.begin() as conn:
                upgrade(conn, "head")
            self.created = True
        elif revision is None:
            raise ForeignDatabaseError(
                "This database holds tables of another application.", self.display_name
            )
        elif not is_known_revision(revision):
            raise NewerSchemaError(
                f"This database was written by a newer AccessGuard (schema {revision}).",
                self.display_name,
            )
        elif revision != head_revision():
            # Server-enforced operators are put back on after the upgrade, so that what
            # it adds is covered too (a new table stays closed to operators until then).
            from .server_enforcement import install, installed

            enforced = installed(self._engine)
            with writer.begin() as conn:
                upgrade(conn, "head")
            if enforced:
                install(self._engine)


def _identity(path: Path) -> tuple[int, int, int, int]:
    """What tells one state of a file from another: inode, size and change times."""
    info = path.stat()
    return (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _verify_upgraded_copy(original: Path, work: Path) -> None:
    """Refuse a work copy that is not a complete upgrade of ``original`` (the backup, a
    byte copy of the user's file that nobody else writes): missing, not at
    the newest schema, damaged, or holding fewer (or more) records than the original.

    This is the last line of defence against ever renaming anything else over the
    user's file — a fresh empty database made in the work copy's place, say.
    """
    if not work.is_file() or work.stat().st_size == 0:
        raise DatabaseError("the upgraded copy is missing")
    state = inspect_sqlite_file(work)
    if state.revision != head_revision():
        raise DatabaseError(f"the upgraded copy is at schema {state.revision}")
    before, after = (_row_counts(p) for p in (original, work))
    for table, count in before.items():
        if after.get(table) != count:
            raise DatabaseError(
                f"the upgraded copy holds {after.get(table)} rows of {table}, the file {count}"
            )


def _row_counts(path: Path) -> dict[str, int]:
    # immutable: our own copies, which nobody writes; reading them leaves no side files.
    conn = sqlite3.connect(path.as_uri() + "?immutable=1", uri=True)
    try:
        present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        return {
            table: conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            for table in KEPT_TABLES
            if table in present
        }
    finally:
        conn.close()


def _writers_take_turns(engine: Engine, timeout: float) -> None:
    """One writer at a time on PostgreSQL, as SQLite's write lock gives on a file.

    The RBAC rules (no inheritance cycle, separation of duty) are checked by reading
    before writing; under READ COMMITTED two clients could each pass the check and
    together break the rule. Every write transaction therefore first takes one
    transaction-scoped advisory lock (released at commit or rollback; reads never take
    it), waiting at most ``timeout`` like SQLite's busy timeout, then DatabaseBusyError.
    """

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        if conn.get_execution_options().get("accessguard_write"):
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = {max(1, int(timeout * 1000))}")
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_WRITE_LOCK})")


def _memory_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.execute("PRAGMA foreign_keys=ON")
