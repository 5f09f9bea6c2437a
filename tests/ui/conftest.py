"""UI fixtures: a temporary QSettings file, recorded message boxes, a main window on a seeded file.

No test ever runs a modal dialog: ``messages`` functions are replaced by a recorder that
answers as the test says, and the dialogs' ``ask`` class methods fail loudly unless a test
replaces them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from accessguard_gui.core import rbac
from accessguard_gui.core.database import Database
from accessguard_gui.ui import messages
from accessguard_gui.ui.messages import ConflictChoice, SaveChoice
from accessguard_gui.ui.password_dialog import PasswordDialog
from accessguard_gui.ui.record_form import RecordForm
from accessguard_gui.ui.settings import AppSettings


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The offscreen platform warns on every top-level show() and raise(); nothing a user
    # would see.
    marker = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")
    for item in items:
        if "tests/ui" in str(item.fspath).replace("\\", "/"):
            item.add_marker(marker)


@dataclass
class Dialogs:
    """What the message boxes were asked, and what the "user" answers."""

    errors: list[tuple[str, str, str]] = field(default_factory=list)
    infos: list[tuple[str, str, str]] = field(default_factory=list)
    confirms: list[str] = field(default_factory=list)
    save_prompts: list[str] = field(default_factory=list)
    conflicts: list[tuple[str, str]] = field(default_factory=list)
    confirm_answer: bool = True
    save_choice: SaveChoice = SaveChoice.CANCEL
    conflict_choice: ConflictChoice = ConflictChoice.CANCEL
    open_path: str | None = None
    save_path: str | None = None

    def error_text(self) -> str:
        return "\n".join(" ".join(e) for e in self.errors)


@pytest.fixture(autouse=True)
def dialogs(monkeypatch: pytest.MonkeyPatch) -> Dialogs:
    rec = Dialogs()

    def show_error(_parent: Any, title: str, text: str, details: str = "") -> None:
        rec.errors.append((title, text, details))

    def show_info(_parent: Any, title: str, text: str, details: str = "") -> None:
        rec.infos.append((title, text, details))

    def confirm(_parent: Any, _title: str, text: str, _ok: str = "OK") -> bool:
        rec.confirms.append(text)
        return rec.confirm_answer

    def ask_save(_parent: Any, _count: int, what: str) -> SaveChoice:
        rec.save_prompts.append(what)
        return rec.save_choice

    def ask_conflict(_parent: Any, text: str, theirs: str = "") -> ConflictChoice:
        rec.conflicts.append((text, theirs))
        return rec.conflict_choice

    def unexpected(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("a modal dialog was opened that the test did not answer")

    monkeypatch.setattr(messages, "show_error", show_error)
    monkeypatch.setattr(messages, "show_info", show_info)
    monkeypatch.setattr(messages, "confirm", confirm)
    monkeypatch.setattr(messages, "ask_save_discard_cancel", ask_save)
    # The read-only close prompt has no Save: a SAVE answer reads as Cancel there.
    monkeypatch.setattr(
        messages,
        "ask_discard_cancel",
        lambda p, n, what: (
            SaveChoice.DISCARD if ask_save(p, n, what) is SaveChoice.DISCARD else SaveChoice.CANCEL
        ),
    )
    monkeypatch.setattr(messages, "ask_conflict", ask_conflict)
    monkeypatch.setattr(messages, "ask_open_path", lambda *_a, **_k: rec.open_path)
    monkeypatch.setattr(messages, "ask_save_path", lambda *_a, **_k: rec.save_path)
    monkeypatch.setattr(RecordForm, "ask", classmethod(unexpected))
    monkeypatch.setattr(PasswordDialog, "ask", classmethod(unexpected))
    return rec


@pytest.fixture
def settings(tmp_path: Path) -> AppSettings:
    """Settings in a file of the test's own, never the user's."""
    return AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def seeded(db: Database) -> Database:
    """A few records to browse and edit."""
    with db.action("Seed") as s:
        rbac.add_user(s, "alice", "Alice Archer", email="alice@example.org")
        rbac.add_user(s, "bob", "Bob Baker", email="bob@example.org")
        rbac.add_user(s, "carol", "Carol Cooper", active=False)
        rbac.add_role(s, "Accountant", "Keeps the books")
        rbac.add_role(s, "Auditor", "Reads the books")
        rbac.add_resource(s, "Ledger", "General ledger")
        rbac.add_permission(s, "Ledger", "read")
    return db


def _drop_pending(win: Any) -> None:
    # pytest-qt closes tracked widgets before fixtures are torn down: without this, a
    # test that ends with pending edits would answer "Cancel" and leave its window open.
    win.store.clear()


@pytest.fixture
def window(qtbot: Any, seeded: Database, settings: AppSettings) -> Iterator[Any]:
    from accessguard_gui.ui.main_window import MainWindow

    win = MainWindow(seeded, settings)
    qtbot.addWidget(win, before_close_func=_drop_pending)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()  # keyboard focus inside it, whatever earlier tests left active
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win)
    yield win
    win.store.clear()  # nothing pending: closing at teardown asks nothing
    win.db.close()
