"""The main window: navigation, one page per table, pending edits saved explicitly, files.

The window owns the PendingStore and the open Database. Every user action is a method
here (``save``, ``revert``, ``add_record``, ``delete_selected``, ``open_path``...) wired to
a QAction with a shortcut and a menu entry; tests call the actions or press the keys.

Signals:
    saved: the pending edits reached the file (argument: how many).
    database_changed: another database was opened (argument: the Database).
"""

from __future__ import annotations

import html
import importlib.util
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QSplitter,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from ..core import audit_text, browse, lookup
from ..core.audit import audit_entries
from ..core.changes import Create, Delete, Entity, SetPasswordHash, Update
from ..core.database import Database
from ..core.errors import AccessGuardError, ConflictError
from . import audit_view, empty_state, messages, theme
from .details import HIDDEN_FIELDS, LABELS, record_values, show_value
from .icons import app_icon
from .interchange.view_export import install_view_exports
from .layout_defaults import fit_columns, nav_width, split_sizes
from .messages import ConflictChoice, SaveChoice
from .opening import open_database
from .password_dialog import PasswordDialog
from .pending import PendingStore
from .plain_text import plain_tooltip
from .reason_dialog import ReasonDialog
from .record_form import RecordForm
from .saving import SaveOutcome, save_pending
from .service import window as service_window
from .settings import AppSettings
from .table_page import PAGES, PageKind, TablePage

APP_TITLE = "AccessGuard"
DELETE_LIMIT = 10_000  # rows marked for deletion by one Del (each is read to be labelled)
AUDIT_HISTORY_LIMIT = 50  # entries of one record, up to the selected one's time, searched
CHOICES_LIMIT = 20_000  # offered in the form's combo (completes by substring)


def make_model(db: Database, kind: PageKind, store: PendingStore, parent: QObject | None) -> Any:
    """The lazy table model for one page (built by ui/table_model.py)."""
    from .table_model import RecordTableModel

    return RecordTableModel(db, browse.SPECS[kind.key], store, parent)


@contextmanager
def busy_cursor() -> Iterator[None]:
    """A wait cursor while a user action runs (a large save can take seconds)."""
    QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    try:
        yield
    finally:
        QApplication.restoreOverrideCursor()


