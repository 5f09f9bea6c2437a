"""Import and export of a whole organisation, next to bare sqlite3 doing the same rows.

Builds (seeded, once, in bench/data/) a generated organisation of N users (default
1,000,000: ~3M assignments, 2,000 roles, 5,000 resources, 20,000 permissions; the shape of
core/generate.py) and exports it as an AccessGuard CSV directory. Then, in one run:

- import: ``python -m accessguard_gui import DIR --into NEW.db`` (every check, one
  transaction, an audit entry per record) against a bare load of the same CSV files —
  csv.reader plus ``executemany`` into a fresh file of the same schema (same tables,
  indexes and triggers), name → id dictionaries in memory, no checks, no audit;
- export: ``python -m accessguard_gui export DB --to DIR`` against a bare ``SELECT`` of
  the same joins written with csv.writer.

Prints times, the ratios (targets: import ≤ 3×, export ≤ 2×) and the importing
process's peak memory. Heavy at 1M (minutes, a few GB of disk): run it alone.

    .venv/bin/python bench/bench_import.py --users 100000
    .venv/bin/python bench/bench_import.py            # 1,000,000 users
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from accessguard_gui.core.database import Database
from accessguard_gui.core.generate import generate
from accessguard_gui.core.interchange.csv_dir import FILES
from accessguard_gui.core.keys import name_key

DATA = ROOT / "bench" / "data"
STAMP = "%Y-%m-%d %H:%M:%S.%f"


def _run(*args: str) -> tuple[float, int]:
    """Seconds and peak RSS (MiB) of ``python -m accessguard_gui ARGS``."""
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run(
        [sys.executable, "-m", "accessguard_gui", *args],
        cwd=ROOT, capture_output=True, text=True,
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"accessguard_gui {args[0]} failed ({proc.returncode})")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) // 1024


def _fresh(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def source_files(users: int) -> tuple[Path, Path]:
    """The generated database and its CSV export (built once)."""
    DATA.mkdir(parents=True, exist_ok=True)
    db = DATA / f"import-source-{users}.db"
    folder = DATA / f"import-source-{users}-csv"
    if not db.exists():
        print(f"generating {users:,} users into {db} …", flush=True)
        generate(db, users=users, seed=1, now=datetime(2026, 11, 1, tzinfo=UTC))
    if not (folder / "users.csv").exists():
        shutil.rmtree(folder, ignore_errors=True)
        print(f"exporting it to {folder} …", flush=True)
        _run("export", str(db), "--to", str(folder), "--format", "csv-dir")
    return db, folder


def _rows(folder: Path, name: str) -> csv.DictReader[str]:
    handle = open(folder / name, encoding="utf-8", newline="")  # noqa: SIM115 - bench
    return csv.DictReader(handle)


def bare_load(folder: Path, target: Path) -> float:
    """csv.reader + sqlite3 executemany into a fresh schema: the floor."""
    _fresh(target)
    Database(target).close()  # the same schema, indexes and triggers, empty
    started = time.perf_counter()
    now = datetime.now(UTC).strftime(STAMP)
    conn = sqlite3.connect(target, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA cache_size=-65536")
    conn.execute("BEGIN")
    user_ids: dict[str, int] = {}
    role_ids: dict[str, int] = {}
    resource_ids: dict[str, int] = {}
    perm_ids: dict[tuple[str, str], int] = {}

    def users() -> object:
        for i, row in enumerate(_rows(folder, "users.csv"), start=1):
            user_ids[row["username"]] = i
            yield (i, row["username"], row["display_name"], row["email"] or None,
                   row["active"] == "true", now, now, name_key(row["username"]))

    conn.executemany(
        "INSERT INTO users (id, username, display_name, email, active, created_at, "
        "updated_at, version, username_key) VALUES (?,?,?,?,?,?,?,1,?)", users())

    def named(name: str, ids: dict[str, int]) -> object:
        for i, row in enumerate(_rows(folder, name), start=1):
            ids[row["name"]] = i
            yield i, row["name"], row["description"], now, now, name_key(row["name"])

    for table, ids in (("roles", role_ids), ("resources", resource_ids)):
        conn.executemany(
            f"INSERT INTO {table} (id, name, description, created_at, updated_at, version, "
            "name_key) VALUES (?,?,?,?,?,1,?)", named(f"{table}.csv", ids))

    def permissions() -> object:
        for i, row in enumerate(_rows(folder, "permissions.csv"), start=1):
            perm_ids[(row["resource"], row["action"])] = i
            yield i, resource_ids[row["resource"]], row["action"], row["description"], now

    conn.executemany(
        "INSERT INTO permissions (id, resource_id, action, description, created_at, version) "
        "VALUES (?,?,?,?,?,1)", permissions())
    conn.executemany(
        "INSERT INTO role_inheritance VALUES (?,?,?)",
        ((role_ids[r["role"]], role_ids[r["parent_role"]], now)
         for r in _rows(folder, "role_parents.csv")))
    conn.executemany(
        "INSERT INTO user_roles (user_id, role_id, granted_at, granted_by, expires_at, version) "
        "VALUES (?,?,?,?,?,1)",
        ((user_ids[r["username"]], role_ids[r["role"]], now, "bench",
          datetime.fromisoformat(r["expires_at"]).strftime(STAMP) if r["expires_at"] else None)
         for r in _rows(folder, "user_roles.csv")))
    conn.executemany(
        "INSERT INTO role_permissions VALUES (?,?,?,?)",
        ((role_ids[r["role"]], perm_ids[(r["resource"], r["action"])], now, "bench")
         for r in _rows(folder, "role_permissions.csv")))
    conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - started


def bare_export(db: Path, folder: Path) -> float:
    """The same joins, in the same (index) order, by sqlite3 + csv.writer."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    started = time.perf_counter()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA cache_size=-65536")
    queries = {
        "users.csv": "SELECT username, display_name, coalesce(email, ''), CASE WHEN active "
        "THEN 'true' ELSE 'false' END FROM users ORDER BY username_key",
        "roles.csv": "SELECT name, description FROM roles ORDER BY name_key",
        "role_parents.csv": "SELECT r.name, p.name FROM role_inheritance i JOIN roles r ON "
        "r.id = i.role_id JOIN roles p ON p.id = i.inherits_from_id ORDER BY r.name_key, "
        "p.name_key",
        "resources.csv": "SELECT name, description FROM resources ORDER BY name_key",
        "permissions.csv": "SELECT r.name, p.action, p.description FROM resources r JOIN "
        "permissions p ON p.resource_id = r.id ORDER BY r.name_key, p.action",
        "user_roles.csv": "SELECT u.username, r.name, coalesce(a.expires_at, '') FROM users u "
        "JOIN user_roles a ON a.user_id = u.id JOIN roles r ON r.id = a.role_id "
        "ORDER BY a.user_id, a.role_id",
        "role_permissions.csv": "SELECT r.name, res.name, p.action FROM roles r JOIN "
        "role_permissions g ON g.role_id = r.id JOIN permissions p ON p.id = g.permission_id "
        "JOIN resources res ON res.id = p.resource_id ORDER BY r.name_key, res.name_key, "
        "p.action",
        "ssd_sets.csv": "SELECT name, cardinality, description FROM ssd_sets ORDER BY name_key",
        "ssd_set_roles.csv": "SELECT s.name, r.name FROM ssd_sets s JOIN ssd_set_roles m ON "
        "m.ssd_set_id = s.id JOIN roles r ON r.id = m.role_id ORDER BY s.name_key, r.name_key",
    }
    for name, sql in queries.items():
        with open(folder / name, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(FILES[name].columns)
            writer.writerows(conn.execute(sql))
    conn.close()
    return time.perf_counter() - started


def phases(folder: Path, target: Path) -> None:
    """The import in this process, with the time of each phase (its progress reports)."""
    from accessguard_gui.core.interchange.csv_dir import CsvDirectorySource
    from accessguard_gui.core.interchange.pipeline import import_source

    _fresh(target)
    marks: list[tuple[str, float]] = []

    def seen(progress: object) -> None:
        phase = getattr(progress, "phase", "")
        if not marks or marks[-1][0] != phase:
            marks.append((phase, time.perf_counter()))

    started = time.perf_counter()
    with Database(target) as db:
        plan, _ = import_source(db, CsvDirectorySource(folder), progress=seen)
        plan.close()
    marks.append(("(end, commit included)", time.perf_counter()))
    print("phases of one import in this process:")
    for (phase, at), (_next, until) in zip(marks, marks[1:], strict=False):
        print(f"  {phase:<28} {until - at:7.1f} s")
    print(f"  {'total':<28} {time.perf_counter() - started:7.1f} s")
    _fresh(target)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each measurement, alternating; medians are compared "
                        "(a shared machine's load moves single runs a lot)")
    parser.add_argument("--phases", action="store_true",
                        help="also time the phases of one import in this process")
    args = parser.parse_args()
    source_db, folder = source_files(args.users)
    lines = sum(max(0, sum(1 for _ in open(folder / n, "rb")) - 1) for n in FILES)
    print(f"source: {args.users:,} users, {lines:,} CSV rows in {folder}", flush=True)

    target = DATA / f"import-target-{args.users}.db"
    bare_target = DATA / f"import-bare-{args.users}.db"
    imports: list[float] = []
    bares: list[float] = []
    peak = 0
    for run in range(args.repeat):
        _fresh(target)
        seconds, peak = _run("import", str(folder), "--into", str(target))
        imports.append(seconds)
        bares.append(bare_load(folder, bare_target))
        _fresh(bare_target)
        print(f"run {run + 1}: import {seconds:.1f} s, bare load {bares[-1]:.1f} s "
              f"({seconds / bares[-1]:.2f}x)", flush=True)
    with sqlite3.connect(target) as conn:
        audit = conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    seconds, bare = _median(imports), _median(bares)
    print(f"import (python -m accessguard_gui import): {seconds:8.1f} s   "
          f"{lines / seconds:,.0f} rows/s   peak RSS {peak:,} MiB")
    print(f"bare csv + sqlite3 executemany load:       {bare:8.1f} s   "
          f"{lines / bare:,.0f} rows/s")
    print(f"import / bare: {seconds / bare:.2f}x (target <= 3x; {audit:,} audit entries "
          "written by the import, none by the bare load)", flush=True)

    out = DATA / f"export-{args.users}-csv"
    bare_out = DATA / f"export-bare-{args.users}-csv"
    exports: list[float] = []
    bare_exports: list[float] = []
    for _run_number in range(args.repeat):
        shutil.rmtree(out, ignore_errors=True)
        exports.append(_run("export", str(target), "--to", str(out), "--format", "csv-dir")[0])
        bare_exports.append(bare_export(target, bare_out))
    exported, bare_exp = _median(exports), _median(bare_exports)
    print(f"export (python -m accessguard_gui export): {exported:8.1f} s")
    print(f"bare SELECT + csv.writer:                  {bare_exp:8.1f} s")
    print(f"export / bare: {exported / bare_exp:.2f}x (target <= 2x)", flush=True)
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(bare_out, ignore_errors=True)
    _fresh(target)
    if args.phases:
        phases(folder, target)
    print(f"({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; command times "
          "include process start-up)")


if __name__ == "__main__":
    main()
