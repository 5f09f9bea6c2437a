"""The page cache of a table model: a bounded cache of pages of ``PAGE_SIZE`` rows around
what the view shows, each read by a keyset seek from its anchor (the key that ends the
page before it), and the anchors themselves, filled in from idle time.

One reason to change of RecordTableModel (ui/table_model.py), which mixes it in: how
rows are cached, read, evicted and reached. Nothing here runs SQL on ``data()``: a page
not cached is asked for and read in one short read from a zero-delay timer (or on a
worker for a large table), then the view is told (``dataChanged``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractTableModel, QTimer

from ..core import browse
from ..core.browse import ID, SORT, BrowseQuery, Key, TableSpec
from ..core.database import Database
from ..core.errors import AccessGuardError
from .background import BackgroundReads, Job

PAGE_SIZE = browse.PAGE_SIZE
ANCHOR_CHUNK_PAGES = 32  # pages whose anchors one idle-time step reads

if TYPE_CHECKING:  # what the page cache reads of the model it is mixed into
    _Model = QAbstractTableModel
else:
    _Model = object


class PageCache(_Model):
    """Cached pages, their anchors and their loading, mixed into RecordTableModel.

    Attributes:
        _pages: page number -> its rows (at most ``max_pages`` of them).
        _partial: page number -> rows it holds, for a page read only in part (page 0
            of a large table just opened: what a window shows); asking for a row past
            them reads the whole page.
        _anchors: page number -> the key of the row just before it.
        _row_of: record id -> its row, for the cached pages.
    """

    if TYPE_CHECKING:
        db: Database
        spec: TableSpec
        max_pages: int
        background_rows: int
        inline_budget: float
        read_failed: Any
        anchors_ready: Any
        _reads: BackgroundReads
        _shown: BrowseQuery
        _plan: browse.Plan
        _count: int
        _total: int
        _ncols: int
        _ncreated: int
        _generation: int
        _ids: list[int] | None
        _id_pos: dict[int, int] | None
        _counting: tuple[int, int] | None
        _count_job: Job[int] | None
        _pages: dict[int, list[tuple[Any, ...]]]
        _partial: dict[int, int]
        _anchors: dict[int, Key]
        _anchor_scan: tuple[int, Key | None] | None
        _anchor_job: Job[None] | None
        _anchor_timer: QTimer
        _load_timer: QTimer
        _row_of: dict[int, int]
        _wanted: set[int]
        _loading: set[int]
        _last_page: int
        _pending_values: dict[int, dict[str, Any]]
        _patched: dict[int, tuple[Any, ...]]

        def _patch(self, row: tuple[Any, ...], values: dict[str, Any]) -> tuple[Any, ...]: ...

    def _drop_cache(self) -> None:
        self._pages.clear()
        self._partial.clear()
        self._anchors.clear()
        self._row_of.clear()
        self._wanted.clear()
        self._patched.clear()
        self._load_timer.stop()
        self._anchor_scan = None
        self._anchor_timer.stop()
        if self._anchor_job is not None:
            self._anchor_job.cancel()
            self._anchor_job = None
        self._loading.clear()
        self._counting = None
        if self._count_job is not None:
            self._count_job.cancel()
            self._count_job = None
        self._ids = None
        self._id_pos = None

    def _want(self, page: int) -> None:
        if page not in self._wanted:
            self._wanted.add(page)
            self._load_timer.start()

    def _load_wanted(self) -> None:
        pages = sorted(
            p
            for p in self._wanted
            if (p not in self._pages or p in self._partial)
            and p not in self._loading
            and 0 <= p * PAGE_SIZE < self._count
        )
        self._wanted.clear()
        if not pages:
            return
        had = {p: self._partial[p] for p in pages if p in self._partial}
        if self._total < self.background_rows:
            self._load_pages(pages)
            self._pages_arrived(pages, had)
            return
        # A large table: the view shows blank rows for a moment rather than freeze (a
        # page of a scanning search far from any known anchor can take a while).
        readers = [(p, self._page_reader(p)) for p in pages]
        generation = self._generation
        self._loading.update(pages)

        def work(session: Any, _job: Job[list[tuple[int, list[tuple[Any, ...]]]]]) -> Any:
            return [(p, [tuple(r) for r in read(session)]) for p, read in readers]

        def done(result: list[tuple[int, list[tuple[Any, ...]]]]) -> None:
            self._loading.difference_update(pages)
            if generation != self._generation:
                return  # another search, sort or refresh since: these rows are stale
            for p, rows in result:
                self._install(p, rows)
            self._pages_arrived([p for p, _rows in result], had)

        def failed(error: AccessGuardError) -> None:
            self._loading.difference_update(pages)
            self.read_failed.emit(error.message)

        self._reads.submit(work, done, failed=failed, budget=self.inline_budget)

    def _pages_arrived(self, pages: list[int], had: dict[int, int] | None = None) -> None:
        """Tell the view of new rows (of a page read in part: of the rows it lacked)."""
        nc = self._ncreated
        for p in pages:
            first = p * PAGE_SIZE + nc + (had.get(p, 0) if had else 0)
            last = min((p + 1) * PAGE_SIZE, self._count) - 1 + nc
            if last >= first:
                self.dataChanged.emit(self.index(first, 0), self.index(last, self._ncols - 1))

    def _load_pages(self, pages: Iterable[int]) -> None:
        """Read the given pages in one short session."""
        pages = [p for p in pages if 0 <= p * PAGE_SIZE < self._count]
        if not pages:
            return
        with self.db.read() as s:
            for p in pages:
                rows = self._read_page(s, p)
                self._install(p, rows)

    def _read_page(self, session: Any, p: int) -> list[tuple[Any, ...]]:
        return list(self._page_reader(p)(session))

    def _page_reader(self, p: int) -> Callable[[Any], Sequence[Any]]:
        """How to read page ``p`` (decided here, from the anchors and pages known now):
        a function of a session that touches nothing of the model, so that a worker
        thread can run it."""
        q, spec, fd = self._shown, self.spec, self._plan
        if self._ids is not None:
            ids = self._ids[p * PAGE_SIZE : (p + 1) * PAGE_SIZE]
            return lambda session: browse.fetch_ids(session, spec, ids, q)
        if p == 0:
            return lambda session: browse.fetch_page(session, spec, q, plan=fd)
        anchor = self._anchors.get(p)
        if anchor is not None:
            return lambda session: browse.fetch_page(session, spec, q, after=anchor, plan=fd)
        nxt = self._pages.get(p + 1)
        if nxt:
            key = (nxt[0][SORT], nxt[0][ID])
            return lambda session: browse.fetch_page(session, spec, q, before=key, plan=fd)
        # The nearest known anchor before p, or the end of the order, whichever is closer.
        known = [a for a in self._anchors if a < p]
        base = max(known) if known else 0
        hop = (p - base) * PAGE_SIZE
        end = min((p + 1) * PAGE_SIZE, self._count)
        from_end = self._count - end
        if from_end < hop and self._counting is None:
            limit = end - p * PAGE_SIZE
            return lambda session: browse.fetch_page(
                session, spec, q, from_end=True, offset=from_end, limit=limit, plan=fd
            )
        after = self._anchors.get(base) if base else None
        return lambda session: browse.fetch_page(session, spec, q, after=after, offset=hop, plan=fd)

    def _install(self, p: int, rows: list[tuple[Any, ...]]) -> None:
        if len(self._pages) >= self.max_pages:
            self._evict(p)
        self._pages[p] = rows
        self._partial.pop(p, None)
        self._last_page = p
        base = p * PAGE_SIZE
        row_of = self._row_of
        for i, row in enumerate(rows):
            row_of[row[ID]] = base + i
        if rows and len(rows) == PAGE_SIZE:
            last = rows[-1]
            self._anchors.setdefault(p + 1, (last[SORT], last[ID]))
        if self._pending_values:
            for row in rows:
                values = self._pending_values.get(row[ID])
                if values:
                    self._patched[row[ID]] = self._patch(row, values)

    def _evict(self, near: int) -> None:
        while len(self._pages) >= self.max_pages:
            far = max(self._pages, key=lambda q: abs(q - near))
            for row in self._pages.pop(far):
                self._row_of.pop(row[ID], None)
                self._patched.pop(row[ID], None)

    def _stored_row(self, r: int, *, load: bool = False) -> tuple[Any, ...] | None:
        """The database row ``r`` (0 = first stored row) if its page is cached/loaded."""
        p = r // PAGE_SIZE
        page = self._pages.get(p)
        if load and (page is None or (p in self._partial and r % PAGE_SIZE >= len(page))):
            self._load_pages([p])
            page = self._pages.get(p)
        if page is None or r % PAGE_SIZE >= len(page):
            return None
        return page[r % PAGE_SIZE]

    def _id_at(self, r: int) -> int | None:
        row = self._stored_row(r)
        return None if row is None else row[ID]

    # ------------------------------------------------------------------ anchors

    def _start_anchor_scan(self) -> None:
        self._anchor_scan = None
        if self._count <= PAGE_SIZE * 2 or self._ids is not None:
            return
        q = self._shown
        if (
            (q.term or q.filters)
            and self._plan is browse.Plan.SCAN
            and self._count * 4 < self._total
        ):
            # Sparse matches along the sort index: a pass would read most of the table per
            # chunk. Pages are then reached from the anchors learned while reading.
            return
        self._anchor_scan = (1, None)  # page 1's anchor is the key ending page 0
        # From idle time, in both cases: the first page is painted first.
        self._anchor_timer.start()

    def _anchor_tick(self) -> None:
        if self._anchor_scan is None:
            return
        if self._total < self.background_rows:
            self._scan_anchors_chunk()  # a few chunks of a few ms each
        elif self._anchor_job is None:
            self._start_anchor_job()

    def _start_anchor_job(self) -> None:
        """A large table: the whole pass runs on a worker (a chunk of a filtered order can
        take 100 ms or more); each chunk's keys arrive as progress."""
        spec, q, plan, generation = self.spec, self._shown, self._plan, self._generation

        def work(session: Any, job: Job[None]) -> None:
            page, after = 1, None
            while True:
                keys = browse.page_anchors(
                    session,
                    spec,
                    q,
                    after=after,
                    page_size=PAGE_SIZE,
                    pages=ANCHOR_CHUNK_PAGES,
                    plan=plan,
                )
                job.report((page, keys))
                if len(keys) < ANCHOR_CHUNK_PAGES:
                    return
                page, after = page + len(keys), keys[-1]

        def progress(value: Any) -> None:
            if generation == self._generation:
                page, keys = value
                for i, key in enumerate(keys):
                    self._anchors.setdefault(page + i, key)

        def done(_result: None) -> None:
            if generation == self._generation:
                self._anchor_scan = None
                self._anchor_job = None
                self.anchors_ready.emit()

        def failed(_error: AccessGuardError) -> None:
            if generation == self._generation:
                self._anchor_scan = None  # pages are still reached from nearer anchors
                self._anchor_job = None

        self._anchor_job = self._reads.submit(work, done, failed=failed, progress=progress)

    def _scan_anchors_chunk(self, restart: bool = True) -> None:
        if self._anchor_scan is None:
            return
        page, after = self._anchor_scan
        with self.db.read() as s:
            keys = browse.page_anchors(
                s,
                self.spec,
                self._shown,
                after=after,
                page_size=PAGE_SIZE,
                pages=ANCHOR_CHUNK_PAGES,
                plan=self._plan,
            )
        for i, key in enumerate(keys):
            self._anchors[page + i] = key
        if len(keys) < ANCHOR_CHUNK_PAGES:
            self._anchor_scan = None
            self.anchors_ready.emit()
            return
        self._anchor_scan = (page + len(keys), keys[-1])
        if restart:
            self._anchor_timer.start()
