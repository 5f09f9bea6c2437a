"""Read-only means read-only in the access views: every editing control is off with a
tooltip saying why, the matrix does not toggle, nothing becomes pending (the store refuses
pushes too), and closing never offers a Save that could only fail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from accessguard_gui.core import rbac
from accessguard_gui.core.changes import Assign, DeleteSsdSet, Grant
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import ReadOnlyDatabaseError
from accessguard_gui.core.lookup import Choice
from accessguard_gui.ui import messages
from accessguard_gui.ui.access import bulk_role_dialog
from accessguard_gui.ui.access.assignments import RoleDetailsPanel, UserRolesPanel
from accessguard_gui.ui.access.common import READ_ONLY_TIP, PickerDialog, save_png
from accessguard_gui.ui.access.matrix import RolePermissionMatrix
from accessguard_gui.ui.access.ssd import SsdPanel, SsdSetDialog
from accessguard_gui.ui.messages import SaveChoice
from accessguard_gui.ui.messages import ask_discard_cancel as real_ask_discard_cancel
from accessguard_gui.ui.pending import PendingStore
from accessguard_gui.ui.settings import AppSettings

from .conftest import SHOTS, answer_picker, build_demo, shown


@pytest.fixture
def ro_db(db: Database) -> Iterator[Database]:
    """The demo office, opened read-only."""
    build_demo(db)
    assert db.path is not None
    path: Path = db.path
    db.close()
    read_only = Database(path, create=False, read_only=True)
    assert read_only.read_only
    try:
        yield read_only
    finally:
        read_only.close()


def _store() -> PendingStore:
    store = PendingStore()
    store.set_read_only(True)  # as the main window does for a read-only database
    return store


def assert_locked(*widgets: QWidget) -> None:
    for widget in widgets:
        assert not widget.isEnabled(), widget
        assert widget.toolTip() == READ_ONLY_TIP, widget


def test_user_roles_panel_edits_nothing(
    qtbot: QtBot, ro_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store()
    panel = shown(qtbot, UserRolesPanel(ro_db, store), 760, 360)
    panel.set_user("bob")
    panel.select_roles(["Auditor"])
    assert panel.selected_roles() == ["Auditor"]
    locked = (
        panel.add_button,
        panel.remove_button,
        panel.expiry_edit,
        panel.set_expiry_button,
        panel.clear_expiry_button,
    )
    assert_locked(*locked)  # a chosen row does not switch them back on
    answer_picker(monkeypatch, ["Operator"])
    assert not panel.add_roles()
    assert not panel.remove_selected()
    assert not panel.set_expiry(None)
    assert store.is_empty()
    assert READ_ONLY_TIP in panel.message.text()


def test_role_details_panel_edits_nothing(
    qtbot: QtBot, ro_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store()
    panel = shown(qtbot, RoleDetailsPanel(ro_db, store), 900, 560)
    panel.set_role("Staff")
    for lst in (panel.members, panel.permissions, panel.inherits_from, panel.inherited_by):
        if lst.count():
            lst.item(0).setSelected(True)
    assert_locked(
        panel.add_members_button,
        panel.remove_members_button,
        panel.add_permissions_button,
        panel.remove_permissions_button,
        panel.add_parent_button,
        panel.remove_parent_button,
        panel.add_child_button,
        panel.remove_child_button,
    )
    monkeypatch.setattr(
        PickerDialog, "ask", classmethod(lambda *_a, **_k: [Choice(1, "dave (Dave Davis)")])
    )
    assert not panel.add_members()
    assert not panel.remove_selected_members()
    assert not panel.revoke_selected_permissions()
    assert not panel.remove_selected_inherits_from()
    assert store.is_empty()
    save_png(panel, SHOTS / "role_details_read_only.png")


def test_bulk_role_dialog_edits_nothing(qtbot: QtBot, ro_db: Database) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    store = _store()
    with ro_db.read() as s:
        ids = [rbac.get_user(s, "dave").id]
    dialog: Any = bulk_role_dialog(ro_db, store, ids, parent)
    ok = dialog.buttons.button(dialog.buttons.StandardButton.Ok)
    assert_locked(dialog.role_edit, dialog.assign_radio, dialog.remove_radio, ok)
    dialog.role_edit.setText("Operator")
    assert not dialog.apply()
    assert store.is_empty()


def test_matrix_does_not_toggle(qtbot: QtBot, ro_db: Database) -> None:
    store = _store()
    matrix = shown(qtbot, RolePermissionMatrix(ro_db, store), 1000, 500)
    model = matrix.model
    model.ensure_loaded(range(model.rowCount()), range(model.columnCount()))
    index = model.index(0, 0)
    assert not model.flags(index) & Qt.ItemFlag.ItemIsUserCheckable
    before = model.data(index, Qt.ItemDataRole.CheckStateRole)
    assert before is not None
    assert not model.setData(index, Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)
    assert not model.setData(index, Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole)
    # A click where the check box is drawn changes nothing either.
    rect = matrix.view.visualRect(index)
    qtbot.mouseClick(
        matrix.view.viewport(),
        Qt.MouseButton.LeftButton,
        pos=QPoint(rect.left() + 8, rect.center().y()),
    )
    assert model.data(index, Qt.ItemDataRole.CheckStateRole) == before
    assert store.is_empty()
    assert "read-only" in model.data(index, Qt.ItemDataRole.ToolTipRole)
    assert "read-only: cannot be changed" in matrix.legend.text()
    save_png(matrix, SHOTS / "matrix_read_only.png")


def test_ssd_window_edits_nothing(
    qtbot: QtBot, ro_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store()
    panel = shown(qtbot, SsdPanel(ro_db, store), 860, 520)
    panel.select_set("Pay and approve")
    assert_locked(panel.new_button, panel.edit_button, panel.delete_button)
    assert panel.check_button.isEnabled()  # reading the file is fine
    assert not panel.delete_selected()
    panel.open_dialog(None)
    assert not panel.findChildren(SsdSetDialog)  # no dialog opens
    dialog = SsdSetDialog(ro_db, store, panel.selected_set(), panel)
    qtbot.addWidget(dialog)
    assert_locked(
        dialog.name_edit,
        dialog.description_edit,
        dialog.cardinality,
        dialog.add_roles_button,
        dialog.remove_roles_button,
        dialog.ok_button,
    )
    dialog.name_edit.setText("Renamed")
    assert not dialog.apply()
    assert store.is_empty()
    save_png(panel, SHOTS / "ssd_read_only.png")


def test_the_store_refuses_pushes_when_read_only(qtbot: QtBot) -> None:
    store = PendingStore()
    store.push(Assign("alice", "Staff"))
    kept = store.edits()
    store.set_read_only(True)
    with qtbot.assertNotEmitted(store.changed):
        for attempt in (
            lambda: store.push(Grant("Staff", ("Door", "open"))),
            lambda: store.push_many([DeleteSsdSet(1, "x")]),
            lambda: store.replace(kept[0], Assign("bob", "Staff")),
        ):
            with pytest.raises(ReadOnlyDatabaseError):
                attempt()
    assert store.edits() == kept
    store.undo()
    assert store.redo() is None  # nothing comes back while read-only
    assert store.is_empty()


def test_access_windows_of_a_read_only_window(
    qtbot: QtBot, ro_db: Database, settings: AppSettings
) -> None:
    from accessguard_gui.ui.main_window import MainWindow

    win = MainWindow(ro_db, settings)
    qtbot.addWidget(win)
    assert win.store.read_only
    for act in (win.act_save, win.act_review, win.act_add, win.act_delete, win.act_password):
        assert not act.isEnabled() and act.toolTip() == READ_ONLY_TIP, act.text()
    matrix: Any = win.open_access_view(2)
    ssd: Any = win.open_access_view(3)
    assert not matrix.model.flags(matrix.model.index(0, 0)) & Qt.ItemFlag.ItemIsUserCheckable
    assert_locked(ssd.new_button, ssd.edit_button, ssd.delete_button)
    with pytest.raises(ReadOnlyDatabaseError):
        win.store.push(Assign("alice", "Staff"))
    win.close()


def test_closing_a_read_only_window_never_offers_save(
    qtbot: QtBot, ro_db: Database, settings: AppSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Edits that reached the store before it was read-only (defence in depth): the close
    prompt offers Discard or Cancel, never Save."""
    from accessguard_gui.ui.main_window import MainWindow

    asked: list[str] = []

    def ask_discard(_parent: Any, count: int, what: str) -> SaveChoice:
        asked.append(f"{count} {what}")
        return SaveChoice.CANCEL if len(asked) == 1 else SaveChoice.DISCARD

    monkeypatch.setattr(messages, "ask_discard_cancel", ask_discard)
    win = MainWindow(ro_db, settings)
    qtbot.addWidget(win)
    win.show()
    win.store.set_read_only(False)
    win.store.push(Assign("alice", "Payments"))
    win.store.set_read_only(True)
    win.close()
    assert win.isVisible() and asked == ["1 closing"]  # Cancel: the window stays
    win.close()
    assert not win.isVisible() and win.store.is_empty()


def test_the_read_only_close_prompt_has_no_save_button(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    boxes: list[QMessageBox] = []

    def fake_exec(box: QMessageBox) -> int:
        boxes.append(box)
        return int(QMessageBox.StandardButton.Discard.value)

    monkeypatch.setattr(QMessageBox, "exec", fake_exec)
    assert real_ask_discard_cancel(None, 3, "closing") is SaveChoice.DISCARD
    (box,) = boxes
    qtbot.addWidget(box)
    assert box.button(QMessageBox.StandardButton.Save) is None
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)
    assert "read-only" in box.text() and "3 unsaved changes" in box.text()
