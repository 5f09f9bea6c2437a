"""Searches and counts of large tables run off the GUI thread, cancel when superseded,
and the count appears as "searching…" → "N+ …, counting…" → "N of M users"."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from accessguard_gui.core import browse
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import DatabaseError, QueryStoppedError
from accessguard_gui.ui import table_model, table_reads
from accessguard_gui.ui.background import BackgroundReads
from accessguard_gui.ui.pending import PendingStore
from accessguard_gui.ui.table_model import RecordTableModel
from accessguard_gui.ui.table_page import PAGES, TablePage

from .test_table_model import add_users

USERS = 3_000


@pytest.fixture
def users_db(tmp_path: Path) -> Iterator[Database]:
    path = tmp_path / "users.db"
    Database(path, operator="tester").close()
    add_users(path, USERS)
    db = Database(path, operator="tester")
    yield db
    db.close()


def background_model(db: Database) -> RecordTableModel:
    """A model that treats this small file like a million rows, and every read as slow:
    every read off-thread — the first one too: the model starts empty and searching,
    then shows its first page and counts the rest."""
    model = RecordTableModel(
        db, browse.USERS, PendingStore(), background_rows=0, inline_budget=0
    )
    assert model.is_searching() and model.rowCount() == 0
    model.finish_counting()
    assert model.rowCount() == USERS
    return model


def test_a_search_runs_off_the_gui_thread_and_keeps_the_old_rows_meanwhile(
    qtbot: Any, users_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []
    real = browse.choose_plan

    def recording(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(browse, "choose_plan", recording)
    model = background_model(users_db)
    assert model.rowCount() == USERS
    model.set_search("user00012")  # user000120..user000129
    assert model.is_searching()
    assert model.rowCount() == USERS  # still the old rows: nothing was read here
    qtbot.waitUntil(lambda: not model.is_busy())
    assert model.rowCount() == 10
    assert model.index(0, 0).data() == "user000120"
    assert threads and threading.get_ident() not in threads


def test_a_superseded_search_is_cancelled_and_never_shown(
    qtbot: Any, users_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    started = threading.Event()
    real = browse.choose_plan

    def slow_for_old(session: Any, spec: Any, query: Any) -> Any:
        if query.term == "user0001":
            started.set()
            release.wait(10)  # a search still running when the user types on
        return real(session, spec, query)

    monkeypatch.setattr(browse, "choose_plan", slow_for_old)
    model = background_model(users_db)
    model.set_search("user0001")
    assert started.wait(5)
    old_job = model._reset_job
    assert old_job is not None
    model.set_search("user00002")  # the next keystroke
    assert old_job.cancelled
    qtbot.waitUntil(lambda: not model.is_busy())
    assert model.rowCount() == 10  # user000020..29
    release.set()  # the old search ends now: its answer must not replace the new one
    assert old_job.finished.wait(5)
    qtbot.wait(50)
    assert model.rowCount() == 10
    assert model.index(0, 0).data() == "user000020"
    assert model.query.term == "user00002"


def test_a_quick_read_of_a_large_table_is_shown_at_once(users_db: Database) -> None:
    """Within the budget a search answers on the spot (no thread hop, no blank rows)."""
    model = RecordTableModel(users_db, browse.USERS, PendingStore(), background_rows=0)
    model.inline_budget = 10.0  # however loaded the test machine
    model.set_search("user00012")
    assert not model.is_searching() and model.rowCount() == 10


def test_a_read_past_the_budget_moves_to_a_worker(
    qtbot: Any, users_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []
    real = browse.choose_plan

    def slow(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.get_ident())
        if threading.get_ident() == main:
            raise QueryStoppedError("too slow", timed_out=True)  # what bounded() raises
        return real(*args, **kwargs)

    main = threading.get_ident()
    monkeypatch.setattr(browse, "choose_plan", slow)
    model = RecordTableModel(users_db, browse.USERS, PendingStore(), background_rows=0)
    model.set_search("user00012")
    assert model.is_searching()  # tried here first, then handed over
    qtbot.waitUntil(lambda: not model.is_busy())
    assert model.rowCount() == 10
    assert threads[0] == main and threads[-1] != main


def test_cancel_stops_a_running_statement(qtbot: Any, users_db: Database) -> None:
    reads = BackgroundReads(users_db)
    results: list[Any] = []
    endless = text(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    )
    job = reads.submit(lambda s, _job: s.execute(endless).scalar(), results.append)
    qtbot.wait(100)
    assert not job.finished.is_set()
    job.cancel()
    assert job.finished.wait(5)  # SQLite's progress handler saw the flag
    qtbot.wait(50)
    assert results == []  # a cancelled read never calls back
    assert not reads.busy()


def test_the_count_shows_searching_then_counting_then_the_number(
    qtbot: Any, users_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(table_reads, "COUNT_CHUNK_IDS", 500)  # several slices
    model = background_model(users_db)
    page = TablePage(PAGES[0], model)
    qtbot.addWidget(page)
    assert page.count_label.text() == f"{USERS:,} users"
    texts: list[str] = []
    model.counts_changed.connect(lambda *_a: texts.append(page.count_label.text()))
    model.busy_changed.connect(lambda *_a: texts.append(page.count_label.text()))
    page.search.setText("u1")  # two characters: no search index, counted slice by slice
    page.apply_search()
    assert page.count_label.text() == "searching\u2026"
    qtbot.waitUntil(lambda: not model.is_busy(), timeout=10_000)
    expected = sum(1 for i in range(USERS) if "u1" in f"user{i:06d} User {i:06d} u{i}@")
    assert model.counts() == (expected, USERS)
    assert page.count_label.text() == f"{expected:,} of {USERS:,} users"
    assert any(t.endswith("counting\u2026") for t in texts)


def test_a_failed_background_search_says_why_and_keeps_the_rows(
    qtbot: Any, users_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise DatabaseError("The database could not be read: disk I/O error.")

    model = background_model(users_db)
    page = TablePage(PAGES[0], model)
    qtbot.addWidget(page)
    monkeypatch.setattr(browse, "choose_plan", broken)
    page.search.setText("user0001")
    page.apply_search()
    qtbot.waitUntil(lambda: not model.is_busy())
    assert page.count_label.text() == "search failed"
    assert "disk I/O error" in page.count_label.toolTip()
    assert model.rowCount() == USERS


def test_a_small_table_read_that_runs_too_long_moves_off_the_gui_thread(
    qtbot: Any, users_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small table reads at once on the GUI thread, but never unbounded (issue 8.5): a
    read past its budget (megabyte cells from another tool, a pathological search) is
    stopped there and finished by a worker, the window free meanwhile."""
    threads: list[int] = []
    real = browse.choose_plan

    def slow_plan(session: Any, *args: Any, **kwargs: Any) -> Any:
        threads.append(threading.get_ident())
        # Longer than the (shortened) budget: the bound stops it on the GUI thread.
        session.execute(text(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) "
            "SELECT count(*) FROM n"
        ))
        return real(session, *args, **kwargs)

    model = RecordTableModel(users_db, browse.USERS, PendingStore())  # small: inline reads
    assert model.rowCount() == USERS
    monkeypatch.setattr(table_model, "SMALL_TABLE_BUDGET_S", 0.05)
    monkeypatch.setattr(browse, "choose_plan", slow_plan)
    model.set_search("user00012")
    qtbot.waitUntil(lambda: not model.is_busy(), timeout=20_000)
    assert model.rowCount() == 10
    gui = threading.get_ident()
    assert threads[0] == gui  # tried here first...
    assert any(t != gui for t in threads[1:])  # ...and finished by a worker


def test_a_large_tables_first_read_past_its_budget_comes_from_a_worker(
    qtbot: Any, users_db: Database
) -> None:
    """Opening a large file never waits for its count: past the inline budget the
    model starts empty ("searching"), and the rows arrive with a model reset."""
    model = RecordTableModel(users_db, browse.USERS, background_rows=0, inline_budget=0)
    assert model.rowCount() == 0 and model.is_searching()
    with qtbot.waitSignal(model.modelReset, timeout=10_000):
        pass
    assert not model.is_searching()  # the first page is shown; the rest is counted
    assert model.index(0, 0).data() == "user000000"
    qtbot.waitUntil(lambda: not model.is_counting(), timeout=10_000)
    assert model.rowCount() == USERS and model.counts() == (USERS, USERS)
    # A table below background_rows is read at once, as before.
    small = RecordTableModel(users_db, browse.USERS, inline_budget=0)
    assert small.rowCount() == USERS and not small.is_searching()
