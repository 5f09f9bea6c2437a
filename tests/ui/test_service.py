"""The web service's own database in the window: the "this is a service database" choice,
Open and edit (linked: read on open, Save publishes, Refresh picks up the service's
changes, a busy file is caught up later), the imports, and Publish with its preview."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from core.interchange.service_files import (
    FAST,
    folder_fingerprint,
    odd_service_file,
    service_allows,
    service_rows,
)
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel

from accessguard_gui.core import rbac
from accessguard_gui.core.changes import Create, Entity
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import ServiceDatabaseFound
from accessguard_gui.core.interchange import linked
from accessguard_gui.core.interchange.service_db import inspect_service_database
from accessguard_gui.ui.service import linking
from accessguard_gui.ui.service.choice import ServiceChoice, ServiceChoiceDialog
from accessguard_gui.ui.service.publish_dialog import PublishDialog

SHOTS = Path(os.environ.get("AG_SHOTS", "/tmp/shots"))


def shot(widget: Any, name: str) -> None:
    """Render to PNG for a person to look at (AG_SHOTS names the folder)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    widget.grab().save(str(SHOTS / f"{name}.png"))


@pytest.fixture
def service(tmp_path: Path) -> Path:
    folder = tmp_path / "service"
    folder.mkdir()
    return odd_service_file(folder / "accessguard.db")


@pytest.fixture
def choose(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Any]:
    """Answer the choice dialog (EDIT unless a test says otherwise); companions in tmp."""
    asked: list[Any] = []
    answer = [ServiceChoice.EDIT]

    def ask(_cls: Any, _parent: Any, found: ServiceDatabaseFound, *, can_merge: bool) -> Any:
        asked.append((found, can_merge))
        return answer[0]

    monkeypatch.setattr(ServiceChoiceDialog, "ask", classmethod(ask))
    monkeypatch.setattr(linked, "linked_root", lambda: tmp_path / "linked")
    asked.append(answer)  # asked[0] is the answer box
    return asked


def found_for(service: Path) -> ServiceDatabaseFound:
    info = inspect_service_database(service)
    return ServiceDatabaseFound(str(service), info.summary(), info.notes())


def controller(window: Any) -> linking.LinkedEditing:
    linked_editing = linking.controller(window)
    assert linked_editing is not None
    return linked_editing


def wait_link_idle(qtbot: Any, window: Any) -> None:
    qtbot.waitUntil(lambda: controller(window).task is None, timeout=30_000)


def read_in(qtbot: Any, window: Any) -> None:
    """The first read of a linked file: its dry run is shown, then imported."""
    qtbot.waitUntil(lambda: controller(window).dialog is not None, timeout=30_000)
    dialog = controller(window).dialog
    assert dialog is not None
    dialog.import_button.click()
    qtbot.waitUntil(lambda: controller(window).dialog is None, timeout=30_000)
    wait_link_idle(qtbot, window)


def test_the_choice_says_what_the_file_is_and_defaults_to_open_and_edit(
    qtbot: Any, service: Path
) -> None:
    dialog = ServiceChoiceDialog(found_for(service), can_merge=False)
    qtbot.addWidget(dialog)
    dialog.show()
    shown = " ".join(label.text() for label in dialog.findChildren(QLabel))
    assert f"{service} is an AccessGuard service database: 3 users, 2 roles" in shown
    assert "NULL" in shown and "$argon2i$" in shown
    assert all(
        label.textFormat() == Qt.TextFormat.PlainText for label in dialog.findChildren(QLabel)
    )
    assert dialog.buttons[ServiceChoice.EDIT].isDefault()
    assert not dialog.buttons[ServiceChoice.IMPORT_OPEN].isEnabled()
    shot(dialog, "service-choice")
    dialog.buttons[ServiceChoice.EDIT].click()
    assert dialog.choice is ServiceChoice.EDIT


