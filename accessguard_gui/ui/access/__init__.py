"""Who can do what, and why: access check, effective access, review of pending changes,
assignments, separation of duty, the role × permission matrix and the inheritance graph.

Each view is a self-contained widget that takes the ``Database`` (and the window's
``PendingStore`` where it edits); ``show_*`` helpers open one on its own for testing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from ...core.database import Database
    from ..pending import PendingStore


def details_tabs(
    page: str, db: Database, store: PendingStore, parent: QWidget
) -> list[tuple[str, QWidget]]:
    """The main window's hook (ui/details.py): access tabs for a page's details pane.
    Imported lazily so that opening the window does not load every access view."""
    from .details import details_tabs as tabs

    return tabs(page, db, store, parent)
