"""Safe handling of SQLite files on disk, below the ``Database`` layer.

Looking at a file without changing a byte of it (``inspect_sqlite_file``), copies that are
complete or absent (``copy_file``, ``sqlite_backup``), and the -wal/-shm/-journal side
files that belong to a database file and must travel with it or be gone before it moves.
Qt-free and ORM-free: plain ``sqlite3`` and ``os``.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
from pathlib import Path

from .errors import (
    CorruptDatabaseError,
    DatabaseBusyError,
    DatabaseError,
    DatabaseOpenError,
    NotADatabaseError,
    ReadOnlyDatabaseError,
)
from .schema import SchemaState

SQLITE_HEADER = b"SQLite format 3\x00"
# Files up to this size get a full PRAGMA quick_check on open; larger ones only the cheap
# header and size checks (a quick_check reads the whole file, ~5 ms per MiB here;
# "Check database" runs the full check on demand). See bench/bench_database.py.
QUICK_CHECK_LIMIT = 64 * 1024 * 1024

SIDE_SUFFIXES = ("-wal", "-shm", "-journal")
PARTIAL = ".partial"


def side_files(path: Path) -> list[Path]:
    return [Path(str(path) + suffix) for suffix in SIDE_SUFFIXES]


def remove_with_side_files(path: Path) -> None:
    for file in (path, *side_files(path)):
        file.unlink(missing_ok=True)


def unused_name(path: Path) -> Path:
    """``path``, or the same name with -2, -3... if it is taken."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def copy_file(source: Path, dest: Path, *, mode: int) -> None:
    """A byte copy with ``mode`` and the source's mtime, synced to disk and renamed into
    place only when complete: a crash never leaves a half copy under ``dest``'s name."""
    tmp = dest.with_name(dest.name + PARTIAL)
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode)
    try:
        with open(source, "rb") as src, os.fdopen(fd, "wb", closefd=False) as out:
            shutil.copyfileobj(src, out, 1024 * 1024)
            out.flush()
            os.fsync(fd)
        os.chmod(tmp, mode)
        st = source.stat()
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.replace(tmp, dest)
    finally:
        os.close(fd)
        tmp.unlink(missing_ok=True)
    sync_folder(dest.parent)


