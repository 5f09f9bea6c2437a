"""Casbin export and import: pycasbin answers every request of the demo organisation as
check_access does; Casbin's own RBAC-with-hierarchy example imports."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

casbin = pytest.importorskip("casbin")

from accessguard_gui.core import rbac  # noqa: E402
from accessguard_gui.core.database import Database  # noqa: E402
from accessguard_gui.core.demo import build_demo  # noqa: E402
from accessguard_gui.core.interchange import casbin as casbin_format  # noqa: E402
from accessguard_gui.core.interchange.casbin import (  # noqa: E402
    CasbinExportError,
    CasbinPolicyError,
    CasbinSource,
    personal_role,
)
from accessguard_gui.core.interchange.export import database_records  # noqa: E402
from accessguard_gui.core.interchange.records import (  # noqa: E402
    PermissionRecord,
    Record,
    ResourceRecord,
    RoleParentRecord,
    RolePermissionRecord,
    RoleRecord,
    SourceProblem,
    UserRecord,
    UserRoleRecord,
)
from accessguard_gui.core.models import Permission, Resource, User  # noqa: E402

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def export_casbin(db: Database, folder: Path, now: datetime = NOW) -> tuple[Path, Path]:
    policy = folder / "policy.csv"
    summary = casbin_format.write_files(database_records(db), policy, now=now)
    assert summary.permissions > 0 or summary.assignments >= 0
    return folder / "policy.conf", policy


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    db = Database(tmp_path_factory.mktemp("demo") / "demo.db", operator="tester")
    build_demo(db, now=NOW)
    yield db
    db.close()


def _requests(db: Database) -> tuple[list[str], list[tuple[str, str]]]:
    with db.read() as s:
        users = [u for (u,) in s.query(User.username).order_by(User.username)]
        perms = [
            (r, a)
            for r, a in s.query(Resource.name, Permission.action).join(
                Permission, Permission.resource_id == Resource.id
            )
        ]
    return users, perms


def test_pycasbin_answers_every_demo_request_like_check_access(
    demo: Database, tmp_path: Path
) -> None:
    model, policy = export_casbin(demo, tmp_path)
    enforcer = casbin.Enforcer(str(model), str(policy))
    users, perms = _requests(demo)
    # One request that names nothing known: both deny.
    perms.append(("Door: Nowhere", "open"))
    assert len(users) > 300 and len(perms) > 30
    differ: list[tuple[str, str, str, bool]] = []
    allowed = 0
    with demo.read() as s:
        for user in users:
            for resource, action in perms:
                expected = rbac.check_access(s, user, resource, action, now=NOW).allowed
                allowed += expected
                if enforcer.enforce(user, resource, action) != expected:
                    differ.append((user, resource, action, expected))
    assert differ == []
    assert allowed > 1000  # the check is not vacuous: many requests are allowed


def test_the_policy_says_how_inactive_users_and_expiries_are_carried(
    demo: Database, tmp_path: Path
) -> None:
    _model, policy = export_casbin(demo, tmp_path)
    text = policy.read_text(encoding="utf-8")
    assert "Inactive users have no g lines" in text
    assert "# expires 20" in text  # an unexpired contractor's end date
    assert "Left out:" in text and "expired assignments" in text
    lines = text.splitlines()
    expiring = [i for i, line in enumerate(lines) if line.startswith("# expires ")]
    assert all(lines[i + 1].startswith("g, ") for i in expiring)
    with demo.read() as s:
        leaver = s.query(User.username).filter(User.active.is_(False)).first()
    assert leaver is not None
    assert not any(line.startswith(f"g, {leaver[0]},") for line in lines)


def test_users_and_roles_never_share_a_name_in_casbin(db: Database, tmp_path: Path) -> None:
    """A user called like a role must not inherit that role's permissions."""
    with db.action("Seed") as s:
        rbac.add_user(s, "admin", "Admin the person")
        rbac.add_user(s, "bob", "Bob")
        rbac.add_role(s, "admin", "The admin role")
        rbac.add_resource(s, "Server", "")
        rbac.add_permission(s, "Server", "reboot")
        rbac.grant_permission(s, "admin", ("Server", "reboot"))
        rbac.assign_user(s, "bob", "admin")
    model, policy = export_casbin(db, tmp_path)
    enforcer = casbin.Enforcer(str(model), str(policy))
    assert enforcer.enforce("bob", "Server", "reboot")
    assert not enforcer.enforce("admin", "Server", "reboot")


