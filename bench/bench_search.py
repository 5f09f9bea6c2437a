"""Picker and completer searches at scale (issue 12, item 3): one substring behaviour over
username, display name and e-mail, role and resource names and descriptions, and
"resource: action". Prints the median milliseconds per search; asserts nothing about time.

Usage: .venv/bin/python bench/bench_search.py [bench/data/1m.db] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_core import database_for  # noqa: E402

from accessguard_gui.core import lookup  # noqa: E402
from accessguard_gui.core.database import Database  # noqa: E402

TERMS: dict[str, tuple[Callable[[Any, str], list[Any]], tuple[str, ...]]] = {
    "search_users": (
        lookup.search_users,
        ("a", "schulz", "walker", "zz", "q_", "corp.example", "hannah.w", "nosuchperson", "50%"),
    ),
    "suggest_users": (lookup.suggest_users, ("sch", "lopez", "@corp", "xq")),
    "search_roles": (lookup.search_roles, ("adm", "ff", "nothing-like-this")),
    "search_resources": (lookup.search_resources, ("doc", "zz")),
    "search_permissions": (lookup.search_permissions, ("read", "doc: wr", "zzz")),
}


def median_ms(fn: Callable[[], Any], runs: int) -> tuple[float, int]:
    times = []
    found = 0
    for _ in range(runs):
        start = time.perf_counter()
        found = len(fn())
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), found


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "db", nargs="?", help="a database file (default: the shared generated 1M-user file)"
    )
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    # The shared generated file, built (or rebuilt at the newest schema) by bench_core:
    # the old message pointed at a bench/make_data.py that does not exist.
    args.db = args.db or str(database_for(1_000_000))
    if not Path(args.db).exists():
        print(f"{args.db} not found")
        return 1
    db = Database(args.db, read_only=True)
    with db.read() as s:
        for name, (fn, terms) in TERMS.items():
            for term in terms:
                ms, found = median_ms(lambda fn=fn, term=term: fn(s, term), args.runs)
                print(f"{name:20} {term!r:18} {ms:9.1f} ms  {found:4} found")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
