"""Ctrl+Z, Ctrl+Shift+Z, Ctrl+S and Ctrl+Shift+S do the same in every window: the access
windows and the dialogs that are windows of their own carry the main window's actions."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from accessguard_gui.core import rbac
from accessguard_gui.core.changes import Grant
from accessguard_gui.core.database import Database
from accessguard_gui.ui import access
from accessguard_gui.ui.access.review import ReviewChangesDialog
from accessguard_gui.ui.main_window import MainWindow

from .conftest import answer_picker

CTRL = Qt.KeyboardModifier.ControlModifier
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
GRANT = Grant("Auditor", ("Ledger", "read"))


def _activate(qtbot: QtBot, window: QWidget, focus: QWidget) -> None:
    window.show()
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    focus.setFocus(Qt.FocusReason.OtherFocusReason)


def _granted(db: Database) -> bool:
    with db.read() as s:
        return any(p.label == "Ledger: read" for p in rbac.role_permissions(s, "Auditor"))


def _views(window: MainWindow) -> list[tuple[str, QWidget, QWidget]]:
    """(name, window, a focusable non-text widget inside it) for each Access menu view."""
    check: Any = window.open_access_view(0)
    effective: Any = window.open_access_view(1)
    matrix: Any = window.open_access_view(2)
    ssd: Any = window.open_access_view(3)
    return [
        ("access check", check, check.check_button),
        ("effective access", effective, effective.show_button),
        ("matrix", matrix, matrix.view),
        ("separation of duty", ssd, ssd.sets_view),
    ]


def test_undo_redo_review_and_save_keys_work_in_every_access_window(
    qtbot: QtBot, window: MainWindow, seeded: Database
) -> None:
    for name, view, focus in _views(window):
        window.store.push(GRANT)
        _activate(qtbot, view, focus)
        qtbot.keyClick(focus, Qt.Key.Key_Z, CTRL)
        assert window.store.is_empty(), name
        qtbot.keyClick(focus, Qt.Key.Key_Z, CTRL_SHIFT)
        assert window.store.edits() == [GRANT], name
        qtbot.keyClick(focus, Qt.Key.Key_S, CTRL_SHIFT)
        review = window._access_windows.get("review")
        assert isinstance(review, ReviewChangesDialog) and review.isVisible(), name
        assert review.edit_lines()[0].startswith("1. Grant Ledger: read to Auditor"), name
        review.close()
        _activate(qtbot, view, focus)
        with qtbot.waitSignal(window.saved, timeout=5000):
            qtbot.keyClick(focus, Qt.Key.Key_S, CTRL)
        assert window.store.is_empty() and _granted(seeded), name
        with seeded.action("take it back") as s:
            rbac.revoke_permission(s, "Auditor", ("Ledger", "read"))


def test_the_review_window_saves_what_it_shows_with_ctrl_s(
    qtbot: QtBot, window: MainWindow, seeded: Database
) -> None:
    window.store.push(GRANT)
    review: Any = window.review_changes()
    _activate(qtbot, review, review.by_edit)
    qtbot.keyClick(review.by_edit, Qt.Key.Key_Z, CTRL)  # undo works here too
    assert window.store.is_empty() and not review.save_button.isEnabled()
    qtbot.keyClick(review.by_edit, Qt.Key.Key_Z, CTRL_SHIFT)
    qtbot.keyClick(review.by_edit, Qt.Key.Key_S, CTRL_SHIFT)  # review again
    assert review.save_button.isEnabled()
    with qtbot.waitSignal(review.saved, timeout=5000):
        qtbot.keyClick(review.by_edit, Qt.Key.Key_S, CTRL)
    assert _granted(seeded) and window.store.is_empty()


def test_bulk_dialog_window_has_the_keys(
    qtbot: QtBot, window: MainWindow, seeded: Database
) -> None:
    with seeded.read() as s:
        ids = [rbac.get_user(s, "bob").id]
    dialog: Any = access.bulk_role_dialog(seeded, window.store, ids, window)
    window.store.push(GRANT)
    _activate(qtbot, dialog, dialog.assign_radio)
    qtbot.keyClick(dialog.assign_radio, Qt.Key.Key_Z, CTRL)
    assert window.store.is_empty()
    dialog.close()


def test_ctrl_s_in_the_ssd_dialog_keeps_its_changes_and_saves(
    qtbot: QtBot, window: MainWindow, seeded: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    ssd: Any = window.open_access_view(3)
    dialog = ssd.make_dialog(None)
    qtbot.addWidget(dialog)
    dialog.name_edit.setText("Books apart")
    answer_picker(monkeypatch, ["Accountant", "Auditor"])
    dialog.add_roles()
    _activate(qtbot, dialog, dialog.roles)
    with qtbot.waitSignal(window.saved, timeout=5000):
        qtbot.keyClick(dialog.roles, Qt.Key.Key_S, CTRL)
    assert not dialog.isVisible() and window.store.is_empty()
    with seeded.read() as s:
        assert [r.name for r in rbac.ssd_role_sets(s)] == ["Books apart"]
    assert ssd.states() == {"Books apart": ""}
    # Undo in the dialog's window: a pending edit made elsewhere is taken back.
    window.store.push(GRANT)
    again = ssd.make_dialog(ssd.selected_set() or None)
    qtbot.addWidget(again)
    _activate(qtbot, again, again.roles)
    qtbot.keyClick(again.roles, Qt.Key.Key_Z, CTRL)
    assert window.store.is_empty()
    again.close()
