"""Render the main views to PNG (for a person to look at) and check they are not blank.

Set ACCESSGUARD_SHOTS=/some/dir to keep the pictures; otherwise they go to a temp folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from accessguard_gui.core.changes import Create, Entity
from accessguard_gui.core.database import Database
from accessguard_gui.ui.main_window import MainWindow
from accessguard_gui.ui.table_page import PAGES

from .helpers import row_of_user, type_into_cell


def _colours(image: QImage) -> int:
    """How many distinct colours a coarse grid of pixels has (a blank view has one or two)."""
    seen = set()
    for x in range(0, image.width(), 17):
        for y in range(0, image.height(), 13):
            seen.add(image.pixel(x, y))
    return len(seen)


def test_main_views_render(
    qtbot: Any, window: MainWindow, seeded: Database, tmp_path: Path, dialogs: Any
) -> None:
    out = Path(os.environ.get("ACCESSGUARD_SHOTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    window.resize(1280, 760)
    window.act_save.trigger()  # nothing pending: nothing happens
    for number, kind in enumerate(PAGES):
        window.show_page(number)
        page = window.page(kind.key)
        if page.model.rowCount():
            page.select_row(0)
        QApplication.processEvents()
        image = window.grab().toImage()
        assert image.save(str(out / f"view_{kind.key}.png"))
        assert _colours(image) > 5, kind.key
        assert page.details.isVisible() and page.count_label.text()

    # Pending edits of every kind, then a failed save with its marked row.
    window.show_page(0)
    users = window.page("users")
    window.store.push(Create(Entity.USER, {"username": "newbie", "active": True}))
    type_into_cell(qtbot, users, row_of_user(users, seeded, "bob"), "username", "alice")
    window.act_save.trigger()
    assert dialogs.errors
    QApplication.processEvents()  # let the layouts settle before the picture
    image = window.grab().toImage()
    assert image.save(str(out / "view_failed_save.png"))
    assert "Not saved" in users.details.record.status.text()
