"""Opening files: older schemas are upgraded with a backup; every bad file is refused
with a typed error and left exactly as it was."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import DateTime, create_engine

from accessguard_gui.core import database, rbac, schema, sqlite_files
from accessguard_gui.core.database import Database, restore_backup
from accessguard_gui.core.errors import (
    CorruptDatabaseError,
    DatabaseBusyError,
    DatabaseOpenError,
    ForeignDatabaseError,
    MigrationError,
    NewerSchemaError,
    NotADatabaseError,
    ReadOnlyDatabaseError,
)
from accessguard_gui.core.models import Base, UTCDateTime

from .filetools import (
    build_at_revision,
    give_to_other_user,
    is_root,
    revision_of,
    run_as_other_user,
    snapshot,
    tables_of,
)

HEAD = schema.head_revision()


def make_current(path: Path) -> None:
    with Database(path, operator="t") as db, db.action("Seed") as s:
        rbac.add_user(s, "alice")
        rbac.add_role(s, "Staff")
        rbac.assign_user(s, "alice", "Staff")


# ---------------------------------------------------------------------- older files


def test_an_older_file_is_upgraded_after_a_backup_of_it(db_path: Path) -> None:
    build_at_revision(db_path, "0001")
    original = snapshot(db_path)
    with Database(db_path, operator="t") as db:
        assert revision_of(db_path) == HEAD
        backup = db.backup_path
        assert backup is not None and backup.parent == db_path.parent
        assert "backup" in backup.name and "0001" in backup.name
        with db.read() as s:  # the old data came along
            assert rbac.get_user(s, "olduser").display_name == "Old User"
        with db.action("Works at head") as s:
            rbac.create_ssd_set(
                s, "Payments", [rbac.add_role(s, "A").id, rbac.add_role(s, "B").id], 2
            )
    assert backup.read_bytes() == original.data  # the backup is the old file as it was
    assert revision_of(backup) == "0001" and "ssd_sets" not in tables_of(backup)
    if os.name == "posix":
        assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert not list(db_path.parent.glob("*.upgrading*"))


def test_an_upgrade_can_be_undone_from_its_backup(db_path: Path) -> None:
    build_at_revision(db_path, "0001")
    original = db_path.read_bytes()
    with Database(db_path) as db:
        backup = db.backup_path
    assert backup is not None
    restore_backup(backup, db_path)
    assert db_path.read_bytes() == original and revision_of(db_path) == "0001"


def test_a_failed_upgrade_leaves_the_original_untouched(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_at_revision(db_path, "0001")
    before = snapshot(db_path)
    calls: list[str] = []

    def half_upgrade(conn: object, target: str = "head") -> None:
        schema.upgrade(conn, "0002")  # type: ignore[arg-type] - real partial work first
        calls.append(target)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(database, "upgrade", half_upgrade)
    with pytest.raises(MigrationError, match="left as it was") as info:
        Database(db_path)
    assert calls == ["head"]
    assert "disk on fire" in str(info.value)
    assert snapshot(db_path) == before  # bytes, mtime, mode and no new files beside it
    monkeypatch.undo()
    with Database(db_path) as db:  # the next start upgrades it properly
        assert db.backup_path is not None and revision_of(db_path) == HEAD


def test_an_upgrade_left_half_done_by_a_dead_process_is_ignored(db_path: Path) -> None:
    build_at_revision(db_path, "0001")
    (db_path.parent / (db_path.name + ".upgrading")).write_bytes(b"half a copy")
    with Database(db_path):
        assert revision_of(db_path) == HEAD
    assert not list(db_path.parent.glob("*.upgrading*"))


def test_an_older_file_open_in_another_program_is_not_upgraded_under_it(db_path: Path) -> None:
    build_at_revision(db_path, "0001")
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("SELECT count(*) FROM users").fetchone()
    try:
        with pytest.raises(DatabaseBusyError, match="another program has it open"):
            Database(db_path)
        assert revision_of(db_path) == "0001"
        assert not [p for p in db_path.parent.iterdir() if ".backup-" in p.name]
    finally:
        other.close()
    with Database(db_path):  # once the other program closed it, the upgrade goes ahead
        assert revision_of(db_path) == HEAD


def test_a_read_only_older_file_is_refused_unchanged(db_path: Path) -> None:
    build_at_revision(db_path, "0001")
    before = snapshot(db_path)
    with pytest.raises(DatabaseOpenError, match="older schema"):
        Database(db_path, read_only=True)
    assert snapshot(db_path) == before


# ---------------------------------------------------------------------- refusals


def newer(path: Path) -> None:
    make_current(path)
    raw = sqlite3.connect(path)
    raw.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    raw.commit()
    raw.close()


def text_file(path: Path) -> None:
    path.write_text("username,role\nalice,Staff\n" * 50)


def png_file(path: Path) -> None:
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)


def tiny_file(path: Path) -> None:
    path.write_bytes(b"SQLite")


def truncated(path: Path) -> None:
    make_current(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def damaged_pages(path: Path) -> None:
    make_current(path)
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    for n in range(2, len(data) // page):  # every page but the first: b-tree headers gone
        data[n * page : n * page + 64] = b"\xde\xad\xbe\xef" * 16
    path.write_bytes(bytes(data))


def damaged_first_page(path: Path) -> None:
    make_current(path)
    data = bytearray(path.read_bytes())
    data[100:400] = b"\xff" * 300  # the schema table's page, after an intact header
    path.write_bytes(bytes(data))


def foreign(path: Path) -> None:
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount REAL)")
    raw.execute("INSERT INTO invoices (amount) VALUES (12.5)")
    raw.commit()
    raw.close()


def foreign_wal(path: Path) -> None:
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    raw.commit()
    raw.close()


REFUSALS: list[tuple[str, Callable[[Path], None], type[Exception], str]] = [
    ("newer schema", newer, NewerSchemaError, "newer version"),
    ("text file", text_file, NotADatabaseError, "not an SQLite database"),
    ("png bytes", png_file, NotADatabaseError, "not an SQLite database"),
    ("six bytes", tiny_file, NotADatabaseError, "not an SQLite database"),
    ("truncated", truncated, CorruptDatabaseError, "damaged"),
    ("damaged pages", damaged_pages, CorruptDatabaseError, "damaged"),
    ("damaged first page", damaged_first_page, CorruptDatabaseError, "damaged"),
    ("other application", foreign, ForeignDatabaseError, "invoices"),
    ("other application (WAL)", foreign_wal, ForeignDatabaseError, "another application"),
]


@pytest.mark.parametrize(
    ("make", "error", "words"),
    [r[1:] for r in REFUSALS],
    ids=[r[0] for r in REFUSALS],
)
def test_a_bad_file_is_refused_and_left_byte_for_byte_unchanged(
    db_path: Path, make: Callable[[Path], None], error: type[Exception], words: str
) -> None:
    make(db_path)
    before = snapshot(db_path)
    for read_only in (False, True):
        with pytest.raises(error, match=words) as info:
            Database(db_path, read_only=read_only)
        assert str(db_path) in str(info.value)  # the message says which file
        assert "Traceback" not in str(info.value)
    assert snapshot(db_path) == before


def test_a_large_file_is_not_fully_checked_on_open(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening stays cheap for big files; "Check database" finds the damage instead."""
    damaged_pages(db_path)
    monkeypatch.setattr(sqlite_files, "QUICK_CHECK_LIMIT", 0)
    try:
        db = Database(db_path, read_only=True)
    except CorruptDatabaseError:
        return  # damage in the pages read while opening is still caught
    with db:
        assert db.check() != []


