"""What an empty table page says (issue 12, item 6): a new database tells how to add the
first record, a search or filter that matches nothing says so and how to get the rows
back, instead of a blank grid.

The note is a label laid over the table's viewport, shown only while the table has no
rows and the model is not still searching; it follows the model's own signals, so the
page needs no code for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QLabel

from . import theme

if TYPE_CHECKING:
    from .table_page import PageKind, TablePage


def empty_text(kind: PageKind, search: str, filtered: bool, read_only: bool = False) -> str:
    """The note for an empty page."""
    if search and filtered:
        return (
            f"No {kind.singular} matches \u201c{search}\u201d with this filter.\n"
            "Choose \u201cAll\u201d in the filter, or press Escape in the search box to clear it."
        )
    if search:
        return (
            f"No {kind.singular} matches \u201c{search}\u201d.\n"
            "Press Escape in the search box to clear it, or try part of a name."
        )
    if filtered:
        return f"No {kind.plural} pass the filter. Choose \u201cAll\u201d to see every one."
    if kind.key == "audit":
        return "Nothing has been saved yet: every change you save is recorded here."
    if read_only or not kind.editable:
        return f"This database has no {kind.plural}."
    first = {
        "users": "Add your first user with Ctrl+N, then give them roles in the Roles tab.",
        "roles": "Add your first role with Ctrl+N, then add members and grant permissions.",
        "resources": "Add your first resource (an application, a door, a share) with Ctrl+N.",
        "permissions": "Add a permission (a resource and an action, such as \u201cread\u201d) "
        "with Ctrl+N. Add the resource first on the Resources page.",
    }
    return f"No {kind.plural} yet. " + first.get(kind.key, "Add one with Ctrl+N.")


class EmptyNote(QObject):
    """Keeps a note over ``page``'s table, shown while the table is empty.

    The label is made the first time the table is empty: a window opening on a table with
    rows never builds or styles it (cold start, issue 11).

    Attributes:
        label: the note (plain text, centred, muted), or None until first needed.
    """

    def __init__(self, page: TablePage, read_only: bool = False) -> None:
        super().__init__(page.view)
        self._page = page
        self._read_only = read_only
        self.label: QLabel | None = None
        view = page.view
        view.viewport().installEventFilter(self)
        model = view.model()
        for signal in (
            model.modelReset,
            model.rowsInserted,
            model.rowsRemoved,
            model.layoutChanged,
        ):
            signal.connect(self.update_note)
        for name in ("counts_changed", "busy_changed"):
            extra = getattr(model, name, None)
            if extra is not None:
                extra.connect(self.update_note)
        self.update_note()

    def _made_label(self) -> QLabel:
        if self.label is None:
            label = QLabel(self._page.view.viewport())
            label.setObjectName("empty_note")
            label.setTextFormat(Qt.TextFormat.PlainText)  # quotes the search as typed
            label.setWordWrap(True)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            label.hide()
            self.label = label
            self._restyle()
            theme.on_change(self._restyle)  # a bound slot: dropped with the note
        return self.label

    def update_note(self, *_args: object) -> None:
        page = self._page
        model = page.view.model()
        searching = getattr(model, "is_searching", None)
        busy = callable(searching) and bool(searching())
        empty = model.rowCount() == 0 and not busy
        if empty:
            filtered = any(c.currentIndex() > 0 for c in page.filters.values())
            text = empty_text(page.kind, page.search.text().strip(), filtered, self._read_only)
            self._made_label().setText(text)
            self._place()
        if self.label is not None:
            self.label.setVisible(empty)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Resize:
            self._place()
        return False

    def _restyle(self) -> None:
        if self.label is not None:
            self.label.setStyleSheet(f"color: {theme.css('muted')}; padding: 24px;")

    def _place(self) -> None:
        if self.label is not None:
            self.label.setGeometry(self._page.view.viewport().rect())


def install(page: TablePage, read_only: bool = False) -> EmptyNote:
    """Give ``page`` its empty-state note (kept alive by the page's table view)."""
    return EmptyNote(page, read_only)
