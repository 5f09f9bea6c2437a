"""The large-database generator, at small sizes: counts, shape of the role graph, and that
the core answers correctly on what it writes."""

from __future__ import annotations

import random
import sqlite3
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from accessguard_gui.core import rbac, validation
from accessguard_gui.core.database import Database
from accessguard_gui.core.generate import GenerationStats, generate, main
from accessguard_gui.core.keys import name_key
from accessguard_gui.core.schema import head_revision

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SIZES: dict[str, Any] = {"users": 600, "roles": 80, "resources": 40, "permissions": 150, "max_depth": 5}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationStats]:
    path = tmp_path_factory.mktemp("gen") / "small.db"
    return path, generate(path, seed=7, now=NOW, **SIZES)


def _rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _parents(path: Path) -> dict[int, list[int]]:
    parents: dict[int, list[int]] = defaultdict(list)
    for role_id, parent in _rows(path, "SELECT role_id, inherits_from_id FROM role_inheritance"):
        parents[int(role_id)].append(int(parent))
    return parents


def test_counts_match_the_request(generated: tuple[Path, GenerationStats]) -> None:
    path, stats = generated
    counts = {
        table: _rows(path, f"SELECT count(*) FROM {table}")[0][0]
        for table in ("users", "roles", "resources", "permissions", "user_roles",
                      "role_permissions", "role_inheritance", "audit_log")
    }
    assert counts["users"] == 600
    assert counts["roles"] == 80
    assert counts["resources"] == 40
    assert counts["permissions"] == 150
    assert counts["user_roles"] == stats.assignments
    assert 600 <= stats.assignments <= 600 * 5
    assert counts["role_permissions"] == stats.grants
    assert counts["role_inheritance"] == stats.inheritances > 0
    # Generated rows are not changes someone made: no audit entries.
    assert counts["audit_log"] == 0


