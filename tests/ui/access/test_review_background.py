"""Long access actions (a review of many edits, a bulk role change for many users, the
SoD check on a large file) run off the GUI thread, with progress and Cancel."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from accessguard_gui.core import impact
from accessguard_gui.core.changes import Assign, Grant
from accessguard_gui.core.database import Database
from accessguard_gui.ui.access import review
from accessguard_gui.ui.access.common import save_png
from accessguard_gui.ui.access.review import ReviewChangesDialog
from accessguard_gui.ui.pending import PendingStore

from .conftest import SHOTS


@pytest.fixture
def slow_review(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Every review counts as long, and waits for ``release`` (a review of a bulk change
    on a million users) on the thread it runs on."""
    monkeypatch.setattr(review, "BACKGROUND_EDITS", 0)
    state: dict[str, Any] = {"release": threading.Event(), "threads": []}
    real = impact.review

    def waiting(*args: Any, **kwargs: Any) -> Any:
        state["threads"].append(threading.get_ident())
        state["release"].wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(impact, "review", waiting)
    return state


def _dialog(qtbot: QtBot, db: Database, store: PendingStore) -> ReviewChangesDialog:
    dialog = ReviewChangesDialog(db, store)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_a_long_review_shows_progress_then_the_report(
    qtbot: QtBot, demo_db: Database, slow_review: dict[str, Any]
) -> None:
    store = PendingStore()
    store.push(Grant("Base", ("Ledger", "write")))
    store.push(Assign("dave", "Auditor"))
    dialog = _dialog(qtbot, demo_db, store)
    # The dialog is up and answering while the review runs.
    assert dialog.summary.text() == "Reviewing 2 pending changes\u2026"
    assert dialog.progress.isVisible() and dialog.cancel_button.isVisible()
    assert not dialog.save_button.isEnabled()
    save_png(dialog, SHOTS / "review_running.png")
    slow_review["release"].set()
    qtbot.waitUntil(lambda: dialog.report is not None)
    assert threading.get_ident() not in slow_review["threads"]
    assert dialog.summary.text().startswith("2 pending changes. If saved:")
    assert "  dave gains Server room: audit" in dialog.edit_lines()
    assert not dialog.progress.isVisible()
    assert dialog.save_button.isEnabled()


def test_cancel_drops_the_running_review(
    qtbot: QtBot, demo_db: Database, slow_review: dict[str, Any]
) -> None:
    store = PendingStore()
    store.push(Assign("dave", "Auditor"))
    dialog = _dialog(qtbot, demo_db, store)
    dialog.cancel_button.click()
    assert dialog.summary.text().startswith("Review cancelled.")
    assert dialog.refresh_button.isEnabled() and not dialog.save_button.isEnabled()
    slow_review["release"].set()
    qtbot.wait(200)
    assert dialog.report is None  # the cancelled review's answer is never shown
    dialog.refresh()  # Review again: released, it answers
    qtbot.waitUntil(lambda: dialog.report is not None)
    assert dialog.save_button.isEnabled()


def _user_ids(db: Database, *names: str) -> list[int]:
    from accessguard_gui.core import rbac

    with db.read() as s:
        return [rbac.get_user(s, name).id for name in names]


def test_a_bulk_role_change_for_many_users_checks_off_the_gui_thread(
    qtbot: QtBot, demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accessguard_gui.ui.access import assignments

    monkeypatch.setattr(assignments, "BULK_BACKGROUND_USERS", 0)
    release = threading.Event()
    threads: list[int] = []
    real = assignments.plan_bulk_role_change

    def waiting(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.get_ident())
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(assignments, "plan_bulk_role_change", waiting)
    store = PendingStore()
    dialog = assignments.BulkRoleDialog(demo_db, store, _user_ids(demo_db, "alice", "bob"))
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.role_edit.setText("Auditor")
    with qtbot.waitSignal(dialog.applied, timeout=10_000) as applied:
        dialog.apply()
        assert dialog.is_checking() and dialog.progress.isVisible()
        assert dialog.message.text() == "Checking the rules for 2 users\u2026"
        assert store.is_empty()  # nothing pending until the rules said yes
        release.set()
    pushed = applied.args[0]  # one edit per user who lacks the role
    assert pushed >= 1
    assert threading.get_ident() not in threads
    assert len(store.edits_for_save()) == pushed
    # Cancel while checking: nothing is pushed, the dialog stays open.
    release.clear()
    other = assignments.BulkRoleDialog(demo_db, store, _user_ids(demo_db, "dave"))
    qtbot.addWidget(other)
    other.show()
    other.role_edit.setText("Auditor")
    other.apply()
    other.cancel()
    assert other.message.text() == "Cancelled: no change was made." and other.isVisible()
    release.set()
    qtbot.wait(200)
    assert len(store.edits_for_save()) == pushed


def test_the_sod_check_on_a_large_file_runs_off_the_gui_thread_with_cancel(
    qtbot: QtBot, demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accessguard_gui.core import rbac
    from accessguard_gui.core.models import UserRole
    from accessguard_gui.ui.access import ssd

    with demo_db.action("import") as s:  # a violation left by a direct write
        dave = rbac.get_user(s, "dave").id
        s.add(UserRole(user_id=dave, role_id=rbac.get_role(s, "Approvals").id, granted_by="import"))
    monkeypatch.setattr(ssd, "CHECK_BACKGROUND_BYTES", 0)  # treat the file as large
    release = threading.Event()
    threads: list[int] = []
    real = rbac.ssd_violations

    def waiting(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.get_ident())
        assert kwargs.get("cancel") is not None  # the worker can stop the query
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(rbac, "ssd_violations", waiting)
    panel = ssd.SsdPanel(demo_db, PendingStore())
    qtbot.addWidget(panel)
    panel.show()
    panel.check_button.click()
    assert panel.is_checking()
    assert panel.violations_summary.text() == "Checking every user for violations\u2026"
    assert panel.cancel_check_button.isVisible() and not panel.check_button.isEnabled()
    panel.cancel_check_button.click()
    assert panel.violations_summary.text().startswith("Check cancelled.")
    assert panel.check_button.isEnabled()
    release.set()
    qtbot.wait(100)
    assert panel.violations_model.rows() == []  # the cancelled check lists nothing
    panel.check_button.click()
    qtbot.waitUntil(lambda: not panel.is_checking())
    assert panel.violations_model.rows() == [
        ("Pay and approve", "dave", "Approvals, Payments", "fewer than 2")
    ]
    assert threads and threading.get_ident() not in threads


def test_a_large_report_makes_each_rows_lines_when_it_is_opened(
    qtbot: QtBot, demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(review, "EAGER_LINES", 0)  # every report counts as large
    store = PendingStore()
    store.push(Grant("Base", ("Ledger", "write")))
    store.push(Assign("dave", "Auditor"))
    dialog = _dialog(qtbot, demo_db, store)
    first = dialog.by_edit.topLevelItem(0)
    assert first is not None and first.text(0) == "1. Grant Ledger: write to Base"
    assert first.childCount() == 0  # not made yet
    first.setExpanded(True)  # the user opens the row
    assert [first.child(i).text(0) for i in range(first.childCount())] == [
        "alice gains Ledger: write", "bob gains Ledger: write"
    ]
    assert "  dave gains Server room: audit" in dialog.edit_lines()
