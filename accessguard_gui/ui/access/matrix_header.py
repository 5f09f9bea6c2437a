"""The matrix's two-level column header and its click-anywhere cells (issue 12, item 6).

Permission columns come sorted by resource, then action, so the columns of one resource
are neighbours: the header draws the resource once across them (top band) and each
column's action below it, instead of "Active D…y: admin" cut in the middle of every
column. The full "resource: action" stays the column's tooltip.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
)
from PySide6.QtGui import QMouseEvent, QPainter
from PySide6.QtWidgets import (
    QHeaderView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionHeader,
    QStyleOptionViewItem,
    QWidget,
)

Index = QModelIndex | QPersistentModelIndex


def split_label(label: str) -> tuple[str, str]:
    """("Active Directory", "admin") from "Active Directory: admin"."""
    resource, sep, action = label.rpartition(": ")
    return (resource, action) if sep else ("", label)


class GroupedHeader(QHeaderView):
    """A horizontal header in two bands: the resource over its run of columns, the action
    of each column under it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setSectionsClickable(True)
        self.setHighlightSections(True)

    def label(self, section: int) -> str:
        model = self.model()
        if model is None:
            return ""
        value = model.headerData(section, Qt.Orientation.Horizontal)
        return str(value) if value is not None else ""

    def group(self, section: int) -> tuple[int, int]:
        """First and last section of the run of columns sharing ``section``'s resource,
        bounded by the visible columns (the top band's text stays on screen).

        A model that knows its runs (``column_group(section)``, the matrix: computed once
        per page of columns) answers at once; otherwise neighbouring labels are compared,
        never beyond the visible columns, so a 20,000-column axis is not walked.
        """
        low = max(0, self.logicalIndexAt(0))
        right = self.logicalIndexAt(self.viewport().width() - 1)
        high = self.count() - 1 if right < 0 else right
        known = getattr(self.model(), "column_group", None)
        if callable(known):
            first, last = known(section)
            return max(first, min(low, section)), min(last, max(high, section))
        resource = split_label(self.label(section))[0]
        first = last = section
        while first > low and split_label(self.label(first - 1))[0] == resource:
            first -= 1
        while last < high and split_label(self.label(last + 1))[0] == resource:
            last += 1
        return first, last

    def sizeHint(self) -> QSize:
        # Two bands of text. QHeaderView's own hint measures sections' contents (asking
        # the model for labels) only for a height replaced here anyway: skipped.
        return QSize(self.length(), 2 * self.fontMetrics().height() + 14)

    def paintSection(self, painter: QPainter, rect: QRect, logical_index: int) -> None:
        if not rect.isValid():
            return
        resource, action = split_label(self.label(logical_index))
        half = rect.height() // 2
        bottom = QRect(rect.left(), rect.top() + half, rect.width(), rect.height() - half)
        self._draw(painter, bottom, action, logical_index, Qt.AlignmentFlag.AlignCenter)
        first, last = self.group(logical_index)
        left = self.sectionViewportPosition(first)
        right = self.sectionViewportPosition(last) + self.sectionSize(last)
        top = QRect(left, rect.top(), right - left, half)
        painter.save()
        painter.setClipRect(QRect(rect.left(), rect.top(), rect.width(), half))
        self._draw(painter, top, resource, -1, Qt.AlignmentFlag.AlignCenter, bold=True)
        painter.restore()

    def _draw(
        self,
        painter: QPainter,
        rect: QRect,
        text: str,
        section: int,
        align: Qt.AlignmentFlag,
        *,
        bold: bool = False,
    ) -> None:
        option = QStyleOptionHeader()
        self.initStyleOption(option)
        option.rect = rect
        option.section = max(section, 0)
        option.orientation = Qt.Orientation.Horizontal
        option.position = QStyleOptionHeader.SectionPosition.Middle
        option.textAlignment = align
        selection = self.selectionModel()
        if section >= 0 and selection is not None and self.highlightSections():
            if selection.columnIntersectsSelection(section, self.rootIndex()):
                option.state |= QStyle.StateFlag.State_On
        option.text = self.fontMetrics().elidedText(
            text, Qt.TextElideMode.ElideRight, rect.width() - 8
        )
        painter.save()
        if bold:
            font = painter.font()
            font.setBold(True)
            painter.setFont(font)
        self.style().drawControl(QStyle.ControlElement.CE_Header, option, painter, self)
        painter.restore()


class ToggleAnywhereDelegate(QStyledItemDelegate):
    """A click anywhere in a checkable cell toggles it, not only on the box's square.
    Keys (Space) keep Qt's own handling."""

    def editorEvent(
        self,
        event: QEvent,
        model: QAbstractItemModel,
        option: QStyleOptionViewItem,
        index: Index,
    ) -> bool:
        mouse_events = (
            QEvent.Type.MouseButtonPress,
            QEvent.Type.MouseButtonRelease,
            QEvent.Type.MouseButtonDblClick,
        )
        if event.type() not in mouse_events:
            return super().editorEvent(event, model, option, index)
        if not isinstance(event, QMouseEvent) or event.button() != Qt.MouseButton.LeftButton:
            return False
        if not index.flags() & Qt.ItemFlag.ItemIsUserCheckable:
            return False
        if event.type() == QEvent.Type.MouseButtonPress:
            return False  # the view selects the cell
        if event.type() == QEvent.Type.MouseButtonDblClick:
            return True  # the second click of a double click toggles on its release
        if not option.rect.contains(event.position().toPoint()):
            return False
        state = index.data(Qt.ItemDataRole.CheckStateRole)
        if state is None:
            return False
        checked = state == Qt.CheckState.Checked or state == Qt.CheckState.Checked.value
        new = Qt.CheckState.Unchecked if checked else Qt.CheckState.Checked
        return bool(model.setData(index, new.value, Qt.ItemDataRole.CheckStateRole))
