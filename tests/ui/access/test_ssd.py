"""Separation-of-duty sets: every change is pending until Save (marked, undoable,
reviewed), refused on the spot when the rules say no; the violations report."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from accessguard_gui.core import impact, rbac
from accessguard_gui.core.changes import (
    Assign,
    ChangeSsdSet,
    CreateSsdSet,
    DeleteSsdSet,
    RemoveSsdRole,
)
from accessguard_gui.core.database import Database
from accessguard_gui.ui.access.common import save_png
from accessguard_gui.ui.access.review import ReviewChangesDialog
from accessguard_gui.ui.access.ssd import SsdPanel
from accessguard_gui.ui.pending import PendingStore
from accessguard_gui.ui.saving import save_pending

from .conftest import SHOTS, answer_picker, shown


def _panel(qtbot: QtBot, db: Database, store: PendingStore | None = None) -> SsdPanel:
    return shown(qtbot, SsdPanel(db, store if store is not None else PendingStore()), 860, 520)


def _sets_in_file(db: Database) -> dict[str, tuple[tuple[str, ...], int, str]]:
    with db.read() as s:
        return {r.name: (r.roles, r.cardinality, r.description) for r in rbac.ssd_role_sets(s)}


def test_lists_sets(qtbot: QtBot, demo_db: Database) -> None:
    panel = _panel(qtbot, demo_db)
    assert panel.sets_model.rows() == [
        ("Pay and approve", "Approvals, Payments", "fewer than 2", "", "")
    ]


def test_a_new_set_is_pending_until_saved(
    qtbot: QtBot, demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = PendingStore()
    panel = _panel(qtbot, demo_db, store)
    dialog = panel.make_dialog(None)
    qtbot.addWidget(dialog)
    dialog.name_edit.setText("Audit apart")
    dialog.description_edit.setText("Auditors do not operate")
    answer_picker(monkeypatch, ["Auditor", "Operator", "Approvals"])
    dialog.add_roles()
    dialog.cardinality.setValue(3)
    with qtbot.waitSignal(panel.sets_changed):
        assert dialog.apply()
    assert store.edits() == [
        CreateSsdSet(
            "Audit apart", ("Auditor", "Operator", "Approvals"), 3, "Auditors do not operate"
        )
    ]
    assert "Audit apart" not in _sets_in_file(demo_db)  # nothing written yet
    assert panel.states() == {"Audit apart": "new \u2014 not saved", "Pay and approve": ""}
    save_png(panel, SHOTS / "ssd_pending_new.png")
    assert "Audit apart: pending" in panel.message.text()
    assert save_pending(demo_db, store).ok
    assert panel.message.text() == ""  # the note about the pending change is gone
    assert _sets_in_file(demo_db)["Audit apart"] == (
        ("Approvals", "Auditor", "Operator"),
        3,
        "Auditors do not operate",
    )
    assert panel.states() == {"Audit apart": "", "Pay and approve": ""}


def test_a_set_that_is_already_broken_is_refused_and_nothing_is_pending(
    qtbot: QtBot, demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = PendingStore()
    panel = _panel(qtbot, demo_db, store)
    dialog = panel.make_dialog(None)
    qtbot.addWidget(dialog)
    dialog.name_edit.setText("Audit or pay")
    answer_picker(monkeypatch, ["Auditor", "Payments"])
    dialog.add_roles()
    dialog.show()
    with qtbot.assertNotEmitted(panel.sets_changed):
        assert not dialog.apply()
    # bob holds Auditor and (expired) Payments: expired assignments count.
    assert "bob would hold Auditor, Payments" in dialog.message.text()
    save_png(dialog, SHOTS / "ssd_dialog_refused.png")
    assert store.is_empty()
    assert list(_sets_in_file(demo_db)) == ["Pay and approve"]


def test_edit_and_delete_need_a_chosen_set(qtbot: QtBot, demo_db: Database) -> None:
    panel = _panel(qtbot, demo_db)
    assert not panel.edit_button.isEnabled() and not panel.delete_button.isEnabled()
    panel.select_set("Pay and approve")
    assert panel.edit_button.isEnabled() and panel.delete_button.isEnabled()


def test_rename_members_and_cardinality_are_pending_marked_and_undoable(
    qtbot: QtBot, demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = PendingStore()
    panel = _panel(qtbot, demo_db, store)
    panel.select_set("Pay and approve")
    existing = panel.selected_set()
    assert existing is not None
    dialog = panel.make_dialog(existing)
    qtbot.addWidget(dialog)
    dialog.name_edit.setText("Pay, approve or operate")
    dialog.description_edit.setText("Money moves under four eyes")
    answer_picker(monkeypatch, ["Operator"])
    dialog.add_roles()
    dialog.roles.item(0).setSelected(True)  # Approvals
    dialog.remove_selected_roles()
    assert dialog.apply()
    # A role swapped: one change, checked as a whole (no order of single steps is safe).
    edits = store.edits()
    assert edits == [
        ChangeSsdSet(
            existing.id,
            {
                "name": "Pay, approve or operate",
                "description": "Money moves under four eyes",
                "roles": ("Payments", "Operator"),
            },
            {"name": "Pay and approve", "description": "", "roles": ("Approvals", "Payments")},
            "Pay and approve",
        ),
    ]
    assert [e.describe() for e in edits] == [
        "Change separation-of-duty set Pay and approve: name Pay and approve \u2192 "
        "Pay, approve or operate; description \u201c\u201d \u2192 "
        "\u201cMoney moves under four eyes\u201d; roles Approvals, Payments \u2192 "
        "Payments, Operator",
    ]
    assert panel.sets_model.rows() == [
        (
            "Pay, approve or operate",
            "Operator, Payments",
            "fewer than 2",
            "Money moves under four eyes",
            "changed \u2014 not saved",
        )
    ]
    tip = panel.sets_model.data(panel.sets_model.index(0, 0), 3)  # ToolTipRole
    assert "roles Approvals, Payments \u2192 Payments, Operator" in tip
    save_png(panel, SHOTS / "ssd_pending_changed.png")
    assert _sets_in_file(demo_db) == {
        "Pay and approve": (("Approvals", "Payments"), 2, "")
    }  # the file is untouched
    for _ in edits:
        store.undo()
    assert panel.sets_model.rows() == [
        ("Pay and approve", "Approvals, Payments", "fewer than 2", "", "")
    ]
    for _ in edits:
        store.redo()
    assert save_pending(demo_db, store).ok
    assert _sets_in_file(demo_db) == {
        "Pay, approve or operate": (
            ("Operator", "Payments"),
            2,
            "Money moves under four eyes",
        )
    }


def test_cardinality_change_shows_old_and_new_limit(
    qtbot: QtBot, demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = PendingStore()
    panel = _panel(qtbot, demo_db, store)
    panel.select_set("Pay and approve")
    dialog = panel.make_dialog(panel.selected_set())
    qtbot.addWidget(dialog)
    answer_picker(monkeypatch, ["Auditor"])
    dialog.add_roles()
    dialog.cardinality.setValue(3)
    assert dialog.apply()  # Auditor under the old limit would break it: one step, checked once
    assert [e.describe() for e in store.edits()] == [
        "Change separation-of-duty set Pay and approve: roles Approvals, Payments \u2192 "
        "Approvals, Payments, Auditor; limit fewer than 2 \u2192 fewer than 3"
    ]
    assert save_pending(demo_db, store).ok
    assert _sets_in_file(demo_db)["Pay and approve"][:2] == (
        ("Approvals", "Auditor", "Payments"),
        3,
    )


def test_roles_only_added_or_removed_are_one_edit_per_role(
    qtbot: QtBot, demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = PendingStore()
    panel = _panel(qtbot, demo_db, store)
    panel.select_set("Pay and approve")
    existing = panel.selected_set()
    assert existing is not None
    dialog = panel.make_dialog(existing)
    qtbot.addWidget(dialog)
    answer_picker(monkeypatch, ["Operator"])  # alice holds Operator, none of the others
    dialog.add_roles()
    assert dialog.apply()
    assert [e.describe() for e in store.edits()] == [
        "Add role Operator to separation-of-duty set Pay and approve",
    ]
    assert panel.states() == {"Pay and approve": "changed \u2014 not saved"}
    panel.select_set("Pay and approve")
    shown_now = panel.selected_set()
    assert shown_now is not None and "Operator" in shown_now.roles
    again = panel.make_dialog(shown_now)
    qtbot.addWidget(again)
    for i in range(again.roles.count()):
        again.roles.item(i).setSelected(again.roles.item(i).text() == "Approvals")
    again.remove_selected_roles()
    assert again.apply()
    assert store.edits()[-1] == RemoveSsdRole(existing.id, "Approvals", "Pay and approve")
    assert save_pending(demo_db, store).ok
    assert _sets_in_file(demo_db)["Pay and approve"][0] == ("Operator", "Payments")


def test_a_new_unsaved_set_is_edited_in_place_and_withdrawn_on_delete(
    qtbot: QtBot, demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = PendingStore()
    panel = _panel(qtbot, demo_db, store)
    dialog = panel.make_dialog(None)
    qtbot.addWidget(dialog)
    dialog.name_edit.setText("Keys apart")
    answer_picker(monkeypatch, ["Auditor", "Operator"])
    dialog.add_roles()
    assert dialog.apply()
    panel.select_set("Keys apart")
    again = panel.make_dialog(panel.selected_set())
    qtbot.addWidget(again)
    again.name_edit.setText("Doors apart")
    assert again.apply()
    (only,) = store.edits()
    assert isinstance(only, CreateSsdSet) and only.name == "Doors apart"
    panel.select_set("Doors apart")
    assert panel.delete_selected()
    assert store.is_empty()
    assert [r[0] for r in panel.sets_model.rows()] == ["Pay and approve"]


def test_delete_is_pending_marked_and_undoable(qtbot: QtBot, demo_db: Database) -> None:
    store = PendingStore()
    panel = _panel(qtbot, demo_db, store)
    panel.select_set("Pay and approve")
    with qtbot.waitSignal(panel.sets_changed):
        assert panel.delete_selected()
    (edit,) = store.edits()
    assert isinstance(edit, DeleteSsdSet)
    assert edit.describe() == "Delete separation-of-duty set Pay and approve"
    assert panel.states() == {"Pay and approve": "deleted when you save"}
    assert not panel.edit_button.isEnabled()  # a set marked for deletion is not edited
    assert "Pay and approve" in _sets_in_file(demo_db)
    store.undo()
    assert panel.states() == {"Pay and approve": ""}
    store.redo()
    assert save_pending(demo_db, store).ok
    assert _sets_in_file(demo_db) == {}
    assert panel.sets_model.rowCount() == 0


def test_review_lists_ssd_changes_with_no_change_in_access(qtbot: QtBot, demo_db: Database) -> None:
    store = PendingStore()
    panel = _panel(qtbot, demo_db, store)
    panel.select_set("Pay and approve")
    panel.delete_selected()
    store.push(Assign("dave", "Operator"))
    review = ReviewChangesDialog(demo_db, store)
    qtbot.addWidget(review)
    assert review.edit_lines() == [
        "1. Delete separation-of-duty set Pay and approve | no change in access",
        "2. Assign dave to Operator | +2",
        "  dave gains Door B2.14: open",
        "  dave gains Server room: open",
    ]
    assert review.save_button.isEnabled()
    review.show()
    save_png(review, SHOTS / "review_with_ssd.png")


def test_a_failed_save_marks_the_set(qtbot: QtBot, demo_db: Database) -> None:
    store = PendingStore()
    panel = _panel(qtbot, demo_db, store)
    panel.select_set("Pay and approve")
    existing = panel.selected_set()
    assert existing is not None
    store.push(
        ChangeSsdSet(existing.id, {"description": "mine"}, {"description": ""}, existing.name)
    )
    with demo_db.action("Someone else") as s:
        rbac.update_ssd_set(s, existing.id, description="theirs")
    outcome = save_pending(demo_db, store)
    assert not outcome.ok and "changed by someone else" in outcome.error
    assert panel.states()["Pay and approve"].startswith("not saved: The separation-of-duty set")


def test_violations_report(qtbot: QtBot, demo_db: Database) -> None:
    # An import-like direct write can leave a violation behind; simulate it with raw rows.
    from accessguard_gui.core.models import UserRole

    with demo_db.action("import") as s:
        dave = rbac.get_user(s, "dave").id
        s.add(UserRole(user_id=dave, role_id=rbac.get_role(s, "Approvals").id, granted_by="import"))
    panel = _panel(qtbot, demo_db)
    assert panel.check_violations() == 1
    assert panel.violations_model.rows() == [
        ("Pay and approve", "dave", "Approvals, Payments", "fewer than 2")
    ]
    save_png(panel, SHOTS / "ssd_panel.png")


def test_the_refusal_check_sees_the_other_pending_edits(
    qtbot: QtBot, demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A set that only a pending assignment would break is refused on the spot too."""
    store = PendingStore()
    store.push(Assign("alice", "Payments"))
    panel = _panel(qtbot, demo_db, store)
    dialog = panel.make_dialog(None)
    qtbot.addWidget(dialog)
    dialog.name_edit.setText("Admin or pay")
    answer_picker(monkeypatch, ["Admin", "Payments"])
    dialog.add_roles()
    assert not dialog.apply()
    assert "alice" in dialog.message.text()
    assert impact.refusal(demo_db, [], dialog.edits()) is None  # fine without the assignment


def test_no_sets_says_what_a_set_is_and_how_to_make_one(qtbot: QtBot, db: Database) -> None:
    panel = shown(qtbot, SsdPanel(db, PendingStore()), 800, 500)
    assert panel.empty_note.isVisible()
    assert "Press \u201cNew set\u2026\u201d to make one" in panel.empty_note.text()
    save_png(panel, SHOTS / "ssd_empty.png")


def test_the_empty_note_goes_once_a_set_exists(qtbot: QtBot, demo_db: Database) -> None:
    panel = shown(qtbot, SsdPanel(demo_db, PendingStore()), 800, 500)
    assert not panel.empty_note.isVisible()
