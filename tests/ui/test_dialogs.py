"""The record form and the password dialog: rule messages beside fields, OK only when valid."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QDialogButtonBox, QLineEdit

from accessguard_gui.core import passwords
from accessguard_gui.core.changes import Entity
from accessguard_gui.ui.password_dialog import PasswordDialog
from accessguard_gui.ui.record_form import RecordForm
from accessguard_gui.ui.welcome import WelcomeChoice, WelcomeDialog


def _ok(buttons: QDialogButtonBox) -> bool:
    return buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()


def test_new_user_form_shows_the_rule_beside_the_field(qtbot: Any) -> None:
    form = RecordForm(Entity.USER)
    qtbot.addWidget(form)
    username = form.editors["username"]
    email = form.editors["email"]
    assert isinstance(username, QLineEdit) and isinstance(email, QLineEdit)
    assert not form.is_valid()
    assert form.error_text("username") == ""  # untouched: no scolding yet

    qtbot.keyClicks(username, "bad name!")
    assert "may contain only" in form.error_text("username") and not form.is_valid()
    username.clear()
    qtbot.keyClicks(username, "dora")
    qtbot.keyClicks(email, "dora@")
    assert "not an e-mail address" in form.error_text("email") and not form.is_valid()
    qtbot.keyClicks(email, "example.org")
    assert form.error_text("email") == "" and form.is_valid()
    assert form.values() == {"username": "dora", "email": "dora@example.org", "active": True}


def test_edit_form_returns_only_changes(qtbot: Any) -> None:
    initial = {"id": 7, "username": "ed", "display_name": "Ed", "email": None, "active": True}
    form = RecordForm(Entity.USER, initial)
    qtbot.addWidget(form)
    assert not form.is_valid()  # nothing changed yet: OK disabled
    display = form.editors["display_name"]
    assert isinstance(display, QLineEdit)
    display.clear()
    assert "must not be empty" in form.error_text("display_name") and not form.is_valid()
    qtbot.keyClicks(display, "Edward")
    assert form.is_valid() and form.changed_values() == {"display_name": "Edward"}


def test_permission_form_offers_resources(qtbot: Any) -> None:
    form = RecordForm(Entity.PERMISSION, choices=["Ledger", "Door B2.14"])
    qtbot.addWidget(form)
    qtbot.keyClicks(form.editors["action"], "Open Door")
    assert "only letters" in form.error_text("action")
    form.editors["action"].clear()  # type: ignore[attr-defined]
    qtbot.keyClicks(form.editors["action"], "open")
    assert not form.is_valid()  # no resource chosen
    form.editors["resource"].setCurrentText("Door B2")  # type: ignore[attr-defined]
    assert "no resource named" in form.error_text("resource") and not form.is_valid()
    form.editors["resource"].setCurrentText("Door B2.14")  # type: ignore[attr-defined]
    assert form.is_valid()
    assert form.values()["resource"] == "Door B2.14"


def test_password_dialog_needs_two_matching_valid_entries(qtbot: Any) -> None:
    dialog = PasswordDialog("alice")
    qtbot.addWidget(dialog)
    assert dialog.password.echoMode() == QLineEdit.EchoMode.Password
    assert dialog.confirm.echoMode() == QLineEdit.EchoMode.Password
    qtbot.keyClicks(dialog.password, "short")
    assert "too short" in dialog.error.text() and not _ok(dialog.buttons)
    qtbot.keyClicks(dialog.password, " but long now")
    qtbot.keyClicks(dialog.confirm, "short but long")
    assert "differ" in dialog.error.text() and not _ok(dialog.buttons)
    qtbot.keyClicks(dialog.confirm, " now")
    assert _ok(dialog.buttons) and dialog.error.text() == ""
    digest = dialog.password_hash()
    assert passwords.verify_password_hash(digest, "short but long now")
    assert dialog.password.text() == "" and dialog.confirm.text() == ""  # never shown again


def test_welcome_dialog_buttons(qtbot: Any) -> None:
    dialog = WelcomeDialog()
    qtbot.addWidget(dialog)
    dialog.buttons[WelcomeChoice.OPEN].click()
    assert dialog.choice is WelcomeChoice.OPEN and dialog.result() == dialog.DialogCode.Accepted
