"""Cost of the core's access queries next to the bare recursive CTE on the same file.

For a 100k-user and a 1M-user generated database (built into bench/data/ on first run,
reused after), prints the median time of

- check_access (with its explanation: the paths) vs. a bare recursive-CTE EXISTS that
  answers the same question from the same inputs (username, resource, action),
- user_permissions vs. the bare recursive CTE that lists the same rows,
- authorized_users for one permission vs. the bare CTE listing the same users,

each through the core API (SQLAlchemy session from ``Database.read()``) and through raw
``sqlite3`` with the app's cache pragmas, and the ratio core / bare. Targets
(shared/guide/performance.md): check_access <= 3x the bare CTE; user_permissions flat in
the number of users.

    .venv/bin/python bench/bench_core.py            # both sizes
    .venv/bin/python bench/bench_core.py --sizes 100000
    .venv/bin/python bench/bench_core.py --rebuild   # also time the generator
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

from accessguard_gui.core import rbac
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

BARE_CHECK = REACH + """SELECT EXISTS (
    SELECT 1 FROM role_permissions rp
    WHERE rp.permission_id = (
        SELECT p.id FROM permissions p JOIN resources r ON r.id = p.resource_id
        WHERE r.name_key = lower(:resource) AND p.action = :action)
      AND rp.role_id IN reach)
"""

BARE_USER_PERMISSIONS = REACH + """SELECT p.id, p.resource_id, r.name, p.action, p.description, p.version
FROM permissions p JOIN resources r ON r.id = p.resource_id
WHERE p.id IN (SELECT permission_id FROM role_permissions WHERE role_id IN reach)
ORDER BY r.name_key, p.action
"""

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


def sample_cases(conn: sqlite3.Connection, count: int, seed: int = 11) -> list[tuple[str, str, str]]:
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
            held = conn.execute(
                BARE_USER_PERMISSIONS, {"user": username, "now": now}
            ).fetchall()
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
                conn.execute(BARE_CHECK, dict(zip(("user", "resource", "action"), c, strict=True),
                                               now=now_text)).fetchone()[0]
                for c in cases
            )
            if allowed != bare_allowed:
                raise SystemExit(f"core and bare CTE disagree: {allowed} vs {bare_allowed}")
            results["check_access"] = (
                median_ms(lambda c: rbac.check_access(session, *c, now=now), cases),
                median_ms(
                    lambda c: conn.execute(
                        BARE_CHECK,
                        {"user": c[0], "resource": c[1], "action": c[2], "now": now_text},
                    ).fetchone(),
                    cases,
                ),
            )
            names = [c[0] for c in cases]
            results["user_permissions"] = (
                median_ms(lambda u: rbac.user_permissions(session, u, now=now), names),
                median_ms(
                    lambda u: conn.execute(
                        BARE_USER_PERMISSIONS, {"user": u, "now": now_text}
                    ).fetchall(),
                    names,
                ),
            )
            perms = [(c[1], c[2]) for c in cases[:10]]
            results["authorized_users"] = (
                median_ms(
                    lambda p: rbac.authorized_users(session, p[0], p[1], now=now), perms, 1
                ),
                median_ms(
                    lambda p: conn.execute(
                        BARE_AUTHORIZED_USERS,
                        {"resource": p[0], "action": p[1], "now": now_text},
                    ).fetchall(),
                    perms,
                    1,
                ),
            )
            sizes = [
                len(conn.execute(BARE_AUTHORIZED_USERS,
                                 {"resource": p[0], "action": p[1], "now": now_text}).fetchall())
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--cases", type=int, default=200, help="(user, permission) pairs")
    parser.add_argument(
        "--rebuild", action="store_true", help="regenerate the files (prints the build time)"
    )
    args = parser.parse_args(argv)
    table: dict[int, dict[str, tuple[float, float]]] = {}
    for users in args.sizes:
        table[users] = measure(users, args.cases, rebuild=args.rebuild)
    print()
    header = f"{'operation (median ms)':<22}"
    for users in args.sizes:
        header += f" | {users:>9,} users: core   bare  ratio"
    print(header)
    print("-" * len(header))
    for op in ("check_access", "user_permissions", "authorized_users"):
        line = f"{op:<22}"
        for users in args.sizes:
            core, bare = table[users][op]
            line += f" | {'':>16}{core:6.3f} {bare:6.3f} {core / bare:5.2f}x"
        print(line)
    print("\ncheck_access includes its explanation (every granting path, role names);")
    print("bare = the recursive CTE alone through raw sqlite3 on the same file.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
