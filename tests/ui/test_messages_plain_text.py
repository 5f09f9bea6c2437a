"""Message boxes and tooltips show text from data exactly as typed, never as HTML."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6 import QtGui
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QLabel, QMessageBox

from accessguard_gui.ui.messages import ask_conflict as real_ask_conflict
from accessguard_gui.ui.messages import confirm as real_confirm
from accessguard_gui.ui.messages import show_error as real_show_error
from accessguard_gui.ui.messages import show_info as real_show_info
from accessguard_gui.ui.plain_text import plain_tooltip

HOSTILE = [
    "<h1>x</h1>",
    "<img src=x>",
    "<a href='file:///'>open me</a>",
    "The table <h1>Payroll</h1> is not AccessGuard's.",
]


@pytest.fixture
def shown_boxes(monkeypatch: pytest.MonkeyPatch) -> list[QMessageBox]:
    """Every box a real messages function would run, instead of running it."""
    boxes: list[QMessageBox] = []

    def fake_exec(box: QMessageBox) -> int:
        boxes.append(box)
        return int(QMessageBox.StandardButton.Cancel.value)

    monkeypatch.setattr(QMessageBox, "exec", fake_exec)
    return boxes


def _labels(box: QMessageBox) -> dict[str, QLabel]:
    return {label.objectName(): label for label in box.findChildren(QLabel) if label.text()}


@pytest.mark.parametrize("hostile", HOSTILE)
def test_boxes_show_text_and_details_as_plain_text(
    qtbot: Any, shown_boxes: list[QMessageBox], hostile: str
) -> None:
    real_show_error(None, "Cannot open database", f"Damaged: {hostile}", f"Details {hostile}")
    real_show_info(None, "Check", hostile, hostile)
    real_confirm(None, "Delete", f"Delete {hostile}?", "Delete")
    real_ask_conflict(None, hostile, f"Display name: {hostile}")
    assert len(shown_boxes) == 4
    for box in shown_boxes:
        qtbot.addWidget(box)
        assert box.textFormat() == Qt.TextFormat.PlainText
        labels = _labels(box)
        text = labels["qt_msgbox_label"]
        assert text.textFormat().name == "PlainText"
        assert hostile in text.text()
        if box.informativeText():
            details = labels["qt_msgbox_informativelabel"]
            assert details.textFormat().name == "PlainText"
            assert hostile in details.text()
    assert sum(bool(box.informativeText()) for box in shown_boxes) == 3


def test_a_heading_in_a_message_is_drawn_as_its_characters(
    qtbot: Any, shown_boxes: list[QMessageBox]
) -> None:
    real_show_error(None, "Cannot open database", "<h1>x</h1>", "<img src=x>")
    (box,) = shown_boxes
    qtbot.addWidget(box)
    box.show()
    text = _labels(box)["qt_msgbox_label"]
    # As plain text the label is one line of normal height; as HTML <h1> it would be taller
    # than a line and show only "x".
    assert text.sizeHint().height() <= text.fontMetrics().height() + 4
    box.grab().save("/tmp/shots/message_plain_text.png")


@pytest.mark.parametrize("hostile", HOSTILE + ["a\n<b>b</b>", "no tags at all"])
def test_plain_tooltip_shows_the_characters(hostile: str) -> None:
    tip = plain_tooltip(hostile)
    doc = QTextDocument()
    if QtGui.Qt.mightBeRichText(tip):
        doc.setHtml(tip)
    else:
        doc.setPlainText(tip)
    assert doc.toPlainText() == hostile


def _shown_as(tip: str) -> str:
    """What a tooltip with this text displays (Qt's own rich-text guess decides)."""
    doc = QTextDocument()
    if QtGui.Qt.mightBeRichText(tip):
        doc.setHtml(tip)
    else:
        doc.setPlainText(tip)
    return doc.toPlainText()


def test_view_tooltips_quote_hostile_names_as_typed(qtbot: Any, db: Any) -> None:
    """A role name planted in the file by direct SQL (the rules refuse '<') and a message
    quoting it: the matrix headers and cells and the access views' row tips show them."""
    from accessguard_gui.core import rbac
    from accessguard_gui.core.models import Role
    from accessguard_gui.ui.access.common import RowsModel
    from accessguard_gui.ui.access.matrix import RolePermissionMatrixModel
    from accessguard_gui.ui.pending import PendingStore

    with db.action("plant") as s:
        s.add(Role(name="<h1>Boss</h1>", description=""))
        rbac.add_resource(s, "Door")
        rbac.add_permission(s, "Door", "open")
    store = PendingStore()
    model = RolePermissionMatrixModel(db, store)
    model.ensure_loaded(range(1), range(1))
    header = model.headerData(0, Qt.Orientation.Vertical, Qt.ItemDataRole.ToolTipRole)
    assert _shown_as(header) == "<h1>Boss</h1>"
    cell = model.data(model.index(0, 0), Qt.ItemDataRole.ToolTipRole)
    assert _shown_as(cell) == "<h1>Boss</h1> does not have Door: open"
    rows = RowsModel(("Set",))
    rows.set_rows([("x",)], tips=["<img src=x> breaks <a href='file:///'>it</a>"])
    tip = rows.data(rows.index(0, 0), Qt.ItemDataRole.ToolTipRole)
    assert _shown_as(tip) == "<img src=x> breaks <a href='file:///'>it</a>"
