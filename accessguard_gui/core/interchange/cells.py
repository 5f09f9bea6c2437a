"""Spreadsheet-safe CSV cells: exported text a spreadsheet would run as a formula is
neutralised, and the importer undoes exactly that, so a round trip is lossless.

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula
to Excel, LibreOffice and Google Sheets (CSV injection, OWASP). Such a cell is written
with one apostrophe in front (``'=1+1``), which spreadsheets show as text. To keep the
mapping reversible, a cell that already starts with apostrophes followed by one of those
characters (``'=x``) gets one more (``''=x``). Reading removes one leading apostrophe from
any cell that starts with one or more apostrophes followed by a trigger character.

Shared by the CSV directory format and by the table views' CSV export.
"""

from __future__ import annotations

import re

FORMULA_TRIGGERS = "=+-@\t\r"
_NEUTRALISED = re.compile(r"'*[=+\-@\t\r]")
_RESTORABLE = re.compile(r"'+[=+\-@\t\r]")
_FIRST = FORMULA_TRIGGERS + "'"  # a cheap look at the first character before the pattern


def neutralise(text: str) -> str:
    """The cell as written to a CSV file a spreadsheet may open."""
    if text[:1] in _FIRST and text and _NEUTRALISED.match(text):
        return "'" + text
    return text


def restore(text: str) -> str:
    """The value of a cell written by ``neutralise`` (other text is returned as is)."""
    if text.startswith("'") and _RESTORABLE.match(text):
        return text[1:]
    return text
