"""Governance > Access at a date: "could alice do Payroll: approve on 2026-03-14 10:00, and
why?" and "what changed alice's access between two dates", from the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from ...core import lookup
from ...core.database import Database
from ...core.governance import history
from ...core.governance.history import AccessDiff, PastDecision
from ...core.models import utcnow
from ..access.common import SqlCompleter, open_window
from ..pending import PendingStore
from ..plain_text import plain_tooltip
from .common import GREEN, RED, GovernanceWindow, datetime_picker, picked_moment, set_moment


class HistoryWindow(GovernanceWindow):
    """Two questions about the past.

    Attributes:
        user_edit, resource_edit, action_edit, when: the "could X do Y at T" inputs;
        verdict, explanation: its answer. since, until, diff_tree: the period question.
    """

    def __init__(self, db: Database, store: PendingStore, parent: QWidget | None = None) -> None:
        super().__init__(db, store, parent)
        self.user_edit = QLineEdit(placeholderText="username")
        self.resource_edit = QLineEdit(placeholderText="resource")
        self.action_edit = QLineEdit(placeholderText="action")
        self._completers = [
            SqlCompleter(db, lookup.complete_usernames, self.user_edit),
            SqlCompleter(db, lookup.complete_resources, self.resource_edit),
            SqlCompleter(
                db, lambda s, p: lookup.complete_actions(s, self.resource_edit.text(), p), self.action_edit
            ),
        ]
        now = utcnow()
        self.when = datetime_picker(now)
        self.ask_button = QPushButton("Ask")
        self.ask_button.setDefault(True)
        self.verdict = QLabel("\u2014")
        font = QFont()
        font.setPointSize(20)
        font.setBold(True)
        self.verdict.setFont(font)
        self.explanation = QPlainTextEdit(readOnly=True)
        self.explanation.setPlaceholderText("The answer, with the paths as they were then.")
        ask_box = QGroupBox("Could this user do this, then \u2014 and why?")
        form = QFormLayout(ask_box)
        row = QHBoxLayout()
        for w in (self.user_edit, self.resource_edit, self.action_edit):
            row.addWidget(w)
        form.addRow("User, resource, action", row)
        at_row = QHBoxLayout()
        at_row.addWidget(self.when)
        at_row.addWidget(self.ask_button)
        at_row.addStretch(1)
        form.addRow("At", at_row)
        form.addRow(self.verdict)
        form.addRow(self.explanation)

        self.since = datetime_picker(now.replace(hour=0, minute=0, second=0, microsecond=0))
        self.until = datetime_picker(now)
        self.diff_button = QPushButton("What changed")
        self.diff_tree = QTreeWidget()
        self.diff_tree.setHeaderLabels(["Permission / audit entry", "When", "By", "Action"])
        self.diff_tree.setColumnWidth(0, 380)
        self.diff_tree.setColumnWidth(1, 150)
        diff_box = QGroupBox("What changed this user's access between two dates")
        diff_layout = QFormLayout(diff_box)
        period = QHBoxLayout()
        period.addWidget(self.since)
        period.addWidget(QLabel("to"))
        period.addWidget(self.until)
        period.addWidget(self.diff_button)
        period.addStretch(1)
        diff_layout.addRow("From", period)
        diff_layout.addRow(self.diff_tree)

        self.layout_box.addWidget(ask_box, 1)
        self.layout_box.addWidget(diff_box, 1)
        self.finish_layout()
        self.ask_button.clicked.connect(self.ask)
        self.diff_button.clicked.connect(self.compare)
        for edit in (self.user_edit, self.resource_edit, self.action_edit):
            edit.returnPressed.connect(self.ask)

    # ------------------------------------------------------------ questions

    def set_question(self, user: str, resource: str, action: str, moment: datetime) -> None:
        self.user_edit.setText(user)
        self.resource_edit.setText(resource)
        self.action_edit.setText(action)
        set_moment(self.when, moment)

    def ask(self) -> None:
        user, resource, action = (
            e.text().strip() for e in (self.user_edit, self.resource_edit, self.action_edit)
        )
        if not (user and resource and action):
            self.say("Give a user, a resource and an action.", RED)
            return
        moment = picked_moment(self.when)
        self.say("")
        self.read(
            "Reconstructing that moment from the audit trail\u2026",
            lambda s: history.access_at(s, user, resource, action, moment),
            self._answered,
        )

    def _answered(self, past: PastDecision) -> None:
        allowed = past.decision.allowed
        self.verdict.setText("Allowed then" if allowed else "Denied then")
        self.verdict.setStyleSheet(f"color: {(GREEN if allowed else RED).name()};")
        self.explanation.setPlainText(past.explanation())

    def failed(self, error: Any) -> None:
        super().failed(error)
        self.verdict.setText("\u2014")
        self.verdict.setStyleSheet("")

    def compare(self) -> None:
        user = self.user_edit.text().strip()
        if not user:
            self.say("Give a user.", RED)
            return
        start, end = picked_moment(self.since), picked_moment(self.until)
        self.say("")
        self.read(
            "Comparing the two moments\u2026",
            lambda s: history.changes_between(s, user, start, end),
            self._compared,
        )

    def _compared(self, diff: AccessDiff) -> None:
        self.diff_tree.clear()
        for change in diff.changes:
            sign = "+ gained" if change.gained else "\u2212 lost"
            top = QTreeWidgetItem([f"{sign}  {change.permission}", "", "", ""])
            top.setForeground(0, GREEN if change.gained else RED)
            self.diff_tree.addTopLevelItem(top)
            for entry in change.entries:
                line = f"{entry.operation} {entry.record_type} {entry.record_key}"
                child = QTreeWidgetItem([line, f"{entry.at:%Y-%m-%d %H:%M:%S}", entry.operator, entry.action])
                child.setToolTip(0, plain_tooltip(line))
                top.addChild(child)
            top.setExpanded(True)
        n = len(diff.changes)
        self.say(
            f"{diff.username}: {len(diff.gains)} gained, {len(diff.losses)} lost between "
            f"{diff.start:%Y-%m-%d %H:%M} and {diff.end:%Y-%m-%d %H:%M} UTC."
            if n
            else f"{diff.username}'s access did not change in that period."
        )


def show_history(db: Database, store: PendingStore, parent: QWidget) -> HistoryWindow:
    return open_window(HistoryWindow(db, store, parent), "Access at a date", (900, 720))
