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

A whole table (``paint_view``, from RecordTableView.paintEvent) is painted in one Python
call: Qt's own pass calls into Python four times per cell before a cell is drawn. It
draws what that pass draws — row panels, cells, grid — pixel for pixel (a test compares
the two), and hands every cell that is not plain to Qt's steps for a cell.

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
    QLineF,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRect,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QFontMetricsF,
    QImage,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QLineEdit,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
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
_ROW_PANEL = QStyle.PrimitiveElement.PE_PanelItemViewRow
_ALTERNATE = QStyleOptionViewItem.ViewItemFeature.Alternate
_GRID_COLOUR = QStyle.StyleHint.SH_Table_GridLineColor
_GRID_ALWAYS = QStyle.StyleHint.SH_Table_AlwaysDrawLeftTopGridLines
_MARGIN = QStyle.PixelMetric.PM_FocusFrameHMargin
_TEXT = QPalette.ColorRole.Text
_HIGHLIGHTED_TEXT = QPalette.ColorRole.HighlightedText
_GROUPS = (QPalette.ColorGroup.Disabled, QPalette.ColorGroup.Inactive, QPalette.ColorGroup.Active)
#: What a plain cell's text colour depends on, besides the palette.
_COLOUR_STATES = _ENABLED | _ACTIVE | _SELECTED
#: Printable ASCII: the characters whose widths ``_advances`` keeps.
_ASCII = [chr(c) for c in range(32, 127)]
_ADVANCES: dict[str, dict[str, float]] = {}
#: The metrics of the font used last, and its widths.
_LAST_ADVANCES: list[tuple[QFontMetrics, dict[str, float]]] = []
#: Check boxes drawn once by the style (and which style), for every delegate: a new
#: table's first paint blits them at once. Key: checked, look, height, palette, ratio.
_CHECKS: dict[tuple[bool, int, int, int, float], tuple[int, int, QPixmap]] = {}
_CHECKS_STYLE: list[QStyle | None] = [None]
#: What the style's row panel paints (RecordDelegate._panel_look): per palette, state
#: and features.
_PANEL_LOOKS: dict[tuple[int, int, int], QColor | bool] = {}


def _forget_other_style(style: QStyle) -> None:
    """Drop what was drawn with or learnt of another style than ``style``."""
    if style is not _CHECKS_STYLE[0]:
        _CHECKS.clear()
        _PANEL_LOOKS.clear()
        _CHECKS_STYLE[0] = style


