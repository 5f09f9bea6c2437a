"""Review changes: before Save, the access each user would gain and lose, per pending edit
and net per user; Save from here saves exactly the reviewed list."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QBrush, QFont, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...core import impact
from ...core.changes import Edit
from ...core.collector import collector_on_new_objects_only
from ...core.database import Database
from ...core.errors import AccessGuardError
from ..background import BackgroundReads, Job
from ..pending import PendingStore
from ..plain_text import plain_tooltip
from .common import GREEN, GREY, RED, error_label, plain_label, share_window_actions

SaveCallback = Callable[[Sequence[Edit]], "SaveResult"]
SaveResult = tuple[bool, str]
"""(saved, message): what the window's save did with the reviewed edits."""


# Changes listed per edit and in the net list; the counts stay exact beyond it, and a
# tree of 100 edits × 300 rows still fills in a blink.
LIST_LIMIT = 300
EAGER_LINES = 2_000  # a report with more lines makes each row's lines when it is opened
_CHILDREN_ROLE = int(Qt.ItemDataRole.UserRole) + 1
#: Reviews of this many edits, or of a file this large, run off the GUI thread with a
#: progress bar and Cancel (a bulk change on a million-user file takes many seconds).
BACKGROUND_EDITS = 50
BACKGROUND_FILE_BYTES = 50_000_000


def _long_review(db: Database, edits: Sequence[Edit]) -> bool:
    if len(edits) >= BACKGROUND_EDITS or db.path is None:
        return True
    try:
        return db.path.stat().st_size >= BACKGROUND_FILE_BYTES
    except OSError:
        return True


def _review(db: Database, edits: Sequence[Edit]) -> impact.ImpactReport:
    """``impact.review`` making its hundreds of thousands of objects without full
    collections walking the whole app with the GIL held (136 ms gaps in the window were
    measured): core/collector.py."""
    with collector_on_new_objects_only():
        return impact.review(db, edits, limit=LIST_LIMIT)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


