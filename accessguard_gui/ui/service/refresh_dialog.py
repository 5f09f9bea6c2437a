"""What the service added or changed since the last sync, as an import dry run: the
report row by row (the import dialog's model), then Import in one transaction."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from ...core.database import Database
from ...core.interchange.linked import RefreshPlan, ServiceLink
from ...core.interchange.pipeline import ImportResult
from ..access.common import plain_label
from ..interchange.import_dialog import ReportModel
from ..interchange.tasks import TaskDialog
from .publish_dialog import rows_view


class RefreshDialog(TaskDialog):
    """The dry run of a linked refresh, and its Import.

    Args:
        refresh: the planned refresh (the dialog closes it).

    Signals:
        imported(object): the ``ImportResult`` once the changes are in the database.
    """

    imported = Signal(object)

    def __init__(
        self,
        db: Database,
        link: ServiceLink,
        refresh: RefreshPlan,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("service_refresh")
        self.db = db
        self.link = link
        self.refresh: RefreshPlan | None = refresh
        first = not link.synced_once
        self.setWindowTitle(
            f"Read {link.service.name} into AccessGuard"
            if first
            else f"Changes made through the service in {link.service.name}"
        )
        plan = refresh.plan
        intro = (
            f"AccessGuard edits {link.service.name} through a companion database. This is "
            "what it reads from the service file (nothing is written yet):"
            if first
            else f"Since AccessGuard last read {link.service.name}, the service added or "
            "changed these records (nothing is written yet):"
        )
        self.intro = plain_label(intro)
        self.summary = plain_label(plan.summary())
        self.summary.setObjectName("summary")
        self.model = ReportModel(self)
        self.table = rows_view(self.model, "report", (16, 12, 28, 20))
        self.model.show_plan(plan)
        if not plan.clean:
            self.error.setText(
                "Some rows are refused (see the report), so nothing can be imported. The "
                "service compares names exactly, AccessGuard ignoring case: rename or remove "
                "one of each clashing pair in the service file, then Refresh (F5)."
            )
        self.import_button = QPushButton("&Import these changes")
        self.import_button.setObjectName("import")
        self.import_button.setDefault(True)
        self.cancel_button = QPushButton("Not now")
        self.cancel_button.setObjectName("cancel")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.import_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        self.import_button.clicked.connect(self.apply)
        self.cancel_button.clicked.connect(self.cancel)
        self.resize(860, 520)
        self.update_controls()

    def update_controls(self) -> None:
        running = self.task is not None
        refresh = self.refresh
        ok = refresh is not None and refresh.plan.clean and not self.db.read_only
        self.import_button.setEnabled(ok and not running)
        self.cancel_button.setText("Cancel" if running else ("Not now" if refresh else "Close"))

    def apply(self) -> None:
        refresh = self.refresh
        if refresh is None or self.task is not None:
            return
        self.model.clear()  # its reader shares the staging connection with the writer
        db, link = self.db, self.link

        def work(progress: Any, cancelled: Any) -> ImportResult:
            return link.apply_refresh(db, refresh, progress=progress, cancelled=cancelled)

        self.run_task(work, "Importing\u2026", self._applied)

    def _applied(self, result: object) -> None:
        assert isinstance(result, ImportResult)
        self._drop()
        self.status.setText(f"Imported from {result.source_name}: {result.summary()}")
        self.imported.emit(result)
        self.update_controls()
        self.accept()

    def task_failed(self, error: object) -> None:
        if self.refresh is not None:
            self.model.show_plan(self.refresh.plan)

    def _drop(self) -> None:
        if self.refresh is not None:
            self.model.clear()
            self.refresh.close()
            self.refresh = None

    def done(self, result: int) -> None:
        super().done(result)
        self._drop()


def show_refresh_dialog(
    db: Database, link: ServiceLink, refresh: RefreshPlan, parent: QWidget | None
) -> RefreshDialog:
    dialog = RefreshDialog(db, link, refresh, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog
