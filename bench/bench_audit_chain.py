"""What the tamper-evident audit trail costs: chaining on upgrade, verifying, appending.

Builds a file at schema 0004 holding N audit entries (raw inserts, as an older
AccessGuard left them), upgrades it to head (migration 0005 chains every entry, streamed),
then times File > Check database's chain walk (with the search-index comparison) and
appending 1,000 entries through ``audit.write_entries`` (the head lookup is one seek).

    .venv/bin/python bench/bench_audit_chain.py [--entries 1000000] [--keep DIR] [--gui]

--gui also runs File > Check database's dialog (offscreen) on the file and prints the gaps
of a 10 ms GUI timer meanwhile: how long the GUI thread waited while the walk ran.
"""

from __future__ import annotations

import argparse
import resource
import shutil
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


def gui_gaps(path: Path) -> None:
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from accessguard_gui.ui.check_dialog import CheckDialog

    app = QApplication.instance() or QApplication([])
    db = Database(path, read_only=True)
    dialog = CheckDialog(db)
    dialog.show()
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(10)
    start = time.perf_counter()
    dialog.start()
    while dialog.outcome is None:
        app.processEvents()
        time.sleep(0.002)
    took = time.perf_counter() - start
    gaps.sort()
    print(f"Check database dialog: {took:.1f} s; 10 ms GUI timer gaps: median "
          f"{gaps[len(gaps) // 2] * 1000:.0f} ms, p99 {gaps[int(len(gaps) * 0.99)] * 1000:.0f} ms, "
          f"max {gaps[-1] * 1000:.0f} ms")
    dialog.close()
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="build the file here and keep it")
    parser.add_argument("--gui", action="store_true", help="also time the GUI's waits")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="ag-chain-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"chain-{args.entries}.db"
    for leftover in folder.glob(path.name + "*"):
        leftover.unlink()
    original = folder / f"chain-{args.entries}-0004.db"  # kept with --keep: built once
    if not original.exists():
        start = time.perf_counter()
        build_0004(original, args.entries)
        took = time.perf_counter() - start
        print(f"built 0004 file with {args.entries:,} entries: {took:.1f} s")
    shutil.copyfile(original, path)

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
    print(f"schema objects check: first {first * 1000:.0f} ms (loads the shipped list), "
          f"then {(time.perf_counter() - start) * 1000:.1f} ms; findings: {len(found)}")
    print(f"peak memory (RSS, with the file's mmap): "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    db.close()
    if args.gui:
        gui_gaps(path)


if __name__ == "__main__":
    main()
