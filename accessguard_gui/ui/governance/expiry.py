"""Governance > Expiry calendar: assignments expiring within 7/30/90 days and expired ones
still present, by user or by role, with bulk extend and remove as pending edits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, QTimer
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableView,
    QWidget,
)

from ...core.changes import Deassign, SetExpiry
from ...core.database import Database
from ...core.governance import expiry
from ...core.governance.expiry import ExpiryCounts, ExpiryRow, Horizon, Order
from ...core.models import utcnow
from ...core.operators import AppAction
from ..access.common import DEBOUNCE_MS, PENDING, RED, open_window
from ..pending import PendingStore
from .common import GovernanceWindow
from .paged import PagedModel

Index = QModelIndex | QPersistentModelIndex
HEADERS = ("User", "Role", "Expires", "In", "Pending")


def _when(moment: datetime) -> str:
    return f"{moment.astimezone():%Y-%m-%d %H:%M}"


def _distance(moment: datetime, now: datetime) -> str:
    days = (moment - now).total_seconds() / 86400
    if days <= 0:
        return f"expired {int(-days)} d ago" if days <= -1 else "expired today"
    return f"{int(days) + 1} d" if days >= 1 else "today"


class ExpiryModel(PagedModel[ExpiryRow]):
    """The calendar's rows, fetched a keyset page at a time off the GUI thread, with
    what is pending for each (extend to / remove) from the window's store."""

    def __init__(self, db: Database, store: PendingStore, parent: Any = None) -> None:
        super().__init__(db, HEADERS, self._fetch, self._format, expiry.PAGE_SIZE, parent)
        self.store = store
        self.horizon = Horizon.DAYS_30
        self.order = Order.BY_USER
        self.search = ""
        self.now = utcnow()
        self._pending: dict[tuple[str, str], str] = {}
        self._pending_brush = QBrush(PENDING)
        self._red = QBrush(RED)
        store.changed.connect(self._pending_changed)
        self._pending_changed()

    def reload(self) -> None:
        self.now = utcnow()
        super().reload()

    def _fetch(self, session: Any, last: ExpiryRow | None) -> list[ExpiryRow]:
        return expiry.page(
            session, self.horizon, self.order, after=last.cursor if last else None,
            search=self.search, now=self.now,
        )

    def _format(self, row: ExpiryRow) -> tuple[str, ...]:
        pending = self._pending.get((row.username, row.role), "")
        return (row.username, row.role, _when(row.expires_at), _distance(row.expires_at, self.now), pending)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.ForegroundRole and index.isValid():
            row = self.row_at(index.row())
            if (row.username, row.role) in self._pending:
                return self._pending_brush
            if index.column() == 3 and row.expired(self.now):
                return self._red
            return None
        return super().data(index, role)

    def _pending_changed(self) -> None:
        pending: dict[tuple[str, str], str] = {}
        for edit in self.store.edits():
            if isinstance(edit, SetExpiry):
                when = "never" if edit.expires_at is None else f"{edit.expires_at.astimezone():%Y-%m-%d}"
                pending[(str(edit.user), str(edit.role))] = f"extend to {when}"
            elif isinstance(edit, Deassign):
                pending[(str(edit.user), str(edit.role))] = "remove"
        self._pending = pending
        self.refresh_shown()


