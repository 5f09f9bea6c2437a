"""Audit entries in people's words, and the reason typed at Save: stored with every entry
of the save, part of the hashed content (chain version 2), old entries still verify."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from accessguard_gui.core import audit_text, browse, integrity, rbac
from accessguard_gui.core.audit import audit_entries
from accessguard_gui.core.database import Database


def test_a_change_reads_as_field_old_to_new() -> None:
    lines = audit_text.change_lines(
        {"active": True, "display_name": "Ann", "email": None, "user_id": 4},
        {"active": False, "display_name": "Anna", "email": "ann@example.org", "user_id": 4},
    )
    assert lines == [
        "Display name: Ann \u2192 Anna",
        "E-mail: empty \u2192 ann@example.org",
        "Active: yes \u2192 no",
    ]
    assert not any("True" in line or "None" in line for line in lines)


def test_an_added_record_lists_its_values_and_times_in_local_time() -> None:
    stored = "2026-03-01T12:30:05.123456+00:00"
    (line, *_rest) = audit_text.change_lines(None, {"expires_at": stored, "role_id": 2})
    local = datetime(2026, 3, 1, 12, 30, 5, tzinfo=UTC).astimezone()
    assert line == f"Expires: {local:%Y-%m-%d %H:%M:%S}"
    assert audit_text.change_lines(None, {"expires_at": stored}, utc=True) == [
        "Expires: 2026-03-01 12:30:05 UTC"
    ]


def test_summary_cell_in_words_and_a_cut_cell_as_stored() -> None:
    cell = '{"active": true} \u2192 {"active": false}'
    assert audit_text.summary_text(cell) == "Active: yes \u2192 no"
    assert audit_text.summary_text(' \u2192 {"name": "Staff"}') == "Name: Staff"
    assert audit_text.summary_text('{"name": "Sta') == '{"name": "Sta'  # cut: shown as is


def test_operation_words_match_the_filter() -> None:
    assert [audit_text.operation_word(o) for o in ("insert", "update", "delete")] == [
        "Added", "Changed", "Deleted"
    ]


def test_time_tooltip_gives_the_other_clock() -> None:
    stored = "2026-03-01 12:30:05.123456"
    assert audit_text.time_tooltip(stored) == "2026-03-01 12:30:05.123456 UTC"
    assert "local time" in audit_text.time_tooltip(stored, utc=True)


def test_the_audit_page_says_added_changed_deleted(db: Database) -> None:
    with db.action("Seed") as s:
        rbac.add_user(s, "alice")
    with db.action("Rename") as s:
        rbac.update_user(s, "alice", display_name="Alice")
    with db.read() as s:
        rows = browse.fetch_page(s, browse.AUDIT, browse.AUDIT.default_query())
    column = browse.FIRST_CELL + browse.AUDIT.index_of("operation")
    assert [row[column] for row in rows] == ["Changed", "Added"]


def test_date_range_filter_bounds_both_ends(db: Database) -> None:
    with db.action("Seed") as s:
        rbac.add_user(s, "alice")
    now = datetime.now(UTC)
    query = browse.AUDIT.default_query()
    with db.read() as s:
        assert browse.count(s, browse.AUDIT, query.filtered(at__from=now - timedelta(hours=1))) == 1
        assert browse.count(s, browse.AUDIT, query.filtered(at__until=now - timedelta(hours=1))) == 0
        assert browse.count(s, browse.AUDIT, query.filtered(at__from=now + timedelta(hours=1))) == 0


def test_reason_is_stored_with_every_entry_of_the_action_and_chains(db: Database) -> None:
    with db.action("Seed") as s:
        rbac.add_user(s, "alice")
    with db.action("Save 2 changes") as s:
        s.info["reason"] = "  ticket 4711:\n leaver  "
        rbac.add_user(s, "bob")
        rbac.update_user(s, "alice", display_name="Alice")
    with db.read() as s:
        entries = audit_entries(s)
    assert [(e.action, e.reason) for e in entries] == [
        ("Save 2 changes", "ticket 4711: leaver"),
        ("Save 2 changes", "ticket 4711: leaver"),
        ("Seed", ""),
    ]
    assert integrity.verify_audit_chain(db).intact


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET reason = 'forged' WHERE id = 1",  # an old entry gains one
        "UPDATE audit_log SET reason = NULL WHERE id = 2",  # a reason is removed
        "UPDATE audit_log SET reason = 'other' WHERE id = 2",  # a reason is changed
    ],
)
def test_a_tampered_reason_breaks_the_chain(db_path: Path, statement: str) -> None:
    db = Database(db_path, operator="tester")
    try:
        with db.action("Seed") as s:
            rbac.add_user(s, "alice")
        with db.action("Save 1 change") as s:
            s.info["reason"] = "ticket 1"
            rbac.add_user(s, "bob")
        conn = sqlite3.connect(db_path, isolation_level=None)
        try:
            conn.execute("DROP TRIGGER audit_log_no_update")
            conn.execute(statement)
        finally:
            conn.close()
        report = integrity.verify_audit_chain(db)
        assert not report.intact and report.broken[0] in (1, 2)
    finally:
        db.close()
