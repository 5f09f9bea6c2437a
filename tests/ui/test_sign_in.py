"""Sign-in (issue 14): the dialog after opening a file that requires it, its refusals and
back-off countdown, Cancel closing the file, and the signed-in operator in the audit trail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from accessguard_gui.core import rbac
from accessguard_gui.core.changes import Assign, Create, Entity, Grant, Update, apply_edits
from accessguard_gui.core.database import Database
from accessguard_gui.core.models import AuditEntry
from accessguard_gui.core.operators import APP_RESOURCE, AppAction, SetSignInRequired, setup_edits
from accessguard_gui.ui import opening
from accessguard_gui.ui.access.common import save_png
from accessguard_gui.ui.settings import AppSettings
from accessguard_gui.ui.sign_in import FILE_LIMIT, SIGN_IN_TEXT, SignInDialog

from .helpers import show_window

SHOTS = Path("/tmp/shots")
ALICE_PASSWORD = "alice-secret-1"
BOB_PASSWORD = "bob-secret-22"


def make_guarded_file(path: Path) -> Path:
    """A file that requires sign-in: alice administers, bob may only view."""
    db = Database(path, operator="setup")
    try:
        with db.action("Seed") as s:
            rbac.add_user(s, "alice", "Alice Archer")
            rbac.add_user(s, "bob", "Bob Baker")
            rbac.add_user(s, "carol", "Carol Cooper")
            rbac.set_password(s, "alice", ALICE_PASSWORD)
            rbac.set_password(s, "bob", BOB_PASSWORD)
            rbac.add_role(s, "Clerk", "Books")
        with db.action("Operators") as s:
            edits = setup_edits(s, "alice")
            edits += [
                Create(Entity.ROLE, {"name": "Viewers", "description": "Read only"}),
                Grant("Viewers", (APP_RESOURCE, AppAction.VIEW.value)),
                Assign("bob", "Viewers"),
                SetSignInRequired(True),
            ]
            apply_edits(s, edits)
    finally:
        db.close()
    return path


@pytest.fixture
def guarded(tmp_path: Path) -> Path:
    return make_guarded_file(tmp_path / "guarded.db")


def dialog_for(qtbot: QtBot, db: Database, clock: Any = None) -> SignInDialog:
    kwargs = {"clock": clock} if clock is not None else {}
    dialog = SignInDialog(db, **kwargs)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def type_and_sign_in(qtbot: QtBot, dialog: SignInDialog, user: str, password: str) -> None:
    dialog.username.clear()
    qtbot.keyClicks(dialog.username, user)
    qtbot.keyClicks(dialog.password, password)
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)


def test_dialog_hides_the_password_and_says_the_honest_limit(qtbot: QtBot, guarded: Path) -> None:
    db = Database(guarded, create=False)
    try:
        dialog = dialog_for(qtbot, db)
        assert dialog.password.echoMode() is QLineEdit.EchoMode.Password
        assert not dialog.sign_in_button.isEnabled()  # nothing typed yet
        assert dialog.limit.text() == FILE_LIMIT
        assert "anyone who can write the file can change it without AccessGuard" in FILE_LIMIT
        assert "detectable" in FILE_LIMIT
        assert dialog.limit.textFormat() is Qt.TextFormat.PlainText
        # Learn more opens the guide at its section on sign-in.
        guide = dialog.show_guide()
        qtbot.addWidget(guide)
        assert "What sign-in is not" in guide.browser.toPlainText()  # type: ignore[attr-defined]
        SHOTS.mkdir(exist_ok=True)
        qtbot.keyClicks(dialog.username, "alice")
        save_png(dialog, SHOTS / "sign_in.png")
    finally:
        db.close()


def test_wrong_password_says_so_and_counts_down(qtbot: QtBot, guarded: Path) -> None:
    db = Database(guarded, create=False)
    now = [1000.0]
    try:
        dialog = dialog_for(qtbot, db, clock=lambda: now[0])
        type_and_sign_in(qtbot, dialog, "alice", "wrong password 1")
        assert dialog.access is None and dialog.isVisible()
        assert dialog.error.text().startswith("Wrong user name or password")
        assert dialog.password.text() == ""  # never kept
        # The core lets one typo pass free: no wait yet.
        assert dialog.seconds_left() == 0
        assert dialog.sign_in_button.text() == SIGN_IN_TEXT
        # The next failures wait (1 s, 2 s, …): Sign in counts down, clicks do nothing.
        type_and_sign_in(qtbot, dialog, "alice", "wrong password 2")
        assert dialog.seconds_left() > 0
        type_and_sign_in(qtbot, dialog, "alice", "wrong password 3")
        assert not dialog.sign_in_button.isEnabled()
        assert dialog.sign_in_button.text() == f"Try again in {dialog.seconds_left()} s"
        # The message does not name a number that the countdown leaves behind.
        assert "Try again in" not in dialog.error.text()
        save_png(dialog, SHOTS / "sign_in_wrong.png")
        qtbot.keyClicks(dialog.password, ALICE_PASSWORD)
        assert not dialog.sign_in_button.isEnabled()  # typing does not end the wait
        left = dialog.seconds_left()
        if left > 1:
            now[0] += 1.0
            expected = f"Try again in {left - 1} s"
            qtbot.waitUntil(lambda: dialog.sign_in_button.text() == expected, timeout=2000)
        now[0] += 60.0
        qtbot.waitUntil(dialog.sign_in_button.isEnabled, timeout=2000)
        assert dialog.sign_in_button.text() == SIGN_IN_TEXT
        assert not dialog.countdown.isActive()
    finally:
        db.close()
    # Every failed attempt is in the audit trail (never the password).
    fresh = Database(guarded, create=False)
    try:
        with fresh.internal_session() as s:
            failed = s.scalars(
                select(AuditEntry.operation).where(AuditEntry.record_type == "sign-in")
            ).all()
        assert failed.count("sign-in failed") == 2  # the click during the wait tried nothing
    finally:
        fresh.close()


def sign_in_as(user: str, password: str, qtbot: QtBot, asked: list[str]) -> Any:
    """A replacement for SignInDialog.ask that drives the real dialog like a user."""

    def ask(cls: type[SignInDialog], parent: Any, db: Database, title: str = "Sign in") -> Any:
        asked.append(title)
        dialog = cls(db, parent, title=title)
        qtbot.addWidget(dialog)
        dialog.show()
        type_and_sign_in(qtbot, dialog, user, password)
        return dialog.access

    return classmethod(ask)


def test_opening_asks_and_the_operator_is_the_audit_who(
    qtbot: QtBot,
    guarded: Path,
    settings: AppSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from accessguard_gui.ui.main_window import MainWindow

    asked: list[str] = []
    monkeypatch.setattr(SignInDialog, "ask", sign_in_as("alice", ALICE_PASSWORD, qtbot, asked))
    db = opening.open_database(None, guarded, create=False)
    assert asked == ["Sign in"]
    assert db is not None and db.access.name == "alice" and db.access.signed_in
    window = MainWindow(db, settings)
    show_window(qtbot, window)
    try:
        assert window.operators.status.text() == "Signed in as alice"
        assert window.operators.act_sign_out.isVisible()
        with db.read() as s:
            carol = rbac.get_user(s, "carol")
            carol_id, carol_version = carol.id, carol.version
        window.store.push(
            Update(Entity.USER, carol_id, carol_version, {"display_name": "Carol C."}, "carol")
        )
        assert window.save()
    finally:
        window.store.clear()
        window.close()
        db.close()
    fresh = Database(guarded, create=False)
    try:
        with fresh.internal_session() as s:
            who = s.scalars(
                select(AuditEntry.operator)
                .where(AuditEntry.record_type == "user", AuditEntry.record_key == "carol")
                .order_by(AuditEntry.id.desc())
            ).first()
        assert who == "alice"
    finally:
        fresh.close()


def test_cancel_closes_the_file(
    qtbot: QtBot, guarded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[Database] = []

    def cancel(cls: Any, parent: Any, db: Database, title: str = "Sign in") -> None:
        opened.append(db)
        return None

    monkeypatch.setattr(SignInDialog, "ask", classmethod(cancel))
    assert opening.open_database(None, guarded, create=False) is None
    assert len(opened) == 1
    # Nothing of it can be read through the closed, unsigned database.
    with pytest.raises(Exception):  # noqa: B017, PT011 - the engine is gone or refuses
        with opened[0].read() as s:
            rbac.get_user(s, "alice")


def test_a_file_without_sign_in_opens_without_asking(
    qtbot: QtBot, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Database(db_path, operator="x").close()

    def unexpected(*_a: Any, **_k: Any) -> None:
        raise AssertionError("asked to sign in to a file that does not require it")

    monkeypatch.setattr(SignInDialog, "ask", classmethod(unexpected))
    db = opening.open_database(None, db_path, create=False)
    assert db is not None
    assert not db.access.enforced
    db.close()


def test_a_planted_trigger_is_asked_about_before_sign_in_writes(
    qtbot: QtBot, guarded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Signing in writes its audit entry: a trigger planted on the trail would fire. The
    schema question comes first; read-only then signs in on a file nothing can fire in."""
    import sqlite3

    from accessguard_gui.ui import schema_warning
    from accessguard_gui.ui.schema_warning import SchemaChoice

    conn = sqlite3.connect(guarded)
    conn.execute(
        "CREATE TRIGGER planted AFTER INSERT ON audit_log BEGIN "
        "UPDATE users SET active = 1; END"
    )
    conn.commit()
    conn.close()
    order: list[str] = []

    def ask_schema(_parent: Any, _name: str, findings: Any) -> SchemaChoice:
        order.append("schema")
        return SchemaChoice.READ_ONLY

    monkeypatch.setattr(schema_warning, "ask_schema_choice", ask_schema)
    asked: list[str] = []
    real_ask = sign_in_as("alice", ALICE_PASSWORD, qtbot, asked)

    def ask(cls: type[SignInDialog], parent: Any, db: Database, title: str = "Sign in") -> Any:
        order.append("read-only sign-in" if db.read_only else "sign-in")
        return real_ask.__get__(None, cls)(parent, db, title)

    monkeypatch.setattr(SignInDialog, "ask", classmethod(ask))
    db = opening.open_database(None, guarded, create=False)
    try:
        assert order == ["schema", "read-only sign-in"]
        assert db is not None and db.read_only and db.access.name == "alice"
    finally:
        if db is not None:
            db.close()
