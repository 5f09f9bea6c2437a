"""Publishing into the service's file: the service's own check then answers as
check_access; the preview says what changes; nothing else is ever written."""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from accessguard_gui.core import rbac
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import ConflictError, DatabaseBusyError, DatabaseOpenError
from accessguard_gui.core.interchange.publish import (
    UNUSABLE_HASH,
    PublishCancelled,
    PublishOptions,
    preview_publish,
    publish,
    publish_command,
)
from accessguard_gui.core.interchange.service_db import SERVICE_DDL
from accessguard_gui.core.models import Permission, Resource, User, utcnow

from .service_files import (
    FAST,
    folder_fingerprint,
    make_service_file,
    passlib_argon2,
    service_allows,
    service_rows,
)

pytestmark = pytest.mark.sqlite_only

NOW = utcnow()


def build_org(db: Database) -> None:
    """Staff ← Engineer ← Lead (Lead inherits Engineer inherits Staff), a diamond through
    Auditor, an expired and a live assignment, an inactive user, a user without password."""
    with db.action("Build") as s:
        for name in ("Staff", "Engineer", "Lead", "Auditor", "Boss"):
            rbac.add_role(s, name)
        rbac.add_resource(s, "Wiki", "The wiki")
        rbac.add_resource(s, "Repo")
        rbac.add_resource(s, "Payroll")
        rbac.add_permission(s, "Wiki", "read")
        rbac.add_permission(s, "Repo", "push")
        rbac.add_permission(s, "Payroll", "approve")
        rbac.grant_permission(s, "Staff", ("Wiki", "read"))
        rbac.grant_permission(s, "Engineer", ("Repo", "push"))
        rbac.grant_permission(s, "Boss", ("Payroll", "approve"))
        rbac.add_inheritance(s, "Engineer", "Staff")
        rbac.add_inheritance(s, "Lead", "Engineer")
        rbac.add_inheritance(s, "Auditor", "Staff")
        rbac.add_inheritance(s, "Boss", "Lead")
        rbac.add_inheritance(s, "Boss", "Auditor")  # a diamond onto Staff
        rbac.add_user(s, "alice", password="alice-password")
        rbac.add_user(s, "bob", password="bob-password")
        rbac.add_user(s, "carol", active=False, password="carol-password")
        rbac.add_user(s, "dave")  # no password
        rbac.assign_user(s, "alice", "Lead")
        rbac.assign_user(s, "bob", "Boss", expires_at=NOW - timedelta(days=1))
        rbac.assign_user(s, "bob", "Auditor", expires_at=NOW + timedelta(days=30))
        rbac.assign_user(s, "carol", "Boss")
        rbac.assign_user(s, "dave", "Staff")


@pytest.fixture
def org(db: Database) -> Database:
    build_org(db)
    return db


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "service"
    path.mkdir()
    return path


def everything_matches(db: Database, service: Path) -> None:
    """The service's rule on the file answers as check_access for every triple."""
    with db.read() as s:
        users = list(s.scalars(select(User.username)))
        perms = [
            (resource, action)
            for resource, action in s.execute(
                select(Resource.name, Permission.action).join(
                    Resource, Resource.id == Permission.resource_id
                )
            )
        ]
        for user in users:
            for resource, action in perms:
                expected = rbac.check_access(s, user, resource, action, now=NOW).allowed
                got = service_allows(service, user, resource, action)
                assert got == expected, (user, resource, action, expected)


def test_a_new_service_file_gets_exactly_the_service_schema_and_compiled_access(
    org: Database, folder: Path
) -> None:
    target = folder / "accessguard.db"
    result = publish(org, target, PublishOptions(now=NOW))
    assert result.backup is None and result.plan.new_file
    assert sorted(os.listdir(folder)) == ["accessguard.db"]
    ddl = [sql for (sql,) in service_rows(target, "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL")]
    assert ddl == list(SERVICE_DDL)  # no AccessGuard table, column or index added
    assert service_rows(target, "PRAGMA journal_mode") == [("delete",)]
    everything_matches(org, target)
    # compiled: Lead carries Engineer's and Staff's grants; expired/inactive left out
    assert service_allows(target, "alice", "Wiki", "read")
    assert not service_allows(target, "bob", "Payroll", "approve")  # expired Boss
    assert service_allows(target, "bob", "Wiki", "read")  # Auditor, still valid
    assert service_rows(
        target,
        "SELECT u.is_active, count(ur.role_id) FROM users u "
        "LEFT JOIN user_roles ur ON ur.user_id = u.id WHERE u.username = 'carol'",
    ) == [(0, 0)]
    assert service_rows(target, "SELECT name FROM roles ORDER BY name") == [
        ("Auditor",), ("Boss",), ("Engineer",), ("Lead",), ("Staff",)
    ]


