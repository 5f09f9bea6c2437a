"""One page of the main window: search box, table, row count and the details pane.

The page shows a ``RecordTableModel`` (ui/table_model.py) and never touches the database
itself: searching and sorting are the model's (in SQL), editing goes through the model's
``setData`` into the PendingStore, and the window's actions (add, delete, form) read the
selected rows from here.

Signals:
    record_activated: the user pressed Enter or double-clicked a row (argument: row).
    current_changed: the current record changed (argument: the row snapshot or None).
    sort_refused: the user clicked a column that cannot be sorted (argument: message).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from PySide6.QtCore import (
    QEvent,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QKeyEvent, QPaintEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ..core.changes import Entity
from ..core.errors import ValidationError
from . import theme
from .delegates import RecordDelegate
from .details import DetailsPane, record_values
from .focus import show_focus_frame
from .plain_text import plain_tooltip

SEARCH_DELAY_MS = 250
#: Characters typed in the table within this time of each other form one type-ahead prefix.
TYPE_AHEAD_MS = 1000


def _filter_value(combo: QComboBox) -> Any:
    """A combo's filter value; a time span ("last 7 days") becomes its start, now."""
    value = combo.currentData()
    if isinstance(value, timedelta):
        return datetime.now(UTC) - value
    return value


@dataclass(frozen=True)
class PageFilter:
    """A per-column filter offered above the table (a combo of choices).

    Attributes:
        key: the column filtered on (equality, in SQL, by the model), or
            "<column>__since" with time spans as values (rows of the last hour, day, ...).
        label: what the combo is called ("Status").
        options: (shown text, value) pairs; the value None shows every row.
    """

    key: str
    label: str
    options: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class PageKind:
    """What a page shows.

    Attributes:
        key: stable name used in settings and by the details hook ("users").
        title: the navigation entry ("Users").
        noun: singular and plural for the row count ("user", "users").
        entity: the editable record kind, or None for the read-only audit log.
        filters: per-column filters where they help (active users, audit operations).
    """

    key: str
    title: str
    singular: str
    plural: str
    entity: Entity | None
    filters: tuple[PageFilter, ...] = ()

    @property
    def editable(self) -> bool:
        return self.entity is not None


PAGES: tuple[PageKind, ...] = (
    PageKind(
        "users",
        "Users",
        "user",
        "users",
        Entity.USER,
        (
            PageFilter(
                "active", "Status", (("All users", None), ("Active", True), ("Inactive", False))
            ),
        ),
    ),
    PageKind("roles", "Roles", "role", "roles", Entity.ROLE),
    PageKind("resources", "Resources", "resource", "resources", Entity.RESOURCE),
    PageKind("permissions", "Permissions", "permission", "permissions", Entity.PERMISSION),
    PageKind(
        "audit",
        "Audit log",
        "audit entry",
        "audit entries",
        None,
        (
            PageFilter(
                "operation",
                "Operation",
                (
                    ("All operations", None),
                    ("Added", "insert"),
                    ("Changed", "update"),
                    ("Deleted", "delete"),
                ),
            ),
            PageFilter(
                "record_type",
                "Record type",
                (
                    ("All records", None),
                    ("Users", "user"),
                    ("Roles", "role"),
                    ("Resources", "resource"),
                    ("Permissions", "permission"),
                    ("Assignments", "assignment"),
                    ("Grants", "grant"),
                    ("Inheritance", "inheritance"),
                    ("Separation-of-duty sets", "ssd_set"),
                    ("Separation-of-duty members", "ssd_member"),
                ),
            ),
            PageFilter(
                "at__since",
                "Time",
                (
                    ("Any time", None),
                    ("Last hour", timedelta(hours=1)),
                    ("Last 24 hours", timedelta(days=1)),
                    ("Last 7 days", timedelta(days=7)),
                    ("Last 30 days", timedelta(days=30)),
                    ("Last 365 days", timedelta(days=365)),
                ),
            ),
        ),
    ),
)


