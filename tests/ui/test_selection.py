"""Selections on huge tables stay ranges: Ctrl+A never asks the model about every row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from accessguard_gui.core import browse
from accessguard_gui.core.database import Database
from accessguard_gui.ui.pending import PendingStore
from accessguard_gui.ui.table_model import RecordTableModel
from accessguard_gui.ui.table_page import PAGES, TablePage

from .test_table_model import add_users

ROWS = 1_000_000
Index = QModelIndex | QPersistentModelIndex


class CountingModel(QAbstractTableModel):
    """A million plain rows that count how often Qt asks for flags() and data()."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = {"flags": 0, "data": 0}

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else ROWS

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else 6

    def data(self, index: Index, role: int = 0) -> Any:
        self.calls["data"] += 1
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{index.row()}:{index.column()}"
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        self.calls["flags"] += 1
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def record(self, _row: int) -> None:
        return None  # the page's details pane asks; plain rows have no record


class CountingRecordModel(RecordTableModel):
    calls: dict[str, int]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        self.calls["data"] = self.calls.get("data", 0) + 1
        return super().data(index, role)

    def flags(self, index: Index) -> Qt.ItemFlag:
        self.calls["flags"] = self.calls.get("flags", 0) + 1
        return super().flags(index)


def _page(qtbot: Any, model: Any) -> TablePage:
    page = TablePage(PAGES[0], model)
    qtbot.addWidget(page)
    page.resize(1200, 800)
    page.show()
    qtbot.waitExposed(page)
    return page


def test_ctrl_a_on_a_million_rows_asks_only_the_visible_cells(qtbot: Any) -> None:
    model = CountingModel()
    page = _page(qtbot, model)
    page.view.setFocus()
    model.calls.update(flags=0, data=0)
    qtbot.keyClick(page.view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    page.grab()  # paints the headers and the viewport, as after any change of selection
    selection = page.view.selectionModel().selection()
    assert selection.count() == 1  # one range, not a million rows
    assert (selection.at(0).top(), selection.at(0).bottom()) == (0, ROWS - 1)
    assert page.selected_count() == ROWS
    assert page.selected_ranges() == [(0, ROWS - 1)]
    # Qt's headers used to ask flags() for every row of every column (6,000,000 calls).
    assert model.calls["flags"] < 5_000
    assert model.calls["data"] < 20_000
    # Shift+click far below extends the one range.
    page.view.scrollToBottom()
    qtbot.keyClick(page.view, Qt.Key.Key_Home, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(
        page.view, Qt.Key.Key_End,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert page.selected_ranges() == [(0, ROWS - 1)]


def test_a_new_model_keeps_the_headers_out_of_the_selection(qtbot: Any) -> None:
    page = _page(qtbot, CountingModel())
    other = CountingModel()
    page.view.setModel(other)  # a new selection model: headers get their own empty one
    page.view.selectAll()
    header = page.view.horizontalHeader()
    assert header.selectionModel() is not page.view.selectionModel()
    assert not header.selectionModel().hasSelection()
    assert page.view.selectionModel().hasSelection()


@pytest.fixture
def users_file(tmp_path: Path) -> Database:
    path = tmp_path / "many.db"
    Database(path, operator="tester").close()
    add_users(path, 30_000)
    db = Database(path, operator="tester")
    yield db  # type: ignore[misc]
    db.close()


def test_select_all_on_a_record_model_reads_no_row_it_does_not_show(
    qtbot: Any, users_file: Database
) -> None:
    model = CountingRecordModel(users_file, browse.USERS, PendingStore())
    model.calls = {}
    page = _page(qtbot, model)
    qtbot.waitUntil(lambda: model.rowCount() == 30_000)
    model.calls.clear()
    page.view.setFocus()
    qtbot.keyClick(page.view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    page.grab()
    assert page.selected_count() == 30_000
    assert page.view.selectionModel().selection().count() == 1
    assert model.calls.get("flags", 0) < 2_000
    assert model.cached_pages() <= 2  # nothing loaded the table to select it


class GrowingModel(QAbstractTableModel):
    """Rows appended at the end later, as a large table's count arrives off the GUI
    thread (its first page is shown before it is counted)."""

    def __init__(self, rows: int) -> None:
        super().__init__()
        self.rows = rows

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else self.rows

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else 3

    def data(self, index: Index, role: int = 0) -> Any:
        return f"{index.row()}:{index.column()}"

    def counted(self, rows: int) -> None:
        self.beginInsertRows(QModelIndex(), self.rows, rows - 1)
        self.rows = rows
        self.endInsertRows()


def _selected_rows(view: Any) -> int:
    selection = view.selectionModel().selection()
    return sum(
        selection.at(i).bottom() - selection.at(i).top() + 1 for i in range(selection.count())
    )


def test_ctrl_a_while_counting_selects_the_rows_counted_after_it(qtbot: Any) -> None:
    from PySide6.QtWidgets import QAbstractItemView

    from accessguard_gui.ui.table_page import RecordTableView

    view = RecordTableView()
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    model = GrowingModel(256)
    view.setModel(model)
    qtbot.addWidget(view)
    view.show()
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert _selected_rows(view) == 256
    model.counted(50_000)
    model.counted(1_000_000)
    assert _selected_rows(view) == 1_000_000
    assert view.selectionModel().selection().count() == 1  # still one range


def test_a_partial_selection_does_not_grow_with_counted_rows(qtbot: Any) -> None:
    from PySide6.QtWidgets import QAbstractItemView

    from accessguard_gui.ui.table_page import RecordTableView

    view = RecordTableView()
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    model = GrowingModel(256)
    view.setModel(model)
    qtbot.addWidget(view)
    view.selectRow(10)
    model.counted(1_000)
    assert _selected_rows(view) == 1
