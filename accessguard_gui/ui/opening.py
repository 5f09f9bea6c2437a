"""Opening a database from the GUI: the one place every open path goes through.

The command line, the welcome dialog, File > Open / New / Open Recent and drag and drop
all call ``open_database``, so they all open off the GUI thread (an upgrade of a large
file, or waiting for another AccessGuard that upgrades it, shows a dialog and the window
stays painted; the wait can be cancelled), ask the same question
about an empty file, and tell the user the same things about what the open did (an
upgrade's backup, a crashed program's changes rolled back).
"""

from __future__ import annotations

import gc
import os
import threading
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QEventLoop, Qt
from PySide6.QtWidgets import QLabel, QProgressDialog, QPushButton, QWidget

from ..core.database import Database
from ..core.errors import AccessGuardError, EmptyFileError, ServiceDatabaseFound
from . import messages
from .schema_warning import confirm_schema


class _Opener:
    """Runs ``Database(...)`` on a worker thread while the window stays painted.

    Opening is usually instant, but upgrading an older million-row file takes tens of
    seconds and waiting for another AccessGuard that upgrades it can take longer. After
    SHOW_AFTER_MS a dialog says which of the two is happening; while waiting for the
    other process it offers Cancel (this process's own upgrade runs to its end: stopping
    it halfway would only throw the work copy away).
    """

    SHOW_AFTER_MS = 150

    def __init__(self, parent: QWidget | None) -> None:
        self._parent = parent
        self._dialog: QProgressDialog | None = None
        self._label: QLabel | None = None
        self._message = ""
        self._waiting = False
        self._cancelled = threading.Event()

    # -- called on the worker thread
    def on_wait(self, message: str) -> bool:
        self._message, self._waiting = message, True
        return not self._cancelled.is_set()

    def on_progress(self, message: str) -> None:
        self._message, self._waiting = message, False

    # -- on the GUI thread
    def run(self, **kwargs: Any) -> Database:
        result: list[Database] = []
        failure: list[BaseException] = []

        def work() -> None:
            try:
                result.append(
                    Database(**kwargs, on_wait=self.on_wait, on_progress=self.on_progress)
                )
            except BaseException as exc:  # noqa: BLE001 - handed to the GUI thread
                failure.append(exc)

        worker = threading.Thread(target=work, name="open-database", daemon=True)
        started = time.monotonic()
        worker.start()
        try:
            while worker.is_alive():
                worker.join(0.03)
                if (time.monotonic() - started) * 1000 >= self.SHOW_AFTER_MS:
                    self._show()
                if self._dialog is not None and self._dialog.wasCanceled():
                    self._cancelled.set()  # the Cancel button, Escape or cancel()
                QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 30)
        finally:
            self.close()
        if failure:
            raise failure[0]
        return result[0]

    def _show(self) -> None:
        if self._dialog is None:
            # A long open (an upgrade, or waiting for one): a start keeps the cyclic
            # collector off until its window is painted (app.main); the work of the
            # next seconds or minutes runs with it on.
            gc.enable()
            dialog = QProgressDialog("", "Cancel", 0, 0, self._parent)
            label = QLabel("")  # a file name: plain text, wrapped, never cut
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setWordWrap(True)
            dialog.setLabel(label)
            dialog.setMinimumWidth(480)
            dialog.setWindowModality(Qt.WindowModality.WindowModal)
            dialog.setMinimumDuration(0)
            dialog.setAutoClose(False)
            dialog.setAutoReset(False)
            dialog.show()
            self._dialog, self._label = dialog, label
        assert self._label is not None
        text = self._message or "Opening the database…"
        if self._label.text() != text:
            self._label.setText(text)
            self._dialog.setWindowTitle(
                "Waiting for another AccessGuard" if self._waiting else "Opening the database"
            )
        cancel = self._dialog.findChild(QPushButton)
        if cancel is not None:
            cancel.setEnabled(self._waiting and not self._cancelled.is_set())

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
    opener = _Opener(parent)
    try:
        try:
            db = opener.run(target=target, create=create, read_only=read_only, operator=operator)
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
        opener.close()
        from .service.opening import open_service_file

        return open_service_file(parent, found, read_only=read_only, operator=operator)
    except AccessGuardError as exc:
        messages.show_error(parent, "Cannot open database", exc.message, failure_details)
        return None
    finally:
        opener.close()
    for notice in open_notices(db):
        messages.show_info(parent, "Database recovered", notice)

    # Objects the migrations did not create (a planted trigger): warn, offer read-only.
    # Before sign-in, which writes to the file (its audit entry) and could fire them.
    def reopen_read_only() -> Database:
        return Database(target, create=False, read_only=True, operator=operator)

    checked = confirm_schema(parent, db, reopen_read_only)
    if checked is None:
        return None
    # A file that requires sign-in shows nothing until an operator signs in (issue 14);
    # the dialog's module is imported only then (cold start, issue 11).
    if checked.access.awaits_sign_in:
        from .sign_in import ensure_signed_in

        if not ensure_signed_in(parent, checked):
            checked.close()
            return None
    return checked


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
