"""Separation-of-duty sets: list, create, rename, edit members and cardinality, delete, and
a report of the users who break a set today (e.g. after an import).

Like every edit, a change to a set is pending until Save: the dialog pushes
``core.changes`` SSD edits to the window's store (after checking them against the rules
in a rolled-back preview, so a set some user would break is refused on the spot), the
panel shows the sets as they will be once saved and marks what is pending, Undo takes a
change back, and Review changes lists them. A set that exists only as a pending
``CreateSsdSet`` is edited by replacing that edit, and deleted by withdrawing it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QColor, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ...core import impact, lookup, rbac
from ...core.changes import (
    AddSsdRole,
    ChangeSsdSet,
    CreateSsdSet,
    DeleteSsdSet,
    Edit,
    RemoveSsdRole,
    SsdEdit,
)
from ...core.database import Database
from ...core.errors import AccessGuardError
from ...core.keys import name_key
from ...core.operators import AppAction
from ...core.rows import SsdSetRow
from ..background import BackgroundReads, Job
from ..pending import PendingStore
from .common import (
    GREY,
    PENDING,
    READ_ONLY_TIP,
    RED,
    PickerDialog,
    RefreshWhenShown,
    RowsModel,
    error_label,
    lock_for_read_only,
    open_window,
    plain_label,
    searcher,
    share_window_actions,
)

VIOLATION_LIMIT = 1000


EMPTY_SETS_NOTE = (
    "No separation-of-duty sets yet. A set names roles no one may hold too many of at once "
    "(for example Payments and Approvals: nobody may both pay and approve). "
    "Press \u201cNew set\u2026\u201d to make one."
)


def _ssd_edits(store: PendingStore) -> list[SsdEdit]:
    return [
        e
        for e in store.edits()
        if isinstance(e, (CreateSsdSet, ChangeSsdSet, AddSsdRole, RemoveSsdRole, DeleteSsdSet))
    ]


def set_edits(
    existing: SsdSetRow, name: str, description: str, roles: Sequence[str], cardinality: int
) -> list[Edit]:
    """The pending edits that turn ``existing`` (as the user saw it) into the dialog's
    values, each one readable in the pending list and in Review changes.

    Roles only added (or only removed) under the same limit become one AddSsdRole (or
    RemoveSsdRole) per role: every intermediate set then lies between the old and the new
    one, so it is unbroken when both are. Roles swapped, or changed together with the
    limit, have no such order: they become one ChangeSsdSet, checked once as a whole.
    """
    added = [r for r in roles if r not in existing.roles]
    removed = [r for r in existing.roles if r not in roles]
    before: dict[str, Any] = {
        "name": existing.name,
        "description": existing.description,
        "roles": existing.roles,
        "cardinality": existing.cardinality,
    }
    after: dict[str, Any] = {
        "name": name.strip(),
        "description": description.strip(),
        "roles": tuple(roles),
        "cardinality": cardinality,
    }
    changed = {k: v for k, v in after.items() if k != "roles" and v != before[k]}
    whole = (added and removed) or ("cardinality" in changed and (added or removed))
    if whole:
        changed["roles"] = after["roles"]
    label = existing.name

    def change() -> list[Edit]:
        if not changed:
            return []
        return [ChangeSsdSet(existing.id, changed, {k: before[k] for k in changed}, label)]

    if whole:
        return change()
    edits: list[Edit] = [AddSsdRole(existing.id, r, label) for r in added]
    edits += change()
    label = str(changed.get("name", label))
    edits += [RemoveSsdRole(existing.id, r, label) for r in removed]
    return edits


class SsdSetDialog(QDialog):
    """Create a set, or change an existing set's name, description, roles and cardinality.

    ``apply()`` checks the change against the rules and the other pending edits, pushes it
    to the store and closes; on refusal the dialog stays open with the reason (the set and
    users named) and nothing is pushed. Save (Ctrl+S) writes it to the file.

    Args:
        db: the open database.
        store: the window's pending edits.
        existing: the set as the user sees it (pending edits applied), or None for a new one.
        pending_create: the set's CreateSsdSet if it is new and unsaved (it is replaced).

    Signals:
        applied(str): the set's name, after its edits became pending.
    """

    applied = Signal(str)

    def __init__(
        self,
        db: Database,
        store: PendingStore,
        existing: SsdSetRow | None = None,
        parent: QWidget | None = None,
        *,
        pending_create: CreateSsdSet | None = None,
    ) -> None:
        super().__init__(parent)
        self._db = db
        self._store = store
        self._existing = existing
        self._pending_create = pending_create
        self.setWindowTitle(
            "Edit separation-of-duty set" if existing else "New separation-of-duty set"
        )
        self.name_edit = QLineEdit(existing.name if existing else "")
        self.description_edit = QLineEdit(existing.description if existing else "")
        self.cardinality = QSpinBox()
        self.cardinality.setRange(2, 1000)
        self.cardinality.setValue(existing.cardinality if existing else 2)
        self.roles = QListWidget()
        self.roles.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        for name in existing.roles if existing else ():
            self.roles.addItem(name)
        self.add_roles_button = QPushButton("Add roles\u2026")
        self.remove_roles_button = QPushButton("Remove")
        self.explain = plain_label()
        self.message = error_label()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setToolTip("Keep these changes as pending; Save (Ctrl+S) writes them")
        form = QFormLayout()
        form.addRow("&Name", self.name_edit)
        form.addRow("&Description", self.description_edit)
        form.addRow("&Roles", self.roles)
        row = QHBoxLayout()
        row.addWidget(self.add_roles_button)
        row.addWidget(self.remove_roles_button)
        row.addStretch(1)
        form.addRow("", row)
        form.addRow("&Cardinality", self.cardinality)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.explain)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.add_roles_button.clicked.connect(self.add_roles)
        self.remove_roles_button.clicked.connect(self.remove_selected_roles)
        self.cardinality.valueChanged.connect(self._update_explain)
        self.buttons.accepted.connect(self.apply)
        self.buttons.rejected.connect(self.reject)
        self.read_only = lock_for_read_only(
            db,
            [
                self.name_edit,
                self.description_edit,
                self.cardinality,
                self.add_roles_button,
                self.remove_roles_button,
                self.ok_button,
            ],
            AppAction.EDIT_SSD,
        )
        # Ctrl+S here keeps the dialog's changes, then saves everything pending.
        self._shared = share_window_actions(self, skip=("save",))
        self.save_action = QAction("Keep and save", self)
        self.save_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Save))
        self.save_action.triggered.connect(self.apply_and_save)
        self.addAction(self.save_action)
        self._update_explain()

    def role_names(self) -> list[str]:
        return [self.roles.item(i).text() for i in range(self.roles.count())]

    def add_roles(self) -> None:
        present = set(self.role_names())
        found = PickerDialog.ask(self, "Roles of the set", searcher(self._db, lookup.search_roles))
        for choice in found:
            if choice.label not in present:
                self.roles.addItem(choice.label)
                present.add(choice.label)
        self._update_explain()

    def remove_selected_roles(self) -> None:
        for item in self.roles.selectedItems():
            self.roles.takeItem(self.roles.row(item))
        self._update_explain()

    def _update_explain(self) -> None:
        n = self.cardinality.value()
        self.explain.setText(
            f"No user may be authorized for {n} or more of these "
            f"{len(self.role_names())} roles (directly or through inheritance)."
        )

    def edits(self) -> list[Edit]:
        """What the dialog would push (empty if nothing changed)."""
        roles = self.role_names()
        n = self.cardinality.value()
        name, text = self.name_edit.text().strip(), self.description_edit.text().strip()
        if self._existing is None or self._pending_create is not None:
            return [CreateSsdSet(name, tuple(roles), n, text)]
        return set_edits(self._existing, name, text, roles, n)

    def apply_and_save(self) -> bool:
        """Ctrl+S: keep this dialog's changes, then the window's Save writes every
        pending edit."""
        if not self.apply():
            return False
        save = self._shared.get("save")
        if save is not None and save.isEnabled():
            save.trigger()
        return True

    def apply(self) -> bool:
        """Push the change (pending) unless the rules refuse it; True if it was kept."""
        if self.read_only:
            self.message.setText(READ_ONLY_TIP)
            return False
        edits = self.edits()
        old = self._pending_create
        if old is not None and edits == [old]:
            edits = []
        if not edits:
            self.accept()
            return True
        pending = [e for e in self._store.edits_for_save() if e is not old]
        try:
            problem = impact.refusal(self._db, pending, edits)
        except AccessGuardError as exc:
            problem = exc
        if problem is not None:
            self.message.setText(f"Not kept: {problem.message}")
            return False
        if old is not None:
            self._store.replace(old, edits[0])
        elif len(edits) == 1:
            self._store.push(edits[0])
        else:
            self._store.push_many(edits)
        self.applied.emit(self.name_edit.text().strip())
        self.accept()
        return True


@dataclass(frozen=True)
class _SetEntry:
    """One row of the panel: the set as it will be (``shown``), as it is in the file
    (``saved``), and how it is pending."""

    shown: SsdSetRow
    saved: SsdSetRow | None
    create: CreateSsdSet | None
    deleted: bool
    edits: tuple[SsdEdit, ...]


#: Files this large check for violations off the GUI thread.
CHECK_BACKGROUND_BYTES = 50_000_000


def _large_file(db: Database) -> bool:
    if db.path is None:
        return True  # a server: the check's time depends on the network too
    try:
        return db.path.stat().st_size >= CHECK_BACKGROUND_BYTES
    except OSError:
        return True


class SsdPanel(QWidget):
    """The separation-of-duty sets as they will be once saved, and the report of the
    violations in the file.

    Args:
        db: the open database.
        store: the window's pending edits.

    Signals:
        sets_changed(): a set was created, changed or deleted (pending, not saved yet).

    Attributes:
        sets_model: the sets (name, roles, cardinality, description, pending state).
        violations_model: users authorized for too many roles of a set.
    """

    sets_changed = Signal()
    HEADERS = ("Set", "Roles", "Limit", "Description", "State")

    def __init__(self, db: Database, store: PendingStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._db = db
        self._store = store
        self._entries: list[_SetEntry] = []
        self._note_shown = False  # a note about a pending change is in self.message
        self.sets_model = RowsModel(self.HEADERS, self)
        self.sets_view = QTableView()
        self.sets_view.setModel(self.sets_model)
        self.sets_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.sets_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.sets_view.verticalHeader().setVisible(False)
        self.sets_view.horizontalHeader().setStretchLastSection(True)
        self.new_button = QPushButton("New set\u2026")
        self.edit_button = QPushButton("Edit\u2026")
        self.delete_button = QPushButton("Delete")
        self.check_button = QPushButton("Check for violations")
        self.check_button.setToolTip("Scan every user as the file is now (saved changes only)")
        self.violations_model = RowsModel(("Set", "User", "Authorized for", "Limit"), self)
        self.violations_view = QTableView()
        self.violations_view.setModel(self.violations_model)
        self.violations_view.verticalHeader().setVisible(False)
        self.violations_view.horizontalHeader().setStretchLastSection(True)
        self.violations_summary = plain_label(
            "Press \u201cCheck for violations\u201d to scan every user."
        )
        self.message = plain_label()
        # Said instead of an empty table: what a set is for and how to make one.
        self.empty_note = plain_label(EMPTY_SETS_NOTE)
        self.empty_note.setObjectName("ssd_empty_note")
        self.empty_note.setStyleSheet(f"color: {GREY.name()};")
        self.empty_note.hide()
        # The check reads every member of the sets' roles: on a large file it runs off
        # the GUI thread, with a busy bar and Cancel.
        self.check_progress = QProgressBar()
        self.check_progress.setRange(0, 0)
        self.check_progress.setTextVisible(False)
        self.check_progress.setMaximumWidth(160)
        self.check_progress.hide()
        self.cancel_check_button = QPushButton("Cancel")
        self.cancel_check_button.setToolTip("Stop the check for violations")
        self.cancel_check_button.hide()
        self._reads = BackgroundReads(db, self)
        self._check_job: Job[list[Any]] | None = None
        buttons = QHBoxLayout()
        for b in (self.new_button, self.edit_button, self.delete_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.check_progress)
        buttons.addWidget(self.cancel_check_button)
        buttons.addWidget(self.check_button)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Separation-of-duty sets"))
        layout.addWidget(self.sets_view, 1)
        layout.addWidget(self.empty_note)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addWidget(self.violations_summary)
        layout.addWidget(self.violations_view, 1)
        self.new_button.clicked.connect(lambda: self.open_dialog(None))
        self.edit_button.clicked.connect(self._edit_selected)
        self.delete_button.clicked.connect(self.delete_selected)
        self.check_button.clicked.connect(self.check_violations)
        self.cancel_check_button.clicked.connect(self.cancel_check)
        self.sets_view.doubleClicked.connect(lambda _index: self._edit_selected())
        self.sets_view.selectionModel().selectionChanged.connect(self._selection_changed)
        self.read_only = lock_for_read_only(
            db, [self.new_button, self.edit_button, self.delete_button], AppAction.EDIT_SSD
        )
        if self.read_only:
            why = db.access.why_not(AppAction.EDIT_SSD)
            self._say(READ_ONLY_TIP if db.read_only or why is None else why, GREY)
        # The pending state is read in a rolled-back preview: only while someone sees it.
        self._follow = RefreshWhenShown(self, self.refresh)
        store.changed.connect(self._follow.request)
        self.refresh()

    # ------------------------------------------------------------ API

    def refresh(self) -> None:
        """Read the sets from the file and as they will be once the pending edits are
        saved, and mark the difference."""
        chosen = self.selected_set()
        try:
            with self._db.read() as s:
                saved = rbac.ssd_role_sets(s)
            problems: list[str] = []
            shown = saved
            if not self._store.is_empty():
                shown, problems = impact.with_pending(
                    self._db, self._store.edits_for_save(), rbac.ssd_role_sets
                )
        except AccessGuardError as exc:
            self._say(exc.message, RED)
            return
        self._entries = self._entries_of(saved, shown)
        rows, colors, tips = [], [], []
        for entry in self._entries:
            state, color, tip = self._state(entry)
            r = entry.shown
            rows.append(
                (r.name, ", ".join(r.roles), f"fewer than {r.cardinality}", r.description, state)
            )
            colors.append(color)
            tips.append(tip)
        self.sets_model.set_rows(rows, colors, tips)
        self.sets_view.resizeColumnsToContents()
        self.empty_note.setVisible(not rows)
        if chosen is not None:
            self._reselect(chosen)
        self._selection_changed()
        if problems:
            self._say("Some pending changes would be refused: " + "; ".join(problems), RED)
        elif self.message.text().startswith("Some pending") or (
            self._note_shown and not _ssd_edits(self._store)
        ):
            # Saved, undone or reverted: a note about pending changes is stale now.
            self._say("", None)

    def select_set(self, name: str) -> None:
        for row, entry in enumerate(self._entries):
            if entry.shown.name == name:
                self.sets_view.selectRow(row)
                return
        raise KeyError(name)

    def selected_set(self) -> SsdSetRow | None:
        entry = self._selected_entry()
        return entry.shown if entry is not None else None

    def states(self) -> dict[str, str]:
        """Set name -> its pending state as shown ("" if saved and unchanged)."""
        return {row[0]: row[4] for row in self.sets_model.rows()}

    def make_dialog(self, existing: SsdSetRow | None) -> SsdSetDialog:
        """The dialog for a new (None) or shown set, wired to refresh this panel."""
        entry = next((e for e in self._entries if e.shown == existing), None)
        create = entry.create if entry is not None else None
        dialog = SsdSetDialog(self._db, self._store, existing, self, pending_create=create)
        dialog.applied.connect(self._pushed)
        return dialog

    def open_dialog(self, existing: SsdSetRow | None) -> None:
        if self.read_only:
            return
        self.make_dialog(existing).open()

    def delete_selected(self) -> bool:
        """Mark the chosen set for deletion (pending; Ctrl+Z takes it back). A set that
        is new and unsaved is withdrawn instead."""
        entry = self._selected_entry()
        if entry is None or entry.deleted or self.read_only:
            return False
        name = entry.shown.name
        if entry.create is not None:
            self._store.withdraw([entry.create])
            self._say(f"The new set {name} was withdrawn (it was never saved).", None)
        else:
            self._store.push(DeleteSsdSet(entry.shown.id, name))
            self._note(f"{name} will be deleted when you save.")
        self.sets_changed.emit()
        return True

    def check_violations(self) -> int:
        """Scan every user (set-based, one query) and list who breaks which set.

        On a large file (``CHECK_BACKGROUND_BYTES``) the scan runs on a worker with a busy
        bar and Cancel, and this returns 0 at once (``is_checking()``; the report fills
        in when it ends); otherwise it returns how many violations are listed.
        """
        self.cancel_check(quiet=True)
        inline = not _large_file(self._db)

        def work(session: Any, job: Job[list[Any]]) -> list[Any]:
            cancel = None if job.inline else job.stop
            return list(rbac.ssd_violations(session, limit=VIOLATION_LIMIT + 1, cancel=cancel))

        shown: list[int] = []

        def done(found: list[Any]) -> None:
            self._check_job = None
            self._checking(False)
            shown.append(self._show_violations(found))

        def failed(exc: AccessGuardError) -> None:
            self._check_job = None
            self._checking(False)
            self.violations_summary.setText(exc.message)

        job = self._reads.submit(work, done, failed=failed, inline=inline)
        if not inline:
            self._check_job = job
            self._checking(True)
            self.violations_summary.setText("Checking every user for violations\u2026")
        return shown[0] if shown else 0

    def is_checking(self) -> bool:
        """True while a check for violations runs off the GUI thread."""
        return self._check_job is not None

    def cancel_check(self, *, quiet: bool = False) -> None:
        """Stop a running check (its query is interrupted; nothing is listed)."""
        if self._check_job is None:
            return
        self._check_job.cancel()
        self._check_job = None
        self._checking(False)
        if not quiet:
            self.violations_summary.setText(
                "Check cancelled. Press \u201cCheck for violations\u201d to scan again."
            )

    def _checking(self, running: bool) -> None:
        self.check_progress.setVisible(running)
        self.cancel_check_button.setVisible(running)
        self.check_button.setEnabled(not running)

    def _show_violations(self, found: list[Any]) -> int:
        shown = found[:VIOLATION_LIMIT]
        self.violations_model.set_rows(
            [
                (v.ssd_set, v.username, ", ".join(v.roles), f"fewer than {v.cardinality}")
                for v in shown
            ],
            [RED] * len(shown),
        )
        self.violations_view.resizeColumnsToContents()
        if not found:
            self.violations_summary.setText("No user breaks a separation-of-duty set.")
        else:
            more = " (the first 1,000 are listed)" if len(found) > VIOLATION_LIMIT else ""
            n = len(shown)
            self.violations_summary.setText(
                f"{n:,} violation{'' if n == 1 else 's'}{more}: these users are authorized "
                "for too many roles of a set. Expired assignments count too."
            )
        return len(shown)

    # ------------------------------------------------------------ internals

    def _entries_of(self, saved: list[SsdSetRow], shown: list[SsdSetRow]) -> list[_SetEntry]:
        edits = _ssd_edits(self._store)
        creates = {name_key(e.name): e for e in edits if isinstance(e, CreateSsdSet)}
        saved_by_id = {r.id: r for r in saved}
        entries = []
        for row in shown:
            create = creates.get(name_key(row.name))
            old = None if create is not None else saved_by_id.get(row.id)
            mine = (
                (create,)
                if create is not None
                else tuple(e for e in edits if getattr(e, "ssd_set", None) in (row.id, row.name))
            )
            entries.append(_SetEntry(row, old, create, False, mine))
        shown_ids = {e.saved.id for e in entries if e.saved is not None}
        for row in saved:
            if row.id not in shown_ids:
                mine = tuple(e for e in edits if getattr(e, "ssd_set", None) in (row.id, row.name))
                entries.append(_SetEntry(row, row, None, True, mine))
        return entries

    def _state(self, entry: _SetEntry) -> tuple[str, QColor | None, str]:
        """(state text, colour, tooltip) of one row."""
        failed = next((m for e in entry.edits if (m := self._store.failure(e))), None)
        lines = [e.describe() for e in entry.edits]
        if failed:
            return f"not saved: {failed}", RED, "\n".join([*lines, failed])
        if entry.create is not None:
            return "new \u2014 not saved", PENDING, "\n".join(lines)
        if entry.deleted:
            return "deleted when you save", GREY, "\n".join(lines)
        if entry.saved is not None and entry.saved != entry.shown:
            return "changed \u2014 not saved", PENDING, "\n".join(lines)
        return "", None, ""

    def _selected_entry(self) -> _SetEntry | None:
        rows = self.sets_view.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self._entries):
            return None
        return self._entries[rows[0].row()]

    def _reselect(self, before: SsdSetRow) -> None:
        for row, entry in enumerate(self._entries):
            if entry.shown.id == before.id or entry.shown.name == before.name:
                self.sets_view.selectRow(row)
                return

    def _edit_selected(self) -> None:
        entry = self._selected_entry()
        if entry is not None and not entry.deleted:
            self.open_dialog(entry.shown)

    def _selection_changed(self) -> None:
        entry = self._selected_entry()
        live = entry is not None and not entry.deleted and not self.read_only
        self.edit_button.setEnabled(live)
        self.delete_button.setEnabled(live)

    def _pushed(self, name: str) -> None:
        self._note(f"{name}: pending \u2014 Save (Ctrl+S) writes it, Undo (Ctrl+Z) takes it back.")
        self.sets_changed.emit()

    def _note(self, text: str) -> None:
        self._say(text, None)
        self._note_shown = True

    def _say(self, text: str, color: QColor | None) -> None:
        self._note_shown = False
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {color.name()};" if color is not None else "")


def show_ssd(db: Database, store: PendingStore, parent: QWidget | None = None) -> SsdPanel:
    panel = SsdPanel(db, store, parent)
    panel.sets_view.setFocus(Qt.FocusReason.OtherFocusReason)
    return open_window(panel, "Separation of duty", (860, 540))
