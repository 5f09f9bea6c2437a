"""What the tamper-evident audit trail costs: chaining on upgrade, verifying, appending.

Builds a file at schema 0004 holding N audit entries (raw inserts, as an older
AccessGuard left them), upgrades it to head (migration 0005 chains every entry, streamed),
then times File > Check database's chain walk (with the search-index comparison) and
appending 1,000 entries through ``audit.write_entries`` (the head lookup is one seek).

    .venv/bin/python bench/bench_audit_chain.py [--entries 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine

from accessguard_gui.core import audit, integrity, schema
from accessguard_gui.core.database import Database


def build_0004(path: Path, entries: int) -> None:
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        schema.upgrade(conn, "0004")
    engine.dispose()
    conn = sqlite3.connect(path, isolation_level=None)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO audit_log (at, operator, action, operation, record_type, record_key, "
        "before, after) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (
                (start + timedelta(seconds=i)).strftime("%Y-%m-%d %H:%M:%S.%f"),
                f"operator{i % 50}",
                "Save changes",
                "update",
                "user",
                f"user{i:07d}",
                '{"display_name": "Old name"}',
                '{"display_name": "New name"}',
            )
            for i in range(entries)
        ),
    )
    conn.execute("COMMIT")
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="build the file here and keep it")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="ag-chain-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"chain-{args.entries}.db"
    for leftover in folder.glob(path.name + "*"):
        leftover.unlink()

    start = time.perf_counter()
    build_0004(path, args.entries)
    print(f"built 0004 file with {args.entries:,} entries: {time.perf_counter() - start:.1f} s")

    start = time.perf_counter()
    db = Database(path, operator="bench")
    print(f"upgrade to {schema.SCHEMA_HEAD} (chains every entry): {time.perf_counter() - start:.1f} s")

    slices: list[float] = []
    last = [time.perf_counter()]

    def progress(done: int, total: int) -> bool:
        now = time.perf_counter()
        if done:
            slices.append(now - last[0])
        last[0] = now
        return True

    start = time.perf_counter()
    report = integrity.verify_audit_chain(db, progress=progress)
    took = time.perf_counter() - start
    print(f"verify chain + search index: {took:.1f} s ({took / max(1, report.entries) * 1e6:.1f} "
          f"\u00b5s/entry), longest slice of {integrity.SLICE:,}: {max(slices or [0]) * 1000:.0f} ms")
    print("  " + report.summary())

    rows = [
        {"operator": "bench", "action": "Import", "operation": "insert", "record_type": "user",
         "record_key": f"new{i}", "before": None, "after": "{}"}
        for i in range(1000)
    ]
    start = time.perf_counter()
    with db.action("Bench append") as session:
        audit.write_entries(session.connection(), rows)
    print(f"append 1,000 chained entries: {(time.perf_counter() - start) * 1000:.0f} ms")

    start = time.perf_counter()
    found = integrity.schema_findings(db)
    first = time.perf_counter() - start
    start = time.perf_counter()
    integrity.schema_findings(db)
    print(f"schema objects check: first {first * 1000:.0f} ms (builds the expected list), "
          f"then {(time.perf_counter() - start) * 1000:.1f} ms; findings: {len(found)}")
    print(f"peak memory (RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    db.close()


if __name__ == "__main__":
    main()