def _advances(font: QFont, metrics: QFontMetrics) -> dict[str, float]:
    """The width of each printable ASCII character in ``font`` (kept per font: a new
    view paints with the widths its font already has). The font's metrics, compared
    first, spare the font's key (a string built each time) for the font used last."""
    if _LAST_ADVANCES and metrics == _LAST_ADVANCES[0][0]:
        return _LAST_ADVANCES[0][1]
    key = font.key()
    found = _ADVANCES.get(key, {})
    if not found:
        exact = QFontMetricsF(font)
        found = {c: exact.horizontalAdvance(c) for c in _ASCII}
        if len(_ADVANCES) > 16:
            _ADVANCES.clear()
        _ADVANCES[key] = found
    _LAST_ADVANCES[:] = [(QFontMetrics(metrics), found)]
    return found


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
        # The model last painted, and its fast lookups (getattr once, not per cell).
        self._model: QAbstractItemModel | None = None
        self._plain: Callable[[int, int], str | bool | None] | None = None
        self._right: Callable[[int], bool] | None = None
        # Per palette and state, the text colour; per font, its metrics.
        self._pens: dict[tuple[int, int], QColor] = {}
        self._metrics: QFontMetrics | None = None
        self._baseline = 0  # ascent - descent
        self._advances: dict[str, float] = {}

    def paint(  # noqa: N802 - Qt override
        self, painter: QPainter, option: QStyleOptionViewItem, index: Index
    ) -> None:
        """Plain cells drawn from one model lookup; the rest the standard way."""
        model = index.model()
        if model is not self._model:
            self._use_model(model)
        plain = self._plain
        value = plain(index.row(), index.column()) if plain is not None else None
        # An int: Python's enum flags cost µs per operation (``.value`` is a property).
        state: int = option.state._value_
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
        palette = option.palette
        look = (palette.cacheKey(), state & _COLOUR_STATES)
        pen = self._pens.get(look)
        if pen is None:
            pen = self._pen(palette, state, look)
        painter.setPen(pen)
        metrics = option.fontMetrics
        if self._metrics is None or metrics != self._metrics:
            self._font_changed(option, metrics)
        self._text(
            painter,
            metrics,
            option.textElideMode,
            self._margin(style, widget),
            x,
            y,
            width,
            height,
            value,
            self._right is not None and self._right(index.column()),
        )

    def _use_model(self, model: QAbstractItemModel | None) -> None:
        """Look up the model's fast methods once (not per cell)."""
        self._model = model
        self._plain = getattr(model, "plain_cell", None)
        self._right = getattr(model, "right_aligned", None)

    def _text(
        self,
        painter: QPainter,
        metrics: QFontMetrics,
        elide: Qt.TextElideMode,
        margin: int,
        x: int,
        y: int,
        width: int,
        height: int,
        value: str,
        right: bool,
    ) -> None:
        """One line of a plain cell, in the painter's pen and font (the view's: a plain
        cell has no FontRole), placed as Qt's item layout places it."""
        width -= 2 * margin
        x += margin
        if not self._fits(value, width):
            value = metrics.elidedText(value, elide, width)
        if right:
            x += width - metrics.horizontalAdvance(value)
        # Vertically centred on the baseline, as Qt's AlignVCenter places one line.
        painter.drawText(x, y + (height + self._baseline) // 2, value)

    def paint_view(self, view: QTableView, event: QPaintEvent) -> bool:
        """Paint a table's cells the way ``QTableView.paintEvent`` does, in one Python
        call instead of one per cell; False (nothing painted) when the view is set up in
        a way this does not follow — then Qt paints it.

        Qt's own pass calls into Python four times per cell (the model's ``rowCount``
        and ``columnCount`` for each index, ``flags``, this delegate's ``paint``), and
        the delegate then asks the cell's option for its state, palette and metrics —
        most of the time of a first paint. Here the view's option is asked once, and
        each row's plain cells are drawn from the model's page straight away: the row
        panel (alternate rows), check boxes and text exactly as ``paint`` draws them,
        then the grid as Qt draws it. Every cell that is not plain — selected, current
        with focus, pending marks, a page not read yet — goes through
        Qt's own steps for a cell (``QTableViewPrivate::drawCell``): the row panel, then
        ``paint`` with the state Qt would give it. A view under the mouse is painted by Qt
        (which cell it takes as hovered is its own to know; Fusion draws it).
        """
        model = view.model()
        plain = getattr(model, "plain_cell", None)
        rows, columns = view.verticalHeader(), view.horizontalHeader()
        if (
            plain is None
            or view.isRightToLeft()
            or view.wordWrap()
            or rows.sectionsHidden()
            or rows.sectionsMoved()
            or columns.sectionsMoved()
            or view.state() == QAbstractItemView.State.DraggingState
            # The cell Qt takes as hovered is its own to know (Fusion draws it).
            or view.viewport().underMouse()
            or view.itemDelegate() is not self
            or columns.count() == 0
            or rows.count() == 0
        ):
            return False
        if model is not self._model:
            self._use_model(model)
        option = QStyleOptionViewItem()
        view.initViewItemOption(option)
        style = view.style()
        grid = view.showGrid()
        grid_size = 1 if grid else 0
        viewport = view.viewport()
        x_end = columns.length() - columns.offset() - 1
        y_end = rows.length() - rows.offset() - 1
        area = event.region().boundingRect()
        left_px, top_px = area.left(), area.top()
        right_px, bottom_px = min(area.right(), x_end), min(area.bottom(), y_end)
        if right_px < left_px or bottom_px < top_px:
            return True
        left = columns.visualIndexAt(left_px)
        right = columns.visualIndexAt(right_px)
        left = 0 if left == -1 else left
        right = columns.count() - 1 if right == -1 else right
        top = rows.visualIndexAt(top_px)
        bottom = rows.visualIndexAt(bottom_px)
        bottom = rows.count() - 1 if bottom == -1 else bottom
        if top == -1 or top > bottom:
            return True
        shown: list[tuple[int, int, int]] = []  # (column, x, width less the grid)
        for visual in range(left, right + 1):
            c = columns.logicalIndex(visual)
            if columns.isSectionHidden(c):
                continue
            if view.itemDelegateForColumn(c) is not None:
                return False
            shown.append((c, view.columnViewportPosition(c), view.columnWidth(c) - grid_size))
        # Cells Qt's steps paint, by row: selected cells, the current cell with focus.
        special: dict[int, set[int]] = {}
        selection = view.selectionModel()
        if selection is not None and selection.hasSelection():
            ranges = selection.selection()
            for held in (ranges.at(i) for i in range(ranges.count())):
                for r in range(max(held.top(), top), min(held.bottom(), bottom) + 1):
                    special.setdefault(r, set()).update(range(held.left(), held.right() + 1))
        current = view.currentIndex()
        if current.isValid() and (view.hasFocus() or viewport.hasFocus()):
            special.setdefault(current.row(), set()).add(current.column())

        base = option.state._value_
        alternate = view.alternatingRowColors()
        features = option.features
        alternate_features = features | _ALTERNATE
        palette = option.palette
        metrics = option.fontMetrics
        if self._metrics is None or metrics != self._metrics:
            self._font_changed(option, metrics)
        elide = option.textElideMode
        margin = self._margin(style, view)
        look = (palette.cacheKey(), base & _COLOUR_STATES)
        pen = self._pens.get(look)
        if pen is None:
            pen = self._pen(palette, base, look)
        # What the style's row panel of a plain cell paints (Fusion: nothing, or for an
        # alternate row one colour): nothing is not asked for cell by cell, and one
        # opaque colour fills a row in one go where the grid (opaque) covers the gaps.
        hint = style.styleHint(_GRID_COLOUR, option, view) & 0xFFFFFFFF if grid else 0
        one_fill = not grid or hint >> 24 == 0xFF
        looks = (
            self._panel_look(style, option, view, features),
            self._panel_look(style, option, view, alternate_features) if alternate else False,
        )
        aligned = {c: self._right is not None and self._right(c) for c, _x, _w in shown}
        span_x = shown[0][1] if shown else 0
        span = shown[-1][1] + shown[-1][2] - span_x if shown else 0
        painter = QPainter(viewport)
        pen_set = False
        text = self._text
        lines: list[int] = []  # each row's bottom (its grid line)
        for r in range(top, bottom + 1):
            y = view.rowViewportPosition(r)
            height = view.rowHeight(r) - grid_size
            lines.append(y + height)
            panel = looks[0]
            if alternate:
                option.features = alternate_features if r & 1 else features
                panel = looks[r & 1]
            odd = special.get(r)
            skip_panel = panel is True
            if one_fill and odd is None and isinstance(panel, QColor):
                painter.fillRect(span_x, y, span, height, panel)
                skip_panel = True
            for c, x, width in shown:
                value = plain(r, c)
                standard = (
                    value is None
                    or (odd is not None and c in odd)
                    or (type(value) is str and "\n" in value)
                )
                if standard or not skip_panel or type(value) is bool:
                    option.rect = QRect(x, y, width, height)
                if standard:
                    self._standard_cell(view, painter, option, model.index(r, c))
                    pen_set = False
                    continue
                if not skip_panel:
                    style.drawPrimitive(_ROW_PANEL, option, painter, view)
                if type(value) is bool:
                    dx, dy, pixmap = self._check_box(value, option, base, style, view)
                    painter.drawPixmap(x + dx, y + dy, pixmap)
                elif value:
                    if not pen_set:
                        painter.setPen(pen)
                        pen_set = True
                    text(painter, metrics, elide, margin, x, y, width, height, value, aligned[c])
        if grid:
            colour = QColor.fromRgba(hint)
            dashes = view.gridStyle()
            painter.setPen(QPen(colour, 1, dashes))
            # A solid line one pixel wide is the pixels a one-pixel rectangle fills: a
            # fill costs a sixth of a line (at a device pixel ratio of 1; else lines).
            fill = dashes == Qt.PenStyle.SolidLine and viewport.devicePixelRatioF() == 1.0
            across, down = right_px - left_px + 1, bottom_px - top_px + 1
            for line in lines:
                if fill:
                    painter.fillRect(left_px, line, across, 1, colour)
                else:
                    painter.drawLine(QLineF(left_px, line, right_px, line).translated(0.5, 0.5))
            for _c, x, width in shown:
                line = x + width
                if fill:
                    painter.fillRect(line, top_px, 1, down, colour)
                else:
                    painter.drawLine(QLineF(line, top_px, line, bottom_px).translated(0.5, 0.5))
            if style.styleHint(_GRID_ALWAYS, option, view):
                if columns.isHidden():
                    first = view.rowViewportPosition(top)
                    if first == top_px:
                        painter.drawLine(left_px, first, right_px, first)
                if rows.isHidden():
                    c = columns.logicalIndex(left)
                    if not columns.isSectionHidden(c):
                        first = view.columnViewportPosition(c)
                        if first == left_px:
                            painter.drawLine(first, top_px, first, bottom_px)
        painter.end()
        return True

    @staticmethod
    def _panel_look(
        style: QStyle,
        option: QStyleOptionViewItem,
        view: QTableView,
        features: QStyleOptionViewItem.ViewItemFeature,
    ) -> QColor | bool:
        """What the style's row panel of a plain cell with these features paints: True
        for nothing, the colour if it fills the cell with one opaque colour, else False.
        Drawn once into a transparent image to see (per style, palette and state)."""
        _forget_other_style(style)
        key = (option.palette.cacheKey(), option.state._value_, features._value_)
        found = _PANEL_LOOKS.get(key)
        if found is None:
            probe = QStyleOptionViewItem(option)
            probe.rect = QRect(0, 0, 64, max(1, option.fontMetrics.height()) + 8)
            probe.features = features
            image = QImage(probe.rect.size(), QImage.Format.Format_ARGB32_Premultiplied)
            image.fill(0)
            painter = QPainter(image)
            style.drawPrimitive(_ROW_PANEL, probe, painter, view)
            painter.end()
            pixels = bytes(image.constBits())
            if not any(pixels):
                found = True
            elif (
                pixels == pixels[:4] * (len(pixels) // 4) and image.pixelColor(0, 0).alpha() == 255
            ):
                found = image.pixelColor(0, 0)
            else:
                found = False
            if len(_PANEL_LOOKS) > 64:
                _PANEL_LOOKS.clear()
            _PANEL_LOOKS[key] = found
        return found

    def _standard_cell(
        self,
        view: QTableView,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex,
    ) -> None:
        """A cell through Qt's own steps (QTableViewPrivate::drawCell): its state from
        the selection, its flags and the focus (not the mouse: a view under the mouse is
        painted by Qt); the row panel; ``paint``."""
        cell = QStyleOptionViewItem(option)
        selection = view.selectionModel()
        if selection is not None and selection.isSelected(index):
            cell.state |= QStyle.StateFlag.State_Selected
        if option.state._value_ & _ENABLED:
            if index.flags() & Qt.ItemFlag.ItemIsEnabled:
                cell.palette.setCurrentColorGroup(QPalette.ColorGroup.Normal)
            else:
                cell.state &= ~QStyle.StateFlag.State_Enabled
                cell.palette.setCurrentColorGroup(QPalette.ColorGroup.Disabled)
        viewport = view.viewport()
        if index == view.currentIndex() and (view.hasFocus() or viewport.hasFocus()):
            cell.state |= QStyle.StateFlag.State_HasFocus
        view.style().drawPrimitive(_ROW_PANEL, cell, painter, view)
        self.paint(painter, cell, index)

    def _pen(self, palette: QPalette, state: int, look: tuple[int, int]) -> QColor:
        """The text colour of a cell in this state (Qt's own choice of colour group,
        QCommonStyle::drawControl, CE_ItemViewItem), kept per palette and state: asking
        the palette takes µs per cell (its enum arguments)."""
        group = _GROUPS[0 if not state & _ENABLED else (2 if state & _ACTIVE else 1)]
        role = _HIGHLIGHTED_TEXT if state & _SELECTED else _TEXT
        if len(self._pens) > 64:  # palettes come and go with theme changes
            self._pens.clear()
        pen = self._pens[look] = palette.color(group, role)
        return pen

    def _font_changed(self, option: QStyleOptionViewItem, metrics: QFontMetrics) -> None:
        self._metrics = QFontMetrics(metrics)
        self._baseline = metrics.ascent() - metrics.descent()
        self._advances = _advances(option.font, metrics)

    def _fits(self, text: str, width: int) -> bool:
        """Does ``text`` surely fit ``width`` pixels (then eliding it changes nothing)?

        Measuring a string shapes it (µs); this adds up the widths of its characters
        instead, with room to spare for kerning and rounding. Anything it is unsure of
        (a character outside printable ASCII, a close call) is measured the exact way."""
        try:
            return sum(map(self._advances.__getitem__, text)) * 1.05 + 2 <= width
        except KeyError:
            return False

    def _margin(self, style: QStyle, widget: QWidget | None) -> int:
        """The style's text margin in a cell (QCommonStyle: focus frame margin + 1)."""
        if style is not self._style:
            self._style = style
            self._text_margin = style.pixelMetric(_MARGIN, None, widget) + 1
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
        _forget_other_style(style)
        rect = option.rect
        look = state & _LOOK_STATES
        ratio = widget.devicePixelRatioF() if widget is not None else 1.0
        key = (checked, look, rect.height(), option.palette.cacheKey(), ratio)
        found = _CHECKS.get(key)
        if found is not None:
            return found
        opt = QStyleOptionViewItem(option)
        opt.rect = QRect(0, 0, rect.width(), rect.height())
        opt.features = QStyleOptionViewItem.ViewItemFeature.HasCheckIndicator
        opt.checkState = Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
        opt.text = ""
        place = style.subElementRect(_CHECK_RECT, opt, widget)
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
        if len(_CHECKS) > 64:  # palettes come and go with theme changes
            _CHECKS.clear()
        _CHECKS[key] = found
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
