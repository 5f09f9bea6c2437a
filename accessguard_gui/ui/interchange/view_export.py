"""Export to CSV… on the tables and lists of the access views: what they show, as shown.

The access views hold their rows in memory already (a user's roles, a resource's users,
the violations of a set, the role × permission matrix), so this writes the model's
header and display texts in its row order. It runs on the GUI thread in slices of
about ``CELLS_PER_SLICE`` cells between events (Qt models may only be read there; a model
that loads its cells in blocks, as the matrix does, is asked to load each slice first), with a progress
dialog whose Cancel stops it and removes the part written.
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
from pathlib import Path

from PySide6.QtCore import QAbstractItemModel, QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QAbstractItemView, QListView, QProgressDialog, QTableView, QWidget

from ...core.interchange.cells import neutralise
from .. import messages
from . import paths

CELLS_PER_SLICE = 10_000  # model.data() calls cost a few µs each: ~50 ms per slice
ACTION_NAME = "export_view_csv"


def _cell(model: QAbstractItemModel, row: int, column: int) -> str:
    """A cell as shown: its text, after "yes" for a ticked check box."""
    index = model.index(row, column)
    value = model.data(index, Qt.ItemDataRole.DisplayRole)
    text = "" if value is None else str(value)
    check = model.data(index, Qt.ItemDataRole.CheckStateRole)
    if check is not None:
        ticked = check in (Qt.CheckState.Checked, Qt.CheckState.Checked.value)
        text = " ".join(t for t in ("yes" if ticked else "no", text) if t)
    return neutralise(text)


def _texts(
    model: QAbstractItemModel, row: int, columns: list[int], row_label: bool
) -> list[str]:
    cells = [_cell(model, row, column) for column in columns]
    if row_label:
        label = model.headerData(row, Qt.Orientation.Vertical)
        cells.insert(0, neutralise("" if label is None else str(label)))
    return cells


def _suggested_name(view: QAbstractItemView) -> str:
    title = view.window().windowTitle().split("\u2014")[0].strip() or "table"
    return re.sub(r"[^\w.-]+", "-", title).strip("-").lower() + ".csv"


class ViewExport:
    """Writes one view's model to a CSV file, a slice of rows per timer tick.

    Attributes:
        written: rows written so far; done: the file is complete (or failed).
        error: the message of a failure, "" if none.
    """

    def __init__(self, view: QAbstractItemView, target: Path) -> None:
        self.view = view
        self.model = view.model()
        self.target = target
        self.total = self.model.rowCount()
        self.row_label = False
        if isinstance(view, QTableView):
            header = view.horizontalHeader()
            # The columns in the order shown, without hidden ones.
            self.columns = [
                header.logicalIndex(v) for v in range(header.count())
                if not header.isSectionHidden(header.logicalIndex(v))
            ]
            titles = [str(self.model.headerData(c, Qt.Orientation.Horizontal) or "")
                      for c in self.columns]
            # Rows named in a visible vertical header (the matrix's roles) keep their names.
            self.row_label = view.verticalHeader().isVisible() and bool(
                self.model.headerData(0, Qt.Orientation.Vertical) not in (None, "", 1)
            )
        else:  # a list: one column, named as the list is
            self.columns = [0]
            titles = [view.accessibleName() or view.objectName() or "Item"]
        self.written = 0
        self.done = False
        self.error = ""
        handle, self._part = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part",
                                              dir=target.parent)
        self._out = os.fdopen(handle, "w", encoding="utf-8-sig", newline="")
        self._writer = csv.writer(self._out)
        self._writer.writerow(([""] if self.row_label else []) + [neutralise(t) for t in titles])

    def step(self) -> bool:
        """Write the next slice; True when there is more to do."""
        per_slice = max(1, CELLS_PER_SLICE // max(len(self.columns), 1))
        end = min(self.written + per_slice, self.total)
        ensure = getattr(self.model, "ensure_loaded", None)
        if callable(ensure):  # a model that loads cells in blocks (the matrix)
            ensure(range(self.written, end), range(self.model.columnCount()))
        try:
            for row in range(self.written, end):
                self._writer.writerow(_texts(self.model, row, self.columns, self.row_label))
            self.written = end
            if end >= self.total:
                self._out.close()
                os.replace(self._part, self.target)
                self.done = True
                return False
        except OSError as exc:
            self.error = f"{self.target}: cannot be written ({exc.strerror})."
            self.abandon()
            return False
        return True

    def abandon(self) -> None:
        """Stop and remove the part written (an existing target stays as it was)."""
        self.done = True
        if not self._out.closed:
            self._out.close()
        try:
            os.unlink(self._part)
        except FileNotFoundError:
            pass


def export_view(
    view: QAbstractItemView, target: str | Path | None = None
) -> ViewExport | None:
    """Ask for a file (unless given) and write the view's rows to it in slices, with a
    progress dialog; returns the running export (None if no file was chosen)."""
    parent = view.window()
    chosen = target or paths.pick_save_path(parent, "Export to CSV", _suggested_name(view))
    if not chosen:
        return None
    try:
        job = ViewExport(view, Path(chosen))
    except OSError as exc:
        messages.show_error(parent, "Export", f"{chosen}: cannot be written ({exc.strerror}).")
        return None
    progress = QProgressDialog("Writing rows\u2026", "Cancel", 0, max(job.total, 1), parent)
    progress.setWindowTitle("Export to CSV")
    progress.setMinimumDuration(400)
    progress.setAutoClose(False)
    progress.setAutoReset(False)
    timer = QTimer(progress)
    timer.setInterval(0)

    def tick() -> None:
        if progress.wasCanceled():
            job.abandon()
        elif job.step():
            progress.setValue(job.written)
            return
        timer.stop()
        progress.close()
        progress.deleteLater()
        if job.error:
            messages.show_error(parent, "Export", job.error)

    timer.timeout.connect(tick)
    timer.start()
    return job


class _Rescan(QObject):
    """Installs the action on views made after ``install_view_exports`` ran: the details
    pane builds its access views when a tab is first shown (a child is added then)."""

    def __init__(self, root: QWidget) -> None:
        super().__init__(root)
        self._root = root
        root.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if watched is self._root and event.type() == QEvent.Type.ChildAdded:
            QTimer.singleShot(0, self._rescan)  # once the new child is fully built
        return False

    def _rescan(self) -> None:
        _install(self._root)


def install_view_exports(root: QWidget) -> list[QAction]:
    """Give every table and list of ``root`` (an access view) an "Export to CSV…" context
    action, now and whenever views are added to it later. Safe to call again: a view that
    has the action keeps its one."""
    if root.findChild(_Rescan) is None:
        _Rescan(root)
    return _install(root)


def _install(root: QWidget) -> list[QAction]:
    added: list[QAction] = []
    views: list[QAbstractItemView] = [*root.findChildren(QTableView),
                                      *root.findChildren(QListView)]
    for view in views:
        if any(a.objectName() == ACTION_NAME for a in view.actions()):
            continue
        action = QAction("Export to CSV\u2026", view)
        action.setObjectName(ACTION_NAME)
        action.setStatusTip("Write the rows of this list, as shown, to a CSV file")
        action.triggered.connect(lambda _checked=False, v=view: export_view(v))
        view.addAction(action)
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        added.append(action)
    return added
