"""The main window's service-database hooks, kept here so the window itself only calls
them: a database was opened, Refresh, closing, File > Publish to service database…"""

from __future__ import annotations

from typing import Any

from ...core.database import Database
from ...core.interchange.linked import ServiceLink
from . import linking, opening
from .publish_dialog import PublishDialog, fit_height, show_publish_dialog


def database_opened(window: Any) -> None:
    """``window.db`` is new: link a companion, or start an import it was made for."""
    linking.database_opened(window)
    opening.database_opened(window)


def shown_name(db: Database) -> str | None:
    """The window title's name for a companion: the service file it edits."""
    link = ServiceLink.of_database(db)
    return f"{link.service.name} (linked service database)" if link is not None else None


def refreshed(window: Any) -> None:
    linking.refreshed(window)


def database_closing(window: Any) -> None:
    """The window leaves its database (another is opened, or it closes)."""
    linking.database_closing(window)


def publish_to_service(window: Any) -> PublishDialog:
    """File > Publish to service database…: to the linked file, or to one the user picks."""
    link = ServiceLink.of_database(window.db)
    dialog = show_publish_dialog(window.db, window, link=link)
    pending = len(window.store)
    if pending:
        dialog.pending.setText(
            f"{pending:,} unsaved change(s) are not published: Save first to include them."
        )
        fit_height(dialog.pending)
    linked = linking.controller(window)
    if linked is not None:
        dialog.published.connect(lambda _result: linked.update_status())
    window.database_changed.connect(dialog.close)  # it publishes the database it was given
    return dialog
