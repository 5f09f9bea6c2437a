"""Pinned query plans: the access questions stay index lookups, never whole-table scans.

The statements are captured exactly as they ran (sqlite3's trace callback on the
session's own connection) and handed to EXPLAIN QUERY PLAN on a small generated
database. A plan that scans users or user_roles entirely is fine at 3,000 users and
ruinous at 1,000,000 (shared/guide/performance.md); the times themselves are measured
by bench/bench_core.py, never asserted here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from unittest import mock

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from accessguard_gui.core import rbac, review_sql
from accessguard_gui.core.database import Database
from accessguard_gui.core.generate import generate

# Every table (and the aliases the statements give them) that grows with the data.
BIG_TABLES = {
    "users", "u", "user_roles", "ur", "role_permissions", "rp", "permissions", "p",
    "resources", "res", "roles", "r", "role_inheritance", "ri",
}


@pytest.fixture(scope="module")
def plan_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    path = tmp_path_factory.mktemp("plans") / "plans.db"
    generate(path, users=3000, roles=100, resources=60, permissions=200, seed=1)
    db = Database(path, operator="tester")
    try:
        yield db
    finally:
        db.close()


@pytest.fixture(scope="module")
def sample(plan_db: Database) -> tuple[str, str, str]:
    """An active user with a permission they really hold (so paths get explained)."""
    with plan_db.read() as s:
        for user_id in range(1, 3001):
            if not rbac.get_user(s, user_id).active:
                continue
            held = rbac.user_permissions(s, user_id)
            if held:
                return rbac.get_user(s, user_id).username, held[0].resource, held[0].action
    raise AssertionError("no active user with a permission in the generated data")


def statement_plans(
    db: Database, call: Callable[[Session], object], *, pending_write: bool = False
) -> list[tuple[str, list[str]]]:
    """(SQL, plan lines) of every query ``call`` ran in its session.

    The role graph cached per connection (review_sql.role_graph) is read first, whole,
    as it is once per database change; ``pending_write``: in a transaction holding a
    role write of its own (a preview) where reading the graph again would cost more
    than answering (as a large graph does for the first questions), so the access
    questions ask SQL instead."""
    with (
        db.preview() if pending_write else db.read() as session,
        mock.patch.object(review_sql, "_worth_reading", return_value=False),
        mock.patch.object(review_sql, "_replay_base", return_value=None),
    ):
        if pending_write:
            session.execute(text("UPDATE roles SET name = name WHERE id = 1"))
        else:
            review_sql.role_graph(session)
        dbapi = session.connection().connection.driver_connection
        assert isinstance(dbapi, sqlite3.Connection)
        ran: list[str] = []
        dbapi.set_trace_callback(ran.append)
        try:
            call(session)
        finally:
            dbapi.set_trace_callback(None)
        queries = [sql for sql in ran if sql.lstrip().upper().startswith(("SELECT", "WITH"))]
        return [
            (sql, [row[3] for row in dbapi.execute("EXPLAIN QUERY PLAN " + sql)])
            for sql in queries
        ]


def full_scans(plans: list[tuple[str, list[str]]]) -> list[str]:
    found = []
    for _sql, lines in plans:
        for line in lines:
            words = line.split()
            if words[0] == "SCAN" and words[1] in BIG_TABLES:
                found.append(line)
    return found


def lines_of(plans: list[tuple[str, list[str]]]) -> list[str]:
    return [line for _sql, lines in plans for line in lines]


def test_check_access_with_the_cached_graph_is_one_statement_of_index_lookups(
    plan_db: Database, sample: tuple[str, str, str]
) -> None:
    """The user, the permission, the assignments and the holders: the closure and the
    paths come from the cached role graph, nothing recursive runs."""
    plans = statement_plans(plan_db, lambda s: rbac.check_access(s, *sample))
    assert len(plans) == 1, [sql for sql, _ in plans]
    lines = lines_of(plans)
    assert full_scans(plans) == []
    assert not any("role_inheritance" in sql for sql, _ in plans)
    assert any("uq_users_username_key" in line for line in lines)
    assert any(line.startswith("SEARCH ur USING") and "(user_id=?)" in line for line in lines)
    assert any("ix_role_permissions_permission_role (permission_id=?" in line for line in lines)


def test_check_access_is_one_statement_of_index_lookups(
    plan_db: Database, sample: tuple[str, str, str]
) -> None:
    plans = statement_plans(
        plan_db, lambda s: rbac.check_access(s, *sample), pending_write=True
    )
    assert len(plans) == 1, [sql for sql, _ in plans]
    lines = lines_of(plans)
    assert full_scans(plans) == []
    # The user by name through the username_key index, their roles by primary key,
    # the holders of the permission through the (permission, role) index.
    assert any("uq_users_username_key" in line for line in lines)
    assert any(line.startswith("SEARCH ur USING") and "(user_id=?)" in line for line in lines)
    assert any("ix_role_permissions_permission_role (permission_id=?" in line for line in lines)
    assert any("uq_resources_name_key" in line for line in lines)
    # The closure follows the inheritance primary key (role_id, inherits_from_id).
    assert any(line.startswith("SEARCH ri USING") and "(role_id=?)" in line for line in lines)


def test_check_access_by_id_uses_primary_keys(
    plan_db: Database, sample: tuple[str, str, str]
) -> None:
    with plan_db.read() as s:
        user_id = rbac.get_user(s, sample[0]).id
        resource_id = rbac.get_resource(s, sample[1]).id
    plans = statement_plans(plan_db, lambda s: rbac.check_access(s, user_id, resource_id, sample[2]))
    lines = lines_of(plans)
    assert full_scans(plans) == []
    assert any(line.startswith("SEARCH u USING INTEGER PRIMARY KEY") for line in lines)
    assert any(line.startswith("SEARCH res USING INTEGER PRIMARY KEY") for line in lines)


def test_denied_and_unknown_checks_scan_nothing(plan_db: Database) -> None:
    for user, resource, action in (
        ("nobody.here", "Door A0.00", "open"),
        ("nobody.here", "No such thing", "x"),
    ):
        def call(s: Session, u: str = user, r: str = resource, a: str = action) -> object:
            return rbac.check_access(s, u, r, a)

        plans = statement_plans(plan_db, call)
        assert full_scans(plans) == [], (user, resource, action)


def test_user_permissions_is_permission_id_in_recursive_cte(
    plan_db: Database, sample: tuple[str, str, str]
) -> None:
    """The shape performance.md asks for: permissions by primary key from an IN-list fed
    by the recursive CTE, not JOIN + DISTINCT (24x slower on SQLite 3.40)."""
    plans = statement_plans(plan_db, lambda s: rbac.user_permissions(s, sample[0]))
    lines = lines_of(plans)
    assert full_scans(plans) == []
    assert any(
        line in ("SEARCH permissions USING INTEGER PRIMARY KEY (rowid=?)",
                 "SEARCH p USING INTEGER PRIMARY KEY (rowid=?)")
        for line in lines
    )
    assert any(line.startswith("LIST SUBQUERY") for line in lines)
    assert not any("TEMP B-TREE FOR DISTINCT" in line for line in lines)
    assert any(
        line.startswith(("SEARCH user_roles USING", "SEARCH ur USING")) and "(user_id=?)" in line
        for line in lines
    )
    assert any(line.startswith(("SEARCH role_inheritance USING", "SEARCH ri USING")) for line in lines)


def test_authorized_users_walks_down_from_the_permission(
    plan_db: Database, sample: tuple[str, str, str]
) -> None:
    plans = statement_plans(plan_db, lambda s: rbac.authorized_users(s, sample[1], sample[2]))
    lines = lines_of(plans)
    assert full_scans(plans) == []
    # Members of the granting roles through the (role, user) index, not a user_roles scan.
    assert any("ix_user_roles_role_user (role_id=?)" in line for line in lines)
    assert any("ix_role_permissions_permission_role (permission_id=?)" in line for line in lines)
    assert any("ix_role_inheritance_inherits_from_role" in line for line in lines)


def test_authorized_roles_and_assigned_roles_use_the_user_key(
    plan_db: Database, sample: tuple[str, str, str]
) -> None:
    for call in (
        lambda s: rbac.authorized_roles(s, sample[0]),
        lambda s: rbac.assigned_roles(s, sample[0]),
    ):
        plans = statement_plans(plan_db, call)
        assert full_scans(plans) == []


def test_the_capture_sees_a_real_scan() -> None:
    """The detector itself: a query without a usable index is reported."""
    plans = [("", ["SCAN users", "SEARCH roles USING INTEGER PRIMARY KEY (rowid=?)"])]
    assert full_scans(plans) == ["SCAN users"]
    assert full_scans([("", ["SCAN walk", "SCAN CONSTANT ROW"])]) == []



def test_check_access_on_a_wide_hierarchy_reads_the_graph_by_index(
    plan_db: Database, sample: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where walking every path would cost too much (WALK_CAP reached: forced here), the
    second statement reads the deduplicated closure through the same indexes."""
    from accessguard_gui.core import access_query

    monkeypatch.setattr(access_query, "WALK_CAP", 1)
    plans = statement_plans(
        plan_db, lambda s: rbac.check_access(s, *sample), pending_write=True
    )
    assert len(plans) == 2, [sql for sql, _ in plans]
    assert full_scans(plans) == []
    lines = lines_of(plans[1:])
    assert any(line.startswith("SEARCH ri USING") and "(role_id=?)" in line for line in lines)
    assert any("ix_role_permissions_permission_role (permission_id=?" in line for line in lines)


