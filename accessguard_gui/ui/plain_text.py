"""Text from data shown where Qt would guess rich text: tooltips.

A QLabel or QMessageBox can be told ``Qt.TextFormat.PlainText``; a tooltip cannot. Qt
shows a tooltip as HTML whenever ``Qt.mightBeRichText`` says so — any tag-like text in the
first line, such as a display name "<h1>x</h1>" or an error quoting one — so a tooltip
built from names, values or messages goes through ``plain_tooltip`` first.
"""

from __future__ import annotations

import html

from PySide6.QtGui import Qt


def plain_tooltip(text: str) -> str:
    """``text`` as a tooltip that shows exactly these characters.

    Text Qt would show as plain is returned unchanged; otherwise it is escaped into rich
    text (line breaks kept), so "<img src=x>" reads as typed instead of loading an image.
    """
    if not Qt.mightBeRichText(text):
        return text
    return "<p style='white-space:pre-wrap'>" + html.escape(text, quote=False) + "</p>"
