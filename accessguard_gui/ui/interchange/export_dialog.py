"""File > Export…: the whole organisation as a CSV directory, a JSON document or a Casbin
policy, written on a worker thread with progress and Cancel.

Password hashes are written only when ticked, and ticking shows why that matters. The
export is one read transaction (a consistent snapshot of what is saved); pending edits
are not in it, and the dialog says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...core.database import Database
from ...core.interchange.casbin import CasbinSummary
from ...core.interchange.export import PASSWORD_WARNING, ExportOptions, export_database
from ...core.interchange.formats import Format, all_formats
from .. import theme
from ..access.common import plain_label
from . import paths
from .tasks import TaskDialog, pending_note, show_modeless

SUFFIXES = {"json": ".json", "casbin": ".csv"}
FILTERS = {
    "json": "JSON documents (*.json);;All files (*)",
    "casbin": "Casbin policies (*.csv);;All files (*)",
}
NOTES = {
    "csv-dir": "One CSV file per table (users.csv, roles.csv, …) in the folder: the format "
               "the README documents, for spreadsheets and scripts.",
    "json": "One versioned JSON document holding the whole organisation.",
    "casbin": "A Casbin policy (.csv) and its RBAC-with-hierarchy model (.conf beside it). "
              "Inactive users and expired assignments are left out, so Casbin answers as "
              "AccessGuard does today; end dates are kept as comments. Descriptions and "
              "separation of duty have no place in Casbin.",
}


def _label(text: str, buddy: QWidget) -> QLabel:
    """A form label whose Alt-key mnemonic focuses ``buddy``."""
    label = QLabel(text)
    label.setBuddy(buddy)
    return label


def summary_text(result: Any) -> str:
    """What the writer reports, in words."""
    if isinstance(result, CasbinSummary):
        left = (f"left out {result.inactive_assignments:,} assignments of inactive users and "
                f"{result.expired:,} expired ones")
        return (f"{result.permissions:,} grants, {result.assignments:,} assignments and "
                f"{result.inheritance:,} inheritance links written; {left}.")
    if isinstance(result, dict):
        return f"{sum(int(n) for n in result.values()):,} rows written."
    if isinstance(result, int):
        return f"{result:,} records written."
    return "Written."


class ExportDialog(TaskDialog):
    """Choose a format and a target, then write.

    Signals:
        exported(str): the target written and a summary of what it holds.
    """

    exported = Signal(str)

    def __init__(self, db: Database, parent: QWidget | None = None, *, pending: int = 0) -> None:
        super().__init__(parent)
        self.setObjectName("export_dialog")
        self.setWindowTitle("Export organisation")
        self.db = db
        self.formats: list[Format] = [f for f in all_formats() if f.writer is not None]

        self.format = QComboBox()
        self.format.setObjectName("format")
        for fmt in self.formats:
            self.format.addItem(fmt.title, fmt.name)
        self.note = plain_label()
        self.note.setObjectName("note")
        self.target = QLineEdit()
        self.target.setObjectName("target")
        browse = QPushButton("Browse\u2026")
        browse.clicked.connect(self._browse)
        target_row = QHBoxLayout()
        target_row.addWidget(self.target, 1)
        target_row.addWidget(browse)
        self.hashes = QCheckBox("Include password hashes")
        self.hashes.setObjectName("hashes")
        self.warning = plain_label(PASSWORD_WARNING)
        self.warning.setObjectName("hash_warning")
        self.warning.setStyleSheet(f"color: {theme.css('pending')};")
        self.warning.setVisible(False)

        form = QFormLayout()
        form.addRow(_label("&Format:", self.format), self.format)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.note)  # outside the form: a wrapped label there is cut off
        form = QFormLayout()
        form.addRow(_label("&Save to:", self.target), target_row)
        form.addRow("", self.hashes)
        layout.addLayout(form)
        layout.addWidget(self.warning)
        if pending:
            layout.addWidget(pending_note(
                pending, "they are not exported (the export holds what the database holds)."
            ))
        self.add_task_rows(layout)
        self.export_button = self.add_buttons(layout, "Export", "export")

        self.format.currentIndexChanged.connect(self._format_changed)
        self.hashes.toggled.connect(self.update_controls)
        self.target.textChanged.connect(self.update_controls)
        self._format_changed()
        self.resize(620, self.sizeHint().height() + 20)

    def chosen(self) -> Format:
        return self.formats[max(self.format.currentIndex(), 0)]

    def choose(self, name: str) -> None:
        """Pick a format by its name ("json")."""
        self.format.setCurrentIndex(self.format.findData(name))

    def _suggested(self, fmt: Format) -> str:
        stem = Path(self.db.display_name).stem if self.db.display_name else "organisation"
        base = Path.home() / f"{stem}-export"
        return str(base) + SUFFIXES.get(fmt.name, "")

    def _format_changed(self) -> None:
        fmt = self.chosen()
        self.note.setText(NOTES.get(fmt.name, fmt.title))
        current = self.target.text().strip()
        suggested = {self._suggested(f) for f in self.formats}
        if not current or current in suggested:
            self.target.setText(self._suggested(fmt))
        casbin = fmt.name == "casbin"
        self.hashes.setEnabled(not casbin and self.task is None)
        self.hashes.setToolTip("Casbin policies hold no passwords" if casbin else "")
        if casbin:
            self.hashes.setChecked(False)
        self.update_controls()

    def _browse(self) -> None:
        fmt = self.chosen()
        if fmt.target == "directory":
            chosen = paths.pick_folder(self, "Export to folder")
        else:
            chosen = paths.pick_save_path(self, "Export to file", self.target.text(),
                                          FILTERS.get(fmt.name, "All files (*)"))
        if chosen:
            self.target.setText(chosen)

    def update_controls(self) -> None:
        running = self.task is not None
        self.warning.setVisible(self.hashes.isChecked())
        self.export_button.setEnabled(bool(self.target.text().strip()) and not running)
        self.format.setEnabled(not running)
        self.target.setEnabled(not running)
        self.hashes.setEnabled(not running and self.chosen().name != "casbin")

    # ------------------------------------------------------------------ running

    def start(self) -> None:
        if self.task is not None:
            return
        fmt = self.chosen()
        target = Path(self.target.text().strip()).expanduser()
        options = ExportOptions(with_password_hashes=self.hashes.isChecked())
        db = self.db

        def work(progress: Any, cancelled: Any) -> Any:
            return export_database(db, target, fmt.name, options, progress=progress,
                                   cancelled=cancelled)

        written = str(target)

        def succeeded(result: Any) -> None:
            self._succeeded(result, written)

        self.run_task(work, "Exporting\u2026", succeeded)

    def _succeeded(self, result: object, target: str) -> None:
        text = f"Exported to {target}: {summary_text(result)}"
        self.status.setText(text)
        self.exported.emit(text)
        self.accept()


def show_export_dialog(db: Database, parent: QWidget | None, pending: int = 0) -> ExportDialog:
    """Open File > Export… (non-modal) and return it."""
    dialog = ExportDialog(db, parent, pending=pending)
    show_modeless(dialog)
    return dialog