def test_open_and_edit_reads_the_file_then_save_publishes_and_refresh_picks_up(
    qtbot: Any, window: Any, service: Path, choose: list[Any], dialogs: Any
) -> None:
    before = folder_fingerprint(service.parent)
    assert window.open_path(service)
    found, can_merge = choose[1]
    assert "3 users, 2 roles" in found.summary and can_merge
    assert "accessguard.db (linked service database)" in window.windowTitle()
    read_in(qtbot, window)
    assert folder_fingerprint(service.parent) == before  # reading wrote nothing
    with window.db.read() as s:
        assert rbac.check_access(s, "bob", "Door", "open").allowed
    assert "in step" in controller(window).label.toolTip()
    shot(window, "service-linked-window")

    # Save also publishes
    window.store.push(Create(Entity.USER, {"username": "dave", "active": True}))
    window.store.push(Create(Entity.ROLE, {"name": "Helpdesk", "description": ""}))
    assert window.save()
    wait_link_idle(qtbot, window)
    assert service_rows(service, "SELECT username FROM users WHERE username = 'dave'") == [
        ("dave",)
    ]
    assert list(service.parent.glob("accessguard.backup-*.db"))
    assert "in step" in controller(window).label.toolTip()

    # the service registers erin; Refresh shows it and imports it
    conn = sqlite3.connect(service)
    conn.execute(
        "INSERT INTO users (username, hashed_password, is_active) VALUES ('erin', ?, 1)",
        (FAST.hash("erin-pw"),),
    )
    conn.commit()
    conn.close()
    window.refresh()
    qtbot.waitUntil(lambda: controller(window).dialog is not None, timeout=30_000)
    dialog = controller(window).dialog
    assert dialog is not None
    assert "1 user" in dialog.summary.text()
    shot(dialog, "service-refresh")
    dialog.import_button.click()
    qtbot.waitUntil(lambda: controller(window).dialog is None, timeout=30_000)
    with window.db.read() as s:
        assert rbac.get_user(s, "erin").username == "erin"
    assert str(service) in window.settings.recent_files()[0]
    assert not dialogs.errors


def test_after_switching_to_another_database_saves_no_longer_publish(
    qtbot: Any, window: Any, service: Path, choose: list[Any], tmp_path: Path
) -> None:
    assert window.open_path(service)
    read_in(qtbot, window)
    other = tmp_path / "other.db"
    Database(other).close()
    assert window.open_path(other)
    assert linking.controller(window) is None
    assert not window.findChildren(QLabel, "service_link_status")
    before = folder_fingerprint(service.parent)
    window.store.push(Create(Entity.USER, {"username": "dave", "active": True}))
    assert window.save()
    qtbot.wait(200)
    assert folder_fingerprint(service.parent) == before
    assert "linked" not in window.windowTitle()


