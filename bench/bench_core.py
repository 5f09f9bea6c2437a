"""Cost of the core's access queries next to the bare recursive CTE on the same file.

For a 100k-user and a 1M-user generated database (built into bench/data/ on first run,
reused after), prints the median time of

- check_access (with its explanation: the paths) vs. a bare recursive-CTE EXISTS that
  answers the same question from the same inputs (username, resource, action),
- user_permissions vs. the bare recursive CTE that lists the same rows,
- authorized_users for one permission vs. the bare CTE listing the same users,

- authorized_roles of a user vs. the bare CTE listing the same roles,

each through the core API (SQLAlchemy session from ``Database.read()``) and through raw
``sqlite3`` with the app's cache pragmas, and the ratio core / bare. Then the same access
questions on hierarchies built to have exponentially many inheritance paths — ``width``
roles between two roles, stacked ``depth`` times (a "diamond" of width 2 stacked 16
times holds 65,536 paths), and a "lattice" where each of ``width`` roles inherits from
every role of the next layer — with check_access, the effective access of the user and
of the resource (explain.py, paths included) against the bare deduplicating CTE: in a
read, in a preview holding a write that leaves the roles alone, in a preview holding a
role write, and the first check of a preview right after a role write.
Targets (shared/guide/performance.md, issue 11): check_access with its explanation
<= 3x the bare CTE on any hierarchy; review functions <= 2x.

    .venv/bin/python bench/bench_core.py            # both sizes
    .venv/bin/python bench/bench_core.py --sizes 100000
    .venv/bin/python bench/bench_core.py --rebuild   # also time the generator
    .venv/bin/python bench/bench_core.py --sizes     # hierarchies only
"""

from __future__ import annotations

import argparse
import gc
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text

from accessguard_gui.core import explain, rbac, review_sql
from accessguard_gui.core.database import Database
from accessguard_gui.core.generate import generate
from accessguard_gui.core.schema import head_revision

DATA = ROOT / "bench" / "data"
TS = "%Y-%m-%d %H:%M:%S.%f"

# Names by their stored keys (core/keys.py): lower() of a bound name is its key for the
# ASCII names generate.py makes.
# The roles an active user reaches through unexpired assignments and inheritance.
REACH = """
WITH RECURSIVE reach(role_id) AS (
    SELECT ur.role_id FROM user_roles ur
    WHERE ur.user_id = (SELECT id FROM users WHERE username_key = lower(:user) AND active)
      AND (ur.expires_at IS NULL OR ur.expires_at > :now)
    UNION
    SELECT ri.inherits_from_id FROM role_inheritance ri JOIN reach ON ri.role_id = reach.role_id
)
"""

BARE_CHECK = (
    REACH
    + """SELECT EXISTS (
    SELECT 1 FROM role_permissions rp
    WHERE rp.permission_id = (
        SELECT p.id FROM permissions p JOIN resources r ON r.id = p.resource_id
        WHERE r.name_key = lower(:resource) AND p.action = :action)
      AND rp.role_id IN reach)
"""
)

BARE_USER_PERMISSIONS = (
    REACH
    + """SELECT p.id, p.resource_id, r.name, p.action, p.description, p.version
FROM permissions p JOIN resources r ON r.id = p.resource_id
WHERE p.id IN (SELECT permission_id FROM role_permissions WHERE role_id IN reach)
ORDER BY r.name_key, p.action
"""
)

BARE_AUTHORIZED_USERS = """
WITH RECURSIVE granting(role_id) AS (
    SELECT role_id FROM role_permissions WHERE permission_id = (
        SELECT p.id FROM permissions p JOIN resources r ON r.id = p.resource_id
        WHERE r.name_key = lower(:resource) AND p.action = :action)
    UNION
    SELECT ri.role_id FROM role_inheritance ri JOIN granting ON ri.inherits_from_id = granting.role_id
)
SELECT id, username, display_name, email, active, password_hash, created_at, updated_at, version
FROM users
WHERE active AND id IN (
    SELECT user_id FROM user_roles
    WHERE role_id IN granting AND (expires_at IS NULL OR expires_at > :now))
ORDER BY username_key
"""


BARE_AUTHORIZED_ROLES = (
    REACH
    + """SELECT id, name, description, version
FROM roles WHERE id IN reach ORDER BY name_key
"""
)


