"""Review changes dialog: gains and losses per edit and per user; Save saves what was seen."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from accessguard_gui.core import rbac
from accessguard_gui.core.changes import Assign, Edit, Grant, Inherit, Revoke
from accessguard_gui.core.database import Database
from accessguard_gui.ui.access.common import save_png
from accessguard_gui.ui.access.review import ReviewChangesDialog
from accessguard_gui.ui.pending import PendingStore

from .conftest import SHOTS


def _dialog(qtbot: QtBot, db: Database, store: PendingStore, save=None) -> ReviewChangesDialog:  # type: ignore[no-untyped-def]
    dialog = ReviewChangesDialog(db, store, save)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_gains_and_losses_per_edit_and_user(qtbot: QtBot, demo_db: Database) -> None:
    store = PendingStore()
    store.push(Grant("Base", ("Ledger", "write")))
    store.push(Revoke("Staff", ("Ledger", "read")))
    store.push(Assign("dave", "Auditor"))
    dialog = _dialog(qtbot, demo_db, store)
    lines = dialog.edit_lines()
    assert "1. Grant Ledger: write to Base | +2" in lines
    assert "  alice gains Ledger: write" in lines
    assert "  bob gains Ledger: write" in lines
    assert "  alice loses Ledger: read" in lines
    assert "  dave gains Server room: audit" in lines
    assert dialog.summary.text().startswith("3 pending changes. If saved: 3 users gain")
    users = {
        dialog.by_user.topLevelItem(i).text(0): dialog.by_user.topLevelItem(i)
        for i in range(dialog.by_user.topLevelItemCount())
    }
    assert set(users) == {"alice", "bob", "dave"}
    save_png(dialog, SHOTS / "review_by_edit.png")
    dialog.tabs.setCurrentIndex(1)
    save_png(dialog, SHOTS / "review_by_user.png")
    # Nothing was written by the review.
    with demo_db.read() as s:
        assert [a.role for a in rbac.assigned_roles(s, "dave")] == ["Payments"]


def test_save_saves_exactly_the_reviewed_edits(qtbot: QtBot, demo_db: Database) -> None:
    store = PendingStore()
    store.push(Assign("dave", "Auditor"))
    received: list[list[Edit]] = []

    def save(edits: Sequence[Edit]) -> tuple[bool, str]:
        received.append(list(edits))
        return True, ""

    dialog = _dialog(qtbot, demo_db, store, save)
    with qtbot.waitSignal(dialog.saved) as blocker:
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [1]
    assert received == [[Assign("dave", "Auditor")]]


def test_default_save_writes_through_the_window_save(qtbot: QtBot, demo_db: Database) -> None:
    store = PendingStore()
    store.push(Assign("dave", "Auditor"))
    dialog = _dialog(qtbot, demo_db, store)
    with qtbot.waitSignal(dialog.saved):
        dialog.save_button.click()
    assert store.is_empty()
    with demo_db.read() as s:
        assert [a.role for a in rbac.assigned_roles(s, "dave")] == ["Auditor", "Payments"]


def test_save_refused_when_pending_list_changed(qtbot: QtBot, demo_db: Database) -> None:
    store = PendingStore()
    store.push(Assign("dave", "Auditor"))
    calls: list[object] = []
    dialog = _dialog(qtbot, demo_db, store, lambda e: (calls.append(e), (True, ""))[1])
    store.push(Grant("Base", ("Ledger", "write")))
    assert not dialog.save_button.isEnabled()
    with qtbot.assertNotEmitted(dialog.saved):
        assert dialog.save() is False
    assert calls == []
    assert "changed since this review" in dialog.notice.text()
    dialog.refresh_button.click()
    assert dialog.save_button.isEnabled()
    assert dialog.save() is True
    assert len(calls) == 1


def test_failing_edit_blocks_save_and_is_named(qtbot: QtBot, demo_db: Database) -> None:
    store = PendingStore()
    store.push(Inherit("Base", "Admin"))
    dialog = _dialog(qtbot, demo_db, store, lambda e: (True, ""))
    assert not dialog.save_button.isEnabled()
    assert "Saving would fail" in dialog.notice.text()
    assert "Base \u2192 Admin \u2192 Staff \u2192 Base" in dialog.notice.text()
    save_png(dialog, SHOTS / "review_failing.png")


def test_a_bulk_change_is_summarised_per_permission(qtbot: QtBot, demo_db: Database) -> None:
    """A role for every user a view shows: counts per permission, not a line per user."""
    from accessguard_gui.core.bulk_roles import BulkRoleChange, UserMatch

    store = PendingStore()
    store.push(BulkRoleChange("Auditor", UserMatch("a"), 3))
    store.push(Assign("bob", "Operator"))
    dialog = _dialog(qtbot, demo_db, store)
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=10_000)
    lines = dialog.edit_lines()
    assert lines[0].startswith("1. Assign role Auditor to all 3 users matching \u201ca\u201d | +")
    assert any(line.startswith("  ") and "users gain Server room: audit" in line for line in lines)
    assert not any("alice gains" in line for line in lines)
    assert "a bulk change gives Auditor to 3 users (4 permission grants gained)" in (
        dialog.summary.text()
    )
    save_png(dialog, SHOTS / "review_bulk.png")
