"""Default proportions of a table page (issue 12, item 6): columns as wide as their
content within limits, and the table given the room it needs before the details pane.

Used only when no layout was saved for the page: a user's own column widths and splitter
positions always win.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetricsF
from PySide6.QtWidgets import QHeaderView, QListWidget, QTableView

DETAILS_MIN = 320  # px: the details tabs' titles and a readable form
DETAILS_SHARE = 0.42  # at most this share of the page goes to the details pane
COLUMN_MAX_CHARS = 40  # a column never starts wider than this many average characters
SORT_ARROW = 22  # px beside a header's text for the sort indicator (any column may be sorted)
SAMPLE_ROWS = 100  # content widths are read from the first rows only (lazy models)


def fit_columns(view: QTableView) -> int:
    """Size every visible column to its header and the first rows' content, between the
    header's own width and ``COLUMN_MAX_CHARS``; the last column is left to stretch.
    Returns the width the columns need together."""
    header = view.horizontalHeader()
    model = view.model()
    if model is None:
        return 0
    ceiling = view.fontMetrics().averageCharWidth() * COLUMN_MAX_CHARS
    rows = min(model.rowCount(), SAMPLE_ROWS)
    total = 0
    shown = [c for c in range(model.columnCount()) if not header.isSectionHidden(c)]
    last = shown[-1] if shown else -1
    for column in shown:
        # The header's text plus room for the sort arrow drawn beside it.
        floor = header.sectionSizeFromContents(column).width() + SORT_ARROW
        need = max(floor, _content(view, column, rows) + 8)
        width = max(floor, min(need, ceiling))
        total += width
        if column == last and header.stretchLastSection():
            # It fills what is left (no side scroll for a long last column).
            width = floor
        if header.sectionResizeMode(column) == QHeaderView.ResizeMode.Interactive:
            header.resizeSection(column, width)
    return total


def _content(view: QTableView, column: int, rows: int) -> int:
    """What ``view.sizeHintForColumn`` says for the first ``rows`` rows, asking the
    delegate only about the cells whose text is widest in its font. Qt's own pass asks it
    about every cell (~8 ``data()`` calls each, 5,600 for the users page); this asks for
    two roles a cell (users page, 1M file: ~10 -> ~7 ms of a window's opening, issue 11).
    A cell's hint is its text's width plus what the column adds to every cell alike
    (margins, a check box), so the widest text has the widest hint. (Equal to Qt's figure
    on every page of the demo and the 1M file; a delegate whose size hint measured other
    words than the cell's text would need Qt's pass.)"""
    model = view.model()
    if not rows or model is None:
        return 0
    base = view.font()
    fonts: dict[str, QFontMetricsF] = {}
    widths: dict[tuple[float, str], int] = {}  # (text width, font): a row with it
    for row in range(rows):
        index = model.index(row, column)
        text = index.data(Qt.ItemDataRole.DisplayRole)
        if text is None:
            continue
        font = index.data(Qt.ItemDataRole.FontRole)
        metrics_font = font if isinstance(font, QFont) else base
        key = metrics_font.key()
        metrics = fonts.get(key)
        if metrics is None:
            metrics = fonts[key] = QFontMetricsF(metrics_font)
        widths.setdefault((metrics.horizontalAdvance(str(text)), key), row)
    widest = max((width for width, _key in widths), default=0.0)
    # The style lays the text out in fractions of a pixel and rounds up: texts of one
    # width give one hint, and a text a hair narrower than the widest cannot give more.
    candidates = [row for (width, _key), row in widths.items() if width > widest - 0.05]
    hint = max(view.sizeHintForIndex(model.index(row, column)).width() for row in candidates or [0])
    return hint + 1 if view.showGrid() else hint  # as sizeHintForColumn: the grid line


def split_sizes(total: int, table_need: int) -> list[int]:
    """[table, details] for a page ``total`` pixels wide: the table gets what its columns
    need (plus the scroll bar) as long as the details pane keeps ``DETAILS_MIN``; the
    details pane never takes more than ``DETAILS_SHARE`` of the page."""
    total = max(total, 2 * DETAILS_MIN)
    details_max = int(total * DETAILS_SHARE)
    table = max(total - details_max, min(table_need + 24, total - DETAILS_MIN))
    return [table, total - table]


def nav_width(nav: QListWidget) -> int:
    """The navigation list as wide as its longest page name (with its padding), no wider."""
    return max(nav.minimumWidth(), nav.sizeHintForColumn(0) + 28)
