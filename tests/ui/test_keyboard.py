"""Issue 12.2: the main window works from the keyboard — focus starts in the table, the
search box leads into its results, Tab reaches the details pane, Go to row, and access
windows close with Escape or Ctrl+W."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget

from accessguard_gui.core.database import Database
from accessguard_gui.ui.table_page import GoToRowDialog

from .helpers import row_of_user

SHOTS = Path("/tmp/shots")


def _focus() -> QWidget | None:
    return QApplication.focusWidget()


def test_focus_starts_in_the_table(qtbot: Any, window: Any) -> None:
    page = window.current_page()
    qtbot.waitUntil(lambda: _focus() is page.view)
    assert window.nav.hasFocus() is False


def test_down_or_enter_in_the_search_box_moves_into_the_results(
    qtbot: Any, window: Any, seeded: Database
) -> None:
    page = window.page("users")
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: _focus() is page.search)
    qtbot.keyClicks(page.search, "bob")
    qtbot.keyClick(page.search, Qt.Key.Key_Down)
    assert _focus() is page.view
    assert page.model.rowCount() == 1 and page.current_row() == 0
    assert page.model.record(0)["username"] == "bob"

    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(page.search, "carol")  # replaces the selected text
    qtbot.keyClick(page.search, Qt.Key.Key_Return)
    assert _focus() is page.view
    assert page.model.record(page.current_row())["username"] == "carol"


def test_escape_in_the_search_box_clears_it(qtbot: Any, window: Any) -> None:
    page = window.page("users")
    page.search.setFocus()
    qtbot.waitUntil(lambda: _focus() is page.search)
    qtbot.keyClicks(page.search, "bob")
    page.apply_search()
    assert page.model.rowCount() == 1
    qtbot.keyClick(page.search, Qt.Key.Key_Escape)
    assert page.search.text() == ""
    assert page.model.rowCount() == 3
    assert _focus() is page.search


def test_tab_leaves_the_table_for_the_details_and_shift_tab_comes_back(
    qtbot: Any, window: Any, seeded: Database
) -> None:
    page = window.page("users")
    page.select_row(row_of_user(page, seeded, "bob"))
    page.view.setFocus()
    qtbot.waitUntil(lambda: _focus() is page.view)
    before = page.view.currentIndex()
    qtbot.keyClick(page.view, Qt.Key.Key_Tab)
    focused = _focus()
    assert focused is not None and page.details.isAncestorOf(focused)
    assert page.view.currentIndex() == before  # Tab did not walk the cells
    qtbot.keyClick(focused, Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
    assert _focus() is page.view


def test_every_control_of_the_page_is_reached_by_tab(qtbot: Any, window: Any) -> None:
    page = window.page("users")
    page.search.setFocus()
    qtbot.waitUntil(lambda: _focus() is page.search)
    seen: list[QWidget] = []
    for _ in range(12):
        widget = _focus()
        assert widget is not None
        seen.append(widget)
        qtbot.keyClick(widget, Qt.Key.Key_Tab)
    assert page.search in seen and page.view in seen
    assert all(combo in seen for combo in page.filters.values())
    assert any(page.details.isAncestorOf(w) for w in seen)
    assert window.nav in seen  # and round again to the search box
    order = seen[: seen.index(page.search, 1) + 1] if page.search in seen[1:] else seen
    assert order[0] is page.search and order[-1] is page.search


def test_go_to_row_selects_that_row(
    qtbot: Any, window: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[int, int]] = []

    def answer(_cls: Any, _parent: Any, rows: int, current: int) -> int:
        asked.append((rows, current))
        return 3

    monkeypatch.setattr(GoToRowDialog, "ask", classmethod(answer))
    page = window.page("users")
    qtbot.waitUntil(lambda: _focus() is page.view)
    qtbot.keyClick(page.view, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert asked == [(3, 1)]
    assert page.current_row() == 2 and _focus() is page.view

    monkeypatch.setattr(GoToRowDialog, "ask", classmethod(lambda *_a: 99))
    qtbot.keyClick(page.view, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert page.current_row() == 2
    assert "There is no row 99" in window.statusBar().currentMessage()


@pytest.mark.parametrize(
    ("key", "modifier"),
    [
        (Qt.Key.Key_Escape, Qt.KeyboardModifier.NoModifier),
        (Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier),
    ],
)
def test_escape_and_ctrl_w_close_access_windows(
    qtbot: Any, window: Any, key: Qt.Key, modifier: Qt.KeyboardModifier
) -> None:
    for index in range(len(window.access_actions)):
        view = window.open_access_view(index)
        qtbot.waitExposed(view)
        view.activateWindow()
        qtbot.waitUntil(lambda v=view: QApplication.activeWindow() is v)
        target = QApplication.focusWidget() or view
        qtbot.keyClick(target, key, modifier)
        qtbot.waitUntil(lambda v=view: not v.isVisible())
    assert window.isVisible()


def test_the_focused_table_shows_its_focus(qtbot: Any, window: Any, seeded: Database) -> None:
    """Rendered for a person to look at: the current cell's focus frame in the table,
    then the focus on the details pane's tab after Tab."""
    page = window.page("users")
    page.select_row(row_of_user(page, seeded, "bob"))
    page.view.setFocus()
    qtbot.waitUntil(lambda: _focus() is page.view)
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert window.grab().save(str(SHOTS / "keyboard_table_focus.png"))
    qtbot.keyClick(page.view, Qt.Key.Key_Tab)
    assert window.grab().save(str(SHOTS / "keyboard_details_focus.png"))
    qtbot.keyClick(_focus(), Qt.Key.Key_Tab)
    assert window.grab().save(str(SHOTS / "keyboard_details_body_focus.png"))
    qtbot.keyClick(_focus(), Qt.Key.Key_Tab)
    assert _focus() is window.nav
    assert window.grab().save(str(SHOTS / "keyboard_nav_focus.png"))
    qtbot.keyClick(_focus(), Qt.Key.Key_Tab)
    assert _focus() is page.search
    assert window.grab().save(str(SHOTS / "keyboard_search_focus.png"))


