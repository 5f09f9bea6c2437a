"""Default layout of the table pages (issue 12, item 6): no column cut at the default
window size, the table gets the room, the details pane keeps a readable minimum."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QApplication

from accessguard_gui.ui.layout_defaults import DETAILS_MIN, split_sizes
from accessguard_gui.ui.table_page import PAGES


def test_no_column_is_cut_at_the_default_size(qtbot: Any, window: Any) -> None:
    for number, kind in enumerate(PAGES):
        if kind.key == "audit":
            continue  # the audit's Before → after column stretches and scrolls by design
        window.show_page(number)
        page = window.page(kind.key)
        QApplication.processEvents()
        view, header = page.view, page.view.horizontalHeader()
        for column in range(page.model.columnCount()):
            if header.isSectionHidden(column):
                continue
            title = page.model.headerData(column, 1)
            assert header.sectionSize(column) >= view.sizeHintForColumn(column), (kind.key, title)
            assert header.sectionSize(column) >= header.sectionSizeFromContents(column).width(), (
                kind.key,
                title,
            )
        # Every column visible without scrolling, and the details pane still readable.
        assert header.length() <= view.viewport().width() + 1, kind.key
        assert page.details.width() >= DETAILS_MIN - 10, kind.key
    window.show_page(0)
    window.grab().save("/tmp/shots/layout_users_default.png")


def test_split_gives_the_table_its_need_and_the_details_a_minimum() -> None:
    assert split_sizes(1000, 500) == [580, 420]  # details capped at 42 %
    table, details = split_sizes(1000, 900)
    assert details == DETAILS_MIN and table == 1000 - DETAILS_MIN
    assert sum(split_sizes(300, 0)) >= 2 * DETAILS_MIN  # never below two minimums


def test_effective_tab_leaves_room_for_the_username(qtbot: Any, window: Any) -> None:
    page = window.page("users")
    page.select_row(0)
    details = page.details
    details.setCurrentIndex(
        next(i for i in range(details.count()) if details.tabText(i) == "Effective access")
    )
    tab = details.currentWidget()
    qtbot.waitUntil(lambda: tab.inner.isVisible() and tab.inner.subject.text() == "alice")
    subject = tab.inner.subject
    assert subject.width() >= subject.fontMetrics().horizontalAdvance("x" * 16)
    # The username is shown whole, and the table beside it still shows every column.
    assert subject.width() > subject.fontMetrics().horizontalAdvance("alice") + 8
    header = page.view.horizontalHeader()
    assert header.length() <= page.view.viewport().width() + 1
    qtbot.wait(100)  # let the layouts settle before the picture
    window.grab().save("/tmp/shots/layout_effective_tab.png")


def test_content_widths_are_what_qt_measures_cell_by_cell(qtbot: Any, window: Any) -> None:
    """fit_columns asks the delegate about each column's widest text only (issue 11):
    the widths are the ones Qt's own pass over every sampled cell gives."""
    from accessguard_gui.ui.layout_defaults import SAMPLE_ROWS, _content

    checked = 0
    for number, kind in enumerate(PAGES):
        window.show_page(number)
        page = window.page(kind.key)
        qtbot.waitUntil(lambda p=page: p.model.rowCount() > 0)
        view, header = page.view, page.view.horizontalHeader()
        rows = min(page.model.rowCount(), SAMPLE_ROWS)
        header.setResizeContentsPrecision(rows)
        for column in range(page.model.columnCount()):
            if not header.isSectionHidden(column):
                assert _content(view, column, rows) == view.sizeHintForColumn(column), (
                    kind.key,
                    column,
                )
                checked += 1
    assert checked >= 15
