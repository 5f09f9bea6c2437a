"""Files: open errors keep the previous database, read-only mode, recent files, drop, backup."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from accessguard_gui.core import rbac
from accessguard_gui.core.changes import Create, Entity
from accessguard_gui.core.database import Database
from accessguard_gui.ui.main_window import MainWindow
from accessguard_gui.ui.messages import SaveChoice

from .helpers import drop_pending, row_of_user, show_window, type_into_cell, users_in_file


def _not_sqlite(tmp_path: Path) -> Path:
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 20)
    return path


def _foreign(tmp_path: Path) -> Path:
    path = tmp_path / "other-app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.commit()
    conn.close()
    return path


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (_not_sqlite, "not an SQLite database"),
        (_foreign, "another application"),
        (lambda tmp: tmp / "missing.db", "does not exist"),
    ],
)
def test_open_errors_keep_the_previous_database(
    window: MainWindow, seeded: Database, dialogs: Any, tmp_path: Path, make: Any, words: str
) -> None:
    bad = make(tmp_path)
    before = bad.read_bytes() if bad.exists() else None
    dialogs.open_path = str(bad)
    window.act_open.trigger()

    (error,) = dialogs.errors
    assert words in error[1] and "stays on" in error[2]
    assert window.db is seeded and window.windowTitle() == "AccessGuard — accessguard.db"
    assert window.page("users").model.rowCount() == 3  # still browsing the old file
    assert (bad.read_bytes() if bad.exists() else None) == before  # refused file untouched


def test_newer_schema_is_refused(
    window: MainWindow, seeded: Database, dialogs: Any, tmp_path: Path
) -> None:
    newer = tmp_path / "newer.db"
    seeded.backup_to(newer)
    conn = sqlite3.connect(newer)
    conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    conn.commit()
    conn.close()
    assert not window.open_path(newer)
    assert "newer version" in dialogs.errors[0][1]
    assert window.db is seeded


def test_open_another_database_asks_about_pending_edits(
    qtbot: Any, window: MainWindow, seeded: Database, dialogs: Any, tmp_path: Path
) -> None:
    other = tmp_path / "other.db"
    Database(other).close()
    window.store.push(Create(Entity.ROLE, {"name": "Pending role", "description": ""}))

    dialogs.save_choice = SaveChoice.CANCEL
    assert not window.open_path(other)
    assert window.db is seeded and len(window.store) == 1

    dialogs.save_choice = SaveChoice.SAVE
    assert window.open_path(other)
    assert dialogs.save_prompts == ["opening another database"] * 2
    assert window.db.path == other and window.store.is_empty()
    assert window.windowTitle() == "AccessGuard — other.db"
    with Database(seeded.path, create=False) as old, old.read() as s:
        assert rbac.get_role(s, "Pending role")
    assert window.settings.recent_files()[0] == str(other)


def test_new_database_and_open_recent(
    window: MainWindow, seeded: Database, dialogs: Any, tmp_path: Path
) -> None:
    dialogs.save_path = str(tmp_path / "fresh")
    window.act_new.trigger()
    assert window.db.path == tmp_path / "fresh.db" and window.db.created
    assert window.page("users").model.rowCount() == 0
    assert window.settings.recent_files()[:1] == [str(tmp_path / "fresh.db")]

    window.settings.add_recent(seeded.path)
    window._fill_recent_menu()
    entries = [a for a in window.recent_menu.actions() if str(seeded.path) in a.text()]
    entries[0].trigger()
    assert window.db.path == seeded.path


def test_new_database_never_overwrites(window: MainWindow, seeded: Database, dialogs: Any) -> None:
    dialogs.save_path = str(seeded.path)
    window.act_new.trigger()
    assert "already exists" in dialogs.errors[0][1]
    assert window.db is seeded


def test_read_only_database_is_visible_and_not_editable(
    qtbot: Any, seeded: Database, settings: Any, dialogs: Any
) -> None:
    seeded.close()
    db = Database(seeded.path, create=False, read_only=True)
    window = MainWindow(db, settings)
    show_window(qtbot, window)
    try:
        assert "read-only" in window.windowTitle()
        assert window.banner.isVisible() and "Read-only" in window.banner.text()
        for act in (window.act_add, window.act_delete, window.act_password, window.act_save):
            assert not act.isEnabled()
        page = window.page("users")
        page.select_row(row_of_user(page, db, "alice"))
        assert page.view.editTriggers() == page.view.EditTrigger.NoEditTriggers
        qtbot.keyClick(page.view, Qt.Key.Key_Delete)
        qtbot.keyClick(page.view, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
        assert window.store.is_empty()
    finally:
        db.close()


def test_drop_a_database_file_opens_it(qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    other = tmp_path / "dropped.db"
    Database(other).close()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(other))])
    event = QDropEvent(
        QPointF(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)
    qtbot.waitUntil(lambda: window.db.path == other)


def test_backup_and_check(
    qtbot: Any, window: MainWindow, seeded: Database, dialogs: Any, tmp_path: Path
) -> None:
    target = tmp_path / "copy.db"
    dialogs.save_path = str(target)
    window.act_backup.trigger()
    assert "Backup written" in dialogs.infos[-1][1]
    assert set(users_in_file(target)) == {"alice", "bob", "carol"}

    dialog = window.check_database()  # ui/check_dialog.py: runs off the GUI thread
    qtbot.waitUntil(lambda: dialog.outcome is not None, timeout=10_000)
    assert dialog.outcome.healthy
    dialog.close()


def test_close_with_pending_edits_asks(
    qtbot: Any, window: MainWindow, seeded: Database, dialogs: Any
) -> None:
    page = window.page("users")
    type_into_cell(qtbot, page, row_of_user(page, seeded, "bob"), "display_name", "Closing Bob")

    dialogs.save_choice = SaveChoice.CANCEL
    assert not window.close()
    assert window.isVisible() and len(window.store) == 1

    dialogs.save_choice = SaveChoice.DISCARD
    assert window.close()
    assert dialogs.save_prompts == ["closing", "closing"]
    assert users_in_file(seeded.path)["bob"].display_name == "Bob Baker"


def test_close_and_save(qtbot: Any, window: MainWindow, seeded: Database, dialogs: Any) -> None:
    page = window.page("users")
    type_into_cell(qtbot, page, row_of_user(page, seeded, "bob"), "display_name", "Saved Bob")
    dialogs.save_choice = SaveChoice.SAVE
    assert window.close()
    assert users_in_file(seeded.path)["bob"].display_name == "Saved Bob"


def test_settings_remember_layout_and_sort(
    qtbot: Any, window: MainWindow, seeded: Database, settings: Any
) -> None:
    page = window.page("users")
    page.view.sortByColumn(1, Qt.SortOrder.DescendingOrder)
    page.view.setColumnWidth(0, 211)
    window.resize(760, 560)  # within the offscreen screen (800x600): restored unclamped
    page.splitter.setSizes([300, 200])
    sizes = page.splitter.sizes()
    window.show_page(2)
    window.close()

    again = MainWindow(seeded, settings)
    qtbot.addWidget(again, before_close_func=drop_pending)
    assert again.current_page().kind.key == "resources"
    again.show()
    qtbot.waitExposed(again)
    again.show_page(0)
    users = again.page("users")
    header = users.view.horizontalHeader()
    assert header.sortIndicatorSection() == 1
    assert header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
    assert users.model.sort_column() == 1  # the model sorts by it too (in SQL)
    assert users.view.columnWidth(0) == 211
    qtbot.waitUntil(lambda: users.splitter.sizes() == sizes)  # once laid out
    assert (again.width(), again.height()) == (760, 560)


def test_recent_file_that_is_gone_leaves_the_list(
    window: MainWindow, dialogs: Any, tmp_path: Path
) -> None:
    gone = tmp_path / "gone.db"
    window.settings.add_recent(gone)
    window._fill_recent_menu()
    (entry,) = [a for a in window.recent_menu.actions() if str(gone) in a.text()]
    entry.trigger()
    assert "does not exist" in dialogs.errors[0][1]
    assert str(gone) not in window.settings.recent_files()


def test_opening_another_database_drops_the_old_pages(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    from accessguard_gui.ui.table_model import RecordTableModel

    window.page("roles")
    old_models = window.findChildren(RecordTableModel)
    assert len(old_models) == 2
    other = tmp_path / "other.db"
    Database(other).close()
    assert window.open_path(other)
    qtbot.waitUntil(lambda: all(m not in window.findChildren(RecordTableModel) for m in old_models))
    assert window.page("users").model.db is window.db


def test_an_ordinary_start_leaves_the_service_code_alone(tmp_path: Path) -> None:
    """The window tells a service file's companion by its name without importing the
    interchange pipeline: the name it uses is the one core/interchange/linked.py gives
    the file, and an ordinary file loads neither the service code, nor the import
    pipeline, nor Alembic (its schema is current), nor Argon2 (nobody signs in)."""
    import subprocess
    import sys

    from accessguard_gui.core.interchange.linked import COMPANION
    from accessguard_gui.ui.window_files import SERVICE_COMPANION

    assert SERVICE_COMPANION == COMPANION
    Database(tmp_path / "plain.db", operator="tester").close()
    probe = (
        "import sys, os\n"
        "os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
        "from PySide6.QtCore import QSettings\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from accessguard_gui.core.database import Database\n"
        "from accessguard_gui.ui.main_window import MainWindow\n"
        "from accessguard_gui.ui.settings import AppSettings\n"
        "db = Database(sys.argv[1], operator='tester')\n"
        "s = QSettings(sys.argv[2], QSettings.Format.IniFormat)\n"
        "w = MainWindow(db, AppSettings(s)); w.show(); app.processEvents()\n"
        "heavy = ('.service', 'pipeline', 'linked', 'publish', 'alembic', 'argon2')\n"
        "print([m for m in sys.modules if any(h in m for h in heavy)])\n"
        "w.close(); db.close()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path / "plain.db"), str(tmp_path / "s.ini")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout
