"""Empty pages say what to do (issue 12, item 6): a new database, a search that matches
nothing, a filter that hides everything."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QApplication

from accessguard_gui.core.database import Database
from accessguard_gui.ui.settings import AppSettings


def _shown_note(users: Any) -> Any:
    """The page's empty-state note if the table is empty and the note shows, else None
    (the note is made the first time the table is empty)."""
    found = users.findChild(type(users.count_label), "empty_note")
    if users.model.rowCount() == 0 and found is not None and not found.isHidden():
        return found
    return None


def test_a_new_database_says_how_to_add_the_first_user(
    qtbot: Any, db: Database, settings: AppSettings
) -> None:
    from accessguard_gui.ui.main_window import MainWindow

    win = MainWindow(db, settings)
    qtbot.addWidget(win)
    users = win.page("users")
    note = users.findChild(type(users.count_label), "empty_note")
    assert note is not None and not note.isHidden()
    assert note.text().startswith("No users yet. Add your first user with Ctrl+N")
    assert note.geometry() == users.view.viewport().rect()
    win.grab().save("/tmp/shots/empty_new_database.png")


def test_a_search_matching_nothing_says_so_and_how_to_clear_it(qtbot: Any, window: Any) -> None:
    users = window.page("users")
    note = users.findChild(type(users.count_label), "empty_note")
    assert note is None or note.isHidden()  # made the first time the table is empty
    users.search.setText("zzzz")
    users.apply_search()
    qtbot.waitUntil(lambda: _shown_note(users) is not None)
    note = _shown_note(users)
    assert note.text().startswith("No user matches \u201czzzz\u201d.")
    assert "Escape" in note.text()
    window.grab().save("/tmp/shots/empty_no_match.png")
    users.search.clear()
    users.apply_search()
    qtbot.waitUntil(lambda: users.model.rowCount() == 3)
    QApplication.processEvents()
    assert note.isHidden()


def test_a_filter_hiding_everything_says_so(qtbot: Any, window: Any) -> None:
    users = window.page("users")
    users.search.setText("carol")
    users.apply_search()
    qtbot.waitUntil(lambda: users.model.rowCount() == 1)
    combo = next(iter(users.filters.values()))
    active = next(i for i in range(combo.count()) if "ctive" in combo.itemText(i) and i > 0)
    combo.setCurrentIndex(active)  # carol is inactive
    qtbot.waitUntil(lambda: _shown_note(users) is not None)
    note = _shown_note(users)
    assert note.text().startswith("No user matches \u201ccarol\u201d with this filter.")
