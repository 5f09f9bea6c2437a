"""The window on a generated database of 100,000 users: search, sort, scroll, edit and save."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt

from accessguard_gui.core import rbac
from accessguard_gui.core.database import Database
from accessguard_gui.core.generate import generate
from accessguard_gui.ui.main_window import MainWindow

from .helpers import cell_text, column_of, show_window, type_into_cell

pytestmark = pytest.mark.slow
USERS = 100_000


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.db"
    generate(path, users=USERS, roles=200, resources=300, permissions=1_000, seed=7)
    return path


@pytest.fixture
def big_window(qtbot: Any, big_file: Path, settings: Any) -> Iterator[MainWindow]:
    db = Database(big_file, create=False)
    window = MainWindow(db, settings)
    window.resize(1200, 800)
    show_window(qtbot, window)
    yield window
    window.store.clear()
    window.db.close()


def _visible_column(page: Any, key: str, rows: int = 20) -> list[str]:
    page.model.ensure_loaded(0, rows - 1)
    return [cell_text(page, r, key) for r in range(min(rows, page.model.rowCount()))]


def test_search_box_filters_in_sql_and_counts(qtbot: Any, big_window: MainWindow) -> None:
    page = big_window.page("users")
    # A large table shows its first page at once and counts its rows after it, off the
    # GUI thread ("256+ users, counting…" meanwhile).
    qtbot.waitUntil(lambda: page.count_label.text() == f"{USERS:,} users")

    big_window.act_find.trigger()
    assert page.search.hasFocus()
    qtbot.keyClicks(page.search, "ANNA.M")  # case-insensitive substring, '.' literal
    qtbot.waitUntil(lambda: " of " in page.count_label.text())
    shown, total = page.model.counts()
    assert 0 < shown < total == USERS
    assert page.count_label.text() == f"{shown:,} of {USERS:,} users"
    for r in range(min(shown, 50)):
        page.model.ensure_loaded(r)
        texts = " ".join(
            cell_text(page, r, k) for k in ("username", "display_name", "email")
        ).lower()
        assert "anna.m" in texts

    page.search.clear()
    qtbot.waitUntil(lambda: page.count_label.text() == f"{USERS:,} users")


def test_sorting_by_a_header_click(qtbot: Any, big_window: MainWindow) -> None:
    page = big_window.page("users")
    header = page.view.horizontalHeader()
    column = column_of(page, "display_name")
    x = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 5))
    page.model.wait_ready()  # sorted off the GUI thread
    names = _visible_column(page, "display_name", 200)
    assert names == sorted(names, key=str.lower) or names == sorted(names)
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 5))
    page.model.wait_ready()
    reverse = _visible_column(page, "display_name", 200)
    assert reverse[0] >= reverse[-1] and reverse[0] != names[0]
    assert page.model.rowCount() == USERS


def test_scroll_to_the_end_edit_and_save(qtbot: Any, big_window: MainWindow) -> None:
    page = big_window.page("users")
    page.view.setFocus()
    qtbot.keyClick(page.view, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
    last = page.model.rowCount() - 1
    assert page.current_row() == last
    page.model.ensure_loaded(last)
    username = cell_text(page, last, "username")
    assert username  # the last row is shown, not a blank placeholder
    type_into_cell(qtbot, page, last, "display_name", "Last Of All")
    with qtbot.waitSignal(big_window.saved, timeout=10_000):
        big_window.act_save.trigger()
    with Database(big_window.db.path, create=False) as fresh, fresh.read() as s:
        assert rbac.get_user(s, username).display_name == "Last Of All"


def test_select_all_then_delete_is_refused_not_loaded(
    qtbot: Any, big_window: MainWindow, dialogs: Any
) -> None:
    page = big_window.page("users")
    page.view.setFocus()
    # Ctrl+A may come before the table is counted (its first page is shown first): the
    # selection grows with the rows counted after it.
    qtbot.keyClick(page.view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not page.model.is_counting())
    assert page.selected_count() == USERS
    qtbot.keyClick(page.view, Qt.Key.Key_Delete)
    assert "100,000 rows are selected" in dialogs.errors[0][1]
    assert big_window.store.is_empty()
    assert page.model.cached_pages() <= page.model.max_pages  # nothing read the whole table


def test_ctrl_a_while_a_search_is_counted_waits_for_all_then_acts_on_all(
    qtbot: Any, big_window: MainWindow, dialogs: Any
) -> None:
    page = big_window.page("users")
    qtbot.waitUntil(lambda: page.count_label.text() == f"{USERS:,} users")
    qtbot.keyClicks(page.search, "an")  # two characters: scanned, first page then counted
    qtbot.waitUntil(lambda: f"+ of {USERS:,} users, counting" in page.count_label.text())
    assert page.model.is_counting()
    page.view.setFocus()
    qtbot.keyClick(page.view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(page.view, Qt.Key.Key_Delete)  # "all" is not known yet: nothing marked
    assert big_window.store.is_empty() and not dialogs.errors
    assert "Still counting the users" in big_window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: not page.model.is_counting(), timeout=20_000)
    shown, _total = page.model.counts()
    assert page.selected_count() == shown > 10_000  # the selection grew with the count
    qtbot.keyClick(page.view, Qt.Key.Key_Delete)
    assert f"{shown:,} rows are selected" in dialogs.errors[0][1]
    assert big_window.store.is_empty()
