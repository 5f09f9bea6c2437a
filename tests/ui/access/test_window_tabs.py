"""The access tabs inside the main window's details pane follow the selected row."""

from __future__ import annotations

from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from accessguard_gui.core import rbac
from accessguard_gui.core.changes import Assign
from accessguard_gui.ui.access.assignments import UserRolesPanel
from accessguard_gui.ui.access.common import save_png
from accessguard_gui.ui.access.details import FollowingTab
from accessguard_gui.ui.access.effective import EffectiveAccessView
from accessguard_gui.ui.table_page import PAGES

from .conftest import SHOTS, answer_picker


def _tab(page: Any, title: str) -> FollowingTab:
    details = page.details
    for i in range(details.count()):
        if details.tabText(i) == title:
            widget = details.widget(i)
            assert isinstance(widget, FollowingTab)
            return widget
    raise AssertionError(f"no tab {title!r}")


def test_user_tabs_follow_selection_and_push_edits(
    qtbot: QtBot, window: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with window.db.action("grant") as s:
        rbac.grant_permission(s, "Accountant", ("Ledger", "read"))
    window.show_page(next(i for i, k in enumerate(PAGES) if k.key == "users"))
    page = window.page("users")
    roles_tab = _tab(page, "Roles")
    effective_tab = _tab(page, "Effective access")
    with window.db.read() as s:
        alice = rbac.get_user(s, "alice").id
    page.select_row(page.model.row_for_id(alice))
    page.details.setCurrentWidget(roles_tab)
    panel = roles_tab.inner
    assert isinstance(panel, UserRolesPanel)
    qtbot.waitUntil(lambda: panel.title.text().startswith("alice"))
    answer_picker(monkeypatch, ["Accountant"])
    panel.add_button.click()
    assert window.store.edits() == [Assign("alice", "Accountant")]
    assert panel.role_names() == ["Accountant"]
    save_png(window, SHOTS / "window_user_roles_tab.png")
    page.details.setCurrentWidget(effective_tab)
    view = effective_tab.inner
    assert isinstance(view, EffectiveAccessView)
    qtbot.waitUntil(lambda: view.summary.text().startswith("alice"))
    # Effective access shows the file (saved state); the pending assignment is not there yet.
    assert view.summary.text() == "alice: 0 permissions granted."


def test_role_tabs(qtbot: QtBot, window: Any) -> None:
    with window.db.action("inherit") as s:
        rbac.add_inheritance(s, "Auditor", "Accountant")
    window.show_page(next(i for i, k in enumerate(PAGES) if k.key == "roles"))
    page = window.page("roles")
    with window.db.read() as s:
        auditor = rbac.get_role(s, "Auditor").id
    page.select_row(page.model.row_for_id(auditor))
    tab = _tab(page, "Members and inheritance")
    page.details.setCurrentWidget(tab)
    qtbot.waitUntil(lambda: tab.inner.title.text() == "Auditor")
    assert tab.inner.texts(tab.inner.inherits_from) == [
        "Auditor inherits from Accountant (Auditor gets every permission of Accountant)"
    ]
    graph = _tab(page, "Inheritance graph")
    page.details.setCurrentWidget(graph)
    qtbot.waitUntil(lambda: "Auditor" in graph.inner.nodes)
    assert set(graph.inner.nodes) == {"Auditor", "Accountant"}
    save_png(window, SHOTS / "window_role_graph_tab.png")


def test_assign_review_and_save_through_the_window(
    qtbot: QtBot, window: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole story: assign a role in the Roles tab, review who gains what, save from
    the review, and find exactly that in the file."""
    from accessguard_gui.core.database import Database
    from accessguard_gui.ui.access.review import ReviewChangesDialog

    with window.db.action("grant") as s:
        rbac.grant_permission(s, "Accountant", ("Ledger", "read"))
    window.show_page(next(i for i, k in enumerate(PAGES) if k.key == "users"))
    page = window.page("users")
    with window.db.read() as s:
        alice = rbac.get_user(s, "alice").id
    page.select_row(page.model.row_for_id(alice))
    roles_tab = _tab(page, "Roles")
    page.details.setCurrentWidget(roles_tab)
    answer_picker(monkeypatch, ["Accountant"])
    roles_tab.inner.add_button.click()
    dialog = window.review_changes()
    assert isinstance(dialog, ReviewChangesDialog)
    qtbot.addWidget(dialog)
    assert "  alice gains Ledger: read" in dialog.edit_lines()
    assert dialog.summary.text() == "1 pending change. If saved: 1 user gains 1 permission."
    save_png(dialog, SHOTS / "window_review.png")
    with qtbot.waitSignal(dialog.saved):
        dialog.save_button.click()
    assert window.store.is_empty()
    fresh = Database(window.db.path)
    try:
        with fresh.read() as s:
            assert [a.role for a in rbac.assigned_roles(s, "alice")] == ["Accountant"]
            assert [p.label for p in rbac.user_permissions(s, "alice")] == ["Ledger: read"]
    finally:
        fresh.close()
