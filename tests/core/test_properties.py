"""Property tests: random small RBAC states built through the core API agree with the
plain-Python reference in ``reference.py`` — decisions, explanations, review functions,
refusals (cycles, duplicates, separation of duty) — and refused calls leave no trace."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from accessguard_gui.core import access_query, explain, rbac, review_sql
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import (
    AccessGuardError,
    CycleError,
    DuplicateError,
    NotFoundError,
    SeparationOfDutyError,
    ValidationError,
)
from accessguard_gui.core.models import utcnow
from accessguard_gui.core.rows import DenyReason

from .reference import Reference, snapshot

NOW = utcnow()
EXPIRIES = {"never": None, "past": NOW - timedelta(days=1), "future": NOW + timedelta(days=1)}
# Modest by default so the suite stays quick; AG_PROPERTY_EXAMPLES=2000 for a long hunt.
PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("AG_PROPERTY_EXAMPLES", "60")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty database at schema head, copied for every example (migrations run once)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    Database(path, operator="tester").close()
    return path


@contextmanager
def fresh_db(template: Path) -> Iterator[Database]:
    """A fresh copy of the template for one hypothesis example (function-scoped fixtures
    are shared by every example of a test, so each example opens its own)."""
    with tempfile.TemporaryDirectory(prefix="agprop-") as folder:
        path = Path(folder) / "example.db"
        shutil.copyfile(template, path)
        db = Database(path, operator="tester")
        try:
            yield db
        finally:
            db.close()


# How a transaction holding role writes of its own answers (review_sql.role_graph): the
# committed graph with its writes replayed from the log, the graph read whole from the
# transaction, or SQL.
ANSWER_MODES = ("replay", "read", "sql")


@contextmanager
def answering(mode: str) -> Iterator[None]:
    with ExitStack() as stack:
        if mode == "replay":
            stack.enter_context(
                mock.patch.object(
                    review_sql, "read_role_graph", side_effect=AssertionError("read, not replayed")
                )
            )
        else:
            stack.enter_context(mock.patch.object(review_sql, "_replay_base", return_value=None))
            stack.enter_context(
                mock.patch.object(review_sql, "_worth_reading", return_value=mode == "read")
            )
        yield


# ---------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Scenario:
    active: tuple[bool, ...]
    roles: int
    permissions: tuple[tuple[str, str], ...]
    ssd: tuple[tuple[int, ...], int] | None  # (member role indexes, cardinality)
    ops: tuple[tuple[Any, ...], ...]

    @property
    def users(self) -> list[str]:
        return [f"u{i}" for i in range(len(self.active))]

    @property
    def role_names(self) -> list[str]:
        return [f"R{i}" for i in range(self.roles)]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    n_users = draw(st.integers(1, 4))
    n_roles = draw(st.integers(1, 6))
    active = tuple(
        draw(st.lists(st.sampled_from([True, True, False]), min_size=n_users, max_size=n_users))
    )
    resources = draw(st.integers(1, 2))
    actions = draw(st.integers(1, 2))
    permissions = tuple((f"Res{r}", f"a{a}") for r in range(resources) for a in range(actions))
    user = st.integers(0, n_users - 1)
    role = st.integers(0, n_roles - 1)
    perm = st.integers(0, len(permissions) - 1)
    expiry = st.sampled_from(sorted(EXPIRIES))

    @st.composite
    def inherit_pair(d: st.DrawFn) -> tuple[int, int]:
        a, b = d(role), d(role)
        # Mostly downward edges (senior index < junior index): acyclic graphs rich in
        # diamonds; the rest probe self-inheritance and cycles.
        if d(st.integers(0, 9)) < 8 and a > b:
            a, b = b, a
        return a, b

    op = st.one_of(
        st.tuples(st.just("inherit"), inherit_pair()),
        st.tuples(st.just("inherit"), inherit_pair()),
        st.tuples(st.just("uninherit"), st.tuples(role, role)),
        st.tuples(st.just("assign"), st.tuples(user, role, expiry)),
        st.tuples(st.just("assign"), st.tuples(user, role, expiry)),
        st.tuples(st.just("deassign"), st.tuples(user, role)),
        st.tuples(st.just("expiry"), st.tuples(user, role, expiry)),
        st.tuples(st.just("grant"), st.tuples(role, perm)),
        st.tuples(st.just("grant"), st.tuples(role, perm)),
        st.tuples(st.just("revoke"), st.tuples(role, perm)),
        st.tuples(st.just("active"), st.tuples(user, st.booleans())),
        st.tuples(st.just("ssd_add"), st.tuples(role)),
        st.tuples(st.just("ssd_del"), st.tuples(role)),
        st.tuples(st.just("ssd_card"), st.tuples(st.integers(2, 4))),
    )
    ssd = None
    if n_roles >= 2 and draw(st.booleans()):
        members = tuple(sorted(draw(st.sets(role, min_size=2, max_size=min(3, n_roles)))))
        ssd = (members, draw(st.integers(2, len(members))))
    ops = tuple(draw(st.lists(op, max_size=30)))
    return Scenario(active, n_roles, permissions, ssd, ops)


# ---------------------------------------------------------------------- applying


def _expected(
    ref: Reference, sets: dict[str, tuple[set[str], int]], op: tuple[Any, ...], sc: Scenario
) -> type | None:
    """What the reference says the core must answer: None (done) or the error class.
    Applies the op to ``ref`` when it succeeds."""
    kind, args = op
    users, roles, perms = sc.users, sc.role_names, sc.permissions
    if kind == "inherit":
        senior, junior = roles[args[0]], roles[args[1]]
        if senior == junior:
            return CycleError
        if junior in ref.parents.get(senior, set()):
            return DuplicateError
        if ref.would_cycle(senior, junior):
            return CycleError
        ref.add_inheritance(senior, junior)
        if ref.ssd_breaches(sets):
            ref.parents[senior].discard(junior)
            return SeparationOfDutyError
        return None
    if kind == "uninherit":
        senior, junior = roles[args[0]], roles[args[1]]
        if junior not in ref.parents.get(senior, set()):
            return NotFoundError
        ref.parents[senior].discard(junior)
        return None
    if kind == "assign":
        key = (users[args[0]], roles[args[1]])
        if key in ref.assignments:
            return DuplicateError
        ref.assignments[key] = EXPIRIES[args[2]]
        if ref.ssd_breaches(sets):
            del ref.assignments[key]
            return SeparationOfDutyError
        return None
    if kind in ("deassign", "expiry"):
        key = (users[args[0]], roles[args[1]])
        if key not in ref.assignments:
            return NotFoundError
        if kind == "deassign":
            del ref.assignments[key]
        else:
            ref.assignments[key] = EXPIRIES[args[2]]
        return None
    if kind in ("grant", "revoke"):
        grant = (roles[args[0]], perms[args[1]])
        if kind == "grant":
            if grant in ref.grants:
                return DuplicateError
            ref.grants.add(grant)
        else:
            if grant not in ref.grants:
                return NotFoundError
            ref.grants.discard(grant)
        return None
    if kind == "active":
        ref.active[users[args[0]]] = args[1]
        return None
    if kind.startswith("ssd_"):
        if "Split" not in sets:
            return NotFoundError
        members, n = sets["Split"]
        if kind == "ssd_add":
            if roles[args[0]] in members:
                return DuplicateError
            sets["Split"] = (members | {roles[args[0]]}, n)
        elif kind == "ssd_del":
            if roles[args[0]] not in members:
                return NotFoundError
            if len(members) - 1 < n:
                return ValidationError
            sets["Split"] = (members - {roles[args[0]]}, n)
            return None
        else:
            if args[0] > len(members):
                return ValidationError
            sets["Split"] = (members, args[0])
        if ref.ssd_breaches(sets):
            sets["Split"] = (members, n)
            return SeparationOfDutyError
        return None
    raise AssertionError(kind)


def _apply(s: Session, op: tuple[Any, ...], sc: Scenario) -> None:
    kind, args = op
    users, roles, perms = sc.users, sc.role_names, sc.permissions
    if kind == "inherit":
        rbac.add_inheritance(s, roles[args[0]], roles[args[1]])
    elif kind == "uninherit":
        rbac.delete_inheritance(s, roles[args[0]], roles[args[1]])
    elif kind == "assign":
        rbac.assign_user(s, users[args[0]], roles[args[1]], expires_at=EXPIRIES[args[2]])
    elif kind == "deassign":
        rbac.deassign_user(s, users[args[0]], roles[args[1]])
    elif kind == "expiry":
        rbac.set_assignment_expiry(s, users[args[0]], roles[args[1]], EXPIRIES[args[2]])
    elif kind == "grant":
        rbac.grant_permission(s, roles[args[0]], perms[args[1]])
    elif kind == "revoke":
        rbac.revoke_permission(s, roles[args[0]], perms[args[1]])
    elif kind == "active":
        rbac.update_user(s, users[args[0]], active=args[1])
    elif kind == "ssd_add":
        rbac.add_ssd_role_member(s, "Split", roles[args[0]])
    elif kind == "ssd_del":
        rbac.delete_ssd_role_member(s, "Split", roles[args[0]])
    elif kind == "ssd_card":
        rbac.set_ssd_set_cardinality(s, "Split", args[0])


def _build(db: Database, sc: Scenario) -> tuple[Reference, dict[str, tuple[set[str], int]]]:
    ref = Reference()
    sets: dict[str, tuple[set[str], int]] = {}
    with db.action("Build") as s:
        for name, active in zip(sc.users, sc.active, strict=True):
            rbac.add_user(s, name, active=active)
            ref.active[name] = active
        for name in sc.role_names:
            rbac.add_role(s, name)
            ref.roles.add(name)
        for resource in sorted({resource for resource, _ in sc.permissions}):
            rbac.add_resource(s, resource)
        for resource, action in sc.permissions:
            rbac.add_permission(s, resource, action)
            ref.permissions.add((resource, action))
        if sc.ssd is not None:
            members = [sc.role_names[i] for i in sc.ssd[0]]
            rbac.create_ssd_set(s, "Split", members, sc.ssd[1])
            sets["Split"] = (set(members), sc.ssd[1])
        for op in sc.ops:
            expected = _expected(ref, sets, op, sc)
            before = snapshot(s) if expected is not None else None
            try:
                _apply(s, op, sc)
            except AccessGuardError as exc:
                assert type(exc) is expected, (op, exc)
                assert snapshot(s) == before, op  # a refused call leaves no trace
            else:
                assert expected is None, (op, expected)
    return ref, sets


# ---------------------------------------------------------------------- properties


@PROPERTY_SETTINGS
@given(sc=scenarios())
def test_core_agrees_with_the_reference(template: Path, sc: Scenario) -> None:
    with fresh_db(template) as db:
        _compare(db, sc)


def _compare(db: Database, sc: Scenario) -> None:
    ref, sets = _build(db, sc)
    with db.read() as s:
        for role in sc.role_names:
            for inherited in (False, True):
                got = {
                    (p.resource, p.action)
                    for p in rbac.role_permissions(s, role, inherited=inherited)
                }
                assert got == ref.role_permissions(role, inherited=inherited), (role, inherited)
        for user in sc.users:
            assert {r.name for r in rbac.authorized_roles(s, user, now=NOW)} == (
                ref.authorized_roles(user, NOW)
            ), user
            assert {(p.resource, p.action) for p in rbac.user_permissions(s, user, now=NOW)} == (
                ref.user_permissions(user, NOW)
            ), user
            assert {(a.role, a.expires_at) for a in rbac.assigned_roles(s, user)} == {
                (r, e) for (u, r), e in ref.assignments.items() if u == user
            }
        for perm in sc.permissions:
            assert {u.username for u in rbac.authorized_users(s, *perm, now=NOW)} == (
                ref.authorized_users(perm, NOW)
            ), perm
            assert {r.name for r in rbac.authorized_roles_for(s, *perm)} == {
                r for r in sc.role_names if perm in ref.role_permissions(r, inherited=True)
            }, perm
        # Walked paths (few, SQLite) and the graph search (WALK_CAP 1: always) agree.
        for cap in (access_query.WALK_CAP, 1):
            with mock.patch.object(access_query, "WALK_CAP", cap):
                _compare_decisions(ref, sc, s)
        _check_explanations(ref, sc.users, list(sc.permissions), s)
        breaches = {(v.ssd_set, v.username, v.roles) for v in rbac.ssd_violations(s)}
        assert breaches == ref.ssd_breaches(sets) == set()
        assert {x.name: (set(x.roles), x.cardinality) for x in rbac.ssd_role_sets(s)} == sets


def _compare_decisions(ref: Reference, sc: Scenario, s: Session) -> None:
    for user in sc.users:
        for perm in sc.permissions:
            decision = rbac.check_access(s, user, *perm, now=NOW)
            _check_decision(ref, user, perm, decision)
            # Names ignore case and surrounding spaces, ids work as well as names.
            resource_id = rbac.get_resource(s, perm[0]).id
            again = rbac.check_access(s, f" {user.upper()} ", resource_id, perm[1].upper(), now=NOW)
            assert again == decision


def _check_paths(
    ref: Reference, user: str, perm: tuple[str, str], paths: Any, more: bool, k: int
) -> None:
    """``paths`` are real, distinct, the ``k`` best of the reference's (live before expired,
    shortest first), and ``more`` is true exactly when some were left out."""
    expected = ref.access_paths(user, perm)
    shown = [p.roles for p in paths]
    assert set(shown) <= expected and len(set(shown)) == len(shown), (user, perm)
    assert len(shown) == min(len(expected), k), (user, perm)
    assert more == (len(expected) > len(shown)), (user, perm)
    best = sorted(_path_key(ref, user, p) for p in expected)[: len(shown)]
    assert [_path_key(ref, user, p) for p in shown] == best, (user, perm)
    for p in paths:
        expires = ref.assignments[(user, p.roles[0])]
        assert p.expires_at == expires and p.expired == (expires is not None and expires <= NOW)


def _check_explanations(
    ref: Reference, users: list[str], perms: list[tuple[str, str]], s: Session
) -> None:
    """Effective access of each user and of each resource agrees with the reference."""
    k = explain.DEFAULT_PATHS_PER_PERMISSION
    for user in users:
        access = explain.effective_permissions(s, user, now=NOW, limit=1)
        entries = list(access.permissions)
        while access.truncated:  # walk every page
            access = explain.effective_permissions(
                s, user, now=NOW, limit=1, after=access.next_after, counts=False
            )
            entries += access.permissions
        reached = {p for p in perms if ref.access_paths(user, p)}
        assert {(e.resource, e.action) for e in entries} == reached, user
        granted = {(e.resource, e.action) for e in entries if e.granted}
        assert granted == ref.user_permissions(user, NOW), user
        for e in entries:
            _check_paths(ref, user, (e.resource, e.action), e.paths, e.more_paths, k)
    for resource in sorted({r for r, _ in perms}):
        page = explain.resource_access(s, resource, now=NOW, user_limit=1)
        assert page.listed_users == len(
            {u for u in users for p in perms if p[0] == resource and ref.access_paths(u, p)}
        )
        found = list(page.entries)
        while page.truncated:
            page = explain.resource_access(
                s, resource, now=NOW, user_limit=1, after=page.next_after, counts=False
            )
            found += page.entries
        assert {(e.username, e.action) for e in found} == {
            (u, p[1]) for u in users for p in perms if p[0] == resource and ref.access_paths(u, p)
        }, resource
        for e in found:
            _check_paths(ref, e.username, (resource, e.action), e.paths, e.more_paths, k)
            assert e.granted == ref.check_access(e.username, (resource, e.action), NOW)


def _path_key(ref: Reference, user: str, roles: tuple[str, ...]) -> tuple[bool, int]:
    expires = ref.assignments[(user, roles[0])]
    return (expires is not None and expires <= NOW, len(roles))


def _check_decision(ref: Reference, user: str, perm: tuple[str, str], decision: Any) -> None:
    expected_paths = ref.access_paths(user, perm)
    shown = [p.roles for p in decision.paths]
    # Every path shown is a real one, listed once; at most K of them, and they are the
    # K best (live before expired, shortest first) of all the reference finds.
    assert set(shown) <= expected_paths and len(set(shown)) == len(shown), (user, perm)
    assert len(shown) == min(len(expected_paths), rbac.MAX_EXPLAINED_PATHS), (user, perm)
    assert decision.more_paths == (len(expected_paths) > len(shown)), (user, perm)
    best = sorted(_path_key(ref, user, p) for p in expected_paths)[: len(shown)]
    assert [_path_key(ref, user, p) for p in shown] == best, (user, perm)
    for p in decision.paths:
        expires = ref.assignments[(user, p.roles[0])]
        assert p.expires_at == expires
        assert p.expired == (expires is not None and expires <= NOW)
    allowed = ref.check_access(user, perm, NOW)
    assert decision.allowed == allowed, (user, perm)
    if allowed:
        assert decision.reason is None and decision.granting_paths
    elif not ref.active[user]:
        assert decision.reason is DenyReason.INACTIVE_USER
    elif expected_paths:
        assert decision.reason is DenyReason.EXPIRED_ASSIGNMENT
    else:
        assert decision.reason is DenyReason.NO_PATH
    # Granting walks come first, shortest first.
    keys = [(p.expired, len(p.roles)) for p in decision.paths]
    assert keys == sorted(keys)


# ---------------------------------------------------------------------- stacked diamonds


@dataclass(frozen=True)
class Diamonds:
    """``depth`` diamonds of ``width`` stacked: D0 inherits from A0.0..A0.w-1, which all
    inherit from D1, and so on down to D<depth>; plus a few extra downward edges."""

    width: int
    depth: int
    extra: tuple[tuple[int, int], ...]  # (senior, junior) positions in topological order
    grants: tuple[tuple[int, int], ...]  # (role position, permission index)
    assignments: tuple[tuple[int, int, str], ...]  # (user, role position, expiry)

    @property
    def order(self) -> list[str]:
        """Every role, seniors before the roles they inherit from."""
        names = []
        for level in range(self.depth):
            names.append(f"D{level}")
            names += [f"A{level}.{j}" for j in range(self.width)]
        names.append(f"D{self.depth}")
        return names

    def edges(self) -> list[tuple[str, str]]:
        pairs = []
        for level in range(self.depth):
            for j in range(self.width):
                pairs.append((f"D{level}", f"A{level}.{j}"))
                pairs.append((f"A{level}.{j}", f"D{level + 1}"))
        order = self.order
        for a, b in self.extra:
            senior, junior = order[min(a, b)], order[max(a, b)]
            if senior != junior and (senior, junior) not in pairs:
                pairs.append((senior, junior))
        return pairs


@st.composite
def stacked_diamonds(draw: st.DrawFn) -> Diamonds:
    width = draw(st.integers(1, 3))
    depth = draw(st.integers(1, 4))
    n = depth * (width + 1) + 1
    position = st.integers(0, n - 1)
    return Diamonds(
        width,
        depth,
        tuple(draw(st.lists(st.tuples(position, position), max_size=3))),
        tuple(draw(st.lists(st.tuples(position, st.integers(0, 1)), min_size=1, max_size=4))),
        tuple(
            draw(
                st.lists(
                    st.tuples(st.integers(0, 1), position, st.sampled_from(sorted(EXPIRIES))),
                    min_size=1,
                    max_size=4,
                    unique_by=lambda a: (a[0], a[1]),
                )
            )
        ),
    )


@PROPERTY_SETTINGS
@given(sc=stacked_diamonds())
def test_stacked_diamonds_explain_the_best_paths(template: Path, sc: Diamonds) -> None:
    """Exponentially many walks, a bounded number of paths: each shown path is real, the
    shortest come first, live before expired, and the decisions match the reference."""
    perms = [("Safe", "open"), ("Safe", "close")]
    users = ["u0", "u1"]
    ref = Reference()
    with fresh_db(template) as db:
        with db.action("Build") as s:
            for name in sc.order:
                rbac.add_role(s, name)
                ref.roles.add(name)
            edges = sc.edges()
            diamond_edges = 2 * sc.width * sc.depth  # listed first; the extra ones follow
            for senior, junior in edges:
                ref.add_inheritance(senior, junior)
            for senior, junior in edges[:diamond_edges]:
                rbac.add_inheritance(s, senior, junior)
            rbac.add_resource(s, "Safe")
            for perm in perms:
                rbac.add_permission(s, *perm)
                ref.permissions.add(perm)
            for position, p in dict.fromkeys(sc.grants):
                rbac.grant_permission(s, sc.order[position], perms[p])
                ref.grants.add((sc.order[position], perms[p]))
            for name in users:
                rbac.add_user(s, name)
                ref.active[name] = True
            for u, position, expiry in sc.assignments:
                rbac.assign_user(s, users[u], sc.order[position], expires_at=EXPIRIES[expiry])
                ref.assignments[(users[u], sc.order[position])] = EXPIRIES[expiry]
        # The extra edges pending in a preview (role writes of its own; one diamond edge
        # removed and added again so there always is one): answered from the committed
        # graph with the writes replayed, from the graph the transaction reads, and by
        # SQL (the graph search: WALK_CAP 1).
        for mode in ANSWER_MODES:
            with db.preview() as s, mock.patch.object(access_query, "WALK_CAP", 1):
                review_sql.role_graph(s)  # the committed graph, cached as the preview begins
                with answering(mode):
                    rbac.delete_inheritance(s, *edges[0])
                    for senior, junior in [edges[0], *edges[diamond_edges:]]:
                        rbac.add_inheritance(s, senior, junior)
                    _check_state(ref, users, perms, s)
                    assert (review_sql.role_graph(s) is not None) == (mode != "sql")
        with db.action("Extra edges") as s:
            for senior, junior in edges[diamond_edges:]:
                rbac.add_inheritance(s, senior, junior)
        with db.read() as s, mock.patch.object(access_query, "WALK_CAP", 1):
            # The graph search, which answers wherever walking every path would cost too
            # much (on SQLite, few paths are walked directly: that branch is checked below).
            for user in users:
                for perm in perms:
                    _check_decision(ref, user, perm, rbac.check_access(s, user, *perm, now=NOW))
        with db.read() as s:
            _check_state(ref, users, perms, s)


def _check_state(
    ref: Reference, users: list[str], perms: list[tuple[str, str]], s: Session
) -> None:
    """Decisions with paths, the review functions and both effective-access views agree
    with the reference."""
    for user in users:
        for perm in perms:
            _check_decision(ref, user, perm, rbac.check_access(s, user, *perm, now=NOW))
        assert {(p.resource, p.action) for p in rbac.user_permissions(s, user, now=NOW)} == (
            ref.user_permissions(user, NOW)
        )
    for perm in perms:
        assert {u.username for u in rbac.authorized_users(s, *perm, now=NOW)} == (
            ref.authorized_users(perm, NOW)
        )
    _check_explanations(ref, users, perms, s)


# ---------------------------------------------------------------------- deep diamonds


@dataclass(frozen=True)
class DeepDiamonds:
    """``depth`` diamonds of ``width`` stacked as deep as the depth limit allows (two
    inheritance edges per level), shortcut edges between some D levels, holders of the
    permission and a user's assignments (role, expired) — too many walks to enumerate."""

    width: int
    depth: int
    shortcuts: tuple[tuple[int, int], ...]  # (upper D level, lower D level)
    holders: tuple[str, ...]
    starts: tuple[tuple[str, bool], ...]

    def parents(self) -> dict[str, list[str]]:
        edges: dict[str, list[str]] = {}
        for level in range(self.depth):
            middle = [f"A{level}.{j}" for j in range(self.width)]
            edges[f"D{level}"] = list(middle)
            for name in middle:
                edges[name] = [f"D{level + 1}"]
        edges[f"D{self.depth}"] = []
        for upper, lower in self.shortcuts:
            if f"D{lower}" not in edges[f"D{upper}"]:
                edges[f"D{upper}"].append(f"D{lower}")
        return edges


