"""A report (``core.governance.reports.Report``) rendered to PDF with Qt's own writer.

The document is built with QTextCursor (text inserted as text, tables as tables): no
HTML is ever made from data, so a name such as "<b>x</b>" prints as typed. A section
longer than PDF_ROW_LIMIT rows is cut in the PDF with a line saying the CSV holds them all.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMarginsF
from PySide6.QtGui import (
    QFont,
    QPageLayout,
    QPageSize,
    QPdfWriter,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextLength,
    QTextTableFormat,
)

from ...core.governance.reports import Report, Section

PDF_ROW_LIMIT = 5000


def _format(size: float, *, bold: bool = False, italic: bool = False) -> QTextCharFormat:
    fmt = QTextCharFormat()
    font = QFont("DejaVu Sans")
    font.setPointSizeF(size)
    font.setBold(bold)
    font.setItalic(italic)
    fmt.setFont(font)
    return fmt


def _paragraph(cursor: QTextCursor, text: str, fmt: QTextCharFormat) -> None:
    cursor.insertBlock()
    cursor.insertText(text, fmt)


def _table(
    cursor: QTextCursor, columns: tuple[str, ...] | None, rows: list[tuple[str, ...]], size: float
) -> None:
    table_format = QTextTableFormat()
    table_format.setCellPadding(2)
    table_format.setCellSpacing(0)
    table_format.setBorder(0.5)
    table_format.setWidth(QTextLength(QTextLength.Type.PercentageLength, 100))
    first = 0 if columns is None else 1
    if columns is not None:
        table_format.setHeaderRowCount(1)  # repeated at the top of every page
    width = len(columns) if columns is not None else len(rows[0])
    table = cursor.insertTable(len(rows) + first, width, table_format)
    head, body = _format(size, bold=True), _format(size)
    for c, name in enumerate(columns or ()):
        table.cellAt(0, c).firstCursorPosition().insertText(name, head)
    for r, row in enumerate(rows, start=first):
        for c, value in enumerate(row):
            table.cellAt(r, c).firstCursorPosition().insertText(str(value), body)
    cursor.movePosition(QTextCursor.MoveOperation.End)


def _section(cursor: QTextCursor, section: Section) -> None:
    _paragraph(cursor, "", _format(6))
    _paragraph(cursor, section.heading, _format(12, bold=True))
    notes = [section.note] if section.note else []
    rows = list(section.rows[:PDF_ROW_LIMIT])
    if len(section.rows) > PDF_ROW_LIMIT:
        notes.append(
            f"This PDF shows the first {PDF_ROW_LIMIT:,} of {len(section.rows):,} rows; "
            "the CSV export holds them all."
        )
    for note in notes:
        _paragraph(cursor, note, _format(8, italic=True))
    if not rows:
        _paragraph(cursor, "None.", _format(9))
        return
    _table(cursor, section.columns, rows, 7.5 if len(section.columns) > 5 else 8.5)


def document(report: Report) -> QTextDocument:
    """The report as a QTextDocument (also what the window previews)."""
    doc = QTextDocument()
    doc.setDefaultFont(QFont("DejaVu Sans", 9))
    cursor = QTextCursor(doc)
    cursor.insertText(report.title, _format(16, bold=True))
    _paragraph(cursor, report.subject, _format(11))
    _paragraph(cursor, "", _format(4))
    _table(cursor, None, [(k, v) for k, v in report.stamp.lines()], 8.5)
    for section in report.sections:
        _section(cursor, section)
    return doc


def write_pdf(report: Report, path: str | Path) -> Path:
    """Render ``report`` to an A4 landscape PDF at ``path`` (page numbers at the foot)."""
    target = Path(path)
    writer = QPdfWriter(str(target))
    writer.setTitle(f"{report.title} \u2014 {report.subject}")
    writer.setCreator("AccessGuard")
    writer.setResolution(150)
    writer.setPageLayout(
        QPageLayout(
            QPageSize(QPageSize.PageSizeId.A4), QPageLayout.Orientation.Landscape,
            QMarginsF(12, 12, 12, 12), QPageLayout.Unit.Millimeter,
        )
    )
    doc = document(report)
    doc.print_(writer)
    return target
