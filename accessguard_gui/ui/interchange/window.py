"""The main window's import/export actions, kept here so the window itself only wires
them up: File > Import…, File > Export…, Export… of the current table page."""

from __future__ import annotations

from typing import Any

from .. import messages
from .export_dialog import ExportDialog, show_export_dialog
from .import_dialog import ImportDialog, show_import_dialog
from .table_dialog import TableExportDialog, export_table_page


def import_organisation(window: Any) -> ImportDialog | None:
    """File > Import…: the dry-run dialog; after an import every table refreshes."""
    if window.db.read_only:
        messages.show_error(window, "Import", "The database is open read-only; nothing can "
                            "be imported into it. Open it for writing, or import into a copy.")
        return None
    dialog = show_import_dialog(window.db, window, pending=len(window.store))
    dialog.imported.connect(lambda result: _imported(window, result))
    window.database_changed.connect(dialog.close)  # it imports into the database it was given
    return dialog


def _imported(window: Any, result: Any) -> None:
    window.refresh()
    window.statusBar().showMessage(f"Imported from {result.source_name}: {result.summary()}",
                                   10_000)


def export_organisation(window: Any) -> ExportDialog:
    """File > Export…: the whole organisation in a chosen format."""
    dialog = show_export_dialog(window.db, window, pending=len(window.store))
    dialog.exported.connect(lambda text: window.statusBar().showMessage(text, 10_000))
    return dialog


def export_table(window: Any) -> TableExportDialog:
    """Export… of the current table page, as shown (the audit log: also a period)."""
    dialog = export_table_page(window.db, window.current_page(), window,
                               pending=len(window.store))
    dialog.exported.connect(lambda rows, path: window.statusBar().showMessage(
        f"Wrote {rows:,} rows to {path}.", 10_000))
    return dialog
