"""A table page, an access view or a period of the audit log, written to a CSV file.

What a person saw is what the file holds: a table page is exported through the same
``browse`` query the page shows (its search, filters and sort order), read page by page
by keyset in one read transaction (a consistent snapshot; never the whole table in
memory), with the page's column titles and cells as shown (check boxes as ``yes``/``no``).
The audit log of a period is written in full (whole before/after values, times to the
microsecond), oldest first.

Every file is UTF-8 with a byte-order mark (so spreadsheets pick the encoding), RFC 4180
quoting and ``\\r\\n`` line ends; cells a spreadsheet would run as a formula are
neutralised (``cells.neutralise``). Files are written beside the target and renamed into
place at the end, so a cancelled or failed export leaves no half-written file (and an
existing file untouched).

Long exports run off the GUI thread: ``progress(rows)`` is called after every batch and
``cancelled()`` is asked as often; a cancel raises ``ImportCancelledError``.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import and_, or_, select

from .. import browse
from ..browse import FIRST_CELL, ID, SORT, BrowseQuery, Kind, TableSpec
from ..database import Database
from ..errors import ImportCancelledError, InterchangeError
from ..models import AuditEntry
from .cells import FORMULA_TRIGGERS, neutralise
from .json_doc import iso_utc

BATCH_ROWS = 5000
CANCELLED = "The export was cancelled; no file was written."
AUDIT_COLUMNS = ("at", "operator", "action", "operation", "record_type", "record_key",
                 "before", "after")

Progress = Callable[[int], None]
Cancelled = Callable[[], bool]


class ExportWriteError(InterchangeError):
    """The export file cannot be written (folder missing, no permission, disk full)."""


def _never() -> bool:
    return False


@contextmanager
def replacing(target: str | Path, *, encoding: str = "utf-8") -> Iterator[TextIO]:
    """A text stream to a new file beside ``target`` that becomes ``target`` when the
    block ends normally; on any error or cancel it is removed and ``target`` is left as
    it was (a missing target stays missing).

    Raises:
        ExportWriteError: the file cannot be created or written.
    """
    path = Path(target)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part",
                                             dir=path.parent)
    except OSError as exc:
        raise ExportWriteError(f"{path}: cannot be written ({exc.strerror}).") from None
    try:
        with os.fdopen(handle, "w", encoding=encoding, newline="") as out:
            yield out
        os.replace(temporary, path)
    except OSError as exc:
        _remove(temporary)
        raise ExportWriteError(f"{path}: cannot be written ({exc.strerror}).") from None
    except BaseException:
        _remove(temporary)
        raise


def write_csv(
    target: str | Path,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
    every: int = BATCH_ROWS,
) -> int:
    """Write ``header`` and ``rows`` (cells as text; None is empty) to ``target``, safely.

    Returns:
        The number of rows written (without the header).

    Raises:
        ImportCancelledError: ``cancelled()`` said so; no file was written.
        ExportWriteError: the file cannot be written; no file was left behind.
    """
    stop = cancelled or _never
    written = 0
    try:
        with replacing(target, encoding="utf-8-sig") as out:
            writer = csv.writer(out)
            writer.writerow([_cell(h) for h in header])
            for row in rows:
                writer.writerow([_cell(c) for c in row])
                written += 1
                if written % every == 0:
                    if stop():
                        raise ImportCancelledError(CANCELLED)
                    if progress is not None:
                        progress(written)
            if stop():
                raise ImportCancelledError(CANCELLED)
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()  # ends the read transaction of a generator left part-way
    if progress is not None:
        progress(written)
    return written


_TRIGGERS = frozenset(FORMULA_TRIGGERS + "'")


def _cell(value: Any) -> str:
    """A value as CSV text, neutralised if a spreadsheet would run it (the first-character
    test keeps the common case to one set lookup)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return neutralise(text) if text and text[0] in _TRIGGERS else text


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# ---------------------------------------------------------------------- table pages


