"""Small helpers to find rows and columns and to type into a cell like a user would."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QApplication, QLineEdit

from accessguard_gui.core import rbac
from accessguard_gui.core.database import Database
from accessguard_gui.ui.delegates import column_field
from accessguard_gui.ui.table_page import TablePage


def drop_pending(window: Any) -> None:
    """``before_close_func`` for qtbot.addWidget: pytest-qt closes windows before fixtures
    are torn down, and a window with pending edits would refuse to close."""
    window.store.clear()


def show_window(qtbot: Any, window: Any) -> None:
    """Track, show and activate a main window (keyboard focus goes to it, not to a window
    an earlier test left active)."""
    qtbot.addWidget(window, before_close_func=drop_pending)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)


def column_of(page: TablePage, key: str) -> int:
    for column in range(page.model.columnCount()):
        if column_field(page.model, column) == key:
            return column
    raise AssertionError(f"no column {key!r} on page {page.kind.key}")


def user_id(db: Database, username: str) -> int:
    with db.read() as s:
        return rbac.get_user(s, username).id


def row_of_user(page: TablePage, db: Database, username: str) -> int:
    row = page.model.row_for_id(user_id(db, username))
    assert row is not None, f"{username} is not shown"
    return row


def cell_text(page: TablePage, row: int, key: str) -> str:
    value: Any = page.model.index(row, column_of(page, key)).data(Qt.ItemDataRole.DisplayRole)
    return "" if value is None else str(value)


def type_into_cell(qtbot: Any, page: TablePage, row: int, key: str, text: str) -> None:
    """Open the cell editor (F2), replace its text and press Enter."""
    index = page.model.index(row, column_of(page, key))
    page.view.setFocus()
    page.view.setCurrentIndex(index)
    qtbot.keyClick(page.view, Qt.Key.Key_F2)
    editors = [w for w in page.view.findChildren(QLineEdit) if w.isVisible()]
    assert len(editors) == 1, "no cell editor opened"
    editor = editors[0]
    editor.selectAll()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    # The delegate commits and closes the editor through a queued call.
    qtbot.waitUntil(lambda: page.view.state() != QAbstractItemView.State.EditingState)


def users_in_file(path: Any) -> dict[str, Any]:
    """What a fresh connection to the file holds (not the window's view of it)."""
    from sqlalchemy import select

    from accessguard_gui.core.models import User
    from accessguard_gui.core.rows import UserRow

    fresh = Database(path, create=False)
    try:
        with fresh.read() as s:
            return {u.username: UserRow.of(u) for u in s.scalars(select(User))}
    finally:
        fresh.close()
