"""Effective access with paths: hand-built hierarchies with diamonds and depth 5."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from accessguard_gui.core import explain, lookup, rbac
from accessguard_gui.core.database import Database
from accessguard_gui.core.explain import AccessStatus

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def diamond(db: Database) -> Database:
    """Chain L1 → L2 → L3 → L4 → L5 (each inherits from the next, depth 5) and a diamond:
    Top inherits from Left and Right, both inherit from Base, which holds "vault: open"."""
    with db.action("build") as s:
        for name in ("L1", "L2", "L3", "L4", "L5", "Top", "Left", "Right", "Base", "Other"):
            rbac.add_role(s, name)
        for a, b in (("L1", "L2"), ("L2", "L3"), ("L3", "L4"), ("L4", "L5")):
            rbac.add_inheritance(s, a, b)
        for a, b in (("Top", "Left"), ("Top", "Right"), ("Left", "Base"), ("Right", "Base")):
            rbac.add_inheritance(s, a, b)
        rbac.add_resource(s, "vault")
        rbac.add_resource(s, "deep")
        for res, act in (("vault", "open"), ("vault", "close"), ("deep", "read")):
            rbac.add_permission(s, res, act)
        rbac.grant_permission(s, "Base", ("vault", "open"))
        rbac.grant_permission(s, "Right", ("vault", "close"))
        rbac.grant_permission(s, "L5", ("deep", "read"))
        rbac.grant_permission(s, "Other", ("deep", "read"))
        rbac.add_user(s, "alice")
        rbac.add_user(s, "bob")
        rbac.add_user(s, "carol", active=False)
        rbac.add_user(s, "dave")
        rbac.assign_user(s, "alice", "Top")
        rbac.assign_user(s, "alice", "L1")
        rbac.assign_user(s, "bob", "L3", expires_at=NOW - timedelta(days=1))
        rbac.assign_user(s, "bob", "Right")
        rbac.assign_user(s, "carol", "Base")
        rbac.assign_user(s, "dave", "Other", expires_at=NOW + timedelta(days=1))
    return db


def _by_label(access: explain.UserAccess) -> dict[str, explain.EffectivePermission]:
    return {p.label: p for p in access.permissions}


def test_diamond_gives_both_paths(diamond: Database) -> None:
    with diamond.read() as s:
        access = explain.effective_permissions(s, "alice", now=NOW)
    perms = _by_label(access)
    vault = perms["vault: open"]
    assert vault.status is AccessStatus.GRANTED
    assert {p.roles for p in vault.paths} == {("Top", "Left", "Base"), ("Top", "Right", "Base")}


def test_depth_five_path(diamond: Database) -> None:
    with diamond.read() as s:
        perms = _by_label(explain.effective_permissions(s, "alice", now=NOW))
    assert perms["deep: read"].paths[0].roles == ("L1", "L2", "L3", "L4", "L5")
    assert perms["deep: read"].paths[0].describe("alice", "deep: read") == (
        "alice \u2192 L1 \u2192 L2 \u2192 L3 \u2192 L4 \u2192 L5 \u2192 deep: read"
    )


def test_expired_and_inactive_are_marked(diamond: Database) -> None:
    with diamond.read() as s:
        bob = _by_label(explain.effective_permissions(s, "bob", now=NOW))
        carol = _by_label(explain.effective_permissions(s, "carol", now=NOW))
    assert bob["deep: read"].status is AccessStatus.EXPIRED
    assert bob["deep: read"].paths[0].expired
    assert bob["vault: close"].status is AccessStatus.GRANTED
    assert carol["vault: open"].status is AccessStatus.INACTIVE


def test_granted_matches_user_permissions(diamond: Database) -> None:
    with diamond.read() as s:
        for name in ("alice", "bob", "carol", "dave"):
            access = explain.effective_permissions(s, name, now=NOW)
            expected = {p.id for p in rbac.user_permissions(s, name, now=NOW)}
            assert {p.permission_id for p in access.granted} == expected


def test_path_limit_is_reported(diamond: Database) -> None:
    with diamond.read() as s:
        perms = _by_label(
            explain.effective_permissions(s, "alice", now=NOW, paths_per_permission=1)
        )
    assert len(perms["vault: open"].paths) == 1
    assert perms["vault: open"].more_paths


def test_resource_access_lists_users_with_paths(diamond: Database) -> None:
    with diamond.read() as s:
        result = explain.resource_access(s, "vault", "open", now=NOW)
    by_user = {e.username: e for e in result.entries}
    assert set(by_user) == {"alice", "bob", "carol"}
    assert {p.roles for p in by_user["alice"].paths} == {
        ("Top", "Left", "Base"),
        ("Top", "Right", "Base"),
    }
    # bob reaches vault: open through Right → Base.
    assert by_user["bob"].paths[0].roles == ("Right", "Base")
    assert by_user["carol"].status is AccessStatus.INACTIVE
    assert result.granted_users == 2


def test_resource_access_all_actions_and_only_granted(diamond: Database) -> None:
    with diamond.read() as s:
        every = explain.resource_access(s, "deep", now=NOW)
        granted = explain.resource_access(s, "deep", now=NOW, only_granted=True)
    assert {(e.username, e.status) for e in every.entries} == {
        ("alice", AccessStatus.GRANTED),
        ("bob", AccessStatus.EXPIRED),
        ("dave", AccessStatus.GRANTED),
    }
    assert {e.username for e in granted.entries} == {"alice", "dave"}


def test_resource_access_is_bounded(diamond: Database) -> None:
    with diamond.read() as s:
        result = explain.resource_access(s, "vault", "open", now=NOW, user_limit=1)
    assert len({e.username for e in result.entries}) == 1
    assert result.truncated
    assert result.granted_users == 2


def test_completion_uses_prefix(diamond: Database) -> None:
    with diamond.read() as s:
        assert lookup.complete_roles(s, "l") == ["L1", "L2", "L3", "L4", "L5", "Left"]
        assert lookup.complete_usernames(s, "CA") == ["carol"]
        assert lookup.complete_actions(s, "Vault", "c") == ["close"]
        assert lookup.complete_resources(s, "") == ["deep", "vault"]


def test_role_graph_levels(diamond: Database) -> None:
    with diamond.read() as s:
        graph = lookup.role_graph(s, "Left")
        ids = {name: rid for rid, name in graph.names.items()}
    assert graph.levels[ids["Base"]] == -1
    assert graph.levels[ids["Top"]] == 1
    assert set(graph.names.values()) == {"Left", "Base", "Top"}
    assert (ids["Top"], ids["Left"]) in graph.edges


def _random_hierarchy(db: Database, seed: int) -> None:
    """Layers of roles, each inheriting from one or two roles of the next layer (depth 5,
    diamonds wherever two picks share a junior)."""
    rng = random.Random(seed)
    with db.action("gen") as s:
        layers = [[f"R{d}.{i}" for i in range(4)] for d in range(6)]
        for layer in layers:
            for name in layer:
                rbac.add_role(s, name)
        for d in range(5):
            for name in layers[d]:
                for junior in rng.sample(layers[d + 1], rng.choice((1, 2))):
                    rbac.add_inheritance(s, name, junior)
        for r in range(5):
            rbac.add_resource(s, f"res{r}")
            for act in ("read", "write"):
                rbac.add_permission(s, f"res{r}", act)
                for holder in rng.sample([n for layer in layers for n in layer], 2):
                    rbac.grant_permission(s, holder, (f"res{r}", act))
        for u in range(12):
            rbac.add_user(s, f"u{u}", active=rng.random() > 0.15)
            for role in rng.sample(layers[0] + layers[1], 2):
                expiry = NOW - timedelta(days=1) if rng.random() < 0.2 else None
                rbac.assign_user(s, f"u{u}", role, expires_at=expiry)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_explanations_agree_with_check_access(db: Database, seed: int) -> None:
    _random_hierarchy(db, seed)
    with db.read() as s:
        for u in range(12):
            access = _by_label(explain.effective_permissions(s, f"u{u}", now=NOW))
            for r in range(5):
                for act in ("read", "write"):
                    decision = rbac.check_access(s, f"u{u}", f"res{r}", act, now=NOW)
                    entry = access.get(f"res{r}: {act}")
                    assert (entry is not None and entry.granted) == decision.allowed
                    if decision.allowed:
                        assert entry is not None
                        # The same number of best paths, of the same lengths (equally
                        # short ones may be chosen differently).
                        assert [(p.expired, len(p.roles)) for p in entry.paths] == [
                            (p.expired, len(p.roles)) for p in decision.paths
                        ]
                        assert entry.more_paths == decision.more_paths
            for r in range(5):
                result = explain.resource_access(s, f"res{r}", "read", now=NOW)
                granted = {e.username for e in result.entries if e.granted}
                expected = {
                    row.username for row in rbac.authorized_users(s, f"res{r}", "read", now=NOW)
                }
                assert granted == expected


def _plan(session: object, query: object) -> str:
    conn = session.connection()  # type: ignore[attr-defined]
    sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))  # type: ignore[attr-defined]
    return " ".join(str(row[3]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))


def test_completion_is_served_by_the_name_indexes(diamond: Database) -> None:
    """Completion must stay a few index probes at a million users: pin the plan."""
    from sqlalchemy import select

    from accessguard_gui.core.models import Role, User

    with diamond.read() as s:
        for model, col, key, index in (
            (User, User.username, User.username_key, "uq_users_username_key"),
            (Role, Role.name, Role.name_key, "uq_roles_name_key"),
        ):
            query = select(col).where(lookup._key_prefix(key, "ab")).order_by(key).limit(50)
            plan = _plan(s, query)
            assert f"USING INDEX {index}" in plan, plan
            assert f"SCAN {model.__tablename__}" not in plan.replace(f"USING INDEX {index}", "")


def test_ascii_completion_walks_the_index_in_order(diamond: Database) -> None:
    """No temporary sort: LIMIT stops the index walk after a page of names."""
    from sqlalchemy import select

    from accessguard_gui.core.models import User

    with diamond.read() as s:
        key = User.username_key
        query = select(User.username).where(lookup._key_prefix(key, "Ab")).order_by(key)
        plan = _plan(s, query.limit(50))
    assert "TEMP B-TREE" not in plan, plan


def test_permission_limit_is_reported(diamond: Database) -> None:
    with diamond.read() as s:
        full = explain.effective_permissions(s, "alice", now=NOW)
        cut = explain.effective_permissions(s, "alice", now=NOW, limit=1)
    assert not full.truncated and len(full.permissions) == 3
    assert cut.truncated
    assert cut.permissions == full.permissions[:1]


@pytest.mark.parametrize("only_granted", [False, True])
def test_big_audiences_page_through_the_name_index_alike(
    diamond: Database, monkeypatch: pytest.MonkeyPatch, only_granted: bool
) -> None:
    """Audiences too big to sort are read in username order from the index: the pages
    are the same as those read by id and sorted."""

    def pages() -> list[list[tuple[str, str]]]:
        found, after = [], None
        with diamond.read() as s:
            while True:
                page = explain.resource_access(
                    s, "vault", now=NOW, user_limit=1, after=after, only_granted=only_granted
                )
                found.append([(e.username, e.action) for e in page.entries])
                if page.next_after is None:
                    return found
                after = page.next_after

    sorted_pages = pages()
    monkeypatch.setattr(explain, "SPARSE_AUDIENCE", 1)
    assert pages() == sorted_pages
    assert len(sorted_pages) == (2 if only_granted else 3)
