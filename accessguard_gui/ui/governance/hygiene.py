"""Governance > Role hygiene: the findings of ``core.governance.hygiene``, grouped by kind,
each with its fix; fixing makes the fix's edits pending (Review changes, Ctrl+S)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from ...core.changes import Edit
from ...core.database import Database
from ...core.governance import hygiene
from ...core.governance.hygiene import Finding, KindResult
from ...core.operators import AppAction
from ..access.common import PENDING, open_window
from ..pending import PendingStore
from ..plain_text import plain_tooltip
from .common import GREY, GovernanceWindow
from .tasks import Task, read_in

FINDING_ROLE = Qt.ItemDataRole.UserRole + 1


class HygieneWindow(GovernanceWindow):
    """Findings by kind, with Fix checked / Fix all of a kind.

    Attributes:
        results: the last scan's results; ``tree``: one group per kind.
    """

    FIX_NEEDS = (AppAction.EDIT_ROLES, AppAction.ASSIGN_ROLES)

    def __init__(self, db: Database, store: PendingStore, parent: QWidget | None = None) -> None:
        super().__init__(db, store, parent)
        self.results: list[KindResult] = []
        self.scan_button = QPushButton("Scan again")
        self.scan_button.clicked.connect(self.scan)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Finding", "Why", "Fix"])
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setAlternatingRowColors(True)
        self.tree.setColumnWidth(0, 360)
        self.tree.setColumnWidth(1, 360)
        self.fix_checked = QPushButton("Fix checked")
        self.fix_checked.setToolTip("Make the fixes of the ticked findings pending (Review, then Save)")
        self.fix_group = QPushButton("Fix all of this kind")
        self.fix_group.setToolTip("Every listed finding of the selected kind")
        self.fix_buttons = [self.fix_checked, self.fix_group]
        self.fix_checked.clicked.connect(lambda: self._fix(self.checked_findings()))
        self.fix_group.clicked.connect(lambda: self._fix(self.group_findings()))
        buttons = QHBoxLayout()
        buttons.addWidget(self.scan_button)
        buttons.addStretch(1)
        buttons.addWidget(self.fix_checked)
        buttons.addWidget(self.fix_group)
        self.layout_box.addWidget(self.tree, 1)
        self.layout_box.addLayout(buttons)
        self.finish_layout()
        store.changed.connect(self._mark_pending)
        self.scan()

    def scan(self) -> None:
        """Run every check off the GUI thread (Cancel stops the running statement)."""
        db = self.db

        def work(task: Task[Any]) -> list[KindResult]:
            return read_in(db, task, lambda s: hygiene.scan(s, progress=task.report))

        self.say("")
        self.work("Scanning the role model\u2026", work, self._show)

    def _show(self, results: list[KindResult]) -> None:
        self.results = results
        # Items are built detached and added in one call with painting off: a thousand
        # findings added one by one to a shown tree cost ~180 ms on the GUI thread.
        self.tree.setUpdatesEnabled(False)
        self.tree.clear()
        groups: list[QTreeWidgetItem] = []
        problems = 0
        for result in results:
            group = QTreeWidgetItem([f"{result.kind.title} ({result.total_text})", result.kind.why, ""])
            font = group.font(0)
            font.setBold(True)
            group.setFont(0, font)
            group.setToolTip(1, plain_tooltip(result.kind.why))
            problems += result.total
            children = []
            for finding in result.findings:
                item = QTreeWidgetItem([finding.subject, finding.detail, finding.fix or "(no fix offered)"])
                item.setData(0, FINDING_ROLE, finding)
                item.setToolTip(1, plain_tooltip(finding.detail))
                if finding.edits and not self.read_only:
                    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                    item.setCheckState(0, Qt.CheckState.Unchecked)
                children.append(item)
            if len(result.findings) < result.total:
                more = QTreeWidgetItem([f"\u2026 and {result.total - len(result.findings):,} more", "", ""])
                more.setForeground(0, GREY)
                children.append(more)
            group.addChildren(children)
            groups.append(group)
        self.tree.addTopLevelItems(groups)
        for group, result in zip(groups, results, strict=True):
            group.setExpanded(bool(result.findings))
        self.tree.setUpdatesEnabled(True)
        self._mark_pending()
        self.say(
            "No findings: the role model is clean." if not problems else f"{problems:,} finding"
            f"{'s' if problems != 1 else ''}. Tick the ones to fix; fixes are pending until Save.",
        )

    def _mark_pending(self) -> None:
        """A finding whose fix is pending says so (and cannot be ticked again); undone,
        it is offered again. The store holds the very edit objects a fix pushed."""
        pending = {id(e) for e in self.store.edits()}
        brush = QBrush(PENDING)
        for item in self._items():
            finding = item.data(0, FINDING_ROLE)
            if not isinstance(finding, Finding) or not finding.edits:
                continue
            is_pending = all(id(e) in pending for e in finding.edits)
            item.setText(2, f"{finding.fix} \u2014 pending" if is_pending else finding.fix)
            item.setForeground(2, brush if is_pending else QBrush())
            if is_pending and item.checkState(0) == Qt.CheckState.Checked:
                item.setCheckState(0, Qt.CheckState.Unchecked)

    # ------------------------------------------------------------ fixing

    def _items(self) -> list[QTreeWidgetItem]:
        out: list[QTreeWidgetItem] = []
        for g in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(g)
            if group is not None:
                out += _children(group)
        return out

    def checked_findings(self) -> list[Finding]:
        return [
            item.data(0, FINDING_ROLE)
            for item in self._items()
            if isinstance(item.data(0, FINDING_ROLE), Finding)
            and item.checkState(0) == Qt.CheckState.Checked
        ]

    def group_findings(self) -> list[Finding]:
        item = self.tree.currentItem()
        if item is None:
            return []
        group = item.parent() or item
        found = [child.data(0, FINDING_ROLE) for child in _children(group)]
        return [f for f in found if isinstance(f, Finding)]

    def set_checked(self, subject: str) -> None:
        for item in self._items():
            if item.text(0) == subject and item.flags() & Qt.ItemFlag.ItemIsUserCheckable:
                item.setCheckState(0, Qt.CheckState.Checked)

    def _fix(self, findings: list[Finding]) -> None:
        pending = {id(e) for e in self.store.edits()}
        edits: list[Edit] = [e for f in findings for e in f.edits if id(e) not in pending]
        if not edits:
            self.say("Tick one or more findings that have a fix (or select a kind) first.")
            return
        self.propose(edits)


def _children(item: QTreeWidgetItem) -> list[QTreeWidgetItem]:
    return [c for c in (item.child(i) for i in range(item.childCount())) if c is not None]


def show_hygiene(db: Database, store: PendingStore, parent: QWidget) -> HygieneWindow:
    return open_window(HygieneWindow(db, store, parent), "Role hygiene", (1000, 640))
