"""Table pages and the audit log to CSV: exactly the rows, order and cells the page shows,
formulas neutralised, nothing written when cancelled."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from accessguard_gui.core import browse, rbac
from accessguard_gui.core.browse import BrowseQuery
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import ImportCancelledError, InterchangeError
from accessguard_gui.core.interchange import table_export
from accessguard_gui.core.interchange.table_export import (
    ExportWriteError,
    export_audit,
    export_view,
)
from accessguard_gui.core.models import AuditEntry

PEOPLE = [
    ("alice", "Alice Adams", "alice@example.org", True),
    ("bob", "=HYPERLINK(\"http://x\")", None, True),
    ("carol", "Carol Cooper", "carol@example.org", False),
    ("dave", "+1 Dave", "dave@example.org", True),
    ("erin", "Erin Evans", None, False),
    ("frank", "Frank Adams", "frank@example.org", True),
]


@pytest.fixture
def people(db: Database) -> Database:
    with db.action("Seed") as s:
        for username, shown, email, active in PEOPLE:
            rbac.add_user(s, username, shown, email=email, active=active)
    return db


def read(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # spreadsheets detect UTF-8
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def shown_rows(db: Database, query: BrowseQuery) -> list[list[str]]:
    """What the page shows for the query: the first cells of every row, in order."""
    with db.read() as s:
        rows = browse.fetch_page(s, browse.USERS, query, limit=1000)
    return [table_export.shown_cells(browse.USERS, r) for r in rows]


def test_the_file_holds_what_the_page_shows_searched_filtered_and_sorted(
    people: Database, tmp_path: Path
) -> None:
    query = (browse.USERS.default_query().searching("adams").filtered(active=True)
             .sorted_by("display_name", descending=True))
    target = tmp_path / "users.csv"
    assert export_view(people, browse.USERS, query, target) == 2
    rows = read(target)
    assert rows[0][:4] == ["Username", "Display name", "E-mail", "Active"]
    assert [r[0] for r in rows[1:]] == ["frank", "alice"]  # Frank Adams > Alice Adams
    assert rows[1:] == shown_rows(people, query)
    assert rows[1][3] == "yes"


def test_formula_cells_are_neutralised(people: Database, tmp_path: Path) -> None:
    target = tmp_path / "users.csv"
    export_view(people, browse.USERS, browse.USERS.default_query(), target)
    shown = {r[0]: r[1] for r in read(target)[1:]}
    assert shown["bob"] == "'=HYPERLINK(\"http://x\")"
    assert shown["dave"] == "'+1 Dave"
    assert shown["alice"] == "Alice Adams"


def test_every_row_is_written_across_many_batches_in_order(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with db.action("Seed") as s:
        for i in range(57):
            rbac.add_user(s, f"u{i:03d}", f"Same name {i % 3}")
    monkeypatch.setattr(table_export, "BATCH_ROWS", 5)
    query = browse.USERS.default_query().sorted_by("display_name")
    target = tmp_path / "users.csv"
    seen: list[int] = []
    rows = list(table_export.view_rows(db, browse.USERS, query, batch=5))
    assert export_view(db, browse.USERS, query, target, progress=seen.append) == 57
    written = read(target)[1:]
    assert written == rows
    assert len({r[0] for r in written}) == 57
    assert [r[1] for r in written] == sorted(r[1] for r in written)
    assert seen[-1] == 57


def test_a_cancelled_export_writes_nothing_and_keeps_an_existing_file(
    db: Database, tmp_path: Path
) -> None:
    with db.action("Seed") as s:
        for i in range(30):
            rbac.add_user(s, f"u{i:03d}", "Someone")
    target = tmp_path / "users.csv"
    target.write_text("the old file", encoding="utf-8")
    calls = iter([False, False, True])
    with pytest.raises(ImportCancelledError, match="export was cancelled"):
        table_export.write_csv(
            target, ["Username"], ([r[0]] for r in table_export.view_rows(
                db, browse.USERS, browse.USERS.default_query(), batch=4)),
            cancelled=lambda: next(calls), every=4,
        )
    assert target.read_text(encoding="utf-8") == "the old file"
    assert [p.name for p in tmp_path.iterdir() if "users" in p.name] == ["users.csv"]


def test_an_unwritable_target_is_a_clear_error(people: Database, tmp_path: Path) -> None:
    with pytest.raises(ExportWriteError, match="cannot be written"):
        export_view(people, browse.USERS, browse.USERS.default_query(),
                    tmp_path / "missing" / "users.csv")


def test_the_audit_log_of_a_period_is_written_in_full_oldest_first(
    db: Database, tmp_path: Path
) -> None:
    with db.action("First") as s:
        rbac.add_user(s, "alice", "Alice")
    with db.action("Second") as s:
        rbac.add_role(s, "Staff", "x" * 500)
    with db.read() as s:
        times = [e.at for e in s.query(AuditEntry).order_by(AuditEntry.id)]
    target = tmp_path / "audit.csv"
    assert export_audit(db, target) == len(times)
    rows = read(target)
    assert rows[0] == list(table_export.AUDIT_COLUMNS)
    assert [r[2] for r in rows[1:]] == ["First", "Second"]
    assert "x" * 500 in rows[2][7]  # the whole after-value, not the page's summary
    assert rows[1][0].endswith("Z")
    # A period that ends before the second action holds only the first.
    until = times[-1]
    assert export_audit(db, target, since=times[0] - timedelta(days=1), until=until) == 1
    assert [r[2] for r in read(target)[1:]] == ["First"]
    assert export_audit(db, target, since=datetime(2100, 1, 1, tzinfo=UTC)) == 0
    with pytest.raises(InterchangeError, match="period is empty"):
        export_audit(db, target, since=until, until=until)
