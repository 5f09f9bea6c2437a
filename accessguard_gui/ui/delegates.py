"""Cell editors that fit the value: a checkbox for flags, a date editor for dates, a combo
for choices, a line edit for text — each checked by the same core rule as the form.

A value the rule refuses is not handed to the model; ``invalid`` carries the reason so the
window can show it where the user is looking (status bar and tooltip).

Signals:
    invalid: a typed value was refused (argument: the message for the user).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QDate,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QLineEdit,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from ..core.changes import Entity
from . import fields as fields_mod
from .fields import FieldKind

Index = QModelIndex | QPersistentModelIndex
FIELD_ROLE_NAMES = ("column_key", "column_name", "field_name")


def column_field(model: QAbstractItemModel, column: int) -> str | None:
    """The record field a column shows (``"username"``), asked of the model."""
    for name in FIELD_ROLE_NAMES:
        method = getattr(model, name, None)
        if callable(method):
            value = method(column)
            if value:
                return str(value)
    spec = getattr(model, "spec", None)
    columns = getattr(spec, "columns", None)
    if columns is not None and 0 <= column < len(columns):
        col = columns[column]
        for attr in ("key", "name", "field"):
            value = getattr(col, attr, None)
            if isinstance(value, str):
                return value
    return None


def column_choices(model: QAbstractItemModel, column: int) -> list[str]:
    method = getattr(model, "column_choices", None)
    if callable(method):
        return [str(v) for v in (method(column) or [])]
    return []


class RecordDelegate(QStyledItemDelegate):
    """Editors by value kind, checked by the core rule of the column's field.

    Signals:
        invalid(str): a typed value was refused; it did not reach the model.
    """

    invalid = Signal(str)

    def __init__(self, entity: Entity | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.entity = entity

    def _field(self, index: Index) -> fields_mod.FormField | None:
        if self.entity is None:
            return None
        name = column_field(index.model(), index.column())
        return fields_mod.field(self.entity, name) if name else None

    def createEditor(  # noqa: N802 - Qt override
        self, parent: QWidget, option: QStyleOptionViewItem, index: Index
    ) -> QWidget:
        value = index.data(Qt.ItemDataRole.EditRole)
        item = self._field(index)
        choices = column_choices(index.model(), index.column())
        if isinstance(value, bool) or (item is not None and item.kind is FieldKind.BOOL):
            box = QCheckBox(parent)
            box.setAutoFillBackground(True)
            return box
        if isinstance(value, (datetime, date)) or (
            item is not None and item.kind is FieldKind.DATE
        ):
            editor = QDateEdit(parent)
            editor.setCalendarPopup(True)
            editor.setDisplayFormat("yyyy-MM-dd")
            return editor
        if choices or (item is not None and item.kind is FieldKind.CHOICE):
            combo = QComboBox(parent)
            combo.addItems(choices)
            return combo
        line = QLineEdit(parent)
        if item is not None and item.hint:
            line.setPlaceholderText(item.hint)
        return line

    def setEditorData(self, editor: QWidget, index: Index) -> None:  # noqa: N802
        value = index.data(Qt.ItemDataRole.EditRole)
        if isinstance(editor, QCheckBox):
            editor.setChecked(bool(value))
        elif isinstance(editor, QDateEdit):
            day = value.date() if isinstance(value, datetime) else value
            if isinstance(day, date):
                editor.setDate(QDate(day.year, day.month, day.day))
            else:
                editor.setDate(QDate.currentDate())
        elif isinstance(editor, QComboBox):
            editor.setCurrentText("" if value is None else str(value))
        elif isinstance(editor, QLineEdit):
            editor.setText("" if value is None else str(value))
        else:  # pragma: no cover - we create only the editors above
            super().setEditorData(editor, index)

    def editor_value(self, editor: QWidget) -> Any:
        if isinstance(editor, QCheckBox):
            return editor.isChecked()
        if isinstance(editor, QDateEdit):
            day = editor.date().toPython()
            assert isinstance(day, date)
            return datetime.combine(day, time(), tzinfo=UTC)
        if isinstance(editor, QComboBox):
            return editor.currentText()
        assert isinstance(editor, QLineEdit)
        return editor.text()

    def setModelData(  # noqa: N802 - Qt override
        self, editor: QWidget, model: QAbstractItemModel, index: Index
    ) -> None:
        value = self.editor_value(editor)
        if value == index.data(Qt.ItemDataRole.EditRole):
            return  # nothing changed: no pending edit
        item = self._field(index)
        if item is not None:
            message = item.validate(value, creating=False)
            if message is not None:
                self.invalid.emit(message)
                return
        if (
            isinstance(value, str)
            and item is not None
            and item.name == "email"
            and not value.strip()
        ):
            value = None
        model.setData(index, value, Qt.ItemDataRole.EditRole)

    def updateEditorGeometry(  # noqa: N802 - Qt override
        self, editor: QWidget, option: QStyleOptionViewItem, index: Index
    ) -> None:
        editor.setGeometry(option.rect)
