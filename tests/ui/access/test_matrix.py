"""Role × permission matrix: direct grants checkable, inherited marked, lazy blocks."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QModelIndex, Qt
from pytestqt.qtbot import QtBot

from accessguard_gui.core import rbac
from accessguard_gui.core.changes import Grant, Inherit, Revoke
from accessguard_gui.core.database import Database
from accessguard_gui.ui.access.common import save_png
from accessguard_gui.ui.access.matrix import (
    INHERITED_MARK,
    RolePermissionMatrix,
    RolePermissionMatrixModel,
)
from accessguard_gui.ui.pending import PendingStore

from .conftest import SHOTS


def _cell(model: RolePermissionMatrixModel, role: str, perm: str) -> QModelIndex:
    row = next(
        r for r in range(model.rowCount()) if model.headerData(r, Qt.Orientation.Vertical) == role
    )
    col = next(
        c
        for c in range(model.columnCount())
        if model.headerData(c, Qt.Orientation.Horizontal) == perm
    )
    return model.index(row, col)


def _loaded(model: RolePermissionMatrixModel) -> RolePermissionMatrixModel:
    model.ensure_loaded(range(model.rowCount()), range(model.columnCount()))
    return model


def test_model_passes_qtmodeltester(qtbot: QtBot, qtmodeltester, demo_db: Database) -> None:  # type: ignore[no-untyped-def]
    model = RolePermissionMatrixModel(demo_db, PendingStore())
    qtmodeltester.check(model)
    _loaded(model)
    qtmodeltester.check(model)


def test_direct_and_inherited_cells(qtbot: QtBot, demo_db: Database) -> None:
    model = _loaded(RolePermissionMatrixModel(demo_db, PendingStore()))
    staff_read = _cell(model, "Staff", "Ledger: read")
    assert staff_read.data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    assert staff_read.data() == ""
    admin_read = _cell(model, "Admin", "Ledger: read")
    assert admin_read.data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Unchecked
    assert admin_read.data() == INHERITED_MARK
    admin_door = _cell(model, "Admin", "Door B2.14: open")  # through two diamond paths
    assert admin_door.data() == INHERITED_MARK
    assert _cell(model, "Payments", "Door B2.14: open").data() == ""


def test_checking_pushes_grant_and_revoke(qtbot: QtBot, demo_db: Database) -> None:
    store = PendingStore()
    widget = RolePermissionMatrix(demo_db, store)
    qtbot.addWidget(widget)
    model = _loaded(widget.model)
    cell = _cell(model, "Auditor", "Ledger: write")
    with qtbot.waitSignal(store.changed):
        assert model.setData(cell, Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    assert store.edits() == [Grant("Auditor", ("Ledger", "write"))]
    # The view refetches the blocks it shows (inherited marks follow pending edits).
    qtbot.waitUntil(lambda: cell.data(Qt.ItemDataRole.CheckStateRole) is not None)
    assert cell.data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    assert cell.data(Qt.ItemDataRole.BackgroundRole) is not None  # pending colour
    # Through the view: select a granted cell and press space.
    granted = _cell(model, "Staff", "Ledger: read")
    widget.view.setCurrentIndex(granted)
    qtbot.keyClick(widget.view, Qt.Key.Key_Space)
    assert store.edits()[-1] == Revoke("Staff", ("Ledger", "read"))
    _loaded(model)
    assert granted.data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Unchecked
    with demo_db.read() as s:  # nothing written
        assert [p.label for p in rbac.role_permissions(s, "Staff")] == ["Ledger: read"]


def test_inherited_marks_follow_pending_edits(qtbot: QtBot, demo_db: Database) -> None:
    store = PendingStore()
    model = _loaded(RolePermissionMatrixModel(demo_db, store))
    admin_write = _cell(model, "Admin", "Ledger: write")
    assert admin_write.data() == ""
    store.push(Grant("Staff", ("Ledger", "write")))  # Admin inherits from Staff
    _loaded(model)
    assert admin_write.data() == INHERITED_MARK
    assert _cell(model, "Auditor", "Ledger: write").data() == INHERITED_MARK
    store.push(Inherit("Payments", "Operator"))
    _loaded(model)
    assert _cell(model, "Payments", "Server room: open").data() == INHERITED_MARK
    store.undo()
    store.undo()
    _loaded(model)
    assert admin_write.data() == ""
    assert _cell(model, "Payments", "Server room: open").data() == ""


def test_filters_on_both_axes(qtbot: QtBot, demo_db: Database) -> None:
    widget = RolePermissionMatrix(demo_db, PendingStore())
    qtbot.addWidget(widget)
    widget.role_filter.setText("a")
    widget.permission_filter.setText("ledger: w")
    widget.apply_filters()
    model = widget.model
    roles = [model.headerData(r, Qt.Orientation.Vertical) for r in range(model.rowCount())]
    perms = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert roles == ["Admin", "Approvals", "Auditor", "Base", "Operator", "Payments", "Staff"]
    assert perms == ["Ledger: write"]
    widget.role_filter.setText("pay")
    widget.permission_filter.setText("")
    qtbot.waitUntil(lambda: model.rowCount() == 1)
    assert widget.counts.text() == "1 roles \u00d7 5 permissions"


def test_only_visible_blocks_are_queried(qtbot: QtBot, db: Database) -> None:
    with db.action("build") as s:
        for r in range(100):
            rbac.add_role(s, f"role{r:03d}")
        for r in range(10):
            rbac.add_resource(s, f"res{r}")
            for a in range(10):
                rbac.add_permission(s, f"res{r}", f"act{a}")
        for r in range(0, 100, 7):
            rbac.grant_permission(s, f"role{r:03d}", (f"res{r % 10}", "act1"))
            if r:
                rbac.add_inheritance(s, f"role{r:03d}", f"role{r - 7:03d}")
    widget = RolePermissionMatrix(db, PendingStore())
    qtbot.addWidget(widget)
    widget.resize(700, 400)
    widget.show()
    model = widget.model
    assert (model.rowCount(), model.columnCount()) == (100, 100)
    qtbot.waitUntil(lambda: model.blocks_loaded >= 1)
    qtbot.wait(50)  # let any further paint requests arrive (no timing is asserted)
    # 16 blocks exist; a 700×400 view shows cells of one block only.
    assert model.blocks_loaded <= 2
    save_png(widget, SHOTS / "matrix.png")
    widget.view.scrollTo(model.index(99, 99))
    qtbot.waitUntil(lambda: model.cell_state(99, 99) is not None)
    # The bottom-right corner spans at most 2 × 2 more blocks: still far from all 16.
    assert model.blocks_loaded <= 2 + 4


def test_screenshot_demo(qtbot: QtBot, demo_db: Database) -> None:
    store = PendingStore()
    store.push(Grant("Payments", ("Door B2.14", "open")))
    widget = RolePermissionMatrix(demo_db, store)
    qtbot.addWidget(widget)
    widget.resize(900, 330)
    widget.show()
    widget.model.ensure_loaded(range(7), range(5))
    save_png(widget, SHOTS / "matrix_demo.png")


def test_axes_come_a_page_at_a_time_with_whole_counts(
    qtbot: QtBot, demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No whole-axis load: pages of two roles and two permissions, the rest fetched as
    the view reaches an end; the counts say the whole size from the start; a pending
    grant of a role read later shows as soon as its row arrives."""
    from accessguard_gui.core import lookup
    from accessguard_gui.ui.access import matrix

    monkeypatch.setattr(matrix, "AXIS_PAGE", 2)
    store = PendingStore()
    with demo_db.read() as s:
        roles = [name for _id, name in lookup.matrix_roles(s)]
        perms = [label for _id, label in lookup.matrix_permissions(s)]
    store.push(Grant(roles[-1], ("Ledger", "read")))
    widget = RolePermissionMatrix(demo_db, store)
    qtbot.addWidget(widget)
    model = widget.model
    assert (model.rowCount(), model.columnCount()) == (2, 2)
    assert widget.counts.text() == f"{len(roles)} roles \u00d7 {len(perms)} permissions"
    while model.canFetchMore(QModelIndex()):
        model.fetchMore(QModelIndex())
    headers = [model.headerData(r, Qt.Orientation.Vertical) for r in range(model.rowCount())]
    columns = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert (headers, columns) == (roles, perms)
    _loaded(model)
    pending = _cell(model, roles[-1], "Ledger: read")
    assert pending.data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked


