"""Files that are not plain database files: FIFOs, devices, broken links, empty files,
and a file a crashed SQLite program left with a hot rollback journal.

Each is refused with a typed error — never a raw exception, never a hang on a FIFO,
never a side file next to it — or, for the hot journal, recovered after a copy is kept.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from core.filetools import snapshot

from accessguard_gui.core import rbac
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import EmptyFileError, HotJournalError, SpecialFileError


@pytest.fixture
def no_hang() -> Iterator[None]:
    """A FIFO opened for reading blocks forever: fail the test instead of hanging CI.
    (Generous: only a blocked open comes near it, however loaded the machine.)"""

    def hung(*_args: object) -> None:
        raise AssertionError("opening blocked (read from a FIFO?)")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def neighbours(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


@pytest.mark.parametrize("create", [False, True])
@pytest.mark.usefixtures("no_hang")
def test_a_fifo_is_refused_without_reading_it(tmp_path: Path, create: bool) -> None:
    fifo = tmp_path / "pipe.db"
    os.mkfifo(fifo)
    with pytest.raises(SpecialFileError, match="named pipe"):
        Database(fifo, create=create)
    assert neighbours(tmp_path) == {"pipe.db"}


@pytest.mark.usefixtures("no_hang")
def test_a_link_to_a_fifo_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "link.db"
    link.symlink_to(fifo)
    with pytest.raises(SpecialFileError, match="named pipe"):
        Database(link)
    assert neighbours(tmp_path) == {"pipe", "link.db"}


def test_a_link_to_a_device_is_not_taken_for_an_empty_database(tmp_path: Path) -> None:
    link = tmp_path / "zero.db"
    link.symlink_to("/dev/zero")
    journal_before = os.path.lexists("/dev/zero-journal")
    with pytest.raises(SpecialFileError, match="device"):
        Database(link, create=True)
    assert neighbours(tmp_path) == {"zero.db"}
    assert os.path.lexists("/dev/zero-journal") == journal_before


def test_new_database_through_a_broken_link_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "new.db"
    link.symlink_to(tmp_path / "elsewhere" / "target.db")
    with pytest.raises(SpecialFileError, match="does not exist"):
        Database(link, create=True)
    assert neighbours(tmp_path) == {"new.db"}


def test_an_empty_file_becomes_a_database_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    before = snapshot(path)
    with pytest.raises(EmptyFileError, match="empty file"):
        Database(path, create=False)
    assert snapshot(path) == before
    with Database(path, create=True) as db:
        assert db.created
        with db.action("First user") as s:
            rbac.add_user(s, "first", "First")
    assert path.stat().st_size > 0


CRASH_MID_WRITE = """
import os, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA cache_size=5")  # spill changed pages into the file before commit
conn.execute("BEGIN")
conn.execute("UPDATE users SET display_name = 'HALF WRITTEN ' || username")
os.kill(os.getpid(), 9)
"""


@pytest.fixture
def crashed(tmp_path: Path) -> Path:
    """An AccessGuard file in rollback-journal mode whose writer was killed mid-write."""
    path = tmp_path / "crashed.db"
    with Database(path, operator="setup") as db, db.action("Seed") as s:
        for i in range(3000):
            rbac.add_user(s, f"user-{i:05d}", f"User {i}")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    proc = subprocess.run([sys.executable, "-c", CRASH_MID_WRITE, str(path)], check=False)
    assert proc.returncode == -9
    assert Path(f"{path}-journal").stat().st_size > 0
    return path


def test_a_hot_journal_is_recovered_after_a_copy_is_kept(crashed: Path) -> None:
    before = crashed.read_bytes()
    with Database(crashed) as db:
        with db.read() as s:
            assert rbac.get_user(s, "user-00042").display_name == "User 42"
        assert db.recovery_backup is not None
        assert db.recovery_backup.read_bytes() == before
        assert Path(f"{db.recovery_backup}-journal").exists()
        assert db.check() == []


def test_a_hot_journal_on_a_read_only_open_says_why_and_changes_nothing(crashed: Path) -> None:
    before = snapshot(crashed)
    journal = Path(f"{crashed}-journal").read_bytes()
    with pytest.raises(HotJournalError, match="stopped while writing"):
        Database(crashed, read_only=True)
    assert snapshot(crashed) == before
    assert Path(f"{crashed}-journal").read_bytes() == journal