def test_an_empty_file_gets_the_schema(db_path: Path) -> None:
    db_path.touch()
    with Database(db_path) as db:
        assert db.created
    assert revision_of(db_path) == HEAD


def test_an_empty_file_opened_read_only_is_refused_unchanged(db_path: Path) -> None:
    db_path.touch()
    before = snapshot(db_path)
    with pytest.raises(DatabaseOpenError, match="empty"):
        Database(db_path, read_only=True)
    assert snapshot(db_path) == before


def test_an_sqlite_file_without_tables_gets_the_schema(db_path: Path) -> None:
    raw = sqlite3.connect(db_path)
    raw.execute("PRAGMA user_version = 0")
    raw.execute("CREATE TABLE t (x)")
    raw.execute("DROP TABLE t")
    raw.commit()
    raw.close()
    with Database(db_path) as db:
        assert db.created
    assert revision_of(db_path) == HEAD


def test_a_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "looks.db"
    folder.mkdir()
    with pytest.raises(DatabaseOpenError, match="folder"):
        Database(folder)
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("kw", [{"create": False}, {"read_only": True}])
def test_a_missing_file_is_refused_without_creating_it(tmp_path: Path, kw: dict) -> None:
    missing = tmp_path / "nope.db"
    with pytest.raises(DatabaseOpenError, match="does not exist"):
        Database(missing, **kw)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DatabaseOpenError, match="folder"):
        Database(tmp_path / "no" / "such" / "x.db")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- permissions