def test_a_hierarchy_deeper_than_casbin_follows_still_answers_the_same(
    db: Database, tmp_path: Path
) -> None:
    with db.action("Seed") as s:
        rbac.add_user(s, "deep", "Deep")
        rbac.add_resource(s, "Vault", "")
        rbac.add_permission(s, "Vault", "open")
        for level in range(13):
            rbac.add_role(s, f"Level {level}", "")
            if level:
                rbac.add_inheritance(s, f"Level {level}", f"Level {level - 1}")
        rbac.grant_permission(s, "Level 0", ("Vault", "open"))
        rbac.assign_user(s, "deep", "Level 12")
    model, policy = export_casbin(db, tmp_path)
    assert "deeper than Casbin's role manager follows" in policy.read_text(encoding="utf-8")
    enforcer = casbin.Enforcer(str(model), str(policy))
    assert enforcer.enforce("deep", "Vault", "open")


def test_a_name_casbin_would_split_is_refused_with_the_name(db: Database) -> None:
    with db.action("Seed") as s:
        rbac.add_role(s, "Smith, Jones and partners", "")
        rbac.add_resource(s, "Door (A, B)", "")  # Go Casbin would split it, pycasbin not
        rbac.add_role(s, "Sales (EU)", "")  # brackets alone are fine
    with pytest.raises(CasbinExportError, match="Smith, Jones and partners") as caught:
        casbin_format.write_policy(database_records(db), io.StringIO())
    assert "Door (A, B)" in str(caught.value) and "Sales (EU)" not in str(caught.value)


# ---------------------------------------------------------------------- import

# Casbin's own example (casbin/casbin: examples/rbac_with_hierarchy_policy.csv).
HIERARCHY_EXAMPLE = """\
p, alice, data1, read
p, bob, data2, write
p, data1_admin, data1, read
p, data1_admin, data1, write
p, data2_admin, data2, read
p, data2_admin, data2, write
g, alice, admin
g, admin, data1_admin
g, admin, data2_admin
"""


def _read(path: Path) -> list[tuple[int, Record | SourceProblem]]:
    return [(origin.line, record) for origin, record in CasbinSource(path).records()]


def test_casbins_hierarchy_example_imports_with_users_roles_and_personal_roles(
    tmp_path: Path,
) -> None:
    path = tmp_path / "rbac_with_hierarchy_policy.csv"
    path.write_text(HIERARCHY_EXAMPLE, encoding="utf-8")
    got = _read(path)
    records = [r for _, r in got]
    assert not any(isinstance(r, SourceProblem) for r in records)
    users = {r.username for r in records if isinstance(r, UserRecord)}
    roles = {r.name for r in records if isinstance(r, RoleRecord)}
    assert users == {"alice", "bob"}
    assert roles == {"admin", "data1_admin", "data2_admin", personal_role("alice"),
                     personal_role("bob")}
    assert UserRoleRecord("alice", "admin") in records
    assert UserRoleRecord("bob", personal_role("bob")) in records
    assert RoleParentRecord("admin", "data1_admin") in records
    assert RolePermissionRecord(personal_role("alice"), "data1", "read") in records
    assert RolePermissionRecord("data2_admin", "data2", "write") in records
    assert {r.name for r in records if isinstance(r, ResourceRecord)} == {"data1", "data2"}
    assert len([r for r in records if isinstance(r, PermissionRecord)]) == 4
    # Every record says where it came from: the grant of line 4 is on line 4.
    assert (4, RolePermissionRecord("data1_admin", "data1", "write")) in got


