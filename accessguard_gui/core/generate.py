"""A seeded generator of large AccessGuard databases, for benchmarks and scale tests.

The schema is created the normal way (``Database`` runs the Alembic migrations to head);
the rows are then bulk-inserted with ``executemany`` on a raw DBAPI connection in one
transaction, secondary indexes dropped during the load and rebuilt after it. No ORM
objects, no Argon2 (every ``password_hash`` is NULL), and **no audit entries**: generated
rows are test data, not changes someone made, so the audit trail of a generated file is
empty. Durability is switched off while the file is built (it is a throwaway until the
final commit) and WAL is restored at the end, as the app expects.

Same arguments and seed, same rows (timestamps are relative to ``now``; pass it to get
identical files).

    python -m accessguard_gui.core.generate bench/data/1m.db --users 1000000
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .database import Database
from .keys import name_key
from .lookalike import skeleton_key
from .names import FIRST_NAMES, LAST_NAMES, ascii_fold

DOOR_ACTIONS = ("open", "open_after_hours", "hold_open", "lock", "admin")
SYSTEM_ACTIONS = ("read", "write", "approve", "export", "admin", "delete", "execute", "audit")
SYSTEMS = (
    "ERP", "CRM", "HR System", "Payroll", "Banking Portal", "Data Warehouse", "Intranet",
    "Ticketing", "Source Control", "CI Pipeline", "Document Archive", "Expense Claims",
    "Inventory", "Fleet Management", "Lab Results", "Print Service",
)
DEPARTMENTS = (
    "Finance", "Accounting", "Treasury", "HR", "Payroll", "IT", "Security", "Engineering",
    "Research", "Quality", "Production", "Logistics", "Warehouse", "Procurement", "Sales",
    "Marketing", "Support", "Legal", "Compliance", "Facilities", "Reception", "Training",
)
TITLES = ("Staff", "Specialist", "Senior", "Lead", "Manager", "Head", "Director", "Executive")
GENERATED_BY = "generator"
_TS = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores DateTime on SQLite (naive UTC)
_LOADED_TABLES = (
    "users", "roles", "resources", "permissions", "user_roles", "role_permissions",
    "role_inheritance",
)


@dataclass(frozen=True, slots=True)
class GenerationStats:
    path: Path
    users: int
    roles: int
    resources: int
    permissions: int
    assignments: int
    grants: int
    inheritances: int
    seconds: float


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_TS)


def _level_counts(roles: int, max_depth: int) -> list[int]:
    """How many roles sit at each inheritance level 0..max_depth (halving per level),
    at least one per level so that the full depth is present."""
    levels = min(max_depth, roles - 1) + 1
    weights = [0.5**level for level in range(levels)]
    total = sum(weights)
    counts = [max(1, int(roles * w / total)) for w in weights]
    counts[0] += roles - sum(counts)
    return counts


def _usernames(rng: random.Random, count: int) -> Iterator[tuple[str, str]]:
    """(username, display name) pairs; usernames are lowercase ASCII and unique.

    A base ("anna.berg" or "aberg") is letters and at most one dot; repeats get a number
    appended, so two different bases can never produce the same username.
    """
    seen: dict[str, int] = {}
    folded_first = [ascii_fold(n) for n in FIRST_NAMES]
    folded_last = [ascii_fold(n) for n in LAST_NAMES]
    n_first, n_last = len(FIRST_NAMES), len(LAST_NAMES)
    for _ in range(count):
        f = int(rng.random() * n_first)
        last = int(rng.random() * n_last)
        if rng.random() < 0.8:
            base = f"{folded_first[f]}.{folded_last[last]}"
        else:
            base = f"{folded_first[f][0]}{folded_last[last]}"
        n = seen.get(base, 0) + 1
        seen[base] = n
        yield (base if n == 1 else f"{base}{n}"), f"{FIRST_NAMES[f]} {LAST_NAMES[last]}"


def generate(
    path: str | Path,
    *,
    users: int = 1_000_000,
    roles: int = 2_000,
    resources: int = 5_000,
    permissions: int = 20_000,
    roles_per_user: int = 3,
    permissions_per_role: int = 15,
    max_depth: int = 5,
    seed: int = 1,
    inactive_share: float = 0.03,
    expired_share: float = 0.02,
    expiring_share: float = 0.03,
    now: datetime | None = None,
    overwrite: bool = False,
) -> GenerationStats:
    """Build a new database file at ``path`` full of generated, referentially valid rows.

    Args:
        users, roles, resources, permissions: row counts.
        roles_per_user: mean number of assignments per user (uniform 1..2n-1).
        permissions_per_role: mean number of direct grants per role (uniform ±5).
        max_depth: longest inheritance chain (edges); chains of every length up to it
            exist, some roles inherit from two parents and some of those form diamonds.
        inactive_share: users created inactive.
        expired_share / expiring_share: assignments that expired before ``now`` / expire
            after it.
        now: the reference moment for timestamps (default: the current time).
        overwrite: replace an existing file instead of refusing.

    Returns:
        The counts written and the seconds the whole build took.
    """
    started = time.perf_counter()
    target = Path(path)
    if roles < 1 or resources < 1 or users < 0 or max_depth < 0:
        raise ValueError("roles and resources must be at least 1, users and depth not negative")
    door_count = resources // 4
    capacity = door_count * len(DOOR_ACTIONS) + (resources - door_count) * len(SYSTEM_ACTIONS)
    if not 1 <= permissions <= capacity:
        raise ValueError(f"permissions must be between 1 and {capacity}")
    if target.exists() and target.stat().st_size > 0:
        if not overwrite:
            raise FileExistsError(f"{target} exists; pass overwrite=True to replace it")
        target.unlink()
    for suffix in ("-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    Database(target, operator=GENERATED_BY).close()  # schema at Alembic head

    rng = random.Random(seed)
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    history = [_stamp(moment - timedelta(days=d, seconds=s)) for d, s in
               ((rng.randrange(1, 3650), rng.randrange(86400)) for _ in range(4096))]
    past = [_stamp(moment - timedelta(days=rng.randrange(1, 365))) for _ in range(256)]
    future = [_stamp(moment + timedelta(days=rng.randrange(1, 365))) for _ in range(256)]

    conn = sqlite3.connect(target, isolation_level=None)
    try:
        # A throwaway until COMMIT: no journal, no fsync, big cache.
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-524288")
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA foreign_keys=OFF")  # the generator only writes valid ids
        marks = ",".join("?" * len(_LOADED_TABLES))
        indexes = conn.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({marks})",
            _LOADED_TABLES,
        ).fetchall()
        # Triggers on the loaded tables (the search-index sync of migration 0003) would
        # fire per row; they are dropped too, and the full-text indexes rebuilt at once.
        triggers = conn.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type='trigger' AND tbl_name IN ({marks})",
            _LOADED_TABLES,
        ).fetchall()
        search_tables = [
            name
            for name, sql in conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type='table' AND sql LIKE '%fts5%'"
            )
            if any(f"content='{table}'" in sql for table in _LOADED_TABLES)
        ]
        conn.execute("BEGIN")
        for name, _sql in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        for name, _sql in triggers:
            conn.execute(f'DROP TRIGGER "{name}"')
        counts = _load(
            conn, rng, history, past, future,
            users=users, roles=roles, resources=resources, permissions=permissions,
            door_count=door_count, roles_per_user=roles_per_user,
            permissions_per_role=permissions_per_role, max_depth=max_depth,
            inactive_share=inactive_share, expired_share=expired_share,
            expiring_share=expiring_share,
        )
        for _name, sql in indexes:
            conn.execute(sql)
        for name in search_tables:
            conn.execute(f"INSERT INTO \"{name}\"(\"{name}\") VALUES ('rebuild')")
        for _name, sql in triggers:
            conn.execute(sql)
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()
    return GenerationStats(
        path=target,
        users=users,
        roles=roles,
        resources=resources,
        permissions=permissions,
        assignments=counts[0],
        grants=counts[1],
        inheritances=counts[2],
        seconds=time.perf_counter() - started,
    )


def _load(
    conn: sqlite3.Connection,
    rng: random.Random,
    history: Sequence[str],
    past: Sequence[str],
    future: Sequence[str],
    *,
    users: int,
    roles: int,
    resources: int,
    permissions: int,
    door_count: int,
    roles_per_user: int,
    permissions_per_role: int,
    max_depth: int,
    inactive_share: float,
    expired_share: float,
    expiring_share: float,
) -> tuple[int, int, int]:
    n_hist = len(history)

    # --- roles and inheritance: level by level, parents always one level (or more) down.
    level_of: list[int] = []
    for level, count in enumerate(_level_counts(roles, max_depth)):
        level_of += [level] * count
    rng.shuffle(level_of)
    n_depts = max(1, roles // 40)
    dept_of = [rng.randrange(n_depts) for _ in range(roles)]
    by_level: list[list[int]] = [[] for _ in range(max(level_of) + 1)]
    by_level_dept: dict[tuple[int, int], list[int]] = {}
    for rid in range(1, roles + 1):
        level, dept = level_of[rid - 1], dept_of[rid - 1]
        by_level[level].append(rid)
        by_level_dept.setdefault((level, dept), []).append(rid)
    parents: dict[int, list[int]] = {}
    children: dict[int, list[int]] = {}
    for level in range(1, len(by_level)):
        for rid in by_level[level]:
            dept = dept_of[rid - 1]
            pool = by_level_dept.get((level - 1, dept))
            if not pool or rng.random() < 0.15:
                pool = by_level[level - 1]
            first = rng.choice(pool)
            chosen = [first]
            if rng.random() < 0.4:
                second = None
                grand = parents.get(first)
                if grand and rng.random() < 0.5:
                    # A diamond: another child of the first parent's own parent.
                    siblings = [
                        c
                        for c in children.get(grand[0], [])
                        if c != first and level_of[c - 1] < level
                    ]
                    if siblings:
                        second = rng.choice(siblings)
                if second is None:
                    lower = rng.randrange(level)
                    pool2 = by_level_dept.get((lower, dept)) or by_level[lower]
                    second = rng.choice(pool2)
                if second != first:
                    chosen.append(second)
            parents[rid] = chosen
            for p in chosen:
                children.setdefault(p, []).append(rid)

    def role_rows() -> Iterator[tuple[object, ...]]:
        for rid in range(1, roles + 1):
            level, dept = level_of[rid - 1], dept_of[rid - 1]
            dept_name = DEPARTMENTS[dept % len(DEPARTMENTS)]
            if dept >= len(DEPARTMENTS):
                dept_name += f" {dept // len(DEPARTMENTS) + 1}"
            title = TITLES[min(level, len(TITLES) - 1)]
            stamp = history[rid % n_hist]
            name = f"{dept_name} {title} {rid:04d}"
            yield (rid, name, f"{title} level of {dept_name}", stamp, stamp, 1, name_key(name),
                   skeleton_key(name))

    # Rows by position: the name key is the last column (models.User.username_key).
    conn.executemany("INSERT INTO roles VALUES (?,?,?,?,?,?,?,?)", role_rows())
    edges = sorted((rid, p) for rid, ps in parents.items() for p in ps)
    conn.executemany(
        "INSERT INTO role_inheritance VALUES (?,?,?)",
        ((rid, p, history[(rid + p) % n_hist]) for rid, p in edges),
    )

    # --- resources and permissions: doors first, then business systems.
    def resource_rows() -> Iterator[tuple[object, ...]]:
        for rid in range(1, resources + 1):
            i = rid - 1
            if i < door_count:
                building, rest = divmod(i, 1000)
                floor, room = divmod(rest, 100)
                label = chr(65 + building % 26) + ("" if building < 26 else str(building // 26))
                name, text = f"Door {label}{floor}.{room:02d}", f"Door in building {label}"
            else:
                system = SYSTEMS[i % len(SYSTEMS)]
                name, text = f"{system} {i:05d}", f"{system} module"
            stamp = history[rid % n_hist]
            yield rid, name, text, stamp, stamp, 1, name_key(name), skeleton_key(name)

    conn.executemany("INSERT INTO resources VALUES (?,?,?,?,?,?,?,?)", resource_rows())
    base, extra = divmod(permissions, resources)

    def permission_rows() -> Iterator[tuple[object, ...]]:
        pid = 0
        for rid in range(1, resources + 1):
            vocab = DOOR_ACTIONS if rid <= door_count else SYSTEM_ACTIONS
            want = base + (1 if rid <= extra else 0)
            want = min(want, len(vocab))  # doors hold fewer actions: topped up below
            for action in sorted(rng.sample(vocab, want)):
                pid += 1
                yield pid, rid, action, "", history[pid % n_hist], 1

    conn.executemany("INSERT INTO permissions VALUES (?,?,?,?,?,?)", permission_rows())
    made = conn.execute("SELECT count(*) FROM permissions").fetchone()[0]
    if made < permissions:  # doors capped: add the rest as system actions
        _top_up_permissions(conn, rng, permissions - made, door_count, resources, history)
    total_perms = conn.execute("SELECT max(id) FROM permissions").fetchone()[0]

    grants = 0

    def grant_rows() -> Iterator[tuple[object, ...]]:
        nonlocal grants
        low = max(1, permissions_per_role - 5)
        high = max(low, permissions_per_role + 5)
        for rid in range(1, roles + 1):
            k = min(rng.randint(low, high), total_perms)
            stamp = history[rid % n_hist]
            for pid in sorted(rng.sample(range(1, total_perms + 1), k)):
                grants += 1
                yield rid, pid, stamp, GENERATED_BY

    conn.executemany("INSERT INTO role_permissions VALUES (?,?,?,?)", grant_rows())

    # --- users and their assignments: the bulk of the file.
    def user_rows() -> Iterator[tuple[object, ...]]:
        rand = rng.random
        for uid, (username, shown) in enumerate(_usernames(rng, users), start=1):
            stamp = history[int(rand() * n_hist)]
            active = 0 if rand() < inactive_share else 1
            yield (uid, username, shown, f"{username}@corp.example", active, None,
                   stamp, stamp, 1, name_key(username), skeleton_key(username))

    conn.executemany("INSERT INTO users VALUES (?,?,?,?,?,?,?,?,?,?,?)", user_rows())

    assignments = 0

    def assignment_rows() -> Iterator[tuple[object, ...]]:
        nonlocal assignments
        rand = rng.random
        spread = max(1, 2 * roles_per_user - 1)
        n_past, n_future = len(past), len(future)
        expiring_limit = expired_share + expiring_share
        for uid in range(1, users + 1):
            k = min(1 + int(rand() * spread), roles)
            picked: set[int] = set()
            while len(picked) < k:
                picked.add(1 + int(rand() * roles))
            stamp = history[int(rand() * n_hist)]
            for rid in sorted(picked):
                roll = rand()
                if roll < expired_share:
                    expires: str | None = past[int(rand() * n_past)]
                elif roll < expiring_limit:
                    expires = future[int(rand() * n_future)]
                else:
                    expires = None
                assignments += 1
                yield uid, rid, stamp, GENERATED_BY, expires, 1

    conn.executemany("INSERT INTO user_roles VALUES (?,?,?,?,?,?)", assignment_rows())
    return assignments, grants, len(edges)


def _top_up_permissions(
    conn: sqlite3.Connection,
    rng: random.Random,
    missing: int,
    door_count: int,
    resources: int,
    history: Sequence[str],
) -> None:
    """Spread the permissions doors could not hold over the systems' unused actions."""
    taken: dict[int, set[str]] = {}
    for rid, action in conn.execute("SELECT resource_id, action FROM permissions"):
        taken.setdefault(rid, set()).add(action)
    pid = conn.execute("SELECT max(id) FROM permissions").fetchone()[0]
    rows = []
    systems = list(range(door_count + 1, resources + 1))
    rng.shuffle(systems)
    for rid in systems:
        for action in SYSTEM_ACTIONS:
            if missing == 0:
                break
            if action not in taken.get(rid, set()):
                pid += 1
                missing -= 1
                rows.append((pid, rid, action, "", history[pid % len(history)], 1))
    conn.executemany("INSERT INTO permissions VALUES (?,?,?,?,?,?)", rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m accessguard_gui.core.generate",
        description="Generate a large AccessGuard database for benchmarks and scale tests.",
    )
    parser.add_argument("path", type=Path, help="the database file to create")
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--roles", type=int, default=2_000)
    parser.add_argument("--resources", type=int, default=5_000)
    parser.add_argument("--permissions", type=int, default=20_000)
    parser.add_argument("--roles-per-user", type=int, default=3)
    parser.add_argument("--permissions-per-role", type=int, default=15)
    parser.add_argument("--max-depth", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing file")
    args = parser.parse_args(argv)
    try:
        stats = generate(
            args.path,
            users=args.users,
            roles=args.roles,
            resources=args.resources,
            permissions=args.permissions,
            roles_per_user=args.roles_per_user,
            permissions_per_role=args.permissions_per_role,
            max_depth=args.max_depth,
            seed=args.seed,
            overwrite=args.overwrite,
        )
    except (ValueError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{stats.path}: {stats.users:,} users, {stats.roles:,} roles, "
        f"{stats.resources:,} resources, {stats.permissions:,} permissions, "
        f"{stats.assignments:,} assignments, {stats.grants:,} grants, "
        f"{stats.inheritances:,} inheritances in {stats.seconds:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
