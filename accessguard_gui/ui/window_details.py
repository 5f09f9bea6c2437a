"""The main window's details pane: the Record tab of each page and what follows it.

A collaborator the MainWindow owns (``window.details``): it fills a page's Record tab
from the selected row and the pending edits, the audit log's full entries, and keeps
View > Times in UTC.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QAction

from ..core import audit_text
from ..core.audit import audit_entries
from ..core.changes import Entity
from ..core.errors import AccessGuardError
from .details import record_values
from .settings import AUDIT_TIMES_UTC
from .table_page import TablePage
from .window_editing import created_at

if TYPE_CHECKING:  # the window owns this collaborator; no import at run time
    from .main_window import MainWindow

AUDIT_HISTORY_LIMIT = 50  # entries of one record, up to the selected one's time, searched


class DetailsPane:
    """Shows the selected record of each page in its details pane.

    Args:
        window: the main window (its pages, store, database and settings).
    """

    def __init__(self, window: MainWindow) -> None:
        self.window = window

    def show(self, page: TablePage, record: object | None, *, extensions: bool = True) -> None:
        """Fill the Record tab; tell the extension tabs only when the selection changed
        (they follow the pending store themselves)."""
        entity = page.kind.entity
        row = page.current_row()
        pending: dict[str, Any] = {}
        failure = None
        state = ""
        created = created_at(page, row)
        if created is not None:
            record = dict(created.values)
            if entity is Entity.USER:  # a new user's password, set before the first Save
                from .access.follow import pending_password

                username = str(record.get("username", ""))
                record["has_password"] = (
                    pending_password(self.window.store, None, username) or False
                )
            failure = self.window.store.failure(created)
            state = "New: it is added when you save."
        values = record_values(record)
        record_id = values.get("id")
        if page.kind.key == "audit" and record is not None:
            record = self._audit_details(values)
        if entity is not None and isinstance(record_id, int):
            pending = self.window.store.pending_values(entity, record_id)
            if entity is Entity.USER:
                from .access.follow import pending_password

                new_password = pending_password(
                    self.window.store, record_id, str(values.get("username"))
                )
                if new_password is not None:
                    pending = {**pending, "has_password": new_password}
            failure = self.window.store.failure_for_record(entity, record_id)
            if self.window.store.is_deleted(entity, record_id):
                state = "Marked for deletion: it is removed when you save."
            elif pending:
                state = "Changed: the new values are saved when you save."
        shown = {**values, **pending}
        title = str(
            shown.get("record_key")  # audit entries: the record changed
            or shown.get("username")
            or shown.get("name")
            or shown.get("action")
            or ""
        )
        if entity is Entity.PERMISSION and shown.get("resource"):
            title = f"{shown['resource']}: {shown.get('action', '')}"
        page.details.record.show_record(record, pending, title=title, state=state, failure=failure)
        if extensions:
            # A pending new user is followed too (its roles and its access as if saved,
            # by name); other new records have nothing the access tabs could show yet.
            follow_new = created is not None and entity is Entity.USER
            shown_record = record if created is None or follow_new else None
            page.details.show_record_in_extensions(shown_record)
        self.window._update_actions()

    def _audit_details(self, values: dict[str, Any]) -> dict[str, Any]:
        """An audit row with its full change, field by field (the table shows a summary)."""
        shown = {k: v for k, v in values.items() if k != "summary"}
        at = values.get("at")
        # Newest first, none newer than the selected entry: it comes first (after any of
        # the same instant), however long the record's history.
        until = at + timedelta(microseconds=1) if isinstance(at, datetime) else None
        try:
            with self.window.db.read() as session:
                entries = audit_entries(
                    session,
                    limit=AUDIT_HISTORY_LIMIT,
                    record_type=values.get("record_type"),
                    record_key=values.get("record_key"),
                    until=until,
                )
        except AccessGuardError:
            return values
        from . import audit_view  # the audit page's own words, loaded with that page

        utc = self.times_in_utc
        shown.update(audit_view.entry_header(values, utc=utc))
        for entry in entries:
            if entry.id == values.get("id"):
                shown.update(audit_view.entry_details(entry, utc=utc))
                break
        else:
            shown["changes"] = audit_text.summary_text(str(values.get("summary", "")), utc=utc)
        return shown

    def times_in_utc_action(self) -> QAction:
        """View > Times in UTC: the audit log's times in UTC instead of local time (kept)."""
        action = QAction("Times in &UTC", self.window)
        action.setObjectName("act_times_utc")
        action.setCheckable(True)
        action.setChecked(self.times_in_utc)
        action.setStatusTip("Show audit times in UTC (hover a time for the other clock)")
        action.toggled.connect(self.set_times_in_utc)
        return action

    @property
    def times_in_utc(self) -> bool:
        """The audit log shows UTC (View > Times in UTC), kept in the settings."""
        return self.window.settings.text(AUDIT_TIMES_UTC) == "1"

    def set_times_in_utc(self, utc: bool) -> None:
        self.window.settings.set_text(AUDIT_TIMES_UTC, "1" if utc else "")
        page = self.window.pages.get("audit")
        if page is not None:
            from . import audit_view

            audit_view.set_utc(page, utc)
            self.refresh()

    def refresh(self, *, pending_only: bool = False) -> None:
        """Show each page's current record again; with ``pending_only`` (a pending edit
        came or went) only pages of records that can have pending edits: the audit
        page's details are a read of the log, which no pending edit changes."""
        for page in self.window.pages.values():
            if pending_only and page.kind.entity is None:
                continue
            row = page.current_row()
            record = page.model.record(row) if row is not None else None
            self.show(page, record, extensions=False)