class MainWindow(QMainWindow):
    """Navigation, one TablePage per table, the pending edits and the File/Edit/View menus.

    Args:
        db: the open database (replaced by ``open_path`` / ``set_database``).
        settings: where geometry, layouts, sort orders and recent files are kept.

    Signals:
        saved(int): the pending edits reached the file (how many).
        database_changed(object): another Database was opened.

    Attributes:
        store: the window's PendingStore (every view pushes its edits here).
        pages: the pages built so far, by key ("users", ...); ``page(key)`` builds one.
    """

    saved = Signal(int)
    database_changed = Signal(object)

    def __init__(
        self,
        db: Database,
        settings: AppSettings,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.db = db
        self.settings = settings
        self.store = PendingStore(self)
        self.pages: dict[str, TablePage] = {}
        self._was_away = False
        # Access menu windows and the Review dialog, one of each (see _one_window).
        self._access_windows: dict[str, QWidget] = {}
        self.setObjectName("main_window")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.resize(1280, 760)  # fits a 1366×768 screen; the users table and details side by side

        self.nav = QListWidget()
        self.nav.setObjectName("navigation")
        self.nav.setMinimumWidth(120)
        self.nav.setStyleSheet("QListWidget#navigation::item { padding: 6px 8px; }")
        for number, kind in enumerate(PAGES, start=1):
            item = QListWidgetItem(kind.title)
            item.setToolTip(f"{kind.title} (Ctrl+{number})")
            self.nav.addItem(item)
        self.stack = QStackedWidget()
        self.banner = QLabel("")
        self.banner.setObjectName("banner")
        self.banner.setStyleSheet(theme.banner_style())
        theme.on_change(self._restyle_banner)  # a bound slot: dropped with the window
        self.banner.setWordWrap(True)
        self.banner.setVisible(False)
        right = QWidget()
        right_box = QVBoxLayout(right)
        right_box.setContentsMargins(0, 0, 0, 0)
        right_box.addWidget(self.banner)
        right_box.addWidget(self.stack, 1)
        self.body = QSplitter(Qt.Orientation.Horizontal)
        self.body.setObjectName("body")
        self.body.addWidget(self.nav)
        self.body.addWidget(right)
        self.body.setStretchFactor(1, 1)
        self.body.setChildrenCollapsible(False)
        self.setCentralWidget(self.body)
        self.pending_label = QLabel("")
        self.statusBar().addPermanentWidget(self.pending_label)

        self._create_actions()
        self._create_menus()
        from .governance import install as install_governance  # menu + expiry reminder

        self.governance = install_governance(self)
        self.nav.currentRowChanged.connect(self._show_page)
        self.store.changed.connect(self._pending_changed)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.applicationStateChanged.connect(self._application_state_changed)

        self._build_pages()
        self._restore_window()
        self._update_title()
        self._update_actions()
        self.current_page().view.setFocus()  # the keyboard starts in the table
        service_window.database_opened(self)  # a service file's companion: link it

    # ================================================================ building

    def _action(
        self,
        text: str,
        slot: Any,
        shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
        tip: str = "",
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        return action

    def _create_actions(self) -> None:
        keys = QKeySequence.StandardKey
        self.act_new = self._action(
            "&New database…", self.new_database, "Ctrl+Shift+N", "Create an empty database file"
        )
        self.act_open = self._action("&Open…", self.open_dialog, keys.Open, "Open a database file")
        self.act_save = self._action(
            "&Save", self.save, keys.Save, "Write every pending change to the file"
        )
        self.act_save_reason = self._action(
            "Save with rea&son…",
            self.save_with_reason,
            "Ctrl+Alt+S",
            "Save, with a reason kept in the audit log for every change of this save",
        )
        self.act_save.enabledChanged.connect(self.act_save_reason.setEnabled)
        self.act_review = self._action(
            "Re&view changes…",
            self.review_changes,
            "Ctrl+Shift+S",
            "See who gains and loses access if the pending changes are saved",
        )
        self.act_revert = self._action(
            "&Revert…", self.revert, "Ctrl+Shift+R", "Throw away every pending change"
        )
        self.act_backup = self._action(
            "&Back up database…",
            self.backup,
            "Ctrl+Shift+B",
            "Write a consistent copy of the database",
        )
        self.act_check = self._action(
            "&Check database",
            self.check_database,
            "Ctrl+Shift+K",
            "Check the file, its schema objects and the audit trail's hash chain",
        )
        self.act_quit = self._action("&Quit", self.close, keys.Quit, "Close AccessGuard")
        self.act_quit.setShortcut(QKeySequence("Ctrl+Q"))
        self.act_undo = self._action("&Undo", self.undo, keys.Undo)
        self.act_redo = self._action("&Redo", self.redo, "Ctrl+Shift+Z")
        self.act_undo.setIconText("Undo")  # the toolbar stays short; the menu says what
        self.act_redo.setIconText("Redo")
        self.act_add = self._action(
            "&Add record…", self.add_record, "Ctrl+N", "Add a record to this table"
        )
        self.act_edit = self._action(
            "&Edit record…",
            self.edit_current,
            "Ctrl+E",
            "Open the selected record in a form (Enter)",
        )
        self.act_delete = self._action(
            "&Delete selected",
            self.delete_selected,
            keys.Delete,
            "Mark the selected records for deletion",
        )
        self.act_password = self._action(
            "Set &password…",
            self.set_password,
            "Ctrl+Shift+P",
            "Set or reset the selected user's password",
        )
        self.act_find = self._action("&Find", self.focus_search, keys.Find, "Search this table")
        self.act_go_to_row = self._action(
            "&Go to row…", lambda: self.current_page().ask_go_to_row(), "Ctrl+G",
            "Select a row by its number",
        )
        self.act_refresh = self._action(
            "&Refresh", self.refresh, keys.Refresh, "Reload from the database; pending changes stay"
        )
        self.act_refresh.setShortcut(QKeySequence("F5"))
        self.act_find.setShortcut(QKeySequence("Ctrl+F"))
        self.page_actions: list[QAction] = []
        for number, kind in enumerate(PAGES, start=1):
            act = self._action(kind.title, lambda n=number - 1: self.show_page(n), f"Ctrl+{number}")
            self.page_actions.append(act)
        self.act_guide = self._action("&Guide and shortcuts", self.show_guide, "F1")
        self.act_about = self._action("&About AccessGuard", self.about, "Shift+F1")
        self.act_import = self._action(
            "&Import…", self.import_organisation, "Ctrl+Shift+I",
            "Import users, roles and permissions from a file or folder (dry run first)",
        )
        self.act_export = self._action(
            "E&xport…", self.export_organisation, "Ctrl+Shift+X",
            "Export the whole organisation as CSV files, a JSON document or a Casbin policy",
        )
        self.act_publish = self._action(
            "&Publish to service database…", self.publish_to_service, "Ctrl+Shift+U",
            "Write this database into the AccessGuard web service's own file (preview first)",
        )
        self.act_export_table = self._action(
            "Export &table as shown…", self.export_table, "Ctrl+Shift+T",
            "Write this table's rows, as shown (search, filters, sort), to a CSV file",
        )
        self.act_bulk_roles = self._action(
            "Assign or remove a &role for selected users…",
            self.bulk_roles,
            "Ctrl+Shift+A",
            "Assign one role to, or remove it from, every selected user in one step",
        )
        # The access views (issue 4): opened by index so they always use the current
        # database, even after File > Open switched files.
        from .access import MENU

        self.access_actions: list[QAction] = []
        shortcuts = ("Ctrl+Shift+C", "Ctrl+Shift+E", "Ctrl+Shift+M", "Ctrl+Shift+D")
        for index, ((text, tip), shortcut) in enumerate(zip(MENU, shortcuts, strict=True)):
            act = self._action(text, lambda i=index: self.open_access_view(i), shortcut, tip)
            self.access_actions.append(act)

    def _create_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.act_new)
        file_menu.addAction(self.act_open)
        self.recent_menu = QMenu("Open &Recent", self)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addMenu(self.recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.act_save)
        file_menu.addAction(self.act_save_reason)
        file_menu.addAction(self.act_review)
        file_menu.addAction(self.act_revert)
        file_menu.addSeparator()
        file_menu.addAction(self.act_backup)
        file_menu.addAction(self.act_check)
        file_menu.addSeparator()
        for act in (self.act_import, self.act_export, self.act_export_table, self.act_publish):
            file_menu.addAction(act)
        file_menu.addSeparator()
        file_menu.addAction(self.act_quit)
        edit_menu = bar.addMenu("&Edit")
        for act in (self.act_undo, self.act_redo):
            edit_menu.addAction(act)
        edit_menu.addSeparator()
        for act in (self.act_add, self.act_edit, self.act_delete, self.act_password):
            edit_menu.addAction(act)
        edit_menu.addSeparator()
        edit_menu.addAction(self.act_find)
        edit_menu.addAction(self.act_go_to_row)
        view_menu = bar.addMenu("&View")
        for act in self.page_actions:
            view_menu.addAction(act)
        view_menu.addSeparator()
        view_menu.addAction(self.act_refresh)
        view_menu.addSeparator()
        view_menu.addAction(self._times_in_utc_action())
        access_menu = bar.addMenu("&Access")
        for act in self.access_actions:
            access_menu.addAction(act)
        access_menu.addSeparator()
        access_menu.addAction(self.act_bulk_roles)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.act_guide)
        help_menu.addAction(self.act_about)

        tools = QToolBar("Main", self)
        tools.setObjectName("main_toolbar")
        tools.setMovable(False)
        tools.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for act in (self.act_save, self.act_undo, self.act_redo):
            tools.addAction(act)
        tools.addSeparator()
        for act in (self.act_add, self.act_delete, self.act_password):
            tools.addAction(act)
        tools.addSeparator()
        tools.addAction(self.act_refresh)
        self.addToolBar(tools)
        self.toolbar = tools
        self._fill_recent_menu()

    def _build_pages(self) -> None:
        """Forget the pages of the previous database; each page (its model, its first
        count and page of rows) is built when first shown, so opening a file pays for
        one table, not five."""
        current = max(self.nav.currentRow(), 0)
        for page in self.pages.values():
            close = getattr(page.model, "close", None)
            if callable(close):
                close()  # its background reads stop before their database is closed
            self.stack.removeWidget(page)
            page.deleteLater()
        self.pages = {}
        self.act_delete.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self._apply_read_only()
        if self.nav.currentRow() != current:
            self.nav.setCurrentRow(current)
        self._show_page(current)

    def _ensure_page(self, kind: PageKind) -> TablePage:
        page = self.pages.get(kind.key)
        if page is not None:
            return page
        model = make_model(self.db, kind, self.store, None)
        page = TablePage(kind, model)
        model.setParent(page)  # goes with the page when another database is opened
        page.record_activated.connect(self.edit_row)
        page.current_changed.connect(lambda record, p=page: self._show_details(p, record))
        page.delegate.invalid.connect(self._cell_refused)
        page.sort_refused.connect(lambda text: self.statusBar().showMessage(text, 5000))
        page.notice.connect(lambda text: self.statusBar().showMessage(text, 5000))
        refused = getattr(model, "edit_refused", None)
        if refused is not None:
            refused.connect(self._cell_refused)
        # Del works on the table only, so it never eats a keypress in the search box.
        page.view.addAction(self.act_delete)
        page.view.addAction(self.act_export_table)  # its context menu (ui/interchange)
        page.view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        for title, widget in self.details_extension(kind.key):
            page.details.add_extension(title, widget)
            install_view_exports(widget)
        page.release_tab_key()  # Tab leaves the details' tables too
        if self.db.read_only or not kind.editable:
            page.view.setEditTriggers(page.view.EditTrigger.NoEditTriggers)
        if kind.key == "audit":
            audit_view.install(page, utc=self._times_in_utc)
        empty_state.install(page, read_only=self.db.read_only)  # says what to do when empty
        self.pages[kind.key] = page
        self.stack.addWidget(page)
        self._restore_page(page)
        return page

    def details_extension(self, page_key: str) -> list[tuple[str, QWidget]]:
        """Extra tabs for a page's details pane (the issue-4 access views plug in here).

        See ui/details.py for the contract of ``accessguard_gui.ui.access.details_tabs``.
        """
        if importlib.util.find_spec(f"{__package__}.access") is None:
            return []
        access = importlib.import_module(f"{__package__}.access")
        factory = getattr(access, "details_tabs", None)
        if factory is None:
            return []
        return list(factory(page_key, self.db, self.store, self))

    # ================================================================ pages

    def current_page(self) -> TablePage:
        widget = self.stack.currentWidget()
        assert isinstance(widget, TablePage)
        return widget

    def page(self, key: str) -> TablePage:
        """The page of a table (built now if it was never shown)."""
        for kind in PAGES:
            if kind.key == key:
                return self._ensure_page(kind)
        raise KeyError(key)

    def show_page(self, number: int) -> None:
        """Show a page (Ctrl+1…5, …) with the keyboard in its table. A click or the arrow
        keys in the navigation list switch pages without taking the focus from it."""
        self.nav.setCurrentRow(number)
        self.current_page().view.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _show_page(self, number: int) -> None:
        if number < 0 or number >= len(PAGES):
            return
        page = self._ensure_page(PAGES[number])
        self.stack.setCurrentWidget(page)
        self._update_actions()

    def focus_search(self) -> None:
        page = self.current_page()
        page.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        page.search.selectAll()

    # ================================================================ details

    def _show_details(
        self, page: TablePage, record: object | None, *, extensions: bool = True
    ) -> None:
        """Fill the Record tab; tell the extension tabs only when the selection changed
        (they follow the pending store themselves)."""
        entity = page.kind.entity
        row = page.current_row()
        pending: dict[str, Any] = {}
        failure = None
        state = ""
        created = self._created_at(page, row)
        if created is not None:
            record = dict(created.values)
            if entity is Entity.USER:  # a new user's password, set before the first Save
                from .access.follow import pending_password

                username = str(record.get("username", ""))
                record["has_password"] = pending_password(self.store, None, username) or False
            failure = self.store.failure(created)
            state = "New: it is added when you save."
        values = record_values(record)
        record_id = values.get("id")
        if page.kind.key == "audit" and record is not None:
            record = self._audit_details(values)
        if entity is not None and isinstance(record_id, int):
            pending = self.store.pending_values(entity, record_id)
            if entity is Entity.USER:
                from .access.follow import pending_password

                new_password = pending_password(self.store, record_id, str(values.get("username")))
                if new_password is not None:
                    pending = {**pending, "has_password": new_password}
            failure = self.store.failure_for_record(entity, record_id)
            if self.store.is_deleted(entity, record_id):
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
        self._update_actions()

    def _audit_details(self, values: dict[str, Any]) -> dict[str, Any]:
        """An audit row with its full change, field by field (the table shows a summary)."""
        shown = {k: v for k, v in values.items() if k != "summary"}
        at = values.get("at")
        # Newest first, none newer than the selected entry: it comes first (after any of
        # the same instant), however long the record's history.
        until = at + timedelta(microseconds=1) if isinstance(at, datetime) else None
        try:
            with self.db.read() as session:
                entries = audit_entries(
                    session,
                    limit=AUDIT_HISTORY_LIMIT,
                    record_type=values.get("record_type"),
                    record_key=values.get("record_key"),
                    until=until,
                )
        except AccessGuardError:
            return values
        utc = self._times_in_utc
        shown.update(audit_view.entry_header(values, utc=utc))
        for entry in entries:
            if entry.id == values.get("id"):
                shown.update(audit_view.entry_details(entry, utc=utc))
                break
        else:
            shown["changes"] = audit_text.summary_text(str(values.get("summary", "")), utc=utc)
        return shown

    def _times_in_utc_action(self) -> QAction:
        """View > Times in UTC: the audit log's times in UTC instead of local time (kept)."""
        self.act_times_utc = QAction("Times in &UTC", self)
        self.act_times_utc.setObjectName("act_times_utc")
        self.act_times_utc.setCheckable(True)
        self.act_times_utc.setChecked(self._times_in_utc)
        self.act_times_utc.setStatusTip("Show audit times in UTC (hover a time for the other clock)")
        self.act_times_utc.toggled.connect(self._set_times_in_utc)
        return self.act_times_utc

    @property
    def _times_in_utc(self) -> bool:
        return self.settings.text(audit_view.SETTING_UTC) == "1"

    def _set_times_in_utc(self, utc: bool) -> None:
        self.settings.set_text(audit_view.SETTING_UTC, "1" if utc else "")
        page = self.pages.get("audit")
        if page is not None:
            audit_view.set_utc(page, utc)
            self._refresh_details()

    @staticmethod
    def _created_at(page: TablePage, row: int | None) -> Create | None:
        """The pending new record a row shows (new rows sit at the top), else None."""
        if row is None:
            return None
        created_edit = getattr(page.model, "created_edit", None)
        return created_edit(row) if callable(created_edit) else None

    def _refresh_details(self, *, pending_only: bool = False) -> None:
        """Show each page's current record again; with ``pending_only`` (a pending edit
        came or went) only pages of records that can have pending edits: the audit
        page's details are a read of the log, which no pending edit changes."""
        for page in self.pages.values():
            if pending_only and page.kind.entity is None:
                continue
            row = page.current_row()
            record = page.model.record(row) if row is not None else None
            self._show_details(page, record, extensions=False)

    # ================================================================ editing

    def _editable(self, page: TablePage | None = None) -> bool:
        page = page or self.current_page()
        return page.kind.editable and not self.db.read_only

    def _current_values(
        self, page: TablePage, row: int
    ) -> tuple[dict[str, Any], int | None, int | None]:
        """The record's values as the user sees them (pending edits applied), id, version."""
        created = self._created_at(page, row)
        if created is not None:
            return dict(created.values), None, None
        values = record_values(page.model.record(row))
        record_id = values.get("id")
        version = values.get("version")
        if page.kind.entity is not None and isinstance(record_id, int):
            values.update(self.store.pending_values(page.kind.entity, record_id))
        return values, record_id if isinstance(record_id, int) else None, version

    def add_record(self) -> None:
        page = self.current_page()
        if not self._editable(page):
            return
        assert page.kind.entity is not None
        choices = self._choices(page.kind.entity)
        values = RecordForm.ask(
            self,
            page.kind.entity,
            None,
            choices=choices,
            choices_complete=len(choices) < CHOICES_LIMIT,
        )
        if values is None:
            return
        created = Create(page.kind.entity, values)
        self.store.push(created)
        for row in range(page.model.rowCount()):  # select the new row (new rows lead)
            if self._created_at(page, row) is created:
                page.select_row(row)
                break
        self.statusBar().showMessage(f"Added a new {page.kind.singular} — save to keep it.", 5000)

    def edit_current(self) -> None:
        row = self.current_page().current_row()
        if row is not None:
            self.edit_row(row)

    def edit_row(self, row: int) -> None:
        """Open the record form for a row (Enter / double-click)."""
        page = self.current_page()
        entity = page.kind.entity
        if entity is None:
            return
        values, record_id, version = self._current_values(page, row)
        created = self._created_at(page, row)
        if created is not None:
            self._edit_new_record(page, created)
            return
        if record_id is None:
            return
        if self.store.is_deleted(entity, record_id):
            self.statusBar().showMessage(
                "This record is marked for deletion (undo to keep it).", 5000
            )
            return
        changed = RecordForm.ask(
            self, entity, values, read_only=not self._editable(page), focus=page.current_field()
        )
        if not changed:
            return
        label = str(values.get("username") or values.get("name") or values.get("action") or "")
        before = {name: values.get(name) for name in changed}  # shown as old → new
        self.store.push(Update(entity, record_id, version, changed, label, before=before))

    def _edit_new_record(self, page: TablePage, created: Create) -> None:
        """A new, unsaved record opens in the add form; OK changes the pending addition."""
        if not self._editable(page):
            return
        choices = self._choices(created.entity)
        values = RecordForm.ask(
            self,
            created.entity,
            dict(created.values),
            choices=choices,
            creating=True,
            choices_complete=len(choices) < CHOICES_LIMIT,
            focus=page.current_field(),
        )
        if values:
            self.store.replace(created, Create(created.entity, {**created.values, **values}))

    def delete_selected(self) -> None:
        """Mark every selected record for deletion (removed from the file at Save)."""
        page = self.current_page()
        entity = page.kind.entity
        if entity is None or not self._editable(page):
            return
        selected = page.selected_count()
        if selected > DELETE_LIMIT:
            messages.show_error(
                self,
                "Too many rows selected",
                f"{selected:,} rows are selected; at most {DELETE_LIMIT:,} can be marked for "
                "deletion at once.",
                "Narrow the table with the search box or a filter first.",
            )
            return
        edits = []
        withdrawn = []
        for row in page.selected_rows():
            created = self._created_at(page, row)
            if created is not None:
                withdrawn.append(created)  # never saved: deleting it just drops it
                continue
            values, record_id, version = self._current_values(page, row)
            if record_id is None or self.store.is_deleted(entity, record_id):
                continue
            label = str(values.get("username") or values.get("name") or values.get("action") or "")
            if entity is Entity.PERMISSION and values.get("resource"):
                label = f"{values['resource']}: {values.get('action', '')}"
            edits.append(Delete(entity, record_id, version, label))
        if withdrawn:
            self.store.withdraw(withdrawn)
        if edits:
            self.store.push_many(edits)
            noun = page.kind.singular if len(edits) == 1 else page.kind.plural
            self.statusBar().showMessage(
                f"{len(edits):,} {noun} marked for deletion — save to delete, undo to keep.", 5000
            )

    def set_password(self) -> None:
        page = self.current_page()
        if page.kind.entity is not Entity.USER or not self._editable(page):
            return
        row = page.current_row()
        if row is None:
            return
        values, record_id, _version = self._current_values(page, row)
        username = str(values.get("username", ""))
        password_hash = PasswordDialog.ask(self, username)
        if password_hash is None:
            return
        ref: int | str = record_id if record_id is not None else username
        self.store.push(SetPasswordHash(user=ref, password_hash=password_hash))
        self.statusBar().showMessage(f"New password for {username} — save to keep it.", 5000)

    def undo(self) -> None:
        edit = self.store.undo()
        if edit is not None:
            self.statusBar().showMessage(f"Undone: {edit.describe()}", 4000)

    def redo(self) -> None:
        edit = self.store.redo()
        if edit is not None:
            self.statusBar().showMessage(f"Redone: {edit.describe()}", 4000)

    def _cell_refused(self, message: str) -> None:
        self.statusBar().showMessage(f"Not changed: {message}", 8000)
        page = self.current_page()
        page.view.setToolTip(plain_tooltip(message))

    def _choices(self, entity: Entity) -> list[str]:
        """Values offered by the form's choice fields (resource names for a permission)."""
        if entity is not Entity.PERMISSION:
            return []
        try:
            with self.db.read() as session:
                return lookup.complete_resources(session, "", limit=CHOICES_LIMIT)
        except AccessGuardError as exc:
            self.statusBar().showMessage(f"Could not list resources: {exc}", 8000)
            return []

    # ================================================================ save / revert

    def save(self) -> bool:
        """Apply every pending edit in one action; True if nothing is left pending."""
        if self.store.is_empty():
            return True
        outcome = self._apply_pending()
        if outcome.ok:
            return True
        cause, failed = outcome.cause, outcome.failed
        if (
            isinstance(cause, ConflictError)
            and cause.theirs is not None
            and isinstance(failed, (Update, Delete))
        ):
            return self._resolve_conflict(cause, failed)
        messages.show_error(self, "Nothing was saved", outcome.error, outcome.hint)
        return False

    def save_with_reason(self) -> bool:
        """File > Save with reason…: ask why, then save; the reason goes with every audit
        entry of this save (also through a conflict's second attempt)."""
        if self.store.is_empty():
            return True
        reason = ReasonDialog.ask(self, len(self.store.edits_for_save()))
        if reason is None:
            return False
        self._save_reason = reason
        try:
            return self.save()
        finally:
            self._save_reason = ""

    def _resolve_conflict(self, cause: ConflictError, failed: Update | Delete) -> bool:
        """Someone else changed a record the user changed too: the user decides whose
        change wins (nothing is overwritten silently), then the save goes on."""
        theirs = "\n".join(
            f"{LABELS.get(k, k)}: {show_value(k, v)}"
            for k, v in (cause.theirs or {}).items()
            if k not in HIDDEN_FIELDS
        )
        choice = messages.ask_conflict(
            self,
            f"Nothing was saved. {cause.message} Overwrite their change with yours, or keep "
            "theirs and drop your change of it?",
            f"Their version now:\n{theirs}" if theirs else "",
        )
        if choice is ConflictChoice.CANCEL:
            return False
        if choice is ConflictChoice.THEIRS:
            self.store.withdraw(self.store.for_record(failed.entity, failed.id))
            self.refresh()
            self.statusBar().showMessage(f"Kept their version of the {cause.record}.", 5000)
            return self.save()
        try:
            with self.db.read() as session:
                current = browse.fetch_record(
                    session, browse.SPECS[self._key_of(failed)], failed.id
                )
        except AccessGuardError as exc:
            messages.show_error(self, "Nothing was saved", exc.message)
            return False
        if current is None:
            messages.show_error(
                self,
                "Nothing was saved",
                f"The {cause.record} was deleted meanwhile.",
                "Undo your change of it (Ctrl+Z), then save again.",
            )
            return False
        self.store.rebase(failed.entity, failed.id, current.version)
        return self.save()

    @staticmethod
    def _key_of(edit: Update | Delete) -> str:
        return next(k.key for k in PAGES if k.entity == edit.entity)

    def _apply_pending(self) -> SaveOutcome:
        """The save itself, shared by Save and the Review dialog: on success refresh and
        emit ``saved``; on failure mark and select the failing row."""
        if self.db.read_only:
            return SaveOutcome(
                0,
                "The database is open read-only; changes cannot be saved.",
                "Back up the file (File → Back up) to get a copy you can change.",
            )
        count = len(self.store.edits_for_save())
        self.statusBar().showMessage(f"Saving {count:,} change{'s' if count != 1 else ''}…")
        with busy_cursor():
            outcome = save_pending(self.db, self.store, getattr(self, "_save_reason", ""))
        self.statusBar().clearMessage()
        if not outcome.ok:
            self._select_failed_row()
            self._refresh_details()
            return outcome
        self.refresh()
        noun = "change" if outcome.saved == 1 else "changes"
        self.statusBar().showMessage(f"Saved {outcome.saved:,} {noun}.", 5000)
        self.saved.emit(outcome.saved)
        return outcome

    def shared_actions(self) -> dict[str, QAction]:
        """Undo, Redo, Save and Review changes: added to every window the access views
        open (ui/access/common.share_window_actions), so their shortcuts work there too."""
        return {
            "undo": self.act_undo,
            "redo": self.act_redo,
            "save": self.act_save,
            "review": self.act_review,
        }

    def open_access_view(self, index: int) -> Any:
        """Open one of the Access menu's views on the current database."""
        from .access import menu_entries

        entries = menu_entries(self.db, self.store, self)
        _text, _tip, opener = entries[index]
        window = self._one_window(f"view {index}", opener, reuse=True)
        install_view_exports(window)  # Export to CSV… on its tables (ui/interchange)
        page = self.stack.currentWidget()
        row = page.current_row() if isinstance(page, TablePage) else None
        if isinstance(page, TablePage) and row is not None:  # open on the selected record
            from .access.follow import prefill

            prefill(window, page.kind.key, self._current_values(page, row)[0])
        return window

    # File > Import…, Export… and Export of a page: ui/interchange (imported when used).
    def publish_to_service(self) -> Any:
        return service_window.publish_to_service(self)

    def import_organisation(self) -> Any:
        from .interchange import window

        return window.import_organisation(self)

    def export_organisation(self) -> Any:
        from .interchange import window

        return window.export_organisation(self)

    def export_table(self) -> Any:
        from .interchange import window

        return window.export_table(self)

    def _one_window(self, key: str, opener: Callable[[], QWidget], *, reuse: bool) -> QWidget:
        """At most one window per ``key``: an open one comes to the front (``reuse``) or
        is replaced; a closed one is deleted, so repeated use does not pile up hidden
        windows that still follow every pending edit."""
        old = self._access_windows.pop(key, None)
        if old is not None:
            if reuse and old.isVisible():
                self._access_windows[key] = old
                old.raise_()
                old.activateWindow()
                return old
            old.close()
            old.deleteLater()
        window = opener()
        self._access_windows[key] = window
        return window

    def _close_access_windows(self) -> None:
        """They read the file they were opened on: close them when it is replaced."""
        for window in self._access_windows.values():
            window.close()
            window.deleteLater()
        self._access_windows.clear()

    def bulk_roles(self) -> Any:
        """Assign or remove one role for every selected user (edits go to the store)."""
        page = self.current_page()
        if page.kind.entity is not Entity.USER:
            self.show_page(0)
            self.statusBar().showMessage("Select users first, then assign or remove a role.", 5000)
            return None
        if not self._editable(page):
            return None
        selected = page.selected_count()
        if selected > DELETE_LIMIT:  # one pending edit per user: Ctrl+A on 1M is too many
            messages.show_error(
                self,
                "Too many rows selected",
                f"{selected:,} users are selected; a role can be changed for at most "
                f"{DELETE_LIMIT:,} users at once.",
                "Narrow the table with the search box or a filter first.",
            )
            return None
        ids = []
        for row in page.selected_rows():
            _values, record_id, _version = self._current_values(page, row)
            if record_id is not None:
                ids.append(record_id)
        if not ids:
            self.statusBar().showMessage("Select one or more saved users first.", 5000)
            return None
        from .access import bulk_role_dialog

        # A new selection needs a new dialog: replace one still open for the old one.
        return self._one_window(
            "bulk roles", lambda: bulk_role_dialog(self.db, self.store, ids, self), reuse=False
        )

    def review_changes(self) -> Any:
        """Who gains and loses what if the pending edits are saved (the access views'
        Review dialog, issue 4); its Save goes through the window's save."""
        if self.store.is_empty():
            self.statusBar().showMessage("Nothing to review: there are no unsaved changes.", 5000)
            return None
        from .access.review import show_review_changes

        def save_reviewed(_edits: Any) -> tuple[bool, str]:
            # The dialog checked that the store still holds exactly the reviewed edits.
            outcome = self._apply_pending()
            return outcome.ok, " ".join(x for x in (outcome.error, outcome.hint) if x)

        # A new review replaces the last one (closed by now: it is window-modal).
        return self._one_window(
            "review",
            lambda: show_review_changes(self.db, self.store, save_reviewed, self),
            reuse=False,
        )

    def _select_failed_row(self) -> None:
        """Show the row of the edit the save refused (its page, selected, scrolled to)."""
        for edit in self.store.edits():
            if self.store.failure(edit) is None:
                continue
            entity = getattr(edit, "entity", None)
            kind = next((k for k in PAGES if k.entity is not None and k.entity == entity), None)
            if kind is None:
                return  # an assignment or grant: its own view marks it
            page = self._ensure_page(kind)
            row: int | None = None
            if isinstance(edit, Create):
                row = next(
                    (
                        r
                        for r in range(len(self.store.created(kind.entity)))  # type: ignore[arg-type]
                        if self._created_at(page, r) is edit
                    ),
                    None,
                )
            elif isinstance(getattr(edit, "id", None), int):
                row = page.model.row_for_id(edit.id)  # type: ignore[union-attr]
            self.show_page(PAGES.index(kind))
            if row is not None:
                page.select_row(row)
            return

    def revert(self) -> bool:
        if self.store.is_empty():
            return True
        count = len(self.store)
        noun = "change" if count == 1 else "changes"
        if not messages.confirm(
            self,
            "Revert",
            f"Throw away {count:,} unsaved {noun}? This cannot be undone.",
            "Revert",
        ):
            return False
        self.store.clear()
        self.statusBar().showMessage("Reverted: the tables show the file again.", 4000)
        return True

    def maybe_keep_pending(self, what: str) -> bool:
        """Ask Save / Discard / Cancel when edits are pending (Discard / Cancel on a
        read-only database, where Save could only fail); True if we may go on."""
        if self.store.is_empty():
            return True
        if self.db.read_only:
            choice = messages.ask_discard_cancel(self, len(self.store), what)
        else:
            choice = messages.ask_save_discard_cancel(self, len(self.store), what)
        if choice is SaveChoice.SAVE:
            return self.save()
        if choice is SaveChoice.DISCARD:
            self.store.clear()
            return True
        return False

    # ================================================================ refresh

    def refresh(self) -> None:
        """Reload every table from the file; pending edits stay on top."""
        for page in self.pages.values():
            page.refresh()
        self._refresh_details()
        service_window.refreshed(self)  # a linked service file: what the service changed

    def _application_state_changed(self, state: Qt.ApplicationState) -> None:
        if state != Qt.ApplicationState.ApplicationActive:
            self._was_away = True
        elif self._was_away and self.isVisible():
            # Someone may have changed the file while we were away (issue 5).
            self._was_away = False
            QTimer.singleShot(0, self.refresh)

    # ================================================================ files

    def open_dialog(self) -> None:
        path = messages.ask_open_path(self)
        if path:
            self.open_path(path)

    def new_database(self) -> None:
        path = messages.ask_save_path(self, "New database", "accessguard.db")
        if not path:
            return
        target = Path(path)
        if target.suffix == "":
            target = target.with_suffix(".db")
        if target.exists() and target.stat().st_size > 0:
            messages.show_error(
                self,
                "Cannot create database",
                f"{target} already exists. AccessGuard does not overwrite files; "
                "choose a new name, or open it with File → Open.",
            )
            return
        self.open_path(target, create=True)

    def open_path(self, path: str | Path, *, create: bool = False, read_only: bool = False) -> bool:
        """Switch to another database; on any error stay on the current one."""
        if not self.maybe_keep_pending("opening another database"):
            return False
        with busy_cursor():
            db = open_database(
                self,
                path,
                create=create,
                read_only=read_only,
                operator=self.db.operator,
                failure_details=f"AccessGuard stays on {self.db.display_name}.",
            )
        if db is None:
            return False
        self.set_database(db)
        return True

    def set_database(self, db: Database) -> None:
        self._save_pages()
        self._close_access_windows()
        service_window.database_closing(self)
        old = self.db
        self.store.clear()
        self.db = db
        self._build_pages()
        self.current_page().view.setFocus()  # the keyboard in the new file's table
        old.close()
        if db.path is not None:
            self.settings.add_recent(db.path)
        self._fill_recent_menu()
        self._update_title()
        self._update_actions()
        self.database_changed.emit(db)
        service_window.database_opened(self)
        if db.backup_path is not None:
            self.statusBar().showMessage(
                f"Upgraded the file; the original is kept at {db.backup_path}.", 10000
            )
        if db.operator_note:  # the OS user name had to be made safe for the audit trail
            self.statusBar().showMessage(db.operator_note, 20000)

    def backup(self) -> None:
        if self.db.path is None:
            messages.show_error(
                self, "Back up", "Backups of server databases are made with the server's tools."
            )
            return
        stamp = datetime.now().strftime("%Y-%m-%d")
        suggested = str(self.db.path.with_name(f"{self.db.path.stem}-backup-{stamp}.db"))
        path = messages.ask_save_path(self, "Back up database", suggested)
        if not path:
            return
        target = Path(path)
        if target.exists():
            messages.show_error(
                self, "Back up", f"{target} already exists. Choose a new file name for the backup."
            )
            return
        try:
            written = self.db.backup_to(target)
        except (AccessGuardError, OSError) as exc:
            messages.show_error(self, "Back up failed", f"No backup was written: {exc}")
            return
        extra = " Unsaved changes are not in the backup." if not self.store.is_empty() else ""
        messages.show_info(self, "Back up", f"Backup written to {written}.{extra}")

    def check_database(self) -> Any:
        """File > Check database: file health, schema objects and the audit chain, run
        off the GUI thread with progress and Cancel (ui/check_dialog.py)."""
        from .check_dialog import CheckDialog

        dialog = CheckDialog.show_for(self, self.db)
        self.database_changed.connect(dialog.reject)  # it checks the database it was given
        return dialog

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.settings.recent_files()
        for number, path in enumerate(files, start=1):
            act = self.recent_menu.addAction(f"&{number} {path}")
            act.triggered.connect(lambda _c=False, p=path: self._open_recent(p))
        if not files:
            empty = self.recent_menu.addAction("No recent files")
            empty.setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            clear = self.recent_menu.addAction("Clear list")
            clear.triggered.connect(self._clear_recent)

    def _open_recent(self, path: str) -> None:
        if not self.open_path(path) and not Path(path).exists():
            self.settings.remove_recent(path)  # gone for good: stop offering it
            self._fill_recent_menu()

    def _clear_recent(self) -> None:
        self.settings.clear_recent()
        self._fill_recent_menu()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if self._dropped_path(event) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        path = self._dropped_path(event)
        if path is not None:
            event.acceptProposedAction()
            QTimer.singleShot(0, lambda: self.open_path(path))

    @staticmethod
    def _dropped_path(event: QDragEnterEvent | QDropEvent) -> Path | None:
        mime = event.mimeData()
        if not mime.hasUrls():
            return None
        for url in mime.urls():
            if url.isLocalFile():
                path = Path(url.toLocalFile())
                if path.is_file():
                    return path
        return None

    # ================================================================ state

    def _pending_changed(self) -> None:
        self._update_title()
        self._update_actions()
        self._refresh_details(pending_only=True)

    def _update_title(self) -> None:
        name = service_window.shown_name(self.db) or (
            self.db.path.name if self.db.path is not None else self.db.display_name
        )
        dirty = "*" if not self.store.is_empty() else ""
        ro = " (read-only)" if self.db.read_only else ""
        self.setWindowTitle(f"{APP_TITLE} — {name}{dirty}{ro}")
        count = len(self.store)
        failed = any(self.store.failure(e) for e in self.store.edits())
        if count:
            noun = "change" if count == 1 else "changes"
            text = f"{count:,} unsaved {noun}"
            self.pending_label.setText(text + (" — save failed, see marked rows" if failed else ""))
        else:
            self.pending_label.setText("")

    def _update_actions(self) -> None:
        if not self.pages:
            return
        page = self.current_page()
        editable = self._editable(page)
        has_row = page.current_row() is not None
        pending = not self.store.is_empty()
        self.act_save.setEnabled(pending and not self.db.read_only)
        self.act_revert.setEnabled(pending)
        self.act_review.setEnabled(pending and not self.db.read_only)
        self.act_undo.setEnabled(self.store.can_undo())
        self.act_redo.setEnabled(self.store.can_redo())
        # "Undo Change user …: a → b" ("&&": a name's "&" is no mnemonic)
        self.act_undo.setText(self.store.undo_text().replace("&", "&&"))
        self.act_redo.setText(self.store.redo_text().replace("&", "&&"))
        self.act_add.setEnabled(editable)
        self.act_edit.setEnabled(has_row and page.kind.editable)
        self.act_delete.setEnabled(editable and has_row)
        self.act_password.setEnabled(editable and has_row and page.kind.entity is Entity.USER)
        self.act_bulk_roles.setEnabled(editable and has_row and page.kind.entity is Entity.USER)
        self.act_backup.setEnabled(self.db.path is not None)
        self.act_import.setEnabled(not self.db.read_only)

    def _apply_read_only(self) -> None:
        """The banner; pages switch their editing off as they are built (_ensure_page);
        the store takes no edits (the last guard behind every editing control)."""
        read_only = self.db.read_only
        self.store.set_read_only(read_only)
        from .access.common import READ_ONLY_TIP

        editing = (self.act_save, self.act_review, self.act_add, self.act_delete)
        for act in (*editing, self.act_password, self.act_bulk_roles):
            # Disabled, and the toolbar's tooltip says why (empty: the action's text).
            act.setToolTip(READ_ONLY_TIP if read_only else "")
        self.banner.setVisible(read_only)
        if read_only:
            self.banner.setText(
                f"<b>Read-only:</b> {html.escape(self.db.display_name)} is open read-only, so "
                "editing is "
                "off. To make changes, back it up (File → Back up database…) and open the copy."
            )

    def _restyle_banner(self) -> None:
        self.banner.setStyleSheet(theme.banner_style())

    def show_guide(self) -> None:
        from .help import GuideDialog

        dialog = GuideDialog([a for a in self.actions() if a is not self.act_guide], self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        self.guide = dialog

    def about(self) -> None:
        from .. import __version__

        messages.show_info(
            self,
            "About AccessGuard",
            f"AccessGuard {__version__} — users, roles and permissions (RBAC) in a local "
            "database.\n"
            f"Database: {self.db.display_name}",
            "Help → Guide (F1) explains the ideas and lists the keyboard shortcuts.",
        )

    # ================================================================ settings

    def _restore_window(self) -> None:
        geometry = self.settings.bytes("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        body = self.settings.bytes("window/body")
        if body is not None:
            self.body.restoreState(body)
        else:
            nav = nav_width(self.nav)
            self.body.setSizes([nav, max(self.width() - nav, 400)])
        page_key = self.settings.text("window/page", "users")
        for number, kind in enumerate(PAGES):
            if kind.key == page_key:
                self.show_page(number)

    def _restore_page(self, page: TablePage) -> None:
        key = f"pages/{page.kind.key}"
        header = page.view.horizontalHeader()
        state = self.settings.bytes(f"{key}/header")
        need = 0
        if state is None or not header.restoreState(state):
            page.apply_default_layout()
            need = fit_columns(page.view)  # content, within limits (issue 12)
        splitter = self.settings.bytes(f"{key}/splitter")
        if splitter is None or not page.splitter.restoreState(splitter):
            # The table gets the room its columns need; the details pane keeps a minimum.
            page.splitter.setSizes(split_sizes(self.width() - nav_width(self.nav) - 24, need))
        # Enabling sorting sorts by the header's indicator (in SQL, by the model).
        page.view.setSortingEnabled(True)

    def _save_pages(self) -> None:
        for page in self.pages.values():
            key = f"pages/{page.kind.key}"
            self.settings.set_bytes(f"{key}/header", page.view.horizontalHeader().saveState())
            self.settings.set_bytes(f"{key}/splitter", page.splitter.saveState())

    def save_settings(self) -> None:
        self.settings.set_bytes("window/geometry", self.saveGeometry())
        self.settings.set_bytes("window/body", self.body.saveState())
        self.settings.set_text("window/page", self.current_page().kind.key)
        self._save_pages()
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if not self.maybe_keep_pending("closing"):
            event.ignore()
            return
        self.save_settings()
        service_window.database_closing(self)
        event.accept()
