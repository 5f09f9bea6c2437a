"""A read-only table model that fetches keyset pages off the GUI thread as the view
scrolls: ``fetch(session, after_row)`` returns the next page, ``show(row)`` its cells."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush

from ...core.database import Database
from .tasks import Task, read_in, run

R = TypeVar("R")
Index = QModelIndex | QPersistentModelIndex


class PagedModel(QAbstractTableModel, Generic[R]):
    """Rows of type R, a page at a time.

    Args:
        fetch: (session, last row or None) -> the next page (fewer than ``page_size``
            rows: the end). Runs on a pool thread in its own short read.
        show: the display strings of a row (made once per row, not per paint).
    """

    def __init__(
        self,
        db: Database,
        headers: Sequence[str],
        fetch: Callable[[Any, R | None], list[R]],
        show: Callable[[R], tuple[str, ...]],
        page_size: int,
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self.db, self.headers, self.fetch, self.show, self.page_size = db, tuple(headers), fetch, show, page_size
        self._rows: list[R] = []
        self._shown: list[tuple[str, ...]] = []
        self._brushes: dict[int, QBrush] = {}
        self._exhausted = True
        self._loading = False
        self._task: Task[Any] | None = None
        self._generation = 0

    # ------------------------------------------------------------ fetching

    def reload(self) -> None:
        self.beginResetModel()
        self.stop()
        self._rows, self._shown, self._brushes = [], [], {}
        self._exhausted = False
        self._loading = False
        self.endResetModel()
        self.fetchMore(QModelIndex())

    def stop(self) -> None:
        """Nothing in flight may call back (closing, or a reload)."""
        self._generation += 1
        if self._task is not None:
            self._task.cancel()
            self._task = None

    @property
    def loading(self) -> bool:
        return self._loading

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008, N802
        return not parent.isValid() and not self._exhausted and not self._loading

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008, N802
        if not self.canFetchMore(parent):
            return
        self._loading = True
        generation = self._generation
        last = self._rows[-1] if self._rows else None
        db, fetch = self.db, self.fetch

        def done(rows: list[R]) -> None:
            if generation != self._generation:
                return
            self._loading = False
            self._exhausted = len(rows) < self.page_size
            if rows:
                first = len(self._rows)
                self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
                self._rows += rows
                self._shown += [self.show(r) for r in rows]
                self.endInsertRows()

        def failed(_error: Any) -> None:
            self._loading = False
            self._exhausted = True

        self._task = run(lambda task: read_in(db, task, lambda s: fetch(s, last)), done, failed=failed)

    def refresh_shown(self) -> None:
        """Re-make the display strings (something ``show`` depends on changed)."""
        if self._rows:
            self._shown = [self.show(r) for r in self._rows]
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, len(self.headers) - 1))

    def set_brush(self, row: int, brush: QBrush | None) -> None:
        if brush is None:
            self._brushes.pop(row, None)
        else:
            self._brushes[row] = brush

    # ------------------------------------------------------------ model

    def row_at(self, row: int) -> R:
        return self._rows[row]

    def rows(self) -> list[R]:
        return list(self._rows)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.headers)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._shown[index.row()][index.column()]
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._brushes.get(index.row())
        return None

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.headers[section]
        return None
