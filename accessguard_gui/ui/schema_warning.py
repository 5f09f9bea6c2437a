"""Opening a file that holds schema objects AccessGuard did not create: warn, offer read-only.

A trigger planted in the file runs on every save (one that grants a role whenever a user
is changed would act in the name of whoever saves). Read-only cannot fire it. So every
GUI open (ui/opening.py) passes the new database through ``confirm_schema``; the question
names the objects in plain text (their names and SQL come from the file).
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox, QPushButton, QWidget

from ..core import integrity
from ..core.database import Database
from ..core.errors import AccessGuardError
from . import messages

SHOWN = 8


class SchemaChoice(enum.Enum):
    READ_ONLY = "read-only"
    ANYWAY = "anyway"
    CANCEL = "cancel"


def describe(findings: list[integrity.SchemaFinding]) -> str:
    lines = [finding.describe() for finding in findings[:SHOWN]]
    if len(findings) > SHOWN:
        lines.append(f"\u2026 and {len(findings) - SHOWN} more (File > Check database lists all).")
    return "\n".join(lines)


def schema_box(
    parent: QWidget | None, database: str, findings: list[integrity.SchemaFinding]
) -> tuple[QMessageBox, QPushButton, QPushButton]:
    """The question (not yet shown), with its "Open read-only" (default) and "Open
    anyway" buttons. Every text is plain: names and SQL come from the file."""
    box = QMessageBox(
        QMessageBox.Icon.Warning,
        "Unknown objects in the database",
        "",
        QMessageBox.StandardButton.NoButton,
        parent,
    )
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setText(
        f"{database} holds {len(findings)} database object(s) that AccessGuard did not "
        "create or that were changed. A planted trigger can change records on every save. "
        "Open it read-only to look without saving, unless you know where they come from."
    )
    box.setInformativeText(describe(findings))
    # The informative label does not always take the box's format: say it.
    for label in box.findChildren(QLabel, "qt_msgbox_informativelabel"):
        label.setTextFormat(Qt.TextFormat.PlainText)
    read_only = box.addButton("Open &read-only", QMessageBox.ButtonRole.AcceptRole)
    anyway = box.addButton("Open &anyway", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(read_only)
    return box, read_only, anyway


def ask_schema_choice(
    parent: QWidget | None, database: str, findings: list[integrity.SchemaFinding]
) -> SchemaChoice:
    """Open read-only (the default), open anyway, or cancel. Tests replace this."""
    box, read_only, anyway = schema_box(parent, database, findings)
    box.exec()
    if box.clickedButton() is read_only:
        return SchemaChoice.READ_ONLY
    if box.clickedButton() is anyway:
        return SchemaChoice.ANYWAY
    return SchemaChoice.CANCEL


def confirm_schema(
    parent: QWidget | None, db: Database, reopen_read_only: Callable[[], Database]
) -> Database | None:
    """``db`` if its schema is AccessGuard's, or as the user chose; None if cancelled.

    Args:
        reopen_read_only: opens the same target read-only (called after ``db`` is closed).
    """
    try:
        findings = integrity.schema_findings(db)
    except AccessGuardError as exc:
        messages.show_error(parent, "Unknown objects in the database", exc.message)
        findings = []
    if not findings:
        return db
    if db.read_only:
        messages.show_info(
            parent,
            "Unknown objects in the database",
            f"{db.display_name} holds database objects that AccessGuard did not create or "
            "that were changed. It is open read-only: nothing can fire them.",
            describe(findings),
        )
        return db
    choice = ask_schema_choice(parent, db.display_name, findings)
    if choice is SchemaChoice.ANYWAY:
        return db
    db.close()
    if choice is SchemaChoice.CANCEL:
        return None
    try:
        return reopen_read_only()
    except AccessGuardError as exc:
        messages.show_error(parent, "Cannot open database", exc.message)
        return None
