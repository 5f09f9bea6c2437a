"""The reads behind a table model, and the counting: what a reset shows (``Snapshot``:
the count, the first page, the ids of an indexed search) and the slice-by-slice count
of a search or a large table that must scan.

These functions touch nothing but their arguments: the model runs them inline on the
GUI thread or on a worker (ui/background.py) and installs their result itself
(ui/table_model.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..core import browse
from ..core.browse import BrowseQuery, TableSpec
from .background import Job

PAGE_SIZE = browse.PAGE_SIZE
COUNT_CHUNK_IDS = 32_768  # ids per slice of a count that scans
COUNT_REPORT_S = 0.25  # how often a background count shows its running total
#: A large table just opened reads this many rows first: more than a screen shows (a
#: maximised window on a 4K screen shows ~90); the rest of page 0 follows from idle time.
FIRST_ROWS = 96


@dataclass(frozen=True)
class Snapshot:
    """What a reset shows: read by a worker (or inline), installed on the GUI thread."""

    query: BrowseQuery
    plan: browse.Plan
    total: int
    count: int
    ids: list[int] | None  # INDEXED search: every match, in order
    first: list[tuple[Any, ...]] | None  # page 0
    counting: tuple[int, int] | None  # id bounds still to count (scanning search)
    large: bool = False  # a first read found the table's ids span many rows
    partial: bool = False  # ``first`` holds only the first FIRST_ROWS rows of page 0


def read_first(
    session: Any, spec: TableSpec, q: BrowseQuery, *, large: int, budget: float | None
) -> Snapshot:
    """A model's first read, in one session: is the table large (its ids span ``large``
    or more: two index lookups, where a count reads the whole index)? A small table is
    counted and its first page read at once; a large one only has its first page read
    — within ``budget`` seconds if given (QueryStoppedError past it: the caller reads it
    again off the GUI thread) — and the id range its rows are then counted over, slice by
    slice off the GUI thread (a count of a million rows is one uninterruptible step of
    SQLite that can take most of a second on a cold file, while the first page is one
    indexed seek). A table whose ids have gaps may be smaller: it is counted the same way.
    Of page 0 only FIRST_ROWS rows are read, what a window shows: the rest of the page
    is read once the first paint is done (``Snapshot.partial``).
    """
    low, high = browse.id_bounds(session, spec)
    if high - low < large or q.term or q.filters:
        return read_snapshot(
            session, spec, q, browse.Plan.SCAN, 0, 0, recount=True, recount_total=True
        )
    if budget is None:
        page, partial = _first_rows(session, spec, q)
    else:
        with browse.bounded(session, timeout=budget):
            page, partial = _first_rows(session, spec, q)
    scan, n = browse.Plan.SCAN, len(page)
    if not partial and n < PAGE_SIZE:  # the whole table, read: counted
        return Snapshot(q, scan, n, n, None, page, None, large=True)
    # A full page 0 (as far as counted) and the rest to count, as a full first page was.
    return Snapshot(
        q, scan, PAGE_SIZE, PAGE_SIZE, None, page, (low, high), large=True, partial=partial
    )


def _first_rows(
    session: Any, spec: TableSpec, q: BrowseQuery
) -> tuple[list[tuple[Any, ...]], bool]:
    """The first FIRST_ROWS rows, and whether page 0 holds more than them (it is then
    full: it has a PAGE_SIZE-th row). A table of more rows than FIRST_ROWS but fewer
    than a page is read whole at once."""
    scan = browse.Plan.SCAN
    rows = browse.fetch_page(session, spec, q, limit=FIRST_ROWS, plan=scan)
    if len(rows) == FIRST_ROWS:
        # Row PAGE_SIZE - 1: the skipped rows are index entries only (SQLite defers
        # reading a row of the table until a column of it is needed).
        if browse.fetch_page(session, spec, q, offset=PAGE_SIZE - 1, limit=1, plan=scan):
            return [tuple(r) for r in rows], True
        rows = browse.fetch_page(session, spec, q, plan=scan)
    return [tuple(r) for r in rows], False


def read_snapshot(
    session: Any,
    spec: TableSpec,
    q: BrowseQuery,
    plan: browse.Plan,
    count: int,
    total: int,
    *,
    recount: bool,
    recount_total: bool,
    first_rows: int = PAGE_SIZE,
) -> Snapshot:
    """Count (unless only the order changed) and read the first page of ``q``. Runs on a
    worker thread for large tables: it touches nothing but its arguments.

    ``first_rows`` (a large table: FIRST_ROWS): where the count is known before the page
    is read (a sort, a filter, an indexed search), only that many rows of page 0 are
    read, what a window shows (``Snapshot.partial``)."""
    if recount_total or not total or (recount and not q.term and not q.filters):
        total = browse.count(session, spec, spec.default_query())
    if q.term and recount:
        plan = browse.choose_plan(session, spec, q)
    ids: list[int] | None = None
    first: list[tuple[Any, ...]] | None = None
    counting: tuple[int, int] | None = None
    if q.term and plan is browse.Plan.INDEXED:
        # Few matches: keep their ids in order (the order changes with a sort).
        ids = browse.matching_ids(session, spec, q)
        count = len(ids)
    elif q.term and recount:
        # The search index cannot narrow it: the first page now, the count from a slice
        # by slice scan afterwards (unless the first page holds every match).
        first = [tuple(r) for r in browse.fetch_page(session, spec, q, plan=plan)]
        count = len(first)
        counting = browse.id_bounds(session, spec) if len(first) == PAGE_SIZE else None
    elif recount:
        plan = browse.Plan.SCAN
        count = total if not q.filters else browse.count(session, spec, q, plan=plan)
    partial = False
    if count and first is None:
        limit = min(first_rows, PAGE_SIZE)
        rows = (
            browse.fetch_ids(session, spec, ids[:limit], q)
            if ids is not None
            else browse.fetch_page(session, spec, q, limit=limit, plan=plan)
        )
        first = [tuple(r) for r in rows]
        partial = len(first) == limit < min(PAGE_SIZE, count)
    return Snapshot(q, plan, total, count, ids, first, counting, partial=partial)


def count_slices(
    session: Any,
    job: Job[int],
    spec: TableSpec,
    q: BrowseQuery,
    plan: browse.Plan,
    bounds: tuple[int, int],
) -> int:
    """Count a scanning search over id slices, reporting the running total after each
    slice (the rows appear as they are counted)."""
    low, top = bounds
    counted = 0
    reported = time.monotonic()
    while low < top:
        high = min(low + COUNT_CHUNK_IDS, top)
        counted += browse.count_range(session, spec, q, low, high, plan=plan)
        low = high
        if job.cancelled:
            break
        # Every new row makes the view lay out and paint again: a few times a second is
        # enough to see the count grow (inline, on a small table, every slice).
        if low < top and (job.inline or time.monotonic() - reported >= COUNT_REPORT_S):
            job.report(counted)
            reported = time.monotonic()
    return counted
