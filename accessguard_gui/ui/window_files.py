"""The main window's file handling: open, create, switch, back up and check database files.

A collaborator the MainWindow owns (``window.files``): the window's File menu actions and
its drag-and-drop land here, so what changes with files changes in this module only.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from ..core.database import Database
from ..core.errors import AccessGuardError
from . import messages

_APP = __name__.rsplit(".", 2)[0]  # "accessguard_gui"
#: core.interchange.linked.COMPANION, named here so that an ordinary start need not import
#: the interchange pipeline to tell; tests/ui/test_files.py pins the two equal.
SERVICE_COMPANION = "companion.db"

if TYPE_CHECKING:  # the window owns this collaborator; no import at run time
    from .main_window import MainWindow


def service_hooks() -> ModuleType:
    """ui/service/window, the window's service-database hooks: imported on first use (it
    brings the import/publish pipeline, ~40 ms), not by every start."""
    from .service import window

    return window


def loaded_service_hooks() -> ModuleType | None:
    """The service hooks if this process already uses service databases (one was
    opened or linked: ``core.interchange.linked`` is loaded), else None."""
    if f"{_APP}.core.interchange.linked" not in sys.modules:
        return None
    return service_hooks()


def hooks_for(db: Database) -> ModuleType | None:
    """The service hooks when ``db`` may concern them: service files are in use, or
    ``db`` is a companion (the file linked editing works on). An ordinary file opened
    by an ordinary start never loads them."""
    loaded = loaded_service_hooks()
    if loaded is not None:
        return loaded
    if db.path is not None and db.path.name == SERVICE_COMPANION:
        return service_hooks()
    return None


@contextmanager
def busy_cursor() -> Iterator[None]:
    """A wait cursor while a user action runs (a large save can take seconds)."""
    QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    try:
        yield
    finally:
        QApplication.restoreOverrideCursor()


class FileHandling:
    """File > New, Open, Open Recent, Back up, Check, and files dropped on the window.

    Args:
        window: the main window whose database is replaced (its pages, store and title
            follow through the window's own methods).
    """

    def __init__(self, window: MainWindow) -> None:
        self.window = window

    def open_dialog(self) -> None:
        path = messages.ask_open_path(self.window)
        if path:
            self.open_path(path)

    def new_database(self) -> None:
        path = messages.ask_save_path(self.window, "New database", "accessguard.db")
        if not path:
            return
        target = Path(path)
        if target.suffix == "":
            target = target.with_suffix(".db")
        if target.exists() and target.stat().st_size > 0:
            messages.show_error(
                self.window,
                "Cannot create database",
                f"{target} already exists. AccessGuard does not overwrite files; "
                "choose a new name, or open it with File → Open.",
            )
            return
        self.open_path(target, create=True)

    def open_path(self, path: str | Path, *, create: bool = False, read_only: bool = False) -> bool:
        """Switch to another database; on any error stay on the current one."""
        if not self.window.maybe_keep_pending("opening another database"):
            return False
        from .opening import open_database  # the schema and sign-in dialogs come with it

        with busy_cursor():
            db = open_database(
                self.window,
                path,
                create=create,
                read_only=read_only,
                operator=self.window.db.operator,
                failure_details=f"AccessGuard stays on {self.window.db.display_name}.",
            )
        if db is None:
            return False
        self.set_database(db)
        return True

    def set_database(self, db: Database) -> None:
        self.window._save_pages()
        self.window._close_access_windows()
        hooks = loaded_service_hooks()
        if hooks is not None:
            hooks.database_closing(self.window)
        old = self.window.db
        self.window.store.clear()
        self.window.db = db
        self.window._build_pages()
        self.window.current_page().view.setFocus()  # the keyboard in the new file's table
        old.close()
        if db.path is not None:
            self.window.settings.add_recent(db.path)
        self.fill_recent_menu()
        self.window._update_title()
        self.window._update_actions()
        self.window.database_changed.emit(db)
        self.window.service_opened()
        if db.backup_path is not None:
            self.window.statusBar().showMessage(
                f"Upgraded the file; the original is kept at {db.backup_path}.", 10000
            )
        if db.operator_note:  # the OS user name had to be made safe for the audit trail
            self.window.statusBar().showMessage(db.operator_note, 20000)

    def backup(self) -> None:
        if self.window.db.path is None:
            messages.show_error(
                self.window,
                "Back up",
                "Backups of server databases are made with the server's tools.",
            )
            return
        stamp = datetime.now().strftime("%Y-%m-%d")
        suggested = str(
            self.window.db.path.with_name(f"{self.window.db.path.stem}-backup-{stamp}.db")
        )
        path = messages.ask_save_path(self.window, "Back up database", suggested)
        if not path:
            return
        target = Path(path)
        if target.exists():
            messages.show_error(
                self.window,
                "Back up",
                f"{target} already exists. Choose a new file name for the backup.",
            )
            return
        try:
            written = self.window.db.backup_to(target)
        except (AccessGuardError, OSError) as exc:
            messages.show_error(self.window, "Back up failed", f"No backup was written: {exc}")
            return
        extra = (
            " Unsaved changes are not in the backup." if not self.window.store.is_empty() else ""
        )
        messages.show_info(self.window, "Back up", f"Backup written to {written}.{extra}")

    def check_database(self) -> Any:
        """File > Check database: file health, schema objects and the audit chain, run
        off the GUI thread with progress and Cancel (ui/check_dialog.py)."""
        from .check_dialog import CheckDialog

        dialog = CheckDialog.show_for(self.window, self.window.db)
        self.window.database_changed.connect(dialog.reject)  # it checks the database it was given
        return dialog

    def fill_recent_menu(self) -> None:
        self.window.recent_menu.clear()
        files = self.window.settings.recent_files()
        for number, path in enumerate(files, start=1):
            act = self.window.recent_menu.addAction(f"&{number} {path}")
            act.triggered.connect(lambda _c=False, p=path: self._open_recent(p))
        if not files:
            empty = self.window.recent_menu.addAction("No recent files")
            empty.setEnabled(False)
        else:
            self.window.recent_menu.addSeparator()
            clear = self.window.recent_menu.addAction("Clear list")
            clear.triggered.connect(self._clear_recent)

    def _open_recent(self, path: str) -> None:
        if not self.open_path(path) and not Path(path).exists():
            self.window.settings.remove_recent(path)  # gone for good: stop offering it
            self.fill_recent_menu()

    def _clear_recent(self) -> None:
        self.window.settings.clear_recent()
        self.fill_recent_menu()

    @staticmethod
    def dropped_path(event: QDragEnterEvent | QDropEvent) -> Path | None:
        mime = event.mimeData()
        if not mime.hasUrls():
            return None
        for url in mime.urls():
            if url.isLocalFile():
                path = Path(url.toLocalFile())
                if path.is_file():
                    return path
        return None
