"""A visible keyboard focus on tables and other frameless scroll areas.

The style's focus rectangle on a table's current cell vanishes inside a selected row, and
Fusion paints the selection the same whether the table has the focus or not: a keyboard
user cannot see that the focus is in the table. A frame in the scheme's highlight colour
while the widget has the focus says it. The frame has the same width with or without the
focus, so nothing moves when the focus comes.
"""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractScrollArea

_FRAME = (
    "{kind} {{ border: 1px solid palette(mid); padding: 1px; }}"
    "{kind}:focus {{ border: 2px solid palette(highlight); padding: 0px; }}"
)
_FRAMELESS = (
    "{kind} {{ border: 2px solid transparent; }}"
    "{kind}:focus {{ border: 2px solid palette(highlight); }}"
)


def show_focus_frame(widget: QAbstractScrollArea, *, frameless: bool = False) -> None:
    """Give ``widget`` the focus frame (re-apply after a colour scheme change: the style
    sheet takes the highlight colour when it is set). ``frameless``: no frame unless it
    has the focus (a details pane). A widget with a style sheet of its own keeps it."""
    # The Qt class it is (a style sheet's type selector also matches its subclasses).
    kind = next(b.__name__ for b in type(widget).__mro__ if b.__module__.startswith("PySide6"))
    sheet = (_FRAMELESS if frameless else _FRAME).format(kind=kind)
    if widget.styleSheet() and widget.styleSheet() != widget.property("ag_focus_frame"):
        return
    widget.setStyleSheet(sheet)
    widget.setProperty("ag_focus_frame", sheet)
