"""Governance > What would revoke an access: the smallest sets of changes that would deny
an allowed (user, resource, action), each with who else would lose what; choosing one
makes it pending (Review changes, Ctrl+S)."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableView,
    QWidget,
)

from ...core import impact, lookup
from ...core.database import Database
from ...core.governance import cut
from ...core.governance.cut import Cut, CutAnswer
from ...core.operators import AppAction
from ..access.common import RowsModel, SqlCompleter, open_window, plain_label
from ..pending import PendingStore
from .common import GREY, RED, GovernanceWindow
from .tasks import Task

HEADERS = ("Changes", "Others losing access", "Side effects")


def _effects(option: Cut) -> str:
    if option.error:
        return f"Refused: {option.error}"
    if not option.reviewed:
        return option.note or "\u2026"
    if not option.lost_count:
        return "nobody else loses anything"
    shown = "; ".join(f"{u}: {p}" for u, p in option.losses[:6])
    more = option.lost_count - min(len(option.losses), 6)
    return shown + (f"; \u2026 and {more:,} more" if more > 0 else "")


class RevokingCutWindow(GovernanceWindow):
    """User/resource/action → the minimum cuts, reviewed one by one; Make pending.

    Attributes:
        answer: the last answer; ``cuts``: its cuts as reviewed so far; ``table``.
    """

    FIX_NEEDS = (AppAction.EDIT_ROLES, AppAction.ASSIGN_ROLES)

    def __init__(self, db: Database, store: PendingStore, parent: QWidget | None = None) -> None:
        super().__init__(db, store, parent)
        self.answer: CutAnswer | None = None
        self.cuts: list[Cut] = []
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
        self.find_button = QPushButton("Find the smallest cuts")
        self.find_button.setDefault(True)
        top = QHBoxLayout()
        for w in (self.user_edit, self.resource_edit, self.action_edit, self.find_button):
            top.addWidget(w)
        self.headline = plain_label("Which changes, fewest first, would take this access away?")
        self.model = RowsModel(HEADERS, self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setColumnWidth(0, 360)
        self.table.setColumnWidth(1, 150)
        self.table.setWordWrap(True)
        self.details = QPlainTextEdit(readOnly=True)
        self.details.setMaximumHeight(140)
        self.pending_button = QPushButton("Make this cut pending")
        self.pending_button.setToolTip("Push the chosen changes as pending edits (Review, then Save)")
        self.fix_buttons = [self.pending_button]
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.pending_button)
        self.layout_box.addLayout(top)
        self.layout_box.addWidget(self.headline)
        self.layout_box.addWidget(self.table, 1)
        self.layout_box.addWidget(self.details)
        self.layout_box.addLayout(bottom)
        self.finish_layout()
        self.find_button.clicked.connect(self.find_cuts)
        for edit in (self.user_edit, self.resource_edit, self.action_edit):
            edit.returnPressed.connect(self.find_cuts)
        self.table.selectionModel().selectionChanged.connect(lambda *_a: self._show_details())
        self.pending_button.clicked.connect(self.make_pending)

    def set_query(self, user: str, resource: str, action: str) -> None:
        self.user_edit.setText(user)
        self.resource_edit.setText(resource)
        self.action_edit.setText(action)

    # ------------------------------------------------------------ finding and reviewing

    def find_cuts(self) -> None:
        user, resource, action = (
            e.text().strip() for e in (self.user_edit, self.resource_edit, self.action_edit)
        )
        if not (user and resource and action):
            self.say("Give a user, a resource and an action.", RED)
            return
        db, pending = self.db, self.store.edits_for_save()

        def work(task: Task[Any]) -> tuple[CutAnswer, list[Cut]]:
            task.report("Finding the minimum cuts\u2026")
            # As if the pending edits were saved: the cut is about the state the user sees.
            answer, _problems = impact.with_pending(
                db, pending, lambda s: cut.revoking_cuts(s, user, resource, action)
            )
            reviewed = []
            for number, option in enumerate(answer.cuts, start=1):
                task.report(f"Reviewing side effects of cut {number} of {len(answer.cuts)}\u2026")
                reviewed.append(cut.review_cut(db, pending, answer, option))
            return answer, reviewed

        self.say("")
        self.work("Finding the minimum cuts\u2026", work, self._found)

    def _found(self, result: tuple[CutAnswer, list[Cut]]) -> None:
        answer, reviewed = result
        self.answer = answer
        # Fewest side effects first among the equally small cuts.
        self.cuts = sorted(reviewed, key=lambda c: (c.error is not None, c.lost_count))
        if not answer.allowed:
            self.headline.setText(
                f"{answer.username} may not {answer.permission} now: there is nothing to cut."
            )
        else:
            n = answer.size
            self.headline.setText(
                f"Taking {answer.permission} away from {answer.username} needs {n} change"
                f"{'s' if n != 1 else ''} at least. {len(self.cuts)} way"
                f"{'s' if len(self.cuts) != 1 else ''} to do it, fewest side effects first:"
            )
        rows = [
            (
                "; ".join(s.describe() for s in c.steps),
                "\u2014" if c.error or not c.reviewed else f"{c.others_losing:,}",
                _effects(c),
            )
            for c in self.cuts
        ]
        self.model.set_rows(rows, colors=[RED if c.error else None for c in self.cuts])
        self.table.resizeRowsToContents()
        if self.cuts:
            self.table.selectRow(0)
        else:
            self.details.clear()

    def _selected(self) -> Cut | None:
        rows = self.table.selectionModel().selectedRows()
        return self.cuts[rows[0].row()] if rows else None

    def _show_details(self) -> None:
        chosen = self._selected()
        if chosen is None:
            self.details.clear()
            return
        lines = [e.describe() for e in chosen.edits]
        if chosen.error:
            lines.append(f"Refused: {chosen.error}")
        elif chosen.losses:
            lines.append("")
            lines.append("Would also take away:")
            lines += [f"  {u}: {p}" for u, p in chosen.losses]
        self.details.setPlainText("\n".join(lines))

    def make_pending(self) -> None:
        chosen = self._selected()
        if chosen is None:
            self.say("Choose one of the cuts first.", GREY)
            return
        self.propose(list(chosen.edits))


def show_cut(db: Database, store: PendingStore, parent: QWidget) -> RevokingCutWindow:
    return open_window(RevokingCutWindow(db, store, parent), "What would revoke an access", (980, 600))
