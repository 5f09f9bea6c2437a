"""What to do with a service file that was opened: edit it (linked), or import it."""

from __future__ import annotations

import enum
from pathlib import Path

from PySide6.QtWidgets import QDialog, QPushButton, QVBoxLayout, QWidget

from ...core.errors import ServiceDatabaseFound
from .. import theme
from ..access.common import plain_label


class ServiceChoice(enum.Enum):
    EDIT = "edit"  # linked editing: the default
    IMPORT_NEW = "import-new"
    IMPORT_OPEN = "import-open"
    CANCEL = "cancel"


class ServiceChoiceDialog(QDialog):
    """Says what the file is and offers the three ways in; Esc cancels.

    Args:
        found: the open error describing the file (its summary and oddities).
        can_merge: True when a database is open that can take an import.
    """

    def __init__(
        self, found: ServiceDatabaseFound, *, can_merge: bool, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("service_choice")
        name = Path(found.path).name
        self.setWindowTitle(f"{name}: an AccessGuard service database")
        self.choice = ServiceChoice.CANCEL
        layout = QVBoxLayout(self)
        heading = plain_label(f"{found.path} is {found.summary}.")
        heading.setObjectName("summary")
        heading.setStyleSheet("font-weight: bold;")
        layout.addWidget(heading)
        if found.notes:
            notes = plain_label("\n".join(f"\u2022 {note}" for note in found.notes))
            notes.setObjectName("notes")
            layout.addWidget(notes)
        layout.addWidget(
            plain_label(
                "This is the web service's own file. AccessGuard never changes it except "
                "when it publishes to it."
            )
        )
        self.buttons: dict[ServiceChoice, QPushButton] = {}
        for choice, label, tip in (
            (
                ServiceChoice.EDIT,
                "&Open and edit",
                "Edit it like any database: AccessGuard keeps a companion database for it, "
                "picks up what the service added since (on open and on Refresh), and every "
                "Save also publishes to the service file.",
            ),
            (
                ServiceChoice.IMPORT_NEW,
                "Import into a &new AccessGuard database\u2026",
                "A new AccessGuard database file with everything the service file holds "
                "(dry run first). The service file is left as it is.",
            ),
            (
                ServiceChoice.IMPORT_OPEN,
                "Import into the &open database\u2026",
                "Merge the service's users, roles and permissions into the database open "
                "now (dry run first).",
            ),
        ):
            button = QPushButton(label)
            button.setObjectName(choice.value)
            button.setMinimumHeight(34)
            button.clicked.connect(lambda _c=False, c=choice: self._choose(c))
            layout.addWidget(button)
            explain = plain_label(tip)
            explain.setStyleSheet(
                f"color: {theme.css('muted')}; margin-left: 12px; margin-bottom: 6px;"
            )
            layout.addWidget(explain)
            self.buttons[choice] = button
        self.buttons[ServiceChoice.IMPORT_OPEN].setEnabled(can_merge)
        if not can_merge:
            self.buttons[ServiceChoice.IMPORT_OPEN].setToolTip(
                "No database that can be written is open."
            )
        cancel = QPushButton("Cancel")
        cancel.setObjectName("cancel")
        cancel.clicked.connect(self.reject)
        layout.addWidget(cancel)
        self.buttons[ServiceChoice.EDIT].setDefault(True)
        self.buttons[ServiceChoice.EDIT].setFocus()
        self.setMinimumWidth(520)

    def _choose(self, choice: ServiceChoice) -> None:
        self.choice = choice
        self.accept()

    @classmethod
    def ask(
        cls, parent: QWidget | None, found: ServiceDatabaseFound, *, can_merge: bool
    ) -> ServiceChoice:
        dialog = cls(found, can_merge=can_merge, parent=parent)
        dialog.exec()
        return dialog.choice
