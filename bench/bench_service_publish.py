"""Publishing to the web service's accessguard.db, and importing it back, on a generated
organisation (bench/data/100k.db by default, built by bench_core on first use).

Prints, in one run:

- preview into a new file (nothing written), publish into a new file, publish again in
  place when nothing changed, and how long each publish held the service file's write lock
  (from BEGIN IMMEDIATE to COMMIT: the time a running service's registrations wait);
- a bare sqlite3 executemany of the same compiled rows into the same DDL, for the ratio;
- importing the published file into an empty AccessGuard database (the pipeline).

    .venv/bin/python bench/bench_service_publish.py
    .venv/bin/python bench/bench_service_publish.py --users 1000000
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_core import database_for  # noqa: E402

from accessguard_gui.core.database import Database  # noqa: E402
from accessguard_gui.core.interchange.pipeline import import_source  # noqa: E402
from accessguard_gui.core.interchange.publish import (  # noqa: E402
    PublishOptions,
    preview_publish,
    publish,
)
from accessguard_gui.core.interchange.service_db import SERVICE_DDL, ServiceSource  # noqa: E402


class LockClock:
    """A progress callback that notes when the write lock was asked for."""

    def __init__(self) -> None:
        self.asked: float | None = None

    def __call__(self, text: str) -> None:
        if text.startswith("Waiting for the service file's write lock"):
            self.asked = time.perf_counter()


def timed_publish(db: Database, target: Path) -> tuple[float, float, int]:
    clock = LockClock()
    start = time.perf_counter()
    result = publish(db, target, PublishOptions(), progress=clock)
    end = time.perf_counter()
    assert clock.asked is not None
    return end - start, end - clock.asked, result.plan.changes


def bare_load(published: Path, target: Path) -> float:
    """The same rows (read from the published file) loaded by plain executemany."""
    src = sqlite3.connect(published)
    tables = {
        t: src.execute(f"SELECT * FROM {t}").fetchall()
        for t in ("users", "roles", "resources", "permissions", "user_roles", "role_permissions")
    }
    src.close()
    start = time.perf_counter()
    conn = sqlite3.connect(target, isolation_level=None)
    conn.execute("BEGIN")
    for ddl in SERVICE_DDL:
        conn.execute(ddl)
    for table, rows in tables.items():
        if rows:
            marks = ",".join("?" * len(rows[0]))
            conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
    conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100_000)
    args = parser.parse_args()
    source = database_for(args.users)
    with tempfile.TemporaryDirectory(prefix="agpub-bench-") as folder:
        work = Path(folder)
        target = work / "accessguard.db"
        with Database(source, read_only=True) as db:
            start = time.perf_counter()
            plan = preview_publish(db, target)
            preview_s = time.perf_counter() - start
            rows = sum(plan.counts.values())
            print(f"organisation: {source.name}, {rows:,} service rows to write")
            print(f"preview into a new file:      {preview_s:7.2f} s")
            total, locked, changes = timed_publish(db, target)
            print(f"publish into a new file:      {total:7.2f} s "
                  f"(write lock held {locked:.2f} s; {changes:,} rows)")
            total, locked, changes = timed_publish(db, target)
            print(f"publish again, nothing new:   {total:7.2f} s "
                  f"(write lock held {locked:.2f} s; {changes:,} rows)")
        bare = bare_load(target, work / "bare.db")
        print(f"bare executemany of the rows: {bare:7.2f} s")
        into = work / "org.db"
        with Database(into, operator="bench") as fresh:
            start = time.perf_counter()
            plan, result = import_source(fresh, ServiceSource(target))
            plan.close()
            print(f"import the published file:    {time.perf_counter() - start:7.2f} s "
                  f"({result.total:,} records)")


if __name__ == "__main__":
    main()
