"""A lock between processes, held while one of them upgrades a database file.

SQLite's own locks guard transactions, not the replacement of the whole file that an
upgrade ends with; two AccessGuard processes opening one older file at once must take
turns, and the second must see the first one's result. This lock is a separate file
(``<database>.upgrade-lock``) locked with ``flock`` (``msvcrt.locking`` on Windows):
never a lock on the database file itself, because POSIX record locks belong to the
process and closing any descriptor of the file would silently drop SQLite's own locks.

The lock file is removed when the lock is released. A waiter that locked a file which
was meanwhile removed (and perhaps recreated by a third process) notices that the name
no longer leads to the inode it holds, and tries again — so at most one holder exists.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import DatabaseBusyError

LOCK_SUFFIX = ".upgrade-lock"
POLL_S = 0.05


def lock_path_for(database: Path) -> Path:
    return database.with_name(database.name + LOCK_SUFFIX)


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _still_named(fd: int, path: Path) -> bool:
    """True while ``path`` still names the file behind ``fd`` (not removed or replaced)."""
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino)


@contextmanager
def exclusive(
    path: Path,
    *,
    timeout: float,
    on_wait: Callable[[], bool] | None = None,
    busy_message: str = "Another AccessGuard is using this file.",
) -> Iterator[None]:
    """Hold the lock file ``path`` exclusively for the ``with`` block.

    Args:
        path: the lock file (created 0600 if missing, removed on release).
        timeout: seconds to wait for another holder before DatabaseBusyError.
        on_wait: called about every 50 ms while another process holds the lock; it may
            tell the user and return False to stop waiting (DatabaseBusyError).
        busy_message: the DatabaseBusyError's message when the wait ends unsuccessfully.
    """
    deadline = time.monotonic() + timeout
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if _try_lock(fd):
            if _still_named(fd, path):
                break
            os.close(fd)  # removed by its last holder after we opened it: take the new one
            continue
        os.close(fd)
        if on_wait is not None and not on_wait():
            raise DatabaseBusyError(busy_message)
        if time.monotonic() >= deadline:
            raise DatabaseBusyError(busy_message)
        time.sleep(POLL_S)
    try:
        yield
    finally:
        # Remove the name while still holding the lock: a waiter that opened the old
        # file sees it is no longer named and starts over (see _still_named).
        try:
            os.unlink(path)
        except OSError:
            pass
        os.close(fd)