def test_file_is_a_healthy_database_at_head_in_wal_mode(
    generated: tuple[Path, GenerationStats]
) -> None:
    path, _ = generated
    assert _rows(path, "PRAGMA journal_mode") == [("wal",)]
    assert _rows(path, "SELECT version_num FROM alembic_version") == [(head_revision(),)]
    with Database(path, operator="tester") as db:
        assert db.backup_path is None  # opened as is, no upgrade needed
        assert db.check() == []
    # Every secondary index dropped for the load is back.
    names = {r[0] for r in _rows(path, "SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"uq_users_username_key", "ix_user_roles_role_user",
            "ix_role_permissions_permission_role", "ix_role_inheritance_inherits_from_role",
            "uq_roles_name_key", "uq_resources_name_key"} <= names


def test_every_generated_name_has_its_key(generated: tuple[Path, GenerationStats]) -> None:
    """The bulk load writes rows by position: each name's key column must hold its key,
    or lookups by name would miss generated records."""
    path, _ = generated
    for table, column, key in (
        ("users", "username", "username_key"),
        ("roles", "name", "name_key"),
        ("resources", "name", "name_key"),
    ):
        rows = _rows(path, f"SELECT {column}, {key} FROM {table}")
        assert rows
        assert all(stored == name_key(name) for name, stored in rows), table
    with Database(path, operator="tester") as db, db.read() as s:
        some_role = str(_rows(path, "SELECT name FROM roles LIMIT 1")[0][0])
        assert rbac.get_role(s, some_role.upper()).name == some_role


def test_usernames_are_valid_and_unique_ignoring_case(
    generated: tuple[Path, GenerationStats]
) -> None:
    path, _ = generated
    names = [str(r[0]) for r in _rows(path, "SELECT username FROM users")]
    assert len({n.lower() for n in names}) == len(names)
    for name in names:
        assert validation.username(name) == name
    emails = [r[0] for r in _rows(path, "SELECT email FROM users")]
    assert all(validation.email(e) == e for e in emails)


def test_inheritance_is_acyclic_bounded_and_has_diamonds(
    generated: tuple[Path, GenerationStats]
) -> None:
    path, _ = generated
    parents = _parents(path)

    def longest(role: int, seen: tuple[int, ...] = ()) -> int:
        assert role not in seen, f"cycle through role {role}"
        return max((1 + longest(p, (*seen, role)) for p in parents.get(role, [])), default=0)

    depths = [longest(r) for r in range(1, 81)]
    assert max(depths) == 5  # the full depth is present, and never exceeded

    def paths_to(role: int) -> dict[int, int]:
        """How many distinct paths lead from ``role`` to each ancestor."""
        counts: dict[int, int] = defaultdict(int)
        for p in parents.get(role, []):
            counts[p] += 1
            for ancestor, n in paths_to(p).items():
                counts[ancestor] += n
        return counts

    assert any(n > 1 for r in range(1, 81) for n in paths_to(r).values()), "no diamond"


def test_some_users_inactive_and_some_assignments_expired(
    generated: tuple[Path, GenerationStats]
) -> None:
    path, _ = generated
    inactive = _rows(path, "SELECT count(*) FROM users WHERE active = 0")[0][0]
    assert 0 < inactive < 600
    with Database(path) as db, db.read() as s:
        rows = [
            a
            for u in range(1, 601)
            for a in rbac.assigned_roles(s, u)
            if a.expires_at is not None
        ]
    assert any(a.expires_at < NOW for a in rows if a.expires_at)
    assert any(a.expires_at > NOW for a in rows if a.expires_at)


def test_check_access_agrees_with_a_reference_on_generated_data(
    generated: tuple[Path, GenerationStats]
) -> None:
    path, _ = generated
    parents = _parents(path)
    grants: dict[int, set[int]] = defaultdict(set)
    for role_id, perm_id in _rows(path, "SELECT role_id, permission_id FROM role_permissions"):
        grants[role_id].add(perm_id)
    active = {u: bool(a) for u, a in _rows(path, "SELECT id, active FROM users")}
    live: dict[int, list[int]] = defaultdict(list)
    with Database(path) as db, db.read() as s:
        for u in range(1, 601):
            for a in rbac.assigned_roles(s, u):
                if a.expires_at is None or a.expires_at > NOW:
                    live[u].append(a.role_id)

    def reference(user: int, perm: int) -> bool:
        todo, seen = list(live[user]), set()
        while todo:
            role = todo.pop()
            if role in seen:
                continue
            seen.add(role)
            if perm in grants[role]:
                return True
            todo += parents.get(role, [])
        return False

    perms = _rows(
        path,
        "SELECT p.id, r.name, p.action FROM permissions p JOIN resources r ON r.id = p.resource_id",
    )
    usernames = dict(_rows(path, "SELECT id, username FROM users"))
    rng = random.Random(3)
    allowed = 0
    with Database(path) as db, db.read() as s:
        for _ in range(300):
            user = rng.randrange(1, 601)
            perm_id, resource, action = rng.choice(perms)
            decision = rbac.check_access(s, usernames[user], resource, action, now=NOW)
            expected = active[user] and reference(user, perm_id)
            assert decision.allowed == expected, decision.explanation()
            allowed += decision.allowed
            if decision.allowed:
                assert decision.granting_paths
        # Pick permissions a user really holds, so the "allowed" side is exercised too.
        for user in range(1, 200):
            if not active[user]:
                continue
            held = rbac.user_permissions(s, user, now=NOW)
            expected_ids = {p for p, _, _ in perms if reference(user, p)}
            assert {p.id for p in held} == expected_ids
            if held:
                d = rbac.check_access(s, user, held[0].resource, held[0].action, now=NOW)
                assert d.allowed and d.granting_paths
                allowed += 1
    assert allowed > 0


def test_same_seed_same_rows_other_seed_other_rows(tmp_path: Path) -> None:
    small: dict[str, Any] = {"users": 200, "roles": 30, "resources": 10, "permissions": 40}
    a = generate(tmp_path / "a.db", seed=5, now=NOW, **small).path
    b = generate(tmp_path / "b.db", seed=5, now=NOW, **small).path
    c = generate(tmp_path / "c.db", seed=6, now=NOW, **small).path
    for table in ("users", "user_roles", "role_inheritance", "role_permissions", "permissions"):
        sql = f"SELECT * FROM {table} ORDER BY 1, 2"
        assert _rows(a, sql) == _rows(b, sql)
    assert _rows(a, "SELECT username FROM users") != _rows(c, "SELECT username FROM users")


def test_refuses_to_overwrite_unless_asked(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    generate(path, users=10, roles=5, resources=3, permissions=6, now=NOW)
    with pytest.raises(FileExistsError):
        generate(path, users=10, roles=5, resources=3, permissions=6, now=NOW)
    stats = generate(path, users=20, roles=5, resources=3, permissions=6, now=NOW, overwrite=True)
    assert _rows(path, "SELECT count(*) FROM users") == [(20,)]
    assert stats.users == 20


def test_command_line_builds_and_prints_the_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cli.db"
    code = main([str(path), "--users", "50", "--roles", "10", "--resources", "5",
                 "--permissions", "12"])
    assert code == 0
    out = capsys.readouterr().out
    assert "50 users" in out and " s" in out
    assert main([str(path), "--users", "5"]) == 2  # exists: refused, file kept
    assert _rows(path, "SELECT count(*) FROM users") == [(50,)]


def test_search_index_covers_generated_users(generated: tuple[Path, GenerationStats]) -> None:
    """Triggers are dropped for the load: the full-text index must still hold every user,
    and the sync triggers must be back for later edits."""
    path, _ = generated
    tables = {r[0] for r in _rows(path, "SELECT name FROM sqlite_master WHERE type='table'")}
    if "search_users" not in tables:
        pytest.skip("no full-text search index in this schema")
    (username,) = _rows(path, "SELECT username FROM users WHERE id = 123")[0]
    hits = _rows(
        path, f"SELECT rowid FROM search_users WHERE search_users MATCH '\"{username}\"'"
    )
    assert (123,) in hits
    triggers = {r[0] for r in _rows(path, "SELECT name FROM sqlite_master WHERE type='trigger'")}
    assert {"search_users_insert", "search_users_update", "search_users_delete"} <= triggers