class RecordTableView(QTableView):
    """Enter opens the record form (unless a cell editor is open); F2 edits the cell;
    typing jumps to a row (type-ahead) and never edits: a stray key must not rename a user.

    Type-ahead is Qt's gesture done in SQL: the characters typed within
    ``TYPE_AHEAD_MS`` of each other accumulate into one prefix, and ``type_ahead`` asks the
    page to find the first row whose sorted column starts with it. Qt's own
    ``keyboardSearch`` would read every row of the model through ``data()`` (a million
    rows of a large table).

    Tab and Shift+Tab leave the table (to the details pane, back to the search box)
    instead of moving between cells: the arrow keys move between cells.

    Selections stay ranges, whatever their size: Ctrl+A on a million rows is one
    ``QItemSelectionRange``. Qt's header views would defeat that — to draw a section they
    ask ``isColumnSelected``/``isRowSelected``, which call ``flags()`` for every row of the
    range (6 million calls for Ctrl+A on 1M users, a freeze of a minute). The headers do
    not highlight sections here, so each gets a selection model of its own that never
    holds anything (``setSelectionModel`` below): painting after Ctrl+A asks only the
    visible cells.
    """

    activated_row = Signal(int)
    type_ahead = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._typed = ""
        self._typed_at = 0.0
        self.setTabKeyNavigation(False)

    def _typing(self, now: float | None = None) -> bool:
        """Is a type-ahead prefix being typed (the last character came just now)?"""
        now = time.monotonic() if now is None else now
        return bool(self._typed) and now - self._typed_at <= TYPE_AHEAD_MS / 1000

    def keyboardSearch(self, search: str) -> None:  # noqa: N802 - Qt override
        """Accumulate the typed characters and ask for the matching row (never row by row)."""
        if not search:
            return
        now = time.monotonic()
        if not self._typing(now):
            self._typed = ""
        self._typed_at = now
        self._typed += search
        self.type_ahead.emit(self._typed)

    def setSelectionModel(self, selection_model: QItemSelectionModel) -> None:  # noqa: N802
        super().setSelectionModel(selection_model)
        model = self.model()
        if model is None:
            return
        for header in (self.horizontalHeader(), self.verticalHeader()):
            old = header.selectionModel()
            header.setSelectionModel(QItemSelectionModel(model, header))
            if old is not None and old is not selection_model and old.parent() is header:
                old.deleteLater()

    def rowsInserted(  # noqa: N802 - Qt override
        self, parent: QModelIndex | QPersistentModelIndex, start: int, end: int
    ) -> None:
        """Ctrl+A keeps meaning "all rows" while a large table is still being counted.

        A table of a million rows shows its first page at once and appends the rest as
        they are counted off the GUI thread. Qt's selection ranges do not grow with rows
        added after them, so Ctrl+A pressed in the first second would select 256 rows
        and a later Delete or bulk action would act on a fraction the user never chose.
        When the rows arrive at the end and the selection is exactly "every row and
        column so far", it is extended to them (one range, nothing read)."""
        super().rowsInserted(parent, start, end)
        model, selection_model = self.model(), self.selectionModel()
        if model is None or selection_model is None or parent.isValid():
            return
        if end != model.rowCount() - 1 or start == 0:
            return  # not appended at the end, or nothing was selected before
        selection = selection_model.selection()
        if selection.count() != 1:
            return
        held = selection.at(0)
        if (held.top(), held.bottom(), held.left(), held.right()) != (
            0,
            start - 1,
            0,
            model.columnCount() - 1,
        ):
            return
        everything = QItemSelection(
            model.index(0, 0), model.index(end, model.columnCount() - 1)
        )  # one range again (a second range would stop the next extension)
        selection_model.select(everything, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        """Plain rows in one Python call (RecordDelegate.paint_view: Qt's own pass calls
        into Python four times per cell); anything it does not follow the way Qt does."""
        delegate = self.itemDelegate()
        if not (isinstance(delegate, RecordDelegate) and delegate.paint_view(self, event)):
            super().paintEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if (
            event.key() == Qt.Key.Key_Space
            and event.modifiers() == Qt.KeyboardModifier.NoModifier
            and self._typing()
        ):
            # A space inside a typed name ("ann lee") is part of the name: it must not
            # tick the check box of the current cell (Active) on its way.
            self.keyboardSearch(" ")
            event.accept()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and (
            self.state() != QAbstractItemView.State.EditingState
        ):
            index = self.currentIndex()
            if index.isValid():
                self.activated_row.emit(index.row())
                event.accept()
                return
        super().keyPressEvent(event)


def table_view(kind: PageKind, model: Any) -> RecordTableView:
    """The table of a page, set up to paint a million-row model fast (also what
    bench/bench_tables.py measures): no vertical header (a section per row costs a
    ``headerData`` call per row and paint; the page shows a row count instead), rows of
    one fixed height (no per-row size hints), no word wrap, and the RecordDelegate,
    which draws plain cells from one model lookup each (ui/delegates.py)."""
    view = RecordTableView()
    view.setObjectName("table")
    rows = view.verticalHeader()
    # Before the model comes: a vertical header, hidden or not, that meets a model sizes
    # itself from headerData of 200 sections, four roles each (800 Python calls).
    rows.setVisible(False)
    rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    rows.setDefaultSectionSize(view.fontMetrics().height() + 8)
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    # F2 edits the cell in place; Enter and double-click open the record form; typing
    # jumps to a row. No trigger on plain typing or a click: edits are deliberate.
    view.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed)
    header = view.horizontalHeader()
    header.setStretchLastSection(True)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setHighlightSections(False)
    view.setItemDelegate(RecordDelegate(kind.entity, view))
    return view


