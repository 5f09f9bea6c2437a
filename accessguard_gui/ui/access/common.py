"""Pieces shared by the access views: SQL-backed completion, a searchable multi-select
picker, a plain-rows table model, refresh-when-shown, read-only locking, window opening
with the main window's shortcuts, and a PNG helper."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
)
from PySide6.QtGui import (
    QAction,
    QBrush,
    QColor,
    QFont,
    QKeySequence,
    QStandardItem,
    QStandardItemModel,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...core.database import Database
from ...core.errors import AccessGuardError
from ...core.lookup import Choice, Suggestion
from ...core.operators import AppAction
from .. import theme
from ..focus import show_focus_frame
from ..plain_text import plain_tooltip

ARROW = "\u2192"
# Shared colours that follow the light or dark scheme (ui/theme.py).
GREEN = theme.shared_color("allowed")
RED = theme.shared_color("denied")
GREY = theme.shared_color("muted")
PENDING = theme.shared_color("pending")  # text of what is pending, not saved yet
DEBOUNCE_MS = 150
VALUE_ROLE = Qt.ItemDataRole.UserRole + 1  # what a completion inserts (its label is shown)

Index = QModelIndex | QPersistentModelIndex
W = TypeVar("W", bound=QWidget)


def searcher(
    db: Database, search: Callable[[Any, str], list[Choice]]
) -> Callable[[str], list[Choice]]:
    """``search(session, text)`` as the ``text -> choices`` callable a PickerDialog wants,
    each call in a short read of its own."""

    def run(text: str) -> list[Choice]:
        with db.read() as session:
            return search(session, text)

    return run


READ_ONLY_TIP = (
    "The database is open read-only, so nothing can be changed here. To make changes, "
    "back it up (File \u2192 Back up database\u2026) and open the copy."
)


def lock_for_read_only(
    db: Database, widgets: Iterable[QWidget], need: AppAction | None = None
) -> bool:
    """Disable every editing control of a view on a read-only database, or that the
    signed-in operator may not use (``need``: the AccessGuard permission they need, issue
    14), each with a tooltip saying why. Returns True if they were locked (the view must
    then also keep them off when its selection changes: ``is_locked``)."""
    reason = READ_ONLY_TIP if db.read_only else None
    if reason is None and need is not None:
        reason = db.access.why_not(need)
    if reason is None:
        return False
    for widget in widgets:
        widget.setEnabled(False)
        widget.setToolTip(plain_tooltip(reason))
        widget.setProperty("accessguard_locked", True)
    return True


def is_locked(widget: QWidget) -> bool:
    """Did ``lock_for_read_only`` lock this control for good?"""
    return bool(widget.property("accessguard_locked"))


def share_window_actions(widget: QWidget, skip: Iterable[str] = ()) -> dict[str, QAction]:
    """Give ``widget`` (a window of its own) the main window's Undo, Redo, Save and Review
    changes actions, so Ctrl+Z, Ctrl+Shift+Z, Ctrl+S and Ctrl+Shift+S do the same in every
    window: one set of actions, enabled and disabled in one place.

    The owner is the first ancestor with ``shared_actions()`` (the main window); a view
    opened without one gets none. ``skip`` names actions the window does itself (it may
    still call them: every shared action is returned, by name).
    """
    owner = widget.parentWidget()
    while owner is not None and not hasattr(owner, "shared_actions"):
        owner = owner.parentWidget()
    if owner is None:
        return {}
    skipped = set(skip)
    shared: dict[str, QAction] = owner.shared_actions()
    widget.addActions([action for key, action in shared.items() if key not in skipped])
    return shared


def error_label() -> QLabel:
    """A wrapping red label for a refusal or failure message under a form."""
    label = plain_label()
    label.setStyleSheet(f"color: {RED.name()};")
    return label


def plain_label(text: str = "") -> QLabel:
    """A wrapping label for text that holds names, descriptions or messages quoting them:
    plain text, so a display name such as "<b>Ann</b>" is shown as typed, not as HTML."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    return label