def read_only_database_arg(description: str) -> tuple[Database, argparse.Namespace] | None:
    """Parse ``[db] [--runs N]`` and open the file read-only: the named file, or the shared
    generated 1M-user file (built, or rebuilt at the newest schema, by ``database_for``).
    None (after saying so) when a named file does not exist."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "db", nargs="?", help="a database file (default: the shared generated 1M-user file)"
    )
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    args.db = args.db or str(database_for(1_000_000))
    if not Path(args.db).exists():
        print(f"{args.db} not found")
        return None
    return Database(args.db, read_only=True), args


def database_for(users: int, *, rebuild: bool = False) -> Path:
    """The generated file for ``users`` users, built once and reused (unless ``rebuild``)."""
    label = f"{users // 1_000_000}m" if users % 1_000_000 == 0 else f"{users // 1000}k"
    path = DATA / f"{label}.db"
    if path.exists() and rebuild:
        for side in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            side.unlink(missing_ok=True)
    if path.exists() and _revision(path) != head_revision():
        print(f"{path} has an older schema: regenerating", flush=True)
        path.unlink()
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        print(f"generating {path} ...", flush=True)
        stats = generate(path, users=users)
        print(f"  built in {stats.seconds:.1f} s", flush=True)
    return path


def _revision(path: Path) -> str | None:
    conn = sqlite3.connect(path.as_uri() + "?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return None if row is None else str(row[0])


def raw_connection(path: Path) -> sqlite3.Connection:
    """Plain sqlite3 with the same cache pragmas the app's connections get."""
    conn = sqlite3.connect(path.as_uri() + "?mode=ro", uri=True, isolation_level=None)
    for pragma in ("cache_size=-65536", "mmap_size=268435456", "temp_store=MEMORY"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def median_ms(fn: Callable[[Any], object], cases: Sequence[Any], rounds: int = 3) -> float:
    """Median wall time of ``fn(case)`` over every case, after one warm-up pass."""
    for case in cases:
        fn(case)
    times: list[float] = []
    gc.disable()
    try:
        for _ in range(rounds):
            for case in cases:
                start = time.perf_counter()
                fn(case)
                times.append(time.perf_counter() - start)
    finally:
        gc.enable()
    return statistics.median(times) * 1000


def paired_ms(
    core: Callable[[Any], object],
    bare: Callable[[Any], object],
    cases: Sequence[Any],
    rounds: int = 3,
) -> tuple[float, float]:
    """Median times of ``core(case)`` and ``bare(case)``, called alternately case by case
    so both see the same load (the machine is shared: a ratio of two sequential medians
    drifted by 2x between runs). Which of the two goes first alternates too: the first
    to read a case's pages pays for bringing them into the CPU's caches (measured
    +13 us on a 20 us check at 1M users, whichever query it was)."""
    for case in cases:
        core(case)
        bare(case)
    core_times: list[float] = []
    bare_times: list[float] = []
    clock = time.perf_counter
    gc.disable()
    try:
        for turn in range(rounds):
            for index, case in enumerate(cases):
                if (index + turn) % 2:
                    start = clock()
                    bare(case)
                    middle = clock()
                    core(case)
                    end = clock()
                    bare_times.append(middle - start)
                    core_times.append(end - middle)
                else:
                    start = clock()
                    core(case)
                    middle = clock()
                    bare(case)
                    end = clock()
                    core_times.append(middle - start)
                    bare_times.append(end - middle)
    finally:
        gc.enable()
    return statistics.median(core_times) * 1000, statistics.median(bare_times) * 1000


def sample_cases(
    conn: sqlite3.Connection, count: int, seed: int = 11
) -> list[tuple[str, str, str]]:
    """(username, resource, action): half a permission the user really holds (allowed,
    with paths to explain), half a random permission (usually denied)."""
    rng = random.Random(seed)
    n_users = conn.execute("SELECT max(id) FROM users").fetchone()[0]
    n_perms = conn.execute("SELECT max(id) FROM permissions").fetchone()[0]
    now = datetime.now(UTC).strftime(TS)
    cases: list[tuple[str, str, str]] = []
    while len(cases) < count:
        uid = rng.randint(1, n_users)
        (username,) = conn.execute("SELECT username FROM users WHERE id = ?", (uid,)).fetchone()
        if len(cases) % 2 == 0:
            held = conn.execute(BARE_USER_PERMISSIONS, {"user": username, "now": now}).fetchall()
            if not held:
                continue
            _, _, resource, action, _, _ = rng.choice(held)
        else:
            resource, action = conn.execute(
                "SELECT r.name, p.action FROM permissions p JOIN resources r ON r.id = p.resource_id "
                "WHERE p.id = ?",
                (rng.randint(1, n_perms),),
            ).fetchone()
        cases.append((username, resource, action))
    return cases


def measure(users: int, n_cases: int, *, rebuild: bool) -> dict[str, tuple[float, float]]:
    path = database_for(users, rebuild=rebuild)
    conn = raw_connection(path)
    cases = sample_cases(conn, n_cases)
    now = datetime.now(UTC)
    now_text = now.strftime(TS)
    db = Database(path)
    results: dict[str, tuple[float, float]] = {}
    try:
        with db.read() as session:
            allowed = sum(rbac.check_access(session, *c, now=now).allowed for c in cases)
            bare_allowed = sum(
                conn.execute(
                    BARE_CHECK,
                    dict(zip(("user", "resource", "action"), c, strict=True), now=now_text),
                ).fetchone()[0]
                for c in cases
            )
            if allowed != bare_allowed:
                raise SystemExit(f"core and bare CTE disagree: {allowed} vs {bare_allowed}")
            results["check_access"] = paired_ms(
                lambda c: rbac.check_access(session, *c, now=now),
                lambda c: conn.execute(
                    BARE_CHECK, {"user": c[0], "resource": c[1], "action": c[2], "now": now_text}
                ).fetchone(),
                cases,
            )
            names = [c[0] for c in cases]
            results["user_permissions"] = paired_ms(
                lambda u: rbac.user_permissions(session, u, now=now),
                lambda u: conn.execute(
                    BARE_USER_PERMISSIONS, {"user": u, "now": now_text}
                ).fetchall(),
                names,
            )
            perms = [(c[1], c[2]) for c in cases[:10]]
            results["authorized_users"] = paired_ms(
                lambda p: rbac.authorized_users(session, p[0], p[1], now=now),
                lambda p: conn.execute(
                    BARE_AUTHORIZED_USERS, {"resource": p[0], "action": p[1], "now": now_text}
                ).fetchall(),
                perms,
                3,  # one round of 10 was noisy (1.66-2.40x at 1M users)
            )
            results["authorized_roles"] = paired_ms(
                lambda u: rbac.authorized_roles(session, u, now=now),
                lambda u: conn.execute(
                    BARE_AUTHORIZED_ROLES, {"user": u, "now": now_text}
                ).fetchall(),
                names,
            )
            sizes = [
                len(
                    conn.execute(
                        BARE_AUTHORIZED_USERS, {"resource": p[0], "action": p[1], "now": now_text}
                    ).fetchall()
                )
                for p in perms
            ]
            print(
                f"  {users:,} users: {allowed}/{len(cases)} cases allowed; authorized_users "
                f"returns a median of {statistics.median(sizes):,.0f} users",
                flush=True,
            )
    finally:
        db.close()
        conn.close()
    return results


REVIEW_OPERATIONS = ("check_access", "user_permissions", "authorized_users", "authorized_roles")
# (shape, width, depth): depth = inheritance edges from the top role to the bottom one
# is 2 x depth for diamonds, depth for lattices; MAX_PATH_DEPTH (32) allows both.
HIERARCHIES = (
    ("diamonds", 2, 16),
    ("diamonds", 16, 16),
    ("diamonds", 200, 16),
    ("lattice", 4, 32),
    ("lattice", 24, 32),
)


def hierarchy_database(shape: str, width: int, depth: int) -> Path:
    """A small file holding one deep hierarchy with a user at its top (built once).

    Roles are listed top-down; "Vault: bottom" is held by the last role, "Vault: middle"
    by a role halfway down, "Vault: elsewhere" by a role outside the hierarchy.
    """
    from accessguard_gui.core.models import (
        Permission,
        Resource,
        Role,
        RoleInheritance,
        RolePermission,
        User,
        UserRole,
    )

    path = DATA / f"{shape}-{width}x{depth}.db"
    if path.exists() and _revision(path) == head_revision():
        return path
    for side in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        side.unlink(missing_ok=True)
    DATA.mkdir(parents=True, exist_ok=True)
    if shape == "diamonds":
        layers = []
        for level in range(depth):
            layers += [[f"D{level}"], [f"A{level}.{j}" for j in range(width)]]
        layers.append([f"D{depth}"])
    else:
        layers = [[f"L{level}.{j}" for j in range(width)] for level in range(depth + 1)]
    db = Database(path, operator="bench")
    try:
        with db.action("Build hierarchy") as s:
            roles = {name: Role(name=name, description="") for layer in layers for name in layer}
            roles["Outside"] = Role(name="Outside", description="")
            s.add_all(roles.values())
            vault = Resource(name="Vault", description="")
            s.add(vault)
            s.flush()
            perms = {
                a: Permission(resource_id=vault.id, action=a, description="")
                for a in ("bottom", "middle", "elsewhere")
            }
            s.add_all(perms.values())
            s.flush()
            s.add_all(
                RoleInheritance(role_id=roles[a].id, inherits_from_id=roles[b].id)
                for upper, lower in zip(layers, layers[1:], strict=False)
                for a in upper
                for b in lower
            )
            middle = layers[len(layers) // 2][0]
            for role, action in (
                (layers[-1][0], "bottom"),
                (middle, "middle"),
                ("Outside", "elsewhere"),
            ):
                s.add(
                    RolePermission(
                        role_id=roles[role].id, permission_id=perms[action].id, granted_by="bench"
                    )
                )
            user = User(username="top.user", display_name="Top User", active=True)
            s.add(user)
            s.flush()
            s.add(UserRole(user_id=user.id, role_id=roles[layers[0][0]].id, granted_by="bench"))
    finally:
        db.close()
    return path


def measure_hierarchy(shape: str, width: int, depth: int) -> dict[str, tuple[float, float]]:
    """check_access and the effective access of the user and of the resource (with
    paths) against the bare deduplicating CTE, on one deep hierarchy."""
    path = hierarchy_database(shape, width, depth)
    conn = raw_connection(path)
    now = datetime.now(UTC)
    now_text = now.strftime(TS)
    cases = [("top.user", "Vault", a) for a in ("bottom", "middle", "elsewhere")]
    db = Database(path)
    results: dict[str, tuple[float, float]] = {}

    def bare_check(c: tuple[str, str, str]) -> object:
        params = {"user": c[0], "resource": c[1], "action": c[2], "now": now_text}
        return conn.execute(BARE_CHECK, params).fetchone()

    def bare_user(u: str) -> object:
        return conn.execute(BARE_USER_PERMISSIONS, {"user": u, "now": now_text}).fetchall()

    def bare_resource(c: tuple[str, str, str]) -> object:
        params = {"resource": c[1], "action": c[2], "now": now_text}
        return conn.execute(BARE_AUTHORIZED_USERS, params).fetchall()

    bare = (bare_check, bare_user, bare_resource)
    try:
        with db.read() as session:
            got = [rbac.check_access(session, *c, now=now).allowed for c in cases]
            if got != [True, True, False]:
                raise SystemExit(f"{shape} {width}x{depth}: wrong decisions {got}")
            _questions(results, "read", session, cases, bare)
            # What a change costs the next question: reading the role graph again.
            dbapi = review_sql.dbapi_of(session)
            assert dbapi is not None
            results["graph read (per change)"] = paired_ms(
                lambda _c: review_sql.read_role_graph(dbapi, (0, 0)),
                bare_check,
                cases[:1],
                5,
            )
        # Inside a transaction holding writes of its own (an action, a preview with
        # pending edits). Pending assignments and grants leave the role graph as
        # committed: the cached graph answers, SQL reads the pending rows.
        with db.preview() as session:
            session.execute(text("UPDATE users SET version = version WHERE id = 1"))
            _questions(results, "preview, no role write", session, cases, bare)
        # A pending role write (inheritance, a renamed role): the graph is the
        # transaction's own. Each preview asks one question right after the write (as
        # the access-check view does): SQL answers, or the graph is read when that is
        # cheaper (review_sql.role_graph), then the next questions of the same preview.
        first: list[float] = []
        bare_first: list[float] = []
        for turn in range(15):
            with db.preview() as session:
                session.execute(text("UPDATE roles SET name = name WHERE name = 'Outside'"))
                case = cases[turn % len(cases)]
                start = time.perf_counter()
                rbac.check_access(session, *case, now=now)
                middle = time.perf_counter()
                bare_check(case)
                bare_first.append(time.perf_counter() - middle)
                first.append(middle - start)
        results["preview, role write: 1st check"] = (
            statistics.median(first[3:]) * 1000,
            statistics.median(bare_first[3:]) * 1000,
        )
        with db.preview() as session:
            session.execute(text("UPDATE roles SET name = name WHERE name = 'Outside'"))
            _questions(results, "preview, role write", session, cases, bare)
    finally:
        db.close()
        conn.close()
    return results


def _questions(
    results: dict[str, tuple[float, float]],
    label: str,
    session: Any,
    cases: list[tuple[str, str, str]],
    bare: tuple[Callable[[Any], object], ...],
) -> None:
    """check_access and both effective-access questions (paths included) in
    ``session``, each against the bare CTE doing the same job (``bare``: check, user's
    permissions, resource's users), called alternately."""
    now = datetime.now(UTC)
    bare_check, bare_user, bare_resource = bare
    results[f"{label}: check"] = paired_ms(
        lambda c: rbac.check_access(session, *c, now=now), bare_check, cases, 5
    )
    # One user, two resources: 15 rounds (5 gave medians of 5 and 10 samples, and the
    # ratio of the smallest hierarchy moved 2.7-3.5x from run to run).
    results[f"{label}: user"] = paired_ms(
        lambda u: explain.effective_permissions(session, u, now=now),
        bare_user,
        ["top.user"],
        15,
    )
    results[f"{label}: resource"] = paired_ms(
        lambda c: explain.resource_access(session, c[1], c[2], now=now),
        bare_resource,
        cases[:2],
        15,
    )


def print_hierarchies() -> None:
    print(f"\n{'hierarchy (median ms)':<18} {'question':<38} {'core':>9} {'bare':>9} {'ratio':>7}")
    print("-" * 85)
    for shape, width, depth in HIERARCHIES:
        label = f"{shape} {width}x{depth}"
        for op, (core, bare) in measure_hierarchy(shape, width, depth).items():
            print(f"{label:<18} {op:<38} {core:9.3f} {bare:9.3f} {core / bare:6.2f}x", flush=True)
            label = ""
    print("check_access and effective access include their explanations (at most")
    print(
        f"{rbac.MAX_EXPLAINED_PATHS} / {explain.DEFAULT_PATHS_PER_PERMISSION} shortest "
        "paths); bare = the deduplicating recursive CTE alone (raw sqlite3)."
    )
    print("check = check_access, user / resource = effective access of the user / of the")
    print("resource. A read answers from the role graph cached per connection (read again")
    print("after any change: 'graph read', against one bare check). A preview whose pending")
    print("edits leave the roles and their inheritance alone answers from it too; after a")
    print("role write the preview's own graph is read once SQL answering has cost as much")
    print("('1st check': one question per preview, right after the write).")


def print_review_table(table: dict[int, dict[str, tuple[float, float]]], sizes: list[int]) -> None:
    print()
    header = f"{'operation (median ms)':<22}"
    for users in sizes:
        header += f" | {users:>9,} users: core   bare  ratio"
    print(header)
    print("-" * len(header))
    for op in REVIEW_OPERATIONS:
        line = f"{op:<22}"
        for users in sizes:
            core, bare = table[users][op]
            line += f" | {'':>16}{core:6.3f} {bare:6.3f} {core / bare:5.2f}x"
        print(line)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument(
        "--no-hierarchies", action="store_true", help="skip the deep-hierarchy section"
    )
    parser.add_argument("--cases", type=int, default=200, help="(user, permission) pairs")
    parser.add_argument(
        "--rebuild", action="store_true", help="regenerate the files (prints the build time)"
    )
    args = parser.parse_args(argv)
    table: dict[int, dict[str, tuple[float, float]]] = {}
    for users in args.sizes:
        table[users] = measure(users, args.cases, rebuild=args.rebuild)
    if args.sizes:
        print_review_table(table, args.sizes)
    if args.sizes:
        print("\ncheck_access includes its explanation (the shortest paths, role names);")
        print("bare = the recursive CTE alone through raw sqlite3 on the same file.")
    if not args.no_hierarchies:
        print_hierarchies()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
