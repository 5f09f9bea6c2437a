"""Editing with an explicit commit: edit, save, revert, undo/redo, add, delete, passwords."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from accessguard_gui.core import passwords, rbac
from accessguard_gui.core.audit import audit_entries
from accessguard_gui.core.changes import Delete, Entity, SetPasswordHash, Update
from accessguard_gui.core.database import Database
from accessguard_gui.ui.password_dialog import PasswordDialog
from accessguard_gui.ui.record_form import RecordForm

from .helpers import cell_text, row_of_user, type_into_cell, user_id, users_in_file


def test_edit_cell_then_save_reaches_the_file(qtbot: Any, window: Any, seeded: Database) -> None:
    page = window.page("users")
    row = row_of_user(page, seeded, "bob")
    type_into_cell(qtbot, page, row, "display_name", "Robert Baker")

    assert window.windowTitle().endswith("*")
    assert cell_text(page, row, "display_name") == "Robert Baker"
    assert users_in_file(seeded.path)["bob"].display_name == "Bob Baker"  # not yet saved

    with qtbot.waitSignal(window.saved, timeout=5000) as saved:
        window.act_save.trigger()
    assert saved.args == [1]
    assert users_in_file(seeded.path)["bob"].display_name == "Robert Baker"
    assert not window.windowTitle().endswith("*")
    with seeded.read() as s:
        entry = audit_entries(s, limit=5)[0]
    assert entry.action == "Save 1 change" and entry.operation == "update"


def test_ctrl_s_saves(qtbot: Any, window: Any, seeded: Database) -> None:
    page = window.page("users")
    type_into_cell(qtbot, page, row_of_user(page, seeded, "bob"), "email", "rb@example.org")
    with qtbot.waitSignal(window.saved, timeout=5000):
        qtbot.keyClick(page.view, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert users_in_file(seeded.path)["bob"].email == "rb@example.org"


def test_invalid_cell_value_is_refused_with_a_reason(
    qtbot: Any, window: Any, seeded: Database
) -> None:
    page = window.page("users")
    row = row_of_user(page, seeded, "bob")
    type_into_cell(qtbot, page, row, "email", "not an address")
    assert window.store.is_empty()
    assert "not an e-mail address" in window.statusBar().currentMessage()
    assert cell_text(page, row, "email") == "bob@example.org"


def test_revert_asks_then_throws_edits_away(
    qtbot: Any, window: Any, seeded: Database, dialogs: Any
) -> None:
    page = window.page("users")
    row = row_of_user(page, seeded, "alice")
    type_into_cell(qtbot, page, row, "display_name", "Alice Changed")

    dialogs.confirm_answer = False
    window.act_revert.trigger()
    assert len(window.store) == 1 and cell_text(page, row, "display_name") == "Alice Changed"

    dialogs.confirm_answer = True
    window.act_revert.trigger()
    assert len(dialogs.confirms) == 2
    assert window.store.is_empty()
    assert cell_text(page, row_of_user(page, seeded, "alice"), "display_name") == "Alice Archer"
    assert not window.windowTitle().endswith("*")
    assert users_in_file(seeded.path)["alice"].display_name == "Alice Archer"


def test_undo_and_redo_walk_the_pending_edits(qtbot: Any, window: Any, seeded: Database) -> None:
    page = window.page("users")
    row = row_of_user(page, seeded, "alice")
    type_into_cell(qtbot, page, row, "display_name", "First")
    type_into_cell(qtbot, page, row, "display_name", "Second")
    assert cell_text(page, row, "display_name") == "Second"

    qtbot.keyClick(page.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert cell_text(page, row, "display_name") == "First"
    window.act_undo.trigger()
    assert cell_text(page, row, "display_name") == "Alice Archer"
    assert not window.act_undo.isEnabled() and not window.windowTitle().endswith("*")

    qtbot.keyClick(
        page.view,
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert cell_text(page, row, "display_name") == "First"
    window.act_redo.trigger()
    assert cell_text(page, row, "display_name") == "Second"
    with qtbot.waitSignal(window.saved, timeout=5000):
        window.act_save.trigger()
    assert users_in_file(seeded.path)["alice"].display_name == "Second"


def test_delete_marks_several_rows_until_save(qtbot: Any, window: Any, seeded: Database) -> None:
    page = window.page("users")
    rows_before = page.model.rowCount()
    page.select_row(row_of_user(page, seeded, "alice"))
    page.view.selectionModel().select(
        page.model.index(row_of_user(page, seeded, "bob"), 0),
        page.view.selectionModel().SelectionFlag.Select
        | page.view.selectionModel().SelectionFlag.Rows,
    )
    page.view.setFocus()
    qtbot.keyClick(page.view, Qt.Key.Key_Delete)

    deletes = [e for e in window.store.edits() if isinstance(e, Delete)]
    assert {d.id for d in deletes} == {user_id(seeded, "alice"), user_id(seeded, "bob")}
    assert page.model.rowCount() == rows_before  # marked, not removed
    assert set(users_in_file(seeded.path)) == {"alice", "bob", "carol"}

    with qtbot.waitSignal(window.saved, timeout=5000):
        window.act_save.trigger()
    assert set(users_in_file(seeded.path)) == {"carol"}


def test_add_user_through_the_form(
    qtbot: Any, window: Any, seeded: Database, monkeypatch: Any
) -> None:
    asked: list[Any] = []

    def answer(_cls: Any, _parent: Any, entity: Entity, initial: Any = None, **_kw: Any) -> Any:
        asked.append((entity, initial))
        return {"username": "dave", "email": "dave@example.org", "active": True}

    monkeypatch.setattr(RecordForm, "ask", classmethod(answer))
    window.show_page(0)
    qtbot.keyClick(window.page("users").view, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert asked == [(Entity.USER, None)]
    assert window.windowTitle().endswith("*")
    with qtbot.waitSignal(window.saved, timeout=5000):
        window.act_save.trigger()
    dave = users_in_file(seeded.path)["dave"]
    assert dave.display_name == "dave" and dave.email == "dave@example.org"


def test_enter_opens_the_form_and_its_changes_become_one_edit(
    qtbot: Any, window: Any, seeded: Database, monkeypatch: Any
) -> None:
    seen: list[Any] = []

    def answer(_cls: Any, _parent: Any, entity: Entity, initial: Any = None, **_kw: Any) -> Any:
        seen.append(dict(initial))
        return {"display_name": "Carol C.", "active": True}

    monkeypatch.setattr(RecordForm, "ask", classmethod(answer))
    page = window.page("users")
    page.select_row(row_of_user(page, seeded, "carol"))
    page.view.setFocus()
    qtbot.keyClick(page.view, Qt.Key.Key_Return)
    assert seen and seen[0]["username"] == "carol" and seen[0]["active"] is False
    (edit,) = window.store.edits()
    assert isinstance(edit, Update) and dict(edit.values) == {
        "display_name": "Carol C.",
        "active": True,
    }
    with qtbot.waitSignal(window.saved, timeout=5000):
        window.act_save.trigger()
    carol = users_in_file(seeded.path)["carol"]
    assert carol.display_name == "Carol C." and carol.active is True


def test_password_edit_carries_only_the_hash(
    qtbot: Any, window: Any, seeded: Database, monkeypatch: Any
) -> None:
    secret = "correct horse battery"
    digest = passwords.hash_password(secret)
    monkeypatch.setattr(PasswordDialog, "ask", classmethod(lambda _c, _p, _u: digest))
    page = window.page("users")
    page.select_row(row_of_user(page, seeded, "bob"))
    window.act_password.trigger()
    (edit,) = window.store.edits()
    assert isinstance(edit, SetPasswordHash) and edit.password_hash == digest
    assert secret not in repr(edit)
    with qtbot.waitSignal(window.saved, timeout=5000):
        window.act_save.trigger()
    fresh = Database(seeded.path, create=False)
    try:
        with fresh.read() as s:
            assert rbac.verify_password(s, "bob", secret)
            assert all(secret not in str(e) and digest not in str(e) for e in audit_entries(s))
    finally:
        fresh.close()
    assert users_in_file(seeded.path)["bob"].has_password


def test_new_rows_are_shown_edited_and_withdrawn_before_saving(
    qtbot: Any, window: Any, seeded: Database, monkeypatch: Any
) -> None:
    answers = iter(
        [
            {"name": "Payrol", "description": ""},
            {"name": "Payroll", "description": "Runs the payroll"},
        ]
    )
    monkeypatch.setattr(RecordForm, "ask", classmethod(lambda *_a, **_k: next(answers)))
    window.show_page(1)
    page = window.page("roles")
    window.act_add.trigger()
    assert page.model.rowCount() == 3  # the new role shows at the top
    page.select_row(0)
    assert "New" in page.details.record.status.text()
    assert page.details.record.title.text() == "Payrol"

    page.view.setFocus()
    qtbot.keyClick(page.view, Qt.Key.Key_Return)  # fix the typo in its form
    (create,) = window.store.edits()
    assert create.values["name"] == "Payroll"

    page.select_row(0)
    qtbot.keyClick(page.view, Qt.Key.Key_Delete)  # a new row is simply dropped
    assert window.store.is_empty() and page.model.rowCount() == 2


def test_review_dialog_saves_through_the_window(qtbot: Any, window: Any, seeded: Database) -> None:
    page = window.page("users")
    type_into_cell(qtbot, page, row_of_user(page, seeded, "carol"), "display_name", "Carol R.")
    dialog = window.review_changes()
    qtbot.addWidget(dialog)
    assert dialog.save_button.isEnabled()
    with qtbot.waitSignal(window.saved, timeout=5000):
        dialog.save_button.click()
    assert window.store.is_empty()
    assert users_in_file(seeded.path)["carol"].display_name == "Carol R."


def test_a_new_review_replaces_the_last_one(qtbot: Any, window: Any, seeded: Database) -> None:
    from accessguard_gui.ui.access.review import ReviewChangesDialog

    page = window.page("users")
    type_into_cell(qtbot, page, row_of_user(page, seeded, "carol"), "display_name", "Carol R.")
    first = window.review_changes()
    first.close_button.click()
    second = window.review_changes()
    qtbot.waitUntil(lambda: window.findChildren(ReviewChangesDialog) == [second])
    assert second.isVisible() and second.save_button.isEnabled()
    second.close_button.click()
