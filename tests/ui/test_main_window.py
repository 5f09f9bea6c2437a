"""Navigation, search focus, counts, details, checkbox editing, refresh on focus."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from accessguard_gui.core import rbac
from accessguard_gui.core.changes import Entity, Update
from accessguard_gui.core.database import Database
from accessguard_gui.ui.main_window import MainWindow, record_values
from accessguard_gui.ui.table_page import PAGES

from .helpers import column_of, row_of_user, type_into_cell, users_in_file


def test_navigation_pages_and_keyboard(qtbot: Any, window: MainWindow) -> None:
    assert [window.nav.item(i).text() for i in range(window.nav.count())] == [
        "Users",
        "Roles",
        "Resources",
        "Permissions",
        "Audit log",
    ]
    assert window.windowTitle() == "AccessGuard — accessguard.db"
    assert not window.windowIcon().isNull()
    for number, kind in enumerate(PAGES, start=1):
        qtbot.keyClick(window, Qt.Key(Qt.Key.Key_0 + number), Qt.KeyboardModifier.ControlModifier)
        assert window.current_page().kind is kind
    window.show_page(1)
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.page("roles").search.hasFocus()
    # Every action is reachable from a menu and has a shortcut.
    in_menus = {a for m in window.menuBar().actions() for a in m.menu().actions()}
    actions = window.actions()
    assert window.act_review in actions and len(actions) >= 22
    for act in actions:
        assert act in in_menus and not act.shortcut().isEmpty(), act.text()


def test_counts_and_details(qtbot: Any, window: MainWindow, seeded: Database) -> None:
    page = window.page("users")
    assert page.count_label.text() == "3 users"
    page.search.setText("bo")
    page.apply_search()
    assert page.count_label.text() == "1 of 3 users"
    page.select_row(0)
    assert page.details.record.title.text() == "bob"
    assert page.details.record.value_text("email") == "bob@example.org"
    assert page.details.tabText(0) == "Record"


def test_space_toggles_the_active_checkbox(
    qtbot: Any, window: MainWindow, seeded: Database
) -> None:
    page = window.page("users")
    index = page.model.index(row_of_user(page, seeded, "alice"), column_of(page, "active"))
    page.view.setFocus()
    page.view.setCurrentIndex(index)
    qtbot.keyClick(page.view, Qt.Key.Key_Space)
    (edit,) = window.store.edits()
    assert isinstance(edit, Update) and dict(edit.values) == {"active": False}
    assert index.data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Unchecked
    with qtbot.waitSignal(window.saved, timeout=5000):
        window.act_save.trigger()
    assert users_in_file(seeded.path)["alice"].active is False


def test_unsortable_column_keeps_the_real_sort(qtbot: Any, window: MainWindow) -> None:
    window.show_page(4)
    page = window.page("audit")
    column = column_of(page, "action")
    page.view.sortByColumn(column, Qt.SortOrder.AscendingOrder)
    qtbot.waitUntil(lambda: page.view.horizontalHeader().sortIndicatorSection() != column)
    assert "cannot be sorted" in window.statusBar().currentMessage()


def test_window_refreshes_when_it_regains_focus(
    qtbot: Any, window: MainWindow, seeded: Database
) -> None:
    page = window.page("users")
    page.select_row(row_of_user(page, seeded, "carol"))
    window.store.push(Update(Entity.USER, 1, None, {"display_name": "Pending"}, "alice"))
    with Database(seeded.path, create=False) as other, other.action("Add") as s:
        rbac.add_user(s, "aaron")  # sorts first: every row moves down by one
    assert page.model.rowCount() == 3

    window._application_state_changed(Qt.ApplicationState.ApplicationInactive)
    window._application_state_changed(Qt.ApplicationState.ApplicationActive)
    qtbot.waitUntil(lambda: page.count_label.text() == "4 users")
    assert len(window.store) == 1  # pending edits survive the reload
    assert page.details.record.title.text() == "carol"  # the selection follows the record


def test_tab_goes_from_search_to_table(qtbot: Any, window: MainWindow) -> None:
    page = window.page("users")
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert page.search.hasFocus()
    qtbot.keyClick(page.search, Qt.Key.Key_Tab)
    assert page.filters["active"].hasFocus()
    qtbot.keyClick(page.filters["active"], Qt.Key.Key_Tab)
    assert page.view.hasFocus()


def test_status_filter_shows_inactive_users(qtbot: Any, window: MainWindow) -> None:
    page = window.page("users")
    page.filters["active"].setCurrentIndex(page.filters["active"].findText("Inactive"))
    assert page.count_label.text() == "1 of 3 users"
    page.model.ensure_loaded(0)
    assert [page.model.index(r, 0).data() for r in range(page.model.rowCount())] == ["carol"]
    page.filters["active"].setCurrentIndex(0)
    assert page.count_label.text() == "3 users"


def test_audit_filters(qtbot: Any, window: MainWindow, seeded: Database) -> None:
    window.show_page(4)
    page = window.page("audit")
    total = page.model.rowCount()
    combo = page.filters["record_type"]
    combo.setCurrentIndex(combo.findText("Users"))
    assert page.model.rowCount() == 3 < total
    assert page.count_label.text() == f"3 of {total} audit entries"


def test_audit_time_filter_hides_older_entries(
    qtbot: Any, window: MainWindow, seeded: Database
) -> None:
    import sqlite3
    from datetime import UTC, datetime, timedelta

    window.show_page(4)
    page = window.page("audit")
    total = page.model.rowCount()
    assert seeded.path is not None
    conn = sqlite3.connect(seeded.path)  # age alice's entry by ten days (test-only bypass)
    try:
        conn.execute("DROP TRIGGER audit_log_no_update")
        old = (datetime.now(UTC) - timedelta(days=10)).replace(tzinfo=None)
        conn.execute("UPDATE audit_log SET at = ? WHERE record_key = 'alice'", (str(old),))
        conn.commit()
    finally:
        conn.close()
    combo = page.filters["at__since"]
    combo.setCurrentIndex(combo.findText("Last 7 days"))
    qtbot.waitUntil(lambda: page.model.rowCount() == total - 1)
    assert page.count_label.text() == f"{total - 1} of {total} audit entries"
    combo.setCurrentIndex(combo.findText("Last 30 days"))
    qtbot.waitUntil(lambda: page.model.rowCount() == total)


def test_audit_details_show_the_change_of_an_old_entry(
    qtbot: Any, window: MainWindow, seeded: Database
) -> None:
    """The selected entry's change, field by field, however many later entries the
    same record has."""
    for n in range(60):
        with seeded.action(f"Rename {n}") as s:
            rbac.update_user(s, "alice", display_name=f"Alice {n}")
    window.refresh()
    page = window.page("audit")
    page.model.ensure_loaded(0, page.model.rowCount() - 1)
    (first,) = (
        r
        for r in range(page.model.rowCount())
        if record_values(page.model.record(r))["action"] == "Rename 0"
    )
    page.select_row(first)
    assert page.details.record.value_text("changes") == "Display name: Alice Archer \u2192 Alice 0"


def test_details_show_a_name_with_markup_as_typed(window: MainWindow, seeded: Database) -> None:
    from PySide6.QtWidgets import QLabel

    with seeded.action("Rename") as s:
        rbac.update_user(s, "alice", display_name="<b>Al</b> & co")
    window.refresh()
    page = window.page("users")
    page.select_row(row_of_user(page, seeded, "alice"))
    label = page.details.record.findChild(QLabel, "value_display_name")
    assert label is not None and label.text() == "<b>Al</b> & co"
    assert label.textFormat() == Qt.TextFormat.PlainText  # not drawn as bold "Al"


def test_details_show_a_pending_value_beside_the_saved_one(
    qtbot: Any, window: MainWindow, seeded: Database
) -> None:
    """An edited field reads "new (pending; saved: old)": what Save would overwrite."""
    page = window.page("users")
    row = row_of_user(page, seeded, "bob")
    type_into_cell(qtbot, page, row, "display_name", "Robert Baker")
    page.select_row(row)
    assert page.details.record.value_text("display_name") == (
        "Robert Baker  (pending; saved: Bob Baker)"
    )
    assert page.details.record.value_text("email") == "bob@example.org"  # unchanged
