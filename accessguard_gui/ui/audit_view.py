"""The audit page in people's words: local times (UTC on hover, or the reverse), changes as
"field: old → new", and a From/To date range.

The table model shows what SQL computed (core/browse.py's AUDIT spec); the words are
made here, by delegates, for the rows Qt paints — never for the whole trail, so a
million entries cost what a screenful costs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from PySide6.QtCore import QDate, QEvent, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QLayout,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from ..core import audit_text
from ..core.audit import AuditRow
from ..core.browse import FROM, UNTIL
from .settings import AUDIT_TIMES_UTC
from .table_page import TablePage

Index = QModelIndex | QPersistentModelIndex
#: The date a From/To box shows as "any" (Qt's special value: the minimum date).
NO_DATE = QDate(2000, 1, 1)
SETTING_UTC = AUDIT_TIMES_UTC  # kept under its old name


class AuditCellDelegate(QStyledItemDelegate):
    """Draws one audit column in words: ``"at"`` as a time, ``"summary"`` as changes."""

    def __init__(self, column: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.column = column
        self.utc = False

    def _text(self, index: Index, shown: str) -> str:
        if self.column == "at":
            return audit_text.time_text(index.data(Qt.ItemDataRole.EditRole), utc=self.utc)
        return audit_text.summary_text(shown, utc=self.utc)

    def initStyleOption(  # noqa: N802 - Qt override
        self, option: QStyleOptionViewItem, index: Index
    ) -> None:
        super().initStyleOption(option, index)
        option.text = self._text(index, option.text)

    def tooltip(self, index: Index) -> str:
        """The other clock of a time; every field change of a summary, one a line."""
        if self.column == "at":
            return audit_text.time_tooltip(index.data(Qt.ItemDataRole.EditRole), utc=self.utc)
        text = self._text(index, str(index.data() or ""))
        return text.replace(audit_text.SEPARATOR, "\n")

    def helpEvent(  # noqa: N802 - Qt override
        self,
        event: QHelpEvent,
        view: QAbstractItemView,
        option: QStyleOptionViewItem,
        index: Index,
    ) -> bool:
        if event.type() == QEvent.Type.ToolTip and index.isValid():
            tip = self.tooltip(index)
            if tip:
                QToolTip.showText(event.globalPos(), tip, view)
                return True
        return super().helpEvent(event, view, option, index)


def _date_box(name: str, tip: str) -> QDateEdit:
    box = QDateEdit()
    box.setObjectName(name)
    box.setCalendarPopup(True)
    box.setDisplayFormat("yyyy-MM-dd")
    box.setMinimumDate(NO_DATE)
    box.setSpecialValueText("any")  # shown at the minimum date: no bound
    box.setDate(NO_DATE)
    box.setToolTip(tip)
    box.setMinimumWidth(box.fontMetrics().horizontalAdvance("2026-12-31") + 40)
    box.setAccessibleName(tip)
    return box


def _day(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


def local_midnight_utc(day: date) -> datetime:
    """The start of a local calendar day, as an aware datetime (compared in UTC)."""
    return datetime.combine(day, time()).astimezone()


class DateRange(QWidget):
    """From / To dates (local calendar days, both included) that filter the audit page."""

    def __init__(self, model: QObject, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("audit_range")
        self.model = model
        self.start = _date_box("audit_from", "Entries on or after this day (local time)")
        self.end = _date_box("audit_to", "Entries on or before this day (local time)")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for text, box in (("From", self.start), ("to", self.end)):
            label = QLabel(text)
            label.setBuddy(box)
            layout.addWidget(label)
            layout.addWidget(box)
        self.start.dateChanged.connect(self._apply)
        self.end.dateChanged.connect(self._apply)

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """(first instant included, first instant excluded); None where a box says any."""
        start = self.start.date()
        end = self.end.date()
        since = None if start == NO_DATE else local_midnight_utc(_day(start))
        until = None if end == NO_DATE else local_midnight_utc(_day(end) + timedelta(days=1))
        return since, until

    def _apply(self) -> None:
        since, until = self.bounds()
        set_filter = getattr(self.model, "set_filter", None)
        if callable(set_filter):
            set_filter(f"at{FROM}", since)
            set_filter(f"at{UNTIL}", until)


def _layout_holding(layout: QLayout | None, widget: QWidget) -> QLayout | None:
    """The (nested) layout that holds ``widget``."""
    if layout is None:
        return None
    if layout.indexOf(widget) >= 0:
        return layout
    for i in range(layout.count()):
        item = layout.itemAt(i)
        child = item.layout() if item is not None else None
        found = _layout_holding(child, widget)
        inner = item.widget() if item is not None else None
        if found is None and inner is not None:
            found = _layout_holding(inner.layout(), widget)
        if found is not None:
            return found
    return None


def install(page: TablePage, *, utc: bool = False) -> None:
    """Give an audit TablePage its words: time and change delegates and the date range
    (next to its filters)."""
    spec = page.model.spec
    for key in ("at", "summary"):
        delegate = AuditCellDelegate(key, page.view)
        delegate.utc = utc
        page.view.setItemDelegateForColumn(spec.index_of(key), delegate)
    range_box = DateRange(page.model, page)
    parent = page.search.parentWidget()
    outer = parent.layout() if parent is not None else None
    holder = _layout_holding(outer, page.search)
    if isinstance(outer, QVBoxLayout) and holder is not None and holder is not outer:
        # A row of its own under the search row: beside the search box and three
        # filters it squeezed the search box to "Search a…" at the default size.
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(range_box)
        row.addStretch(1)
        outer.insertLayout(outer.indexOf(holder) + 1, row)
    elif isinstance(holder, QHBoxLayout):
        holder.insertWidget(holder.indexOf(page.search) + 1, range_box)


def set_utc(page: TablePage, utc: bool) -> None:
    """Show the page's times in UTC (True) or local time, at once."""
    for column in range(page.model.columnCount()):
        delegate = page.view.itemDelegateForColumn(column)
        if isinstance(delegate, AuditCellDelegate):
            delegate.utc = utc
    page.view.viewport().update()


def entry_header(values: Mapping[str, Any], *, utc: bool = False) -> dict[str, str]:
    """The selected row's time and operation as the details pane shows them."""
    return {
        "at": audit_text.time_text(values.get("at"), utc=utc),
        "operation": audit_text.operation_word(str(values.get("operation", ""))),
    }


def entry_details(entry: AuditRow, *, utc: bool = False) -> dict[str, str]:
    """An entry's reason (typed at Save; "" if none) and its change, one field a line."""
    lines = audit_text.change_lines(entry.before, entry.after, utc=utc)
    details = {"changes": "\n".join(lines) or "\u2014"}
    if entry.reason:
        details["reason"] = entry.reason
    return details
