"""Type-ahead in a table at scale (issue 12, item 1): typing in the users table jumps to
the first row whose sorted column starts with the typed text, as one keyset seek per
spelling and one count in SQL (core/type_ahead.py) — never a walk over the rows.

Prints the median milliseconds per jump (the seek and the row number together) for
prefixes early, late and absent in the order, in both directions, with a search and on
a plain-text column; asserts nothing about time.

Usage: .venv/bin/python bench/bench_type_ahead.py [bench/data/1m.db] [--runs 5]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_core import read_only_database_arg  # noqa: E402

from accessguard_gui.core import browse  # noqa: E402
from accessguard_gui.core.type_ahead import first_with_prefix  # noqa: E402

USERS = browse.USERS
BY_NAME = USERS.default_query()
CASES: tuple[tuple[str, browse.BrowseQuery, str], ...] = (
    ("username asc", BY_NAME, "a"),
    ("username asc", BY_NAME, "m"),
    ("username asc", BY_NAME, "zo"),
    ("username asc", BY_NAME, "zzzz"),
    ("username desc", BY_NAME.sorted_by("username", True), "a"),
    ("username desc", BY_NAME.sorted_by("username", True), "m"),
    ("display name asc", BY_NAME.sorted_by("display_name"), "ma"),
    ("display name asc", BY_NAME.sorted_by("display_name"), "zy"),
    ("e-mail asc", BY_NAME.sorted_by("email"), "w"),
    ("active users", BY_NAME.filtered(active=True), "t"),
    ("searching 'son'", BY_NAME.searching("son"), "w"),
)


def main() -> int:
    opened = read_only_database_arg(__doc__ or "")
    if opened is None:
        return 1
    db, args = opened
    with db.read() as s:
        total = browse.count(s, USERS)
        print(f"{total:,} users in {args.db}")
        for title, query, prefix in CASES:
            times = []
            row: int | None = None
            for _ in range(args.runs):
                start = time.perf_counter()
                row = first_with_prefix(s, USERS, query, prefix)
                times.append((time.perf_counter() - start) * 1000)
            where = "not found" if row is None else f"row {row + 1:>9,}"
            print(f"{title:18} {prefix!r:8} {statistics.median(times):8.1f} ms  {where}")
    db.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