class ReviewChangesDialog(QDialog):
    """For every pending edit, who gains and who loses which permission if it is saved.

    The review runs in a rolled-back transaction (``core.impact.review``) over the store's
    ``edits_for_save()``; nothing is written until Save. Save refuses if the pending list
    changed since the review (the user must review again), so what is saved is exactly
    what was reviewed.

    Args:
        db: the open database.
        store: the window's pending edits.
        save: the window's save function, called with the reviewed edits; returns
            (saved, message). Default: ``ui.saving.save_pending(db, store)``.

    Signals:
        saved(int): the reviewed edits were saved (their number).

    Attributes:
        report: the last review (``core.impact.ImpactReport``).
        summary: the headline; by_edit / by_user: the two trees; save_button.
    """

    saved = Signal(int)

    def __init__(
        self,
        db: Database,
        store: PendingStore,
        save: SaveCallback | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Review changes")
        self._db = db
        self._store = store
        self._save = save or self._default_save
        self.report: impact.ImpactReport | None = None
        self.summary = plain_label()
        font = QFont()
        font.setPointSize(font.pointSize() + 2)
        self.summary.setFont(font)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy: the review's work has no steps to count
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel review")
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self.cancel_review)
        self._reads = BackgroundReads(db, self)
        self._job: Job[impact.ImpactReport] | None = None
        self.notice = error_label()
        self.notice.hide()
        self.by_edit = QTreeWidget()
        self.by_edit.setHeaderLabels(["Pending change / user", "Gains", "Losses"])
        self.by_user = QTreeWidget()
        self.by_user.setHeaderLabels(["User / permission", "Change"])
        self._children: list[Callable[[], list[QTreeWidgetItem]]] = []
        self.by_edit.itemExpanded.connect(self._expanded)
        self.by_user.itemExpanded.connect(self._expanded)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.by_edit, "By change")
        self.tabs.addTab(self.by_user, "By user (net)")
        self.buttons = QDialogButtonBox()
        self.save_button = self.buttons.addButton(
            "Save these changes", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.refresh_button = QPushButton("Review again")
        self.buttons.addButton(self.refresh_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.progress)
        layout.addWidget(self.cancel_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.notice)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.buttons)
        self.save_button.clicked.connect(self.save)
        self.refresh_button.clicked.connect(self.refresh)
        self.close_button.clicked.connect(self.reject)
        store.changed.connect(self._store_changed)
        # The window's Undo/Redo work here too; Ctrl+S saves exactly what is reviewed and
        # Ctrl+Shift+S reviews again (this dialog's own Save and Review).
        share_window_actions(self, skip=("save", "review"))
        for text, keys, slot in (
            ("Save these changes", QKeySequence.StandardKey.Save, self.save),
            ("Review again", "Ctrl+Shift+S", self.refresh),
        ):
            action = QAction(text, self)
            action.setShortcut(QKeySequence(keys))
            action.triggered.connect(lambda _checked=False, slot=slot: slot())
            self.addAction(action)
        self.save_button.setToolTip("Ctrl+S")
        self.refresh_button.setToolTip("Ctrl+Shift+S")
        self.resize(760, 520)
        self.refresh()

    # ------------------------------------------------------------ API

    def refresh(self) -> None:
        """Review the store's current pending edits — off the GUI thread (progress bar,
        Cancel) when there are many of them or the file is large: such a review takes
        seconds (bench/bench_access.py, bench/bench_ui_stalls.py)."""
        edits = self._store.edits_for_save()
        self.notice.hide()
        self.cancel_review(quiet=True)
        db = self._db
        inline = not _long_review(db, edits)
        if not inline:
            self.report = None
            self._fill_trees(None)
            n = len(edits)
            self.summary.setText(f"Reviewing {n:,} pending change{'s' if n != 1 else ''}\u2026")
            self.save_button.setEnabled(False)
            self._running(True)
        job = self._reads.call(
            lambda _job: _review(db, edits),
            lambda report: self._reviewed(edits, report),
            failed=self._review_failed,
            inline=inline,
        )
        self._job = None if inline else job

    def cancel_review(self, *, quiet: bool = False) -> None:
        """Stop waiting for a review that is still running (its result is dropped)."""
        if self._job is None:
            return
        self._job.cancel()
        self._job = None
        self._running(False)
        if not quiet:
            self.summary.setText("Review cancelled. Press \u201cReview again\u201d to review.")

    def reject(self) -> None:
        self.cancel_review(quiet=True)
        super().reject()

    def _running(self, running: bool) -> None:
        self.progress.setVisible(running)
        self.cancel_button.setVisible(running)
        self.refresh_button.setEnabled(not running)

    def _review_failed(self, exc: AccessGuardError) -> None:
        self._job = None
        self._running(False)
        self.report = None
        self._fill_trees(None)
        self.summary.setText(f"The review could not be made: {exc.message}")
        self.save_button.setEnabled(False)

    def _reviewed(self, edits: list[Edit], report: impact.ImpactReport) -> None:
        self._job = None
        self._running(False)
        self.report = report
        self._fill_trees(self.report)
        self.summary.setText(self._headline(self.report))
        if not self.report.ok:
            self._show_notice(
                f"Saving would fail: {self.report.error} Fix or undo that change first."
            )
        self.save_button.setEnabled(bool(edits) and self.report.ok)

    def is_stale(self) -> bool:
        """The pending list differs from the reviewed one."""
        if self.report is None:
            return True
        return list(self.report.edits) != self._store.edits_for_save()

    def save(self) -> bool:
        """Save exactly the reviewed edits, or refuse if the pending list changed."""
        if self.report is None or not self.report.ok:
            return False
        if self.is_stale():
            self._show_notice(
                "The pending changes changed since this review; nothing was saved. "
                "Press \u201cReview again\u201d."
            )
            self.save_button.setEnabled(False)
            return False
        reviewed = list(self.report.edits)
        ok, message = self._save(reviewed)
        if not ok:
            self._show_notice(message or "Nothing was saved.")
            return False
        self.saved.emit(len(reviewed))
        self.accept()
        return True

    # ------------------------------------------------------------ internals

    def _default_save(self, edits: Sequence[Edit]) -> SaveResult:
        from ..saving import save_pending  # the window's save path, same rules

        outcome = save_pending(self._db, self._store)
        return outcome.ok, " ".join(x for x in (outcome.error, outcome.hint) if x)

    def _store_changed(self) -> None:
        if self.report is not None and self.is_stale():
            self._show_notice(
                "The pending changes changed since this review. Press \u201cReview again\u201d "
                "before saving."
            )
            self.save_button.setEnabled(False)

    def _show_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.show()

    @staticmethod
    def _headline(report: impact.ImpactReport) -> str:
        n = len(report.edits)
        if not n:
            return "There are no pending changes."
        gainers, losers = report.users_gaining, report.users_losing
        text = f"{_plural(n, 'pending change')}. If saved: "
        if report.failed_index is not None:
            return (
                f"{_plural(n, 'pending change')}. Saving them would fail at change "
                f"{report.failed_index + 1}, so nothing would be saved."
            )
        bulk = [e.bulk for e in report.per_edit if e.bulk is not None]
        if not report.per_user and not any(b.users for b in bulk):
            return text + "nobody gains or loses any access."
        parts = []
        if gainers:
            parts.append(
                f"{_plural(gainers, 'user')} {'gains' if gainers == 1 else 'gain'} "
                f"{_plural(report.net_gained, 'permission')}"
            )
        if losers:
            parts.append(
                f"{_plural(losers, 'user')} {'loses' if losers == 1 else 'lose'} "
                f"{_plural(report.net_lost, 'permission')}"
            )
        for entry in report.per_edit:  # every user of a view: summarised, not netted
            summary = entry.bulk
            if summary is None or not summary.users:
                continue
            who = _plural(summary.users, "user")
            role = getattr(entry.edit, "role", "a role")
            if getattr(entry.edit, "remove", False):
                text_ = f"a bulk change takes {role} from {who}"
            else:
                text_ = f"a bulk change gives {role} to {who}"
            grants = [
                f"{_plural(n, 'permission grant')} {word}"
                for n, word in ((summary.gained, "gained"), (summary.lost, "lost"))
                if n
            ]
            parts.append(text_ + (f" ({', '.join(grants)})" if grants else ""))
        text += "; ".join(parts) + "."
        if report.truncated:
            text += " (Long lists are cut; the counts are complete.)"
        return text

    def _fill_trees(self, report: impact.ImpactReport | None) -> None:
        """Fill both trees. A large report (a bulk change: a thousand edits, a hundred
        thousand lines) gets its top-level rows only; each row's lines are made when it
        is first expanded — building them all took seconds on the GUI thread."""
        self.by_edit.clear()
        self.by_user.clear()
        self._children = []
        if report is None:
            return
        lines = sum(len(e.gains) + len(e.losses) for e in report.per_edit) + sum(
            len(u.gains) + len(u.losses) for u in report.per_user
        )
        lazy = lines > EAGER_LINES
        green, red, grey = QBrush(GREEN), QBrush(RED), QBrush(GREY)

        def edit_children(entry: Any) -> Callable[[], list[QTreeWidgetItem]]:
            def make() -> list[QTreeWidgetItem]:
                items = []
                if entry.bulk is not None:  # per permission: how many users, not who
                    for count in entry.bulk.permissions:
                        verb = "gain" if count.gained else "lose"
                        verb += "s" if count.users == 1 else ""
                        child = QTreeWidgetItem(
                            [f"{_plural(count.users, 'user')} {verb} {count.permission}"]
                        )
                        child.setForeground(0, green if count.gained else red)
                        items.append(child)
                for change in entry.gains + entry.losses:
                    verb = "gains" if change.gained else "loses"
                    child = QTreeWidgetItem([f"{change.username} {verb} {change.permission}"])
                    child.setForeground(0, green if change.gained else red)
                    items.append(child)
                if entry.truncated:
                    hidden = entry.gained_count + entry.lost_count - len(items)
                    items.append(QTreeWidgetItem([f"\u2026 and {hidden:,} more"]))
                return items

            return make

        def user_children(user: Any) -> Callable[[], list[QTreeWidgetItem]]:
            def make() -> list[QTreeWidgetItem]:
                items = []
                kinds = ((user.gains, "gains", green), (user.losses, "loses", red))
                for labels, word, brush in kinds:
                    for label in labels:
                        child = QTreeWidgetItem([label, word])
                        child.setForeground(0, brush)
                        child.setForeground(1, brush)
                        items.append(child)
                return items

            return make

        tops: dict[int, list[QTreeWidgetItem]] = {id(self.by_edit): [], id(self.by_user): []}

        def add(
            tree: QTreeWidget,
            top: QTreeWidgetItem,
            make: Callable[[], list[QTreeWidgetItem]],
            expand: bool | Callable[[QTreeWidgetItem], bool],
        ) -> None:
            if lazy:  # the rows go in together at the end (one insertion per tree)
                top.setData(0, _CHILDREN_ROLE, len(self._children))
                self._children.append(make)
                top.setChildIndicatorPolicy(QTreeWidgetItem.ChildIndicatorPolicy.ShowIndicator)
                tops[id(tree)].append(top)
            else:
                tree.addTopLevelItem(top)
                top.addChildren(make())
                top.setExpanded(expand(top) if callable(expand) else expand)

        for entry in report.per_edit:
            top = QTreeWidgetItem(
                [
                    f"{entry.index + 1}. {entry.description}",
                    f"+{entry.gained_count}" if entry.gained_count else "",
                    f"\u2212{entry.lost_count}" if entry.lost_count else "",
                ]
            )
            if not entry.changes_access:
                top.setText(1, "no change in access")
                top.setForeground(1, grey)
            add(self.by_edit, top, edit_children(entry), lambda t: t.childCount() <= 20)
        if report.failed_index is not None:
            failed = report.edits[report.failed_index]
            item = QTreeWidgetItem(
                [f"{report.failed_index + 1}. {failed.describe()}", "refused", ""]
            )
            item.setForeground(0, red)
            item.setForeground(1, red)
            item.setToolTip(0, plain_tooltip(report.error or ""))
            if lazy:
                tops[id(self.by_edit)].append(item)
            else:
                self.by_edit.addTopLevelItem(item)
        for user in report.per_user:
            top = QTreeWidgetItem([user.username, f"+{len(user.gains)} / \u2212{len(user.losses)}"])
            add(self.by_user, top, user_children(user), True)
        for tree in (self.by_edit, self.by_user):
            if tops[id(tree)]:
                tree.addTopLevelItems(tops[id(tree)])
        self.by_edit.resizeColumnToContents(0)
        self.by_edit.resizeColumnToContents(1)  # "no change in access" unclipped
        self.by_user.resizeColumnToContents(0)

    def _expanded(self, item: QTreeWidgetItem) -> None:
        """A lazily filled row is opened: make its lines now (once)."""
        at = item.data(0, _CHILDREN_ROLE)
        if isinstance(at, int) and item.childCount() == 0 and at < len(self._children):
            item.addChildren(self._children[at]())
            item.setData(0, _CHILDREN_ROLE, None)

    def edit_lines(self) -> list[str]:
        """The "By change" tree as text lines (top level and children), for tests/logs."""
        lines = []
        for i in range(self.by_edit.topLevelItemCount()):
            top = self.by_edit.topLevelItem(i)
            assert top is not None
            self._expanded(top)
            lines.append(" | ".join(top.text(c) for c in range(3)).rstrip(" |"))
            for j in range(top.childCount()):
                child = top.child(j)
                assert child is not None
                lines.append("  " + child.text(0))
        return lines


def show_review_changes(
    db: Database,
    store: PendingStore,
    save: SaveCallback | None = None,
    parent: QWidget | None = None,
) -> ReviewChangesDialog:
    """Open the review non-modally (the window may also ``exec()`` it)."""
    dialog = ReviewChangesDialog(db, store, save, parent)
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.show()
    return dialog
