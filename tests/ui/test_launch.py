"""First run and a desktop launch: --version, the guide (F1), About, dated backup names,
file dialogs starting in the documents folder, and the bundle's smoke option."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from accessguard_gui import __version__, app
from accessguard_gui.ui import messages
from accessguard_gui.ui.help import GuideDialog
from accessguard_gui.ui.main_window import MainWindow

# The real dialogs, before the autouse ``dialogs`` fixture replaces them for each test.
REAL_ASK_SAVE = messages.ask_save_path
REAL_ASK_OPEN = messages.ask_open_path


def test_version_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        app.main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"AccessGuard {__version__}"


def test_f1_opens_the_guide_to_the_ideas_and_the_shortcuts(qtbot: Any, window: MainWindow) -> None:
    qtbot.keyClick(window, Qt.Key.Key_F1)
    guide = next(w for w in QApplication.topLevelWidgets() if isinstance(w, GuideDialog))
    qtbot.waitExposed(guide)
    text = guide.browser.toPlainText()
    for idea in ("Role inheritance", "Separation of duty", "Nothing is written until you save"):
        assert idea in text
    assert "Save" in text and "Ctrl+S" in text
    guide.grab().save(str(Path("/tmp") / "guide-test.png"))
    guide.close()


def test_about_names_the_version(window: MainWindow, dialogs: Any) -> None:
    window.act_about.trigger()
    (info,) = dialogs.infos
    assert f"AccessGuard {__version__}" in info[1]


def test_backup_suggests_a_dated_name(
    window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    suggested: list[str] = []

    def ask(_parent: Any, _title: str = "", name: str = "") -> None:
        suggested.append(name)

    monkeypatch.setattr(messages, "ask_save_path", ask)
    window.backup()
    assert suggested[0].endswith(f"-backup-{datetime.now():%Y-%m-%d}.db")


def test_file_dialogs_start_in_the_documents_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtWidgets import QFileDialog

    seen: list[str] = []

    def dialog(_parent: Any, _title: str, folder: str, _filter: str) -> tuple[str, str]:
        seen.append(folder)
        return "", ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(dialog))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(dialog))
    monkeypatch.setattr(messages, "documents_folder", lambda: str(tmp_path))
    assert REAL_ASK_SAVE(None, "New database", "accessguard.db") is None
    assert REAL_ASK_OPEN(None) is None
    assert seen == [str(tmp_path / "accessguard.db"), str(tmp_path)]
