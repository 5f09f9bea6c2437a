"""The one GUI open path (ui/opening.py): an empty file asks first, a file another
AccessGuard is upgrading shows a waiting dialog with Cancel, a recovered file says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.filetools import build_at_revision, snapshot
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QProgressDialog

from accessguard_gui.core import file_lock
from accessguard_gui.core.database import Database
from accessguard_gui.ui.main_window import MainWindow


def test_an_empty_file_becomes_a_database_only_after_asking(
    window: MainWindow, seeded: Database, dialogs: Any, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    dialogs.open_path = str(empty)
    dialogs.confirm_answer = False
    window.act_open.trigger()
    assert "empty file" in dialogs.confirms[0]
    assert window.db is seeded and empty.stat().st_size == 0 and not dialogs.errors

    dialogs.confirm_answer = True
    window.act_open.trigger()
    assert window.db is not seeded and window.db.path == empty.absolute()
    assert window.page("users").model.rowCount() == 0
    assert empty.stat().st_size > 0


def test_waiting_for_another_upgrader_can_be_cancelled(
    qtbot: Any, window: MainWindow, seeded: Database, dialogs: Any, tmp_path: Path
) -> None:
    old = tmp_path / "old.db"
    build_at_revision(old, "0001")
    before = snapshot(old)
    shown: list[str] = []

    def cancel_the_wait() -> None:
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, QProgressDialog) and widget.isVisible():
                shown.append(widget.labelText())
                widget.cancel()
                return
        QTimer.singleShot(50, cancel_the_wait)

    # Another process's upgrade in progress = its lock held (flock: per open file, so
    # holding it here blocks the window's open just as another process would).
    with file_lock.exclusive(file_lock.lock_path_for(old.resolve()), timeout=1):
        QTimer.singleShot(100, cancel_the_wait)
        assert not window.open_path(old)
    assert shown and "Another AccessGuard is upgrading" in shown[0]
    (error,) = dialogs.errors
    assert "still upgrading" in error[1] and "stays on" in error[2]
    assert window.db is seeded
    assert snapshot(old) == before


def test_a_file_recovered_from_a_crash_says_so(
    window: MainWindow, seeded: Database, dialogs: Any, tmp_path: Path
) -> None:
    import sqlite3
    import subprocess
    import sys

    from accessguard_gui.core import rbac

    path = tmp_path / "crashed.db"
    with Database(path) as db, db.action("Seed") as s:
        for i in range(2000):
            rbac.add_user(s, f"user-{i:05d}", f"User {i}")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    crash = (
        "import os, sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('PRAGMA cache_size=5'); c.execute('BEGIN')\n"
        "c.execute(\"UPDATE users SET display_name = 'HALF'\")\n"
        "os.kill(os.getpid(), 9)\n"
    )
    subprocess.run([sys.executable, "-c", crash, str(path)], check=False)
    assert window.open_path(path)
    (info,) = dialogs.infos
    assert "unfinished changes" in info[1] and "kept at" in info[1]
    assert not dialogs.errors


def test_an_upgrade_runs_off_the_gui_thread_and_says_so(
    qtbot: Any,
    window: MainWindow,
    seeded: Database,
    dialogs: Any,
    tmp_path: Path,
    monkeypatch: Any,
) -> None:
    import threading

    from accessguard_gui.ui import opening

    old = tmp_path / "old.db"
    build_at_revision(old, "0001")
    said: list[tuple[str, bool]] = []
    real = opening._Opener.on_progress

    def on_progress(self: Any, message: str) -> None:
        said.append((message, threading.current_thread() is threading.main_thread()))
        real(self, message)

    monkeypatch.setattr(opening._Opener, "on_progress", on_progress)
    monkeypatch.setattr(opening._Opener, "SHOW_AFTER_MS", 0)
    import gc

    gc.disable()  # as app.main starts; a slow open switches the collector on again
    try:
        assert window.open_path(old)
        assert gc.isenabled()
    finally:
        gc.enable()
    assert window.db.backup_path is not None
    ((message, on_gui_thread),) = said
    assert "Upgrading" in message and "backup" in message
    assert not on_gui_thread  # the window kept painting meanwhile
    assert not [
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, QProgressDialog) and w.isVisible()
    ]
