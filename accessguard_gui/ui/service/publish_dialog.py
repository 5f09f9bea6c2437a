"""File > Publish to service database…: preview what changes in the service file, then
publish (core/interchange/publish.py), off the GUI thread with progress and Cancel.

The preview lists users, roles, resources, permissions, assignments and grants that would
be added, changed, removed or kept (only in the service file), and says what keeping them
means for access. Publish applies exactly the previewed changes: if the service file or
the database changed since, nothing is written and the preview must be run again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ...core.database import Database
from ...core.interchange.linked import ServiceLink
from ...core.interchange.publish import (
    SECTIONS,
    VERDICTS,
    PlannedChange,
    PublishCancelled,
    PublishOptions,
    PublishPlan,
    PublishResult,
    preview_publish,
    publish,
)
from ...core.interchange.staging import Progress
from .. import messages, theme
from ..access.common import plain_label
from ..interchange.tasks import TaskDialog

Index = QModelIndex | QPersistentModelIndex
HEADERS = ("Table", "Change", "Record", "Why / what")
VERDICT_WORDS = {
    "added": "added",
    "changed": "changed",
    "removed": "removed",
    "kept": "kept (only in the service file)",
}
VERDICT_COLOURS = {
    "added": theme.shared_color("allowed"),
    "changed": theme.shared_color("pending"),
    "removed": theme.shared_color("denied"),
    "kept": theme.shared_color("muted"),
}


class PlanModel(QAbstractTableModel):
    """The preview's rows (up to a few hundred per table and change, by name)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[str, str, str, str]] = []
        self._brushes: list[QBrush] = []

    def show_plan(self, plan: PublishPlan | None) -> None:
        self.beginResetModel()
        changes: tuple[PlannedChange, ...] = plan.samples if plan is not None else ()
        self._rows = [
            (c.section, VERDICT_WORDS.get(c.verdict, c.verdict), c.key, c.detail) for c in changes
        ]
        self._brushes = [QBrush(VERDICT_COLOURS.get(c.verdict, theme.shared_color("muted"))) for c in changes]
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._rows[index.row()][index.column()]
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == 1:
            return self._brushes[index.row()]
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def row(self, number: int) -> tuple[str, str, str, str]:
        return self._rows[number]


