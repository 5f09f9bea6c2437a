"""The standalone openers: each view opens as a window of its own, even with a parent."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from accessguard_gui.core import rbac
from accessguard_gui.core.database import Database
from accessguard_gui.ui import access
from accessguard_gui.ui.access.assignments import show_role_details, show_user_roles
from accessguard_gui.ui.access.common import save_png
from accessguard_gui.ui.access.graph import show_role_graph
from accessguard_gui.ui.pending import PendingStore

from .conftest import SHOTS


def test_menu_entries_open_windows(qtbot: QtBot, demo_db: Database) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    store = PendingStore()
    entries = access.menu_entries(demo_db, store, parent)
    assert [text for text, _tip, _open in entries] == [
        "Access &check\u2026",
        "&Effective access\u2026",
        "Roles \u00d7 &permissions\u2026",
        "&Separation of duty\u2026",
    ]
    for text, _tip, opener in entries:
        window = opener()
        assert window.isWindow() and window.isVisible(), text
        assert window.parent() is parent
        window.close()
    for window in (
        show_user_roles(demo_db, store, "alice", parent),
        show_role_details(demo_db, store, "Staff", parent),
        show_role_graph(demo_db, "Admin", parent),
    ):
        assert window.isWindow() and window.isVisible()
        window.close()


def test_bulk_role_dialog(qtbot: QtBot, demo_db: Database) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    store = PendingStore()
    with demo_db.read() as s:
        ids = [rbac.get_user(s, n).id for n in ("alice", "dave")]
    dialog = access.bulk_role_dialog(demo_db, store, ids, parent)
    assert dialog.isVisible()
    dialog.role_edit.setText("Operator")  # type: ignore[attr-defined]
    save_png(dialog, SHOTS / "bulk_dialog.png")
    assert dialog.apply()  # type: ignore[attr-defined]
    assert len(store) == 2
