"""Cell editors that fit the value: a checkbox for flags, a date editor for dates, a combo
for choices, a line edit for text — each checked by the same core rule as the form.

A value the rule refuses is not handed to the model; ``invalid`` carries the reason so the
window can show it where the user is looking (status bar and tooltip).

Painting: a plain cell (a stored row without pending marks; not the focused or hovered
cell) is drawn here from the model's pre-formatted string or check state, with one
Python call to the model (``plain_cell``) instead of Qt's ~7 ``data()`` calls per cell
(one per role, ~3.7 µs each), and a check box is blitted from a pixmap the style drew
once. Every other cell is painted the standard way. Both draw alike: the style's
selection panel and check box, the palette's text colour for the cell's state, the
style's text margin and the view's elide mode.

Signals:
    invalid: a typed value was refused (argument: the message for the user).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QDate,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRect,
    Qt,
    Signal,
)
from PySide6.QtGui import QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QLineEdit,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from ..core.changes import Entity
from . import fields as fields_mod
from .fields import FieldKind

Index = QModelIndex | QPersistentModelIndex
FIELD_ROLE_NAMES = ("column_key", "column_name", "field_name")

_SELECTED = QStyle.StateFlag.State_Selected.value
_ENABLED = QStyle.StateFlag.State_Enabled.value
_ACTIVE = QStyle.StateFlag.State_Active.value
_HAS_FOCUS = QStyle.StateFlag.State_HasFocus.value
_MOUSE_OVER = QStyle.StateFlag.State_MouseOver.value
#: The focused and the hovered cell are painted the standard way (focus frame, hover look).
_SLOW_STATES = _HAS_FOCUS | _MOUSE_OVER
#: What a check box's look depends on, besides checked and the palette.
_LOOK_STATES = _ENABLED | _ACTIVE
_CHECK = QStyle.PrimitiveElement.PE_IndicatorItemViewItemCheck
_CHECK_RECT = QStyle.SubElement.SE_ItemViewItemCheckIndicator
_PANEL = QStyle.PrimitiveElement.PE_PanelItemViewItem
_MARGIN = QStyle.PixelMetric.PM_FocusFrameHMargin
_TEXT = QPalette.ColorRole.Text
_HIGHLIGHTED_TEXT = QPalette.ColorRole.HighlightedText
_GROUPS = (QPalette.ColorGroup.Disabled, QPalette.ColorGroup.Inactive, QPalette.ColorGroup.Active)


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
        self._style: QStyle | None = None
        self._text_margin = 0
        self._checks: dict[tuple[bool, int, int, int], tuple[int, int, QPixmap]] = {}
        # The model last painted, and its fast lookups (getattr once, not per cell).
        self._model: QAbstractItemModel | None = None
        self._plain: Callable[[int, int], str | bool | None] | None = None
        self._right: Callable[[int], bool] | None = None

    def paint(  # noqa: N802 - Qt override
        self, painter: QPainter, option: QStyleOptionViewItem, index: Index
    ) -> None:
        """Plain cells drawn from one model lookup; the rest the standard way."""
        model = index.model()
        if model is not self._model:
            self._model = model
            self._plain = getattr(model, "plain_cell", None)
            self._right = getattr(model, "right_aligned", None)
        plain = self._plain
        value = plain(index.row(), index.column()) if plain is not None else None
        state = option.state.value  # an int: Python enum flags cost µs per operation
        if value is None or state & _SLOW_STATES or (type(value) is str and "\n" in value):
            super().paint(painter, option, index)
            return
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        if state & _SELECTED:
            style.drawPrimitive(_PANEL, option, painter, widget)
        rect: QRect = option.rect
        x, y, width, height = rect.x(), rect.y(), rect.width(), rect.height()
        if type(value) is bool:
            dx, dy, pixmap = self._check_box(value, option, state, style, widget)
            painter.drawPixmap(x + dx, y + dy, pixmap)
            return
        if not value:
            return
        # Qt's own choice of colour group (QCommonStyle::drawControl, CE_ItemViewItem).
        group = _GROUPS[0 if not state & _ENABLED else (2 if state & _ACTIVE else 1)]
        role = _HIGHLIGHTED_TEXT if state & _SELECTED else _TEXT
        painter.setPen(option.palette.color(group, role))
        margin = self._margin(style, widget)
        width -= 2 * margin
        x += margin
        # The painter has the view's font, which a plain cell (no FontRole) shows.
        metrics = option.fontMetrics
        shown = metrics.elidedText(value, option.textElideMode, width)
        if self._right is not None and self._right(index.column()):
            x += width - metrics.horizontalAdvance(shown)
        # Vertically centred on the baseline, as Qt's AlignVCenter places one line.
        painter.drawText(x, y + (height + metrics.ascent() - metrics.descent()) // 2, shown)

    def _margin(self, style: QStyle, widget: QWidget | None) -> int:
        """The style's text margin in a cell (QCommonStyle: focus frame margin + 1)."""
        if style is not self._style:
            self._style = style
            self._text_margin = style.pixelMetric(_MARGIN, None, widget) + 1
            self._checks.clear()
        return self._text_margin

    def _check_box(
        self,
        checked: bool,
        option: QStyleOptionViewItem,
        state: int,
        style: QStyle,
        widget: QWidget | None,
    ) -> tuple[int, int, QPixmap]:
        """The style's check box of a cell, drawn once per look and kept as a pixmap
        (Fusion draws it with gradients: most of a row's paint time otherwise), with
        where it goes in the cell (the place Qt's item layout gives it)."""
        self._margin(style, widget)  # forgets the pixmaps of another style
        rect = option.rect
        look = state & _LOOK_STATES
        key = (checked, look, rect.height(), option.palette.cacheKey())
        found = self._checks.get(key)
        if found is not None:
            return found
        opt = QStyleOptionViewItem(option)
        opt.rect = QRect(0, 0, rect.width(), rect.height())
        opt.features = QStyleOptionViewItem.ViewItemFeature.HasCheckIndicator
        opt.checkState = Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
        opt.text = ""
        place = style.subElementRect(_CHECK_RECT, opt, widget)
        ratio = widget.devicePixelRatioF() if widget is not None else 1.0
        pixmap = QPixmap(round(place.width() * ratio), round(place.height() * ratio))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        opt.rect = QRect(0, 0, place.width(), place.height())
        on = QStyle.StateFlag.State_On if checked else QStyle.StateFlag.State_Off
        opt.state = QStyle.StateFlag(look) | on
        paint = QPainter(pixmap)
        style.drawPrimitive(_CHECK, opt, paint, widget)
        paint.end()
        found = (place.x(), place.y(), pixmap)
        if len(self._checks) > 64:  # palettes come and go with theme changes
            self._checks.clear()
        self._checks[key] = found
        return found

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