class RefreshWhenShown(QObject):
    """Runs ``refresh`` now if ``widget`` is visible, else once when it is next shown.

    Views that follow the pending edits re-read them (a rolled-back preview applying every
    edit) on each change; one that nobody can see need only catch up when it appears.
    """

    def __init__(self, widget: QWidget, refresh: Callable[[], None]) -> None:
        super().__init__(widget)
        self._widget = widget
        self._refresh = refresh
        self.stale = False
        widget.installEventFilter(self)

    def request(self) -> None:
        if self._widget.isVisible():
            self.stale = False
            self._refresh()
        else:
            self.stale = True

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._widget and event.type() == QEvent.Type.Show and self.stale:
            self.stale = False
            self._refresh()
        return False


class SqlCompleter(QCompleter):
    """A completer whose candidates come from a bounded search (core/lookup.py: a
    substring of username, display name or e-mail, of a name or description), refreshed
    as the user types (debounced), instead of a model holding a whole table.

    The list shows each candidate's label (e.g. "aschulz (Anna Schulz, anna@…)") and
    inserts its value (the username); it is not filtered again by prefix, since the match
    may be in the display name. Enter (or a choice) closes the list for good: a search
    still pending from the last keystrokes does not re-open it over the result.

    Args:
        db: the database.
        fetch: (session, text) -> at most a few dozen strings or ``lookup.Suggestion``s.
        line_edit: the field to complete.
    """

    def __init__(
        self,
        db: Database,
        fetch: Callable[[Any, str], Sequence[str | Suggestion]],
        line_edit: QLineEdit,
    ) -> None:
        self._items = QStandardItemModel()
        super().__init__(self._items, line_edit)
        self._db = db
        self._fetch = fetch
        self._edit = line_edit
        self._values: list[str] = []
        self._closed = False
        self.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        self.setCompletionRole(VALUE_ROLE)
        self.setMaxVisibleItems(8)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.refresh)
        line_edit.textEdited.connect(self._edited)
        line_edit.returnPressed.connect(self.close_popup)
        line_edit.editingFinished.connect(self.close_popup)
        self.activated.connect(lambda _text: self.close_popup())
        line_edit.setCompleter(self)

    def _edited(self, _text: str) -> None:
        self._closed = False
        self._timer.start()

    def close_popup(self) -> None:
        """Hide the list and drop a pending search until the user types again."""
        self._timer.stop()
        self._closed = True
        popup = self.popup()
        if popup is not None:
            popup.hide()

    def refresh(self) -> list[str]:
        """Run the search for the field's current text now; returns the values found."""
        text = self._edit.text()
        try:
            with self._db.read() as session:
                found = self._fetch(session, text)
        except AccessGuardError:
            found = []
        self._items.clear()
        self._values = []
        for hit in found:
            value, label = (hit, hit) if isinstance(hit, str) else (hit.value, hit.label)
            item = QStandardItem(label)
            item.setData(value, VALUE_ROLE)
            item.setToolTip(label)
            item.setEditable(False)
            self._items.appendRow(item)
            self._values.append(value)
        if found and self._edit.hasFocus() and not self._closed:
            self.complete()
        return list(self._values)

    def candidates(self) -> list[str]:
        return list(self._values)


LABEL_ROLE = Qt.ItemDataRole.UserRole + 2  # a marked item's plain label


def _label(item: QListWidgetItem) -> str:
    return str(item.data(LABEL_ROLE) or item.text())


def mark_held_item(item: QListWidgetItem, choice: Choice) -> None:
    """A choice the subject already has (core.role_stats.MarkedChoice) says so, greyed;
    one held directly cannot be ticked again."""
    held = getattr(choice, "held", "")
    if not held:
        return
    item.setData(LABEL_ROLE, choice.label)  # what is chosen: the record, not the mark
    item.setText(f"{choice.label}  \u2014 {held}")
    item.setForeground(GREY)
    item.setToolTip(plain_tooltip(f"{choice.label}: {held}"))
    if getattr(choice, "final", False):
        # Ticked and greyed: already there, nothing to add.
        item.setCheckState(Qt.CheckState.Checked)
        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsUserCheckable & ~Qt.ItemFlag.ItemIsEnabled)


