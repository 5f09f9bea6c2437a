"""Saving pending edits through the window's save path: 1,000 edits in one transaction.

On a copy of the generated 100k / 1M-user file (bench/data/, never changed), pushes N
``Update`` edits (display names of N users), N ``Create`` edits (new users) and N
``Delete`` edits into a PendingStore and times ``ui.saving.save_pending`` — one
``db.action``, the RBAC rules, audit entries, one commit. Target
(shared/guide/performance.md): saving 1,000 pending edits < 200 ms.

For scale, the same row changes (new version and update time, name key and look-alike
skeleton of a new user, assignments removed with a user) without rules or audit
entries, in sqlite3 on copies of the same file in the same state, with the app's pragmas
(WAL, synchronous=FULL, foreign keys, 64 MB cache, mmap, and no WAL checkpoint inside
the commit — the app runs it afterwards on a thread, core/checkpoints.py; ``--profile``
prints how long it took). Two ways: ``executemany`` of one statement per row, and
set-based — one UPDATE … FROM (VALUES …), one multi-row INSERT, one DELETE … IN per
table. The users table carries an FTS5 search index kept by triggers, and FTS5 writes to
the file at every statement: the set-based form is what a competent hand-written apply
of this schema does, and the fairer floor (the executemany column is what the app did
before).

    .venv/bin/python bench/bench_save.py                  # 100k, N = 1000
    .venv/bin/python bench/bench_save.py --sizes 100000 1000000 --edits 1000
    .venv/bin/python bench/bench_save.py --signed-in   # the file requires sign-in

``--signed-in``: the app's copy requires sign-in (core/operators.py) and the saves run as
a signed-in administrator, so every record changed is checked against the operator's
rights (the set-based path checks its runs row by row, core/edit_batches.py). Set up
before the clock runs: AccessGuard's own resource, permissions and administrators' role,
one operator with a password, sign-in required, and the sign-in itself.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import database_for  # noqa: E402
from sqlalchemy import event  # noqa: E402

from accessguard_gui.core import changes, operators, rbac  # noqa: E402
from accessguard_gui.core.changes import Create, Delete, Edit, Entity, Update  # noqa: E402
from accessguard_gui.core.database import Database  # noqa: E402
from accessguard_gui.core.keys import name_key  # noqa: E402
from accessguard_gui.core.lookalike import skeleton_key  # noqa: E402
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


_OPERATOR, _PASSWORD = "bench.operator", "bench operator password 1"


def _require_sign_in(db: Database) -> None:
    """Make ``db`` require sign-in and sign in an administrator (outside the timings)."""
    with db.action("Set up operators") as s:
        rbac.add_user(s, _OPERATOR, password=_PASSWORD)
        changes.apply_edits(s, operators.setup_edits(s, _OPERATOR))
        changes.apply_edits(s, [operators.SetSignInRequired(True)])
    db.sign_in(_OPERATOR, _PASSWORD)
    assert db.access.enforced and db.access.may(operators.AppAction.ADMINISTER)


def _fresh_copy(source: Path, folder: Path, number: int) -> Path:
    path = folder / f"copy{number}.db"
    shutil.copyfile(source, path)
    # On disk before the clock runs, as a user's file is: else the first commit's fsync
    # (or checkpoint) also writes back the whole fresh copy.
    with path.open("rb+") as copy:
        os.fsync(copy.fileno())
    return path


class _Statements:
    """``--profile``: the time of every statement a save sends (SQLAlchemy's cursor
    events on the app's engine), COMMIT included, and what is left (Python)."""

    def __init__(self, db: Database) -> None:
        self.taken: list[tuple[float, str]] = []
        self._start = 0.0
        engine = db._engine  # noqa: SLF001 - a benchmark looks inside
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        self._orig_commit = engine.dialect.do_commit

        def do_commit(connection: Any) -> None:
            start = time.perf_counter()
            self._orig_commit(connection)
            self.taken.append(((time.perf_counter() - start) * 1000, "COMMIT"))

        engine.dialect.do_commit = do_commit  # type: ignore[method-assign,assignment]

    def _before(self, *_: object) -> None:
        self._start = time.perf_counter()

    def _after(self, _conn: object, _cursor: object, statement: str, *_: object) -> None:
        words = " ".join(statement.split())
        self.taken.append(((time.perf_counter() - self._start) * 1000, words[:60]))

    def report(self, total: float) -> str:
        spent = sum(t for t, _ in self.taken)
        big = sorted(self.taken, reverse=True)[:6]
        lines = [f"      {t:6.1f} ms  {what}" for t, what in big]
        lines.append(f"      {total - spent:6.1f} ms  the rest (Python: checks, audit entries)")
        self.taken.clear()
        return "\n".join(lines)


def _timed_save(db: Database, edits: list[Edit], profile: _Statements | None = None) -> float:
    store = PendingStore()
    store.push_many(edits)
    if profile is not None:
        profile.taken.clear()
    start = time.perf_counter()
    outcome = save_pending(db, store)
    elapsed = (time.perf_counter() - start) * 1000
    assert outcome.ok, outcome.error
    # The WAL checkpoint runs after the save on its own thread (core/checkpoints.py):
    # waited for here, outside the save's time, so that it does not overlap the next.
    start = time.perf_counter()
    checkpoints = getattr(db, "_checkpoints", None)  # core/checkpoints.py
    if checkpoints is not None:
        checkpoints.wait_idle()
    after = (time.perf_counter() - start) * 1000
    if profile is not None:
        print(
            f"    {edits[0].describe()} …: {elapsed:.0f} ms, then {after:.0f} ms of WAL "
            f"checkpoint off the save\n{profile.report(elapsed)}"
        )
    return elapsed


def _bare(path: Path, work: Callable[[sqlite3.Connection], object]) -> float:
    """``work`` in one transaction on a fresh sqlite3 connection set up like the app's."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in (
            "foreign_keys=ON",
            "synchronous=FULL",
            # As the app (core/checkpoints.py): no WAL checkpoint inside the commit.
            "wal_autocheckpoint=0",
            "cache_size=-65536",
            "mmap_size=268435456",
            "temp_store=MEMORY",
        ):
            conn.execute(f"PRAGMA {pragma}")
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        work(conn)
        conn.execute("COMMIT")
        return (time.perf_counter() - start) * 1000
    finally:
        conn.close()


# The same row changes the app makes: a new display name steps the version and the
# update time; a new user has its name key and look-alike skeleton (core/keys.py,
# core/lookalike.py), computed before the clock runs.
_NOW = "2026-11-30 12:00:00.000000"
_INSERT_USER = (
    "INSERT INTO users(username, username_key, username_skeleton, display_name, active, "
    "created_at, updated_at, version)"
)
_UPDATE_NAMES = (
    "UPDATE users SET display_name = v.column2, version = version + 1, updated_at = ? "
    "FROM (VALUES {values}) AS v WHERE users.id = v.column1"
)


def _rows_sql(count: int, width: int) -> str:
    return ",".join(["(" + ",".join("?" * width) + ")"] * count)


def _flat(rows: Sequence[tuple[object, ...]]) -> list[object]:
    return [value for row in rows for value in row]


def _parts(rows: Sequence[tuple[object, ...]], width: int) -> list[Sequence[tuple[object, ...]]]:
    """Slices of ``rows`` that fit SQLite's default limit of 32,766 bound parameters."""
    per = 32766 // width
    return [rows[at : at + per] for at in range(0, len(rows), per)]


def _bare_updates(path: Path, rows: list[tuple[str, int]], set_based: bool) -> float:
    if not set_based:
        return _bare(
            path,
            lambda c: c.executemany(
                "UPDATE users SET display_name = ?, version = version + 1, updated_at = ? "
                "WHERE id = ?",
                [(name, _NOW, i) for name, i in rows],
            ),
        )

    def work(c: sqlite3.Connection) -> None:
        for part in _parts([(i, name) for name, i in rows], 2):
            sql = _UPDATE_NAMES.format(values=_rows_sql(len(part), 2))
            c.execute(sql, [_NOW, *_flat(part)])

    return _bare(path, work)


def _bare_inserts(path: Path, prefix: str, n: int, set_based: bool) -> float:
    # username_key is UNIQUE (migration 0004): without it every row clashed on ''.
    names = [f"{prefix}{k}" for k in range(n)]
    rows = [(u, name_key(u), skeleton_key(u), u, 1, _NOW, _NOW, 1) for u in names]
    if not set_based:
        sql = f"{_INSERT_USER} VALUES ({_rows_sql(1, 8)[1:-1]})"
        return _bare(path, lambda c: c.executemany(sql, rows))

    def work(c: sqlite3.Connection) -> None:
        for part in _parts(rows, 8):
            c.execute(f"{_INSERT_USER} VALUES {_rows_sql(len(part), 8)}", _flat(part))

    return _bare(path, work)


def _bare_deletes(path: Path, ids: list[int], set_based: bool) -> float:
    def work(c: sqlite3.Connection) -> None:
        if set_based:
            for part in _parts([(i,) for i in ids], 1):
                marks = ",".join("?" * len(part))
                c.execute(f"DELETE FROM user_roles WHERE user_id IN ({marks})", _flat(part))
                c.execute(f"DELETE FROM users WHERE id IN ({marks})", _flat(part))
        else:
            c.executemany("DELETE FROM user_roles WHERE user_id = ?", [(i,) for i in ids])
            c.executemany("DELETE FROM users WHERE id = ?", [(i,) for i in ids])

    return _bare(path, work)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--edits", type=int, default=1000)
    parser.add_argument(
        "--profile", action="store_true", help="print the slowest statements of each save"
    )
    parser.add_argument(
        "--signed-in",
        action="store_true",
        help="the app's copy requires sign-in: saves run as a signed-in administrator",
    )
    args = parser.parse_args(argv)
    n = args.edits
    for users in args.sizes:
        source = database_for(users)
        with tempfile.TemporaryDirectory() as tmp:
            # Three copies in the same state, each met by a fresh connection: the app,
            # the set-based bare apply, the executemany one (ran one after the other on
            # one copy, the later ones found the pages the earlier ones had read).
            path, bare_set, bare_many = (_fresh_copy(source, Path(tmp), k) for k in range(3))
            db = Database(path, create=False, operator="bench")
            try:
                if args.signed_in:
                    _require_sign_in(db)
                targets = _users(db, n, 0)
                doomed = _users(db, n, 2 * n)
                updates: list[Edit] = [
                    Update(Entity.USER, i, v, {"display_name": f"Renamed {u}"}, u)
                    for i, v, u in targets
                ]
                creates: list[Edit] = [
                    Create(Entity.USER, {"username": f"bench.new{k}", "active": True})
                    for k in range(n)
                ]
                deletes: list[Edit] = [Delete(Entity.USER, i, v, u) for i, v, u in doomed]
                profile = _Statements(db) if args.profile else None
                t_upd = _timed_save(db, updates, profile)
                t_new = _timed_save(db, creates, profile)
                t_del = _timed_save(db, deletes, profile)
            finally:
                db.close()
            renamed = [(f"Renamed {u}", i) for i, _v, u in targets]
            gone = [i for i, _v, _u in doomed]
            bare = {
                "updates": (
                    _bare_updates(bare_many, renamed, False),
                    _bare_updates(bare_set, renamed, True),
                ),
                "creates": (
                    _bare_inserts(bare_many, "bench.new", n, False),
                    _bare_inserts(bare_set, "bench.new", n, True),
                ),
                "deletes": (
                    _bare_deletes(bare_many, gone, False),
                    _bare_deletes(bare_set, gone, True),
                ),
            }
        app = {"updates": t_upd, "creates": t_new, "deletes": t_del}
        signed = ", signed in (operators enforced)" if args.signed_in else ""
        print(f"{users:>9,} users, {n:,} edits in one save{signed} (ms):")
        for kind, took in app.items():
            many, single = bare[kind]
            print(
                f"  {kind:<8} app {took:6.0f}   bare sqlite3: executemany {many:6.0f}, "
                f"set-based {single:6.0f}   app / set-based {took / single:4.1f}x"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
