"""A search text longer than browse.SEARCH_MAX is refused beside the count, in words; the
table keeps what it showed (issue 8 item 5: a pasted page must not become minutes of LIKE)."""

from __future__ import annotations

from typing import Any

from accessguard_gui.core import browse
from accessguard_gui.ui.main_window import MainWindow


def test_a_too_long_search_is_refused_with_a_message(qtbot: Any, window: MainWindow) -> None:
    page = window.page("audit")
    before = page.model.rowCount()
    page.search.setText("x" * 130_000)
    page.apply_search()
    assert page.count_label.text() == "search text too long"
    assert f"at most {browse.SEARCH_MAX}" in page.count_label.toolTip()
    assert page.model.rowCount() == before
    page.search.setText("alice")
    page.apply_search()
    qtbot.waitUntil(lambda: page.count_label.text() != "search text too long", timeout=5000)
