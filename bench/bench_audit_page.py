"""What the readable audit page costs at scale: first page, count, a date range, and the
per-row words (``core/audit_text``) for one page — the only rows ever put in words.

Builds a file at head with N audit entries (raw inserts, as bench_audit_chain does, then
upgraded so 0005 chains them and 0008 adds the reason column), then times:

- the first page (256 rows) and the count of the audit page, newest first;
- the same with a From/To date range of one day in the middle of the trail;
- putting a page in words: time and "field: old → new" for its 256 rows (what the
  delegates do for the painted rows; a screen shows ~30).

    .venv/bin/python bench/bench_audit_page.py [--entries 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine

from accessguard_gui.core import audit_text, browse, schema
from accessguard_gui.core.database import Database

START = datetime(2025, 1, 1, tzinfo=UTC)


def build(path: Path, entries: int) -> None:
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        schema.upgrade(conn, "0004")
    conn_raw = sqlite3.connect(path, isolation_level=None)
    conn_raw.execute("BEGIN")
    conn_raw.executemany(
        "INSERT INTO audit_log (at, operator, action, operation, record_type, record_key, "
        "before, after) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (
                (START + timedelta(seconds=30 * i)).strftime("%Y-%m-%d %H:%M:%S.%f"),
                f"operator{i % 50}",
                "Save 4 changes",
                "update",
                "user",
                f"user{i:07d}",
                '{"active": true, "display_name": "Old name", "email": null}',
                '{"active": false, "display_name": "New name", "email": "a@example.org"}',
            )
            for i in range(entries)
        ),
    )
    conn_raw.execute("COMMIT")
    conn_raw.close()
    with engine.begin() as conn:
        schema.upgrade(conn, "head")
    engine.dispose()


def timed(label: str, fn: object) -> object:
    began = time.perf_counter()
    result = fn()  # type: ignore[operator]
    print(f"{label:<44} {1000 * (time.perf_counter() - began):9.1f} ms")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp())
    path = folder / "audit_page.db"
    if not path.exists():
        began = time.perf_counter()
        build(path, args.entries)
        print(f"built {args.entries:,} entries in {time.perf_counter() - began:.1f} s")
    db = Database(path, read_only=True)
    spec = browse.AUDIT
    query = spec.default_query()
    middle = START + timedelta(seconds=30 * args.entries // 2)
    day = query.filtered(at__from=middle, at__until=middle + timedelta(days=1))
    try:
        with db.read() as s:
            rows = timed("first page, newest first", lambda: browse.fetch_page(s, spec, query))
            timed("count", lambda: browse.count(s, spec, query))
            timed("first page, one day's range", lambda: browse.fetch_page(s, spec, day))
            n = timed("count, one day's range", lambda: browse.count(s, spec, day))
        print(f"  ({n:,} entries in that day)")
        assert isinstance(rows, list)
        at = browse.FIRST_CELL + len(spec.columns) + spec.raw_columns.index(spec.index_of("at"))
        summary = browse.FIRST_CELL + spec.index_of("summary")

        def words() -> list[tuple[str, str]]:
            return [
                (audit_text.time_text(row[at]), audit_text.summary_text(row[summary]))
                for row in rows
            ]

        shown = timed(f"words for one page ({len(rows)} rows)", words)
        assert isinstance(shown, list)
        print(f"  e.g. {shown[0][0]} | {shown[0][1]}")
    finally:
        db.close()
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
