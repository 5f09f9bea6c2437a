"""Opening a file that turns out to be the service's own database (every open path:
File > Open, drag and drop, the command line, recent files — through ui/opening).

The user chooses: **Open and edit** (linked editing; the default) opens the file's
companion database, which the window then brings up to date; **Import into a new
AccessGuard database** asks for a file name, makes it, and opens the import dry run into
it; **Import into the open database** opens the import dry run into the database shown
now. The service file itself is only read.
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QWidget

from ...core.database import Database
from ...core.errors import AccessGuardError, ServiceDatabaseFound
from ...core.interchange.linked import ServiceLink
from .. import messages
from .choice import ServiceChoice, ServiceChoiceDialog

# A new database made for an import: the window that shows it opens the dry run.
_IMPORT_INTO: weakref.WeakKeyDictionary[Database, Path] = weakref.WeakKeyDictionary()


def _open_window(parent: QWidget | None) -> Any:
    """The main window asking, if any (it has a database that could take an import)."""
    while parent is not None:
        if hasattr(parent, "import_organisation") and hasattr(parent, "db"):
            return parent
        parent = parent.parentWidget()
    return None


def open_service_file(
    parent: QWidget | None,
    found: ServiceDatabaseFound,
    *,
    read_only: bool = False,
    operator: str | None = None,
) -> Database | None:
    """Ask what to do with a service file; return the database to show, or None to stay
    where the user is (cancelled, or an import into the open database was started)."""
    window = _open_window(parent)
    can_merge = window is not None and not window.db.read_only
    choice = ServiceChoiceDialog.ask(parent, found, can_merge=can_merge)
    service = Path(found.path)
    try:
        if choice is ServiceChoice.EDIT:
            link = ServiceLink.for_service(service)
            return link.open_companion(operator=operator, read_only=read_only)
        if choice is ServiceChoice.IMPORT_NEW:
            return _new_database_for_import(parent, service, operator)
        if choice is ServiceChoice.IMPORT_OPEN and window is not None:
            start_import(window, service)
    except AccessGuardError as exc:
        messages.show_error(parent, "Cannot open the service database", exc.message)
    return None


def _new_database_for_import(
    parent: QWidget | None, service: Path, operator: str | None
) -> Database | None:
    suggested = service.with_name(f"{service.stem}-accessguard.db")
    path = messages.ask_save_path(parent, "Import into a new AccessGuard database", str(suggested))
    if not path:
        return None
    target = Path(path)
    if target.resolve() == service.resolve():
        messages.show_error(
            parent, "Import", "The new database must be another file than the service's."
        )
        return None
    if target.exists() and target.stat().st_size > 0:
        messages.show_error(
            parent,
            "Import",
            f"{target} already exists. AccessGuard does not overwrite files; choose a new name.",
        )
        return None
    db = Database(target, create=True, operator=operator)
    _IMPORT_INTO[db] = service
    return db


def database_opened(window: Any) -> None:
    """A window now shows ``window.db``: if it was made for an import, open the dry run."""
    service = _IMPORT_INTO.pop(window.db, None)
    if service is not None:
        QTimer.singleShot(0, lambda: start_import(window, service))


def start_import(window: Any, service: Path) -> Any:
    """File > Import… with the service file chosen and its dry run started."""
    dialog = window.import_organisation()
    if dialog is None:
        return None
    dialog.source.setText(str(service))
    dialog.choose_format("service-db")
    dialog.dry_run()
    return dialog
