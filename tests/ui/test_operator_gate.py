"""The operator gate (issue 14): controls on or off by the AccessGuard permission they
need, the reason on hover; the main window gated for a view-only operator, the core
refusing a forced edit; File > Operators and sign-in… switching sign-in on as pending
edits that Review lists and Save writes, after which opening the file asks for sign-in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QAction, QHelpEvent, QPainter
from PySide6.QtWidgets import QApplication, QMenu, QPushButton, QToolTip, QWidget
from pytestqt.qtbot import QtBot

from accessguard_gui.core import rbac
from accessguard_gui.core.changes import Assign, Entity, Update
from accessguard_gui.core.database import Database
from accessguard_gui.core.operators import (
    AppAction,
    OperatorAccess,
    SetSignInRequired,
    sign_in_required,
)
from accessguard_gui.ui import opening
from accessguard_gui.ui.access.common import save_png
from accessguard_gui.ui.operator_gate import OperatorGate, needs_any
from accessguard_gui.ui.operators_dialog import OperatorsDialog
from accessguard_gui.ui.pending import PendingStore
from accessguard_gui.ui.settings import AppSettings
from accessguard_gui.ui.sign_in import SignInDialog

from .helpers import show_window
from .test_sign_in import (
    ALICE_PASSWORD,
    BOB_PASSWORD,
    SHOTS,
    make_guarded_file,
    sign_in_as,
)

VIEWER = OperatorAccess("bob", True, True, frozenset({AppAction.VIEW}))
ADMIN = OperatorAccess("alice", True, True, frozenset(AppAction))


class Holder:
    """Stands in for the window: the gate reads the operator and read-only from it."""

    def __init__(self) -> None:
        self.access: OperatorAccess | None = VIEWER
        self.read_only = False


def test_gate_switches_off_with_the_reason_and_back_on(qtbot: QtBot) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    menu = QMenu(parent)
    edit = QAction("Edit users", parent)
    edit.setStatusTip("Change users")
    menu.addAction(edit)
    button = QPushButton("Assign", parent)
    button.setToolTip("Assign the role")
    save = QAction("Save", parent)
    holder = Holder()
    gate = OperatorGate(lambda: holder.access, lambda: holder.read_only, parent)
    gate.add(edit, AppAction.EDIT_USERS)
    gate.add(button, AppAction.ASSIGN_ROLES)
    gate.add(save, needs_any(AppAction.EDIT_USERS, AppAction.ASSIGN_ROLES), managed=True)
    assert menu.toolTipsVisible()  # the reason shows on hover in the menu too
    gate.apply()
    assert not edit.isEnabled() and not button.isEnabled() and not save.isEnabled()
    assert edit.toolTip() == VIEWER.why_not(AppAction.EDIT_USERS)
    assert edit.toolTip().startswith("Signed in as bob, who may not edit users")
    assert edit.statusTip() == edit.toolTip()
    assert button.toolTip() == VIEWER.why_not(AppAction.ASSIGN_ROLES)
    assert save.toolTip() == "bob may only view this database: nothing can be changed or saved."
    assert not gate.may(AppAction.EDIT_USERS) and gate.may(AppAction.VIEW)

    holder.access = ADMIN
    gate.apply()
    assert edit.isEnabled() and button.isEnabled()
    assert edit.toolTip() == "Edit users" and edit.statusTip() == "Change users"
    edit.setText("Edit people")  # its default tooltip still follows its text
    assert edit.toolTip() == "Edit people"
    assert button.toolTip() == "Assign the role"
    # A managed target's owner decides when it is on (Save: when edits are pending).
    assert not save.isEnabled()

    # Read-only wins: the gate adds nothing to what the window says about it.
    holder.access = VIEWER
    holder.read_only = True
    gate.apply()
    assert edit.isEnabled() and edit.toolTip() == "Edit people"
    # No sign-in on this file: nothing is gated.
    holder.read_only = False
    holder.access = OperatorAccess.unrestricted("tester")
    gate.apply()
    assert edit.isEnabled() and button.isEnabled()
    # A deleted target is forgotten (no crash on the next apply).
    button.deleteLater()
    qtbot.waitUntil(lambda: len(gate._gated) == 2)
    gate.apply()


# ---------------------------------------------------------------------- the settings window


@pytest.fixture
def open_file(db: Database) -> Database:
    """A file without sign-in: alice has a password, carol has none."""
    with db.action("Seed") as s:
        rbac.add_user(s, "alice", "Alice Archer")
        rbac.add_user(s, "carol", "Carol Cooper")
        rbac.set_password(s, "alice", ALICE_PASSWORD)
    return db


def operators_dialog(qtbot: QtBot, db: Database, store: PendingStore) -> OperatorsDialog:
    dialog = OperatorsDialog(db, store)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def test_require_sign_in_needs_an_administrator_first(qtbot: QtBot, open_file: Database) -> None:
    store = PendingStore()
    dialog = operators_dialog(qtbot, open_file, store)
    assert dialog.state.text().startswith("Sign-in is not required")
    assert dialog.admins.text() == "Nobody may administer AccessGuard in this file yet."
    assert dialog.setup_box.isVisible()
    # Switching it on with nobody to administer: refused in words, nothing pending.
    dialog.require.click()
    assert not dialog.require.isChecked()
    assert store.is_empty()
    assert "needs at least one operator who may administer" in dialog.message.text()
    # A user without a password could never sign in: refused too.
    qtbot.keyClicks(dialog.admin_name, "carol")
    dialog.require.click()
    assert store.is_empty() and not dialog.require.isChecked()
    assert "carol has no password" in dialog.message.text()
    SHOTS.mkdir(exist_ok=True)
    save_png(dialog, SHOTS / "operators_dialog_setup.png")
    # alice can: the set-up and the switch become pending edits, one gesture.
    dialog.admin_name.clear()
    qtbot.keyClicks(dialog.admin_name, "alice")
    dialog._completer.close_popup()
    dialog.require.click()
    assert dialog.require.isChecked()
    edits = store.edits()
    assert isinstance(edits[-1], SetSignInRequired) and edits[-1].required
    assert Assign("alice", "AccessGuard administrators") in edits
    assert dialog.admins.text() == "May administer AccessGuard: alice."
    assert "(Pending: this takes effect when you save.)" in dialog.state.text()
    assert not dialog.setup_box.isVisible()
    assert not dialog.message.isVisible()
    SHOTS.mkdir(exist_ok=True)
    save_png(dialog, SHOTS / "operators_dialog_pending.png")
    # Undo takes the switch back first; the dialog follows the store.
    store.undo()
    assert not dialog.require.isChecked()
    assert dialog.state.text().startswith("Sign-in is not required")
    assert not sign_in_required(open_file)  # nothing was written


def test_switching_sign_in_off_is_pending_too(qtbot: QtBot, tmp_path: Path) -> None:
    path = make_guarded_file(tmp_path / "guarded.db")
    db = Database(path, create=False)
    try:
        db.sign_in("alice", ALICE_PASSWORD)
        store = PendingStore()
        dialog = operators_dialog(qtbot, db, store)
        assert dialog.require.isChecked()
        assert dialog.admins.text() == "May administer AccessGuard: alice."
        save_png(dialog, SHOTS / "operators_dialog_required.png")
        dialog.require.click()
        assert store.edits() == [SetSignInRequired(False)]
        assert "(Pending" in dialog.state.text()
    finally:
        db.close()


# ---------------------------------------------------------------------- the main window


@pytest.fixture
def guarded(tmp_path: Path) -> Path:
    return make_guarded_file(tmp_path / "guarded.db")


def open_as(
    qtbot: QtBot,
    monkeypatch: pytest.MonkeyPatch,
    path: Path,
    settings: AppSettings,
    user: str,
    password: str,
) -> Any:
    from accessguard_gui.ui.main_window import MainWindow

    asked: list[str] = []
    monkeypatch.setattr(SignInDialog, "ask", sign_in_as(user, password, qtbot, asked))
    db = opening.open_database(None, path, create=False)
    assert db is not None and asked
    window = MainWindow(db, settings)
    show_window(qtbot, window)
    return window


def shot_hover(qtbot: QtBot, window: Any, action: QAction, path: Path) -> str:
    """Hover ``action``'s toolbar button as a user would (a tooltip event, also on a
    disabled button) and save the window with the tooltip drawn where it appears."""
    button = window.toolbar.widgetForAction(action)
    at = button.rect().center()
    event = QHelpEvent(QEvent.Type.ToolTip, at, button.mapToGlobal(at))
    QApplication.sendEvent(button, event)
    tips = lambda: [  # noqa: E731
        w for w in QApplication.topLevelWidgets() if w.inherits("QTipLabel") and w.isVisible()
    ]
    qtbot.waitUntil(lambda: bool(tips()), timeout=2000)
    tip = tips()[0]
    picture = window.grab()
    painter = QPainter(picture)
    painter.drawPixmap(window.mapFromGlobal(tip.pos()), tip.grab())
    painter.end()
    picture.save(str(path))
    text: str = tip.text()
    QToolTip.hideText()
    return text


def test_a_view_only_operator_sees_editing_off_with_the_reason(
    qtbot: QtBot,
    guarded: Path,
    settings: AppSettings,
    monkeypatch: pytest.MonkeyPatch,
    dialogs: Any,
) -> None:
    window = open_as(qtbot, monkeypatch, guarded, settings, "bob", BOB_PASSWORD)
    try:
        assert window.operators.status.text() == "Signed in as bob"
        window.show_page(0)  # users
        page = window.current_page()
        page.select_row(0)
        reason = VIEWER.why_not(AppAction.EDIT_USERS)
        assert reason is not None and reason.startswith("Signed in as bob, who may not edit users")
        for action in (window.act_add, window.act_delete, window.act_password):
            assert not action.isEnabled(), action.text()
        assert window.act_add.toolTip() == reason
        assert window.act_password.toolTip() == reason
        assert not window.act_bulk_roles.isEnabled()
        assert "may not assign roles" in window.act_bulk_roles.toolTip()
        assert not window.act_import.isEnabled()
        assert not window.act_publish.isEnabled()
        assert window.act_publish.toolTip() == VIEWER.why_not(AppAction.ADMINISTER)
        assert window.act_export.isEnabled()  # reading is viewing
        assert window.governance.actions["campaigns"].toolTip() == VIEWER.why_not(AppAction.REVIEW)
        assert page.view.editTriggers() == page.view.EditTrigger.NoEditTriggers
        # The roles page names its own permission.
        window.show_page(1)
        assert "may not edit roles and permissions" in window.act_add.toolTip()
        window.show_page(0)
        save_png(window, SHOTS / "main_window_view_only.png")
        assert shot_hover(qtbot, window, window.act_add, SHOTS / "main_window_hover.png") == reason
        # The settings window shows the state, its controls off with the reason.
        settings_window = window.operators.open_operators()
        assert isinstance(settings_window, OperatorsDialog)
        assert settings_window.require.isChecked()
        assert not settings_window.require.isEnabled()
        administer = VIEWER.why_not(AppAction.ADMINISTER)
        assert settings_window.require.toolTip() == administer
        assert settings_window.why_off.text() == administer
        save_png(settings_window, SHOTS / "operators_dialog_viewer.png")
        settings_window.close()
        # Forced past the window, the core refuses, in words, and nothing is written.
        with window.db.read() as s:
            carol = rbac.get_user(s, "carol")
            carol_id, carol_version = carol.id, carol.version
        window.store.push(
            Update(Entity.USER, carol_id, carol_version, {"display_name": "X"}, "carol")
        )
        assert not window.save()
        title, text, _hint = dialogs.errors[-1]
        assert title == "Nothing was saved"
        assert "Signed in as bob, who may not edit users" in text
        with window.db.read() as s:
            assert rbac.get_user(s, "carol").display_name == "Carol Cooper"
    finally:
        window.store.clear()
        window.close()


def test_switch_operator_regates_the_window(
    qtbot: QtBot,
    guarded: Path,
    settings: AppSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    window = open_as(qtbot, monkeypatch, guarded, settings, "bob", BOB_PASSWORD)
    try:
        window.show_page(0)
        assert not window.act_add.isEnabled()
        asked: list[str] = []
        monkeypatch.setattr(SignInDialog, "ask", sign_in_as("alice", ALICE_PASSWORD, qtbot, asked))
        assert window.operators.switch_operator()
        assert asked == ["Switch operator"]
        assert window.operators.status.text() == "Signed in as alice"
        assert window.act_add.isEnabled()
        assert "may not" not in window.act_add.toolTip()
        # Sign out: the next operator signs in; Cancel closes the window.
        monkeypatch.setattr(SignInDialog, "ask", classmethod(lambda *_a, **_k: None))
        assert not window.operators.sign_out()
        assert not window.isVisible()
    finally:
        window.store.clear()


def test_turning_sign_in_on_then_reopening_asks(
    qtbot: QtBot,
    open_file: Database,
    settings: AppSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from accessguard_gui.ui.main_window import MainWindow

    path = open_file.path
    assert path is not None
    window = MainWindow(open_file, settings)
    show_window(qtbot, window)
    try:
        assert window.operators.status.text() == ""  # sign-in off: nothing to say
        assert not window.operators.act_sign_out.isVisible()
        dialog = window.operators.open_operators()
        assert isinstance(dialog, OperatorsDialog)
        qtbot.keyClicks(dialog.admin_name, "alice")
        dialog._completer.close_popup()
        dialog.require.click()
        assert not window.store.is_empty()
        review = window.review_changes()
        lines = "\n".join(review.edit_lines())
        assert "Require operators to sign in to this database" in lines
        assert "Assign alice to AccessGuard administrators" in lines
        save_png(review, SHOTS / "review_sign_in.png")
        review.close()
        # Saving switches it on; whoever saved signs in to go on working.
        asked: list[str] = []
        monkeypatch.setattr(SignInDialog, "ask", sign_in_as("alice", ALICE_PASSWORD, qtbot, asked))
        assert window.save()
        assert asked == ["Sign in"]
        assert window.operators.status.text() == "Signed in as alice"
    finally:
        window.store.clear()
        window.close()
        window.db.close()
    asked = []
    monkeypatch.setattr(SignInDialog, "ask", sign_in_as("alice", ALICE_PASSWORD, qtbot, asked))
    reopened = opening.open_database(None, path, create=False)
    assert asked == ["Sign in"]
    assert reopened is not None and reopened.access.name == "alice"
    reopened.close()


def test_access_views_lock_what_the_operator_may_not_change(qtbot: QtBot, guarded: Path) -> None:
    from accessguard_gui.ui.access.assignments import RoleDetailsPanel, UserRolesPanel
    from accessguard_gui.ui.access.matrix import RolePermissionMatrix
    from accessguard_gui.ui.access.ssd import SsdPanel

    db = Database(guarded, create=False)
    try:
        db.sign_in("bob", BOB_PASSWORD)
        store = PendingStore()
        panel = UserRolesPanel(db, store)
        qtbot.addWidget(panel)
        panel.show()
        panel.set_user("carol")
        assert not panel.add_button.isEnabled()
        assert panel.add_button.toolTip() == VIEWER.why_not(AppAction.ASSIGN_ROLES)
        roles = RoleDetailsPanel(db, store)
        qtbot.addWidget(roles)
        roles.show()
        roles.set_role("Viewers")
        qtbot.waitUntil(lambda: roles.permissions.count() > 0)
        assert "may not assign roles" in roles.add_members_button.toolTip()
        assert "may not edit roles and permissions" in roles.add_permissions_button.toolTip()
        roles.permissions.selectAll()  # a chosen row does not switch a locked one on
        assert roles.permissions.selectedItems()
        assert not roles.remove_permissions_button.isEnabled()
        ssd = SsdPanel(db, store)
        qtbot.addWidget(ssd)
        ssd.show()
        assert not ssd.new_button.isEnabled()
        assert "may not edit separation of duty" in ssd.new_button.toolTip()
        assert "may not edit separation of duty" in ssd.message.text()
        matrix = RolePermissionMatrix(db, store)
        qtbot.addWidget(matrix)
        matrix.show()
        model = matrix.model
        model.ensure_loaded(range(model.rowCount()), range(model.columnCount()))
        index = model.index(0, 0)
        assert not model.flags(index) & Qt.ItemFlag.ItemIsUserCheckable
        assert not model.setData(index, Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)
        assert "may not edit roles and permissions" in model.data(
            index, Qt.ItemDataRole.ToolTipRole
        )
        assert "you may not change grants" in matrix.legend.text()
        assert store.is_empty()
    finally:
        db.close()


def test_a_view_only_operator_changes_their_own_password(
    qtbot: QtBot,
    guarded: Path,
    settings: AppSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from accessguard_gui.core.passwords import hash_password
    from accessguard_gui.ui.password_dialog import PasswordDialog

    window = open_as(qtbot, monkeypatch, guarded, settings, "bob", BOB_PASSWORD)
    try:
        assert window.operators.act_my_password.isVisible()
        assert not window.act_save.isEnabled()
        asked: list[str] = []

        def ask(_cls: Any, _parent: Any, username: str) -> str:
            asked.append(username)
            return hash_password("bob's new secret")

        monkeypatch.setattr(PasswordDialog, "ask", classmethod(ask))
        assert window.operators.change_my_password()
        assert asked == ["bob"]
        # Only their own password is pending: Save is on, for a view-only operator too.
        assert window.act_save.isEnabled()
        assert window.save()
    finally:
        window.store.clear()
        window.close()
        window.db.close()
    fresh = Database(guarded, create=False)
    try:
        assert fresh.sign_in("bob", "bob's new secret").name == "bob"
    finally:
        fresh.close()
