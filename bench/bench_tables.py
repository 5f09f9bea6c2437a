"""Cost of browsing the users table: our RecordTableModel next to raw sqlite3 and QSqlTableModel.

For a 100k-user and a 1M-user generated database (built into bench/data/ on first run and
reused after), prints the median time of

- first page shown: model created, set on a 1200x800 table set up as the main window's
  page sets it up (ui/table_page.table_view: its delegate, fixed row height, no vertical
  header; QSqlTableModel's QTableView gets the same rows), painted (``grab()``),
- sort by another column (display name, descending), first page,
- search, first page: a prefix of usernames, a substring in the middle of names, a term
  matching every row, a 2-character term (a search the trigram index cannot narrow shows
  its first page at once and is counted slice by slice from idle time: that total is
  printed below it, next to one count(*) in sqlite3),
- jump to row 500,000 (or the middle): the page loaded by a keyset seek, and loaded + painted,
- peak memory after scrolling the whole table (in a fresh process each), above the empty
  window,

through our model, through raw ``sqlite3`` running *the same SQL statements* the model ran
(recorded while it ran), and through Qt's ``QSqlTableModel`` (QSQLITE, read-only) on the
same file, in the same run, with the ratios. Targets (shared/guide/performance.md): first
page <= 1.0x QSqlTableModel; sort/search <= 1.2x sqlite3 of the same query; jump <= 2 ms,
flat in table size; memory after scrolling < 100 MiB above the empty window.

    .venv/bin/python bench/bench_tables.py                 # both sizes
    .venv/bin/python bench/bench_tables.py --sizes 100000  # one size
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_core import database_for  # the shared generated files
from PySide6.QtCore import Qt
from PySide6.QtSql import QSqlDatabase, QSqlQuery, QSqlTableModel
from PySide6.QtWidgets import QApplication, QHeaderView, QTableView

from accessguard_gui.core import browse
from accessguard_gui.core.database import Database
from accessguard_gui.ui.table_model import PAGE_SIZE, RecordTableModel
from accessguard_gui.ui.table_page import PAGES, table_view

DATA = ROOT / "bench" / "data"
WIDTH, HEIGHT = 1200, 800
SEARCHES = {
    "prefix": "anna.berg",  # starts usernames and e-mails
    "substring": "berg",  # inside names
    "dense": "example",  # every e-mail: all rows match
    "short": "q",  # two characters or fewer: LIKE
}
SHOWN_COLUMNS = ("username", "display_name", "email", "active", "created_at", "updated_at")


# ---------------------------------------------------------------------- measuring


def median_ms(fn: Callable[[], Any], repeat: int = 7, setup: Callable[[], Any] | None = None) -> float:
    return trio(fn, None, None, repeat=repeat, setup=setup)[0]  # type: ignore[return-value]


def trio(
    ours: Callable[[], Any],
    raw: Callable[[], Any] | None,
    qsql: Callable[[], Any] | None,
    *,
    repeat: int = 9,
    setup: Callable[[], Any] | None = None,
) -> tuple[float, float | None, float | None]:
    """Median ms of each, run interleaved (ours, sqlite3, QSqlTM, ours, …) so that load
    from other processes on a shared machine hits all three alike."""
    times: list[list[float]] = [[], [], []]
    for _ in range(repeat):
        for slot, fn in enumerate((ours, raw, qsql)):
            if fn is None:
                continue
            if setup is not None and slot == 0:
                setup()
            gc.collect()
            start = time.perf_counter()
            fn()
            times[slot].append((time.perf_counter() - start) * 1000)
    return tuple(statistics.median(t) if t else None for t in times)  # type: ignore[return-value]


def rss_mib() -> dict[str, float]:
    """RSS figures of this process in MiB: VmRSS (now), VmHWM (peak), RssAnon (now:
    memory of our own, without pages of the database file mapped by SQLite's mmap)."""
    fields = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return {k: int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM", "RssAnon")}


@contextmanager
def on_this_thread(model: RecordTableModel) -> Iterator[None]:
    """The model reads inline while its SQL is recorded: only the statements of the
    action itself (no page or anchor read of a worker running meanwhile)."""
    saved = model.background_rows
    model.background_rows = 1 << 62
    model._start_count = lambda: None  # type: ignore[method-assign] # the first page only
    try:
        yield
    finally:
        model.background_rows = saved
        del model._start_count


class Recorder:
    """Records the SQL the model runs (expanded, with its values) to replay it in sqlite3."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self._orig = browse._run

    def __enter__(self) -> Recorder:  # noqa: PYI034
        orig = self._orig
        statements = self.statements

        def run(session: Any, key: Any, build: Any, params: Any, **kw: Any) -> Any:
            raw = session.connection().connection.driver_connection
            raw.set_trace_callback(statements.append)
            try:
                return orig(session, key, build, params, **kw)
            finally:
                raw.set_trace_callback(None)

        browse._run = run  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        browse._run = self._orig  # type: ignore[assignment]


def raw_connection(path: Path) -> sqlite3.Connection:
    """sqlite3 with the app's read pragmas (the same page cache and mmap)."""
    conn = sqlite3.connect(path.as_uri() + "?mode=ro", uri=True)
    conn.execute("PRAGMA cache_size=-65536")
    conn.execute("PRAGMA mmap_size=268435456")
    conn.execute("PRAGMA temp_store=MEMORY")
    return conn


def replay(conn: sqlite3.Connection, statements: list[str]) -> Callable[[], None]:
    def run() -> None:
        conn.execute("BEGIN")
        for sql in statements:
            conn.execute(sql).fetchall()
        conn.execute("ROLLBACK")

    return run


def view_for(model: Any) -> QTableView:
    """QSqlTableModel's view, set up as the main window's table page sets up ours (same
    row height, alternating rows, no word wrap, no vertical header): the two paint the
    same number of rows the same way."""
    view = QTableView()
    view.resize(WIDTH, HEIGHT)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    rows = view.verticalHeader()
    rows.setVisible(False)
    rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    rows.setDefaultSectionSize(view.fontMetrics().height() + 8)
    view.setModel(model)
    return view


def ours_view(model: RecordTableModel) -> QTableView:
    """Our model in the table the main window's page builds (ui/table_page.table_view:
    its delegate included), showing the same columns as the QSqlTableModel view (no
    password column, which QSqlTableModel cannot derive from password_hash)."""
    view = table_view(PAGES[0], model)
    view.resize(WIDTH, HEIGHT)
    for i, col in enumerate(model.spec.columns):
        view.setColumnHidden(i, col.key not in SHOWN_COLUMNS)
    return view


def qsql_database(path: Path, name: str) -> QSqlDatabase:
    qdb = QSqlDatabase.addDatabase("QSQLITE", name)
    qdb.setDatabaseName(str(path))
    qdb.setConnectOptions("QSQLITE_OPEN_READONLY")  # never write through QSQLITE
    if not qdb.open():
        raise RuntimeError(qdb.lastError().text())
    for pragma in ("PRAGMA cache_size=-65536", "PRAGMA mmap_size=268435456"):
        QSqlQuery(pragma, qdb).finish()
    return qdb


def qsql_model(qdb: QSqlDatabase, sort: tuple[str, bool] | None = None,
               where: str = "") -> QSqlTableModel:
    model = QSqlTableModel(None, qdb)
    model.setTable("users")
    model.setEditStrategy(QSqlTableModel.EditStrategy.OnManualSubmit)
    if sort is not None:
        column, descending = sort
        model.setSort(model.fieldIndex(column),
                      Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder)
    if where:
        model.setFilter(where)
    model.select()
    return model


def qsql_view(model: QSqlTableModel) -> QTableView:
    view = view_for(model)
    record = model.record()
    for i in range(record.count()):
        if record.fieldName(i) not in SHOWN_COLUMNS:
            view.setColumnHidden(i, True)
    return view


# ---------------------------------------------------------------------- one size


def bench_size(users: int, app: QApplication) -> list[tuple[str, float, float | None, float | None]]:
    path = database_for(users)
    db = Database(path, read_only=True)
    conn = raw_connection(path)
    qdb = qsql_database(path, f"bench{users}")
    rows: list[tuple[str, float, float | None, float | None]] = []
    spec = browse.USERS
    name_col = spec.index_of("display_name")

    # --- first page shown and painted
    def ours_first() -> None:
        model = RecordTableModel(db, spec)
        view = ours_view(model)
        view.grab()

    def qsql_first() -> None:
        view = qsql_view(qsql_model(qdb))
        view.grab()

    ours_first(), qsql_first()  # warm the page cache and the compiled statements
    with Recorder() as rec:
        RecordTableModel(db, spec)
    rows.append(("first page shown (1200x800)",
                 *trio(ours_first, replay(conn, rec.statements), qsql_first, repeat=11)))

    # --- sort by display name, descending: the model's SQL work, then also painted
    model = RecordTableModel(db, spec)
    view = ours_view(model)
    view.grab()

    # Tables this large sort and search on a worker thread: timed until the first page
    # is there (``wait_shown``), as the user sees it.
    def reset_sort() -> None:
        model.sort(0, Qt.SortOrder.AscendingOrder)
        model.wait_shown()

    def ours_sort() -> None:
        model.sort(name_col, Qt.SortOrder.DescendingOrder)
        model.wait_shown()

    reset_sort()
    with Recorder() as rec, on_this_thread(model):
        ours_sort()
    rows.append(("sort by display name desc, first page",
                 *trio(ours_sort, replay(conn, rec.statements),
                       lambda: qsql_model(qdb, ("display_name", True)), setup=reset_sort)))
    rows.append(("  same, painted",
                 *trio(lambda: (ours_sort(), view.grab()), None,
                       lambda: qsql_view(qsql_model(qdb, ("display_name", True))).grab(),
                       setup=reset_sort)))

    # --- searches
    reset_sort()
    for label, term in SEARCHES.items():
        def ours_search(term: str = term) -> None:
            model.set_search(term)
            model.wait_shown()

        def clear() -> None:
            model.set_search("")
            model.wait_shown()

        clear()
        with Recorder() as rec, on_this_thread(model):
            ours_search()
        clear()
        ours_search()
        counting = model.is_counting()
        begin = time.perf_counter()
        model.finish_counting()
        counted_ms = (time.perf_counter() - begin) * 1000
        shown = model.counts()[0]
        like = "%" + term + "%"
        where = (f"username LIKE '{like}' OR display_name LIKE '{like}' OR email LIKE '{like}'")
        rows.append((f"search {label} '{term}' ({shown:,} rows), first page",
                     *trio(ours_search, replay(conn, rec.statements),
                           lambda where=where: qsql_model(qdb, ("username", False), where),
                           repeat=5, setup=clear)))
        if counting:
            count_sql = [f"SELECT count(*) FROM users WHERE {where}"]
            rows.append(("  then counted slice by slice off the GUI thread", counted_ms,
                         median_ms(replay(conn, count_sql), repeat=3), None))
    model.set_search("")
    model.wait_shown()

    # --- jump to row 500,000 (the middle for smaller tables)
    target = min(500_000, users // 2)
    start = time.perf_counter()
    model.finish_anchors()
    anchors_ms = (time.perf_counter() - start) * 1000

    def forget() -> None:
        """Anchors known (the idle-time scan ran), the target's pages not cached."""
        for page in range(target // PAGE_SIZE - 1, (target + 40) // PAGE_SIZE + 2):
            model._pages.pop(page, None)

    def ours_jump() -> None:
        model.ensure_loaded(target, target + 40)

    def ours_jump_painted() -> None:
        model.ensure_loaded(target, target + 40)
        view.scrollTo(model.index(target, 0), QTableView.ScrollHint.PositionAtTop)
        view.grab()

    forget()
    with Recorder() as rec:
        ours_jump()
    jump_sql = list(rec.statements)
    offset_sql = [
        f"SELECT * FROM users ORDER BY username_key, id LIMIT {PAGE_SIZE} OFFSET {target}"
    ]
    rows.append((f"jump to row {target:,}: page by keyset seek",
                 *trio(ours_jump, replay(conn, jump_sql), None, repeat=11, setup=forget)))
    rows.append(("  same by OFFSET (sqlite3)", median_ms(replay(conn, offset_sql), repeat=3),
                 None, None))
    rows.append(("  loaded + scrolled + painted", median_ms(ours_jump_painted, setup=forget),
                 None, None))
    rows.append(("  anchor scan of the whole order (idle time, once)", anchors_ms, None, None))

    qdb.close()
    conn.close()
    db.close()
    return rows


def memory_rows(users: int) -> list[tuple[str, float, float | None, float | None]]:
    """Peak RSS after scrolling the whole table, each in a fresh process."""
    path = database_for(users)
    out = {}
    for who in ("ours", "sqlite3", "qsql"):
        result = subprocess.run(
            [sys.executable, __file__, "--memory", who, str(path)],
            capture_output=True, text=True, check=True,
        )
        out[who] = json.loads(result.stdout.strip().splitlines()[-1])
    return [
        ("peak RSS after scrolling everything, MiB above empty window",
         out["ours"]["above"], out["sqlite3"]["above"], out["qsql"]["above"]),
        ("  of it anonymous (not the mmap-ed file), MiB",
         out["ours"]["anon"], out["sqlite3"]["anon"], out["qsql"]["anon"]),
        ("  seconds to scroll everything", out["ours"]["seconds"], out["sqlite3"]["seconds"],
         out["qsql"]["seconds"]),
    ]


def memory_worker(who: str, path: Path) -> None:
    app = QApplication.instance() or QApplication([])
    view = QTableView()
    view.resize(WIDTH, HEIGHT)
    view.grab()
    base = rss_mib()
    start = time.perf_counter()
    if who == "ours":
        db = Database(path, read_only=True)
        model = RecordTableModel(db, browse.USERS)
        view.setModel(model)
        model.finish_counting()  # a large table is counted after its first page
        model.finish_anchors()
        total = model.rowCount()
        for row in range(0, total, PAGE_SIZE):
            model.ensure_loaded(row)
            if row % (PAGE_SIZE * 200) == 0:
                view.scrollTo(model.index(row, 0))
                view.grab()
    elif who == "sqlite3":
        conn = raw_connection(path)
        kept = conn.execute("SELECT * FROM users ORDER BY username_key, id").fetchall()
        del kept
    else:
        qdb = qsql_database(path, "memory")
        model = qsql_model(qdb)
        view.setModel(model)
        while model.canFetchMore():
            model.fetchMore()
        view.scrollToBottom()
        view.grab()
    seconds = time.perf_counter() - start
    now = rss_mib()
    del app
    print(json.dumps({
        "above": now["VmHWM"] - base["VmRSS"],
        "anon": now["RssAnon"] - base["RssAnon"],
        "seconds": seconds,
    }))


# ---------------------------------------------------------------------- report


def fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def ratio(ours: float, other: float | None) -> str:
    return "—" if not other else f"{ours / other:.2f}x"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--no-memory", action="store_true", help="skip the memory runs")
    parser.add_argument("--memory", nargs=2, metavar=("WHO", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory:
        memory_worker(args.memory[0], Path(args.memory[1]))
        return 0
    app = QApplication.instance() or QApplication([])
    print(f"sqlite {sqlite3.sqlite_version}, Python {sys.version.split()[0]}, "
          f"{WIDTH}x{HEIGHT} offscreen views; medians in ms (memory in MiB)")
    for users in args.sizes:
        rows = bench_size(users, app)  # type: ignore[arg-type]
        gc.collect()
        QSqlDatabase.removeDatabase(f"bench{users}")
        if not args.no_memory:
            rows += memory_rows(users)
        print(f"\n{users:,} users")
        print(f"{'operation':62s} {'model':>9s} {'sqlite3':>9s} {'QSqlTM':>9s} "
              f"{'/sqlite3':>9s} {'/QSqlTM':>8s}")
        for label, ours, raw, qsql in rows:
            print(f"{label:62s} {fmt(ours):>9s} {fmt(raw):>9s} {fmt(qsql):>9s} "
                  f"{ratio(ours, raw):>9s} {ratio(ours, qsql):>8s}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