def row_maker(spec: TableSpec) -> Callable[[Sequence[Any]], list[Any]]:
    """A function turning a ``browse.fetch_page`` row into the cells the page shows (a
    check box as ``yes``/``no``), planned once per table so each row is a slice and a few
    replacements."""
    n = len(spec.columns)
    raws = spec.raw_columns
    checks = [
        (i, FIRST_CELL + n + raws.index(i))
        for i, col in enumerate(spec.columns)
        if col.kind is Kind.BOOL and col.check
    ]
    end = FIRST_CELL + n

    def make(row: Sequence[Any]) -> list[Any]:
        cells = list(row[FIRST_CELL:end])
        for column, raw in checks:
            cells[column] = "yes" if row[raw] else "no"
        return cells

    return make


def shown_cells(spec: TableSpec, row: Sequence[Any]) -> list[str]:
    """A ``browse.fetch_page`` row as the page shows it, one text per column."""
    return ["" if c is None else str(c) for c in row_maker(spec)(row)]


def view_rows(
    db: Database, spec: TableSpec, query: BrowseQuery, *, batch: int = BATCH_ROWS
) -> Iterator[list[Any]]:
    """Every row the query shows, in its order, as shown cells: one read transaction,
    one keyset seek per batch."""
    make = row_maker(spec)
    with db.read() as session:
        plan = browse.choose_plan(session, spec, query)
        after: browse.Key | None = None
        while True:
            rows = browse.fetch_page(session, spec, query, after=after, limit=batch, plan=plan)
            for row in rows:
                yield make(row)
            if len(rows) < batch:
                return
            last = rows[-1]
            after = (last[SORT], last[ID])


def export_view(
    db: Database,
    spec: TableSpec,
    query: BrowseQuery,
    target: str | Path,
    *,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> int:
    """Write what a table page shows (``spec`` + the page's ``query``) to a CSV file.

    Returns:
        The number of rows written.
    """
    header = [col.title for col in spec.columns]
    return write_csv(target, header, view_rows(db, spec, query), progress=progress,
                     cancelled=cancelled)


# ---------------------------------------------------------------------- audit log



def audit_rows(
    db: Database, since: datetime | None, until: datetime | None, *, batch: int = BATCH_ROWS
) -> Iterator[list[str]]:
    """The audit entries with ``since <= at < until`` (either bound may be open), oldest
    first, in full: one read transaction, one keyset seek on (at, id) per batch."""
    a = AuditEntry.__table__.c
    columns = [a.id, a.at, a.operator, a.action, a.operation, a.record_type, a.record_key,
               a.before, a.after]
    bounds = []
    if since is not None:
        bounds.append(AuditEntry.at >= since)
    if until is not None:
        bounds.append(AuditEntry.at < until)
    with db.read() as session:
        last: tuple[datetime, int] | None = None
        while True:
            stmt = select(*columns).where(*bounds)
            if last is not None:
                stmt = stmt.where(
                    or_(AuditEntry.at > last[0], and_(AuditEntry.at == last[0],
                                                      AuditEntry.id > last[1]))
                )
            stmt = stmt.order_by(AuditEntry.at, AuditEntry.id).limit(batch)
            rows = session.execute(stmt).all()
            for row in rows:
                rest = ("" if v is None else str(v) for v in row[2:])
                yield [iso_utc(row[1]) if row[1] is not None else "", *rest]
            if len(rows) < batch:
                return
            last = (rows[-1][1], rows[-1][0])


def export_audit(
    db: Database,
    target: str | Path,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> int:
    """Write the audit log of a period (``since`` inclusive, ``until`` exclusive, aware
    datetimes; None leaves that end open) to a CSV file. Returns the entries written."""
    if since is not None and until is not None and until <= since:
        raise InterchangeError("The period is empty: its end is not after its start.")
    return write_csv(target, AUDIT_COLUMNS, audit_rows(db, since, until), progress=progress,
                     cancelled=cancelled)