def test_hashes_verify_in_the_service_and_passwordless_users_cannot_sign_in(
    org: Database, folder: Path
) -> None:
    target = folder / "accessguard.db"
    publish(org, target)
    hashes = dict(service_rows(target, "SELECT username, hashed_password FROM users"))
    assert passlib_argon2.verify("alice-password", hashes["alice"])  # the service's library
    assert not passlib_argon2.verify("wrong", hashes["alice"])
    assert hashes["dave"] == UNUSABLE_HASH
    assert passlib_argon2.identify(hashes["dave"])  # well-formed: login does not fail
    for guess in ("", "dave", "password", "AccessGuard:no password"):
        assert not passlib_argon2.verify(guess, hashes["dave"])


def test_the_preview_lists_the_changes_and_writes_nothing(org: Database, folder: Path) -> None:
    target = make_service_file(
        folder / "accessguard.db",
        users=[("alice", FAST.hash("old"), 1), ("zoe", FAST.hash("zoe-pw"), None)],
        roles=["Staff", "Guests"],
        resources=[("Wiki", None)],
        permissions=[("Wiki", "read"), ("Wiki", "edit")],
        user_roles=[("alice", "Guests"), ("zoe", "Staff"), ("zoe", "Guests")],
        grants=[("Guests", "Wiki", "edit"), ("Staff", "Wiki", "edit")],
    )
    before = folder_fingerprint(folder)
    plan = preview_publish(org, target, PublishOptions(now=NOW))
    assert folder_fingerprint(folder) == before
    assert plan.count("users", "added") == 3  # bob, carol, dave
    assert plan.count("users", "changed") == 1  # alice's password
    assert plan.count("users", "kept") == 1  # zoe registered through the service
    assert plan.count("roles", "kept") == 1  # Guests
    assert plan.count("assignments", "removed") == 1  # alice → Guests: not AccessGuard's
    assert plan.count("assignments", "kept") == 2  # zoe's, she is not AccessGuard's
    assert plan.count("grants", "removed") == 1  # Staff → edit on Wiki: not granted
    assert plan.count("grants", "kept") == 1  # Guests → edit on Wiki
    text = plan.report()
    assert "alice → Guests (not assigned in AccessGuard)" in text
    assert "zoe (only in the service file)" in text
    assert "1 user(s) exist only in the service file and are kept with 2 role assignment(s)" in text


def test_the_preview_names_service_only_names_that_differ_only_by_case(
    org: Database, folder: Path
) -> None:
    target = make_service_file(
        folder / "accessguard.db",
        users=[("Alice", FAST.hash("x"), 1)],
        roles=["staff"],
    )
    text = preview_publish(org, target, PublishOptions(now=NOW)).report()
    assert "“Alice” ~ “alice”" in text and "“staff” ~ “Staff”" in text


def test_publishing_in_place_backs_up_keeps_service_only_rows_and_matches_check_access(
    org: Database, folder: Path
) -> None:
    target = make_service_file(
        folder / "accessguard.db",
        users=[("alice", FAST.hash("old"), None), ("zoe", FAST.hash("zoe-pw"), 1)],
        roles=["Staff", "Guests"],
        permissions=[("Wiki", "read"), ("Wiki", "read"), ("Door", "open")],
        user_roles=[("alice", "Guests"), ("zoe", "Staff"), ("zoe", "Guests")],
        grants=[("Guests", "Door", "open"), ("Staff", "Door", "open")],
    )
    original = target.read_bytes()
    result = publish(org, target, PublishOptions(now=NOW))
    assert result.backup is not None and result.backup.read_bytes() == original
    assert result.backup.name.startswith("accessguard.backup-")
    everything_matches(org, target)
    assert not service_allows(target, "alice", "Door", "open")  # Guests taken from alice
    assert service_allows(target, "zoe", "Door", "open")  # zoe keeps what she had
    assert service_allows(target, "zoe", "Wiki", "read")  # through AccessGuard's Staff
    assert service_rows(target, "SELECT count(*) FROM permissions WHERE resource = 'Wiki' "
                        "AND action = 'read'") == [(2,)]  # duplicates are left alone
    # publishing again changes nothing
    again = preview_publish(org, target, PublishOptions(now=NOW))
    assert again.changes == 0


