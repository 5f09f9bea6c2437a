"""Large saves run off the GUI thread with a progress dialog and Cancel (issue 11)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QProgressDialog, QPushButton
from pytestqt.qtbot import QtBot
from sqlalchemy import text

from accessguard_gui.core import changes, rbac
from accessguard_gui.core.bulk_roles import BulkRoleChange, UserMatch
from accessguard_gui.core.changes import Edit, Entity, Update
from accessguard_gui.core.database import Database
from accessguard_gui.ui import saving
from accessguard_gui.ui.access.common import save_png
from accessguard_gui.ui.pending import PendingStore


@pytest.fixture
def people(db: Database) -> Database:
    with db.action("people") as s:
        for k in range(saving.BACKGROUND_EDITS + 10):
            rbac.add_user(s, f"user{k:03d}", f"User {k}")
        rbac.add_role(s, "Staff")
    return db


def _renames(db: Database) -> list[Edit]:
    with db.read() as s:
        rows = s.execute(rbac.select(rbac.User.id, rbac.User.version, rbac.User.username)).all()
    return [Update(Entity.USER, i, v, {"display_name": f"New {u}"}, u) for i, v, u in rows]


def _dialogs() -> list[QProgressDialog]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, QProgressDialog)]


def test_a_large_save_shows_progress_and_saves_everything(qtbot: QtBot, people: Database) -> None:
    store = PendingStore()
    store.push_many(_renames(people))
    seen: list[str] = []

    def look() -> None:
        for dialog in _dialogs():
            if dialog.isVisible():
                if not seen:
                    save_png(dialog, Path("/tmp/shots/save_progress.png"))
                seen.append(dialog.labelText())

    timer = QTimer()
    timer.timeout.connect(look)
    timer.start(1)
    outcome = saving.save_pending(people, store)
    timer.stop()
    assert outcome.ok and outcome.saved == saving.BACKGROUND_EDITS + 10
    assert len(store) == 0
    assert any(text.startswith("Saving 210 changes") for text in seen)
    with people.read() as s:
        assert rbac.get_user(s, "user007").display_name == "New user007"


def test_cancel_saves_nothing_and_keeps_the_edits(
    qtbot: QtBot, people: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = PendingStore()
    store.push(BulkRoleChange("Staff", UserMatch("user"), 210))
    real = changes.apply_edits

    def slow(session: Any, edits: Any, **kw: Any) -> None:
        real(session, edits, **kw)
        busy = text(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000) "
            "SELECT count(*) FROM c"
        )
        for _ in range(500):  # long work; the user presses Cancel meanwhile
            session.execute(busy)
            time.sleep(0.01)

    monkeypatch.setattr(changes, "apply_edits", slow)

    def press_cancel() -> None:
        for dialog in _dialogs():
            if dialog.isVisible():
                dialog.findChild(QPushButton).click()  # its Cancel button

    QTimer.singleShot(100, press_cancel)
    outcome = saving.save_pending(people, store)
    assert not outcome.ok
    assert outcome.error == "Saving was cancelled; nothing was saved."
    assert len(store) == 1
    with people.read() as s:
        assert rbac.assigned_users(s, "Staff") == []
