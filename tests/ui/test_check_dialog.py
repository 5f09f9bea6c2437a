"""File > Check database: runs off the GUI thread, reports the audit chain with its head
(selectable, copyable, saved to a file), planted schema objects; opening a file with
objects AccessGuard did not create warns and offers read-only."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel

from accessguard_gui.core import integrity
from accessguard_gui.core.database import Database
from accessguard_gui.ui import schema_warning
from accessguard_gui.ui.check_dialog import CheckDialog
from accessguard_gui.ui.main_window import MainWindow
from accessguard_gui.ui.schema_warning import SchemaChoice


def _run_check(qtbot: Any, window: MainWindow) -> CheckDialog:
    window.act_check.trigger()
    dialog = window.findChild(CheckDialog)
    assert isinstance(dialog, CheckDialog)
    qtbot.waitUntil(lambda: dialog.outcome is not None, timeout=10_000)
    return dialog


def test_check_reports_an_intact_chain_with_a_copyable_head(
    qtbot: Any, window: MainWindow, seeded: Database
) -> None:
    dialog = _run_check(qtbot, window)
    head = integrity.verify_audit_chain(seeded).head_hash
    assert head is not None
    assert dialog.status.text().startswith("Audit trail intact: 7 entries, head ")
    assert "Details below" not in dialog.status.text()
    assert dialog.head.text() == head and dialog.head.isReadOnly()
    report = dialog.report_view.toPlainText()
    assert f"Chain head: entry 7, {head}" in report
    assert "File structure and references: no problems found." in report
    assert "Schema objects: exactly those AccessGuard creates." in report
    dialog.copy_head.click()
    assert QGuiApplication.clipboard().text() == head
    dialog.close()


def test_the_report_is_saved_and_a_kept_head_compared(
    qtbot: Any, window: MainWindow, seeded: Database, dialogs: Any, tmp_path: Path
) -> None:
    dialog = _run_check(qtbot, window)
    head = dialog.head.text()
    dialogs.save_path = str(tmp_path / "check.txt")
    dialog.save_report.click()
    assert head in (tmp_path / "check.txt").read_text(encoding="utf-8")
    dialog.kept.setText("f" * 64)
    dialog.compare.click()
    qtbot.waitUntil(lambda: dialog.outcome is not None, timeout=10_000)
    assert "is not in this audit trail" in dialog.status.text()
    dialog.kept.setText(head)
    dialog.compare.click()
    qtbot.waitUntil(lambda: dialog.outcome is not None, timeout=10_000)
    assert "The head you kept is entry 7" in dialog.status.text()
    dialog.close()


def test_check_names_the_first_changed_entry_and_a_planted_trigger(
    qtbot: Any, window: MainWindow, seeded: Database
) -> None:
    assert seeded.path is not None
    conn = sqlite3.connect(seeded.path, isolation_level=None)
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("UPDATE audit_log SET operator = '<b>mallory</b>' WHERE id = 3")
    conn.execute("CREATE TRIGGER evil AFTER UPDATE ON users BEGIN SELECT 1; END")
    conn.close()
    dialog = _run_check(qtbot, window)
    assert "entry 3 was changed or removed" in dialog.status.text()
    report = dialog.report_view.toPlainText()
    assert "Unknown trigger \u201cevil\u201d" in report
    assert "Missing trigger \u201caudit_log_no_update\u201d" in report
    dialog.close()


def test_the_check_can_be_cancelled(
    qtbot: Any, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The file check waits for Cancel, as a long check of a large file would still be
    # running when the user presses it (a 7-entry file is otherwise checked before the
    # test can cancel: that race made this test fail now and then).
    real_check = Database.check

    def slow_check(self: Database, *, cancel: Any = None) -> list[str]:
        assert cancel is not None
        cancel.wait(10)
        return real_check(self, cancel=cancel)

    monkeypatch.setattr(Database, "check", slow_check)
    window.act_check.trigger()
    dialog = window.findChild(CheckDialog)
    assert isinstance(dialog, CheckDialog)
    assert dialog.worker is not None
    dialog.worker.cancel.set()
    qtbot.waitUntil(lambda: dialog.outcome is not None, timeout=10_000)
    chain = dialog.outcome.chain  # type: ignore[union-attr]
    assert dialog.outcome.cancelled or (chain is not None and chain.cancelled)  # type: ignore[union-attr]
    assert "cancelled" in dialog.status.text()
    dialog.close()


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    path = tmp_path / "planted.db"
    Database(path, operator="tester").close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TRIGGER grant_all AFTER UPDATE ON users BEGIN SELECT 1; END")
    conn.close()
    return path


@pytest.mark.parametrize(
    ("choice", "opened", "read_only"),
    [
        (SchemaChoice.READ_ONLY, True, True),
        (SchemaChoice.ANYWAY, True, False),
        (SchemaChoice.CANCEL, False, False),
    ],
)
def test_opening_a_file_with_a_planted_trigger_warns_and_offers_read_only(
    window: MainWindow,
    planted: Path,
    monkeypatch: pytest.MonkeyPatch,
    choice: SchemaChoice,
    opened: bool,
    read_only: bool,
) -> None:
    asked: list[str] = []

    def ask(_parent: Any, _database: str, findings: list[integrity.SchemaFinding]) -> SchemaChoice:
        asked.append(schema_warning.describe(findings))
        return choice

    monkeypatch.setattr(schema_warning, "ask_schema_choice", ask)
    before = window.db.path
    window.open_path(planted)
    assert len(asked) == 1 and "Unknown trigger \u201cgrant_all\u201d" in asked[0]
    if opened:
        assert window.db.path == planted and window.db.read_only is read_only
    else:
        assert window.db.path == before


def test_a_clean_file_opens_without_a_question(
    window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unexpected(*_a: Any) -> SchemaChoice:
        raise AssertionError("asked about a clean file")

    monkeypatch.setattr(schema_warning, "ask_schema_choice", unexpected)
    path = tmp_path / "clean.db"
    Database(path).close()
    window.open_path(path)
    assert window.db.path == path and not window.db.read_only


def test_the_question_shows_names_from_the_file_as_plain_text(qtbot: Any) -> None:
    finding = integrity.SchemaFinding(
        "unknown", "trigger", "<h1>x</h1>", 'CREATE TRIGGER "<h1>x</h1>" AFTER UPDATE ON users'
    )
    box, read_only, _anyway = schema_warning.schema_box(None, "<b>file</b>.db", [finding])
    qtbot.addWidget(box)
    assert box.defaultButton() is read_only
    labels = [label for label in box.findChildren(QLabel) if "<h1>" in label.text()]
    assert labels and all(
        label.textFormat() == Qt.TextFormat.PlainText for label in labels
    )
    assert box.textFormat() == Qt.TextFormat.PlainText and "<b>file</b>.db" in box.text()


def test_an_operator_made_safe_is_said_in_the_status_bar(
    window: MainWindow, tmp_path: Path
) -> None:
    path = tmp_path / "other.db"
    Database(path).close()
    window.db.operator = "eve\u202e"  # what the environment said, passed on to the open
    window.open_path(path)
    assert window.db.operator == "eve\\u202e"
    assert "U+202E" in window.statusBar().currentMessage()
