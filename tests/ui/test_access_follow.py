"""Access windows follow the main window's selection, and a pending new user is a record
like any other (issue 12, items 4 and 5): driven through the real main window."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from accessguard_gui.core import rbac
from accessguard_gui.core.changes import Assign, Create, SetPasswordHash
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import NotFoundError
from accessguard_gui.core.lookup import Choice
from accessguard_gui.ui.access.access_check import AccessCheckPanel
from accessguard_gui.ui.access.assignments import UserRolesPanel
from accessguard_gui.ui.access.common import PickerDialog, save_png
from accessguard_gui.ui.access.details import FollowingTab
from accessguard_gui.ui.access.effective import EffectiveAccessView
from accessguard_gui.ui.main_window import MainWindow
from accessguard_gui.ui.password_dialog import PasswordDialog
from accessguard_gui.ui.record_form import RecordForm

from .helpers import row_of_user

SHOTS = "/tmp/shots/access"


@pytest.fixture
def granted(seeded: Database) -> Database:
    with seeded.action("Grant") as s:
        rbac.grant_permission(s, "Auditor", ("Ledger", "read"))
        rbac.assign_user(s, "alice", "Auditor")
    return seeded


def _select_user(window: MainWindow, db: Database, username: str) -> None:
    window.show_page(0)
    page = window.page("users")
    page.select_row(row_of_user(page, db, username))


def test_access_check_opens_with_the_selected_user(window: MainWindow, granted: Database) -> None:
    _select_user(window, granted, "alice")
    panel = window.open_access_view(0)
    assert isinstance(panel, AccessCheckPanel)
    assert panel.user_edit.text() == "alice"
    assert QApplication.focusWidget() is panel.resource_edit or not panel.isActiveWindow()
    panel.close()


def test_access_check_opens_with_the_selected_permission(
    window: MainWindow, granted: Database
) -> None:
    window.show_page(3)
    page = window.page("permissions")
    page.select_row(0)
    panel = window.open_access_view(0)
    assert isinstance(panel, AccessCheckPanel)
    assert (panel.resource_edit.text(), panel.action_edit.text()) == ("Ledger", "read")
    panel.user_edit.setText("alice")
    assert panel.check() is not None and panel.verdict.text() == "Allowed"
    panel.close()


def test_effective_access_opens_on_the_selected_user_and_resource(
    window: MainWindow, granted: Database
) -> None:
    _select_user(window, granted, "alice")
    view = window.open_access_view(1)
    assert isinstance(view, EffectiveAccessView)
    assert view.subject.text() == "alice"
    assert view.summary.text() == "alice: 1 permission granted."
    window.show_page(2)
    window.page("resources").select_row(0)
    view = window.open_access_view(1)  # the same window, now on the resource
    assert view.mode.currentText() == "Resource"
    assert view.subject.text() == "Ledger"
    assert view.summary.text() == "Ledger: 1 authorized user."
    save_png(view, f"{SHOTS}/effective_from_selection.png")
    view.close()


def _add_user(window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    answer = {"username": "newbie", "display_name": "New Bie", "active": True}
    monkeypatch.setattr(RecordForm, "ask", classmethod(lambda *_a, **_k: answer))
    window.show_page(0)
    window.add_record()


def test_a_pending_new_user_is_selected_and_its_roles_tab_works(
    qtbot: Any, window: MainWindow, granted: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _add_user(window, monkeypatch)
    page = window.page("users")
    row = page.current_row()
    assert row is not None
    created = window._created_at(page, row)
    assert isinstance(created, Create) and created.values["username"] == "newbie"
    details = page.details
    roles_tab = next(w for w in details.extensions if isinstance(w, FollowingTab))
    details.setCurrentWidget(roles_tab)
    qtbot.waitUntil(lambda: roles_tab.placeholder.isHidden())
    panel = roles_tab.inner
    assert isinstance(panel, UserRolesPanel)
    assert panel.title.text().startswith("newbie (New Bie)")
    assert "not saved yet" in panel.title.text()
    assert panel.add_button.isEnabled()

    def pick(_cls: Any, _parent: Any, _title: str, search: Any, **_k: Any) -> list[Choice]:
        return [c for c in search("audit") if c.label == "Auditor"]

    monkeypatch.setattr(PickerDialog, "ask", classmethod(pick))
    qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
    assert any(isinstance(e, Assign) and e.user == "newbie" for e in window.store.edits())
    assert panel.role_names() == ["Auditor"]
    save_png(details, f"{SHOTS}/pending_user_roles_tab.png")
    with granted.read() as s, pytest.raises(NotFoundError):
        rbac.get_user(s, "newbie")  # still nothing written


def test_a_pending_new_user_shows_access_if_saved_and_its_password(
    qtbot: Any, window: MainWindow, granted: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _add_user(window, monkeypatch)
    window.store.push(Assign("newbie", "Auditor"))
    monkeypatch.setattr(PasswordDialog, "ask", classmethod(lambda *_a, **_k: "$argon2id$fake"))
    window.set_password()
    assert any(isinstance(e, SetPasswordHash) and e.user == "newbie" for e in window.store.edits())
    page = window.page("users")
    assert page.details.record.value_text("has_password") == "set (not saved)"
    effective_tab = [w for w in page.details.extensions if isinstance(w, FollowingTab)][1]
    page.details.setCurrentWidget(effective_tab)
    qtbot.waitUntil(lambda: effective_tab.placeholder.isHidden())
    view = effective_tab.inner
    assert isinstance(view, EffectiveAccessView)
    assert view.summary.text().startswith("newbie: 1 permission granted.")
    assert "as if the pending changes were saved" in view.summary.text()
    save_png(page.details, f"{SHOTS}/pending_user_effective_tab.png")
    # The Access menu's window follows the pending user too.
    effective = window.open_access_view(1)
    assert effective.summary.text().startswith("newbie: 1 permission granted.")
    effective.close()


def test_a_pending_password_of_a_saved_user_shows_as_pending(
    window: MainWindow, granted: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _select_user(window, granted, "bob")
    monkeypatch.setattr(PasswordDialog, "ask", classmethod(lambda *_a, **_k: "$argon2id$fake"))
    window.set_password()
    assert window.page("users").details.record.value_text("has_password").startswith(
        "set (not saved)"
    )


def test_effective_access_opens_on_the_selected_role(window: MainWindow, granted: Database) -> None:
    window.show_page(1)
    page = window.page("roles")
    row = next(r for r in range(page.model.rowCount())
               if page.model.index(r, 0).data() == "Auditor")
    page.select_row(row)
    view = window.open_access_view(1)
    assert isinstance(view, EffectiveAccessView)
    assert (view.mode.currentText(), view.subject.text()) == ("Role", "Auditor")
    assert [r[0] for r in view.model.rows()] == ["Ledger: read"]
    assert "1 member in all" in view.summary.text()
    check = window.open_access_view(0)
    assert isinstance(check, AccessCheckPanel)
    assert check.user_edit.text() == ""  # a role names no user
    view.close()
    check.close()
