"""The one place that builds message boxes and file pickers; tests replace these functions.

Every function here is looked up through the module at call time (``messages.show_error``),
so a test can ``monkeypatch.setattr(messages, "confirm", lambda *a, **k: True)`` and no
modal dialog ever runs inside the test suite.

Every box shows its text as plain text: messages quote names, values and file contents
(a table name read from a hostile file), and Qt would otherwise render "<h1>x</h1>" in
them as a heading, or "<img src=…>" as an image.
"""

from __future__ import annotations

import enum
import os

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QLabel, QMessageBox, QWidget

DB_FILTER = "AccessGuard databases (*.db *.sqlite *.sqlite3);;All files (*)"


class SaveChoice(enum.Enum):
    SAVE = "save"
    DISCARD = "discard"
    CANCEL = "cancel"


def message_box(
    icon: QMessageBox.Icon,
    parent: QWidget | None,
    title: str,
    text: str,
    details: str = "",
    buttons: QMessageBox.StandardButton = QMessageBox.StandardButton.NoButton,
) -> QMessageBox:
    """A message box (not yet shown) whose text and details are plain text."""
    box = QMessageBox(icon, title, "", buttons, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setText(text)
    if details:
        box.setInformativeText(details)
        # The details label takes the box's format only on some Qt versions: say it.
        for label in box.findChildren(QLabel, "qt_msgbox_informativelabel"):
            label.setTextFormat(Qt.TextFormat.PlainText)
    return box


def _tell(
    icon: QMessageBox.Icon, parent: QWidget | None, title: str, text: str, details: str
) -> None:
    message_box(icon, parent, title, text, details, QMessageBox.StandardButton.Ok).exec()


def show_error(parent: QWidget | None, title: str, text: str, details: str = "") -> None:
    """A failure the user can understand and act on (never a traceback)."""
    _tell(QMessageBox.Icon.Warning, parent, title, text, details)


def show_info(parent: QWidget | None, title: str, text: str, details: str = "") -> None:
    """A result to read (e.g. the database check found nothing wrong)."""
    _tell(QMessageBox.Icon.Information, parent, title, text, details)


def confirm(parent: QWidget | None, title: str, text: str, ok_label: str = "OK") -> bool:
    """Ask before something that cannot be taken back (revert, discard)."""
    box = message_box(QMessageBox.Icon.Question, parent, title, text)
    ok = box.addButton(ok_label, QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return box.clickedButton() is ok


def ask_save_discard_cancel(parent: QWidget | None, count: int, what: str) -> SaveChoice:
    """Pending edits would be lost by ``what`` ("closing", "opening another database")."""
    noun = "change" if count == 1 else "changes"
    box = message_box(
        QMessageBox.Icon.Warning,
        parent,
        "Unsaved changes",
        f"You have {count:,} unsaved {noun}. Save before {what}?",
        "",
        QMessageBox.StandardButton.Save
        | QMessageBox.StandardButton.Discard
        | QMessageBox.StandardButton.Cancel,
    )
    box.setDefaultButton(QMessageBox.StandardButton.Save)
    answer = box.exec()
    if answer == QMessageBox.StandardButton.Save:
        return SaveChoice.SAVE
    if answer == QMessageBox.StandardButton.Discard:
        return SaveChoice.DISCARD
    return SaveChoice.CANCEL


def ask_discard_cancel(parent: QWidget | None, count: int, what: str) -> SaveChoice:
    """Pending edits that cannot be saved (the database is read-only) would be lost by
    ``what``: Discard or Cancel, never Save (it could only fail); Cancel is the default."""
    noun = "change" if count == 1 else "changes"
    box = message_box(
        QMessageBox.Icon.Warning,
        parent,
        "Unsaved changes",
        f"You have {count:,} unsaved {noun}, and the database is open read-only, so they "
        f"cannot be saved. Discard them before {what}?",
        "To keep them, cancel, back the database up (File \u2192 Back up database\u2026) "
        "and make the changes in the copy.",
        QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
    )
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    if box.exec() == QMessageBox.StandardButton.Discard:
        return SaveChoice.DISCARD
    return SaveChoice.CANCEL


class ConflictChoice(enum.Enum):
    MINE = "mine"
    THEIRS = "theirs"
    CANCEL = "cancel"


def ask_conflict(parent: QWidget | None, text: str, theirs: str = "") -> ConflictChoice:
    """Someone else changed a record the user also changed: whose change wins?"""
    box = message_box(QMessageBox.Icon.Warning, parent, "Changed by someone else", text, theirs)
    mine = box.addButton("Overwrite with mine", QMessageBox.ButtonRole.AcceptRole)
    keep = box.addButton("Keep theirs", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    if box.clickedButton() is mine:
        return ConflictChoice.MINE
    if box.clickedButton() is keep:
        return ConflictChoice.THEIRS
    return ConflictChoice.CANCEL


def documents_folder() -> str:
    """Where file dialogs start: the user's documents folder (not the working directory,
    which for a desktop launch is wherever the launcher happened to run)."""
    from PySide6.QtCore import QStandardPaths

    folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return folder if folder and os.path.isdir(folder) else os.path.expanduser("~")


def ask_open_path(parent: QWidget | None, title: str = "Open database") -> str | None:
    path, _ = QFileDialog.getOpenFileName(parent, title, documents_folder(), DB_FILTER)
    return path or None


def ask_save_path(
    parent: QWidget | None, title: str = "New database", suggested: str = ""
) -> str | None:
    """A file name to create or write (the dialog asks before overwriting). A bare
    suggested name starts in the documents folder."""
    if not os.path.dirname(suggested):
        suggested = os.path.join(documents_folder(), suggested)
    path, _ = QFileDialog.getSaveFileName(parent, title, suggested, DB_FILTER)
    return path or None