class ExpiryCalendar(GovernanceWindow):
    """The expiry calendar window.

    Attributes:
        horizon, order, search: what is listed; ``model``: the rows; ``counts``: per window.
    """

    FIX_NEEDS = (AppAction.ASSIGN_ROLES,)

    def __init__(self, db: Database, store: PendingStore, parent: QWidget | None = None) -> None:
        super().__init__(db, store, parent)
        self.counts: ExpiryCounts | None = None
        self.summary = QLabel("")
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.horizon = QComboBox()
        for h in Horizon:
            self.horizon.addItem(h.label, h)
        self.horizon.setCurrentIndex(list(Horizon).index(Horizon.DAYS_30))
        self.order = QComboBox()
        self.order.addItem("By user", Order.BY_USER)
        self.order.addItem("By role", Order.BY_ROLE)
        self.search = QLineEdit()
        self.search.setPlaceholderText("User or role name starts with\u2026")
        self.search.setClearButtonEnabled(True)
        top = QHBoxLayout()
        for w in (self.horizon, self.order):
            top.addWidget(w)
        top.addWidget(self.search, 1)

        self.model = ExpiryModel(db, store, self)
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setAlternatingRowColors(True)
        self.view.verticalHeader().setVisible(False)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.view.horizontalHeader().setStretchLastSection(True)
        for column, width in enumerate((180, 180, 140, 110)):
            self.view.setColumnWidth(column, width)

        self.days = QSpinBox()
        self.days.setRange(1, 3650)
        self.days.setValue(90)
        self.days.setSuffix(" days")
        self.extend_selected = QPushButton("Extend selected")
        self.remove_selected = QPushButton("Remove selected")
        self.extend_all = QPushButton("Extend all listed")
        self.remove_all = QPushButton("Remove all listed")
        buttons = QHBoxLayout()
        buttons.addWidget(QLabel("Extend by"))
        buttons.addWidget(self.days)
        for b in (self.extend_selected, self.remove_selected, self.extend_all, self.remove_all):
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.fix_buttons = [
            self.days, self.extend_selected, self.remove_selected, self.extend_all, self.remove_all
        ]
        self.extend_selected.setToolTip("Push a new expiry for each selected assignment (pending until Save)")
        self.extend_all.setToolTip(
            f"Every assignment this list holds (up to {expiry.BULK_LIMIT:,}), pending until Save"
        )

        self.layout_box.addWidget(self.summary)
        self.layout_box.addLayout(top)
        self.layout_box.addWidget(self.view, 1)
        self.layout_box.addLayout(buttons)
        self.finish_layout()

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.refresh)
        self.search.textChanged.connect(lambda _t: self._debounce.start())
        self.horizon.currentIndexChanged.connect(lambda _i: self.refresh())
        self.order.currentIndexChanged.connect(lambda _i: self.refresh())
        self.extend_selected.clicked.connect(lambda: self._extend(selected=True))
        self.remove_selected.clicked.connect(lambda: self._remove(selected=True))
        self.extend_all.clicked.connect(lambda: self._extend(selected=False))
        self.remove_all.clicked.connect(lambda: self._remove(selected=False))
        self.refresh()

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        self.model.stop()
        super().closeEvent(event)

    # ------------------------------------------------------------ reading

    def set_horizon(self, horizon: Horizon) -> None:
        self.horizon.setCurrentIndex(list(Horizon).index(horizon))

    def refresh(self) -> None:
        """Re-read the counts, then the first page of the list."""
        self.model.horizon = self.horizon.currentData()
        self.model.order = self.order.currentData()
        self.model.search = self.search.text()

        def shown(counts: ExpiryCounts) -> None:
            self.counts = counts
            self.summary.setText(
                f"Expired but still assigned: {counts.expired:,}   \u00b7   within 7 days: "
                f"{counts.days_7:,}   \u00b7   30 days: {counts.days_30:,}   \u00b7   "
                f"90 days: {counts.days_90:,}"
            )
            self.model.reload()

        self.read("Counting expiring assignments\u2026", lambda s: expiry.counts(s), shown)

    def selected_rows(self) -> list[ExpiryRow]:
        rows = sorted({i.row() for i in self.view.selectionModel().selectedRows()})
        return [self.model.row_at(r) for r in rows]

    # ------------------------------------------------------------ bulk edits

    def _targets(self, selected: bool, then: Any) -> None:
        if selected:
            rows = self.selected_rows()
            if not rows:
                self.say("Select one or more assignments first.")
                return
            then(rows)
            return
        horizon, search, now = self.model.horizon, self.model.search, self.model.now
        self.read(
            "Collecting every listed assignment\u2026",
            lambda s: expiry.rows_for_bulk(s, horizon, search=search, now=now),
            then,
        )

    def _extend(self, *, selected: bool) -> None:
        days = self.days.value()
        self._targets(selected, lambda rows: self._push(rows, expiry.extend_by_edits(rows, days)))

    def _remove(self, *, selected: bool) -> None:
        self._targets(selected, lambda rows: self._push(rows, expiry.remove_edits(rows)))

    def _push(self, rows: list[ExpiryRow], edits: list[Any]) -> None:
        """Propose ``edits``; a bulk action cut at BULK_LIMIT says so once pending."""
        cut = len(rows) >= expiry.BULK_LIMIT
        note = (
            f" Only the first {expiry.BULK_LIMIT:,} listed were taken: save, then repeat for the rest."
            if cut else ""
        )
        self.propose(edits, done=lambda _n: self.say(self.message.text() + note) if note else None)


def show_expiry_calendar(db: Database, store: PendingStore, parent: QWidget) -> ExpiryCalendar:
    window = ExpiryCalendar(db, store, parent)
    return open_window(window, "Expiry calendar", (900, 600))
