"""The main window: navigation, one page per table, pending edits saved explicitly, files.

The window owns the PendingStore and the open Database. Every user action is a method
here (``save``, ``revert``, ``add_record``, ``delete_selected``, ``open_path``...) wired to
a QAction with a shortcut and a menu entry; tests call the actions or press the keys. The
work behind them lives in collaborators the window owns, one per reason to change:
``files`` (ui/window_files.py), ``editing`` (ui/window_editing.py), ``saving``
(ui/window_saving.py) and ``details`` (ui/window_details.py).

Signals:
    saved: the pending edits reached the file (argument: how many).
    database_changed: another database was opened (argument: the Database).
"""

from __future__ import annotations

import html
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
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

from ..core import browse
from ..core.changes import Entity
from ..core.database import Database
from . import empty_state, messages, theme
from .details import record_values
from .icons import app_icon
from .layout_defaults import fit_columns, nav_width, split_sizes
from .pending import PendingStore
from .settings import AppSettings
from .table_page import PAGES, PageKind, TablePage
from .window_details import AUDIT_HISTORY_LIMIT, DetailsPane
from .window_editing import CHOICES_LIMIT, DELETE_LIMIT, Editing, created_at
from .window_files import (
    FileHandling,
    busy_cursor,
    hooks_for,
    loaded_service_hooks,
    service_hooks,
)
from .window_saving import Saving

__all__ = [
    "APP_TITLE",
    "AUDIT_HISTORY_LIMIT",
    "CHOICES_LIMIT",
    "DELETE_LIMIT",
    "MainWindow",
    "busy_cursor",
    "make_model",
    "record_values",
]

APP_TITLE = "AccessGuard"


def install_view_exports(widget: QWidget) -> None:
    """Export to CSV… on a widget's tables (ui/interchange/view_export, imported then)."""
    from .interchange.view_export import install_view_exports as install

    install(widget)


class _ExportsWhenShown(QObject):
    """Gives a details tab's tables Export to CSV… when the tab is first shown: only then
    can its tables be seen (and right-clicked), and the window paints without the
    export module (cold start, issue 11)."""

    def __init__(self, widget: QWidget) -> None:
        super().__init__(widget)
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Show and isinstance(watched, QWidget):
            watched.removeEventFilter(self)
            install_view_exports(watched)
            self.deleteLater()
        return False