@st.composite
def deep_diamonds(draw: st.DrawFn) -> DeepDiamonds:
    width = draw(st.integers(1, 3))
    depth = draw(st.integers(8, 16))  # 2 x 16 edges: MAX_PATH_DEPTH
    level = st.integers(0, depth)
    shortcuts = draw(
        st.lists(st.tuples(level, level).filter(lambda p: p[1] - p[0] >= 2), max_size=2)
    )
    names = [f"D{i}" for i in range(depth + 1)] + [
        f"A{i}.{j}" for i in range(depth) for j in range(width)
    ]
    holders = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
    top = ["D0", "D1", "A0.0"]
    starts = draw(
        st.lists(
            st.tuples(st.sampled_from(top), st.booleans()),
            min_size=1,
            max_size=2,
            unique_by=lambda s: s[0],
        )
    )
    return DeepDiamonds(width, depth, tuple(shortcuts), tuple(holders), tuple(starts))


def _path_counts(sc: DeepDiamonds) -> dict[tuple[bool, int], int]:
    """How many paths of each (expired, roles) key lead from the user's assignments to a
    holder: counted over the DAG level by level (memoized), never enumerated."""
    parents = sc.parents()
    holders = set(sc.holders)
    memo: dict[str, dict[int, int]] = {}

    def from_role(role: str) -> dict[int, int]:
        if role not in memo:
            counts: dict[int, int] = {1: 1} if role in holders else {}
            for parent in parents[role]:
                for length, n in from_role(parent).items():
                    counts[length + 1] = counts.get(length + 1, 0) + n
            memo[role] = counts
        return memo[role]

    keys: dict[tuple[bool, int], int] = {}
    for role, expired in sc.starts:
        for length, n in from_role(role).items():
            keys[(expired, length)] = keys.get((expired, length), 0) + n
    return keys


