"""Separation-of-duty sets: list, create, edit members and cardinality, delete, and a
report of the users who break a set today (e.g. after an import).

SSD sets are rules rather than table rows, so these dialogs write directly, each change in
one ``db.action`` (audited, all or nothing), instead of going through the pending store;
the core refuses a set or a change that some user would already break.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ...core import lookup, rbac
from ...core.database import Database
from ...core.errors import AccessGuardError
from ...core.rows import SsdSetRow
from .common import (
    RED,
    PickerDialog,
    RowsModel,
    error_label,
    open_window,
    plain_label,
    searcher,
)

VIOLATION_LIMIT = 1000


class SsdSetDialog(QDialog):
    """Create a set, or change an existing set's roles and cardinality.

    ``save()`` writes in one action and closes on success; on refusal the dialog stays
    open with the reason (the set and users named) and nothing is written.

    Signals:
        saved(str): the set's name, after a successful write.
    """

    saved = Signal(str)

    def __init__(
        self, db: Database, existing: SsdSetRow | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._db = db
        self._existing = existing
        self.setWindowTitle(
            "Edit separation-of-duty set" if existing else "New separation-of-duty set"
        )
        self.name_edit = QLineEdit(existing.name if existing else "")
        self.name_edit.setReadOnly(existing is not None)
        self.description_edit = QLineEdit(existing.description if existing else "")
        self.description_edit.setReadOnly(existing is not None)
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
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
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
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
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

    def save(self) -> bool:
        roles = self.role_names()
        n = self.cardinality.value()
        try:
            if self._existing is None:
                name = self.name_edit.text()
                with self._db.action("Create separation-of-duty set") as s:
                    row = rbac.create_ssd_set(s, name, roles, n, self.description_edit.text())
            else:
                row = self._update(self._existing, roles, n)
        except AccessGuardError as exc:
            self.message.setText(f"Not saved: {exc.message}")
            return False
        self.saved.emit(row.name)
        self.accept()
        return True

    def _update(self, old: SsdSetRow, roles: list[str], n: int) -> SsdSetRow:
        """Members added, then the cardinality, then members removed: the order in which
        every intermediate state satisfies the core's rules when the final one does."""
        added = [r for r in roles if r not in old.roles]
        removed = [r for r in old.roles if r not in roles]
        with self._db.action(f"Change separation-of-duty set {old.name}") as s:
            row = rbac.get_ssd_set(s, old.id)
            for role in added:
                rbac.add_ssd_role_member(s, row.id, role)
            result = rbac.set_ssd_set_cardinality(s, row.id, n)
            for role in removed:
                result = rbac.delete_ssd_role_member(s, row.id, role)
        return result


class SsdPanel(QWidget):
    """The separation-of-duty sets and the report of current violations.

    Args:
        db: the open database.

    Signals:
        sets_changed(): a set was created, changed or deleted (written to the file).

    Attributes:
        sets_model: the sets (name, roles, cardinality, description).
        violations_model: users authorized for too many roles of a set.
    """

    sets_changed = Signal()

    def __init__(self, db: Database, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._db = db
        self._sets: list[SsdSetRow] = []
        self.sets_model = RowsModel(("Set", "Roles", "Limit", "Description"), self)
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
        self.violations_model = RowsModel(("Set", "User", "Authorized for", "Limit"), self)
        self.violations_view = QTableView()
        self.violations_view.setModel(self.violations_model)
        self.violations_view.verticalHeader().setVisible(False)
        self.violations_view.horizontalHeader().setStretchLastSection(True)
        self.violations_summary = plain_label(
            "Press \u201cCheck for violations\u201d to scan every user."
        )
        self.message = error_label()
        buttons = QHBoxLayout()
        for b in (self.new_button, self.edit_button, self.delete_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.check_button)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Separation-of-duty sets"))
        layout.addWidget(self.sets_view, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addWidget(self.violations_summary)
        layout.addWidget(self.violations_view, 1)
        self.new_button.clicked.connect(lambda: self.open_dialog(None))
        self.edit_button.clicked.connect(self._edit_selected)
        self.delete_button.clicked.connect(self.delete_selected)
        self.check_button.clicked.connect(self.check_violations)
        self.sets_view.doubleClicked.connect(lambda _index: self._edit_selected())
        self.sets_view.selectionModel().selectionChanged.connect(self._selection_changed)
        self.refresh()

    # ------------------------------------------------------------ API

    def refresh(self) -> None:
        try:
            with self._db.read() as s:
                self._sets = rbac.ssd_role_sets(s)
        except AccessGuardError as exc:
            self.message.setText(exc.message)
            return
        self.sets_model.set_rows(
            [
                (r.name, ", ".join(r.roles), f"fewer than {r.cardinality}", r.description)
                for r in self._sets
            ]
        )
        self.sets_view.resizeColumnsToContents()
        self._selection_changed()

    def select_set(self, name: str) -> None:
        for row, s in enumerate(self._sets):
            if s.name == name:
                self.sets_view.selectRow(row)
                return
        raise KeyError(name)

    def selected_set(self) -> SsdSetRow | None:
        rows = self.sets_view.selectionModel().selectedRows()
        return self._sets[rows[0].row()] if rows else None

    def make_dialog(self, existing: SsdSetRow | None) -> SsdSetDialog:
        """The dialog for a new (None) or existing set, wired to refresh this panel."""
        dialog = SsdSetDialog(self._db, existing, self)
        dialog.saved.connect(self._written)
        return dialog

    def open_dialog(self, existing: SsdSetRow | None) -> None:
        self.make_dialog(existing).open()

    def delete_selected(self) -> bool:
        chosen = self.selected_set()
        if chosen is None:
            return False
        from .. import messages

        if not messages.confirm(
            self, "Delete set", f"Delete the separation-of-duty set {chosen.name}?", "Delete"
        ):
            return False
        try:
            with self._db.action(f"Delete separation-of-duty set {chosen.name}") as s:
                rbac.delete_ssd_set(s, chosen.id)
        except AccessGuardError as exc:
            self.message.setText(exc.message)
            return False
        self._written(chosen.name)
        return True

    def check_violations(self) -> int:
        """Scan every user (set-based, one query) and list who breaks which set."""
        try:
            with self._db.read() as s:
                found = rbac.ssd_violations(s, limit=VIOLATION_LIMIT + 1)
        except AccessGuardError as exc:
            self.violations_summary.setText(exc.message)
            return 0
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

    def _edit_selected(self) -> None:
        chosen = self.selected_set()
        if chosen is not None:
            self.open_dialog(chosen)

    def _selection_changed(self) -> None:
        chosen = self.selected_set() is not None
        self.edit_button.setEnabled(chosen)
        self.delete_button.setEnabled(chosen)

    def _written(self, _name: str) -> None:
        self.message.clear()
        self.refresh()
        self.sets_changed.emit()


def show_ssd(db: Database, parent: QWidget | None = None) -> SsdPanel:
    return open_window(SsdPanel(db, parent), "Separation of duty", (760, 520))
