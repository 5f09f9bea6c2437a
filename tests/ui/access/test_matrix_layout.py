"""Matrix layout (issue 12, item 6): resources grouped over their columns with the full
label on hover, a click anywhere in a cell toggles it, empty states say what to do."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot

from accessguard_gui.core import rbac
from accessguard_gui.core.changes import Grant, Revoke
from accessguard_gui.core.database import Database
from accessguard_gui.ui.access.common import save_png
from accessguard_gui.ui.access.matrix import RolePermissionMatrix
from accessguard_gui.ui.access.matrix_header import GroupedHeader, split_label
from accessguard_gui.ui.pending import PendingStore

from .conftest import SHOTS, shown


def _long_names(db: Database) -> None:
    with db.action("long") as s:
        for role in ("Directory administrators", "Helpdesk", "Auditors"):
            rbac.add_role(s, role)
        for res, actions in (
            ("Active Directory", ("admin", "read", "reset-password")),
            ("Payroll system", ("approve", "read")),
        ):
            rbac.add_resource(s, res)
            for act in actions:
                rbac.add_permission(s, res, act)
        rbac.grant_permission(s, "Helpdesk", ("Active Directory", "reset-password"))


def test_header_groups_columns_under_their_resource(qtbot: QtBot, db: Database) -> None:
    _long_names(db)
    widget = shown(qtbot, RolePermissionMatrix(db, PendingStore()), 900, 330)
    header = widget.view.horizontalHeader()
    assert isinstance(header, GroupedHeader)
    assert header.group(0) == (0, 2)  # Active Directory: admin, read, reset-password
    assert header.group(4) == (3, 4)  # Payroll system: approve, read
    assert split_label(header.label(2)) == ("Active Directory", "reset-password")
    tip = widget.model.headerData(2, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert "Active Directory: reset-password" in tip
    # Two bands: tall enough for the resource and the action.
    assert header.height() >= 2 * header.fontMetrics().height()
    widget.model.ensure_loaded(range(3), range(5))
    save_png(widget, SHOTS / "matrix_grouped_header.png")


def test_click_in_the_middle_of_a_cell_toggles_it(qtbot: QtBot, demo_db: Database) -> None:
    store = PendingStore()
    widget = shown(qtbot, RolePermissionMatrix(demo_db, store), 900, 330)
    model = widget.model
    model.ensure_loaded(range(model.rowCount()), range(model.columnCount()))
    row = next(
        r
        for r in range(model.rowCount())
        if model.headerData(r, Qt.Orientation.Vertical) == "Staff"
    )
    col = next(
        c
        for c in range(model.columnCount())
        if model.headerData(c, Qt.Orientation.Horizontal) == "Ledger: read"
    )
    rect = widget.view.visualRect(model.index(row, col))
    centre = rect.center() + QPoint(rect.width() // 4, 0)  # well away from the box
    qtbot.mouseClick(widget.view.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert store.edits() == [Revoke("Staff", ("Ledger", "read"))]
    model.ensure_loaded(range(model.rowCount()), range(model.columnCount()))
    qtbot.mouseClick(widget.view.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert store.edits() == [
        Revoke("Staff", ("Ledger", "read")),
        Grant("Staff", ("Ledger", "read")),
    ]
    # A click on the row header does not toggle anything.
    header = widget.view.verticalHeader()
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    assert len(store.edits()) == 2


def test_empty_matrix_says_what_to_do(qtbot: QtBot, db: Database) -> None:
    widget = shown(qtbot, RolePermissionMatrix(db, PendingStore()), 700, 300)
    assert widget.empty_note.isVisible()
    assert not widget.view.isVisible()
    assert "roles (Roles page, Ctrl+N)" in widget.empty_note.text()
    assert "permissions" in widget.empty_note.text()
    save_png(widget, SHOTS / "matrix_empty.png")


def test_filter_matching_nothing_says_so(qtbot: QtBot, demo_db: Database) -> None:
    widget = shown(qtbot, RolePermissionMatrix(demo_db, PendingStore()), 700, 300)
    assert not widget.empty_note.isVisible()
    widget.role_filter.setText("zzz")
    widget.apply_filters()
    assert widget.empty_note.text() == (
        "No role matches \u201czzz\u201d. Change or clear the role filter."
    )
    widget.role_filter.clear()
    widget.apply_filters()
    assert widget.view.isVisible() and not widget.empty_note.isVisible()
