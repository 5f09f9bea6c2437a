"""Light and dark: AccessGuard's own colours follow the scheme (ui/theme.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from accessguard_gui.ui import theme
from accessguard_gui.ui.access import common
from accessguard_gui.ui.main_window import MainWindow


@pytest.fixture
def dark() -> Iterator[QApplication]:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    palette, style = app.palette(), app.style().name()
    theme.install(app, "dark")
    try:
        yield app
    finally:
        app.setPalette(palette)
        app.setStyle(style)
        theme.install(app, "system")  # our colours back to the (light) test palette


def lightness(name: str) -> int:
    return theme.brush(name).color().lightness()


def test_forcing_dark_darkens_the_window_and_our_own_colours(
    qtbot: Any, window: MainWindow, dark: QApplication
) -> None:
    assert theme.is_dark()
    assert window.palette().color(QPalette.ColorRole.Window).lightness() < 128
    text = window.palette().color(QPalette.ColorRole.Text).lightness()
    # Pending/new/failed backgrounds are dark under light text, not pale under it.
    for name in ("changed_bg", "new_bg", "failed_bg", "inherited_bg", "pending_bg"):
        assert lightness(name) < 100 < text, name
    # Allowed/denied text is light enough to read on the dark window.
    assert common.GREEN.lightness() > 128 and common.RED.lightness() > 128
    assert "#4d4000" in theme.banner_style()
    window.grab().save("/tmp/theme-dark.png")


def test_shared_brushes_are_recoloured_in_place(dark: QApplication) -> None:
    shared = theme.brush("pending_bg")
    theme.install(dark, "light")
    assert theme.brush("pending_bg") is shared and shared.color().lightness() > 200
    theme.install(dark, "dark")
    assert shared.color().lightness() < 100