def test_effective_access_with_the_cached_graph_reads_by_index(
    plan_db: Database, sample: tuple[str, str, str]
) -> None:
    """The user's and the resource's effective access from the cached role graph: the
    user with their assignments, the page of permissions joined from the closure's ids,
    the resource with its holders, the counts and the page of users with their
    assignments — index lookups only, nothing recursive, nothing scanned."""
    from accessguard_gui.core import explain

    user, resource, action = sample
    mine = statement_plans(plan_db, lambda s: explain.effective_permissions(s, user))
    assert len(mine) == 2, [sql for sql, _ in mine]
    theirs = statement_plans(plan_db, lambda s: explain.resource_access(s, resource, action))
    assert len(theirs) == 3, [sql for sql, _ in theirs]
    for plans in (mine, theirs):
        assert full_scans(plans) == []
        assert not any("role_inheritance" in sql or "RECURSIVE" in sql for sql, _ in plans)
    mine_lines = lines_of(mine)
    assert any("uq_users_username_key" in line for line in mine_lines)
    assert any(line.startswith("SEARCH rp USING") and "(role_id=?)" in line for line in mine_lines)
    theirs_lines = lines_of(theirs)
    assert any("uq_resources_name_key" in line for line in theirs_lines)
    assert any("ix_user_roles_role_user (role_id=?)" in line for line in theirs_lines)