def test_ctrl_and_a_page_number_puts_the_keyboard_in_that_table(
    qtbot: Any, window: Any
) -> None:
    roles = window.page("roles")
    qtbot.keyClick(window.current_page().view, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert window.current_page() is roles
    qtbot.waitUntil(lambda: _focus() is roles.view)
    # The navigation list keeps the focus while it is used to browse the pages.
    window.nav.setFocus()
    qtbot.waitUntil(window.nav.hasFocus)
    qtbot.keyClick(window.nav, Qt.Key.Key_Down)
    assert window.current_page() is window.page("resources")
    assert window.nav.hasFocus()


def test_enter_in_the_search_box_of_a_large_table_selects_the_first_result(
    qtbot: Any, tmp_path: Path
) -> None:
    """The search runs off the GUI thread; the first row is selected when it arrives."""
    from accessguard_gui.core import browse
    from accessguard_gui.ui.pending import PendingStore
    from accessguard_gui.ui.table_model import RecordTableModel
    from accessguard_gui.ui.table_page import PAGES, TablePage

    from .test_table_model import add_users

    path = tmp_path / "users.db"
    Database(path, operator="tester").close()
    add_users(path, 2000)
    db = Database(path, operator="tester")
    try:
        model = RecordTableModel(
            db, browse.USERS, PendingStore(), background_rows=0, inline_budget=0
        )
        page = TablePage(PAGES[0], model)
        qtbot.addWidget(page)
        page.show()
        qtbot.waitExposed(page)
        page.search.setFocus()
        qtbot.waitUntil(page.search.hasFocus)
        qtbot.keyClicks(page.search, "user00150")
        qtbot.keyClick(page.search, Qt.Key.Key_Return)
        assert page.view.hasFocus()
        qtbot.waitUntil(lambda: page.current_row() == 0 and model.rowCount() == 10)
        assert model.record(0)["username"] == "user001500"
        model.close()
    finally:
        db.close()


def test_the_guide_explains_the_keyboard_and_lists_undo_by_its_name(
    qtbot: Any, window: Any, seeded: Database
) -> None:
    from accessguard_gui.ui.help import guide_html

    from .helpers import type_into_cell

    page = window.page("users")
    type_into_cell(qtbot, page, row_of_user(page, seeded, "bob"), "display_name", "Rob")
    text = guide_html(window.findChildren(type(window.act_undo)))
    assert "Working from the keyboard" in text and "<b>F2</b>" in text
    assert "<td>Undo</td>" in text and "Change user" not in text


def test_tab_leaves_the_tables_of_access_windows_and_details(
    qtbot: Any, window: Any
) -> None:
    from PySide6.QtWidgets import QTableView

    page = window.page("users")
    assert all(not v.tabKeyNavigation() for v in page.findChildren(QTableView))
    for index in range(len(window.access_actions)):
        view = window.open_access_view(index)
        qtbot.waitExposed(view)
        view.activateWindow()
        qtbot.waitUntil(lambda v=view: QApplication.activeWindow() is v)
        for table in view.findChildren(QTableView):
            if not table.isVisible():
                continue
            table.setFocus()
            qtbot.waitUntil(table.hasFocus)
            qtbot.keyClick(table, Qt.Key.Key_Tab)
            assert not table.hasFocus(), f"Tab is stuck in a table of {view.windowTitle()}"
            assert "palette(highlight)" in table.styleSheet()  # its focus shows
        view.close()
