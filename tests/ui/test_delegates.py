"""Cell editors fit the value: checkbox for flags, date editor for dates, combo for choices."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QDate, Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QCheckBox, QComboBox, QDateEdit, QStyleOptionViewItem, QWidget

from accessguard_gui.core.changes import Entity
from accessguard_gui.ui.delegates import RecordDelegate


class _Model(QStandardItemModel):
    """A stand-in table: column keys and choices the way the real model reports them."""

    keys = ("username", "active", "expires_at", "kind")

    def column_key(self, column: int) -> str:
        return self.keys[column]

    def column_choices(self, column: int) -> list[str]:
        return ["open", "read"] if self.keys[column] == "kind" else []


def _model() -> _Model:
    model = _Model(1, 4)
    values: list[Any] = ["alice", True, datetime(2027, 3, 1, tzinfo=UTC), "read"]
    for column, value in enumerate(values):
        item = QStandardItem()
        item.setData(value, Qt.ItemDataRole.EditRole)
        model.setItem(0, column, item)
    return model


def test_editors_fit_the_values(qtbot: Any) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    model = _model()
    delegate = RecordDelegate(Entity.USER)
    option = QStyleOptionViewItem()

    date_index = model.index(0, 2)
    editor = delegate.createEditor(parent, option, date_index)
    assert isinstance(editor, QDateEdit) and editor.calendarPopup()
    delegate.setEditorData(editor, date_index)
    assert editor.date() == QDate(2027, 3, 1)
    editor.setDate(QDate(2028, 1, 31))
    delegate.setModelData(editor, model, date_index)
    assert date_index.data(Qt.ItemDataRole.EditRole) == datetime(2028, 1, 31, tzinfo=UTC)

    assert isinstance(delegate.createEditor(parent, option, model.index(0, 1)), QCheckBox)
    combo = delegate.createEditor(parent, option, model.index(0, 3))
    assert isinstance(combo, QComboBox)
    assert [combo.itemText(i) for i in range(combo.count())] == ["open", "read"]


def test_refused_text_never_reaches_the_model(qtbot: Any) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    model = _model()
    delegate = RecordDelegate(Entity.USER)
    index = model.index(0, 0)
    editor = delegate.createEditor(parent, QStyleOptionViewItem(), index)
    delegate.setEditorData(editor, index)
    editor.setText("no spaces allowed")  # type: ignore[attr-defined]
    with qtbot.waitSignal(delegate.invalid) as refused:
        delegate.setModelData(editor, model, index)
    assert "may contain only" in refused.args[0]
    assert index.data(Qt.ItemDataRole.EditRole) == "alice"