def test_window_from_the_menu_reads_its_axes_after_it_is_shown(
    qtbot: QtBot, demo_db: Database
) -> None:
    """Opening, reading both axes and the first paint are separate turns of the event
    loop (issue 11: no action may freeze the window for more than 100 ms)."""
    from PySide6.QtWidgets import QWidget

    from accessguard_gui.ui.access.matrix import show_matrix

    parent = QWidget()
    qtbot.addWidget(parent)
    widget = show_matrix(demo_db, PendingStore(), parent)
    assert widget.isVisible()
    assert widget.model.rowCount() == 0 and widget.counts.text() == "Loading\u2026"
    qtbot.waitUntil(lambda: widget.model.rowCount() > 0)
    assert widget.counts.text().endswith("permissions")
    model = widget.model
    labels = [
        str(model.headerData(c, Qt.Orientation.Horizontal)) for c in range(model.columnCount())
    ]
    for column, label in enumerate(labels):
        first, last = model.column_group(column)
        resource = label.rpartition(": ")[0]
        assert first <= column <= last
        assert {lab.rpartition(": ")[0] for lab in labels[first : last + 1]} == {resource}
        assert first == 0 or labels[first - 1].rpartition(": ")[0] != resource
        assert last == len(labels) - 1 or labels[last + 1].rpartition(": ")[0] != resource
        assert model.column_action(column) == label.rpartition(": ")[2]
    widget.close()


