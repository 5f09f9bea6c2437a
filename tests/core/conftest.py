"""PostgreSQL for the core tests: a fresh database per test when a server is configured.

``AG_TEST_POSTGRES_URL`` names a server and a role allowed to CREATE DATABASE, e.g.
``postgresql+psycopg://accessguard:secret@127.0.0.1:5432/postgres`` (``.ci/postgres.sh``
prints one). Without it, every test that needs PostgreSQL skips with the reason.

``pg_db`` is a ``Database`` on a new, randomly named database that is dropped afterwards.
With ``AG_TEST_BACKEND=postgres`` as well, the ``db`` fixture of every core test becomes
``pg_db``: the whole suite runs against the server, and tests that are about SQLite files
(marked ``sqlite_only``) skip.
"""

from __future__ import annotations

import fnmatch
import inspect
import os
import secrets
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

from accessguard_gui.core.database import Database

URL_VARIABLE = "AG_TEST_POSTGRES_URL"
BACKEND_VARIABLE = "AG_TEST_BACKEND"


def postgres_url() -> str | None:
    return os.environ.get(URL_VARIABLE) or None


def on_postgres() -> bool:
    """True when the whole core suite is asked to run against PostgreSQL."""
    return os.environ.get(BACKEND_VARIABLE, "").lower() in ("postgres", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only: about SQLite files or SQLite's own machinery; skipped on PostgreSQL"
    )


# A test whose own source uses one of these is about the SQLite file or SQLite's own SQL
# (a second Database(db.path) on a server URL would open the per-user default file!).
SQLITE_WORDS = (
    "db.path", "sqlite3", "PRAGMA", "explain=True", "EXPLAIN QUERY PLAN", "_explain(", "_plan(",
    "backup_to",
)
# Tests of SQLite-only behaviour the words above do not reveal (fnmatch on the node id).
SQLITE_ONLY_TESTS = {
    # NULLs sort first on SQLite, last on PostgreSQL ("the way the dialect sorts them");
    # test_postgres.py walks the e-mail order on PostgreSQL.
    "test_browse.py::test_keyset_pages_cover_every_row_once_in_order[[]*-email[]]": "NULL order",
    # The FTS5 search indexes and the plan choice exist on SQLite only.
    "test_browse.py::test_the_audit_log_is_searched_through_its_own_index": "FTS5 plan",
    "test_browse.py::test_search_index_follows_inserts_updates_and_deletes": "FTS5 tables",
    # Ages entries through a raw sqlite3 connection.
    "test_browse_since.py::test_since_keeps_recent_entries_only": "raw sqlite3 helper",
}


def _sqlite_only(item: pytest.Item) -> str | None:
    """Why ``item`` cannot run on PostgreSQL, or None."""
    if item.get_closest_marker("sqlite_only") is not None:
        return "marked sqlite_only"
    if item.path.name == "test_postgres.py":
        return None  # written for the server: its own words (pg_db.path, ...) mean no file
    if "db_path" in getattr(item, "fixturenames", ()):
        return "uses the database file"
    node = item.nodeid.split("/")[-1]
    for pattern, why in SQLITE_ONLY_TESTS.items():
        if fnmatch.fnmatchcase(node, pattern):
            return why
    function = getattr(item, "function", None)
    try:
        source = inspect.getsource(function) if function is not None else ""
    except (OSError, TypeError):
        source = ""
    for word in SQLITE_WORDS:
        if word in source:
            return f"uses {word}"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not on_postgres():
        return
    here = os.path.dirname(__file__)
    for item in items:
        if not str(item.path).startswith(here):
            continue
        why = _sqlite_only(item)
        if why is not None:
            item.add_marker(pytest.mark.skip(reason=f"SQLite only ({why})"))


@pytest.fixture(scope="session")
def pg_server() -> URL:
    """The configured server's URL (maintenance database), or skip with the reason."""
    raw = postgres_url()
    if raw is None:
        pytest.skip(f"no PostgreSQL server configured (set {URL_VARIABLE})")
    url = make_url(raw)
    shown = url.render_as_string(hide_password=True)
    try:
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
    except ImportError as exc:
        pytest.skip(f"no driver for {shown} (pip install -e '.[postgres]'): {exc}")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server is a skip
        pytest.skip(f"PostgreSQL at {shown} unreachable: {exc}")
    finally:
        engine.dispose()
    return url


@pytest.fixture
def pg_url(pg_server: URL) -> Iterator[str]:
    """The URL of a new, empty database on the server; dropped after the test."""
    name = "ag_test_" + secrets.token_hex(6)
    admin = create_engine(pg_server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield pg_server.set(database=name).render_as_string(hide_password=False)
    finally:
        try:
            _drop(admin, name)
        finally:
            admin.dispose()


def _drop(admin: Engine, name: str) -> None:
    """Drop a test database. A plain DROP waits for an autovacuum worker to leave (WITH
    (FORCE) would need the right to signal it); FORCE ends a connection a test leaked."""
    for attempt in range(5):
        drop = f'DROP DATABASE IF EXISTS "{name}"'
        for statement in (drop, drop + " WITH (FORCE)"):
            try:
                with admin.connect() as conn:
                    conn.execute(text(statement))
                return
            except DBAPIError:
                if attempt == 4 and "FORCE" in statement:
                    raise
        time.sleep(0.2 * (attempt + 1))


@pytest.fixture
def pg_db(pg_url: str) -> Iterator[Database]:
    database = Database(pg_url, operator="tester")
    try:
        yield database
    finally:
        database.close()


@pytest.fixture
def db(request: pytest.FixtureRequest) -> Iterator[Database]:
    """The SQLite file of tests/conftest.py, or a PostgreSQL database when asked."""
    if on_postgres():
        yield request.getfixturevalue("pg_db")
        return
    database = Database(request.getfixturevalue("db_path"), operator="tester")
    try:
        yield database
    finally:
        database.close()