class PublishDialog(TaskDialog):
    """Preview, then publish, the open database into a service file.

    Args:
        db: the database to publish.
        link: for a linked service file: its target is fixed and its baseline used.

    Signals:
        published(object): the ``PublishResult`` after the service file was written.
    """

    published = Signal(object)

    def __init__(
        self, db: Database, parent: QWidget | None = None, *, link: ServiceLink | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("publish_dialog")
        self.setWindowTitle("Publish to service database")
        self.db = db
        self.link = link
        self.plan: PublishPlan | None = None

        self.target = QLineEdit()
        self.target.setObjectName("target")
        self.target.setPlaceholderText("The service's accessguard.db (a new file is created)")
        choose = QPushButton("&Choose\u2026")
        choose.setObjectName("choose")
        choose.clicked.connect(self._choose_target)
        row = QHBoxLayout()
        row.addWidget(self.target, 1)
        row.addWidget(choose)
        if link is not None:
            self.target.setText(str(link.service))
            self.target.setReadOnly(True)
            choose.setVisible(False)
        self.remove_only = QCheckBox(
            "Also &remove rows that exist only in the service file (users who registered "
            "through the service, roles and permissions made there)"
        )
        self.remove_only.setObjectName("remove_service_only")
        form = QFormLayout()
        target_label = QLabel("Service &file:")
        target_label.setBuddy(self.target)
        form.addRow(target_label, row)
        form.addRow("", self.remove_only)

        self.summary = plain_label()
        self.summary.setObjectName("summary")
        self.model = PlanModel(self)
        self.table = rows_view(self.model, "changes", (14, 26, 30))
        self.notes = plain_label()
        self.notes.setObjectName("notes")
        self.pending = plain_label()
        self.pending.setObjectName("pending")
        self.pending.setStyleSheet(f"color: {theme.css('pending')};")

        self.preview_button = QPushButton("&Preview")
        self.preview_button.setObjectName("preview")
        self.publish_button = QPushButton("P&ublish")
        self.publish_button.setObjectName("publish")
        self.cancel_button = QPushButton("Close")
        self.cancel_button.setObjectName("cancel")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.preview_button, self.publish_button, self.cancel_button):
            buttons.addWidget(button)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.notes)
        layout.addWidget(self.pending)
        self.add_task_rows(layout)
        layout.addLayout(buttons)

        self.preview_button.clicked.connect(self.preview)
        self.publish_button.clicked.connect(self.publish)
        self.cancel_button.clicked.connect(self.cancel)
        self.target.textChanged.connect(self._inputs_changed)
        self.remove_only.toggled.connect(self._inputs_changed)
        self.resize(900, 620)
        self.update_controls()

    # ------------------------------------------------------------------ inputs

    def options(self) -> PublishOptions:
        if self.link is not None:
            base = self.link.options()
            return PublishOptions(
                remove_service_only=self.remove_only.isChecked(),
                baseline=base.baseline,
                create=False,
            )
        return PublishOptions(remove_service_only=self.remove_only.isChecked())

    def _choose_target(self) -> None:
        chosen = messages.ask_save_path(self, "Publish to service database", "accessguard.db")
        if chosen:
            self.target.setText(chosen)

    def _inputs_changed(self) -> None:
        if self.task is not None:
            return
        self._drop_plan()
        self.status.setText("")
        self.error.setText("")
        self.update_controls()

    def _drop_plan(self) -> None:
        self.plan = None
        self.model.show_plan(None)
        self.summary.setText("")
        self.notes.setText("")

    def update_controls(self) -> None:
        running = self.task is not None
        plan = self.plan
        self.preview_button.setEnabled(bool(self.target.text().strip()) and not running)
        can_publish = plan is not None and (plan.changes > 0 or plan.new_file)
        self.publish_button.setEnabled(can_publish and not running)
        self.publish_button.setToolTip(
            "" if plan is None or can_publish else "The service file is already up to date."
        )
        self.target.setEnabled(not running)
        self.remove_only.setEnabled(not running)
        self.cancel_button.setText("Cancel" if running else "Close")

    # ------------------------------------------------------------------ steps

    def preview(self) -> None:
        """Compare the database with the service file, off the GUI thread."""
        if self.task is not None:
            return
        self._drop_plan()
        db, target, options = self.db, Path(self.target.text().strip()).expanduser(), self.options()

        def work(progress: Any, cancelled: Any) -> PublishPlan:
            return preview_publish(
                db,
                target,
                options,
                progress=lambda text: progress(Progress(text, 0)),
                cancelled=cancelled,
            )

        self.run_task(work, "Comparing\u2026", self._previewed)

    def _previewed(self, plan: object) -> None:
        assert isinstance(plan, PublishPlan)
        self.plan = plan
        changed = [
            plan.section_line(s).capitalize()
            for s in SECTIONS
            if any(plan.count(s, v) for v in VERDICTS)
        ]
        self.summary.setText(
            ("A new service file will be created. " if plan.new_file else "")
            + (". ".join(changed) + "." if changed else "Nothing differs.")
        )
        self.model.show_plan(plan)
        self.notes.setText("\n".join(plan.access_notes()))
        for label in (self.summary, self.notes, self.pending):
            fit_height(label)
            QTimer.singleShot(0, lambda label=label: fit_height(label))  # once laid out
        self.status.setText(
            "Preview done: nothing was written."
            if plan.changes or plan.new_file
            else "The service file already holds exactly this: nothing to publish."
        )
        self.update_controls()

    def publish(self) -> None:
        """Publish exactly the previewed changes (backup first, one transaction)."""
        plan = self.plan
        if plan is None or self.task is not None:
            return
        db, link, options = self.db, self.link, self.options()

        def work(progress: Any, cancelled: Any) -> PublishResult:
            say = (lambda text: progress(Progress(text, 0)))  # noqa: E731 - a tiny adapter
            if link is not None:
                return link.publish(db, expected=plan, progress=say, cancelled=cancelled)
            return publish(
                db, plan.target, options, expected=plan, progress=say, cancelled=cancelled
            )

        self.run_task(work, "Publishing\u2026", self._published)

    def task_failed(self, error: object) -> None:
        if isinstance(error, PublishCancelled):
            self.status.setText("Cancelled: nothing was written.")
            self.error.setText("")

    def _published(self, result: object) -> None:
        assert isinstance(result, PublishResult)
        where = (
            f" The previous file was backed up to {result.backup}."
            if result.backup is not None
            else ""
        )
        self.status.setText(f"Published to {result.plan.target}.{where}")
        self._drop_plan()
        self.update_controls()
        self.published.emit(result)


def rows_view(model: QAbstractTableModel, name: str, widths: tuple[int, ...]) -> QTableView:
    """A read-only table of report rows: whole rows selected, no row numbers, the first
    columns ``widths`` characters wide, the last one stretched."""
    table = QTableView()
    table.setObjectName(name)
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.verticalHeader().setVisible(False)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    header = table.horizontalHeader()
    header.setStretchLastSection(True)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    for column, chars in enumerate(widths):
        header.resizeSection(column, chars * table.fontMetrics().averageCharWidth())
    return table


def fit_height(label: QLabel) -> None:
    """A wrapped label keeps room for all its lines (a dialog's layout otherwise squeezes
    it to one line when the table beside it stretches)."""
    width = label.width() if label.width() > 50 else 860
    label.setMinimumHeight(label.heightForWidth(width) if label.text() else 0)


def show_publish_dialog(
    db: Database, parent: QWidget | None, *, link: ServiceLink | None = None
) -> PublishDialog:
    """Open File > Publish to service database… (non-modal) and return it; a linked
    database's preview starts at once."""
    dialog = PublishDialog(db, parent, link=link)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    if link is not None:
        dialog.preview()
    return dialog
