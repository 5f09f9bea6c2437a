"""WAL checkpoints run after a save on their own thread, not inside its commit."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from accessguard_gui.core import checkpoints, rbac
from accessguard_gui.core.database import Database

pytestmark = pytest.mark.sqlite_only


def _users_in_the_file_itself(path: Path) -> int:
    """Users the database file holds without its log (immutable: the -wal is not read)."""
    conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM users").fetchone()[0])
    finally:
        conn.close()


def test_a_save_that_leaves_a_long_log_is_checkpointed_afterwards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkpoints, "WAKE_BYTES", 1)  # any log wakes the thread
    path = tmp_path / "org.db"
    db = Database(path, operator="tester")
    try:
        with db.action("people") as s:
            for k in range(50):
                rbac.add_user(s, f"user{k}")
        assert db._checkpoints is not None  # noqa: SLF001
        assert db._checkpoints.wait_idle(30)  # noqa: SLF001
        assert db._checkpoints.runs >= 1  # noqa: SLF001
        assert _users_in_the_file_itself(path) == 50  # copied from the log into the file
    finally:
        db.close()
    assert not Path(f"{path}-wal").exists()  # closed: SQLite folded and removed the log


def test_the_app_never_checkpoints_inside_a_commit_below_the_safety_bound(
    tmp_path: Path,
) -> None:
    db = Database(tmp_path / "org.db", operator="tester")
    try:
        with db.action("people") as s:
            rbac.add_user(s, "alice")
            pages = s.execute(text("PRAGMA wal_autocheckpoint")).scalar()
        assert pages == checkpoints.SAFETY_PAGES
        # A short log wakes nothing: no thread for a file that is barely written.
        assert db._checkpoints is not None and db._checkpoints.runs == 0  # noqa: SLF001
        assert db._checkpoints._thread is None  # noqa: SLF001
    finally:
        db.close()


def test_a_read_only_file_has_no_checkpointer(tmp_path: Path) -> None:
    path = tmp_path / "org.db"
    Database(path, operator="tester").close()
    db = Database(path, read_only=True)
    try:
        assert db._checkpoints is None  # noqa: SLF001
    finally:
        db.close()


def test_an_idle_thread_ends_and_the_next_long_log_starts_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkpoints, "WAKE_BYTES", 1)
    monkeypatch.setattr(checkpoints, "IDLE_SECONDS", 0.05)
    path = tmp_path / "org.db"
    db = Database(path, operator="tester")
    try:
        keeper = db._checkpoints  # noqa: SLF001
        assert keeper is not None
        for round_ in range(2):
            with db.action("people") as s:
                rbac.add_user(s, f"user{round_}")
            assert keeper.wait_idle(30)
            first = keeper._thread  # noqa: SLF001
            if first is not None:
                first.join(30)  # nothing more to do: it ends by itself
            assert keeper._thread is None  # noqa: SLF001
            assert _users_in_the_file_itself(path) == round_ + 1
        assert keeper.runs == 2
    finally:
        db.close()