def test_remove_service_only_deletes_what_accessguard_does_not_know(
    org: Database, folder: Path
) -> None:
    target = make_service_file(
        folder / "accessguard.db",
        users=[("zoe", FAST.hash("zoe-pw"), 1)],
        roles=["Guests"],
        permissions=[("Door", "open")],
        user_roles=[("zoe", "Guests")],
        grants=[("Guests", "Door", "open")],
    )
    publish(org, target, PublishOptions(remove_service_only=True, now=NOW))
    assert service_rows(target, "SELECT username FROM users WHERE username = 'zoe'") == []
    assert service_rows(target, "SELECT name FROM roles WHERE name = 'Guests'") == []
    assert service_rows(target, "SELECT count(*) FROM role_permissions rp LEFT JOIN roles r "
                        "ON r.id = rp.role_id WHERE r.id IS NULL") == [(0,)]
    everything_matches(org, target)


def test_a_busy_service_file_is_refused_with_nothing_written(org: Database, folder: Path) -> None:
    target = make_service_file(folder / "accessguard.db", users=[("zoe", FAST.hash("x"), 1)])
    service = sqlite3.connect(target, isolation_level=None)
    try:
        service.execute("BEGIN IMMEDIATE")  # the service is in the middle of a write
        before = folder_fingerprint(folder)
        with pytest.raises(DatabaseBusyError, match="busy.*Nothing was written"):
            publish(org, target, PublishOptions(busy_timeout=0.1))
        assert folder_fingerprint(folder) == before  # no backup left either
    finally:
        service.execute("ROLLBACK")
        service.close()


def test_a_file_changed_since_the_preview_is_not_written(org: Database, folder: Path) -> None:
    target = make_service_file(folder / "accessguard.db", users=[("zoe", FAST.hash("x"), 1)])
    plan = preview_publish(org, target)
    conn = sqlite3.connect(target)
    conn.execute("INSERT INTO users (username, hashed_password, is_active) VALUES ('x', 'h', 1)")
    conn.commit()
    conn.close()
    before = folder_fingerprint(folder)
    with pytest.raises(ConflictError, match="changed since the preview"):
        publish(org, target, expected=plan)
    assert folder_fingerprint(folder) == before


def test_a_service_write_between_the_comparison_and_the_lock_is_seen(
    org: Database, folder: Path
) -> None:
    target = make_service_file(
        folder / "accessguard.db",
        users=[("alice", FAST.hash("old"), 1)],
        roles=["Staff", "Guests"],
        user_roles=[("alice", "Guests")],
    )

    def service_writes(text: str) -> None:
        if text.startswith("Waiting for the service file's write lock"):
            conn = sqlite3.connect(target)
            conn.execute(
                "INSERT INTO users (username, hashed_password, is_active) VALUES ('zoe', 'h', 1)"
            )
            conn.execute("INSERT INTO user_roles SELECT id, 2 FROM users WHERE username = 'zoe'")
            conn.commit()
            conn.close()

    result = publish(org, target, PublishOptions(now=NOW), progress=service_writes)
    assert result.plan.count("users", "kept") == 1  # zoe, written after the snapshot
    assert service_rows(target, "SELECT username FROM users WHERE username = 'zoe'") == [
        ("zoe",)
    ]
    assert not service_allows(target, "alice", "Wiki", "edit")
    everything_matches(org, target)


def test_cancel_writes_nothing(org: Database, folder: Path) -> None:
    target = make_service_file(folder / "accessguard.db", users=[("zoe", FAST.hash("x"), 1)])
    before = folder_fingerprint(folder)
    with pytest.raises(PublishCancelled):
        publish(org, target, cancelled=lambda: True)
    assert folder_fingerprint(folder) == before
    with pytest.raises(PublishCancelled):
        publish(org, folder / "new.db", cancelled=lambda: True)
    with pytest.raises(PublishCancelled):
        preview_publish(org, target, cancelled=lambda: True)
    assert folder_fingerprint(folder) == before


def test_only_service_files_are_written(org: Database, tmp_path: Path) -> None:
    desktop = tmp_path / "desktop.db"
    Database(desktop).close()
    before = desktop.read_bytes()
    with pytest.raises(DatabaseOpenError, match="not an AccessGuard service database"):
        publish(org, desktop)
    assert desktop.read_bytes() == before
    with pytest.raises(DatabaseOpenError, match="does not exist"):
        publish(org, tmp_path / "nowhere" / "s.db")