class GoToRowDialog:
    """Edit > Go to row…: asks for a row number (tests replace ``ask``)."""

    @classmethod
    def ask(cls, parent: QWidget, rows: int, current: int) -> int | None:
        """The 1-based row number chosen, or None if cancelled."""
        number, ok = QInputDialog.getInt(
            parent, "Go to row", f"Row number (1 to {rows:,}):", current, 1, max(rows, 1)
        )
        return number if ok else None


def count_text(shown: int, total: int, kind: PageKind, searching: bool) -> str:
    """ "12 of 1,000,000 users" while searching, "1,000,000 users" otherwise."""
    noun = kind.singular if total == 1 else kind.plural
    if searching or shown != total:
        return f"{shown:,} of {total:,} {noun}"
    return f"{total:,} {noun}"


class TablePage(QWidget):
    """Search box, filters, row count, the table and the details pane of one table.

    Signals:
        record_activated(int): Enter or double-click on a row.
        current_changed(object): the current row's snapshot (None for none / a new row).
        sort_refused(str): a click on a column that cannot be sorted.
        notice(str): a short message for the status bar (type-ahead found nothing, …).
    """

    record_activated = Signal(int)
    current_changed = Signal(object)
    sort_refused = Signal(str)
    notice = Signal(str)

    def __init__(self, kind: PageKind, model: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.model = model
        self.setObjectName(f"page_{kind.key}")

        self.search = QLineEdit()
        self.search.setObjectName("search")
        self.search.setPlaceholderText(f"Search {kind.plural}…  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.count_label = QLabel("")
        self.count_label.setObjectName("count")
        self.count_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.count_label.setMinimumWidth(180)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.apply_search)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.search.installEventFilter(self)

        self.view = table_view(kind, model)
        self.view.type_ahead.connect(self.jump_to_prefix)
        header = self.view.horizontalHeader()
        # Queued: the view calls model.sort() on the same signal; check after it did.
        header.sortIndicatorChanged.connect(
            self._sort_indicator_changed, Qt.ConnectionType.QueuedConnection
        )
        delegate = self.view.itemDelegate()
        assert isinstance(delegate, RecordDelegate)
        self.delegate = delegate
        self.view.doubleClicked.connect(lambda index: self.record_activated.emit(index.row()))
        self.view.activated_row.connect(self.record_activated.emit)
        self.view.selectionModel().currentRowChanged.connect(self._current_row_changed)
        counts = getattr(model, "counts_changed", None)
        if counts is not None:
            counts.connect(self._show_counts)
        busy = getattr(model, "busy_changed", None)
        if busy is not None:
            busy.connect(lambda _b: self._show_counts(*self._counts()))
        failed = getattr(model, "read_failed", None)
        if failed is not None:
            failed.connect(self._read_failed)

        self.details = DetailsPane()
        self.details.setObjectName("details")
        self._style_focus_frame()
        theme.on_change(self._style_focus_frame)  # a bound slot: dropped with the page

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        # The search box keeps room for its hint however many filters the page has.
        metrics = self.search.fontMetrics()
        self.search.setMinimumWidth(metrics.horizontalAdvance("Search audit"))
        top.addWidget(self.search, 1)
        self.filters: dict[str, QComboBox] = {}
        for item in kind.filters:
            combo = QComboBox()
            # No wider than a short choice needs: a long set name stays readable in the list.
            combo.setMaximumWidth(metrics.horizontalAdvance("All operations") + 30)
            combo.setObjectName(f"filter_{item.key}")
            combo.setToolTip(item.label)
            combo.setAccessibleName(item.label)
            for text, value in item.options:
                combo.addItem(text, value)
            combo.currentIndexChanged.connect(
                lambda _i, k=item.key, c=combo: self.model.set_filter(k, _filter_value(c))
            )
            self.filters[item.key] = combo
            top.addWidget(combo)
        top.addWidget(self.count_label)
        left = QWidget()
        box = QVBoxLayout(left)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(top)
        box.addWidget(self.view, 1)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("splitter")
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.splitter)
        chain: list[QWidget] = [self.search, *self.filters.values(), self.view, self.details]
        for first, second in zip(chain, chain[1:], strict=False):
            QWidget.setTabOrder(first, second)
        self._show_counts(*self._counts())

    # ------------------------------------------------------------ layout and sort

    def apply_default_layout(self) -> None:
        """Column widths from the spec's hints, the sort indicator on the model's order."""
        spec = getattr(self.model, "spec", None)
        header = self.view.horizontalHeader()
        if spec is not None:
            char = self.view.fontMetrics().averageCharWidth()
            for column, col in enumerate(spec.columns):
                width = max(col.width * char + 16, header.sectionSizeFromContents(column).width())
                header.resizeSection(column, width)
        sort_column = getattr(self.model, "sort_column", None)
        sort_order = getattr(self.model, "sort_order", None)
        if callable(sort_column) and callable(sort_order):
            header.setSortIndicator(sort_column(), sort_order())

    def _sort_indicator_changed(self, column: int, _order: Qt.SortOrder) -> None:
        """Keep the arrow on the column the model really sorts by (some cannot be sorted)."""
        sort_column = getattr(self.model, "sort_column", None)
        if not callable(sort_column) or sort_column() == column:
            return
        header = self.view.horizontalHeader()
        blocked = header.blockSignals(True)
        header.setSortIndicator(sort_column(), self.model.sort_order())
        header.blockSignals(blocked)
        title = self.model.headerData(column, Qt.Orientation.Horizontal)
        self.sort_refused.emit(f"The table cannot be sorted by {title}.")

    # ------------------------------------------------------------ keyboard

    def _style_focus_frame(self) -> None:
        """Where the keyboard is shows: the table and the record details get a highlight
        frame while they have the focus (ui/focus.py); again after a scheme change."""
        show_focus_frame(self.view)
        show_focus_frame(self.details.record, frameless=True)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        """The search box: Enter or Down go to the results, Escape clears the search."""
        if watched is self.search and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            key = event.key()
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Down):
                self.apply_search()
                self.focus_results()
                return True
            if key == Qt.Key.Key_Escape and self.search.text():
                self.search.clear()
                self.apply_search()
                return True
        return super().eventFilter(watched, event)

    def release_tab_key(self) -> None:
        """Tab leaves every table of the page (the details' tabs included): Qt's tables
        take Tab for moving between cells, and the focus would never get out."""
        for view in self.findChildren(QAbstractItemView):
            view.setTabKeyNavigation(False)
            show_focus_frame(view)

    def focus_results(self) -> None:
        """Keyboard focus into the table, on its current row (the first if none). A
        search still running off the GUI thread selects its first row when it arrives."""
        self.view.setFocus(Qt.FocusReason.ShortcutFocusReason)
        searching = getattr(self.model, "is_searching", None)
        if callable(searching) and searching():
            self.model.modelReset.connect(
                self._select_first_result, Qt.ConnectionType.SingleShotConnection
            )
            return
        if self.current_row() is None and self.model.rowCount() > 0:
            self.select_row(0)

    def _select_first_result(self) -> None:
        if self.current_row() is None and self.model.rowCount() > 0:
            self.select_row(0)

    def current_field(self) -> str | None:
        """The field of the current cell (the record form focuses it)."""
        index = self.view.currentIndex()
        key = getattr(self.model, "column_key", None)
        if not index.isValid() or not callable(key):
            return None
        field = key(index.column())
        return field if isinstance(field, str) else None

    def jump_to_prefix(self, prefix: str) -> None:
        """Type-ahead: select the first row whose sorted column starts with ``prefix``."""
        finder = getattr(self.model, "find_prefix", None)
        if not callable(finder):
            return
        if not self.model.can_find_prefix():
            title = self.model.headerData(self.model.sort_column(), Qt.Orientation.Horizontal)
            self.notice.emit(
                f"Typing finds rows by the sorted column, and {title} holds no text: "
                "sort by a text column (click its header) or use the search box (Ctrl+F)."
            )
            return
        column = max(self.view.currentIndex().column(), 0)

        def found(row: int | None) -> None:
            if row is None:
                title = self.model.headerData(self.model.sort_column(), Qt.Orientation.Horizontal)
                self.notice.emit(f"No row whose {title} starts with \u201c{prefix}\u201d.")
                return
            self.select_row(row, column)

        finder(prefix, found)

    def go_to_row(self, number: int) -> bool:
        """Select row ``number`` (1-based, as the row header shows it); False if there is
        no such row. The model reads just that page (a keyset seek), not the rows above."""
        if not 1 <= number <= self.model.rowCount():
            return False
        self.select_row(number - 1, max(self.view.currentIndex().column(), 0))
        self.view.setFocus(Qt.FocusReason.ShortcutFocusReason)
        return True

    def ask_go_to_row(self) -> None:
        """Ask for a row number and select that row (Ctrl+G)."""
        rows = self.model.rowCount()
        if rows == 0:
            self.notice.emit("There is no row to go to.")
            return
        number = GoToRowDialog.ask(self, rows, (self.current_row() or 0) + 1)
        if number is not None and not self.go_to_row(number):
            self.notice.emit(f"There is no row {number:,}; the table shows {rows:,}.")

    # ------------------------------------------------------------ search and counts

    def apply_search(self) -> None:
        self._search_timer.stop()
        try:
            self.model.set_search(self.search.text())
        except ValidationError as exc:  # longer than browse.SEARCH_MAX: say so, keep the rows
            self._read_failed(exc.message)
            self.count_label.setText("search text too long")

    def _counts(self) -> tuple[int, int]:
        counts = getattr(self.model, "counts", None)
        if callable(counts):
            shown, total = counts()
            return int(shown), int(total)
        return self.model.rowCount(), self.model.rowCount()

    def _show_counts(self, shown: int, total: int) -> None:
        filtering = bool(self.search.text()) or any(
            c.currentIndex() > 0 for c in self.filters.values()
        )
        text = count_text(shown, total, self.kind, filtering)
        searching = getattr(self.model, "is_searching", None)
        counting = getattr(self.model, "is_counting", None)
        if callable(searching) and searching():
            # Nothing read yet (a large file just opened) or a new search under way.
            text = "reading\u2026" if not total else "searching\u2026"
        elif callable(counting) and counting():
            noun = self.kind.plural
            if shown >= total:  # every row is being counted (a large file just opened)
                text = f"{shown:,}+ {noun}, counting\u2026"
            else:
                text = f"{shown:,}+ of {total:,} {noun}, counting\u2026"
        self.count_label.setText(text)
        self.count_label.setToolTip("")

    def _read_failed(self, message: str) -> None:
        """A search or count the model ran off the GUI thread failed: say why, beside the
        count (the table keeps the rows it showed)."""
        self._show_counts(*self._counts())
        self.count_label.setText("search failed")
        self.count_label.setToolTip(plain_tooltip(message))  # may quote the search

    def refresh(self) -> None:
        """Reload from the file, keeping the selected record selected."""
        row = self.current_row()
        record_id = record_values(self.model.record(row)).get("id") if row is not None else None
        self.model.refresh()
        if isinstance(record_id, int):
            new_row = self.model.row_for_id(record_id)
            if new_row is not None:
                self.select_row(new_row)
        self.details.refresh_extensions()
        self._show_counts(*self._counts())

    # ------------------------------------------------------------ selection

    def current_row(self) -> int | None:
        index = self.view.currentIndex()
        return index.row() if index.isValid() else None

    def selected_count(self) -> int:
        """How many rows are selected, from the selection ranges (no list of a million
        indexes after Ctrl+A)."""
        return sum(last - first + 1 for first, last in self.selected_ranges())

    def selected_ranges(self) -> list[tuple[int, int]]:
        """The selected rows as sorted, merged (first, last) ranges — read from the
        selection's ranges, never row by row (Ctrl+A on 1M rows is one range)."""
        selection = self.view.selectionModel().selection()
        spans = sorted(
            (selection.at(i).top(), selection.at(i).bottom()) for i in range(selection.count())
        )
        merged: list[tuple[int, int]] = []
        for first, last in spans:
            if merged and first <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], last))
            else:
                merged.append((first, last))
        if not merged and self.current_row() is not None:
            row = self.current_row()
            assert row is not None
            merged = [(row, row)]
        return merged

    def selected_rows(self) -> list[int]:
        """Every selected row (callers check ``selected_count()`` first: after Ctrl+A on
        a large table this list would be as long as the table)."""
        return [r for first, last in self.selected_ranges() for r in range(first, last + 1)]

    def select_row(self, row: int, column: int = 0) -> None:
        index = self.model.index(row, column)
        self.view.setCurrentIndex(index)
        self.view.selectionModel().select(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.view.scrollTo(index)

    def _current_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        record = self.model.record(current.row()) if current.isValid() else None
        self.current_changed.emit(record)