def sync_folder(folder: Path) -> None:
    """Make a rename durable: fsync the folder that holds the new name (POSIX only)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def make_self_contained(path: Path) -> None:
    """Fold any -wal into the file itself (synced), so that renaming the file moves the
    whole database and leaves no side file behind that belongs to the old name."""
    conn = sqlite3.connect(path.as_uri(), uri=True, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA journal_mode=DELETE")
    finally:
        conn.close()
    leftovers = [side for side in side_files(path) if side.exists()]
    if leftovers:
        raise DatabaseError(f"{leftovers[0]} could not be folded into {path.name}.")


def settle(path: Path, timeout: float) -> None:
    """Make the main file hold the whole database before it is copied byte for byte.

    A -wal or -journal next to the file means another program has it open, or one died
    with changes not yet written back. Opening it read-write lets SQLite recover them;
    if the side files stay after our connection closed, someone else is using the file.
    """
    if not any(side.exists() for side in side_files(path)):
        return
    conn = sqlite3.connect(path.as_uri(), uri=True, timeout=timeout, isolation_level=None)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error as exc:
        raise translate_sqlite(exc) from exc
    finally:
        conn.close()
    if any(side.exists() for side in side_files(path)):
        raise DatabaseBusyError(
            f"{path} uses an older schema and must be upgraded, but another program has it "
            "open. Close other AccessGuard windows on this file and try again."
        )


JOURNAL_MAGIC = bytes.fromhex("d9d505f920a163d7")


def hot_journal(path: Path) -> bool:
    """True when a program stopped mid-write and left a rollback journal that must be
    played back before the file can be read (SQLite calls it a hot journal).

    Decided by SQLite itself: a read-only connection refuses to read such a file
    ("attempt to write a readonly database"), while a journal that a live writer holds
    (or a zeroed, persistent one) reads fine. Reading this way changes nothing.
    """
    journal = Path(str(path) + "-journal")
    try:
        with open(journal, "rb") as fh:
            if fh.read(8) != JOURNAL_MAGIC:
                return False
    except OSError:
        return False
    try:
        conn = sqlite3.connect(path.as_uri() + "?mode=ro", uri=True, timeout=0.5)
    except sqlite3.Error:
        return False
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        return "readonly" in str(exc).lower() or "read-only" in str(exc).lower()
    finally:
        conn.close()
    return False


def is_frozen(path: Path) -> bool:
    """True for a WAL-mode file that nobody has open and nobody can write: no -wal beside
    it, and no write permission bits or a folder we cannot write to.

    Such a file is opened as immutable. A plain read-only open would have to create
    -wal/-shm files (impossible in a read-only folder) and would leave them behind,
    with the file's read-only permissions, where they break the next writer.
    """
    if any(side.exists() for side in side_files(path)):
        return False
    try:
        unwritable = not (path.stat().st_mode & 0o222)
    except OSError:
        return False
    if os.access(path.parent, os.W_OK) and not unwritable:
        return False
    try:
        with open(path, "rb") as fh:
            header = fh.read(20)
    except OSError:
        return False
    return len(header) == 20 and header[18] == 2 and header[19] == 2


def sqlite_backup(source: Path, dest: Path, *, replace: bool = False) -> None:
    """A consistent copy through the online backup API, renamed into place when done."""
    tmp = unused_name(dest.with_name(dest.name + PARTIAL))
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, stat.S_IRUSR | stat.S_IWUSR)
    os.close(fd)
    try:
        src = sqlite3.connect(source.as_uri() + "?mode=ro", uri=True)
        try:
            dst = sqlite3.connect(tmp)
            try:
                src.backup(dst)
                # The copy is a self-contained file: no -wal to carry along.
                dst.execute("PRAGMA journal_mode=DELETE")
            finally:
                dst.close()
        finally:
            src.close()
        if not replace and dest.exists():
            raise FileExistsError(dest)
        os.replace(tmp, dest)
        sync_folder(dest.parent)
    finally:
        remove_with_side_files(tmp)


def restore_backup(backup: Path, path: Path) -> None:
    """Put a backup back in place of ``path`` (the database must be closed everywhere)."""
    for side in side_files(path):
        side.unlink(missing_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else stat.S_IRUSR | stat.S_IWUSR
    copy_file(backup, path, mode=mode)


def translate_sqlite(exc: sqlite3.Error) -> DatabaseError:
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return DatabaseBusyError()
    if "readonly" in text or "read-only" in text:
        return ReadOnlyDatabaseError(
            "The database file cannot be written (read-only file or folder)."
        )
    if "malformed" in text or "not a database" in text:
        return DatabaseError(f"The database file is damaged: {exc}.")
    return DatabaseError(f"The database file could not be used: {exc}.")


def inspect_sqlite_file(path: Path) -> SchemaState:
    """Read what a file is without changing a byte of it.

    Raises:
        NotADatabaseError: the file is not SQLite at all.
        CorruptDatabaseError: it is SQLite but damaged (truncated, bad pages).
    """
    shown = str(path)
    try:
        with open(path, "rb") as fh:
            header = fh.read(100)
    except OSError as exc:
        raise DatabaseOpenError(f"{shown} cannot be read: {exc.strerror}.", shown) from exc
    if not header.startswith(SQLITE_HEADER):
        raise NotADatabaseError(f"{shown} is not an SQLite database file.", shown)
    if len(header) < 100:
        raise CorruptDatabaseError(f"{shown} is damaged: the file header is incomplete.", shown)
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    page_count = int.from_bytes(header[28:32], "big")
    change_counter = int.from_bytes(header[24:28], "big")
    valid_for = int.from_bytes(header[92:96], "big")
    size = path.stat().st_size
    if page_size < 512 or page_size & (page_size - 1):
        raise CorruptDatabaseError(f"{shown} is damaged: invalid page size in the header.", shown)
    wal = Path(str(path) + "-wal")
    if (
        change_counter == valid_for
        and page_count
        and size < page_count * page_size
        and not (wal.exists() and wal.stat().st_size > 0)
    ):
        raise CorruptDatabaseError(
            f"{shown} is damaged: it is shorter than its header says (truncated?).", shown
        )
    # A WAL-mode file without a -wal beside it is not open anywhere: read it as immutable
    # so that looking at it creates no -wal/-shm files. Otherwise read-only, which shares
    # the other program's WAL and sees its committed changes.
    in_wal_mode = header[18] == 2 and header[19] == 2
    idle = not any(side.exists() for side in side_files(path))
    uri = path.as_uri() + ("?immutable=1" if in_wal_mode and idle else "?mode=ro")
    try:
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise DatabaseOpenError(f"{shown} cannot be opened: {exc}.", shown) from exc
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
                "ORDER BY name"
            )
        ]
        revision = None
        if "alembic_version" in tables:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = row[0] if row else None
        if size <= QUICK_CHECK_LIMIT:
            result = conn.execute("PRAGMA quick_check").fetchall()
            if result != [("ok",)]:
                raise CorruptDatabaseError(f"{shown} is damaged ({result[0][0]}).", shown)
    except sqlite3.DatabaseError as exc:
        text = str(exc).lower()
        if "locked" in text or "busy" in text:
            raise DatabaseBusyError(
                f"{shown} is locked by another program \u2014 try again."
            ) from exc
        raise CorruptDatabaseError(f"{shown} is damaged ({exc}).", shown) from exc
    finally:
        conn.close()
    return SchemaState(tables=tables, revision=revision)
