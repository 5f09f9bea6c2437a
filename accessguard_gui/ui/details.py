"""The details pane of a page: the selected record's fields, plus tabs other features add.

Hook for the access views (issue 4): if the package ``accessguard_gui.ui.access`` defines

    def details_tabs(page: str, db: Database, store: PendingStore, parent: QWidget)
        -> list[tuple[str, QWidget]]

the main window adds each (title, widget) as a tab beside "Record" in the page ``page``
("users", "roles", "resources", "permissions", "audit"). A widget may define
``show_record(record: object | None)`` (called when the selection changes; ``record`` is
the table model's row snapshot, or None) and ``refresh()`` (called after Save, F5 and when
the window regains focus). Widgets receive the Database and PendingStore and push their
edits to the store, never to the database.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFormLayout,
    QLabel,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from . import theme


def pending_style() -> str:
    return f"color: {theme.css('pending')}; font-weight: 600;"


HIDDEN_FIELDS = frozenset({"version", "password_hash", "resource_id"})
LABELS = {
    "id": "ID",
    "username": "Username",
    "display_name": "Display name",
    "email": "E-mail",
    "active": "Active",
    "has_password": "Password",
    "created_at": "Created",
    "updated_at": "Updated",
    "name": "Name",
    "description": "Description",
    "resource": "Resource",
    "action": "Action",
    "at": "When",
    "operator": "Operator",
    "operation": "Operation",
    "record_type": "Record type",
    "record_key": "Record",
    "before": "Before",
    "after": "After",
    "members": "Direct members",  # the Effective tab counts those who inherit it too
    "summary": "Before → after",
    "changes": "Changes",
}


def record_values(record: object) -> dict[str, Any]:
    """A row snapshot (dataclass, named tuple or mapping) as an ordered dict of fields."""
    if record is None:
        return {}
    if isinstance(record, Mapping):
        return dict(record)
    stored = getattr(record, "values", None)
    if isinstance(stored, Mapping) and hasattr(record, "id"):
        # core.browse.Record: id and version beside the field values.
        return {"id": record.id, "version": getattr(record, "version", None), **stored}
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
    as_dict = getattr(record, "_asdict", None)
    if callable(as_dict):
        return dict(as_dict())
    return {"value": record}


def record_id_of(record: object) -> Any:
    """The saved record's id, None for a record that exists only as a pending edit."""
    return record_values(record).get("id")


def show_value(name: str, value: Any) -> str:
    """How a field reads to a person."""
    if value is None or value == "":
        return "—"
    if name == "has_password":
        if isinstance(value, str):  # a pending password: "set (not saved)"
            return value
        return "set" if value else "not set"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, Mapping):
        if not value:
            return "—"
        return "\n".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


class RecordDetails(QScrollArea):
    """The "Record" tab: every field of the selected record, pending values marked."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        inner = QWidget()
        self.layout_ = QVBoxLayout(inner)
        self.title = QLabel("")
        self.title.setObjectName("details_title")
        self.title.setStyleSheet("font-size: 14pt; font-weight: 600;")
        self.title.setWordWrap(True)
        # Names, descriptions and messages are the user's text: never read as HTML.
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.status = QLabel("")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.status.setVisible(False)
        self.form = QFormLayout()
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.placeholder = QLabel("Select a row to see its details.")
        self.placeholder.setStyleSheet("color: palette(mid);")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.layout_.addWidget(self.placeholder)
        self.layout_.addWidget(self.title)
        self.layout_.addWidget(self.status)
        self.layout_.addLayout(self.form)
        self.layout_.addStretch(1)
        self.setWidget(inner)
        self.show_record(None)

    def show_record(
        self,
        record: object | None,
        pending: Mapping[str, Any] | None = None,
        *,
        title: str = "",
        state: str = "",
        failure: str | None = None,
    ) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.placeholder.setVisible(record is None)
        self.title.setVisible(record is not None)
        self.title.setText(title)
        message = failure or state
        self.status.setVisible(bool(message))
        self.status.setText(f"Not saved: {failure}" if failure else state)
        if failure:
            from .record_form import error_style  # imported once a save has failed

            self.status.setStyleSheet(error_style())
        elif message:  # hidden without one: styled when it is shown
            self.status.setStyleSheet(pending_style())
        if record is None:
            return
        pending = pending or {}
        for name, value in record_values(record).items():
            if name in HIDDEN_FIELDS:
                continue
            changed = name in pending
            shown = show_value(name, pending[name] if changed else value)
            caption = QLabel(LABELS.get(name, name.replace("_", " ").capitalize()) + ":")
            if changed and record_id_of(record) is not None:
                # What Save would overwrite, so a reviewer sees both sides of the edit.
                shown += f"  (pending; saved: {show_value(name, value)})"
            elif changed:
                shown += "  (pending)"
            text = QLabel(shown)
            text.setTextFormat(Qt.TextFormat.PlainText)
            text.setWordWrap(True)
            text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            text.setObjectName(f"value_{name}")
            if changed:
                text.setStyleSheet(pending_style())
            self.form.addRow(caption, text)

    def value_text(self, name: str) -> str:
        label = self.findChild(QLabel, f"value_{name}")
        return label.text() if label is not None else ""


class DetailsPane(QTabWidget):
    """Tabs: "Record" first, then whatever ``details_tabs`` adds for the page."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.record = RecordDetails()
        self.addTab(self.record, "Record")
        self.extensions: list[QWidget] = []
        self.setDocumentMode(True)

    def add_extension(self, title: str, widget: QWidget) -> None:
        self.extensions.append(widget)
        self.addTab(widget, title)

    def show_record_in_extensions(self, record: object | None) -> None:
        for widget in self.extensions:
            show = getattr(widget, "show_record", None)
            if callable(show):
                show(record)

    def refresh_extensions(self) -> None:
        for widget in self.extensions:
            refresh = getattr(widget, "refresh", None)
            if callable(refresh):
                refresh()
