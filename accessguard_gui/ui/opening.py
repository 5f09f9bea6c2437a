"""Opening a database from the GUI: the one place every open path goes through.

The command line, the welcome dialog, File > Open / New / Open Recent and drag and drop
all call ``open_database``, so they all wait the same way while another AccessGuard
upgrades the file (a dialog with Cancel, the window stays painted), ask the same question
about an empty file, and tell the user the same things about what the open did (an
upgrade's backup, a crashed program's changes rolled back).
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEventLoop, Qt
from PySide6.QtWidgets import QLabel, QProgressDialog, QWidget

from ..core.database import Database
from ..core.errors import AccessGuardError, EmptyFileError, ServiceDatabaseFound
from . import messages
from .schema_warning import confirm_schema


class _UpgradeWait:
    """The on_wait callback of ``Database``: shows a busy dialog with Cancel while
    another process upgrades the file, keeping the event loop turning."""

    def __init__(self, parent: QWidget | None) -> None:
        self._parent = parent
        self._dialog: QProgressDialog | None = None

    def __call__(self, message: str) -> bool:
        if self._dialog is None:
            dialog = QProgressDialog("", "Cancel", 0, 0, self._parent)
            label = QLabel(message)  # a file name: plain text, wrapped, never cut
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setWordWrap(True)
            dialog.setLabel(label)
            dialog.setMinimumWidth(480)
            dialog.setWindowTitle("Waiting for another AccessGuard")
            dialog.setWindowModality(Qt.WindowModality.WindowModal)
            dialog.setMinimumDuration(0)
            dialog.setAutoClose(False)
            dialog.show()
            self._dialog = dialog
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 40)
        return not self._dialog.wasCanceled()

    def close(self) -> None:
        if self._dialog is not None:
            self._dialog.close()
            self._dialog.deleteLater()
            self._dialog = None


def open_database(
    parent: QWidget | None,
    target: str | os.PathLike[str],
    *,
    create: bool,
    read_only: bool = False,
    operator: str | None = None,
    failure_details: str = "",
) -> Database | None:
    """Open ``target``, or tell the user why not (and return None).

    An existing empty file is made a database only after the user agrees. What the open
    did to the file (upgraded after a backup, recovered after a crash) is reported.
    """
    wait = _UpgradeWait(parent)
    try:
        try:
            db = Database(
                target, create=create, read_only=read_only, operator=operator, on_wait=wait
            )
        except EmptyFileError as exc:
            if not messages.confirm(
                parent,
                "Empty file",
                f"{exc.message}\n\nMake {Path(exc.path).name} a new AccessGuard database?",
                "Make a new database",
            ):
                return None
            db = Database(target, create=True, read_only=read_only, operator=operator)
    except ServiceDatabaseFound as found:
        # The web service's own file: offer linked editing or an import (issue 9).
        wait.close()
        from .service.opening import open_service_file

        return open_service_file(parent, found, read_only=read_only, operator=operator)
    except AccessGuardError as exc:
        messages.show_error(parent, "Cannot open database", exc.message, failure_details)
        return None
    finally:
        wait.close()
    for notice in open_notices(db):
        messages.show_info(parent, "Database recovered", notice)
    # Objects the migrations did not create (a planted trigger): warn, offer read-only.
    return confirm_schema(
        parent, db, lambda: Database(target, create=False, read_only=True, operator=operator)
    )


def open_notices(db: Database) -> list[str]:
    """What the open changed that the user must know before working (upgrades are only
    reported in the status bar: they change nothing the user sees)."""
    notices = []
    if db.recovery_backup is not None:
        notices.append(
            f"{db.display_name} had unfinished changes from a program that stopped while "
            "writing it. They were undone, as SQLite does after a crash, so the file holds "
            "its last complete save.\n\n"
            f"The file as it was, with the unfinished changes, is kept at "
            f"{db.recovery_backup}."
        )
    return notices