def test_window_closed_before_its_axes_are_read(qtbot: QtBot, demo_db: Database) -> None:
    from PySide6.QtWidgets import QWidget

    from accessguard_gui.ui.access.matrix import show_matrix

    parent = QWidget()
    qtbot.addWidget(parent)
    widget = show_matrix(demo_db, PendingStore(), parent)
    widget.close()
    widget.deleteLater()
    qtbot.wait(50)  # the deferred read must not touch the deleted widget


def test_with_many_pending_edits_blocks_are_previewed_off_the_gui_thread(
    qtbot: QtBot, demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The inherited marks under pending edits come from a preview applying every pending
    edit: painted cells ask for it on a worker (issue 11); a late answer for blocks
    dropped meanwhile (another edit) is not shown."""
    from accessguard_gui.ui.access import matrix

    monkeypatch.setattr(matrix, "BACKGROUND_EDITS", 1)
    store = PendingStore()
    model = RolePermissionMatrixModel(demo_db, store)
    store.push(Grant("Staff", ("Ledger", "write")))  # Admin inherits from Staff
    admin_write = _cell(model, "Admin", "Ledger: write")
    assert admin_write.data() is None  # asked for: blank until the block arrives
    model.load_wanted()
    assert model._loading  # on a worker
    store.push(Grant("Auditor", ("Server room", "open")))  # drops the blocks in flight
    assert admin_write.data() is None
    model.load_wanted()
    qtbot.waitUntil(lambda: admin_write.data() is not None and not model._loading, timeout=10_000)
    assert admin_write.data() == INHERITED_MARK
    assert _cell(model, "Auditor", "Server room: open").data(Qt.ItemDataRole.CheckStateRole) in (
        Qt.CheckState.Checked,
        None,
    )
