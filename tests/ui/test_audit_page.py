"""The audit page in people's words: Added/Changed/Deleted, "field: old → new", local
times with UTC on hover (or UTC, View > Times in UTC), a From/To date range, and the
reason typed at File > Save with reason… shown with each entry of that save."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QStyleOptionViewItem

from accessguard_gui.core import rbac
from accessguard_gui.core.audit import audit_entries
from accessguard_gui.core.changes import Entity, Update
from accessguard_gui.core.database import Database
from accessguard_gui.ui import audit_view
from accessguard_gui.ui.audit_view import AuditCellDelegate, DateRange
from accessguard_gui.ui.main_window import MainWindow, record_values
from accessguard_gui.ui.reason_dialog import ReasonDialog
from accessguard_gui.ui.table_page import TablePage

from .helpers import column_of, user_id


def _shown(page: TablePage, row: int, key: str) -> str:
    """The text the view paints in a cell (through the column's delegate)."""
    index = page.model.index(row, column_of(page, key))
    delegate = page.view.itemDelegateForIndex(index)
    option = QStyleOptionViewItem()
    delegate.initStyleOption(option, index)
    return str(option.text)


def _tooltip(page: TablePage, row: int, key: str) -> str:
    index = page.model.index(row, column_of(page, key))
    delegate = page.view.itemDelegateForIndex(index)
    assert isinstance(delegate, AuditCellDelegate)
    return delegate.tooltip(index)


def _audit(qtbot: Any, window: MainWindow) -> TablePage:
    window.show_page(4)
    page = window.page("audit")
    page.model.ensure_loaded(0, page.model.rowCount() - 1)
    return page


def _row_of(page: TablePage, record_key: str) -> int:
    return next(
        r for r in range(page.model.rowCount())
        if record_values(page.model.record(r)).get("record_key") == record_key
    )


def test_entries_read_in_words(qtbot: Any, window: MainWindow, seeded: Database) -> None:
    with seeded.action("Deactivate") as s:
        rbac.update_user(s, "alice", active=False, email=None)
    window.refresh()
    page = _audit(qtbot, window)
    assert _shown(page, 0, "operation") == "Changed"
    assert _shown(page, 0, "summary") == "E-mail: alice@example.org \u2192 empty; Active: yes \u2192 no"
    added = _row_of(page, "bob")
    assert _shown(page, added, "operation") == "Added"
    assert _shown(page, added, "summary").startswith("Username: bob; Display name: Bob Baker")
    for text in (_shown(page, r, "summary") for r in range(page.model.rowCount())):
        assert "True" not in text and "None" not in text and "{" not in text
    # The filter speaks the column's words.
    combo = page.filters["operation"]
    assert [combo.itemText(i) for i in range(1, combo.count())] == ["Added", "Changed", "Deleted"]
    combo.setCurrentIndex(combo.findText("Changed"))
    qtbot.waitUntil(lambda: page.model.rowCount() == 1)
    # The details: the whole change, one field a line, the operation in words.
    page.select_row(0)
    assert page.details.record.value_text("changes") == (
        "E-mail: alice@example.org \u2192 empty\nActive: yes \u2192 no"
    )
    assert page.details.record.value_text("operation") == "Changed"


def test_times_local_with_utc_on_hover_and_the_setting(
    qtbot: Any, window: MainWindow, seeded: Database
) -> None:
    page = _audit(qtbot, window)
    stored = page.model.index(0, column_of(page, "at")).data(Qt.ItemDataRole.EditRole)
    moment = datetime.fromisoformat(str(stored)).replace(tzinfo=UTC)
    assert _shown(page, 0, "at") == moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    assert _tooltip(page, 0, "at") == moment.strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    window.act_times_utc.trigger()  # View > Times in UTC
    assert _shown(page, 0, "at") == moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert "local time" in _tooltip(page, 0, "at")
    assert window.settings.text(audit_view.SETTING_UTC) == "1"  # kept for the next start
    page.select_row(0)
    assert page.details.record.value_text("at").endswith("UTC")


def test_date_range_filters_the_page(qtbot: Any, window: MainWindow, seeded: Database) -> None:
    page = _audit(qtbot, window)
    total = page.model.rowCount()
    dates = page.findChild(DateRange)
    assert dates is not None and dates.start.text() == "any" and dates.end.text() == "any"
    today = QDate.currentDate()
    dates.start.setDate(today.addDays(1))
    qtbot.waitUntil(lambda: page.model.rowCount() == 0)
    assert page.count_label.text() == f"0 of {total} audit entries"
    dates.start.setDate(today)
    dates.end.setDate(today)
    qtbot.waitUntil(lambda: page.model.rowCount() == total)
    dates.end.setDate(today.addDays(-1))
    qtbot.waitUntil(lambda: page.model.rowCount() == 0)
    dates.start.setDate(audit_view.NO_DATE)
    dates.end.setDate(audit_view.NO_DATE)
    qtbot.waitUntil(lambda: page.model.rowCount() == total)


def test_save_with_reason_labels_every_entry(
    qtbot: Any, window: MainWindow, seeded: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[int] = []

    def ask(_cls: Any, _parent: Any, count: int) -> str:
        asked.append(count)
        return "Ticket 4711: HR request"

    monkeypatch.setattr(ReasonDialog, "ask", classmethod(ask))
    window.store.push(
        Update(Entity.USER, user_id(seeded, "alice"), None, {"display_name": "Alice A."}, "alice")
    )
    window.store.push(
        Update(Entity.USER, user_id(seeded, "bob"), None, {"display_name": "Bob B."}, "bob")
    )
    with qtbot.waitSignal(window.saved, timeout=5000):
        window.act_save_reason.trigger()
    assert asked == [2]
    with seeded.read() as s:
        newest = audit_entries(s, limit=2)
    assert {(e.action, e.reason) for e in newest} == {("Save 2 changes", "Ticket 4711: HR request")}
    page = _audit(qtbot, window)
    bob = _row_of(page, "bob")
    assert _shown(page, bob, "reason") == "Ticket 4711: HR request"  # its own column
    assert _shown(page, bob, "action") == "Save 2 changes"
    page.select_row(bob)
    assert page.details.record.value_text("reason") == "Ticket 4711: HR request"
    assert page.details.record.value_text("changes") == "Display name: Bob Baker \u2192 Bob B."


def test_cancelled_reason_saves_nothing(
    qtbot: Any, window: MainWindow, seeded: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ReasonDialog, "ask", classmethod(lambda _c, _p, _n: None))
    window.store.push(
        Update(Entity.USER, user_id(seeded, "alice"), None, {"display_name": "X"}, "alice")
    )
    assert window.save_with_reason() is False
    assert len(window.store) == 1


def test_render_audit_page(qtbot: Any, window: MainWindow, seeded: Database) -> None:
    with seeded.action("Deactivate") as s:
        rbac.update_user(s, "carol", active=True)
    window.refresh()
    page = _audit(qtbot, window)
    page.select_row(0)
    assert page.details.record.value_text("changes") == "Active: no \u2192 yes"
    # Look at it: QT offscreen render for a person to check the layout.
    shots = Path(tempfile.gettempdir()) / "shots"
    shots.mkdir(exist_ok=True)
    qtbot.wait(50)
    assert window.grab().save(str(shots / "audit_page.png"))
