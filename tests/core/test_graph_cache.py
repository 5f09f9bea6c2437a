"""The role graph cached per SQLite connection (review_sql.role_graph) never answers stale.

An access check is a security decision: these tests change the inheritance graph every
way it can change under a connection that holds a cached graph — another connection
commits, this connection's action commits or rolls back, a preview holds pending edits,
a savepoint is rolled back, a write bypasses the rbac functions, the triggers counting
role writes are gone — and check that check_access and both effective-access views
answer from the database as the asking transaction sees it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from accessguard_gui.core import access_query, explain, rbac, review_sql
from accessguard_gui.core.database import Database
from accessguard_gui.core.rows import AccessDecision


def set_up(db: Database) -> Database:
    """Role Lead (held by ann) and role Keyholder (holds Vault: open), not linked yet."""
    with db.action("Set up") as s:
        rbac.add_user(s, "ann")
        rbac.add_role(s, "Lead")
        rbac.add_role(s, "Keyholder")
        rbac.add_resource(s, "Vault")
        rbac.add_permission(s, "Vault", "open")
        rbac.grant_permission(s, "Keyholder", ("Vault", "open"))
        rbac.assign_user(s, "ann", "Lead")
    return db


@pytest.fixture
def small(db: Database) -> Database:
    return set_up(db)


def answers(s: Session) -> tuple[bool, list[tuple[str, ...]], list[str], list[str]]:
    """check_access with its paths, the user's effective access, the resource's."""
    decision = rbac.check_access(s, "ann", "Vault", "open")
    mine = explain.effective_permissions(s, "ann")
    theirs = explain.resource_access(s, "Vault", "open")
    return (
        decision.allowed,
        [p.roles for p in decision.paths],
        [p.label for p in mine.granted],
        [e.username for e in theirs.entries if e.granted],
    )


DENIED: tuple[bool, list[tuple[str, ...]], list[str], list[str]] = (False, [], [], [])
ALLOWED = (True, [("Lead", "Keyholder")], ["Vault: open"], ["ann"])


@contextmanager
def only_replayed() -> Iterator[None]:
    """Answers must come from the committed graph with the pending role writes replayed:
    neither a whole read of the graph nor SQL (both fail here)."""
    with (
        mock.patch.object(
            review_sql, "read_role_graph", side_effect=AssertionError("read, not replayed")
        ),
        mock.patch.object(review_sql, "_worth_reading", return_value=False),
        mock.patch.object(
            review_sql, "spent_on_sql", side_effect=AssertionError("answered by SQL")
        ),
        mock.patch.object(
            access_query, "spent_on_sql", side_effect=AssertionError("answered by SQL")
        ),
    ):
        yield


def dbapi(s: Session) -> sqlite3.Connection:
    found = review_sql.dbapi_of(s)
    assert found is not None
    return found


@pytest.fixture
def other(small: Database) -> Iterator[Database]:
    """A second Database on the same file: its own engine and connections, as another
    process would have."""
    assert small.path is not None
    second = Database(small.path, operator="tester")
    try:
        yield second
    finally:
        second.close()


def link(other: Database) -> None:
    with other.action("Link") as s:
        rbac.add_inheritance(s, "Lead", "Keyholder")


def unlink(other: Database) -> None:
    with other.action("Unlink") as s:
        rbac.delete_inheritance(s, "Lead", "Keyholder")


@pytest.mark.sqlite_only
def test_a_read_uses_the_cached_graph(small: Database) -> None:
    with small.read() as s:
        assert answers(s) == DENIED
        first = review_sql.role_graph(s)
        assert first is not None
        assert review_sql.role_graph(s) is first  # kept, not read again
    with small.read() as s:
        assert answers(s) == DENIED


@pytest.mark.sqlite_only
def test_another_connection_commits_and_the_next_answer_sees_it(
    small: Database, other: Database
) -> None:
    with small.read() as s:
        assert answers(s) == DENIED
        connection = dbapi(s)
    link(other)
    with small.read() as s:
        assert dbapi(s) is connection  # the same connection, its graph cached before
        assert answers(s) == ALLOWED
    unlink(other)
    with small.read() as s:
        assert dbapi(s) is connection
        assert answers(s) == DENIED


@pytest.mark.sqlite_only
def test_an_open_read_keeps_its_snapshot_and_the_cache_follows_it(
    small: Database, other: Database
) -> None:
    """A commit made while a read transaction is open is not seen by it (WAL snapshot)
    — neither by SQL nor by the cache — and is seen by the next one."""
    with small.read() as s:
        assert answers(s) == DENIED
        link(other)
        assert answers(s) == DENIED
        graph = review_sql.role_graph(s)
        assert graph is not None and graph.parents == {}
    with small.read() as s:
        assert answers(s) == ALLOWED


@pytest.mark.sqlite_only
def test_an_action_of_this_database_commits_and_the_next_answer_sees_it(
    small: Database,
) -> None:
    with small.read() as s:
        assert answers(s) == DENIED
    with small.action("Link") as s:
        rbac.add_inheritance(s, "Lead", "Keyholder")
    with small.read() as s:
        assert answers(s) == ALLOWED
    with small.action("Unlink") as s:
        rbac.delete_inheritance(s, "Lead", "Keyholder")
    with small.read() as s:
        assert answers(s) == DENIED


class Undo(Exception):
    pass


@pytest.mark.sqlite_only
def test_a_rolled_back_change_never_reaches_the_cache(small: Database) -> None:
    with small.read() as s:
        assert answers(s) == DENIED  # the graph is cached
    with pytest.raises(Undo), small.action("Link, then fail") as s:
        rbac.add_inheritance(s, "Lead", "Keyholder")
        # Inside the action SQL answers first, then the graph is read from the
        # transaction (cheaper here): the pending link counts, and that graph belongs to
        # this transaction only.
        assert answers(s) == ALLOWED
        inside = review_sql.role_graph(s)
        assert inside is not None and inside.parents == {1: [2]}
        assert inside.key[-1] is not None
        assert answers(s) == ALLOWED
        raise Undo
    with small.read() as s:
        assert answers(s) == DENIED
        graph = review_sql.role_graph(s)
        assert graph is not None and graph.parents == {}


@pytest.mark.sqlite_only
def test_a_change_made_before_the_cache_was_built_is_not_cached_when_rolled_back(
    small: Database,
) -> None:
    """The first question asked inside an action with pending edits must not build the
    cache from them."""
    with pytest.raises(Undo), small.action("Link, then fail") as s:
        rbac.add_inheritance(s, "Lead", "Keyholder")
        assert answers(s) == ALLOWED
        raise Undo
    with small.read() as s:
        assert answers(s) == DENIED


@pytest.mark.sqlite_only
def test_a_preview_answers_from_its_own_transaction(small: Database) -> None:
    with small.read() as s:
        assert answers(s) == DENIED
    with small.preview() as s:
        assert answers(s) == DENIED  # nothing pending yet: the cache may answer
        rbac.add_inheritance(s, "Lead", "Keyholder")
        assert answers(s) == ALLOWED
        rbac.delete_inheritance(s, "Lead", "Keyholder")
        assert answers(s) == DENIED
        rbac.add_inheritance(s, "Lead", "Keyholder")
        assert answers(s) == ALLOWED
    with small.read() as s:
        assert answers(s) == DENIED


@pytest.mark.sqlite_only
def test_a_preview_sees_a_grant_and_a_new_role_pending(small: Database) -> None:
    """Not only inheritance: a pending role, grant or assignment is read by SQL too."""
    with small.read() as s:
        assert answers(s) == DENIED
    with small.preview() as s:
        rbac.add_role(s, "Deputy")
        rbac.add_inheritance(s, "Lead", "Deputy")
        rbac.grant_permission(s, "Deputy", ("Vault", "open"))
        decision = rbac.check_access(s, "ann", "Vault", "open")
        assert decision.allowed
        assert [p.roles for p in decision.paths] == [("Lead", "Deputy")]
    with small.read() as s:
        assert answers(s) == DENIED


def test_the_cache_is_never_used_on_postgresql(pg_db: Database) -> None:
    link(set_up(pg_db))
    with pg_db.read() as s:
        assert review_sql.dbapi_of(s) is None
        assert review_sql.role_graph(s) is None
        assert answers(s) == ALLOWED


def snapshot(s: Session, users: list[str], perms: list[tuple[str, str]]) -> list[object]:
    """Every answer (decisions, paths, statuses, counts) for these users and permissions."""
    out: list[object] = []
    for user in users:
        mine = explain.effective_permissions(s, user)
        out.append((mine.total, mine.granted_total, mine.permissions))
        small_page = explain.effective_permissions(s, user, limit=2)
        out.append((small_page.total, small_page.granted_total, small_page.permissions))
        for resource, action in perms:
            out.append(rbac.check_access(s, user, resource, action))
    for resource, action in perms:
        out.append(explain.resource_access(s, resource, action))
        out.append(explain.resource_access(s, resource, action, only_granted=True, user_limit=7))
    for resource in sorted({r for r, _a in perms}):
        out.append(explain.resource_access(s, resource))
    return out


def canonical(answer: object) -> object:
    """A decision with its paths as the promise goes: live before expired, shortest
    first; which of several equally good paths come first may differ between the
    statements, so paths compare as a set when all are listed, else by (expired, length)."""
    if not isinstance(answer, AccessDecision):
        return answer
    ranks = [(p.expired, len(p.roles)) for p in answer.paths]
    assert ranks == sorted(ranks)
    listed = (
        sorted(ranks) if answer.more_paths else sorted((p.expired, p.roles) for p in answer.paths)
    )
    return (answer.allowed, answer.reason, answer.more_paths, listed)


@pytest.mark.sqlite_only
def test_the_cached_graph_answers_as_the_statements_do(tmp_path: pytest.TempPathFactory) -> None:
    """The same questions answered from the cache (a read) and by the SQL statements (a
    preview holding an unrelated pending write, so the cache stays out): the same
    decisions, paths, statuses and counts, on generated data with expired assignments
    and inactive users, and on stacked diamonds with shortcuts."""
    from accessguard_gui.core.generate import generate

    path = tmp_path / "gen.db"  # type: ignore[operator]
    generate(path, users=300, roles=40, resources=15, permissions=60, max_depth=5, seed=3)
    database = Database(path, operator="tester")
    try:
        with database.action("Diamonds") as s:
            layers = [[f"D{i}"] if i % 2 == 0 else [f"D{i}a", f"D{i}b"] for i in range(13)]
            for layer in layers:
                for name in layer:
                    rbac.add_role(s, name)
            for upper, lower in zip(layers, layers[1:], strict=False):
                for a in upper:
                    for b in lower:
                        rbac.add_inheritance(s, a, b)
            rbac.add_inheritance(s, "D0", "D8")  # a shortcut
            rbac.add_resource(s, "Deep")
            rbac.add_permission(s, "Deep", "bottom")
            rbac.add_permission(s, "Deep", "middle")
            rbac.grant_permission(s, "D12", ("Deep", "bottom"))
            rbac.grant_permission(s, "D6", ("Deep", "middle"))
            rbac.grant_permission(s, "D9a", ("Deep", "middle"))
            users = list(s.scalars(text("SELECT username FROM users ORDER BY id LIMIT 12")))
            rbac.assign_user(s, users[0], "D0")
            rbac.assign_user(s, users[1], "D3a")
        with database.read() as s:
            perms = [
                (r, a)
                for r, a in s.execute(
                    text(
                        "SELECT r.name, p.action FROM permissions p "
                        "JOIN resources r ON r.id = p.resource_id ORDER BY p.id"
                    )
                )
            ][::5]
            perms += [("Deep", "bottom"), ("Deep", "middle")]
            cached = snapshot(s, users, perms)
            assert review_sql.role_graph(s) is not None
        with database.preview() as s:
            rbac.add_role(s, "Unrelated pending")  # a role write, and SQL cheaper (mocked)
            with (
                mock.patch.object(review_sql, "_replay_base", return_value=None),
                mock.patch.object(review_sql, "_worth_reading", return_value=False),
            ):
                assert review_sql.role_graph(s) is None
                by_sql = snapshot(s, users, perms)
        assert [canonical(a) for a in cached] == [canonical(b) for b in by_sql]
        assert any(isinstance(a, AccessDecision) and len(a.paths) > 1 for a in cached)
    finally:
        database.close()


@pytest.mark.sqlite_only
def test_a_preview_of_assignments_and_grants_answers_from_the_committed_graph(
    small: Database,
) -> None:
    """Pending assignments and grants are not part of the graph: the graph cached by a
    read answers the preview, and the pending rows (read by SQL) count."""
    with small.action("Link") as s:
        rbac.add_inheritance(s, "Lead", "Keyholder")
        rbac.revoke_permission(s, "Keyholder", ("Vault", "open"))
    with small.read() as s:
        assert answers(s) == DENIED
        committed = review_sql.role_graph(s)
    with small.preview() as s:
        rbac.grant_permission(s, "Keyholder", ("Vault", "open"))
        rbac.add_user(s, "bob")
        rbac.assign_user(s, "bob", "Keyholder")
        assert review_sql.role_graph(s) is committed
        decision = rbac.check_access(s, "bob", "Vault", "open")
        assert decision.allowed and [p.roles for p in decision.paths] == [("Keyholder",)]
        assert answers(s)[:3] == ALLOWED[:3]
        users = explain.resource_access(s, "Vault", "open").entries
        assert sorted(e.username for e in users) == ["ann", "bob"]
    with small.read() as s:
        assert answers(s) == DENIED
        assert review_sql.role_graph(s) is committed


@pytest.mark.sqlite_only
def test_a_savepoint_rolled_back_undoes_its_link_for_the_graph_too(small: Database) -> None:
    with small.read() as s:
        assert answers(s) == DENIED
    with small.preview() as s:
        with pytest.raises(Undo), s.begin_nested():
            rbac.add_inheritance(s, "Lead", "Keyholder")
            assert answers(s) == ALLOWED  # the savepoint's link counts
            raise Undo
        assert answers(s) == DENIED
        rbac.add_inheritance(s, "Lead", "Keyholder")
        assert answers(s) == ALLOWED
    with small.read() as s:
        assert answers(s) == DENIED


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    "write",
    [
        "INSERT INTO role_inheritance (role_id, inherits_from_id, created_at) SELECT l.id, "
        "k.id, '2026-01-01 00:00:00.000000' FROM roles l, roles k "
        "WHERE l.name = 'Lead' AND k.name = 'Keyholder'",
        "UPDATE role_inheritance SET inherits_from_id = "
        "(SELECT id FROM roles WHERE name = 'Keyholder')",
    ],
)
def test_a_raw_write_to_the_graph_tables_is_seen(small: Database, write: str) -> None:
    """Writes that bypass the rbac functions still count (TEMP triggers on the tables)."""
    with small.action("Shadow") as s:
        rbac.add_role(s, "Shadow")
        rbac.add_inheritance(s, "Lead", "Shadow")
    with small.read() as s:
        assert answers(s) == DENIED
    with small.preview() as s:
        if write.startswith("INSERT"):
            s.execute(text("DELETE FROM role_inheritance"))  # no WHERE: a truncate
            assert answers(s) == DENIED
        s.execute(text(write))
        assert answers(s) == ALLOWED
    with small.read() as s:
        assert answers(s) == DENIED


@pytest.mark.sqlite_only
def test_without_the_triggers_every_write_counts(small: Database) -> None:
    """A connection whose triggers are gone (a migration dropped the tables under them)
    treats every write as a possible change of the graph."""
    with small.read() as s:
        assert answers(s) == DENIED
        connection = dbapi(s)
    with small.preview() as s:
        assert dbapi(s) is connection
        names = [
            name
            for (name,) in connection.execute(
                "SELECT name FROM temp.sqlite_master WHERE type = 'trigger'"
            )
        ]
        assert len(names) == 6
        s.execute(text(f"DROP TRIGGER temp.{names[0]}"))
        s.execute(text("UPDATE users SET version = version"))
        assert answers(s) == DENIED
        graph = review_sql.role_graph(s)
        assert graph is not None and graph.key[-1] is not None  # read for this transaction
        link_pending = (
            "INSERT INTO role_inheritance (role_id, inherits_from_id, created_at) "
            "VALUES (1, 2, '2026-01-01 00:00:00.000000')"
        )
        s.execute(text(link_pending))
        assert answers(s) == ALLOWED
    with small.read() as s:
        assert answers(s) == DENIED


@pytest.mark.sqlite_only
def test_reading_the_graph_waits_until_sql_has_cost_as_much(small: Database) -> None:
    """In a transaction holding role writes whose committed graph is not cached (no
    replay), SQL answers while that is cheaper than reading the graph (its last read
    cost), then the graph is read once."""
    with small.read() as s:
        assert answers(s) == DENIED
        connection_info = s.connection().connection.info
    with small.preview() as s, mock.patch.object(review_sql, "_replay_base", return_value=None):
        rbac.add_inheritance(s, "Lead", "Keyholder")
        connection_info["accessguard_costs"]["graph"] = 3600.0  # a very slow read
        assert answers(s) == ALLOWED
        assert answers(s) == ALLOWED
        assert "accessguard_txn_graph" not in connection_info  # SQL answered
        connection_info["accessguard_costs"]["graph"] = 0.0
        assert answers(s) == ALLOWED
        assert connection_info["accessguard_txn_graph"].parents == {1: [2]}


@pytest.mark.sqlite_only
def test_role_writes_in_a_preview_are_replayed_on_the_committed_graph(small: Database) -> None:
    """A new role, links, a rename, a deleted role and a savepoint rolled back: each
    answer comes from the committed graph with the transaction's logged role writes
    replayed (never read whole), and is the one the pending state gives."""
    with small.preview() as s:
        assert review_sql.role_graph(s) is not None  # committed, cached as it begins
        with only_replayed():
            rbac.add_role(s, "Deputy")
            rbac.add_inheritance(s, "Lead", "Deputy")
            rbac.add_inheritance(s, "Deputy", "Keyholder")
            decision = rbac.check_access(s, "ann", "Vault", "open")
            assert [p.roles for p in decision.paths] == [("Lead", "Deputy", "Keyholder")]
            rbac.update_role(s, "Deputy", name="Aide")
            assert answers(s) == (True, [("Lead", "Aide", "Keyholder")], ["Vault: open"], ["ann"])
            rbac.add_inheritance(s, "Lead", "Keyholder")
            decision = rbac.check_access(s, "ann", "Vault", "open")
            assert [p.roles for p in decision.paths] == [
                ("Lead", "Keyholder"),
                ("Lead", "Aide", "Keyholder"),
            ]
            rbac.delete_role(s, "Aide")
            assert answers(s) == ALLOWED
            with pytest.raises(Undo), s.begin_nested():
                rbac.delete_inheritance(s, "Lead", "Keyholder")
                assert answers(s) == DENIED
                raise Undo
            assert answers(s) == ALLOWED
            graph = review_sql.role_graph(s)
            assert graph is not None and graph.names == {1: "Lead", 2: "Keyholder"}
            assert graph.parents[1] == [2] and graph.children[2] == [1]
    with small.read() as s:
        assert answers(s) == DENIED


@pytest.mark.sqlite_only
def test_a_rolled_back_preview_leaves_the_committed_graph_cached(small: Database) -> None:
    """Previews of role edits, each rolled back, replay their edits on the committed
    graph cached before them (the rollback leaves it the committed graph); a commit does
    not: the next read sees the committed link."""
    with small.read() as s:
        assert answers(s) == DENIED
        committed = review_sql.role_graph(s)
        connection = dbapi(s)
    for _ in range(3):
        with small.preview() as s:
            assert dbapi(s) is connection
            rbac.add_inheritance(s, "Lead", "Keyholder")
            with only_replayed():
                assert answers(s) == ALLOWED
    with small.read() as s:
        assert answers(s) == DENIED
        assert review_sql.role_graph(s) is committed
    with small.action("Link") as s:
        rbac.add_inheritance(s, "Lead", "Keyholder")
    with small.read() as s:
        assert answers(s) == ALLOWED
        assert review_sql.role_graph(s) is not committed
