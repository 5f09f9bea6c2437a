"""Browsing a file other programs wrote to: unreadable text shows, driver errors arrive
typed; searches are bounded in length and can be stopped (Cancel, or a time bound)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from accessguard_gui.core import browse, rbac
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import DatabaseError, QueryStoppedError, ValidationError


@pytest.fixture
def people(db: Database) -> Database:
    with db.action("Add people") as s:
        for name in ("alice", "bob", "carol"):
            rbac.add_user(s, name, name.title())
    return db


@pytest.mark.sqlite_only
def test_a_text_cell_that_is_not_utf8_is_shown_with_replacement_characters(
    people: Database,
) -> None:
    assert people.path is not None
    conn = sqlite3.connect(people.path, isolation_level=None)
    # Another program wrote Latin-1 bytes into a text column ("Böb").
    conn.execute("UPDATE users SET display_name = CAST(X'42F662' AS TEXT) WHERE username = 'bob'")
    conn.close()
    with people.read() as s:
        rows = browse.fetch_page(s, browse.USERS, browse.USERS.default_query())
        shown = {r[browse.FIRST_CELL]: r[browse.FIRST_CELL + 1] for r in rows}
        assert shown == {"alice": "Alice", "bob": "B\ufffdb", "carol": "Carol"}
        record = browse.fetch_record(s, browse.USERS, rows[1][browse.ID])
        assert record is not None and record["display_name"] == "B\ufffdb"
        # The next healthy page is read the fast way again.
        assert browse.count(s, browse.USERS) == 3


@pytest.mark.sqlite_only
def test_driver_errors_arrive_as_typed_errors(people: Database) -> None:
    assert people.path is not None
    conn = sqlite3.connect(people.path, isolation_level=None)
    conn.execute("ALTER TABLE users RENAME COLUMN email TO mail")  # a file changed by hand
    conn.close()
    with people.read() as s, pytest.raises(DatabaseError, match="could not be read: no such column"):
        browse.fetch_page(s, browse.USERS, browse.USERS.default_query())


def test_search_text_is_bounded_with_a_clear_message() -> None:
    query = browse.USERS.default_query()
    assert query.searching("x" * browse.SEARCH_MAX).search == "x" * browse.SEARCH_MAX
    with pytest.raises(ValidationError) as info:
        query.searching("x" * 130_000)
    assert info.value.field == "search"
    assert str(info.value) == (
        "The search text is too long: 130,000 characters, at most 256 are searched for."
    )
    with pytest.raises(ValidationError):
        browse.BrowseQuery(sort="username", search="y" * 1_000_000)


def test_a_cancelled_search_stops_with_a_typed_error(people: Database) -> None:
    flag = threading.Event()
    flag.set()
    query = browse.AUDIT.default_query().searching("alice")
    with people.read() as s, pytest.raises(QueryStoppedError, match="cancelled"):
        with browse.bounded(s, cancel=flag):
            browse.count(s, browse.AUDIT, query)


@pytest.mark.sqlite_only
def test_a_search_running_past_its_time_is_stopped(people: Database, tmp_path: Path) -> None:
    query = browse.AUDIT.default_query().searching("zz")  # a LIKE scan
    with people.read() as s:
        raw = s.connection().connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)
        # A statement that would run for minutes: the bound stops it within its time.
        with pytest.raises(QueryStoppedError) as info, browse.bounded(s, timeout=0.2):
            browse.count(s, browse.AUDIT, query)
            raw.execute(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
                "SELECT count(*) FROM n"
            ).fetchall()
        assert info.value.timed_out
        assert "longer than 0.2 s" in str(info.value)
        # The session is usable afterwards (the handler is removed).
        assert browse.count(s, browse.USERS) == 3


@pytest.mark.sqlite_only
def test_audit_cells_of_a_hostile_file_are_capped(people: Database) -> None:
    assert people.path is not None
    conn = sqlite3.connect(people.path, isolation_level=None)
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("UPDATE audit_log SET operator = ? WHERE id = 1", ("x" * 1_000_000,))
    conn.close()
    with people.read() as s:
        rows = browse.fetch_page(s, browse.AUDIT, browse.AUDIT.default_query())
    operator = browse.FIRST_CELL + browse.AUDIT.index_of("operator")
    assert max(len(r[operator]) for r in rows) == browse.AUDIT_CELL_MAX
