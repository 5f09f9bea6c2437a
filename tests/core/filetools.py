"""Helpers for tests about database files: exact snapshots, old files, other users."""

from __future__ import annotations

import os
import pickle
import shutil
import sqlite3
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from accessguard_gui.core import schema

NOBODY = 65534


@dataclass(frozen=True)
class FileSnapshot:
    """Everything a user could notice about a file: its bytes, its mtime, its neighbours."""

    data: bytes
    mtime_ns: int
    mode: int
    neighbours: tuple[str, ...]


def snapshot(path: Path) -> FileSnapshot:
    st = path.stat()
    return FileSnapshot(
        data=path.read_bytes(),
        mtime_ns=st.st_mtime_ns,
        mode=st.st_mode,
        neighbours=tuple(sorted(p.name for p in path.parent.iterdir())),
    )


def build_at_revision(path: Path, revision: str) -> None:
    """A database file at an older schema revision, made the way that version made it."""
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            schema.upgrade(conn, revision)
            conn.exec_driver_sql(
                "INSERT INTO users (username, display_name, email, active, created_at, "
                "updated_at, version) VALUES ('olduser', 'Old User', NULL, 1, "
                "'2024-01-01 00:00:00', '2024-01-01 00:00:00', 1)"
            )
    finally:
        engine.dispose()


def revision_of(path: Path) -> str | None:
    conn = sqlite3.connect(path.as_uri() + "?immutable=1", uri=True)
    try:
        return conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    finally:
        conn.close()


def tables_of(path: Path) -> set[str]:
    conn = sqlite3.connect(path.as_uri() + "?immutable=1", uri=True)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


@dataclass(frozen=True)
class Outcome:
    """What a call did: its value, or the names of its error's classes and its message."""

    value: Any = None
    error_types: tuple[str, ...] = ()
    message: str = ""

    def raised(self, cls: type[BaseException]) -> bool:
        return cls.__name__ in self.error_types


def _outcome(fn: Callable[[], Any]) -> Outcome:
    try:
        return Outcome(value=fn())
    except Exception as exc:  # noqa: BLE001 - reported to the test
        names = tuple(c.__name__ for c in type(exc).__mro__)
        return Outcome(error_types=names, message=str(exc))


def _warm_up() -> None:
    """Walk the opening code paths once as root, so that everything they import lazily
    (Alembic's revision scripts, SQLAlchemy dialect modules, error classes) is in memory
    before the child gives up the right to read the source tree (CI may clone it into a
    folder only root can read)."""
    from accessguard_gui.core import rbac
    from accessguard_gui.core.database import Database
    from accessguard_gui.core.errors import AccessGuardError

    schema.known_revisions()
    schema.head_revision()
    folder = Path(tempfile.mkdtemp(prefix="accessguard-warm-"))
    try:
        path = folder / "warm.db"
        Database(path).close()
        for read_only in (False, True):
            with Database(path, read_only=read_only) as db:
                with db.read() as s:
                    try:
                        rbac.get_user(s, "nobody")
                    except AccessGuardError:
                        pass
                try:
                    with db.action("Warm up") as s:
                        rbac.add_user(s, f"warm{int(read_only)}")
                except AccessGuardError:
                    pass
        try:
            Database(folder / "missing.db", create=False)
        except AccessGuardError:
            pass
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_as_other_user(fn: Callable[[], Any]) -> Outcome:
    """Run ``fn`` as an unprivileged user; its value must be picklable.

    As a normal user this is a plain call. As root (CI) a forked child drops to uid
    ``nobody`` first, because root ignores permission bits and would prove nothing.
    Everything ``fn`` needs must already be imported (the child cannot read root's
    Python installation).
    """
    if not is_root():
        return _outcome(fn)
    _warm_up()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(read_fd)
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            data = pickle.dumps(_outcome(fn))
        except BaseException:  # noqa: BLE001
            data = pickle.dumps(Outcome(error_types=("crash",), message=traceback.format_exc()))
        with os.fdopen(write_fd, "wb") as out:
            out.write(data)
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as inp:
        data = inp.read()
    os.waitpid(pid, 0)
    outcome: Outcome = pickle.loads(data)
    assert outcome.error_types[:1] != ("crash",), outcome.message
    return outcome


def give_to_other_user(path: Path) -> None:
    """Make ``path`` belong to the user ``run_as_other_user`` runs as."""
    if is_root():
        os.chown(path, NOBODY, NOBODY)