class PickerDialog(QDialog):
    """Search and tick several records at once (roles, permissions, users).

    The list shows at most a few hundred matches of the search text (a bounded query);
    ticked records stay ticked while the user searches for more.

    Args:
        search: text -> matching choices (runs its own short read).
    """

    def __init__(
        self,
        title: str,
        search: Callable[[str], list[Choice]],
        parent: QWidget | None = None,
        *,
        multi: bool = True,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self._search = search
        self._multi = multi
        self._chosen: dict[int, str] = {}
        self.filter = QLineEdit(placeholderText="Type to search\u2026")
        self.list = QListWidget()
        self.empty = plain_label()  # says why the list is empty (no match for the search)
        self.empty.hide()
        self.summary = plain_label()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        layout = QVBoxLayout(self)
        for w in (self.filter, self.list, self.empty, self.summary, self.buttons):
            layout.addWidget(w)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.refresh)
        self.filter.textChanged.connect(lambda _t: self._timer.start())
        self.list.itemChanged.connect(self._item_changed)
        self.resize(420, 480)
        self.refresh()

    def refresh(self) -> None:
        found = self._search(self.filter.text())
        self.list.blockSignals(True)
        self.list.clear()
        for choice in found:
            item = QListWidgetItem(choice.label)
            item.setData(Qt.ItemDataRole.UserRole, choice.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            checked = choice.id in self._chosen
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            mark_held_item(item, choice)  # what the subject already has (issue 12)
            self.list.addItem(item)
        self.list.blockSignals(False)
        typed = self.filter.text().strip()
        self.empty.setText(
            f"Nothing matches \u201c{typed}\u201d. The search looks for these letters "
            "anywhere in names, display names, e-mail addresses and descriptions."
            if typed
            else "There is nothing to choose yet."
        )
        self.empty.setVisible(not found)
        self._update_summary()

    def _item_changed(self, item: QListWidgetItem) -> None:
        rid = int(item.data(Qt.ItemDataRole.UserRole))
        if item.checkState() == Qt.CheckState.Checked:
            if not self._multi:
                self._chosen.clear()
                self.list.blockSignals(True)
                for i in range(self.list.count()):
                    other = self.list.item(i)
                    if other is not item:
                        other.setCheckState(Qt.CheckState.Unchecked)
                self.list.blockSignals(False)
            self._chosen[rid] = _label(item)
        else:
            self._chosen.pop(rid, None)
        self._update_summary()

    def set_checked(self, label: str, checked: bool = True) -> None:
        """Tick the listed item with this label (what a click on its box does)."""
        for i in range(self.list.count()):
            item = self.list.item(i)
            if label in (item.text(), _label(item)):
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
                return
        raise KeyError(label)

    def _update_summary(self) -> None:
        n = len(self._chosen)
        names = list(self._chosen.values())
        shown = ", ".join(names[:5]) + (f" and {n - 5} more" if n > 5 else "")
        self.summary.setText(f"{n} chosen: {shown}" if n else "Nothing chosen yet")
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(n > 0)

    def chosen(self) -> list[Choice]:
        return [Choice(i, label) for i, label in self._chosen.items()]

    @classmethod
    def ask(
        cls,
        parent: QWidget | None,
        title: str,
        search: Callable[[str], list[Choice]],
        *,
        multi: bool = True,
    ) -> list[Choice]:
        """Run the picker modally; tests replace this classmethod."""
        dialog = cls(title, search, parent, multi=multi)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            return dialog.chosen()
        return []


class RowsModel(QAbstractTableModel):
    """A read-only table of pre-formatted rows (display strings, brushes and the bold font
    made once, so ``data()`` is a list lookup), with optional per-row colour and tooltip."""

    def __init__(self, headers: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._headers = list(headers)
        self._rows: list[tuple[str, ...]] = []
        self._brushes: list[QBrush | None] = []
        self._tips: list[str] = []
        self._bold: list[bool] = []
        self._bold_font = QFont()
        self._bold_font.setBold(True)

    def set_rows(
        self,
        rows: Sequence[tuple[str, ...]],
        colors: Sequence[QColor | None] | None = None,
        tips: Sequence[str] | None = None,
        bold: Sequence[bool] | None = None,
        *,
        headers: Sequence[str] | None = None,
    ) -> None:
        self.beginResetModel()
        if headers is not None:
            self._headers = list(headers)
        self._rows = [tuple(r) for r in rows]
        # Brushes made once per row here, not on every paint in data().
        self._brushes = [None if c is None else QBrush(c) for c in colors or [None] * len(rows)]
        # Tips quote names and messages: plain, like every text from data.
        self._tips = [plain_tooltip(t) for t in tips] if tips is not None else [""] * len(rows)
        self._bold = list(bold) if bold is not None else [False] * len(self._rows)
        self.endResetModel()

    def append_rows(
        self,
        rows: Sequence[tuple[str, ...]],
        colors: Sequence[QColor | None],
        tips: Sequence[str],
    ) -> None:
        """Add rows at the end (the next page of a lazily fetched list)."""
        if not rows:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
        self._rows += [tuple(r) for r in rows]
        self._brushes += [None if c is None else QBrush(c) for c in colors]
        self._tips += [plain_tooltip(t) for t in tips]
        self._bold += [False] * len(rows)
        self.endInsertRows()

    def row(self, index: int) -> tuple[str, ...]:
        return self._rows[index]

    def rows(self) -> list[tuple[str, ...]]:
        return list(self._rows)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._headers)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r, c = index.row(), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._rows[r][c]
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._brushes[r]
        if role == Qt.ItemDataRole.ToolTipRole and self._tips[r]:
            return self._tips[r]
        if role == Qt.ItemDataRole.FontRole and self._bold[r]:
            return self._bold_font
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(self._headers):
            return self._headers[section]
        return None


def open_window(widget: W, title: str | None = None, size: tuple[int, int] | None = None) -> W:
    """Show ``widget`` as a window of its own, even when it has a parent (which keeps it
    alive and on top of the main window instead of being drawn inside it), with the main
    window's editing shortcuts (``share_window_actions``).

    Args:
        title: the window title, shown as "<title> — AccessGuard".
        size: the initial (width, height).
    """
    if title is not None:
        widget.setWindowTitle(f"{title} \u2014 AccessGuard")
    if size is not None:
        widget.resize(*size)
    widget.setWindowFlag(Qt.WindowType.Window, True)
    share_window_actions(widget)
    add_close_action(widget)
    release_tab_key(widget)
    widget.show()
    widget.raise_()
    widget.activateWindow()
    return widget


def release_tab_key(widget: QWidget) -> None:
    """Tab and Shift+Tab move between the window's controls, never between a table's cells
    (a QTableView takes them by default: the focus would never leave it). The arrow keys
    move between cells."""
    for view in widget.findChildren(QAbstractItemView):
        view.setTabKeyNavigation(False)
        show_focus_frame(view)  # and the focus in it shows


def add_close_action(widget: QWidget) -> QAction:
    """Escape and Ctrl+W (the platform's Close keys too) close the window, as in any
    desktop application's secondary windows. Added once per window."""
    existing = widget.findChild(QAction, "close_window")
    if isinstance(existing, QAction):
        return existing
    action = QAction("Close window", widget)
    action.setObjectName("close_window")
    keys = [QKeySequence(Qt.Key.Key_Escape), QKeySequence("Ctrl+W")]
    keys += [k for k in QKeySequence.keyBindings(QKeySequence.StandardKey.Close) if k not in keys]
    action.setShortcuts(keys)
    action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    action.triggered.connect(widget.close)
    widget.addAction(action)
    return action


def save_png(widget: QWidget, path: str | Path) -> Path:
    """Render ``widget`` (shown or not) to a PNG, for looking at a view without a display."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    QApplication.processEvents()
    widget.grab().save(str(target))
    return target
