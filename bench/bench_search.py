"""Picker and completer searches at scale (issue 12, item 3): one substring behaviour over
username, display name and e-mail, role and resource names and descriptions, and
"resource: action". Prints the median milliseconds per search; asserts nothing about time.

Usage: .venv/bin/python bench/bench_search.py [bench/data/1m.db] [--runs 5]
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_core import read_only_database_arg  # noqa: E402

from accessguard_gui.core import lookup  # noqa: E402

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
    opened = read_only_database_arg(__doc__ or "")
    if opened is None:
        return 1
    db, args = opened
    with db.read() as s:
        for name, (fn, terms) in TERMS.items():
            for term in terms:
                ms, found = median_ms(lambda fn=fn, term=term: fn(s, term), args.runs)
                print(f"{name:20} {term!r:18} {ms:9.1f} ms  {found:4} found")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
