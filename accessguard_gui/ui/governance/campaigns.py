"""Governance > Access reviews: open a campaign over a scope with reviewers, decide keep /
revoke / change expiry with a note, follow progress per reviewer, make the revocations
pending (Review changes, Ctrl+S), close the campaign and export its evidence.

Decisions are recorded in the file as they are made (each its own short action): they
are the evidence of who decided what and when, not changes of access. The changes of
access they call for go through the pending edits like every other edit.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ...core import browse
from ...core.database import Database
from ...core.governance import campaigns, reports
from ...core.governance.campaigns import CampaignRow, Decision, ItemRow, ReviewerProgress, Scope
from ...core.models import utcnow
from ...core.operators import AppAction
from .. import messages
from ..access.common import RowsModel, open_window, plain_label
from ..pending import PendingStore
from .common import GREEN, RED, GovernanceWindow, datetime_picker, picked_moment
from .paged import PagedModel
from .pdf import write_pdf
from .tasks import Task, read_in

ITEM_HEADERS = ("Reviewed", "Expires", "Reviewer", "Decision", "Note", "Decided by")
ALL_REVIEWERS = "All reviewers"


def _when(moment: Any) -> str:
    return "" if moment is None else f"{moment:%Y-%m-%d}"


def _item_cells(item: ItemRow) -> tuple[str, ...]:
    decision = item.decision or "\u2014"
    if item.decision == "expiry":
        decision = f"new expiry {_when(item.new_expiry)}"
    return (
        item.subject, _when(item.expires_at) if item.kind == "assignment" else "", item.reviewer,
        decision, item.note, f"{item.decided_by} {item.decided_at:%Y-%m-%d %H:%M}" if item.decided_at else "",
    )


class CampaignsWindow(GovernanceWindow):
    """Campaigns, their progress and items, and the decisions.

    Attributes:
        campaign: the chosen campaign (None: none yet); ``items``: its items (paged);
        ``progress``: per reviewer; the "new campaign" form: name_edit, scope_kind,
        scope_value, reviewers_edit, open_button.
    """

    FIX_NEEDS = (AppAction.REVIEW,)

    def __init__(self, db: Database, store: PendingStore, parent: QWidget | None = None) -> None:
        super().__init__(db, store, parent)
        self.campaign: CampaignRow | None = None
        self.chooser = QComboBox()
        self.chooser.setMinimumWidth(320)
        self.summary = plain_label()
        # -- a new campaign
        self.name_edit = QLineEdit(placeholderText="e.g. Q4 2026 payroll review")
        self.scope_kind = QComboBox()
        for scope, text in ((Scope.ALL, "Everything"), (Scope.ROLE, "One role"),
                            (Scope.RESOURCE, "One resource"), (Scope.USERS, "Users whose name starts with")):
            self.scope_kind.addItem(text, scope)
        self.scope_value = QLineEdit(placeholderText="role, resource or name start")
        self.reviewers_edit = QLineEdit(placeholderText="reviewers, separated by commas")
        self.due = datetime_picker(utcnow() + timedelta(days=14))
        self.open_button = QPushButton("Open campaign")
        new_box = QGroupBox("New campaign")
        form = QFormLayout(new_box)
        form.addRow("Name", self.name_edit)
        scope_row = QHBoxLayout()
        scope_row.addWidget(self.scope_kind)
        scope_row.addWidget(self.scope_value, 1)
        form.addRow("Scope", scope_row)
        form.addRow("Reviewers", self.reviewers_edit)
        due_row = QHBoxLayout()
        due_row.addWidget(self.due)
        due_row.addStretch(1)
        due_row.addWidget(self.open_button)
        form.addRow("Due", due_row)
        # -- progress and items
        self.progress = RowsModel(("Reviewer", "Items", "Decided", "Done", "Kept", "Revoked", "New expiry"), self)
        self.progress_view = QTableView()
        self.progress_view.setModel(self.progress)
        self.progress_view.verticalHeader().setVisible(False)
        self.progress_view.setMaximumHeight(130)
        self.reviewer_filter = QComboBox()
        self.reviewer_filter.setMinimumWidth(200)
        self.undecided = QCheckBox("Undecided only")
        self.items = PagedModel(db, ITEM_HEADERS, self._fetch_items, _item_cells, campaigns.PAGE_SIZE, self)
        self.items_view = QTableView()
        self.items_view.setModel(self.items)
        self.items_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.items_view.verticalHeader().setVisible(False)
        self.items_view.horizontalHeader().setStretchLastSection(True)
        self.items_view.setColumnWidth(0, 300)
        # -- deciding
        self.note_edit = QLineEdit(placeholderText="note (required to revoke)")
        self.new_expiry = datetime_picker(utcnow() + timedelta(days=90))
        self.keep_button = QPushButton("Keep")
        self.revoke_button = QPushButton("Revoke")
        self.expiry_button = QPushButton("Change expiry to")
        decide_row = QHBoxLayout()
        decide_row.addWidget(self.note_edit, 1)
        for w in (self.keep_button, self.revoke_button, self.expiry_button, self.new_expiry):
            decide_row.addWidget(w)
        self.pending_button = QPushButton("Make the decided changes pending")
        self.close_button = QPushButton("Close campaign")
        self.csv_button = QPushButton("Evidence as CSV\u2026")
        self.pdf_button = QPushButton("Evidence as PDF\u2026")
        bottom = QHBoxLayout()
        for w in (self.pending_button, self.close_button):
            bottom.addWidget(w)
        bottom.addStretch(1)
        bottom.addWidget(self.csv_button)
        bottom.addWidget(self.pdf_button)
        top = QHBoxLayout()
        top.addWidget(self.chooser)
        top.addWidget(self.summary, 1)
        filters = QHBoxLayout()
        filters.addWidget(self.reviewer_filter)
        filters.addWidget(self.undecided)
        filters.addStretch(1)
        review = QWidget()
        review_box = QVBoxLayout(review)
        review_box.setContentsMargins(0, 0, 0, 0)
        review_box.addLayout(top)
        review_box.addWidget(self.progress_view)
        review_box.addLayout(filters)
        review_box.addWidget(self.items_view, 1)
        review_box.addLayout(decide_row)
        review_box.addLayout(bottom)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(new_box)
        split.addWidget(review)
        split.setStretchFactor(1, 1)
        self.layout_box.addWidget(split, 1)
        self.fix_buttons = [
            self.open_button, self.keep_button, self.revoke_button, self.expiry_button,
            self.pending_button, self.close_button,
        ]
        self.finish_layout()
        self.open_button.clicked.connect(self.open_campaign)
        self.chooser.currentIndexChanged.connect(lambda _i: self._chosen())
        self.reviewer_filter.currentIndexChanged.connect(lambda _i: self.items.reload())
        self.undecided.toggled.connect(lambda _on: self.items.reload())
        self.keep_button.clicked.connect(lambda: self.record(Decision.KEEP))
        self.revoke_button.clicked.connect(lambda: self.record(Decision.REVOKE))
        self.expiry_button.clicked.connect(lambda: self.record(Decision.EXPIRY))
        self.pending_button.clicked.connect(self.make_pending)
        self.close_button.clicked.connect(self.close_campaign)
        self.csv_button.clicked.connect(lambda: self.export("csv"))
        self.pdf_button.clicked.connect(lambda: self.export("pdf"))
        self.load()

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        self.items.stop()
        super().closeEvent(event)

    # ------------------------------------------------------------ reading

    def _fetch_items(self, session: Any, last: ItemRow | None) -> list[ItemRow]:
        if self.campaign is None:
            return []
        reviewer = self.reviewer_filter.currentText()
        return campaigns.items_page(
            session, self.campaign.id, reviewer=None if reviewer in ("", ALL_REVIEWERS) else reviewer,
            undecided_only=self.undecided.isChecked(), after=last.id if last else None,
        )

    def load(self, select: int | None = None) -> None:
        """Re-read the list of campaigns (and show ``select``, or the chosen one)."""
        keep = select if select is not None else (self.campaign.id if self.campaign else None)

        def shown(rows: list[CampaignRow]) -> None:
            self.chooser.blockSignals(True)
            self.chooser.clear()
            for row in rows:
                self.chooser.addItem(f"{row.name} ({row.status}, {row.decided:,}/{row.items:,})", row)
            if not rows:
                self.chooser.addItem("No campaign yet: open one above", None)
            found = next((i for i, r in enumerate(rows) if r.id == keep), 0)
            self.chooser.setCurrentIndex(found)
            self.chooser.blockSignals(False)
            self._chosen()

        self.read("Reading the campaigns\u2026", campaigns.campaigns, shown)

    def _chosen(self) -> None:
        self.campaign = self.chooser.currentData()
        self._lock()
        if self.campaign is None:
            self.summary.setText("")
            self.progress.set_rows([])
            self.items.reload()
            return
        campaign_id = self.campaign.id

        def shown(people: list[ReviewerProgress]) -> None:
            self._show_progress(people)
            self.items.reload()

        self.read("Reading the progress\u2026", lambda s: campaigns.progress(s, campaign_id), shown)

    def _show_progress(self, people: list[ReviewerProgress]) -> None:
        c = self.campaign
        if c is None:
            return
        due = f", due {_when(c.due_at)}" if c.due_at else ""
        closed = f", closed {c.closed_at:%Y-%m-%d %H:%M} by {c.closed_by}" if c.closed_at else ""
        self.summary.setText(f"Scope: {c.scope}. Opened {_when(c.created_at)} by {c.created_by}{due}{closed}.")
        self.progress.set_rows([
            (p.reviewer, f"{p.items:,}", f"{p.decided:,}", f"{p.percent}%", f"{p.kept:,}", f"{p.revoked:,}",
             f"{p.expiry:,}")
            for p in people
        ])
        current = self.reviewer_filter.currentText()
        self.reviewer_filter.blockSignals(True)
        self.reviewer_filter.clear()
        self.reviewer_filter.addItems([ALL_REVIEWERS, *(p.reviewer for p in people)])
        self.reviewer_filter.setCurrentText(current if current else ALL_REVIEWERS)
        self.reviewer_filter.blockSignals(False)

    def _lock(self) -> None:
        """Deciding needs an open campaign on a writable file."""
        open_one = self.campaign is not None and not self.campaign.closed
        for button in (self.keep_button, self.revoke_button, self.expiry_button, self.close_button):
            button.setEnabled(open_one and not self.read_only)
        self.pending_button.setEnabled(self.campaign is not None and not self.read_only)
        for button in (self.csv_button, self.pdf_button):
            button.setEnabled(self.campaign is not None)
        self.lock_fixes()

    # ------------------------------------------------------------ writing

    def _write(self, name: str, fn: Any, done: Any) -> None:
        """A short action of its own, off the GUI thread."""
        db = self.db

        def work(task: Task[Any]) -> Any:
            task.check()
            # Cancel stops the running statement; the action then rolls back whole.
            with db.action(name) as session, browse.bounded(session, cancel=task.stop):
                return fn(session)

        self.work(f"{name}\u2026", work, done)

    def open_campaign(self) -> None:
        name, scope = self.name_edit.text(), self.scope_kind.currentData()
        value = self.scope_value.text()
        reviewers = [r for r in self.reviewers_edit.text().split(",") if r.strip()]
        due = picked_moment(self.due)

        def done(row: CampaignRow) -> None:
            self.say(f"Opened \u201c{row.name}\u201d with {row.items:,} items to review.", GREEN)
            self.name_edit.clear()
            self.load(select=row.id)

        self._write(
            "Open review campaign",
            lambda s: campaigns.create_campaign(s, name, scope, reviewers, scope_value=value, due_at=due),
            done,
        )

    def selected_items(self) -> list[ItemRow]:
        rows = sorted({i.row() for i in self.items_view.selectionModel().selectedRows()})
        return [self.items.row_at(r) for r in rows]

    def record(self, decision: Decision) -> None:
        chosen = self.selected_items()
        if self.campaign is None or not chosen:
            self.say("Select the items to decide first.", RED)
            return
        campaign_id, note = self.campaign.id, self.note_edit.text()
        ids = [i.id for i in chosen]
        new_expiry = picked_moment(self.new_expiry) if decision is Decision.EXPIRY else None

        def done(n: int) -> None:
            self.say(f"Recorded \u201c{decision}\u201d for {n:,} item{'s' if n != 1 else ''}.", GREEN)
            self.note_edit.clear()
            self.load()

        self._write(
            "Record review decision",
            lambda s: campaigns.decide(s, campaign_id, ids, decision, note=note, new_expiry=new_expiry),
            done,
        )

    def make_pending(self) -> None:
        if self.campaign is None:
            return
        campaign_id = self.campaign.id

        def got(result: tuple[list[Any], int]) -> None:
            edits, gone = result
            if gone:
                self.say(f"{gone:,} decided change{'s are' if gone != 1 else ' is'} already done.")
            if edits:
                self.propose(edits)
            elif not gone:
                self.say("No decision calls for a change (nothing revoked, no new expiry).")

        self.read("Collecting the decided changes\u2026", lambda s: campaigns.decision_edits(s, campaign_id), got)

    def close_campaign(self) -> None:
        c = self.campaign
        if c is None:
            return
        undecided = c.items - c.decided
        text = f"Close \u201c{c.name}\u201d? Its decisions become final."
        if undecided:
            text += f" {undecided:,} item{'s are' if undecided != 1 else ' is'} still undecided."
        if not messages.confirm(self, "Close campaign", text, "Close"):
            return
        def closed(row: CampaignRow) -> None:
            self.say(f"Closed \u201c{row.name}\u201d.", GREEN)
            self.load()

        self._write("Close review campaign", lambda s: campaigns.close_campaign(s, c.id), closed)

    def export(self, kind: str, path: str | None = None) -> None:
        c = self.campaign
        if c is None:
            return
        target = path or messages.ask_save_path(
            self, f"Save the evidence as {kind.upper()}", f"review-{c.name.lower().replace(' ', '-')}.{kind}"
        )
        if not target:
            return
        db = self.db

        def work(task: Task[Any]) -> Path:
            def build(session: Any) -> Any:
                the_stamp = reports.stamp(session, db.display_name, db.operator)
                return reports.campaign_evidence(session, c.id, the_stamp, task.report)

            report = read_in(db, task, build)
            return write_pdf(report, target) if kind == "pdf" else reports.write_csv(report, target)

        self.work("Writing the evidence\u2026", work, lambda p: self.say(f"Saved {p}.", GREEN))


def show_campaigns(db: Database, store: PendingStore, parent: QWidget) -> CampaignsWindow:
    return open_window(CampaignsWindow(db, store, parent), "Access reviews", (1000, 760))
