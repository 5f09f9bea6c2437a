"""Cell editors fit the value: checkbox for flags, date editor for dates, combo for choices."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from PySide6.QtCore import QDate, QItemSelectionModel, QPoint, Qt
from PySide6.QtGui import QColor, QImage, QPaintEvent, QRegion, QStandardItem, QStandardItemModel
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

from accessguard_gui.core import browse, rbac
from accessguard_gui.core.changes import Entity, Update
from accessguard_gui.core.database import Database
from accessguard_gui.ui import table_page, theme
from accessguard_gui.ui.delegates import RecordDelegate
from accessguard_gui.ui.focus import show_focus_frame
from accessguard_gui.ui.pending import PendingStore
from accessguard_gui.ui.table_model import RecordTableModel
from accessguard_gui.ui.table_page import PAGES, RecordTableView, table_view


class _Model(QStandardItemModel):
    """A stand-in table: column keys and choices the way the real model reports them."""

    keys = ("username", "active", "expires_at", "kind")

    def column_key(self, column: int) -> str:
        return self.keys[column]

    def column_choices(self, column: int) -> list[str]:
        return ["open", "read"] if self.keys[column] == "kind" else []


def _model() -> _Model:
    model = _Model(1, 4)
    values: list[Any] = ["alice", True, datetime(2027, 3, 1, tzinfo=UTC), "read"]
    for column, value in enumerate(values):
        item = QStandardItem()
        item.setData(value, Qt.ItemDataRole.EditRole)
        model.setItem(0, column, item)
    return model


def test_editors_fit_the_values(qtbot: Any) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    model = _model()
    delegate = RecordDelegate(Entity.USER)
    option = QStyleOptionViewItem()

    date_index = model.index(0, 2)
    editor = delegate.createEditor(parent, option, date_index)
    assert isinstance(editor, QDateEdit) and editor.calendarPopup()
    delegate.setEditorData(editor, date_index)
    assert editor.date() == QDate(2027, 3, 1)
    editor.setDate(QDate(2028, 1, 31))
    delegate.setModelData(editor, model, date_index)
    assert date_index.data(Qt.ItemDataRole.EditRole) == datetime(2028, 1, 31, tzinfo=UTC)

    assert isinstance(delegate.createEditor(parent, option, model.index(0, 1)), QCheckBox)
    combo = delegate.createEditor(parent, option, model.index(0, 3))
    assert isinstance(combo, QComboBox)
    assert [combo.itemText(i) for i in range(combo.count())] == ["open", "read"]


def test_refused_text_never_reaches_the_model(qtbot: Any) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    model = _model()
    delegate = RecordDelegate(Entity.USER)
    index = model.index(0, 0)
    editor = delegate.createEditor(parent, QStyleOptionViewItem(), index)
    delegate.setEditorData(editor, index)
    editor.setText("no spaces allowed")  # type: ignore[attr-defined]
    with qtbot.waitSignal(delegate.invalid) as refused:
        delegate.setModelData(editor, model, index)
    assert "may contain only" in refused.args[0]
    assert index.data(Qt.ItemDataRole.EditRole) == "alice"


# ---------------------------------------------------------------- painting plain cells


class _StandardPaint(RecordTableModel):
    """The same model without the delegate's fast lookup: every cell painted the
    standard way (Qt's initStyleOption asking ``data()`` role by role)."""

    plain_cell = None  # type: ignore[assignment]


def _painted(model: RecordTableModel, qtbot: Any, *, rows: tuple[int, ...]) -> QImage:
    view = table_view(PAGES[0], model)
    qtbot.addWidget(view)
    view.resize(900, 200)
    selection = view.selectionModel()
    for row in rows:
        selection.select(
            model.index(row, 0),
            QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
        )
    return view.grab().toImage()


def _largest_difference(a: QImage, b: QImage) -> int:
    assert a.size() == b.size()
    worst = 0
    for y in range(a.height()):
        for x in range(a.width()):
            if a.pixel(x, y) != b.pixel(x, y):
                one, two = QColor(a.pixel(x, y)), QColor(b.pixel(x, y))
                worst = max(
                    worst,
                    abs(one.red() - two.red()),
                    abs(one.green() - two.green()),
                    abs(one.blue() - two.blue()),
                )
    return worst


@pytest.mark.parametrize("scheme", ["system", "dark"])
def test_plain_cells_paint_like_the_standard_delegate(
    qtbot: Any, seeded: Database, scheme: str
) -> None:
    """The fast path draws what Qt's own delegate draws — text, selection, check
    boxes, in either scheme — to within one step of a colour channel (the check box's
    antialiased corners, blitted from a pixmap)."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    palette, style = app.palette(), app.style().name()
    theme.install(app, scheme)
    try:
        store = PendingStore()
        fast = RecordTableModel(seeded, browse.USERS, store)
        standard = _StandardPaint(seeded, browse.USERS, store)
        assert fast.plain_cell(0, fast.column_of("username")) == "alice"
        assert fast.plain_cell(0, fast.column_of("active")) is True
        # A pending edit: its row is painted the standard way (bold, tinted).
        store.push(Update(Entity.USER, fast.id_at(1), 1, {"display_name": "Bob B"}, "bob"))
        assert fast.plain_cell(1, fast.column_of("display_name")) is None
        fast_image = _painted(fast, qtbot, rows=(0,))
        standard_image = _painted(standard, qtbot, rows=(0,))
        assert _largest_difference(fast_image, standard_image) <= 1
        # ... and the pending tint is there, in both (not a plain paint of the old value).
        changed = QColor(theme.color("changed_bg")).rgb()
        assert any(
            fast_image.pixel(x, y) == changed for x in range(900) for y in range(40, 90)
        )
    finally:
        app.setPalette(palette)
        app.setStyle(style)
        theme.install(app, "system")


# ---------------------------------------------------------------- painting a whole view


class _QtPaintedView(RecordTableView):
    """The same table painted by Qt's own pass: a delegate call per cell."""

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        QTableView.paintEvent(self, event)


def _many_users(db: Database) -> Database:
    with db.action("Seed") as s:
        for i in range(60):
            rbac.add_user(
                s,
                f"user{i:02d}",
                f"User Number {i} With A Long Name",
                email=f"user.number.{i}@a-long-domain.example.org" if i % 3 else None,
                active=i % 4 != 1,
            )
    return db


def _view(model: RecordTableModel, qtbot: Any) -> RecordTableView:
    view = table_view(PAGES[0], model)
    view.setColumnHidden(model.column_of("has_password"), True)
    view.resize(700, 300)
    qtbot.addWidget(view)
    return view


@pytest.mark.parametrize("scheme", ["system", "dark"])
def test_a_view_painted_in_one_pass_looks_like_qts_own_pass(
    qtbot: Any, db: Database, scheme: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RecordDelegate.paint_view draws what Qt's pass draws with the same delegate,
    pixel for pixel: alternate rows, grid, elided text, check boxes, an empty e-mail,
    a hidden column; selected rows, the focused current cell and a row with a pending
    edit go through Qt's own steps for a cell; after a scroll and a partial repaint."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    palette, style = app.palette(), app.style().name()
    theme.install(app, scheme)
    try:
        _many_users(db)
        store = PendingStore()
        model = RecordTableModel(db, browse.USERS, store)
        fast = _view(model, qtbot)
        monkeypatch.setattr(table_page, "RecordTableView", _QtPaintedView)
        qt = _view(model, qtbot)
        assert type(qt) is _QtPaintedView
        painted: list[int] = []
        delegate = fast.itemDelegate()
        assert isinstance(delegate, RecordDelegate)
        original = delegate.paint_view

        def counting(view: QTableView, event: QPaintEvent) -> bool:
            done = original(view, event)
            painted.append(int(done))
            return done

        delegate.paint_view = counting  # type: ignore[method-assign]

        def grab(view: RecordTableView, focus: bool) -> QImage:
            if focus:  # one view has the focus at a time
                view.activateWindow()
                view.setFocus()
                qtbot.waitUntil(view.hasFocus)
            else:
                view.clearFocus()
            return view.grab().toImage()

        def same(focus: bool = False) -> None:
            assert grab(fast, focus) == grab(qt, focus)

        same()
        assert painted and all(painted)  # the one-pass painter drew it
        for view in (fast, qt):
            view.selectRow(2)
            view.selectionModel().select(
                model.index(5, 0),
                QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
            )
            view.setCurrentIndex(model.index(4, model.column_of("email")))
            view.show()
        store.push(Update(Entity.USER, model.id_at(3), 1, {"display_name": "Changed"}, "u"))
        same(focus=True)
        for view in (fast, qt):
            view.clearSelection()
            view.verticalScrollBar().setValue(17)
            view.horizontalScrollBar().setValue(40)
        same(focus=True)
        parts = []
        for view in (fast, qt):  # a partial repaint
            image = QImage(view.size(), QImage.Format.Format_ARGB32)
            image.fill(0)
            view.viewport().render(image, sourceRegion=QRegion(30, 40, 200, 50))
            parts.append(image)
        assert parts[0] == parts[1]
        for view in (fast, qt):  # the mouse over the table, after a drag: Qt paints it
            QTest.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(150, 60))
            QTest.mouseMove(view.viewport(), QPoint(160, 90))
            QTest.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(160, 90))
            QTest.mouseMove(view.viewport(), QPoint(300, 120))
        same(focus=True)
        for view in (fast, qt):  # the page's focus frame: a style sheet (Qt's own style)
            show_focus_frame(view)
            view.selectRow(8)
        same(focus=True)
        same(focus=False)
    finally:
        app.setPalette(palette)
        app.setStyle(style)
        theme.install(app, "system")


@pytest.mark.parametrize("kind", PAGES, ids=[p.key for p in PAGES])
def test_every_table_painted_in_one_pass_looks_like_qts_own_pass(
    qtbot: Any, seeded: Database, kind: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Roles, resources, permissions and the audit log (numbers right-aligned) too."""
    spec = browse.SPECS[kind.key]
    model = RecordTableModel(seeded, spec)
    fast = table_view(kind, model)
    monkeypatch.setattr(table_page, "RecordTableView", _QtPaintedView)
    qt = table_view(kind, model)
    images = []
    for view in (fast, qt):
        qtbot.addWidget(view)
        view.resize(900, 240)
        images.append(view.grab().toImage())
    assert images[0] == images[1]