def test_an_exported_policy_reads_back_with_its_expiry_dates(db: Database, tmp_path: Path) -> None:
    ends = NOW + timedelta(days=30)
    with db.action("Seed") as s:
        rbac.add_user(s, "ann", "Ann")
        rbac.add_role(s, "Staff", "")
        rbac.add_role(s, "Finance", "")
        rbac.add_inheritance(s, "Finance", "Staff")
        rbac.assign_user(s, "ann", "Finance", expires_at=ends)
    _model, policy = export_casbin(db, tmp_path)
    records = [r for _, r in _read(policy)]
    assert UserRoleRecord("ann", "Finance", ends) in records
    assert RoleParentRecord("Finance", "Staff") in records
    assert {r.name for r in records if isinstance(r, RoleRecord)} == {"Finance", "Staff"}


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("p, alice, data1, read\np, bob, data2, write, deny\n", 2, "deny rule"),
        ("g, alice, admin, domain1\n", 1, "domains are not supported"),
        ("p, alice, data1, read\n\ng2, data1, group\n", 3, "policy type 'g2'"),
        ("[request_definition]\nr = sub, obj, act\n", 1, "not a policy line"),
        ("p, alice, , read\n", 1, "empty field"),
    ],
)
def test_a_policy_casbin_rbac_cannot_hold_is_refused_at_its_line(
    tmp_path: Path, text: str, line: int, says: str
) -> None:
    path = tmp_path / "policy.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CasbinPolicyError, match=says) as caught:
        _read(path)
    assert f"policy.csv:{line}:" in str(caught.value)


def test_bad_encoding_and_endless_lines_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "policy.csv"
    path.write_bytes(b"p, alice, data1, read\np, b\xffb, data2, read\n")
    with pytest.raises(CasbinPolicyError, match="not UTF-8"):
        _read(path)
    path.write_bytes(b"p, alice, " + b"x" * (casbin_format.MAX_LINE_CHARS + 10) + b", read\n")
    with pytest.raises(CasbinPolicyError, match="policy.csv:1: a line longer"):
        _read(path)


def test_bom_crlf_and_quoted_fields_are_read(tmp_path: Path) -> None:
    path = tmp_path / "policy.csv"
    path.write_bytes('\ufeffp, admin, "Smith, Jones", read\r\ng, ann, admin\r\n'.encode())
    records = [r for _, r in _read(path)]
    assert RolePermissionRecord("admin", "Smith, Jones", "read") in records
    assert UserRoleRecord("ann", "admin") in records


def test_casbins_example_imports_into_an_empty_file_and_answers_like_casbin(
    tmp_path: Path,
) -> None:
    from accessguard_gui.core.interchange.pipeline import import_source

    policy = tmp_path / "rbac_with_hierarchy_policy.csv"
    policy.write_text(HIERARCHY_EXAMPLE, encoding="utf-8")
    model = tmp_path / "rbac_with_hierarchy_model.conf"
    model.write_text(casbin_format.MODEL_CONF, encoding="utf-8")
    enforcer = casbin.Enforcer(str(model), str(policy))
    db = Database(tmp_path / "imported.db", create=True, operator="tester")
    try:
        plan, result = import_source(db, CasbinSource(policy), "add")
        plan.close()
        assert result.total > 0
        with db.read() as s:
            for user in ("alice", "bob"):
                for resource in ("data1", "data2"):
                    for action in ("read", "write"):
                        assert rbac.check_access(s, user, resource, action).allowed == (
                            enforcer.enforce(user, resource, action)
                        ), (user, resource, action)
    finally:
        db.close()


def test_a_policy_exported_from_the_demo_imports_back_with_the_same_answers(
    demo: Database, tmp_path: Path
) -> None:
    """Casbin → AccessGuard: every user in the policy keeps exactly their permissions."""
    from accessguard_gui.core.interchange.pipeline import import_source

    _model, policy = export_casbin(demo, tmp_path)
    copy = Database(tmp_path / "copy.db", create=True, operator="tester")
    try:
        plan, _result = import_source(copy, CasbinSource(policy), "add")
        plan.close()
        users, _perms = _requests(copy)
        assert len(users) > 250  # the active users with a current assignment
        with demo.read() as s, copy.read() as c:
            for user in users:
                then = {(p.resource, p.action) for p in rbac.user_permissions(s, user, now=NOW)}
                now = {(p.resource, p.action) for p in rbac.user_permissions(c, user, now=NOW)}
                assert now == then, user
    finally:
        copy.close()


def test_a_folder_as_target_gets_policy_csv_and_conf(db: Database, tmp_path: Path) -> None:
    with db.action("Seed") as s:
        rbac.add_user(s, "ann", "Ann")
    casbin_format.write_files(database_records(db), tmp_path)
    assert (tmp_path / "policy.csv").exists() and (tmp_path / "policy.conf").exists()
