"""Role mining on the HP Labs data sets (Ene et al., SACMAT 2008): roles found vs the
published minimum, time, and an exactness check.

    .venv/bin/python bench/bench_role_mining.py FOLDER [NAME ...]

FOLDER holds the data sets as "user permission" lines (e.g. the ``datasets`` folder of
the public repository carblu/pucc-idf: healthcare is ``hc.txt``, firewall 1/2 are
``fire1.txt``/``fire2.txt``). Nothing is downloaded here and nothing is committed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from accessguard_gui.core.governance.mining import mine, verify

# Minimum role counts published by Ene et al. (basic role minimization).
OPTIMUM = {
    "hc": 14,
    "domino": 20,
    "emea": 34,
    "fire1": 64,
    "fire2": 10,
    "apj": 453,
    "americas_small": 178,
    "americas_large": 398,
    "customer": 276,
}


def load(path: Path) -> dict[str, set[str]]:
    users: dict[str, set[str]] = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2:
            users.setdefault(parts[0], set()).add(parts[1])
    return users


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    folder = Path(argv[0])
    names = argv[1:] or list(OPTIMUM)
    print(f"{'data set':<16}{'users':>7}{'perms':>8}{'edges':>8}{'roles':>7}{'optimum':>9}"
          f"{'over':>8}{'exact':>7}{'seconds':>9}  check")
    worst = 0.0
    for name in names:
        path = folder / f"{name}.txt"
        if not path.exists():
            print(f"{name:<16}missing: {path}")
            continue
        data = load(path)
        start = time.perf_counter()
        result = mine(data)
        seconds = time.perf_counter() - start
        ok = verify(data, result)
        best = OPTIMUM.get(name)
        over = (len(result.roles) - best) / best * 100 if best else float("nan")
        worst = max(worst, over)
        print(f"{name:<16}{result.users:>7,}{result.permissions:>8,}{result.edges:>8,}"
              f"{len(result.roles):>7,}{best or 0:>9,}{over:>7.1f}%{result.exact:>7,}{seconds:>9.2f}"
              f"  {'exact cover' if ok else 'WRONG'}", flush=True)
    print(f"worst: {worst:.1f}% above the published minimum")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
