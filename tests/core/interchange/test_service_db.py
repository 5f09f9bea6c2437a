"""The service's own file: recognised, described and read without changing a byte."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from accessguard_gui.core import passwords
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import (
    DatabaseBusyError,
    DatabaseOpenError,
    ForeignDatabaseError,
    ServiceDatabaseFound,
)
from accessguard_gui.core.interchange.publish import UNUSABLE_HASH
from accessguard_gui.core.interchange.records import (
    PermissionRecord,
    ResourceRecord,
    RolePermissionRecord,
    RoleRecord,
    UserRecord,
    UserRoleRecord,
)
from accessguard_gui.core.interchange.service_db import (
    ServiceSource,
    inspect_service_database,
    looks_like_service_database,
)

from .service_files import FAST, folder_fingerprint, make_service_file, odd_service_file

pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def service(tmp_path: Path) -> Path:
    folder = tmp_path / "service"
    folder.mkdir()
    return odd_service_file(folder / "accessguard.db")


def test_a_service_file_is_recognised_and_nothing_else_is(service: Path, tmp_path: Path) -> None:
    assert looks_like_service_database(service)
    desktop = tmp_path / "desktop.db"
    Database(desktop).close()
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.close()
    text = tmp_path / "notes.db"
    text.write_text("hello")
    empty = tmp_path / "empty.db"
    empty.touch()
    for path in (desktop, other, text, empty, tmp_path / "missing.db", tmp_path):
        assert not looks_like_service_database(path), path


def test_inspection_counts_and_names_the_oddities_and_writes_nothing(service: Path) -> None:
    before = folder_fingerprint(service.parent)
    info = inspect_service_database(service)
    assert info.summary() == (
        "an AccessGuard service database: 3 users, 2 roles, 3 resources, 3 permissions, "
        "3 role assignments, 3 permission grants"
    )
    notes = " ".join(info.notes())
    assert "1 user is inactive" in notes
    assert "1 user has no active flag (NULL)" in notes
    assert "1 resource name is used by permissions without a resources row" in notes
    assert "1 permission row repeats another" in notes
    assert "1 password hash uses the older $argon2i$ variant" in notes
    assert folder_fingerprint(service.parent) == before
    assert sorted(before) == ["accessguard.db"]  # no -journal, -wal or -shm appeared


def test_inspecting_something_else_is_refused(tmp_path: Path) -> None:
    desktop = tmp_path / "desktop.db"
    Database(desktop).close()
    with pytest.raises(DatabaseOpenError, match="not an AccessGuard service database"):
        inspect_service_database(desktop)


def test_a_service_busy_writing_is_reported_as_busy(service: Path) -> None:
    writer = sqlite3.connect(service, isolation_level=None)
    try:
        writer.execute("BEGIN EXCLUSIVE")
        with pytest.raises(DatabaseBusyError, match="being written by the service"):
            inspect_service_database(service, timeout=0.1)
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_the_source_yields_every_record_as_the_service_means_it(service: Path) -> None:
    before = folder_fingerprint(service.parent)
    pairs = list(ServiceSource(service).records())
    records = [record for _origin, record in pairs]
    users = {r.username: r for r in records if isinstance(r, UserRecord)}
    assert set(users) == {"alice", "bob", "carol"}
    assert users["bob"].active is True  # NULL is active
    assert users["carol"].active is False
    assert all(u.display_name is None and u.email is None for u in users.values())
    assert [r for r in records if isinstance(r, RoleRecord)] == [
        RoleRecord("Staff"),
        RoleRecord("Admin"),
    ]
    assert [r for r in records if isinstance(r, ResourceRecord)] == [
        ResourceRecord("Wiki", "The team wiki"),
        ResourceRecord("Payroll", None),
        ResourceRecord("Door", None),  # named only by a permission: created
    ]
    assert [r for r in records if isinstance(r, PermissionRecord)] == [
        PermissionRecord("Wiki", "read"),  # two identical rows, one record
        PermissionRecord("Payroll", "approve"),
        PermissionRecord("Door", "open"),
    ]
    assert {r for r in records if isinstance(r, UserRoleRecord)} == {
        UserRoleRecord("alice", "Staff"),
        UserRoleRecord("bob", "Admin"),
        UserRoleRecord("carol", "Staff"),
    }
    assert {r for r in records if isinstance(r, RolePermissionRecord)} == {
        RolePermissionRecord("Staff", "Wiki", "read"),
        RolePermissionRecord("Admin", "Payroll", "approve"),
        RolePermissionRecord("Admin", "Door", "open"),
    }
    origins = {str(origin) for origin, _record in pairs}
    assert "users:1" in origins and "permissions:4" in origins
    assert folder_fingerprint(service.parent) == before


def test_service_hashes_verify_with_accessguards_password_check(service: Path) -> None:
    users = {
        r.username: r for _o, r in ServiceSource(service).records() if isinstance(r, UserRecord)
    }
    bob = users["bob"].password_hash
    assert bob is not None and bob.startswith("$argon2i$")
    assert passwords.verify_password_hash(bob, "bob-password")
    assert not passwords.verify_password_hash(bob, "wrong")
    alice = users["alice"].password_hash
    assert alice is not None and alice.startswith("$argon2id$")
    assert passwords.verify_password_hash(alice, "alice-password")


def test_the_no_password_hash_publish_writes_comes_back_as_no_password(tmp_path: Path) -> None:
    path = make_service_file(
        tmp_path / "s.db", users=[("dave", UNUSABLE_HASH, 1), ("erin", FAST.hash("pw"), 1)]
    )
    users = {r.username: r for _o, r in ServiceSource(path).records() if isinstance(r, UserRecord)}
    assert users["dave"].password_hash is None
    assert users["erin"].password_hash is not None


def test_assignments_naming_missing_rows_are_skipped_like_the_service_does(
    tmp_path: Path,
) -> None:
    path = make_service_file(
        tmp_path / "s.db", users=[("alice", FAST.hash("pw"), 1)], roles=["Staff"]
    )
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO user_roles VALUES (1, 1), (1, 99), (42, 1)")
    conn.commit()
    conn.close()
    links = [r for _o, r in ServiceSource(path).records() if isinstance(r, UserRoleRecord)]
    assert links == [UserRoleRecord("alice", "Staff")]
    assert "2 assignments or grants name a user, role or permission that does not exist" in (
        " ".join(inspect_service_database(path).notes())
    )


def test_opening_a_service_file_says_what_it_is_and_writes_nothing(service: Path) -> None:
    before = folder_fingerprint(service.parent)
    for read_only in (False, True):
        with pytest.raises(ServiceDatabaseFound) as caught:
            Database(service, read_only=read_only)
        assert caught.value.summary.startswith("an AccessGuard service database: 3 users")
        assert any("NULL" in note for note in caught.value.notes)
        assert isinstance(caught.value, ForeignDatabaseError)  # still "not ours to open"
    assert folder_fingerprint(service.parent) == before


CRASH_MID_WRITE = """
import os, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA cache_size=5")  # spill changed pages into the file before commit
conn.execute("BEGIN")
conn.execute("UPDATE users SET hashed_password = 'HALF WRITTEN ' || username")
os.kill(os.getpid(), 9)
"""


def test_a_service_file_left_mid_write_is_refused_with_the_reason_and_not_rolled_back(
    tmp_path: Path,
) -> None:
    path = make_service_file(
        tmp_path / "accessguard.db",
        users=[(f"user-{i:05d}", "$argon2id$" + "x" * 90, 1) for i in range(3000)],
    )
    proc = subprocess.run([sys.executable, "-c", CRASH_MID_WRITE, str(path)], check=False)
    assert proc.returncode == -9 and Path(f"{path}-journal").stat().st_size > 0
    before = folder_fingerprint(tmp_path)
    assert looks_like_service_database(path)
    for read_only in (False, True):
        with pytest.raises(DatabaseOpenError, match="interrupted write of the service"):
            Database(path, read_only=read_only)
    assert folder_fingerprint(tmp_path) == before  # no recovery, no copy beside it
