"""The expected schema objects shipped with the code are those the migrations create."""

from __future__ import annotations

from pathlib import Path

import pytest

from accessguard_gui.core import integrity
from accessguard_gui.core.database import Database
from accessguard_gui.core.generate import generate

pytestmark = pytest.mark.sqlite_only


def test_the_shipped_list_equals_a_fresh_database_at_head() -> None:
    """A new migration changes the schema: regenerate the list with
    ``python -m accessguard_gui.core.integrity`` (opening a file must not import Alembic)."""
    assert integrity.expected_schema_objects() == integrity.build_schema_objects()


def test_the_list_holds_what_guards_the_audit_trail() -> None:
    expected = integrity.expected_schema_objects()
    for name in ("audit_log_no_update", "audit_log_no_delete", "audit_log_no_replace"):
        assert ("trigger", name) in expected
    assert ("table", "search_audit_log") in expected


def test_generated_and_demo_files_hold_exactly_the_expected_objects(tmp_path: Path) -> None:
    """The bulk loader drops and re-creates indexes and triggers: with the same SQL, so
    opening a generated file asks nothing; its names pass the look-alike rule."""
    path = tmp_path / "generated.db"
    generate(path, users=300, roles=40, resources=60, permissions=200)
    assert integrity.file_schema_findings(str(path)) == []
    with Database(path) as db:
        assert integrity.schema_findings(db) == []
        assert integrity.lookalike_names(db) == []
        assert integrity.verify_audit_chain(db).intact
