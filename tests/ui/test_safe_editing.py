"""Issue 12.1: typing in the grid never edits; it jumps to a row. Edits are deliberate
(F2, Enter, double-click), the form focuses the clicked field, and every change is
described as old → new (Review, Undo/Redo)."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QLineEdit

from accessguard_gui.core.changes import Entity
from accessguard_gui.core.database import Database
from accessguard_gui.ui import table_page
from accessguard_gui.ui.record_form import RecordForm

from .helpers import cell_text, column_of, row_of_user, type_into_cell


def _focus_cell(qtbot: Any, page: Any, row: int, key: str) -> None:
    page.view.setFocus()
    page.view.setCurrentIndex(page.model.index(row, column_of(page, key)))
    qtbot.waitUntil(page.view.hasFocus)


def _open_editors(page: Any) -> list[QLineEdit]:
    return [w for w in page.view.findChildren(QLineEdit) if w.isVisible()]


def test_typing_in_the_grid_jumps_to_the_row_and_never_edits(
    qtbot: Any, window: Any, seeded: Database
) -> None:
    page = window.page("users")
    _focus_cell(qtbot, page, row_of_user(page, seeded, "alice"), "username")
    qtbot.keyClicks(page.view, "bo")
    assert page.view.state() != QAbstractItemView.State.EditingState
    assert not _open_editors(page)
    assert window.store.is_empty()
    assert page.current_row() == row_of_user(page, seeded, "bob")
    assert cell_text(page, row_of_user(page, seeded, "alice"), "username") == "alice"


def test_typed_characters_accumulate_then_start_afresh(
    qtbot: Any, window: Any, seeded: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = window.page("users")
    _focus_cell(qtbot, page, 0, "username")
    qtbot.keyClicks(page.view, "ca")  # "ca" (carol), not "a" (alice)
    assert page.current_row() == row_of_user(page, seeded, "carol")
    monkeypatch.setattr(table_page, "TYPE_AHEAD_MS", 0)  # as after a pause
    qtbot.keyClick(page.view, Qt.Key.Key_A)
    assert page.current_row() == row_of_user(page, seeded, "alice")


def test_type_ahead_keeps_the_column_and_says_when_nothing_matches(
    qtbot: Any, window: Any, seeded: Database
) -> None:
    page = window.page("users")
    _focus_cell(qtbot, page, 0, "email")
    qtbot.keyClicks(page.view, "zz")
    assert page.current_row() == 0
    assert "No row whose Username starts with \u201czz\u201d" in window.statusBar().currentMessage()
    qtbot.keyClicks(page.view, "")  # nothing typed: nothing happens
    page.view.keyboardSearch("")
    assert page.view.currentIndex().column() == column_of(page, "email")


def test_type_ahead_follows_the_sorted_column(qtbot: Any, window: Any, seeded: Database) -> None:
    page = window.page("users")
    page.view.sortByColumn(column_of(page, "display_name"), Qt.SortOrder.DescendingOrder)
    page.model.wait_shown()
    _focus_cell(qtbot, page, 0, "username")
    qtbot.keyClicks(page.view, "bob b")  # display names, any case
    assert page.current_row() == row_of_user(page, seeded, "bob")
    page.view.sortByColumn(column_of(page, "created_at"), Qt.SortOrder.AscendingOrder)
    page.model.wait_shown()
    qtbot.keyClick(page.view, Qt.Key.Key_Z)
    assert "sort by a text column" in window.statusBar().currentMessage()


def test_f2_edits_the_cell_in_place(qtbot: Any, window: Any, seeded: Database) -> None:
    page = window.page("users")
    row = row_of_user(page, seeded, "bob")
    type_into_cell(qtbot, page, row, "display_name", "Robert Baker")  # F2, type, Enter
    assert cell_text(page, row, "display_name") == "Robert Baker"
    (edit,) = window.store.edits()
    assert edit.describe() == "Change user bob: display name Bob Baker \u2192 Robert Baker"


def test_enter_and_double_click_open_the_form_on_the_cells_field(
    qtbot: Any, window: Any, seeded: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str | None] = []

    def answer(_cls: Any, _parent: Any, _entity: Any, _values: Any, **kw: Any) -> Any:
        asked.append(kw.get("focus"))
        return None

    monkeypatch.setattr(RecordForm, "ask", classmethod(answer))
    page = window.page("users")
    row = row_of_user(page, seeded, "bob")
    _focus_cell(qtbot, page, row, "display_name")
    qtbot.keyClick(page.view, Qt.Key.Key_Return)
    assert asked == ["display_name"]

    rect = page.view.visualRect(page.model.index(row, column_of(page, "email")))
    # A real double-click: press and release, then the double-click event.
    qtbot.mouseClick(page.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(page.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert asked == ["display_name", "email"]
    assert not _open_editors(page) and window.store.is_empty()


def test_the_form_opens_with_the_focus_on_that_field(qtbot: Any) -> None:
    values = {"username": "bob", "display_name": "Bob Baker", "email": "bob@example.org"}
    form = RecordForm(Entity.USER, {**values, "active": True}, focus="email")
    qtbot.addWidget(form)
    form.show()
    qtbot.waitExposed(form)
    form.activateWindow()
    qtbot.waitUntil(lambda: form.focusWidget() is form.editors["email"])
    editor = form.editors["email"]
    assert isinstance(editor, QLineEdit) and editor.selectedText() == "bob@example.org"
    qtbot.keyClicks(editor, "robert@example.org")  # typing replaces the selected value
    assert form.changed_values() == {"email": "robert@example.org"}


def test_the_form_describes_its_change_as_old_to_new(
    qtbot: Any, window: Any, seeded: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        RecordForm, "ask", classmethod(lambda *_a, **_k: {"username": "alice.a"})
    )
    page = window.page("users")
    _focus_cell(qtbot, page, row_of_user(page, seeded, "alice"), "username")
    qtbot.keyClick(page.view, Qt.Key.Key_Return)
    (edit,) = window.store.edits()
    assert edit.describe() == "Change user alice: username alice \u2192 alice.a"


def test_undo_and_redo_say_what_they_undo(qtbot: Any, window: Any, seeded: Database) -> None:
    page = window.page("users")
    assert window.act_undo.text() == "Undo" and not window.act_undo.isEnabled()
    type_into_cell(qtbot, page, row_of_user(page, seeded, "alice"), "username", "alicia")
    change = "Change user alice: username alice \u2192 alicia"
    assert window.act_undo.text() == f"Undo {change}"
    assert window.act_undo.iconText() == "Undo"  # the toolbar button stays short
    qtbot.keyClick(page.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.store.is_empty()
    assert window.act_redo.text() == f"Redo {change}"
    assert window.statusBar().currentMessage() == f"Undone: {change}"


def test_review_changes_lists_old_and_new_values(
    qtbot: Any, window: Any, seeded: Database
) -> None:
    from accessguard_gui.ui.access.review import ReviewChangesDialog

    page = window.page("users")
    type_into_cell(qtbot, page, row_of_user(page, seeded, "bob"), "email", "rb@example.org")
    type_into_cell(qtbot, page, row_of_user(page, seeded, "bob"), "email", "robert@example.org")
    dialog = ReviewChangesDialog(seeded, window.store, None)
    qtbot.addWidget(dialog)
    dialog.show()
    # Two edits of one field are saved as one change: from what was first seen to the last.
    qtbot.waitUntil(
        lambda: any(
            "Change user bob: email bob@example.org \u2192 robert@example.org" in line
            for line in dialog.edit_lines()
        )
    )


def test_type_ahead_in_a_large_table_runs_off_the_gui_thread(
    qtbot: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A table treated like a million rows: the lookup (one seek and one count in SQL)
    runs on a worker, and the row is selected when it answers."""
    import threading

    from accessguard_gui.core import browse, type_ahead
    from accessguard_gui.ui.pending import PendingStore
    from accessguard_gui.ui.table_model import RecordTableModel
    from accessguard_gui.ui.table_page import PAGES, TablePage

    from .test_table_model import add_users

    path = tmp_path / "users.db"
    Database(path, operator="tester").close()
    add_users(path, 3000)
    db = Database(path, operator="tester")
    threads: list[int] = []
    real = type_ahead.first_with_prefix

    def recording(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(type_ahead, "first_with_prefix", recording)
    try:
        model = RecordTableModel(
            db, browse.USERS, PendingStore(), background_rows=0, inline_budget=0
        )
        page = TablePage(PAGES[0], model)
        qtbot.addWidget(page)
        page.show()
        qtbot.waitExposed(page)
        page.view.setFocus()
        page.view.setCurrentIndex(model.index(0, 0))
        qtbot.waitUntil(page.view.hasFocus)
        qtbot.keyClicks(page.view, "USER0029")
        qtbot.waitUntil(lambda: page.current_row() not in (None, 0), timeout=10_000)
        row = page.current_row()
        assert row is not None
        assert model.record(row)["username"].startswith("user0029")
        assert not model.record(row - 1)["username"].startswith("user0029")
        assert threads and threading.get_ident() not in threads
        model.close()
    finally:
        db.close()


def test_type_ahead_to_a_row_not_yet_counted_selects_it_once_counted(
    qtbot: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large table shows its first page before it is counted: a name typed at once that
    lies past the rows counted so far is not "no match" — it is selected when counted."""
    import threading

    from accessguard_gui.core import browse
    from accessguard_gui.ui import table_model
    from accessguard_gui.ui.pending import PendingStore
    from accessguard_gui.ui.table_model import RecordTableModel
    from accessguard_gui.ui.table_page import PAGES, TablePage

    from .test_table_model import add_users

    path = tmp_path / "users.db"
    Database(path, operator="tester").close()
    add_users(path, 3000)
    db = Database(path, operator="tester")
    release = threading.Event()
    real = table_model.count_slices

    def held(*args: Any, **kwargs: Any) -> Any:
        release.wait(20)  # the count is slow: it ends when the test says so
        return real(*args, **kwargs)

    monkeypatch.setattr(table_model, "count_slices", held)
    notices: list[str] = []
    try:
        model = RecordTableModel(
            db, browse.USERS, PendingStore(), background_rows=0, inline_budget=0
        )
        page = TablePage(PAGES[0], model)
        page.notice.connect(notices.append)
        qtbot.addWidget(page)
        page.show()
        qtbot.waitExposed(page)
        qtbot.waitUntil(lambda: model.rowCount() > 0 and model.is_counting())
        page.view.setFocus()
        page.view.setCurrentIndex(model.index(0, 0))
        qtbot.keyClicks(page.view, "USER0029")
        qtbot.wait(300)  # the lookup answered meanwhile, with a row past the count
        assert model.is_counting() and model.rowCount() < 2900
        assert notices == [] and page.current_row() == 0
        release.set()
        qtbot.waitUntil(lambda: page.current_row() not in (None, 0), timeout=10_000)
        row = page.current_row()
        assert row is not None and model.record(row)["username"] == "user002900"
        assert notices == []
        model.close()
    finally:
        release.set()
        db.close()


def test_a_space_typed_in_a_name_does_not_tick_the_check_box(
    qtbot: Any, window: Any, seeded: Database
) -> None:
    page = window.page("users")
    _focus_cell(qtbot, page, 0, "active")
    qtbot.keyClicks(page.view, "bob b")
    assert window.store.is_empty()
    assert page.current_row() == row_of_user(page, seeded, "bob")
    assert page.view.currentIndex().column() == column_of(page, "active")


def test_space_on_its_own_still_ticks_the_check_box(
    qtbot: Any, window: Any, seeded: Database
) -> None:
    page = window.page("users")
    _focus_cell(qtbot, page, row_of_user(page, seeded, "carol"), "active")
    qtbot.keyClick(page.view, Qt.Key.Key_Space)
    (edit,) = window.store.edits()
    assert edit.describe() == "Change user carol: active no \u2192 yes"


def test_a_pending_new_record_opens_on_the_cells_field_too(
    qtbot: Any, window: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[Any, Any]] = []

    def answer(_cls: Any, _parent: Any, _entity: Any, values: Any, **kw: Any) -> Any:
        asked.append((kw.get("focus"), kw.get("creating")))
        return None if values else {"username": "dave", "display_name": "Dave Doe"}

    monkeypatch.setattr(RecordForm, "ask", classmethod(answer))
    page = window.page("users")
    qtbot.keyClick(page.view, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert page.model.created_edit(0) is not None
    _focus_cell(qtbot, page, 0, "display_name")
    qtbot.keyClick(page.view, Qt.Key.Key_Return)
    assert asked[-1] == ("display_name", True)
