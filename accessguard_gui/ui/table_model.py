"""Lazy, SQL-sorted and SQL-filtered table models that stay smooth at a million rows.

Design: **rowCount() is the real row count** (``SELECT count(*)`` with the current filter,
plus pending new rows shown at the top), and rows live in a **bounded cache of pages** of
``PAGE_SIZE`` rows around what the view shows:

- ``data()`` never runs SQL. It finds the row's page in a dict and returns a string the
  database already formatted (core/browse.py computes display cells in SQL). A row whose
  page is not cached returns nothing and asks for the page; a zero-delay timer then calls
  ``fetchMore()``, which loads every asked-for page in **one short read**
  (``db.read()``) and emits ``dataChanged`` — the view repaints them a moment later.
  ``canFetchMore()`` is True while such pages are asked for.
- Each page is read by a **keyset seek** on (sort value, id): page p starts just after the
  key that ends page p-1. The model remembers these *anchors* for every page it has read,
  and after every reset it fills in the rest from idle time: ``browse.page_anchors``
  reads the key of every 256th row, a chunk of 64 pages per timer tick (a few ms each, in C),
  until the whole order is covered (~4,000 keys for 1M rows). From then on any page —
  the middle of the table after a scroll-bar drag, row 500,000 for Ctrl+G, the end for
  Ctrl+End — is one indexed seek, flat in table size. Before its anchor is known a page is
  read from the nearest known anchor (or from the end) with a short OFFSET.
- At most ``max_pages`` pages are kept; loading another evicts the page farthest from it,
  so scrolling through a million rows keeps memory flat.
- Sorting (``sort()``) and searching (``set_search()``) happen in SQL (browse.py) and reset
  the model with the new count; ``refresh()`` re-reads keeping sort and search. A search of
  3+ characters with few candidates (< 20,000) in the FTS5 trigram index reads the ids of
  its matches once, in order (``browse.matching_ids``): its count is their number and
  each page is one read of 256 ids, so its pages cost the same at any table size. A search the index cannot narrow (1-2
  characters, or matches in most rows) shows its first page at once; its count then
  runs from idle time over slices of 32k ids, and rows are inserted at the end as the
  count grows (``is_counting()``, ``counting_finished``; ``counts_changed`` each slice).

Pending edits overlay: given a ``PendingStore``, the model shows pending values in place of
stored ones, new records (``store.created``) as rows at the top, and marks changed cells
(bold, tinted), new rows (green), rows marked for deletion (struck out, grey) and rows of a
failed save (red, the reason as tooltip). ``setData`` validates with core.validation and
pushes a ``core.changes.Update`` to the store; it never writes to the database.

A large table just opened shows its first page at once and counts its rows off the GUI
thread the same way (SQLite's count of a million rows is one step it cannot interrupt).

The model is split along its reasons to change: the page cache and the anchors
(ui/table_pages.py, ``PageCache``), the reads and the counting (ui/table_reads.py), the
pending overlay (ui/table_overlay.py, ``PendingOverlay``); this module keeps Qt's model
API, searching and sorting, and ties them together. Their public names (``ItemRole``,
``RowState``, the limits) stay importable from here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QCoreApplication,
    QEventLoop,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)

from ..core import browse, type_ahead, validation
from ..core.browse import FIRST_CELL, ID, BrowseQuery, Key, Kind, Record, TableSpec
from ..core.changes import Create, Entity, Update
from ..core.database import Database
from ..core.errors import AccessGuardError, QueryStoppedError, ValidationError
from .background import BackgroundReads, Job
from .pending import PendingStore
from .table_overlay import (  # the item roles, as plain ints (data() is hot)
    _BACKGROUND,
    _CHECK,
    _CHECKED,
    _DISPLAY,
    _EDIT,
    _FONT,
    _FOREGROUND,
    _PLAIN_NOTHING,
    _TOOLTIP,
    _UNCHECKED,
    PendingOverlay,
)
from .table_overlay import ItemRole as ItemRole  # importable here, as before
from .table_overlay import RowState as RowState
from .table_pages import ANCHOR_CHUNK_PAGES as ANCHOR_CHUNK_PAGES  # importable here
from .table_pages import PageCache
from .table_reads import COUNT_CHUNK_IDS as COUNT_CHUNK_IDS  # importable here, as before
from .table_reads import COUNT_REPORT_S as COUNT_REPORT_S
from .table_reads import FIRST_ROWS, Snapshot, count_slices, read_first, read_snapshot

PAGE_SIZE = browse.PAGE_SIZE
MAX_PAGES = 64
#: Tables with at least this many rows search, sort, filter and count off the GUI thread
#: (smaller ones answer in a few ms, at once, on the calling thread).
BACKGROUND_ROWS = 50_000
#: A large table's search, sort or page read is tried on the GUI thread for this long
#: first (most answer in a few ms: no thread hop, no blank rows); past it, a worker.
INLINE_BUDGET_S = 0.03
#: A small table reads on the GUI thread at once, as it always did — but never unbounded:
#: a read past this (megabyte cells written by another tool, a pathological search) is
#: stopped and handed to a worker, like a large table's, with "searching…" and Cancel.
SMALL_TABLE_BUDGET_S = 1.0

Index = QModelIndex | QPersistentModelIndex

_ALIGN = int(Qt.ItemDataRole.TextAlignmentRole)
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


_RECORD_ID = int(ItemRole.RECORD_ID)
_STATE = int(ItemRole.STATE)
_VALIDATORS: dict[tuple[Entity, str], Any] = {
    (Entity.USER, "username"): validation.username,
    (Entity.USER, "display_name"): validation.display_name,
    (Entity.USER, "email"): validation.email,
    (Entity.ROLE, "name"): validation.role_name,
    (Entity.ROLE, "description"): validation.description,
    (Entity.RESOURCE, "name"): validation.resource_name,
    (Entity.RESOURCE, "description"): validation.description,
    (Entity.PERMISSION, "action"): validation.action,
    (Entity.PERMISSION, "description"): validation.description,
}


class RecordTableModel(PageCache, PendingOverlay, QAbstractTableModel):
    """One table (users, roles, …) of a database, read lazily page by page.

    Args:
        db: the open database (read with short ``db.read()`` sessions).
        spec: what to show (``browse.USERS``, ``browse.ROLES``, …).
        pending: the window's pending edits; without it the model is read-only.
        max_pages: bound of the page cache.

    Signals:
        counts_changed(shown, total): rows matching the search and filters, and all rows.
        edit_refused(message): ``setData`` refused a value (the reason, for a person).
        anchors_ready(): every page can now be reached with one seek (for tests/benchmarks).
        counting_finished(): a search that scans the table has its final count (rows were
            added at the end as slices of the table were counted; see ``is_counting``).
        busy_changed(bool): a search, sort or count started / ended off the GUI thread.
        read_failed(str): a background read failed (the reason, for a person); the table
            keeps what it showed.

    Large tables (``background_rows`` rows or more) search, sort, filter and count on a
    worker thread (ui/background.py): ``set_search`` returns at once, the table keeps
    showing the previous rows until the new first page is ready, and a newer request
    cancels the older one (its SQL is interrupted; its result is never shown).
    """

    counts_changed = Signal(int, int)
    edit_refused = Signal(str)
    anchors_ready = Signal()
    counting_finished = Signal()
    busy_changed = Signal(bool)
    read_failed = Signal(str)

    def __init__(
        self,
        db: Database,
        spec: TableSpec,
        pending: PendingStore | None = None,
        parent: QObject | None = None,
        *,
        max_pages: int = MAX_PAGES,
        background_rows: int = BACKGROUND_ROWS,
        inline_budget: float = INLINE_BUDGET_S,
    ) -> None:
        super().__init__(parent)
        self.db = db
        self.spec = spec
        self.pending = pending
        self.max_pages = max(4, max_pages)
        self.background_rows = background_rows
        self.inline_budget = inline_budget
        self._query = spec.default_query()  # what the user asked for last
        self._shown = self._query  # what the cached pages and the count belong to
        self._reads = BackgroundReads(db, self)
        self._reset_job: Job[Snapshot | None] | None = None
        self._count_job: Job[int] | None = None
        self._prefix_job: Job[int | None] | None = None
        # A type-ahead row found past the rows counted so far: (view, row, found), answered
        # when the count reaches it (``_answer_prefix_when_counted``).
        self._prefix_waiting: tuple[Any, int, Callable[[int | None], None]] | None = None
        self._anchor_job: Job[None] | None = None
        self._was_busy = False
        n = len(spec.columns)
        self._ncols = n
        raws = spec.raw_columns
        # Where each column's value for EditRole sits in a row tuple.
        self._edit_at = [
            FIRST_CELL + n + raws.index(i) if i in raws else FIRST_CELL + i for i in range(n)
        ]
        self._bool_at = {
            i: FIRST_CELL + n + raws.index(i)
            for i, c in enumerate(spec.columns)
            if c.kind is Kind.BOOL
        }
        # Bool columns drawn as check boxes (CheckStateRole).
        self._check_at = {i: at for i, at in self._bool_at.items() if spec.columns[i].check}
        self._right = {i for i, c in enumerate(spec.columns) if c.kind is Kind.INT}
        self._titles = [c.title for c in spec.columns]
        self._keys = [c.key for c in spec.columns]
        self._base_flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        self._flags: list[Qt.ItemFlag] = []
        self._update_flags()

        self._large = False  # the first read found the table large (ids span many rows)
        self._total_known = True  # False while a large table's rows are being counted
        self._count = 0  # rows matching the query, in the database
        self._total = 0  # all rows of the table
        self._pages: dict[int, list[tuple[Any, ...]]] = {}
        self._partial: dict[int, int] = {}  # page -> rows read of it (a first read)
        self._anchors: dict[int, Key] = {}  # page -> key of the row just before it
        self._anchor_scan: tuple[int, Key | None] | None = None  # next page, its anchor
        self._row_of: dict[int, int] = {}  # record id -> database row (cached pages only)
        self._wanted: set[int] = set()
        self._loading: set[int] = set()  # pages a worker is reading
        self._last_page = 0
        self._plan = browse.Plan.SCAN
        self._counting: tuple[int, int] | None = None  # (ids counted up to, last id)
        self._counted = 0
        self._ids: list[int] | None = None  # INDEXED search: every match's id, in order
        self._id_pos: dict[int, int] | None = None
        self._generation = 0

        # Pending overlay.
        self._created: list[Create] = []
        self._created_rows: list[tuple[Any, ...]] = []
        self._ncreated = 0
        self._pending_values: dict[int, dict[str, Any]] = {}
        self._patched: dict[int, tuple[Any, ...]] = {}
        self._deleted: set[int] = set()
        self._failed: dict[int, str] = {}
        self._nothing = _PLAIN_NOTHING
        self._marked_flag = False

        self._load_timer = QTimer(self)
        self._load_timer.setSingleShot(True)
        self._load_timer.setInterval(0)
        self._load_timer.timeout.connect(self._load_wanted)
        self._anchor_timer = QTimer(self)
        self._anchor_timer.setSingleShot(True)
        self._anchor_timer.setInterval(0)
        self._anchor_timer.timeout.connect(self._anchor_tick)

        if pending is not None:
            pending.changed.connect(self._pending_changed)
            self._rebuild_overlay()
        self._reset(recount_total=True, emit_reset=False, first=True)

    # ------------------------------------------------------------------ Qt model API

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid():
            return 0
        return self._count + self._ncreated

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid():
            return 0
        return self._ncols

    def data(self, index: Index, role: int = _DISPLAY) -> Any:
        # Called ~7 times per painted cell: the common answers come first and cheaply.
        if role == _DISPLAY:
            r = index.row() - self._ncreated
            if r >= 0:
                page = self._pages.get(r // PAGE_SIZE)
                if page is None:
                    self._want(r // PAGE_SIZE)
                    return None
                if r % PAGE_SIZE >= len(page):
                    if r // PAGE_SIZE in self._partial:
                        self._want(r // PAGE_SIZE)
                    return None
                row = page[r % PAGE_SIZE]
                if self._patched:
                    row = self._patched.get(row[ID], row)
                return row[FIRST_CELL + index.column()]
        elif role in self._nothing:
            return None
        return self._other_data(index, role)

    def plain_cell(self, row: int, column: int) -> str | bool | None:
        """What a cell shows when it is drawn plainly, else None.

        For the table's delegate (ui/delegates.py): one Python call per painted cell
        instead of Qt's ~7 ``data()`` calls, one per role. A cell is plain when it belongs
        to a stored row without pending edits, a failed save or a deletion mark: its
        display string, or for a check box column whether it is ticked. Everything else
        (new rows, marked rows, a page not read yet) returns None, and the delegate
        paints it the full way, through ``data()``.
        """
        r = row - self._ncreated
        if r < 0:
            return None
        page = self._pages.get(r // PAGE_SIZE)
        if page is None or r % PAGE_SIZE >= len(page):
            return None
        cells = page[r % PAGE_SIZE]
        if self._marked_flag:
            rid = cells[ID]
            if rid in self._pending_values or rid in self._deleted or rid in self._failed:
                return None
        at = self._check_at.get(column)
        if at is not None:
            return bool(cells[at])
        text = cells[FIRST_CELL + column]
        return text if type(text) is str else None

    def right_aligned(self, column: int) -> bool:
        """Is the column's text right-aligned (numbers)?"""
        return column in self._right

    def _other_data(self, index: Index, role: int) -> Any:
        r = index.row() - self._ncreated
        if r < 0:
            return self._created_data(r + self._ncreated, index.column(), role)
        page = self._pages.get(r // PAGE_SIZE)
        if page is None or r % PAGE_SIZE >= len(page):
            return None
        row = page[r % PAGE_SIZE]
        c = index.column()
        if self._marked and role in (_FONT, _BACKGROUND, _FOREGROUND, _TOOLTIP):
            return self._mark_data(row[ID], c, role)
        if role == _CHECK:
            at = self._check_at.get(c)
            if at is None:
                return None
            if self._patched:
                row = self._patched.get(row[ID], row)
            return _CHECKED if row[at] else _UNCHECKED
        if role == _EDIT:
            if self._patched:
                row = self._patched.get(row[ID], row)
            value = row[self._edit_at[c]]
            return bool(value) if c in self._bool_at else value
        if role == _ALIGN:
            if c in self._right:
                return _RIGHT
            return None
        if role == _RECORD_ID:
            return row[ID]
        if role == _STATE:
            return str(self._state_of(row[ID]))
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY) -> Any:
        if role != _DISPLAY:
            return None
        if orientation == Qt.Orientation.Horizontal:
            if 0 <= section < self._ncols:
                return self._titles[section]
            return None
        if section < self._ncreated:
            return "+"
        return section - self._ncreated + 1

    def flags(self, index: Index) -> Qt.ItemFlag:
        c = index.column()
        if c < 0:
            return Qt.ItemFlag.NoItemFlags
        if self._ncreated or self._deleted:
            r = index.row() - self._ncreated
            if r < 0 or (self._deleted and self._id_at(r) in self._deleted):
                return self._base_flags
        return self._flags[c]

    def setData(self, index: Index, value: Any, role: int = _EDIT) -> bool:
        if not index.isValid() or self.pending is None or self.spec.entity is None:
            return False
        c = index.column()
        col = self.spec.columns[c]
        if not col.editable or self.db.read_only:
            return False
        r = index.row() - self._ncreated
        if r < 0:
            return False
        row = self._stored_row(r)
        if row is None or row[ID] in self._deleted:
            return False
        if col.kind is Kind.BOOL:
            if role == _CHECK:
                new: Any = value in (_CHECKED, int(_CHECKED.value)) or value is True
            elif role == _EDIT:
                new = bool(value)
            else:
                return False
        elif role == _EDIT:
            check = _VALIDATORS.get((self.spec.entity, col.key))
            try:
                new = check(value) if check is not None else value
            except ValidationError as exc:
                self.edit_refused.emit(exc.message)
                return False
        else:
            return False
        shown = self._patched.get(row[ID], row)
        current = shown[self._edit_at[c]]
        if col.kind is Kind.BOOL:
            current = bool(current)
        elif col.nullable and current == "":
            current = None
        if new == current:
            return True
        label_at = self.spec.index_of(self.spec.label_key) if self.spec.label_key else 0
        label = str(shown[FIRST_CELL + label_at])
        self.pending.push(
            Update(
                self.spec.entity,
                int(row[ID]),
                row[1],
                {col.key: new},
                label,
                before={col.key: current},
            )
        )
        return True

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < self._ncols or not self.spec.columns[column].sortable:
            return
        descending = order == Qt.SortOrder.DescendingOrder
        query = self._query.sorted_by(self._keys[column], descending)
        if query == self._query:
            return
        self._query = query
        # Same rows in another order: the count stands, unless it was still being counted
        # (or a search whose count is not known yet is still on its way).
        self._reset(
            recount=self._counting is not None
            or self._ids is not None
            or self._reset_job is not None
            or query.term != self._shown.term
            or query.filters != self._shown.filters
        )

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and bool(self._wanted)

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        if not parent.isValid():
            self._load_wanted()

    # ------------------------------------------------------------------ our API

    @property
    def query(self) -> BrowseQuery:
        return self._query

    def counts(self) -> tuple[int, int]:
        """(rows shown by the search and filters, all rows of the table)."""
        return self._count, self._total

    def column_key(self, column: int) -> str | None:
        if 0 <= column < self._ncols:
            return self._keys[column]
        return None

    def column_of(self, key: str) -> int:
        return self.spec.index_of(key)

    def sort_column(self) -> int:
        return self.spec.index_of(self._query.sort or self.spec.default_sort)

    def sort_order(self) -> Qt.SortOrder:
        if self._query.descending:
            return Qt.SortOrder.DescendingOrder
        return Qt.SortOrder.AscendingOrder

    def set_search(self, text: str) -> None:
        """Show only rows containing ``text`` (literal, case-insensitive) — in SQL."""
        if text.strip() == self._query.term:
            self._query = self._query.searching(text)
            return
        self._query = self._query.searching(text)
        self._reset()

    def set_filter(self, key: str, value: Any) -> None:
        """Show only rows whose ``key`` column equals ``value``; None removes the filter."""
        query = self._query.filtered(**{key: value})
        if query != self._query:
            self._query = query
            self._reset()

    def set_query(self, query: BrowseQuery) -> None:
        """Sort, search and filters at once (e.g. restored from settings)."""
        if query != self._query:
            self._query = query
            self._reset()

    def refresh(self) -> None:
        """Re-read counts and rows, keeping sort, search and filters (F5, after a save)."""
        if self._query.term or self._reset_job is not None or self._query != self._shown:
            self._reset(recount_total=True)  # searched again (and counted off the GUI thread)
            return
        old_count = self._count
        recent = sorted(self._pages, key=lambda p: abs(p - self._last_page))[:4]
        count, total = self._read_counts(recount_total=True)
        if count != old_count:
            self._reset(recount_total=True)
            return
        self._total = total
        self._drop_cache()
        self._generation += 1
        self._load_pages(recent or [0])
        self._start_anchor_scan()
        if self.rowCount():
            self.dataChanged.emit(
                self.index(0, 0), self.index(self.rowCount() - 1, self._ncols - 1)
            )
        self.counts_changed.emit(self._count, self._total)

    def record(self, row: int) -> Record | None:
        """The stored snapshot of a row (id, version, values) — None for a pending new row."""
        r = row - self._ncreated
        if r < 0 or r >= self._count:
            return None
        stored = self._stored_row(r, load=True)
        return browse.to_record(self.spec, stored) if stored is not None else None

    def created_edit(self, row: int) -> Create | None:
        """The pending ``Create`` a row at the top shows, None for stored rows."""
        if 0 <= row < self._ncreated:
            return self._created[row]
        return None

    def row_state(self, row: int) -> RowState:
        r = row - self._ncreated
        if r < 0:
            return RowState.NEW
        stored = self._stored_row(r)
        return self._state_of(stored[ID]) if stored is not None else RowState.STORED

    def id_at(self, row: int) -> int | None:
        """The record id of a row (loads its page if needed), None for a new row."""
        r = row - self._ncreated
        if r < 0 or r >= self._count:
            return None
        stored = self._stored_row(r, load=True)
        return int(stored[ID]) if stored is not None else None

    def row_for_id(self, record_id: int) -> int | None:
        """The row showing a record, None if the search/filters hide it.

        Cached rows answer at once; otherwise one count over the index finds its position.
        """
        r = self._row_of.get(record_id)
        if r is None and self._ids is not None:
            if self._id_pos is None:
                self._id_pos = {rid: n for n, rid in enumerate(self._ids)}
            r = self._id_pos.get(record_id)
            return None if r is None else r + self._ncreated
        if r is None:
            with self.db.read() as s:
                r = browse.position_of(s, self.spec, self._shown, record_id, plan=self._plan)
        return None if r is None else r + self._ncreated

    def find_prefix(self, prefix: str, found: Callable[[int | None], None]) -> None:
        """Find the first row whose sorted column starts with ``prefix`` (type-ahead) and
        call ``found(row)`` — None if no row shown does, or the column holds no text.

        One keyset seek and one count in SQL (``type_ahead.first_with_prefix``): tried on the
        GUI thread within the inline budget, else on a worker (a newer prefix cancels an
        older lookup). A result for a view that changed meanwhile is dropped.
        """
        if self._prefix_job is not None:
            self._prefix_job.cancel()
            self._prefix_job = None
        self._prefix_waiting = None
        shown, spec, plan = self._shown, self.spec, self._plan
        if not prefix or not type_ahead.can_jump_by_prefix(spec, shown):
            found(None)
            return

        def work(session: Any, _job: Job[int | None]) -> int | None:
            return type_ahead.first_with_prefix(session, spec, shown, prefix, plan=plan)

        def done(row: int | None) -> None:
            self._prefix_job = None
            if self._shown is not shown:
                return
            if row is not None and row >= self._count and self._counting is not None:
                # The row exists but is not counted yet (a large table just opened, or a
                # scanning search): "no match" would be wrong; it is selected once counted.
                self._prefix_waiting = (shown, row, found)
                return
            found(None if row is None or row >= self._count else row + self._ncreated)

        job = self._reads.submit(work, done, failed=self._read_failed, budget=self.inline_budget)
        if not job.inline:
            self._prefix_job = job

    def _answer_prefix_when_counted(self, done: bool) -> None:
        """A type-ahead answer waiting for the count: given once its row is counted
        (or as "no match" if the count ended short of it: rows went away meanwhile)."""
        waiting = self._prefix_waiting
        if waiting is None:
            return
        shown, row, found = waiting
        if shown is not self._shown:
            self._prefix_waiting = None  # another search or sort: the answer is stale
            return
        if row < self._count:
            self._prefix_waiting = None
            found(row + self._ncreated)
        elif done:
            self._prefix_waiting = None
            found(None)

    def can_find_prefix(self) -> bool:
        """Does type-ahead work on the current sort column (it holds text)?"""
        return type_ahead.can_jump_by_prefix(self.spec, self._shown)

    def ensure_loaded(self, first: int, last: int | None = None) -> None:
        """Load the rows ``first..last`` now (for jumps, tests and benchmarks)."""
        last = first if last is None else last
        lo = max(0, first - self._ncreated)
        hi = min(self._count - 1, last - self._ncreated)
        if hi < lo:
            return
        pages = [
            p
            for p in range(lo // PAGE_SIZE, hi // PAGE_SIZE + 1)
            if p not in self._pages or p in self._partial
        ]
        if pages:
            self._load_pages(pages)

    def is_counting(self) -> bool:
        """True while a scanning search is still being counted (rowCount may grow)."""
        return self._counting is not None

    def is_busy(self) -> bool:
        """True while a search, sort or count runs off the GUI thread."""
        return self._reads.busy()

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Process events until the background reads are done (tests, benchmarks)."""
        done = self._wait(lambda: not self.is_busy(), timeout)
        QCoreApplication.processEvents()
        return done

    def wait_shown(self, timeout: float = 60.0) -> bool:
        """Process events until the last search/sort/filter is shown (its first page and
        count, or its first page while it is counted) — tests, benchmarks."""
        return self._wait(lambda: self._reset_job is None, timeout)

    def finish_counting(self, timeout: float = 120.0) -> None:
        """Wait for a scanning search's count to end (tests, benchmarks)."""
        self._wait(lambda: self._reset_job is None and self._counting is None, timeout)

    def _wait(self, ready: Callable[[], bool], timeout: float) -> bool:
        end = time.monotonic() + timeout
        if ready():
            return True
        # Sleep in the event loop until something is posted (a worker's answer wakes it
        # at once); the timer only bounds a wait for a job that answers nothing.
        wake = QTimer()
        wake.start(5)
        try:
            while not ready() and time.monotonic() < end:
                QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
        finally:
            wake.stop()
        return ready()

    def close(self) -> None:
        """Stop the background reads (the database is about to be closed)."""
        self._reads.cancel_all()
        self._reads.wait_done(10.0)

    def finish_anchors(self) -> None:
        """Run the background anchor scan to its end now (tests, benchmarks)."""
        if self._total >= self.background_rows and self._anchor_scan is not None:
            self._anchor_timer.stop()
            if self._anchor_job is None:
                self._start_anchor_job()
            self._wait(lambda: self._anchor_scan is None, 120.0)
            return
        self._anchor_timer.stop()
        while self._anchor_scan is not None:
            self._scan_anchors_chunk(restart=False)

    def cached_pages(self) -> int:
        return len(self._pages)

    def known_anchors(self) -> int:
        return len(self._anchors)

    # ------------------------------------------------------------------ loading

    def _read_counts(self, *, recount_total: bool, session: Any = None) -> tuple[int, int]:
        if session is None:
            with self.db.read() as s:
                return self._read_counts(recount_total=recount_total, session=s)
        q, s = self._shown, session
        self._plan = browse.choose_plan(s, self.spec, q)
        count = browse.count(s, self.spec, q, plan=self._plan)
        if not q.term and not q.filters:
            total = count
        elif recount_total or not self._total:
            total = browse.count(s, self.spec, self.spec.default_query())
        else:
            total = self._total
        return count, total

    def _reset(
        self,
        *,
        recount: bool = True,
        recount_total: bool = False,
        emit_reset: bool = True,
        first: bool = False,
    ) -> None:
        """Show ``self._query`` afresh: count it (unless only the order changed) and read
        its first page in one short read — on a worker thread for a large table (the
        table keeps its rows until the new ones are ready), else at once.

        The ``first`` read (the model is being made) is at once, unless the table is
        large: then it reads the first page only (within the inline budget, like any
        other read; past it the model starts empty and "searching"), and the rows are
        counted off the GUI thread, added as they are counted (``is_counting``)."""
        # A search or sort before the first count ended counts all rows itself.
        recount_total = recount_total or not self._total_known
        self._cancel_reads()
        inline = not emit_reset
        budget = self.inline_budget if self._total >= self.background_rows else SMALL_TABLE_BUDGET_S
        q, spec, plan, count, total = (self._query, self.spec, self._plan, self._count, self._total)
        large, quick = self.background_rows, self.inline_budget
        # A large table reads a screenful of page 0 first (the rest from idle time).
        first_rows = FIRST_ROWS if self._large or total >= large else PAGE_SIZE

        def work(session: Any, job: Job[Snapshot | None]) -> Snapshot | None:
            if first:  # here: a small table at once, a large one within the inline budget
                try:
                    return read_first(
                        session, spec, q, large=large, budget=quick if job.inline else None
                    )
                except QueryStoppedError:
                    if not job.inline:
                        raise
                    return None  # past the budget: read again off the GUI thread
            return read_snapshot(
                session,
                spec,
                q,
                plan,
                count,
                total,
                recount=recount,
                recount_total=recount_total,
                first_rows=first_rows,
            )

        submitting = [True]  # a result while submit() runs is read inline: no reset signal

        def done(snapshot: Snapshot | None) -> None:
            self._reset_job = None
            if snapshot is None:  # the model starts empty and "searching"
                self._reset_job = self._reads.submit(work, done, failed=self._read_failed)
                self._busy_changed()
                return
            self._install_snapshot(snapshot, emit_reset=emit_reset or not submitting[0])

        job = self._reads.submit(work, done, failed=self._read_failed, inline=inline, budget=budget)
        submitting[0] = False
        if not job.inline:  # handed to a worker (the table was too large, or too slow)
            self._reset_job = job
            self._busy_changed()

    def _install_snapshot(self, snap: Snapshot, *, emit_reset: bool) -> None:
        if emit_reset:
            self.beginResetModel()
        try:
            self._drop_cache()
            self._generation += 1
            self._shown = snap.query
            self._plan = snap.plan
            self._total = snap.total
            self._count = snap.count
            self._ids = snap.ids
            self._counting = snap.counting
            self._counted = 0
            self._large = self._large or snap.large
            # Counting every row (a large table just opened): its total is that count.
            everything = not snap.query.term and not snap.query.filters
            self._total_known = snap.counting is None or not everything
            if snap.first:
                self._install(0, list(snap.first))
                if snap.partial:  # the rest of page 0 once the first paint is done
                    self._partial[0] = len(snap.first)
                    generation = self._generation
                    QTimer.singleShot(0, self, lambda: self._fill_first_page(generation))
        finally:
            if emit_reset:
                self.endResetModel()
        if self._counting is not None and not self._total_known:
            # A large table just opened: its first page is painted first, then counted
            # (a worker counting from the start would compete with the first paint).
            generation = self._generation
            QTimer.singleShot(0, self, lambda: self._count_from_idle(generation))
        elif self._counting is not None:
            self._start_count()
        else:
            self._start_anchor_scan()
        self.counts_changed.emit(self._count, self._total)
        self._busy_changed()

    def _count_from_idle(self, generation: int) -> None:
        if generation == self._generation and self._counting is not None:
            self._start_count()

    def _fill_first_page(self, generation: int) -> None:
        if generation == self._generation and 0 in self._partial:
            self._want(0)

    def _start_count(self) -> None:
        """Count the rest of a scanning search slice by slice, rows added as they come."""
        assert self._counting is not None
        spec, q, plan, bounds = self.spec, self._shown, self._plan, self._counting
        generation = self._generation

        def work(session: Any, job: Job[int]) -> int:
            return count_slices(session, job, spec, q, plan, bounds)

        def progress(counted: Any) -> None:
            if generation == self._generation:
                self._counted_to(int(counted), done=False)

        def done(counted: int) -> None:
            if generation == self._generation:
                self._count_job = None
                self._counted_to(counted, done=True)

        small = self._total < self.background_rows and not self._large
        job = self._reads.submit(
            work,
            done,
            failed=self._read_failed,
            progress=progress,
            budget=SMALL_TABLE_BUDGET_S if small else 0.0,
        )
        if not job.inline:
            self._count_job = job
            self._busy_changed()

    def _counted_to(self, counted: int, *, done: bool) -> None:
        """The count of a scanning search reached ``counted`` (final if ``done``)."""
        if self._counting is None:
            return
        if done:
            self._counting = None
        new = counted if done else max(self._count, counted)
        if not self._shown.term and not self._shown.filters:  # all rows were counted
            self._total = max(self._total, new) if not done else new
            self._total_known = done
        nc = self._ncreated
        if new > self._count:
            self.beginInsertRows(QModelIndex(), nc + self._count, nc + new - 1)
            self._count = new
            self.endInsertRows()
        elif new < self._count:  # rows went away while counting (another program)
            self.beginRemoveRows(QModelIndex(), nc + new, nc + self._count - 1)
            self._count = new
            for p in [p for p in self._pages if p * PAGE_SIZE >= new]:
                del self._pages[p]
            self.endRemoveRows()
        self.counts_changed.emit(self._count, self._total)
        self._answer_prefix_when_counted(done)
        if done:
            self.counting_finished.emit()
            self._start_anchor_scan()
            self._busy_changed()

    def _cancel_reads(self) -> None:
        """A newer request supersedes whatever still runs: its SQL is stopped and its
        result never shown."""
        for job in (self._reset_job, self._count_job):
            if job is not None:
                job.cancel()
        self._reset_job = None
        self._count_job = None

    def _read_failed(self, error: AccessGuardError) -> None:
        self._reset_job = None
        self._count_job = None
        self._query = self._shown  # the table still shows the last answer
        self._busy_changed()
        self.read_failed.emit(error.message)

    def _busy_changed(self) -> None:
        busy = self._reset_job is not None or self._count_job is not None
        if busy != self._was_busy:
            self._was_busy = busy
            self.busy_changed.emit(busy)

    def is_searching(self) -> bool:
        """True while a new search/sort/filter is read (the old rows are still shown)."""
        return self._reset_job is not None

    def _update_flags(self) -> None:
        editable = self.pending is not None and not self.db.read_only
        flags = []
        for col in self.spec.columns:
            f = self._base_flags
            if editable and col.editable:
                if col.kind is Kind.BOOL:
                    f |= Qt.ItemFlag.ItemIsUserCheckable
                else:
                    f |= Qt.ItemFlag.ItemIsEditable
            flags.append(f)
        self._flags = flags
