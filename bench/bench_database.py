"""What opening, checking and backing up a database file costs, by file size.

Opening runs PRAGMA quick_check on files up to QUICK_CHECK_LIMIT (64 MiB) and only the
cheap header checks above it; "Check database" (integrity + foreign keys) and
"Back up database" (online backup API) run on demand. This prints each cost.

    .venv/bin/python bench/bench_database.py [--users 20000 100000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from accessguard_gui.core import sqlite_files
from accessguard_gui.core.database import Database
from accessguard_gui.core.generate import generate


def timed(fn, repeat: int = 5) -> float:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def open_close(path: Path) -> None:
    Database(path).close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--keep", type=Path, help="build the files here and keep them")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="ag-bench-db-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"quick_check limit on open: {sqlite_files.QUICK_CHECK_LIMIT / 2**20:.0f} MiB")
    print(
        f"{'users':>9} {'file MiB':>9} {'open ms':>9} {'open, no check ms':>18} "
        f"{'check() s':>10} {'backup_to s':>12}"
    )
    for users in args.users:
        path = folder / f"bench-{users}.db"
        if not path.exists():
            generate(
                path,
                users=users,
                roles=max(50, users // 500),
                resources=max(100, users // 200),
                permissions=max(400, users // 50),
            )
        size = path.stat().st_size
        opened = timed(lambda p=path: open_close(p))
        limit = sqlite_files.QUICK_CHECK_LIMIT
        sqlite_files.QUICK_CHECK_LIMIT = 0
        try:
            unchecked = timed(lambda p=path: open_close(p))
        finally:
            sqlite_files.QUICK_CHECK_LIMIT = limit
        with Database(path) as db:
            checked = timed(lambda: db.check(), repeat=1)
            copy = folder / f"bench-{users}.backup"

            def backup(db: Database = db, copy: Path = copy) -> None:
                db.backup_to(copy, overwrite=True)

            backed = timed(backup, repeat=1)
        copy.unlink(missing_ok=True)
        print(
            f"{users:>9,} {size / 2**20:>9.1f} {opened * 1000:>9.1f} {unchecked * 1000:>18.1f} "
            f"{checked:>10.2f} {backed:>12.2f}"
        )


if __name__ == "__main__":
    main()
