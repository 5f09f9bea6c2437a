"""The role × permission matrix: roles as rows, permissions ("resource: action") as
columns, a check box per direct grant and a distinct mark for grants that come through
inheritance. Checking or unchecking a box pushes a Grant or Revoke to the pending store.

Lazy like the tables: both axes come a keyset page at a time (ids and names of
``AXIS_PAGE`` roles and permissions; the view asks for the next pages when it is
scrolled to the end of either axis, ``canFetchMore``/``fetchMore``), their sizes are
counted in SQL, and a bounded cache holds blocks of cells; ``data()`` never runs SQL — a
cell of a block not yet loaded asks for the block, and blocks are fetched (two queries
each) on the next turn of the event loop. Only what the view shows is ever queried, so
2,000 roles × 20,000 permissions (40 million cells) costs the same as a small matrix.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.orm import Session

from ...core import lookup
from ...core.changes import Grant, Revoke
from ...core.database import Database
from ...core.errors import AccessGuardError
from ...core.operators import AppAction
from .. import theme
from ..background import BackgroundReads, Job
from ..pending import PendingStore
from ..plain_text import plain_tooltip
from .common import DEBOUNCE_MS, READ_ONLY_TIP, open_window
from .matrix_header import GroupedHeader, ToggleAnywhereDelegate, split_label

Index = QModelIndex | QPersistentModelIndex
BLOCK = 32
AXIS_PAGE = 500  # roles / permissions read per page of an axis
MAX_BLOCKS = 512  # 512 blocks × 1,024 cells: far more than any screen shows
COLUMN_MAX = 180  # px: a long action is elided beyond this (full label on hover)
INHERITED_MARK = "\u25c6"  # ◆
# Built once, not per painted cell; recoloured in place with the scheme (ui/theme.py).
_INHERITED_BRUSH = theme.brush("inherited_bg")
_PENDING_BRUSH = theme.brush("pending_bg")
# data() and flags() run for every painted cell: plain ints and ready-made flags instead
# of building Qt enums per call (PySide's enum arithmetic cost ~40 % of a paint).
_CHECK = Qt.ItemDataRole.CheckStateRole.value
_DISPLAY = Qt.ItemDataRole.DisplayRole.value
_BACKGROUND = Qt.ItemDataRole.BackgroundRole.value
_TOOLTIP = Qt.ItemDataRole.ToolTipRole.value
_CELL_ROLES = frozenset({_CHECK, _DISPLAY, _BACKGROUND, _TOOLTIP})
_SHOWN = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
_CHECKABLE = _SHOWN | Qt.ItemFlag.ItemIsUserCheckable
_CHECKED = Qt.CheckState.Checked
_UNCHECKED = Qt.CheckState.Unchecked


class RolePermissionMatrixModel(QAbstractTableModel):
    """Roles × permissions with direct grants checkable and inherited grants marked.

    Args:
        db: the open database.
        store: the window's pending edits (Grant/Revoke edits are drawn as an overlay).
        load: read the first pages of both axes now; False leaves the model empty until
            ``reload()`` (the window reads them on the turn after it is shown).

    Signals:
        block_loaded(int, int): a block (row block, column block) arrived from the database.

    Attributes:
        blocks_loaded: how many block fetches ran (for tests and benchmarks).
    """

    block_loaded = Signal(int, int)

    def __init__(
        self, db: Database, store: PendingStore, parent: Any = None, *, load: bool = True
    ) -> None:
        super().__init__(parent)
        self._db = db
        self._store = store
        # Why the boxes do not toggle: a read-only file, or an operator who may not edit
        # roles and permissions (issue 14); None when they do.
        self.locked: str | None = (
            "read-only database: grants cannot be changed"
            if db.read_only
            else db.access.why_not(AppAction.EDIT_ROLES)
        )
        self._roles: list[tuple[int, str]] = []
        self._perms: list[tuple[int, str]] = []
        self._actions: list[str] = []  # the action of each column (its lower header band)
        self._run_first: list[int] = []  # first column of each column's resource run
        self._run_last: dict[int, int] = {}  # first column of a run -> its last column
        self._role_by_name: dict[str, int] = {}
        self._perm_by_label: dict[tuple[str, str], int] = {}
        self._roles_after: str | None = None
        self._perms_after: tuple[str, str] | None = None
        self.role_total = 0
        self.permission_total = 0
        self._blocks: OrderedDict[tuple[int, int], lookup.MatrixBlock] = OrderedDict()
        self._wanted: set[tuple[int, int]] = set()
        self._loading: set[tuple[int, int]] = set()  # blocks read off the GUI thread now
        self._generation = 0  # bumped when cached blocks are dropped: late answers too
        self._reads = BackgroundReads(db, self)
        self._overlay: dict[tuple[int, int], bool] = {}
        self._role_filter = ""
        self._perm_filter = ""
        self.blocks_loaded = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.load_wanted)
        store.changed.connect(self._store_changed)
        if load:
            self.reload()

    # ------------------------------------------------------------ filters and reload

    def set_filters(self, roles: str = "", permissions: str = "") -> None:
        """Show only roles whose name contains ``roles`` and permissions whose label
        contains ``permissions`` ("ledger", "ledger: wr")."""
        self._role_filter = roles
        self._perm_filter = permissions
        self.reload()

    def reload(self) -> None:
        """Re-read the first page of both axes (ids and names only) and their sizes, and
        drop every cached block."""
        try:
            with self._db.read() as s:
                roles = lookup.matrix_roles_page(s, self._role_filter, None, AXIS_PAGE)
                perms = lookup.matrix_permissions_page(s, self._perm_filter, None, AXIS_PAGE)
                role_total = lookup.matrix_role_count(s, self._role_filter)
                perm_total = lookup.matrix_permission_count(s, self._perm_filter)
        except AccessGuardError:
            roles = perms = lookup.Page(())
            role_total = perm_total = 0
        self.beginResetModel()
        self._roles = []
        self._perms = []
        self._actions = []
        self._run_first = []
        self._run_last = {}
        self._role_by_name = {}
        self._perm_by_label = {}
        self._add_roles(roles)
        self._add_perms(perms)
        self.role_total, self.permission_total = role_total, perm_total
        self._blocks.clear()
        self._wanted.clear()
        self._loading.clear()
        self._generation += 1
        self._overlay = self._compute_overlay()
        self.endResetModel()

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        if parent.isValid():
            return False
        return self._roles_after is not None or self._perms_after is not None

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        """The next page of each axis that has more (the view asks when it is scrolled
        to the end of either)."""
        if parent.isValid():
            return
        try:
            with self._db.read() as s:
                roles = (
                    lookup.matrix_roles_page(s, self._role_filter, self._roles_after, AXIS_PAGE)
                    if self._roles_after is not None
                    else None
                )
                perms = (
                    lookup.matrix_permissions_page(
                        s, self._perm_filter, self._perms_after, AXIS_PAGE
                    )
                    if self._perms_after is not None
                    else None
                )
        except AccessGuardError:
            return
        if roles is not None and roles.rows:
            first = len(self._roles)
            self.beginInsertRows(QModelIndex(), first, first + len(roles.rows) - 1)
            self._add_roles(roles)
            self.endInsertRows()
        elif roles is not None:
            self._roles_after = None
        if perms is not None and perms.rows:
            first = len(self._perms)
            self.beginInsertColumns(QModelIndex(), first, first + len(perms.rows) - 1)
            self._add_perms(perms)
            self.endInsertColumns()
        elif perms is not None:
            self._perms_after = None
        # Pending grants of the roles and permissions just read show at once.
        self._overlay = self._compute_overlay()

    def _add_roles(self, page: lookup.Page) -> None:
        self._roles += page.rows
        self._role_by_name.update({name.lower(): rid for rid, name in page.rows})
        self._roles_after = page.next_after

    def _add_perms(self, page: lookup.Page) -> None:
        for pid, label in page.rows:
            res, act = split_label(label)
            self._perm_by_label[(res.lower(), act)] = pid
            column = len(self._perms)
            previous = self._perms[-1][1] if self._perms else None
            same_run = previous is not None and split_label(previous)[0] == res
            first = self._run_first[-1] if same_run else column
            self._perms.append((pid, label))
            self._actions.append(act)
            self._run_first.append(first)
            self._run_last[first] = column
        self._perms_after = page.next_after

    def column_group(self, column: int) -> tuple[int, int]:
        """First and last column of the run of ``column``'s resource among the columns
        read so far (the header draws the resource once over them)."""
        first = self._run_first[column]
        return first, self._run_last[first]

    def column_action(self, column: int) -> str:
        """The action of ``column`` ("read" of "Payroll: read")."""
        return self._actions[column]

    # ------------------------------------------------------------ Qt model API

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._roles)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._perms)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        axis = self._perms if orientation == Qt.Orientation.Horizontal else self._roles
        if not 0 <= section < len(axis):
            return None
        name = axis[section][1]
        return plain_tooltip(name) if role == Qt.ItemDataRole.ToolTipRole else name

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        # On a read-only database the boxes show the grants but do not toggle.
        return _SHOWN if self.locked else _CHECKABLE

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role not in _CELL_ROLES or not index.isValid():
            return None
        state = self.cell_state(index.row(), index.column())
        if state is None:
            return None
        direct, inherited, pending = state
        if role == _CHECK:
            return _CHECKED if direct else _UNCHECKED
        if role == _DISPLAY:
            return INHERITED_MARK if inherited else ""
        if role == _BACKGROUND:
            if pending:
                return _PENDING_BRUSH
            return _INHERITED_BRUSH if inherited else None
        role_name = self._roles[index.row()][1]
        perm = self._perms[index.column()][1]
        parts = []
        if direct:
            parts.append(f"{role_name} has {perm} directly")
        if inherited:
            parts.append(f"{role_name} gets {perm} from a role it inherits from")
        if pending:
            parts.append("(pending: not saved yet)")
        text = "; ".join(parts) or f"{role_name} does not have {perm}"
        if self.locked:
            text += f" ({self.locked.rstrip('.')})"
        return plain_tooltip(text)

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.CheckStateRole:
            return False
        if self.locked:
            return False
        state = self.cell_state(index.row(), index.column())
        if state is None:
            self._load_blocks([(index.row() // BLOCK, index.column() // BLOCK)])
            state = self.cell_state(index.row(), index.column())
            if state is None:
                return False
        if isinstance(value, Qt.CheckState):
            want = value == Qt.CheckState.Checked
        else:
            want = int(value) == Qt.CheckState.Checked.value
        if want == state[0]:
            return False
        role_name = self._roles[index.row()][1]
        res, _, act = self._perms[index.column()][1].rpartition(": ")
        edit = Grant(role_name, (res, act)) if want else Revoke(role_name, (res, act))
        self._store.push(edit)  # the store's change signal redraws the overlay
        return True

    # ------------------------------------------------------------ cells

    def cell_state(self, row: int, column: int) -> tuple[bool, bool, bool] | None:
        """(direct incl. pending, inherited, pending) or None while the block loads."""
        key = (row // BLOCK, column // BLOCK)
        block = self._blocks.get(key)
        if block is None:
            if key not in self._wanted:
                self._wanted.add(key)
                self._timer.start()
            return None
        role_id = self._roles[row][0]
        perm_id = self._perms[column][0]
        pending = self._overlay.get((role_id, perm_id))
        direct = (role_id, perm_id) in block.direct
        if pending is not None and pending != direct:
            return pending, (role_id, perm_id) in block.inherited, True
        return direct, (role_id, perm_id) in block.inherited, False

    def load_wanted(self) -> None:
        """Fetch every block a paint asked for (runs on the next event-loop turn)."""
        wanted, self._wanted = self._wanted, set()
        self._load_blocks(sorted(k for k in wanted if k not in self._blocks), wait=False)

    def ensure_loaded(self, rows: range, columns: range) -> None:
        """Load the blocks covering ``rows`` × ``columns`` now (e.g. before a screenshot)."""
        if not rows or not columns:
            return
        keys = [
            (rb, cb)
            for rb in range(rows.start // BLOCK, (rows.stop - 1) // BLOCK + 1)
            for cb in range(columns.start // BLOCK, (columns.stop - 1) // BLOCK + 1)
            if (rb, cb) not in self._blocks
        ]
        self._load_blocks(keys)

    def _block_ids(self, rb: int, cb: int) -> tuple[list[int], list[int]]:
        r0, c0 = rb * BLOCK, cb * BLOCK
        return (
            [rid for rid, _ in self._roles[r0 : r0 + BLOCK]],
            [pid for pid, _ in self._perms[c0 : c0 + BLOCK]],
        )

    def _load_blocks(self, keys: list[tuple[int, int]], *, wait: bool = True) -> None:
        """Direct grants from the file; inherited marks from the pending state (a pending
        grant or inheritance changes what other roles inherit), all blocks of one paint
        in one read and, if anything is pending, one rolled-back preview.

        The preview applies every pending edit: on a large file (or with many edits) it
        runs off the GUI thread — the cells stay blank a moment — unless ``wait`` (a
        click on a cell, a screenshot) needs the answer now."""
        keys = [k for k in keys if all(self._block_ids(*k)) and k not in self._loading]
        if not keys:
            return
        ids = {k: self._block_ids(*k) for k in keys}

        def fetch(session: Session) -> list[lookup.MatrixBlock]:
            return [lookup.matrix_block(session, *ids[k]) for k in keys]

        pending = self._store.edits_for_save()
        if pending:
            # Imported when first needed: opening the window imports as little as it can
            # (every import is paid on the GUI thread, inside the click that opens it).
            from ...core import impact
        if pending and not wait and _preview_off_thread(self._db, pending):
            db, generation = self._db, self._generation
            self._loading.update(keys)

            def work(_job: Job[Any]) -> tuple[Any, Any]:
                with db.read() as s:
                    saved = fetch(s)
                try:
                    after, _problems = impact.with_pending(db, pending, fetch)
                except AccessGuardError:
                    after = saved  # e.g. busy: the saved inheritance rather than nothing
                return saved, after

            def done(answer: tuple[Any, Any]) -> None:
                self._loading.difference_update(keys)
                if generation == self._generation:  # else: reloaded or edited meanwhile
                    self._store_blocks(keys, ids, *answer)

            def failed(_exc: AccessGuardError) -> None:
                self._loading.difference_update(keys)

            self._reads.call(work, done, failed=failed)
            return
        try:
            with self._db.read() as s:
                saved = fetch(s)
        except AccessGuardError:
            return
        after = saved
        if pending:
            try:
                after, _problems = impact.with_pending(self._db, pending, fetch)
            except AccessGuardError:
                pass  # e.g. busy: show the saved inheritance rather than nothing
        self._store_blocks(keys, ids, saved, after)

    def _store_blocks(
        self,
        keys: list[tuple[int, int]],
        ids: dict[tuple[int, int], tuple[list[int], list[int]]],
        saved: list[lookup.MatrixBlock],
        after: list[lookup.MatrixBlock],
    ) -> None:
        for key, direct, inherited in zip(keys, saved, after, strict=True):
            rb, cb = key
            role_ids, perm_ids = ids[key]
            self.blocks_loaded += 1
            self._blocks[key] = lookup.MatrixBlock(direct.direct, inherited.inherited)
            self._wanted.discard(key)
            r0, c0 = rb * BLOCK, cb * BLOCK
            self.dataChanged.emit(
                self.index(r0, c0),
                self.index(r0 + len(role_ids) - 1, c0 + len(perm_ids) - 1),
            )
            self.block_loaded.emit(rb, cb)
        while len(self._blocks) > MAX_BLOCKS:
            self._blocks.popitem(last=False)

    # ------------------------------------------------------------ pending overlay

    def _compute_overlay(self) -> dict[tuple[int, int], bool]:
        """(role id, permission id) -> granted after the pending Grant/Revoke edits."""
        overlay: dict[tuple[int, int], bool] = {}
        for edit in self._store.edits():
            if not isinstance(edit, (Grant, Revoke)):
                continue
            role_id = self._resolve_role(edit.role)
            perm_id = self._resolve_perm(edit.permission)
            if role_id is not None and perm_id is not None:
                overlay[(role_id, perm_id)] = isinstance(edit, Grant)
        return overlay

    def _resolve_role(self, ref: Any) -> int | None:
        if isinstance(ref, int):
            return ref
        return self._role_by_name.get(str(ref).strip().lower())

    def _resolve_perm(self, ref: Any) -> int | None:
        if isinstance(ref, int):
            return ref
        res, act = ref
        if isinstance(res, int):
            return None
        return self._perm_by_label.get((str(res).strip().lower(), str(act).strip().lower()))

    def _store_changed(self) -> None:
        self._overlay = self._compute_overlay()
        # Inherited marks depend on every pending edit: refetch what is shown.
        self._blocks.clear()
        self._loading.clear()
        self._generation += 1
        if self._roles and self._perms:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._roles) - 1, len(self._perms) - 1)
            )


class RolePermissionMatrix(QWidget):
    """The matrix with a filter box for each axis and a legend.

    Args:
        db: the open database.
        store: the window's pending edits.
        defer: show the window first and read the axes on the next turn of the event
            loop (the Access menu: opening, reading and the first paint in one turn
            froze the window for ~140 ms on a 20,000-permission file).

    Attributes:
        model: the ``RolePermissionMatrixModel``; view: its QTableView;
        role_filter, permission_filter: the two filter boxes (debounced).
    """

    def __init__(
        self,
        db: Database,
        store: PendingStore,
        parent: QWidget | None = None,
        *,
        defer: bool = False,
    ) -> None:
        super().__init__(parent)
        self.model = RolePermissionMatrixModel(db, store, self, load=not defer)
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setWordWrap(False)
        # Resource once over its columns, the action under it; full label on hover.
        hh = GroupedHeader(self.view)
        self.view.setHorizontalHeader(hh)
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        hh.setDefaultSectionSize(max(72, hh.fontMetrics().horizontalAdvance("approve") + 20))
        self.view.setItemDelegate(ToggleAnywhereDelegate(self.view))
        self.model.modelReset.connect(lambda: self._size_columns(0, self.model.columnCount() - 1))
        self.model.columnsInserted.connect(lambda _p, first, last: self._size_columns(first, last))
        vh = self.view.verticalHeader()
        vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vh.setDefaultSectionSize(24)
        self.role_filter = QLineEdit(placeholderText="Filter roles\u2026")
        self.permission_filter = QLineEdit(
            placeholderText="Filter permissions (resource: action)\u2026"
        )
        may_not = None if db.read_only else db.access.why_not(AppAction.EDIT_ROLES)
        click = (
            "read-only: cannot be changed"
            if db.read_only
            else "you may not change grants"
            if may_not
            else "click to grant or revoke"
        )
        self.legend = QLabel(
            f"\u2611 direct grant ({click})   "
            f"{INHERITED_MARK} inherited through another role   "
            "yellow: pending, not saved yet"
        )
        if db.read_only or may_not:
            self.legend.setToolTip(READ_ONLY_TIP if db.read_only else plain_tooltip(may_not or ""))
        self.counts = QLabel()
        # Said instead of an empty grid: what to do to see something here.
        self.empty_note = QLabel()
        self.empty_note.setTextFormat(Qt.TextFormat.PlainText)
        self.empty_note.setWordWrap(True)
        self.empty_note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_note.setObjectName("matrix_empty_note")
        self.empty_note.hide()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.apply_filters)
        self.role_filter.textChanged.connect(lambda _t: self._timer.start())
        self.permission_filter.textChanged.connect(lambda _t: self._timer.start())
        bar = QHBoxLayout()
        bar.addWidget(self.role_filter)
        bar.addWidget(self.permission_filter)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.empty_note, 1)
        self._size_columns(0, self.model.columnCount() - 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.legend, 1)
        bottom.addWidget(self.counts)
        layout.addLayout(bottom)
        if defer:
            self.counts.setText("Loading\u2026")
            QTimer.singleShot(0, self, self.apply_filters)  # not after the window is gone
        else:
            self._update_counts()

    def _size_columns(self, first: int, last: int) -> None:
        """Each column as wide as its action (within limits): only the new page's columns."""
        header = self.view.horizontalHeader()
        metrics = header.fontMetrics()
        floor = header.defaultSectionSize()
        widths: dict[str, int] = {}  # a few hundred distinct actions at most
        for column in range(first, last + 1):
            action = self.model.column_action(column)
            width = widths.get(action)
            if width is None:
                width = widths[action] = metrics.horizontalAdvance(action) + 20
            if width > floor:  # most actions fit the default: no resize to pay for
                header.resizeSection(column, min(width, COLUMN_MAX))

    def apply_filters(self) -> None:
        self.model.set_filters(self.role_filter.text(), self.permission_filter.text())
        self._update_counts()

    def _update_counts(self) -> None:
        self.counts.setText(
            f"{self.model.role_total:,} roles \u00d7 {self.model.permission_total:,} permissions"
        )
        note = empty_matrix_note(
            self.model.role_total,
            self.model.permission_total,
            self.role_filter.text().strip(),
            self.permission_filter.text().strip(),
        )
        self.empty_note.setText(note)
        self.empty_note.setVisible(bool(note))
        self.view.setVisible(not note)


