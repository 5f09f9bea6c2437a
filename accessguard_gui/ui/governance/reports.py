"""Governance > Auditor reports: a user's effective access, a resource's authorized users,
SoD violations, the audit trail of a period and the hygiene findings, each stamped with
the file, date, operator and audit chain head, saved as PDF (Qt's writer) or CSV."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableView,
    QWidget,
)

from ...core import lookup
from ...core.database import Database
from ...core.governance import reports
from ...core.governance.reports import Report
from ...core.models import utcnow
from .. import messages
from ..access.common import RowsModel, SqlCompleter, open_window
from ..pending import PendingStore
from .common import GREEN, RED, GovernanceWindow, datetime_picker, picked_moment, set_moment
from .pdf import write_pdf
from .tasks import Task, read_in

PREVIEW_ROWS = 200
Builder = Callable[[Any, reports.Stamp, Callable[[str], None]], Report]


class ReportsWindow(GovernanceWindow):
    """Choose a report, build it off the GUI thread, look at it, save it.

    Attributes:
        kind: the report chosen; ``report``: the last one built; ``preview``: its
        stamp and sections; ``rows``: the first rows of its main section.
    """

    KINDS = (
        ("user", "Effective access of a user, with paths"),
        ("resource", "Authorized users of a resource"),
        ("sod", "Separation-of-duty violations"),
        ("audit", "Audit trail of a period"),
        ("hygiene", "Role hygiene findings"),
    )

    def __init__(self, db: Database, store: PendingStore, parent: QWidget | None = None) -> None:
        super().__init__(db, store, parent)
        self.report: Report | None = None
        self.kind = QComboBox()
        for key, text in self.KINDS:
            self.kind.addItem(text, key)
        self.user_edit = QLineEdit(placeholderText="username")
        self.resource_edit = QLineEdit(placeholderText="resource")
        self.action_edit = QLineEdit(placeholderText="action (empty: every action)")
        self._completers = [
            SqlCompleter(db, lookup.complete_usernames, self.user_edit),
            SqlCompleter(db, lookup.complete_resources, self.resource_edit),
        ]
        now = utcnow()
        self.since = datetime_picker(now - timedelta(days=30))
        self.until = datetime_picker(now)
        self.build_button = QPushButton("Build report")
        self.build_button.setDefault(True)
        self.pdf_button = QPushButton("Save as PDF\u2026")
        self.csv_button = QPushButton("Save as CSV\u2026")
        form = QFormLayout()
        form.addRow("Report", self.kind)
        form.addRow("User", self.user_edit)
        resource_row = QHBoxLayout()
        resource_row.addWidget(self.resource_edit)
        resource_row.addWidget(self.action_edit)
        form.addRow("Resource", resource_row)
        period = QHBoxLayout()
        period.addWidget(self.since)
        period.addWidget(self.until)
        period.addStretch(1)
        form.addRow("Period (UTC)", period)
        self._form = form
        self.preview = QPlainTextEdit(readOnly=True)
        self.preview.setMaximumHeight(170)
        self.rows = RowsModel(("",), self)
        self.table = QTableView()
        self.table.setModel(self.rows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.build_button)
        buttons.addStretch(1)
        buttons.addWidget(self.pdf_button)
        buttons.addWidget(self.csv_button)
        self.layout_box.addLayout(form)
        self.layout_box.addLayout(buttons)
        self.layout_box.addWidget(self.preview)
        self.layout_box.addWidget(self.table, 1)
        self.finish_layout()
        self.kind.currentIndexChanged.connect(lambda _i: self._fields())
        self.build_button.clicked.connect(self.build)
        self.pdf_button.clicked.connect(lambda: self.save("pdf"))
        self.csv_button.clicked.connect(lambda: self.save("csv"))
        self._fields()
        self._saving_enabled(False)

    def _fields(self) -> None:
        key = self.kind.currentData()
        for row, wanted in ((1, key == "user"), (2, key == "resource"), (3, key == "audit")):
            self._form.setRowVisible(row, wanted)

    def _saving_enabled(self, on: bool) -> None:
        for button in (self.pdf_button, self.csv_button):
            button.setEnabled(on)

    def choose(self, key: str) -> None:
        self.kind.setCurrentIndex(self.kind.findData(key))

    def set_period(self, start: datetime, end: datetime) -> None:
        set_moment(self.since, start)
        set_moment(self.until, end)

    # ------------------------------------------------------------ building

    def _builder(self) -> Builder | None:
        key = self.kind.currentData()
        if key == "user":
            user = self.user_edit.text().strip()
            if not user:
                self.say("Give a user.", RED)
                return None
            return lambda s, st, p: reports.user_access(s, user, st, p)
        if key == "resource":
            resource, action = self.resource_edit.text().strip(), self.action_edit.text().strip()
            if not resource:
                self.say("Give a resource.", RED)
                return None
            return lambda s, st, p: reports.resource_users(s, resource, action or None, st, p)
        if key == "sod":
            return reports.sod_violations
        if key == "audit":
            start, end = sorted((picked_moment(self.since), picked_moment(self.until)))
            return lambda s, st, p: reports.audit_trail(s, start, end, st, p)
        return reports.hygiene_findings

    def build(self) -> None:
        builder = self._builder()
        if builder is None:
            return
        db = self.db

        def work(task: Task[Any]) -> Report:
            def run(session: Any) -> Report:
                the_stamp = reports.stamp(session, db.display_name, db.operator)
                return builder(session, the_stamp, task.report)

            return read_in(db, task, run)

        self.say("")
        self._saving_enabled(False)
        self.work("Building the report\u2026", work, self._built)

    def _built(self, report: Report) -> None:
        self.report = report
        lines = [report.title, report.subject, ""]
        lines += [f"{k}: {v}" for k, v in report.stamp.lines()]
        lines.append("")
        lines += [
            f"{s.heading}: {len(s.rows):,} row{'s' if len(s.rows) != 1 else ''}"
            + (f" \u2014 {s.note}" if s.note else "")
            for s in report.sections
        ]
        self.preview.setPlainText("\n".join(lines))
        main = max(reversed(report.sections), key=lambda s: len(s.rows))  # ties: the last
        shown = list(main.rows[:PREVIEW_ROWS])
        self.rows.set_rows(shown, headers=main.columns)
        self.say(
            f"{report.row_count:,} rows. The table shows "
            f"{'the first ' + format(len(shown), ',') + ' of ' if len(shown) < len(main.rows) else ''}"
            f"{main.heading}. Save it as PDF or CSV."
        )
        self._saving_enabled(True)

    # ------------------------------------------------------------ saving

    def save(self, kind: str, path: str | None = None) -> None:
        report = self.report
        if report is None:
            return
        stamp = datetime.now(UTC).strftime("%Y-%m-%d")
        suggested = f"{report.title.lower().replace(' ', '-')}-{stamp}.{kind}"
        target = path or messages.ask_save_path(self, f"Save report as {kind.upper()}", suggested)
        if not target:
            return
        writer = write_pdf if kind == "pdf" else reports.write_csv

        def work(task: Task[Any]) -> Path:
            task.report(f"Writing {Path(target).name}\u2026")
            return writer(report, target)

        def done(written: Path) -> None:
            self.say(f"Saved {written}.", GREEN)

        self.work("Writing the report\u2026", work, done)


def show_reports(db: Database, store: PendingStore, parent: QWidget) -> ReportsWindow:
    return open_window(ReportsWindow(db, store, parent), "Auditor reports", (980, 700))
