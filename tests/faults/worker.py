"""A second AccessGuard process for the fault suite, driven over stdin/stdout.

Run as ``python worker.py COMMAND PATH [ARGS]``. Each command prints JSON lines (one per
event, flushed at once) so the test can react to exactly where the process is, and reads
stdin where the test must say when to go on. Nothing here is mocked: it is the same core
code the application runs, on a real file.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from typing import Any

from sqlalchemy import select

from accessguard_gui.core import changes, database, rbac, schema
from accessguard_gui.core.changes import Create, Delete, EditFailed, Entity, Update
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import AccessGuardError, ConflictError
from accessguard_gui.core.models import User


def say(**event: Any) -> None:
    sys.stdout.write(json.dumps(event, default=str) + "\n")
    sys.stdout.flush()


def wait_for_line() -> str:
    line = sys.stdin.readline()
    return line.strip()


def error_event(exc: BaseException) -> dict[str, Any]:
    cause = exc.cause if isinstance(exc, EditFailed) else exc
    event: dict[str, Any] = {"error": type(exc).__name__, "cause": type(cause).__name__}
    event["message"] = str(exc)
    if isinstance(cause, ConflictError):
        event["record"] = cause.record
        event["theirs"] = cause.theirs
    return event


def edit_user(path: str, username: str, display_name: str) -> None:
    """Load a user, wait, then save a new display name with the version that was loaded.

    After the first save the test may say ``retry`` (reload, re-apply), ``overwrite``
    (save without a version check) or ``quit``; ``delete`` deletes the loaded user instead.
    """
    db = Database(path, operator=f"editor-{os.getpid()}")

    def load() -> tuple[int, int]:
        with db.read() as s:
            user = rbac.get_user(s, username)
            return user.id, user.version

    user_id, version = load()
    say(loaded=True, id=user_id, version=version)
    while True:
        command = wait_for_line()
        if command in ("", "quit"):
            break
        if command == "retry":
            user_id, version = load()
        edit_version = None if command == "overwrite" else version
        edit: changes.Edit = Update(
            Entity.USER, user_id, edit_version, {"display_name": display_name}
        )
        if command == "delete":
            edit = Delete(Entity.USER, user_id, version)
        try:
            with db.action("Save") as s:
                changes.apply_edits(s, [edit])
        except AccessGuardError as exc:
            say(**error_event(exc))
        else:
            say(ok=True)
    db.close()


def hold_lock(path: str) -> None:
    """Another writer: hold the write lock with an uncommitted change until told to stop."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "INSERT INTO roles (name, name_key, description, created_at, updated_at, version) "
        "VALUES ('Half written', 'half written', '', '2024-01-01', '2024-01-01', 1)"
    )
    say(locked=True)
    wait_for_line()
    conn.execute("ROLLBACK")
    conn.close()
    say(released=True)


def big_save(path: str, tag: str, count: str) -> None:
    """One large save: ``count`` new users and a changed display name for every existing
    user, in one action. Reports when it starts, when it commits and when it closed."""
    db = Database(path, operator="bulk")
    with db.read() as s:
        existing = [(u.id, u.version) for u in s.scalars(select(User))]
    edits: list[changes.Edit] = [
        Create(Entity.USER, {"username": f"{tag}-{i:05d}", "display_name": f"Bulk {tag} {i}"})
        for i in range(int(count))
    ]
    edits += [Update(Entity.USER, uid, ver, {"display_name": tag}) for uid, ver in existing]
    say(ready=True)
    started = time.perf_counter()
    with db.action(f"Bulk {tag}") as s:
        changes.apply_edits(s, edits)
        applied = time.perf_counter()
        say(committing=True, apply_s=applied - started)
    committed = time.perf_counter()
    say(committed=True, commit_s=committed - applied)
    db.close()  # the last connection checkpoints the WAL into the file
    say(closed=True, close_s=time.perf_counter() - committed)


def ticker(path: str, count: str) -> None:
    """A steady writer: each action adds a user and records the running count on a role,
    so any consistent snapshot has exactly as many ``tick-`` users as the counter says."""
    db = Database(path, operator="ticker")
    for i in range(1, int(count) + 1):
        with db.action("Tick") as s:
            rbac.add_user(s, f"tick-{i:06d}")
            rbac.update_role(s, "Counter", description=str(i))
        if i == 20:
            say(running=True)
    say(finished=True)
    db.close()


def open_file(path: str) -> None:
    """Open (and so upgrade) a file. With AG_FAIL_MIGRATION=1 the upgrade fails halfway."""
    if os.environ.get("AG_FAIL_MIGRATION") == "1":

        def half_upgrade(conn: Any, target: str = "head") -> None:
            schema.upgrade(conn, "0002")
            raise RuntimeError("migration failed halfway")

        database.upgrade = half_upgrade  # type: ignore[assignment]
    say(ready=True)
    started = time.perf_counter()
    try:
        db = Database(path)
    except AccessGuardError as exc:
        say(**error_event(exc))
        return
    say(
        opened=True,
        open_s=time.perf_counter() - started,
        backup=str(db.backup_path) if db.backup_path else None,
    )
    db.close()


def open_on_go_and_add(path: str, username: str) -> None:
    """Get ready, wait for ``go`` (so several workers open at the same instant), open
    the file (upgrading it or waiting for another process that does), add one user.

    The added user proves which file this process really edited: one replaced on disk
    under it would lose the user."""
    say(ready=True)
    wait_for_line()
    waits = 0

    def waiting(_message: str) -> bool:
        nonlocal waits
        waits += 1
        return True

    try:
        db = Database(path, operator=username, on_wait=waiting)
    except AccessGuardError as exc:
        say(**error_event(exc))
        return
    try:
        with db.action("Add after upgrade") as s:
            rbac.add_user(s, username, f"Added by {username}")
    except AccessGuardError as exc:
        say(**error_event(exc))
        return
    finally:
        db.close()
    say(added=True, backup=str(db.backup_path) if db.backup_path else None, waited=waits > 0)


def crash_after_commit(path: str) -> None:
    """An app that committed a change in WAL mode and died before it was checkpointed."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute(
        "INSERT INTO users (username, display_name, active, created_at, updated_at, version) "
        "VALUES ('waluser', 'Only in the WAL', 1, '2024-01-01', '2024-01-01', 1)"
    )
    say(committed=True)
    os.kill(os.getpid(), 9)


COMMANDS = {
    "crash-after-commit": crash_after_commit,
    "edit-user": edit_user,
    "hold-lock": hold_lock,
    "big-save": big_save,
    "ticker": ticker,
    "open": open_file,
    "open-on-go-and-add": open_on_go_and_add,
}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