#: Inherited marks under pending edits come from a preview that applies every pending
#: edit: on a file this large, or with this many edits, it is read off the GUI thread.
BACKGROUND_FILE_BYTES = 50_000_000
BACKGROUND_EDITS = 50


def _preview_off_thread(db: Database, pending: list[Any]) -> bool:
    if len(pending) >= BACKGROUND_EDITS:
        return True
    try:
        return db.path is not None and db.path.stat().st_size >= BACKGROUND_FILE_BYTES
    except OSError:
        return False


def empty_matrix_note(roles: int, permissions: int, role_filter: str, perm_filter: str) -> str:
    """What to do when the matrix has nothing to show ("" when it has)."""
    if roles and permissions:
        return ""
    if not roles and role_filter:
        return f"No role matches \u201c{role_filter}\u201d. Change or clear the role filter."
    if not permissions and perm_filter:
        return (
            f"No permission matches \u201c{perm_filter}\u201d. "
            "Change or clear the permission filter."
        )
    missing = []
    if not roles:
        missing.append("roles (Roles page, Ctrl+N)")
    if not permissions:
        missing.append("resources and their permissions (Resources and Permissions pages, Ctrl+N)")
    return (
        "Nothing to show yet: the matrix needs "
        + " and ".join(missing)
        + ". Add them, then tick a cell here to grant a permission to a role."
    )


def show_matrix(
    db: Database, store: PendingStore, parent: QWidget | None = None
) -> RolePermissionMatrix:
    matrix = RolePermissionMatrix(db, store, parent, defer=True)
    return open_window(matrix, "Roles \u00d7 permissions", (1000, 600))