def make_model(db: Database, kind: PageKind, store: PendingStore, parent: QObject | None) -> Any:
    """The lazy table model for one page (built by ui/table_model.py)."""
    from .table_model import RecordTableModel

    return RecordTableModel(db, browse.SPECS[kind.key], store, parent)


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
        files: File menu work (open, new, recent, back up, check; FileHandling).
        editing: the Edit menu's record actions (Editing).
        saving: Save, Save with reason, Review, Revert and conflicts (Saving).
        details: each page's details pane (DetailsPane).
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
        self.files = FileHandling(self)
        self.editing = Editing(self)
        self.saving = Saving(self)
        self.details = DetailsPane(self)
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
        from .operator_gate import WindowOperators  # who is signed in; what they may use

        self.operators = WindowOperators(self)
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
        self.service_opened()  # a service file's companion: link it (ui/service)

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
            "&Go to row…",
            lambda: self.current_page().ask_go_to_row(),
            "Ctrl+G",
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
            "&Import…",
            self.import_organisation,
            "Ctrl+Shift+I",
            "Import users, roles and permissions from a file or folder (dry run first)",
        )
        self.act_export = self._action(
            "E&xport…",
            self.export_organisation,
            "Ctrl+Shift+X",
            "Export the whole organisation as CSV files, a JSON document or a Casbin policy",
        )
        self.act_publish = self._action(
            "&Publish to service database…",
            self.publish_to_service,
            "Ctrl+Shift+U",
            "Write this database into the AccessGuard web service's own file (preview first)",
        )
        self.act_export_table = self._action(
            "Export &table as shown…",
            self.export_table,
            "Ctrl+Shift+T",
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
        self.act_times_utc = self.details.times_in_utc_action()
        view_menu.addAction(self.act_times_utc)
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
        page.current_changed.connect(lambda record, p=page: self.details.show(p, record))
        page.delegate.invalid.connect(self.editing.cell_refused)
        page.sort_refused.connect(lambda text: self.statusBar().showMessage(text, 5000))
        page.notice.connect(lambda text: self.statusBar().showMessage(text, 5000))
        refused = getattr(model, "edit_refused", None)
        if refused is not None:
            refused.connect(self.editing.cell_refused)
        # Del works on the table only, so it never eats a keypress in the search box.
        page.view.addAction(self.act_delete)
        page.view.addAction(self.act_export_table)  # its context menu (ui/interchange)
        page.view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        for title, widget in self.details_extension(kind.key):
            page.details.add_extension(title, widget)
            _ExportsWhenShown(widget)
        page.release_tab_key()  # Tab leaves the details' tables too
        if self.db.read_only or not kind.editable:
            page.view.setEditTriggers(page.view.EditTrigger.NoEditTriggers)
        if kind.key == "audit":
            from . import audit_view  # built with the audit page, not with every window

            audit_view.install(page, utc=self.details.times_in_utc)
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

    # ================================================================ actions
    # Thin doors to the collaborators: the menus, the tests and the other windows call
    # these names; the work lives in window_files / window_editing / window_saving.

    def add_record(self) -> None:
        self.editing.add_record()

    def edit_current(self) -> None:
        self.editing.edit_current()

    def edit_row(self, row: int) -> None:
        """Open the record form for a row (Enter / double-click)."""
        self.editing.edit_row(row)

    def delete_selected(self) -> None:
        """Mark every selected record for deletion (removed from the file at Save)."""
        self.editing.delete_selected()

    def set_password(self) -> None:
        self.editing.set_password()

    def bulk_roles(self) -> Any:
        """Assign or remove one role for every selected user (edits go to the store)."""
        return self.editing.bulk_roles()

    def undo(self) -> None:
        self.editing.undo()

    def redo(self) -> None:
        self.editing.redo()

    _created_at = staticmethod(created_at)

    def save(self) -> bool:
        """Apply every pending edit in one action; True if nothing is left pending."""
        return self.saving.save()

    def save_with_reason(self) -> bool:
        return self.saving.save_with_reason()

    def review_changes(self) -> Any:
        return self.saving.review_changes()

    def revert(self) -> bool:
        return self.saving.revert()

    def maybe_keep_pending(self, what: str) -> bool:
        """Ask Save / Discard / Cancel when edits are pending; True if we may go on."""
        return self.saving.maybe_keep_pending(what)

    def open_dialog(self) -> None:
        self.files.open_dialog()

    def new_database(self) -> None:
        self.files.new_database()

    def open_path(self, path: str | Path, *, create: bool = False, read_only: bool = False) -> bool:
        """Switch to another database; on any error stay on the current one."""
        return self.files.open_path(path, create=create, read_only=read_only)

    def set_database(self, db: Database) -> None:
        self.files.set_database(db)

    def backup(self) -> None:
        self.files.backup()

    def check_database(self) -> Any:
        return self.files.check_database()

    def _fill_recent_menu(self) -> None:
        self.files.fill_recent_menu()

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

            prefill(window, page.kind.key, self.editing.current_values(page, row)[0])
        return window

    # File > Import…, Export… and Export of a page: ui/interchange (imported when used).
    def publish_to_service(self) -> Any:
        return service_hooks().publish_to_service(self)

    def service_opened(self) -> None:
        """``self.db`` is new: link it if it is a service file's companion (its title
        then names the service file), or start the import it was made for."""
        hooks = hooks_for(self.db)
        if hooks is not None:
            hooks.database_opened(self)
            self._update_title()

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

    # ================================================================ refresh

    def refresh(self) -> None:
        """Reload every table from the file; pending edits stay on top."""
        for page in self.pages.values():
            page.refresh()
        self.details.refresh()
        hooks = loaded_service_hooks()
        if hooks is not None:
            hooks.refreshed(self)  # a linked service file: what the service changed

    def _application_state_changed(self, state: Qt.ApplicationState) -> None:
        if state != Qt.ApplicationState.ApplicationActive:
            self._was_away = True
        elif self._was_away and self.isVisible():
            # Someone may have changed the file while we were away (issue 5).
            self._was_away = False
            QTimer.singleShot(0, self.refresh)

    # ================================================================ drops

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if self.files.dropped_path(event) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        path = self.files.dropped_path(event)
        if path is not None:
            event.acceptProposedAction()
            QTimer.singleShot(0, lambda: self.open_path(path))

    # ================================================================ state

    def _pending_changed(self) -> None:
        self._update_title()
        self._update_actions()
        self.details.refresh(pending_only=True)

    def _update_title(self) -> None:
        hooks = loaded_service_hooks()
        name = (hooks.shown_name(self.db) if hooks is not None else None) or (
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
        editable = self.editing.editable(page)
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
        self.operators.apply()  # off what the operator may not do, the reason on hover

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
        hooks = loaded_service_hooks()
        if hooks is not None:
            hooks.database_closing(self)
        event.accept()
