"""Saving pending edits through the window's save path: 1,000 edits in one transaction.

On a copy of the generated 100k / 1M-user file (bench/data/, never changed), pushes N
``Update`` edits (display names of N users), N ``Create`` edits (new users) and N
``Delete`` edits into a PendingStore and times ``ui.saving.save_pending`` — one
``db.action``, the RBAC rules, audit entries, one commit. Also times the same row changes
as bare ``executemany`` UPDATE/INSERT/DELETE in sqlite3 (no rules, no audit) for scale.
Target (shared/guide/performance.md): saving 1,000 pending edits < 200 ms.

    .venv/bin/python bench/bench_save.py                  # 100k, N = 1000
    .venv/bin/python bench/bench_save.py --sizes 100000 1000000 --edits 1000
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import database_for  # noqa: E402

from accessguard_gui.core import rbac  # noqa: E402
from accessguard_gui.core.changes import Create, Delete, Edit, Entity, Update  # noqa: E402
from accessguard_gui.core.database import Database  # noqa: E402
from accessguard_gui.core.keys import name_key  # noqa: E402
from accessguard_gui.ui.pending import PendingStore  # noqa: E402
from accessguard_gui.ui.saving import save_pending  # noqa: E402


def _users(db: Database, count: int, offset: int) -> list[tuple[int, int, str]]:
    with db.read() as s:
        rows = s.execute(
            rbac.select(rbac.User.id, rbac.User.version, rbac.User.username)
            .order_by(rbac.User.id)
            .offset(offset)
            .limit(count)
        ).all()
    return [(r[0], r[1], r[2]) for r in rows]


def _timed_save(db: Database, edits: list[Edit]) -> float:
    store = PendingStore()
    store.push_many(edits)
    start = time.perf_counter()
    outcome = save_pending(db, store)
    elapsed = time.perf_counter() - start
    assert outcome.ok, outcome.error
    return elapsed * 1000


def _bare(path: Path, sql: str, rows: list[tuple[object, ...]]) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
        return (time.perf_counter() - start) * 1000
    finally:
        conn.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--edits", type=int, default=1000)
    args = parser.parse_args(argv)
    n = args.edits
    for users in args.sizes:
        source = database_for(users)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "copy.db"
            shutil.copyfile(source, path)
            db = Database(path, create=False, operator="bench")
            try:
                targets = _users(db, n, 0)
                updates: list[Edit] = [
                    Update(Entity.USER, i, v, {"display_name": f"Renamed {u}"}, u)
                    for i, v, u in targets
                ]
                creates: list[Edit] = [
                    Create(Entity.USER, {"username": f"bench.new{k}", "active": True})
                    for k in range(n)
                ]
                deletes: list[Edit] = [
                    Delete(Entity.USER, i, v, u) for i, v, u in _users(db, n, 2 * n)
                ]
                t_upd = _timed_save(db, updates)
                t_new = _timed_save(db, creates)
                t_del = _timed_save(db, deletes)
            finally:
                db.close()
            bare_upd = _bare(
                path, "UPDATE users SET display_name = ? WHERE id = ?",
                [(f"Again {u}", i) for i, _v, u in targets],
            )
            bare_new = _bare(
                path,
                # username_key is the stored NFC + casefold key names are unique by
                # (core/keys.py): without it every row clashed on the same empty key.
                "INSERT INTO users(username, username_key, display_name, active, created_at, "
                "updated_at, version) VALUES (?, ?, ?, 1, '2026-01-01', '2026-01-01', 1)",
                [(f"bare.new{k}", name_key(f"bare.new{k}"), f"bare.new{k}") for k in range(n)],
            )
        print(
            f"{users:>9,} users, {n:,} edits in one save: "
            f"updates {t_upd:.0f} ms, creates {t_new:.0f} ms, deletes {t_del:.0f} ms "
            f"(bare sqlite3 executemany: updates {bare_upd:.0f} ms, inserts {bare_new:.0f} ms; "
            f"ratio {t_upd / bare_upd:.0f}x / {t_new / bare_new:.0f}x)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