@pytest.fixture
def user_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder the unprivileged test user owns (see filetools.run_as_other_user).

    As root it lives directly in /tmp, which every user can reach (pytest's own base
    folders are 0700), and is removed afterwards.
    """
    if not is_root():
        folder = tmp_path / "home"
        folder.mkdir()
        yield folder
        return
    folder = Path(tempfile.mkdtemp(prefix="accessguard-perm-", dir="/tmp"))
    try:
        give_to_other_user(folder)
        yield folder
    finally:
        os.chmod(folder, 0o700)
        shutil.rmtree(folder, ignore_errors=True)


def owned_database(folder: Path, mode: int) -> Path:
    path = folder / "access.db"
    make_current(path)
    give_to_other_user(path)
    os.chmod(path, mode)
    return path


def try_open(path: Path) -> Callable[[], str]:
    def run() -> str:
        with Database(path) as db:
            with db.read() as s:
                names = (
                    [u.username for u in rbac.search_users(s, "")]
                    if hasattr(rbac, "search_users")
                    else [rbac.get_user(s, "alice").username]
                )
            try:
                with db.action("Add") as s:
                    rbac.add_user(s, "bob")
            except ReadOnlyDatabaseError as exc:
                return f"read_only={db.read_only} names={names} refused={exc}"
            return f"read_only={db.read_only} names={names} saved"

    return run


def test_a_file_without_read_permission_is_refused(user_dir: Path) -> None:
    path = owned_database(user_dir, 0o200)
    before = snapshot(path)
    outcome = run_as_other_user(try_open(path))
    assert outcome.raised(DatabaseOpenError), outcome
    assert "permission to read" in outcome.message
    assert snapshot(path) == before


def test_a_file_without_write_permission_opens_read_only(user_dir: Path) -> None:
    path = owned_database(user_dir, 0o400)
    before = snapshot(path)
    outcome = run_as_other_user(try_open(path))
    assert outcome.error_types == (), outcome
    assert outcome.value.startswith("read_only=True") and "refused=" in outcome.value
    # No -wal/-shm left behind: with the file's read-only bits they would block its owner.
    assert snapshot(path) == before


def test_a_writable_file_in_a_folder_we_cannot_write_opens_read_only(user_dir: Path) -> None:
    path = owned_database(user_dir, 0o600)
    os.chmod(user_dir, 0o500)
    try:
        before = snapshot(path)
        outcome = run_as_other_user(try_open(path))
        assert outcome.error_types == (), outcome
        assert outcome.value.startswith("read_only=True")
        assert snapshot(path) == before
    finally:
        os.chmod(user_dir, 0o700)


# ---------------------------------------------------------------------- models = migrations


@pytest.mark.filterwarnings("ignore:.*expression-based index")
def test_the_models_match_the_migrations(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        with engine.begin() as conn:
            schema.upgrade(conn, "head")
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": _compare_type,
                    "render_as_batch": True,
                    # The FTS5 search indexes (migration 0003) live outside the models.
                    "include_name": lambda name, kind, _parent: (
                        not (kind == "table" and str(name).startswith("search_"))
                    ),
                },
            )
            diff = compare_metadata(context, Base.metadata)
            # Autogenerate cannot reflect expression indexes: compare by name too.
            on_disk = {
                r[0]
                for r in conn.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type='index' AND sql IS NOT NULL"
                )
            }
    finally:
        engine.dispose()
    assert diff == []
    in_models = {ix.name for table in Base.metadata.tables.values() for ix in table.indexes}
    assert on_disk == in_models


def _compare_type(
    context: object,
    inspected: object,
    metadata: object,
    inspected_type: object,
    metadata_type: object,
) -> bool | None:
    """UTCDateTime is a DateTime on disk: not a difference."""
    if isinstance(metadata_type, UTCDateTime) and isinstance(inspected_type, DateTime):
        return False
    return None


def test_pinned_schema_head_is_the_newest_migration() -> None:
    """SCHEMA_HEAD lets an up-to-date file open without importing Alembic; a new migration
    must move it, or files at the new head would be refused as "newer"."""
    from accessguard_gui.core import schema

    assert schema.SCHEMA_HEAD == schema.alembic_head()