def _best_keys(keys: dict[tuple[bool, int], int], k: int) -> list[tuple[bool, int]]:
    best: list[tuple[bool, int]] = []
    for key in sorted(keys):
        best += [key] * min(keys[key], k - len(best))
    return best


def _assert_deep_paths(sc: DeepDiamonds, paths: Any, more: bool, k: int) -> None:
    """Each path is real (an assignment, inheritance edges, a holder), listed once; the
    keys are the k best of every path (live first, shortest first); ``more`` exactly when
    more exist."""
    parents = sc.parents()
    expired_of = dict(sc.starts)
    keys = _path_counts(sc)
    shown = [p.roles for p in paths]
    assert len(set(shown)) == len(shown)
    for p in paths:
        assert p.roles[0] in expired_of and p.expired == expired_of[p.roles[0]]
        assert all(b in parents[a] for a, b in zip(p.roles, p.roles[1:], strict=False))
        assert p.roles[-1] in sc.holders
    assert [(p.expired, len(p.roles)) for p in paths] == _best_keys(keys, k)
    assert more == (sum(keys.values()) > len(shown))


@settings(PROPERTY_SETTINGS, max_examples=min(PROPERTY_SETTINGS.max_examples, 25))
@given(sc=deep_diamonds())
def test_deep_stacked_diamonds_explain_the_best_paths(template: Path, sc: DeepDiamonds) -> None:
    """As deep as the depth limit allows and up to 3^16 walks: check_access (both of its
    ways), the user's effective access and the resource's show at most K real paths, the
    best ones first, and decide as the path counts say."""
    from accessguard_gui.core.models import (
        Permission,
        Resource,
        Role,
        RoleInheritance,
        RolePermission,
        User,
        UserRole,
    )

    parents = sc.parents()
    past = NOW - timedelta(days=1)

    def build(s: Session) -> None:
        roles = {name: Role(name=name, description="") for name in parents}
        s.add_all(roles.values())
        safe = Resource(name="Safe", description="")
        s.add(safe)
        s.flush()
        perm = Permission(resource_id=safe.id, action="open", description="")
        user = User(username="deep", display_name="Deep", active=True)
        s.add_all([perm, user])
        s.flush()
        s.add_all(
            RoleInheritance(role_id=roles[a].id, inherits_from_id=roles[b].id)
            for a, bs in parents.items()
            for b in bs
        )
        s.add_all(
            RolePermission(role_id=roles[h].id, permission_id=perm.id, granted_by="t")
            for h in sc.holders
        )
        s.add_all(
            UserRole(
                user_id=user.id,
                role_id=roles[r].id,
                expires_at=past if expired else None,
                granted_by="t",
            )
            for r, expired in sc.starts
        )

    with fresh_db(template) as db:
        with db.action("Build") as s:
            build(s)
        keys = _path_counts(sc)
        allowed = any(not expired for expired, _n in keys)
        k = rbac.MAX_EXPLAINED_PATHS

        def ask(s: Session) -> None:
            for cap in (access_query.WALK_CAP, 1):
                with mock.patch.object(access_query, "WALK_CAP", cap):
                    decision = rbac.check_access(s, "deep", "Safe", "open", now=NOW)
                assert decision.allowed == allowed
                _assert_deep_paths(sc, decision.paths, decision.more_paths, k)
            access = explain.effective_permissions(s, "deep", now=NOW)
            assert access.total == (1 if keys else 0)
            assert access.granted_total == (1 if allowed else 0)
            for e in access.permissions:
                _assert_deep_paths(sc, e.paths, e.more_paths, explain.DEFAULT_PATHS_PER_PERMISSION)
            page = explain.resource_access(s, "Safe", "open", now=NOW)
            assert page.listed_users == (1 if keys else 0)
            assert page.granted_users == (1 if allowed else 0)
            for entry in page.entries:
                assert entry.granted == allowed
                _assert_deep_paths(
                    sc, entry.paths, entry.more_paths, explain.DEFAULT_PATHS_PER_PERMISSION
                )

        with db.read() as s:
            ask(s)
        # The same state with every inheritance edge pending (deleted and added again in
        # a preview): from the graph the transaction reads, and by SQL.
        for mode in ANSWER_MODES:
            with db.preview() as s:
                review_sql.role_graph(s)  # the committed graph, cached as the preview begins
                with answering(mode):
                    edges = s.execute(
                        select(RoleInheritance.role_id, RoleInheritance.inherits_from_id)
                    ).all()
                    s.execute(delete(RoleInheritance))
                    s.add_all(RoleInheritance(role_id=a, inherits_from_id=b) for a, b in edges)
                    s.flush()
                    ask(s)
                    assert (review_sql.role_graph(s) is not None) == (mode != "sql")
