"""The pending-edit overlay of a table model: what the unsaved edits make a table show.

Given the window's PendingStore, the model shows pending values in place of stored ones,
new records (``store.created``) as rows at the top, and marks changed cells (bold,
tinted), new rows (green), rows marked for deletion (struck out, grey) and rows of a
failed save (red, the reason as tooltip). This module is that overlay, one reason to
change of RecordTableModel (ui/table_model.py), which mixes it in: the page cache and
the reads live there, the counting in ui/table_reads.py.
"""

from __future__ import annotations

import enum
from functools import cache
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QFont

from ..core.browse import FIRST_CELL, Kind, TableSpec
from ..core.changes import Create, Delete, Update
from . import theme
from .pending import PendingStore
from .plain_text import plain_tooltip

_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_EDIT = int(Qt.ItemDataRole.EditRole)
_CHECK = int(Qt.ItemDataRole.CheckStateRole)
_FONT = int(Qt.ItemDataRole.FontRole)
_BACKGROUND = int(Qt.ItemDataRole.BackgroundRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_CHECKED = Qt.CheckState.Checked
_UNCHECKED = Qt.CheckState.Unchecked


class ItemRole(enum.IntEnum):
    """Our item data roles (beyond Qt's)."""

    RECORD_ID = int(Qt.ItemDataRole.UserRole) + 1
    STATE = int(Qt.ItemDataRole.UserRole) + 2  # "", "changed", "new", "deleted", "failed"


#: Roles with no answer for an unmarked stored row: answered without a lookup.
_PLAIN_NOTHING = frozenset(
    int(r)
    for r in (
        Qt.ItemDataRole.DecorationRole,
        Qt.ItemDataRole.FontRole,
        Qt.ItemDataRole.BackgroundRole,
        Qt.ItemDataRole.ForegroundRole,
        Qt.ItemDataRole.ToolTipRole,
        Qt.ItemDataRole.StatusTipRole,
        Qt.ItemDataRole.WhatsThisRole,
        Qt.ItemDataRole.SizeHintRole,
    )
)
_MARKED_NOTHING = frozenset(
    int(r)
    for r in (
        Qt.ItemDataRole.DecorationRole,
        Qt.ItemDataRole.StatusTipRole,
        Qt.ItemDataRole.WhatsThisRole,
        Qt.ItemDataRole.SizeHintRole,
    )
)


class RowState(enum.StrEnum):
    """How a row looks: as stored, or marked by a pending edit or a failed save."""

    STORED = ""
    CHANGED = "changed"
    NEW = "new"
    DELETED = "deleted"
    FAILED = "failed"


# Shared brushes of ui/theme.py: recoloured in place when the desktop turns light or dark.
_CHANGED_BRUSH = theme.brush("changed_bg")
_NEW_BRUSH = theme.brush("new_bg")
_DELETED_BRUSH = theme.brush("deleted_bg")
_FAILED_BRUSH = theme.brush("failed_bg")
_GREY = theme.brush("muted")


@cache
def _font(*, bold: bool = False, strike: bool = False) -> QFont:
    """Made on first use: a QFont needs the QGuiApplication."""
    font = QFont()
    font.setBold(bold)
    font.setStrikeOut(strike)
    return font


if TYPE_CHECKING:  # what the overlay reads of the model it is mixed into
    _Model = QAbstractTableModel
else:
    _Model = object


class PendingOverlay(_Model):
    """The overlay's state and rules, mixed into RecordTableModel (before Qt's class).

    Attributes (kept by the model's hot paths, ``data`` and ``plain_cell``):
        _pending_values: record id -> its pending field values.
        _patched: cached rows with those values applied (display strings, flags).
        _deleted, _failed: ids marked for deletion; ids whose edit a save refused.
        _created, _created_rows, _ncreated: pending new records, their rows, how many.
    """

    if TYPE_CHECKING:
        spec: TableSpec
        pending: PendingStore | None
        _keys: list[str]
        _ncols: int
        _bool_at: dict[int, int]
        _check_at: dict[int, int]
        _edit_at: list[int]
        _row_of: dict[int, int]
        _created: list[Create]
        _created_rows: list[tuple[Any, ...]]
        _ncreated: int
        _pending_values: dict[int, dict[str, Any]]
        _patched: dict[int, tuple[Any, ...]]
        _deleted: set[int]
        _failed: dict[int, str]
        _nothing: frozenset[int]
        _marked_flag: bool

        def _stored_row(self, r: int, *, load: bool = False) -> tuple[Any, ...] | None: ...

    @property
    def _marked(self) -> bool:
        """Does any row look different (pending edits, new rows)?"""
        return self._marked_flag

    @_marked.setter
    def _marked(self, value: bool) -> None:
        self._marked_flag = value
        self._nothing = _MARKED_NOTHING if value else _PLAIN_NOTHING

    def _rebuild_overlay(self) -> set[int]:
        """Recompute the overlay from the store; returns the record ids whose look changed."""
        store, entity = self.pending, self.spec.entity
        old_ids = set(self._pending_values) | self._deleted | set(self._failed)
        values: dict[int, dict[str, Any]] = {}
        deleted: set[int] = set()
        failed: dict[int, str] = {}
        if store is not None and entity is not None:
            for edit in store.edits():
                if isinstance(edit, Update) and edit.entity == entity:
                    values.setdefault(edit.id, {}).update(edit.values)
                elif isinstance(edit, Delete) and edit.entity == entity:
                    deleted.add(edit.id)
                else:
                    continue
                message = store.failure(edit)
                if message:
                    failed[edit.id] = message
        changed = old_ids | set(values) | deleted | set(failed)
        self._pending_values, self._deleted, self._failed = values, deleted, failed
        self._patched = {
            rid: self._patch(row, vals)
            for rid, vals in values.items()
            if (row := self._cached_by_id(rid)) is not None
        }
        self._marked = bool(values or deleted or failed)
        return changed

    def _cached_by_id(self, record_id: int) -> tuple[Any, ...] | None:
        r = self._row_of.get(record_id)
        return None if r is None else self._stored_row(r)

    def _patch(self, row: tuple[Any, ...], values: dict[str, Any]) -> tuple[Any, ...]:
        out = list(row)
        n = self._ncols
        for key, value in values.items():
            try:
                c = self.spec.index_of(key)
            except KeyError:
                continue
            col = self.spec.columns[c]
            if col.kind is Kind.BOOL:
                out[self._bool_at[c]] = int(bool(value))
            elif col.kind is Kind.TEXT:
                out[FIRST_CELL + c] = "" if value is None else str(value)
        del n
        return tuple(out)

    def _created_rows_for(self, created: list[Create]) -> list[tuple[Any, ...]]:
        rows = []
        n = self._ncols
        raws = self.spec.raw_columns
        for i, edit in enumerate(created):
            cells: list[Any] = []
            for col in self.spec.columns:
                value = edit.values.get(col.key)
                if col.kind is Kind.BOOL:
                    cells.append("")
                else:
                    cells.append("" if value is None else str(value))
            extra = []
            for c in raws:
                col = self.spec.columns[c]
                value = edit.values.get(col.key, True if col.key == "active" else None)
                extra.append(int(bool(value)) if col.kind is Kind.BOOL else value)
            rows.append((-(i + 1), None, None, *cells, *extra))
        del n
        return rows

    def _pending_changed(self) -> None:
        changed = self._rebuild_overlay()
        store, entity = self.pending, self.spec.entity
        created = store.created(entity) if store is not None and entity is not None else []
        old = self._created
        if [id(e) for e in created] != [id(e) for e in old]:
            keep = 0
            while keep < min(len(old), len(created)) and old[keep] is created[keep]:
                keep += 1
            if len(old) > keep:
                self.beginRemoveRows(QModelIndex(), keep, len(old) - 1)
                self._created = old[:keep]
                self._created_rows = self._created_rows[:keep]
                self._ncreated = keep
                self.endRemoveRows()
            if len(created) > keep:
                self.beginInsertRows(QModelIndex(), keep, len(created) - 1)
                self._created = list(created)
                self._created_rows = self._created_rows_for(self._created)
                self._ncreated = len(created)
                self.endInsertRows()
        if self._ncreated:
            self._marked = True
        last_col = self._ncols - 1
        for rid in changed:
            r = self._row_of.get(rid)
            if r is not None:
                row = r + self._ncreated
                self.dataChanged.emit(self.index(row, 0), self.index(row, last_col))

    def _state_of(self, record_id: int) -> RowState:
        if record_id in self._failed:
            return RowState.FAILED
        if record_id in self._deleted:
            return RowState.DELETED
        if record_id in self._pending_values:
            return RowState.CHANGED
        return RowState.STORED

    def _mark_data(self, record_id: int, column: int, role: int) -> Any:
        state = self._state_of(record_id)
        if state is RowState.STORED:
            return None
        if state is RowState.FAILED:
            if role == _BACKGROUND:
                return _FAILED_BRUSH
            if role == _TOOLTIP:
                return plain_tooltip(self._failed[record_id])  # quotes values
            if role == _FONT and self._keys[column] in self._pending_values.get(record_id, {}):
                return _font(bold=True)
            return None
        if state is RowState.DELETED:
            if role == _FONT:
                return _font(strike=True)
            if role == _FOREGROUND:
                return _GREY
            if role == _BACKGROUND:
                return _DELETED_BRUSH
            if role == _TOOLTIP:
                return "Marked for deletion: removed when you save."
            return None
        # Changed: only the changed cells look different.
        if self._keys[column] not in self._pending_values.get(record_id, {}):
            return None
        if role == _FONT:
            return _font(bold=True)
        if role == _BACKGROUND:
            return _CHANGED_BRUSH
        if role == _TOOLTIP:
            return "Changed: saved when you save."
        return None

    def _created_data(self, row: int, column: int, role: int) -> Any:
        cells = self._created_rows[row]
        if role == _DISPLAY:
            return cells[FIRST_CELL + column]
        if role == _EDIT:
            value = cells[self._edit_at[column]]
            return bool(value) if column in self._bool_at else value
        if role == _CHECK:
            at = self._check_at.get(column)
            if at is None:
                return None
            return _CHECKED if cells[at] else _UNCHECKED
        if role == _BACKGROUND:
            failed = self.pending.failure(self._created[row]) if self.pending else None
            return _FAILED_BRUSH if failed else _NEW_BRUSH
        if role == _TOOLTIP:
            failed = self.pending.failure(self._created[row]) if self.pending else None
            return plain_tooltip(failed) if failed else "New: added when you save."
        if role == ItemRole.STATE:
            return str(RowState.NEW)
        return None
