"""Launch: command line, welcome choice, the demo, the icon and the desktop entry."""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Any

import pytest

from accessguard_gui import app
from accessguard_gui.core.database import Database
from accessguard_gui.ui.icons import RESOURCES, app_icon
from accessguard_gui.ui.welcome import WelcomeChoice


def test_command_line() -> None:
    args = app.parse_args(["people.db", "--read-only"])
    assert args.database == "people.db" and args.read_only and not args.demo
    assert app.parse_args(["--demo"]).demo


def test_path_on_the_command_line_is_opened(db_path: Path, qtbot: Any) -> None:
    Database(db_path).close()
    db = app.choose_database(app.parse_args([str(db_path)]), None, welcome=_no_welcome)
    assert db is not None and db.path == db_path
    db.close()


def test_bad_path_falls_back_to_the_welcome_choice(
    tmp_path: Path, dialogs: Any, qtbot: Any
) -> None:
    bad = tmp_path / "bad.db"
    bad.write_text("nope" * 100)
    answers = [WelcomeChoice.NEW]
    dialogs.save_path = str(tmp_path / "created.db")
    db = app.choose_database(app.parse_args([str(bad)]), None, welcome=answers.pop)
    assert "not an SQLite database" in dialogs.errors[0][1]
    assert db is not None and db.path == tmp_path / "created.db" and db.created
    db.close()


def test_first_launch_without_database_asks_and_may_quit(qtbot: Any) -> None:
    asked: list[int] = []

    def welcome() -> WelcomeChoice:
        asked.append(1)
        return WelcomeChoice.QUIT

    assert app.choose_database(app.parse_args([]), None, welcome=welcome) is None
    assert asked == [1]


def test_last_database_is_reopened(db_path: Path, qtbot: Any) -> None:
    Database(db_path).close()
    db = app.choose_database(app.parse_args([]), str(db_path), welcome=_no_welcome)
    assert db is not None and db.path == db_path
    db.close()


def test_demo_opens_a_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, qtbot: Any) -> None:
    monkeypatch.setattr(app, "demo_database_path", lambda: tmp_path / "demo.db")
    db = app.choose_database(app.parse_args(["--demo"]), None, welcome=_no_welcome)
    assert db is not None and db.path == tmp_path / "demo.db"
    db.close()


def test_icon_and_desktop_entry(qtbot: Any) -> None:
    icon = app_icon()
    assert not icon.isNull()
    assert not icon.pixmap(256, 256).isNull()
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read(RESOURCES / "accessguard.desktop")
    desktop = entry["Desktop Entry"]
    assert desktop["Exec"].startswith("accessguard ") and desktop["Icon"] == "accessguard"
    assert desktop["Type"] == "Application" and desktop["Terminal"] == "false"
    for size in (16, 32, 48, 64, 128, 256):
        assert (RESOURCES / f"icons/hicolor/{size}x{size}/apps/accessguard.png").is_file()


def _no_welcome() -> WelcomeChoice:
    raise AssertionError("the welcome dialog should not be needed")


def test_main_opens_the_window_on_the_given_file(
    db_path: Path, tmp_path: Path, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from accessguard_gui.ui.main_window import MainWindow

    Database(db_path).close()
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
    assert app.main([str(db_path)], settings) == 0
    assert seen == ["AccessGuard — accessguard.db"]
    assert settings.value("recent_files") in ([str(db_path)], str(db_path))


def test_python_dash_m_entry_point() -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "accessguard_gui", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "usage: accessguard" in out.stdout and "--demo" in out.stdout


def test_started_is_called_with_the_shown_window(
    db_path: Path,
    tmp_path: Path,
    qtbot: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``started`` (benchmarks) and --exit-after-start run once the event loop turns,
    with the window shown; --exit-after-start prints the title and quits. (The loop is
    pytest-qt's, not QApplication.exec: a real quit would end the test session's app.)"""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from accessguard_gui.ui.main_window import MainWindow

    Database(db_path).close()
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    shown: list[bool] = []
    quits: list[bool] = []
    before = set(QApplication.topLevelWidgets())

    def loop() -> int:  # the event loop, until the app says it started
        qtbot.waitUntil(lambda: bool(shown) or bool(quits))
        return 0

    monkeypatch.setattr(QApplication, "exec", staticmethod(loop))
    monkeypatch.setattr(QApplication, "quit", staticmethod(lambda: quits.append(True)))
    assert app.main([str(db_path)], settings, started=lambda w: shown.append(w.isVisible())) == 0
    assert shown == [True] and not quits
    shown.clear()
    assert app.main([str(db_path), "--exit-after-start"], settings) == 0
    assert quits == [True]
    assert "started: AccessGuard — accessguard.db" in capsys.readouterr().out
    for window in set(QApplication.topLevelWidgets()) - before:
        if isinstance(window, MainWindow):
            window.close()
            window.deleteLater()