def test_the_command_previews_publishes_and_reports_refusals(org: Database, folder: Path) -> None:
    assert org.path is not None
    target = folder / "accessguard.db"
    out, err = io.StringIO(), io.StringIO()
    assert publish_command(str(org.path), str(target), True, out, err) == 0
    assert "users: 4 added" in out.getvalue() and "Dry run" in out.getvalue()
    assert not target.exists()
    out = io.StringIO()
    assert publish_command(str(org.path), str(target), False, out, err) == 0
    assert "Published into the new file" in out.getvalue()
    everything_matches(org, target)
    err = io.StringIO()
    assert publish_command(str(org.path), str(org.path), False, io.StringIO(), err) == 1
    assert "not an AccessGuard service database" in err.getvalue()


# ---------------------------------------------------------------------- property


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    Database(path, operator="tester").close()
    return path


@contextmanager
def fresh(template: Path) -> Iterator[tuple[Database, Path]]:
    with tempfile.TemporaryDirectory(prefix="agpub-") as folder:
        path = Path(folder) / "org.db"
        shutil.copyfile(template, path)
        db = Database(path, operator="tester")
        try:
            yield db, Path(folder)
        finally:
            db.close()


EXPIRY = st.sampled_from([None, NOW - timedelta(days=1), NOW + timedelta(days=1)])


@st.composite
def organisations(draw: st.DrawFn) -> dict[str, object]:
    roles = draw(st.integers(2, 6))
    users = draw(st.integers(1, 5))
    # edges only from a higher to a lower index: acyclic, with diamonds
    edges = draw(
        st.sets(
            st.tuples(st.integers(0, roles - 1), st.integers(0, roles - 1)).filter(
                lambda e: e[0] > e[1]
            ),
            max_size=8,
        )
    )
    perms = draw(st.integers(1, 4))
    grants = draw(st.sets(st.tuples(st.integers(0, roles - 1), st.integers(0, perms - 1))))
    assignments = draw(
        st.dictionaries(
            st.tuples(st.integers(0, users - 1), st.integers(0, roles - 1)), EXPIRY, max_size=10
        )
    )
    active = draw(st.lists(st.booleans(), min_size=users, max_size=users))
    with_password = draw(st.lists(st.booleans(), min_size=users, max_size=users))
    return {
        "roles": roles, "users": users, "edges": edges, "perms": perms, "grants": grants,
        "assignments": assignments, "active": active, "with_password": with_password,
    }


@settings(
    max_examples=int(os.environ.get("AG_PROPERTY_EXAMPLES", "25")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(org=organisations(), existing=st.booleans())
def test_published_files_answer_every_check_like_check_access(
    template: Path, org: dict[str, object], existing: bool
) -> None:
    with fresh(template) as (db, folder):
        with db.action("Build") as s:
            for r in range(org["roles"]):  # type: ignore[call-overload]
                rbac.add_role(s, f"R{r}")
            rbac.add_resource(s, "Doc")
            for p in range(org["perms"]):  # type: ignore[call-overload]
                rbac.add_permission(s, "Doc", f"a{p}")
            for senior, junior in org["edges"]:  # type: ignore[attr-defined]
                rbac.add_inheritance(s, f"R{senior}", f"R{junior}")
            for r, p in org["grants"]:  # type: ignore[attr-defined]
                rbac.grant_permission(s, f"R{r}", ("Doc", f"a{p}"))
            for u in range(org["users"]):  # type: ignore[call-overload]
                rbac.add_user(
                    s,
                    f"u{u}",
                    active=org["active"][u],  # type: ignore[index]
                    password="secret-pw" if org["with_password"][u] else None,  # type: ignore[index]
                )
            for (u, r), expiry in org["assignments"].items():  # type: ignore[attr-defined]
                rbac.assign_user(s, f"u{u}", f"R{r}", expires_at=expiry)
        target = folder / "service.db"
        if existing:  # an older state already published, with leftovers to correct
            make_service_file(
                target,
                users=[("u0", FAST.hash("x"), 1)],
                roles=["R0", "R1"],
                permissions=[("Doc", "a0")],
                user_roles=[("u0", "R1")],
                grants=[("R1", "Doc", "a0")],
            )
        publish(db, target, PublishOptions(now=NOW))
        everything_matches(db, target)
