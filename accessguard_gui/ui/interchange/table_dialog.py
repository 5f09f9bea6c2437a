"""Export… of a table page: the rows as shown (search, filters, sort) to a CSV file, or —
on the audit log — the entries of a period.

The dialog says exactly what will be written ("850 of 1,000,000 users — search “ada”,
Status: Active — sorted by Display name, descending"), writes it on a worker thread
(``core.interchange.table_export``) with a progress bar and Cancel, and leaves no file
behind when cancelled or when writing fails.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDateEdit,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from ...core.browse import BrowseQuery, TableSpec
from ...core.database import Database
from ...core.interchange import table_export
from ..access.common import plain_label
from ..plain_text import plain_tooltip
from . import paths
from .tasks import TaskDialog, pending_note


def describe(page: Any) -> str:
    """What a table page shows, in words, from its own widgets and model."""
    model = page.model
    shown, total = model.counts() if callable(getattr(model, "counts", None)) else (0, 0)
    kind = page.kind
    counting = any(
        callable(getattr(model, name, None)) and getattr(model, name)()
        for name in ("is_counting", "is_busy")  # a search still running or being counted
    )
    conditions = []
    if page.search.text().strip():
        conditions.append(f"search \u201c{page.search.text().strip()}\u201d")
    for item in kind.filters:
        combo = page.filters.get(item.key)
        if combo is not None and combo.currentIndex() > 0:
            conditions.append(f"{item.label}: {combo.currentText()}")
    if counting:
        parts = [f"the {kind.plural} found (still counting)"]
    elif conditions or shown != total:
        parts = [f"{shown:,} of {total:,} {kind.singular if total == 1 else kind.plural}"]
    else:
        parts = [f"all {total:,} {kind.singular if total == 1 else kind.plural}"]
    if conditions:
        parts.append(", ".join(conditions))
    query: BrowseQuery = model.query
    spec: TableSpec = model.spec
    sort = spec.column(query.sort or spec.default_sort).title
    parts.append(f"sorted by {sort}{', descending' if query.descending else ''}")
    return " \u2014 ".join(parts)


def _file_name(title: str) -> str:
    return re.sub(r"[^\w.-]+", "-", title).strip("-").lower() + ".csv"


class TableExportDialog(TaskDialog):
    """Export a table page as shown, or the audit log of a period, to CSV.

    Args:
        db: the database the page reads.
        spec, query: the page's table and its current search, filters and sort.
        description: the page's state in words (``describe``).
        pending: how many edits are pending (not in the file, so not exported).

    Signals:
        exported(int, str): rows written and the file's path.
    """

    exported = Signal(int, str)

    def __init__(
        self,
        db: Database,
        spec: TableSpec,
        query: BrowseQuery,
        description: str,
        parent: QWidget | None = None,
        *,
        pending: int = 0,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("table_export_dialog")
        self.setWindowTitle(f"Export {spec.title}")
        self.db = db
        self.spec = spec
        self.query = query
        self.audit = spec.key == "audit"

        self.shown = QRadioButton(f"The {spec.plural} shown: {description}")
        self.shown.setToolTip(plain_tooltip(description))  # may quote the search text
        self.shown.setObjectName("shown")
        self.shown.setChecked(True)
        layout = QVBoxLayout(self)
        layout.addWidget(plain_label("Write to a CSV file (UTF-8, one row per line; cells a "
                                     "spreadsheet would run as a formula are marked with ')."))
        layout.addWidget(self.shown)
        self.period = QRadioButton("The audit log of a period (every field, oldest first):")
        self.period.setObjectName("period")
        today = QDate.currentDate()
        self.since = QDateEdit(today.addDays(-30))
        self.until = QDateEdit(today)
        for edit, name in ((self.since, "since"), (self.until, "until")):
            edit.setObjectName(name)
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        if self.audit:
            group = QButtonGroup(self)
            group.addButton(self.shown)
            group.addButton(self.period)
            layout.addWidget(self.period)
            dates = QHBoxLayout()
            dates.setContentsMargins(24, 0, 0, 0)
            dates.addWidget(plain_label("From"))
            dates.addWidget(self.since)
            dates.addWidget(plain_label("to"))
            dates.addWidget(self.until)
            dates.addWidget(plain_label("(whole days, UTC)"))
            dates.addStretch(1)
            layout.addLayout(dates)
            self.period.toggled.connect(self.update_controls)
        if pending:
            layout.addWidget(pending_note(
                pending, "they are not exported (the file holds what the database holds)."
            ))

        self.target = QLineEdit()
        self.target.setObjectName("target")
        self.target.setPlaceholderText("File to write")
        self.target.setText(str(Path.home() / _file_name(spec.title)))
        browse = QPushButton("Browse\u2026")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.target, 1)
        row.addWidget(browse)
        form = QFormLayout()
        label = QLabel("&File:")
        label.setBuddy(self.target)
        form.addRow(label, row)
        layout.addLayout(form)

        self.add_task_rows(layout)
        self.export_button = self.add_buttons(layout, "Export", "export")
        self.target.textChanged.connect(self.update_controls)
        self._total = self._shown_count(description)
        self.resize(max(self.sizeHint().width(), 560), self.sizeHint().height())
        self.update_controls()

    @staticmethod
    def _shown_count(description: str) -> int:
        """The row count the description names (0 while unknown: a busy progress bar)."""
        match = re.match(r"(?:all )?([\d,]+)", description)
        return int(match.group(1).replace(",", "")) if match else 0

    def _browse(self) -> None:
        chosen = paths.pick_save_path(self, "Export to CSV", self.target.text())
        if chosen:
            self.target.setText(chosen)

    def update_controls(self) -> None:
        running = self.task is not None
        self.export_button.setEnabled(bool(self.target.text().strip()) and not running)
        for w in (self.since, self.until):
            w.setEnabled(self.period.isChecked() and not running)

    def period_bounds(self) -> tuple[datetime, datetime]:
        """The chosen days as [start of the first, start of the day after the last) UTC."""
        def start(edit: QDateEdit) -> datetime:
            day = edit.date()
            return datetime(day.year(), day.month(), day.day(), tzinfo=UTC)

        return start(self.since), start(self.until) + timedelta(days=1)

    # ------------------------------------------------------------------ running

    def start(self) -> None:
        """Write the file on a worker thread."""
        if self.task is not None:
            return
        target = Path(self.target.text().strip()).expanduser()
        self.error.setText("")
        db, spec, query = self.db, self.spec, self.query
        if self.period.isChecked():
            since, until = self.period_bounds()
            if until <= since:
                self.error.setText("The period is empty: its last day is before its first.")
                return

            def work(progress: Any, cancelled: Any) -> int:
                return table_export.export_audit(db, target, since, until, progress=progress,
                                                 cancelled=cancelled)
            total = 0  # the number of entries is not counted first: a busy bar
        else:
            def work(progress: Any, cancelled: Any) -> int:
                return table_export.export_view(db, spec, query, target, progress=progress,
                                                cancelled=cancelled)
            total = self._total  # 0 while the page was still counting: a busy bar
        written = str(target)

        def succeeded(rows: Any) -> None:
            self._succeeded(int(rows), written)

        self.run_task(work, "Writing\u2026", succeeded, total=total)

    def _succeeded(self, rows: int, target: str) -> None:
        self.status.setText(f"Wrote {rows:,} rows to {target}.")
        self.exported.emit(rows, target)
        self.accept()


def export_table_page(db: Database, page: Any, parent: QWidget | None,
                      pending: int = 0) -> TableExportDialog:
    """Open the export dialog for a table page (non-modal) and return it."""
    dialog = TableExportDialog(db, page.model.spec, page.model.query, describe(page),
                               parent, pending=pending)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog
