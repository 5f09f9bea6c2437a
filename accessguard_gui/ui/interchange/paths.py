"""File pickers of the import and export windows (tests replace these functions)."""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QWidget

CSV_FILTER = "CSV files (*.csv);;All files (*)"


def pick_save_path(
    parent: QWidget | None, title: str, suggested: str = "", filters: str = CSV_FILTER
) -> str | None:
    """A file to write (the dialog asks before overwriting)."""
    path, _ = QFileDialog.getSaveFileName(parent, title, suggested, filters)
    return path or None


def pick_open_path(parent: QWidget | None, title: str, filters: str) -> str | None:
    path, _ = QFileDialog.getOpenFileName(parent, title, "", filters)
    return path or None


def pick_folder(parent: QWidget | None, title: str) -> str | None:
    path = QFileDialog.getExistingDirectory(parent, title, "")
    return path or None