def test_a_busy_service_file_is_caught_up_by_the_next_save(
    qtbot: Any, window: Any, service: Path, choose: list[Any]
) -> None:
    assert window.open_path(service)
    read_in(qtbot, window)
    link = controller(window).link
    holder = sqlite3.connect(service, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the service is writing
    try:
        original = linked.PublishOptions
        link.options = lambda: original(  # type: ignore[method-assign]
            baseline=link.baseline, create=False, busy_timeout=0.1
        )
        window.store.push(Create(Entity.USER, {"username": "dave", "active": True}))
        assert window.save()
        wait_link_idle(qtbot, window)
        status = controller(window).label.toolTip()
        assert "not in accessguard.db yet (it was busy)" in status
        assert "Nothing was written" in status  # the full reason, in the tooltip
        assert "Save again" in status
        shot(window, "service-linked-behind")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with window.db.read() as s:
        assert rbac.get_user(s, "dave").username == "dave"  # nothing lost here
    window.store.push(Create(Entity.USER, {"username": "erin", "active": True}))
    assert window.save()
    wait_link_idle(qtbot, window)
    assert service_rows(
        service, "SELECT username FROM users WHERE username IN ('dave', 'erin') ORDER BY 1"
    ) == [("dave",), ("erin",)]
    assert "in step" in controller(window).label.toolTip()


def test_import_into_the_open_database_starts_the_dry_run(
    qtbot: Any, window: Any, service: Path, choose: list[Any]
) -> None:
    choose[0][0] = ServiceChoice.IMPORT_OPEN
    before = window.db.path
    assert not window.open_path(service)  # stays on the open database
    assert window.db.path == before
    dialog = next(
        w for w in QApplication.topLevelWidgets() if w.objectName() == "import_dialog"
    )
    qtbot.waitUntil(lambda: dialog.task is None and dialog.plan is not None, timeout=30_000)
    assert "3 users" in dialog.summary.text()
    dialog.import_button.click()
    qtbot.waitUntil(lambda: dialog.task is None, timeout=30_000)
    with window.db.read() as s:
        assert rbac.check_access(s, "bob", "Door", "open").allowed
    dialog.close()


def test_import_into_a_new_database(
    qtbot: Any, window: Any, service: Path, choose: list[Any], dialogs: Any, tmp_path: Path
) -> None:
    choose[0][0] = ServiceChoice.IMPORT_NEW
    dialogs.save_path = str(tmp_path / "imported.db")
    assert window.open_path(service)
    assert window.db.path == tmp_path / "imported.db"
    qtbot.waitUntil(
        lambda: any(w.objectName() == "import_dialog" for w in QApplication.topLevelWidgets()),
        timeout=10_000,
    )
    dialog = next(
        w for w in QApplication.topLevelWidgets() if w.objectName() == "import_dialog"
    )
    qtbot.waitUntil(lambda: dialog.task is None and dialog.plan is not None, timeout=30_000)
    dialog.import_button.click()
    qtbot.waitUntil(lambda: dialog.task is None, timeout=30_000)
    with window.db.read() as s:
        assert rbac.verify_password(s, "bob", "bob-password")
    dialog.close()


def test_publish_previews_every_change_then_writes_the_service_file(
    qtbot: Any, window: Any, tmp_path: Path, dialogs: Any
) -> None:
    target = tmp_path / "published" / "accessguard.db"
    target.parent.mkdir()
    dialog = window.publish_to_service()
    assert isinstance(dialog, PublishDialog)
    qtbot.addWidget(dialog)
    dialog.target.setText(str(target))
    dialog.preview_button.click()
    qtbot.waitUntil(lambda: dialog.task is None and dialog.plan is not None, timeout=30_000)
    assert not target.exists()  # a preview writes nothing
    assert "A new service file will be created" in dialog.summary.text()
    assert "Users: 3 added" in dialog.summary.text()
    rows = [dialog.model.row(n) for n in range(dialog.model.rowCount())]
    assert ("users", "added", "carol", "inactive; no password: cannot sign in") in rows
    assert "cannot sign in" in dialog.notes.text()
    qtbot.wait(20)  # let the labels take their height
    shot(dialog, "service-publish-preview")
    dialog.publish_button.click()
    qtbot.waitUntil(lambda: dialog.task is None, timeout=30_000)
    assert "Published to" in dialog.status.text()
    assert service_rows(target, "SELECT count(*) FROM users") == [(3,)]
    assert not service_allows(target, "carol", "Ledger", "read")
    dialog.close()


def test_publish_into_something_else_says_why_and_writes_nothing(
    qtbot: Any, window: Any, tmp_path: Path
) -> None:
    other = tmp_path / "other.db"
    Database(other).close()
    before = other.read_bytes()
    dialog = window.publish_to_service()
    qtbot.addWidget(dialog)
    dialog.target.setText(str(other))
    dialog.preview_button.click()
    qtbot.waitUntil(lambda: dialog.task is None, timeout=30_000)
    assert "not an AccessGuard service database" in dialog.error.text()
    assert not dialog.publish_button.isEnabled()
    assert other.read_bytes() == before
    dialog.close()


def test_the_command_line_opens_a_service_file_linked(
    qtbot: Any, service: Path, choose: list[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtCore import QSettings

    from accessguard_gui import app
    from accessguard_gui.ui.main_window import MainWindow

    seen: list[str] = []
    before = set(QApplication.topLevelWidgets())

    def fake_exec() -> int:  # the event loop: look at the window, then "quit"
        windows = [
            w
            for w in QApplication.topLevelWidgets()
            if isinstance(w, MainWindow) and w not in before
        ]
        seen.extend(w.windowTitle() for w in windows if w.isVisible())
        for w in windows:
            w.close()
            w.deleteLater()
        return 0

    monkeypatch.setattr(QApplication, "exec", staticmethod(fake_exec))
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    assert app.main([str(service)], settings) == 0
    assert seen == ["AccessGuard — accessguard.db (linked service database)"]
    assert settings.value("recent_files") in ([str(service)], str(service))
    assert choose[1][1] is False  # no open database to import into at start-up
