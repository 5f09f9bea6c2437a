"""The expected schema objects shipped with the code are those the migrations create."""

from __future__ import annotations

import pytest

from accessguard_gui.core import integrity

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
