"""File > Import…: choose a source and a mode, see the dry run row by row, then import.

1. Source (a file or a CSV folder), format (detected, or chosen), mode (add only; add and
   update; mirror, which also removes what the source lacks).
2. **Dry run** (``pipeline.plan_import`` on a worker thread, progress and Cancel): the
   report in a table — where (file:line), record, key, outcome, reason — filterable, and
   savable as CSV. Nothing is written.
3. **Import** (``pipeline.apply_import``, same thread rules): one transaction, checked
   again against the database as it is then; Cancel or any refusal writes nothing.
   ``imported`` is emitted after the commit so the main window can refresh its tables.

Changing the source, format or mode after a dry run drops it: the Import button only
ever applies the report on screen. On a read-only database the dry run still works, the
Import button says why it is off.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ...core.database import Database
from ...core.errors import ImportRefusedError
from ...core.interchange.formats import all_formats, open_source
from ...core.interchange.pipeline import (
    VERDICT_WORDS,
    ImportPlan,
    ImportResult,
    Mode,
    ReportRow,
    apply_import,
    plan_import,
)
from .. import messages, theme
from ..access.common import plain_label
from . import paths
from .tasks import TaskDialog, pending_note, show_modeless

FETCH_ROWS = 500
Index = QModelIndex | QPersistentModelIndex
OUTCOME_COLOURS = {
    "add": theme.shared_color("allowed"),
    "change": theme.shared_color("info"),
    "remove": theme.shared_color("denied"),
    "refuse": theme.shared_color("denied"),
    "warn": theme.shared_color("pending"),
}
SHOW = (
    ("Every row", None),
    ("Refused and warnings", ("refuse", "warn")),
    ("Changes (add, change, remove)", ("add", "change", "remove")),
    ("Left alone", ("leave",)),
)
MODES = (
    (Mode.ADD, "&Add only", "Add what the database lacks; records already there are left "
               "as they are."),
    (Mode.UPDATE, "Add and &update", "Also change records already there to the source's "
                  "values (a field the source leaves out keeps its value)."),
    (Mode.MIRROR, "&Mirror", "Also remove what the source lacks, in the tables it holds "
                  "(listed in the dry run)."),
)
SOURCE_FILTER = (
    "Import sources (*.json *.csv *.db *.sqlite);;JSON documents (*.json);;"
    "Casbin policies (*.csv);;All files (*)"
)


class ReportModel(QAbstractTableModel):
    """The dry-run report, fetched from the plan a few hundred rows at a time as the view
    scrolls (a report of a million rows is never held whole)."""

    HEADERS = ("Where", "Record", "Key", "Outcome", "Reason")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[str, str, str, str, str, str]] = []
        self._source: Iterator[ReportRow] | None = None
        self._brushes = {v: QBrush(c) for v, c in OUTCOME_COLOURS.items()}

    def show_plan(self, plan: ImportPlan | None, verdicts: tuple[str, ...] | None = None) -> None:
        self.beginResetModel()
        self._source = plan.rows(verdicts) if plan is not None else None
        self._rows = self._next_batch()  # the first rows come with the reset itself
        self.endResetModel()

    def clear(self) -> None:
        self.show_plan(None)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and self._source is not None

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        if parent.isValid() or self._source is None:
            return
        batch = self._next_batch()
        if batch:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(batch) - 1)
            self._rows.extend(batch)
            self.endInsertRows()

    def _next_batch(self) -> list[tuple[str, str, str, str, str, str]]:
        """Up to ``FETCH_ROWS`` more rows of the report (the source is dropped at its end)."""
        batch: list[tuple[str, str, str, str, str, str]] = []
        if self._source is None:
            return batch
        for row in self._source:
            batch.append((row.where, row.record, row.key,
                          VERDICT_WORDS.get(row.verdict, row.verdict), row.detail, row.verdict))
            if len(batch) >= FETCH_ROWS:
                return batch
        self._source = None
        return batch

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return row[index.column()]
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == 3:
            return self._brushes.get(row[5])
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.HEADERS[section]
        return None

    def row(self, number: int) -> tuple[str, ...]:
        return self._rows[number][:5]


class ImportDialog(TaskDialog):
    """Import an organisation, dry run first.

    Signals:
        imported(object): the ``ImportResult`` of a committed import.
    """

    imported = Signal(object)

    def __init__(
        self, db: Database, parent: QWidget | None = None, *, pending: int = 0
    ) -> None:
        super().__init__(parent)
        self.setObjectName("import_dialog")
        self.setWindowTitle("Import organisation")
        self.db = db
        self.plan: ImportPlan | None = None

        self.source = QLineEdit()
        self.source.setObjectName("source")
        self.source.setPlaceholderText("A JSON document, a Casbin policy, a CSV folder…")
        file_button = QPushButton("&File\u2026")
        file_button.clicked.connect(self._browse_file)
        folder_button = QPushButton("Fo&lder\u2026")
        folder_button.clicked.connect(self._browse_folder)
        source_row = QHBoxLayout()
        source_row.addWidget(self.source, 1)
        source_row.addWidget(file_button)
        source_row.addWidget(folder_button)
        self.format = QComboBox()
        self.format.setObjectName("format")
        self.format.addItem("Detect automatically", None)
        for fmt in all_formats():
            if fmt.reader is not None:
                self.format.addItem(fmt.title, fmt.name)
        self.modes = QButtonGroup(self)
        mode_box = QVBoxLayout()
        mode_box.setSpacing(2)
        self.mode_buttons: dict[Mode, QRadioButton] = {}
        for number, (mode, text, tip) in enumerate(MODES):
            button = QRadioButton(text)
            button.setObjectName(f"mode_{mode.value}")
            button.setToolTip(tip)
            self.modes.addButton(button, number)
            self.mode_buttons[mode] = button
            line = QHBoxLayout()
            line.addWidget(button)
            hint = plain_label(tip)
            hint.setStyleSheet(f"color: {theme.css('muted')};")
            line.addWidget(hint, 1)
            mode_box.addLayout(line)
        self.mode_buttons[Mode.UPDATE].setChecked(True)

        form = QFormLayout()
        source_label = QLabel("&Source:")
        source_label.setBuddy(self.source)
        form.addRow(source_label, source_row)
        format_label = QLabel("F&ormat:")
        format_label.setBuddy(self.format)
        form.addRow(format_label, self.format)
        form.addRow("Mode:", mode_box)

        self.summary = plain_label()
        self.summary.setObjectName("summary")
        self.show_combo = QComboBox()
        self.show_combo.setObjectName("show")
        for text, _verdicts in SHOW:
            self.show_combo.addItem(text)
        self.model = ReportModel(self)
        self.table = QTableView()
        self.table.setObjectName("report")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, chars in enumerate((18, 15, 30, 16)):
            header.resizeSection(column, chars * self.fontMetrics().averageCharWidth())
        report_top = QHBoxLayout()
        report_top.addWidget(self.summary, 1)
        report_top.addWidget(plain_label("Show:"))
        report_top.addWidget(self.show_combo)

        self.dry_run_button = QPushButton("&Dry run")
        self.dry_run_button.setObjectName("dry_run")
        self.save_button = QPushButton("Save &report\u2026")
        self.save_button.setObjectName("save_report")
        self.import_button = QPushButton("&Import")
        self.import_button.setObjectName("import")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancel")
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addStretch(1)
        for b in (self.dry_run_button, self.import_button, self.cancel_button):
            buttons.addWidget(b)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        if pending:
            layout.addWidget(pending_note(
                pending, "the import writes to the database directly; they stay pending, and "
                "saving them later checks each against what the import wrote."
            ))
        layout.addLayout(report_top)
        layout.addWidget(self.table, 1)
        self.empty = plain_label()
        self.empty.setObjectName("empty")
        self.empty.setStyleSheet(f"color: {theme.css('muted')};")
        layout.addWidget(self.empty)
        self.add_task_rows(layout)
        layout.addLayout(buttons)

        self.dry_run_button.clicked.connect(self.dry_run)
        self.import_button.clicked.connect(self.apply)
        self.save_button.clicked.connect(self.save_report)
        self.cancel_button.clicked.connect(self.cancel)
        self.source.textChanged.connect(self._inputs_changed)
        self.format.currentIndexChanged.connect(self._inputs_changed)
        self.modes.idToggled.connect(self._mode_toggled)
        self.show_combo.currentIndexChanged.connect(self._show_report)
        self.resize(900, 620)
        self.update_controls()

    # ------------------------------------------------------------------ inputs

    def mode(self) -> Mode:
        for mode, button in self.mode_buttons.items():
            if button.isChecked():
                return mode
        return Mode.UPDATE

    def set_mode(self, mode: Mode | str) -> None:
        self.mode_buttons[Mode(mode)].setChecked(True)

    def choose_format(self, name: str | None) -> None:
        self.format.setCurrentIndex(self.format.findData(name) if name else 0)

    def _mode_toggled(self, _id: int, checked: bool) -> None:
        if checked:
            self._inputs_changed()

    def _browse_file(self) -> None:
        chosen = paths.pick_open_path(self, "Import from file", SOURCE_FILTER)
        if chosen:
            self.source.setText(chosen)

    def _browse_folder(self) -> None:
        chosen = paths.pick_folder(self, "Import a CSV folder")
        if chosen:
            self.source.setText(chosen)

    def _inputs_changed(self) -> None:
        """A different source, format or mode: the dry run on screen no longer applies."""
        if self.task is not None:
            return
        self._drop_plan()
        self.status.setText("")
        self.error.setText("")
        self.update_controls()

    def _drop_plan(self) -> None:
        self.model.clear()
        self.summary.setText("")
        self.empty.setText("")
        if self.plan is not None:
            self.plan.close()
            self.plan = None

    def update_controls(self) -> None:
        running = self.task is not None
        has_source = bool(self.source.text().strip())
        plan = self.plan
        self.dry_run_button.setEnabled(has_source and not running)
        self.save_button.setEnabled(plan is not None and not running)
        can_import = plan is not None and plan.clean and plan.changes > 0
        self.import_button.setEnabled(can_import and not running and not self.db.read_only)
        if self.db.read_only:
            self.import_button.setToolTip("The database is open read-only: nothing can be "
                                          "imported into it (the dry run still works).")
        elif plan is not None and not plan.clean:
            self.import_button.setToolTip("Rows are refused: fix the source and run the "
                                          "dry run again.")
        else:
            self.import_button.setToolTip("")
        for w in (self.source, self.format, *self.mode_buttons.values()):
            w.setEnabled(not running)
        self.cancel_button.setText("Cancel" if running else "Close")

    # ------------------------------------------------------------------ the dry run

    def dry_run(self) -> None:
        """Read the source and check it against the database, off the GUI thread."""
        if self.task is not None:
            return
        self._drop_plan()
        path = Path(self.source.text().strip()).expanduser()
        fmt = self.format.currentData()
        mode = self.mode()
        db = self.db

        def work(progress: Any, cancelled: Any) -> ImportPlan:
            source = open_source(path, fmt)
            return plan_import(db, source, mode, progress=progress, cancelled=cancelled)

        self.run_task(work, "Reading the source\u2026", self._planned)

    def _planned(self, plan: object) -> None:
        assert isinstance(plan, ImportPlan)
        self.plan = plan
        self.status.setText("Dry run done: nothing was written." if plan.clean else
                            "Dry run done: some rows are refused, so nothing can be imported "
                            "until the source is fixed.")
        self._show_report()

    def _show_report(self) -> None:
        plan = self.plan
        if plan is None:
            return
        self.summary.setText(plan.summary())
        verdicts = SHOW[max(self.show_combo.currentIndex(), 0)][1]
        self.model.show_plan(plan, verdicts)
        shown = self.show_combo.currentText().lower()
        self.empty.setText(f"No rows to show ({shown})." if self.model.rowCount() == 0 else "")
        self.update_controls()

    def save_report(self) -> None:
        """Write the whole dry run to a CSV file (on the worker thread)."""
        plan = self.plan
        if plan is None or self.task is not None:
            return
        suggested = str(Path.home() / "import-dry-run.csv")
        chosen = paths.pick_save_path(self, "Save the dry run", suggested)
        if not chosen:
            return
        target = chosen
        self.model.clear()  # its reader shares the staging connection with the writer

        def work(_progress: Any, _cancelled: Any) -> str:
            plan.save_report_csv(target)
            return target

        self.run_task(work, "Saving the report\u2026", self._report_saved)

    def _report_saved(self, target: object) -> None:
        self.status.setText(f"Report saved to {target}.")
        self._show_report()

    # ------------------------------------------------------------------ importing

    def apply(self) -> None:
        """Import the dry run on screen: one transaction, checked again first."""
        plan = self.plan
        if plan is None or self.task is not None or self.db.read_only:
            return
        removals = plan.total("remove")
        if removals and not messages.confirm(
            self, "Import",
            f"Mirror mode removes {removals:,} record{'s' if removals != 1 else ''} the source "
            "lacks (listed in the dry run as \u201cwould be removed\u201d). Import and remove "
            "them?", "Import and remove",
        ):
            return
        self.model.clear()
        db = self.db

        def work(progress: Any, cancelled: Any) -> ImportResult:
            return apply_import(db, plan, progress=progress, cancelled=cancelled)

        self.run_task(work, "Importing\u2026", self._applied)

    def _applied(self, result: object) -> None:
        assert isinstance(result, ImportResult)
        self.status.setText(f"Imported from {result.source_name}: {result.summary()}")
        self.imported.emit(result)
        if self.plan is not None:
            self.plan.close()
            self.plan = None
        self.summary.setText("")
        self.update_controls()

    # ------------------------------------------------------------------ failures

    def task_failed(self, error: object) -> None:
        if isinstance(error, ImportRefusedError) and isinstance(error.plan, ImportPlan):
            # The checks run again inside the import's transaction found refusals (the
            # database changed since the dry run): show the refreshed report.
            self.plan = error.plan
        if self.plan is not None:
            self._show_report()

    def done(self, result: int) -> None:
        """Closing (Close, Escape, the window's X) drops the dry run's staging file."""
        super().done(result)
        self._drop_plan()


def show_import_dialog(db: Database, parent: QWidget | None, pending: int = 0) -> ImportDialog:
    """Open File > Import… (non-modal) and return it."""
    dialog = ImportDialog(db, parent, pending=pending)
    show_modeless(dialog)
    return dialog
