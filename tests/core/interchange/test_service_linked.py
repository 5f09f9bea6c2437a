"""Linked editing of a service file, and import → publish → import round trips."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from accessguard_gui.core import rbac
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import DatabaseBusyError, DatabaseOpenError
from accessguard_gui.core.interchange.linked import ServiceLink
from accessguard_gui.core.interchange.pipeline import import_source
from accessguard_gui.core.interchange.publish import PublishOptions, publish
from accessguard_gui.core.interchange.service_db import ServiceSource
from accessguard_gui.core.models import User

from .service_files import FAST, folder_fingerprint, odd_service_file, service_allows, service_rows
from .test_service_publish import NOW, build_org

pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def service(tmp_path: Path) -> Path:
    folder = tmp_path / "service"
    folder.mkdir()
    return odd_service_file(folder / "accessguard.db")


@pytest.fixture
def link(service: Path, tmp_path: Path) -> Iterator[tuple[ServiceLink, Database]]:
    link = ServiceLink.for_service(service, root=tmp_path / "linked")
    db = link.open_companion(operator="tester")
    try:
        yield link, db
    finally:
        db.close()


def refresh(link: ServiceLink, db: Database) -> int:
    plan = link.plan_refresh(db)
    try:
        assert plan.plan.clean, plan.plan.refusal_message()
        return link.apply_refresh(db, plan).total
    finally:
        plan.close()


def service_add(service: Path, sql: str, *params: object) -> None:
    """What the running service does: register, assign, grant (raw rows, its own way)."""
    conn = sqlite3.connect(service)
    conn.execute(sql, params)
    conn.commit()
    conn.close()


def effective(db: Database) -> dict[str, set[tuple[str, str]]]:
    with db.read() as s:
        names = list(s.scalars(select(User.username)))
        return {
            n: {(p.resource, p.action) for p in rbac.user_permissions(s, n, now=NOW)}
            for n in names
        }


def test_open_and_edit_imports_the_file_and_leaves_it_untouched(
    link: tuple[ServiceLink, Database], service: Path
) -> None:
    lnk, db = link
    before = folder_fingerprint(service.parent)
    assert not lnk.synced_once
    assert refresh(lnk, db) > 0
    assert folder_fingerprint(service.parent) == before
    assert lnk.synced_once and lnk.companion.parent == lnk.baseline.parent
    assert ServiceLink.of_database(db) is not None
    with db.read() as s:
        assert rbac.check_access(s, "bob", "Door", "open").allowed
        assert rbac.verify_password(s, "bob", "bob-password")  # $argon2i$ as it was
    assert refresh(lnk, db) == 0  # nothing new since
    assert "in step" in lnk.status()


def test_save_publishes_and_the_service_additions_since_are_kept_then_imported(
    link: tuple[ServiceLink, Database], service: Path
) -> None:
    lnk, db = link
    refresh(lnk, db)
    with db.action("Edit") as s:
        rbac.deassign_user(s, "alice", "Staff")
        rbac.add_user(s, "dave", password="dave-password")
        rbac.assign_user(s, "dave", "Admin")
    # meanwhile, the service registers erin and gives carol a role
    service_add(
        service,
        "INSERT INTO users (username, hashed_password, is_active) VALUES ('erin', ?, 1)",
        FAST.hash("erin-pw"),
    )
    service_add(service, "INSERT INTO user_roles SELECT 4, 2")  # erin → Admin
    service_add(service, "INSERT INTO user_roles SELECT 1, 2")  # alice → Admin
    result = lnk.publish(db)
    assert result.backup is not None
    assert not service_allows(service, "alice", "Wiki", "read")  # deassigned in AccessGuard
    assert service_allows(service, "dave", "Payroll", "approve")
    assert service_allows(service, "erin", "Payroll", "approve")  # kept
    assert service_allows(service, "alice", "Payroll", "approve")  # kept: new in the service
    assert result.plan.kept_for_known == 1
    # Refresh picks up what the service added
    refresh(lnk, db)
    with db.read() as s:
        assert rbac.check_access(s, "erin", "Payroll", "approve").allowed
        assert rbac.check_access(s, "alice", "Payroll", "approve").allowed
        assert not rbac.check_access(s, "alice", "Wiki", "read").allowed  # not re-added
    assert lnk.publish(db).plan.changes == 0


def test_records_deleted_in_accessguard_leave_the_service_file(
    link: tuple[ServiceLink, Database], service: Path
) -> None:
    lnk, db = link
    refresh(lnk, db)
    with db.action("Delete") as s:
        rbac.delete_user(s, "carol")
        rbac.delete_role(s, "Admin")
    plan = lnk.preview_publish(db)
    assert plan.count("users", "removed") == 1 and plan.count("roles", "removed") == 1
    assert "carol (deleted in AccessGuard)" in plan.report()
    lnk.publish(db, expected=plan)
    assert service_rows(service, "SELECT username FROM users ORDER BY id") == [("alice",), ("bob",)]
    assert not service_allows(service, "bob", "Door", "open")


def test_a_busy_or_missing_service_file_is_caught_up_later_with_nothing_lost(
    link: tuple[ServiceLink, Database], service: Path
) -> None:
    lnk, db = link
    refresh(lnk, db)
    with db.action("Edit") as s:
        rbac.add_user(s, "dave", password="dave-password")
    holder = sqlite3.connect(service, isolation_level=None, timeout=0)
    holder.execute("BEGIN IMMEDIATE")
    try:
        lnk.state  # noqa: B018 - the state before
        options = lnk.options()
        with pytest.raises(DatabaseBusyError):
            publish(db, service, PublishOptions(baseline=options.baseline, create=False,
                                                busy_timeout=0.1))
        lnk.mark_unpublished()
        assert "not in accessguard.db yet" in lnk.status()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    lnk.publish(db)  # catches up
    assert service_rows(service, "SELECT count(*) FROM users WHERE username = 'dave'") == [(1,)]
    assert "in step" in lnk.status()
    moved = service.with_name("moved.db")
    service.rename(moved)
    with pytest.raises(DatabaseOpenError, match="not there any more"):
        lnk.publish(db)
    assert not service.exists()  # no new, empty service file made in its place
    assert "not there any more" in lnk.status()
    assert lnk.state.last_reason == "it was moved or deleted"
    with db.read() as s:
        assert rbac.get_user(s, "dave").username == "dave"


def test_import_publish_import_keeps_every_users_effective_permissions(
    db: Database, tmp_path: Path
) -> None:
    build_org(db)
    first = tmp_path / "first.db"
    publish(db, first, PublishOptions(now=NOW))
    again = Database(tmp_path / "again.db", operator="tester")
    try:
        plan, _result = import_source(again, ServiceSource(first))
        plan.close()
        assert effective(again) == effective(db)
        second = tmp_path / "second.db"
        publish(again, second, PublishOptions(now=NOW))
        third = Database(tmp_path / "third.db", operator="tester")
        try:
            plan, _result = import_source(third, ServiceSource(second))
            plan.close()
            assert effective(third) == effective(db)
            with third.read() as s:
                assert rbac.get_user(s, "dave").password_hash is None
                assert rbac.verify_password(s, "alice", "alice-password")
        finally:
            third.close()
    finally:
        again.close()


def test_two_processes_linked_to_one_service_file_take_turns(
    link: tuple[ServiceLink, Database],
    service: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A second AccessGuard linked to the same file (its own ServiceLink, the same
    folder) never publishes or adopts a baseline while the first is syncing, and what
    one records in link.json is not overwritten by the other's stale copy."""
    from accessguard_gui.core import file_lock
    from accessguard_gui.core.interchange import linked

    lnk, db = link
    refresh(lnk, db)
    other = ServiceLink.for_service(service, root=lnk.folder.parent)
    assert other.folder == lnk.folder
    with db.action("Edit") as s:
        rbac.add_user(s, "dave", password="dave-password")
    before = folder_fingerprint(service.parent)
    monkeypatch.setattr(linked, "SYNC_WAIT_S", 0.2)
    with file_lock.exclusive(lnk.folder / linked.SYNC_LOCK, timeout=1):  # the first syncing
        with pytest.raises(DatabaseBusyError, match="Another AccessGuard window"):
            other.publish(db)
        plan = other.plan_refresh(db)
        try:
            with pytest.raises(DatabaseBusyError):
                other.apply_refresh(db, plan)
        finally:
            plan.close()
    assert folder_fingerprint(service.parent) == before  # nothing written while waiting
    recorded = ServiceLink.load(lnk.folder)
    assert recorded is not None and recorded.state.unpublished  # the other said: behind
    assert lnk.state.unpublished is False  # this process's copy is stale...
    lnk.publish(db)  # ...publishing re-reads link.json, then catches up
    assert service_rows(service, "SELECT count(*) FROM users WHERE username = 'dave'") == [(1,)]
    recorded = ServiceLink.load(lnk.folder)
    assert recorded is not None and "in step" in recorded.status()
    assert not (lnk.folder / linked.SYNC_LOCK).exists()  # released and removed
