"""A user's roles and a role's members, permissions and inheritance, edited as pending
edits: nothing here writes to the database; Save (in the window) does.

Each panel shows the state *as it will be* once the pending edits are saved (read in a
rolled-back preview with the edits applied) and marks what is still pending. An edit the
rules would refuse (an inheritance cycle, a separation-of-duty violation, a duplicate) is
refused on the spot, with the cycle or the set named, and never reaches the store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time
from typing import Any

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.orm import Session

from ...core import impact, lookup, rbac, role_stats
from ...core.changes import Assign, Deassign, Edit, Grant, Inherit, Revoke, SetExpiry, Uninherit
from ...core.database import Database
from ...core.errors import AccessGuardError, NotFoundError
from ...core.operators import AppAction
from ...core.rows import AssignmentRow, PermissionRow, RoleRow
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
    SqlCompleter,
    error_label,
    is_locked,
    lock_for_read_only,
    open_window,
    plain_label,
    searcher,
)
from .held import held_searcher, role_id, user_id

# Members read per page in a role's details; the next page is read when the list is
# scrolled to its end (keyset by username: any role size, no cap, no whole-list load).
MEMBERS_PER_PAGE = 200
#: A role's direct grants listed at a time (more as the list is scrolled).
GRANTS_PER_PAGE = 200


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else ""


def _member_note(a: AssignmentRow) -> str:
    if a.expires_at is None:
        return ""
    if a.expired(datetime.now(UTC)):
        return f" (expired {_when(a.expires_at)}: grants nothing)"
    return f" (until {_when(a.expires_at)})"


def inheritance_sentence(role: str, inherits_from: str) -> str:
    """The one wording used everywhere for an inheritance edge."""
    return f"{role} inherits from {inherits_from} ({role} gets every permission of {inherits_from})"


class _EditingPanel(QWidget):
    """Common plumbing: push edits after checking them against the rules; on a read-only
    database every editing control is off (``read_only``) and nothing is pushed.

    Signals:
        refused(str): an edit was refused on the spot; the message names the reason.
    """

    refused = Signal(str)

    def __init__(self, db: Database, store: PendingStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._db = db
        self._store = store
        self.read_only = db.read_only
        self.message = plain_label()
        self.message.hide()
        # Reading the pending state applies every pending edit in a preview: do it only
        # for a panel someone can see, else once when it is shown again.
        self._follow = RefreshWhenShown(self, self.refresh)
        store.changed.connect(self._follow.request)

    def propose(self, edits: Sequence[Edit]) -> bool:
        """Push ``edits`` to the store unless the rules refuse one (then nothing is pushed
        and the reason is shown)."""
        if not edits:
            return False
        if self.read_only:
            self._say(READ_ONLY_TIP, RED)
            return False
        try:
            problem = impact.refusal(self._db, self._store.edits_for_save(), edits)
        except AccessGuardError as exc:
            problem = exc
        if problem is not None:
            self._say(f"Refused: {problem.message}", RED)
            self.refused.emit(problem.message)
            return False
        self._say("", None)
        if len(edits) == 1:
            self._store.push(edits[0])
        else:
            self._store.push_many(edits)
        return True

    def _say(self, text: str, color: QColor | None) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {color.name()};" if color is not None else "")
        self.message.setVisible(bool(text))

    def refresh(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


def _date_edit() -> QDateEdit:
    edit = QDateEdit()
    edit.setCalendarPopup(True)
    edit.setDisplayFormat("yyyy-MM-dd")
    edit.setDate(QDate.currentDate().addMonths(3))
    return edit


def _expiry_from(edit: QDateEdit) -> datetime:
    """End of the chosen day, UTC: "until 2027-02-01" includes that day."""
    d = edit.date()
    return datetime.combine(datetime(d.year(), d.month(), d.day()).date(), time(23, 59), UTC)


# ---------------------------------------------------------------------- user's roles


@dataclass(frozen=True)
class _UserState:
    username: str
    display_name: str
    active: bool
    now: tuple[AssignmentRow, ...]
    saved: tuple[AssignmentRow, ...]
    problems: tuple[str, ...]
    new: bool = False  # a pending new user: it exists once the pending edits are saved


class UserRolesPanel(_EditingPanel):
    """The roles of one user: granted when and by whom, until when; add several roles at
    once, remove, set or clear the expiry. Every change becomes a pending edit.

    Args:
        db: the open database.
        store: the window's pending edits.

    Signals:
        refused(str): an edit was refused (e.g. a separation-of-duty set would break).

    Attributes:
        table: the roles (``model`` holds rows: role, granted, granted by, expires, state).
        add_button, remove_button, expiry_edit, set_expiry_button, clear_expiry_button.
    """

    HEADERS = ("Role", "Granted (UTC)", "Granted by", "Expires (UTC)", "State")

    def __init__(self, db: Database, store: PendingStore, parent: QWidget | None = None) -> None:
        super().__init__(db, store, parent)
        self._user: str | None = None
        self._user_ref: int | str | None = None
        self._rows: list[tuple[str, AssignmentRow | None, AssignmentRow | None]] = []
        self.title = plain_label("No user chosen")
        font = QFont()
        font.setBold(True)
        font.setPointSize(font.pointSize() + 2)
        self.title.setFont(font)
        self.model = RowsModel(self.HEADERS, self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        # State ("will be added", "expired") shown next to the role: in the narrow details
        # pane the last columns are scrolled out of sight.
        self.table.horizontalHeader().moveSection(self.HEADERS.index("State"), 1)
        self.add_button = QPushButton("Add roles\u2026")
        self.remove_button = QPushButton("Remove")
        self.expiry_edit = _date_edit()
        self.set_expiry_button = QPushButton("Set expiry")
        self.clear_expiry_button = QPushButton("No expiry")
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        # Expiry on a row of its own: the panel also lives in a narrow details pane.
        expiry = QHBoxLayout()
        expiry.addWidget(QLabel("Until"))
        expiry.addWidget(self.expiry_edit)
        expiry.addWidget(self.set_expiry_button)
        expiry.addWidget(self.clear_expiry_button)
        expiry.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addLayout(expiry)
        layout.addWidget(self.message)
        self.add_button.clicked.connect(self.add_roles)
        self.remove_button.clicked.connect(self.remove_selected)
        self.set_expiry_button.clicked.connect(
            lambda: self.set_expiry(_expiry_from(self.expiry_edit))
        )
        self.clear_expiry_button.clicked.connect(lambda: self.set_expiry(None))
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._enable(True))
        self.read_only = lock_for_read_only(db, self._editing_controls(), AppAction.ASSIGN_ROLES)
        self._enable(False)

    # ------------------------------------------------------------ API

    def set_user(self, user: int | str) -> None:
        """Show (and edit) this user's roles."""
        self._user = str(user) if isinstance(user, str) else None
        self._user_ref = user
        self.refresh()

    def role_names(self) -> list[str]:
        """The roles shown, in order (for tests and the window's status line)."""
        return [name for name, _, _ in self._rows]

    def select_roles(self, names: Sequence[str]) -> None:
        self.table.clearSelection()
        mode = self.table.selectionMode()
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
        for row, (name, _, _) in enumerate(self._rows):
            if name in names:
                self.table.selectRow(row)
        self.table.setSelectionMode(mode)

    def selected_roles(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self._rows[r][0] for r in rows if self._rows[r][1] is not None]

    def add_roles(self) -> bool:
        """Ask for roles (searchable, several at once) and assign them (pending)."""
        if self._user_ref is None:
            return False
        ref = self._user_ref
        search = held_searcher(self._db, lookup.search_roles, role_stats.held_roles, user_id(ref))
        chosen = PickerDialog.ask(self, "Add roles", search)
        username = self._username()
        edits: list[Edit] = [Assign(user=username, role=c.label) for c in chosen]
        return self.propose(edits)

    def remove_selected(self) -> bool:
        username = self._username()
        return self.propose([Deassign(user=username, role=r) for r in self.selected_roles()])

    def set_expiry(self, moment: datetime | None) -> bool:
        """Set (or clear, with None) the expiry of the selected assignments."""
        username = self._username()
        edits: list[Edit] = []
        for name in self.selected_roles():
            saved = next((s for n, _, s in self._rows if n == name), None)
            edits.append(
                SetExpiry(
                    user=username,
                    role=name,
                    expires_at=moment,
                    version=saved.version if saved is not None else None,
                )
            )
        return self.propose(edits)

    def refresh(self) -> None:
        if self._user_ref is None:
            return
        ref = self._user_ref
        try:
            state = self._read(ref)
        except AccessGuardError as exc:
            self.title.setText(exc.message)
            self.model.set_rows([])
            self._rows = []
            self._enable(False)
            return
        self._user = state.username
        inactive = "" if state.active else " \u2014 inactive: none of these roles grants anything"
        new = " \u2014 new, not saved yet" if state.new else ""
        self.title.setText(f"{state.username} ({state.display_name}){new}{inactive}")
        saved = {a.role_id: a for a in state.saved}
        now = {a.role_id: a for a in state.now}
        ids = sorted(set(saved) | set(now), key=lambda i: (now.get(i) or saved[i]).role.lower())
        moment = datetime.now(UTC)
        rows, colors, rows_meta = [], [], []
        for rid in ids:
            cur, old = now.get(rid), saved.get(rid)
            shown = cur or old
            assert shown is not None
            if old is None:
                state_text, color = "will be added", PENDING
            elif cur is None:
                state_text, color = "will be removed", GREY
            elif cur.expires_at != old.expires_at:
                state_text, color = "expiry will change", PENDING
            else:
                state_text, color = "", None
            if cur is not None and cur.expired(moment):
                color = RED
                state_text = state_text or "expired"
            rows.append(
                (
                    shown.role,
                    _when(shown.granted_at) if old is not None else "on save",
                    shown.granted_by,
                    _when(shown.expires_at) if shown.expires_at else "never",
                    state_text,
                )
            )
            colors.append(color)
            rows_meta.append((shown.role, cur, old))
        self._rows = rows_meta
        self.model.set_rows(rows, colors)
        self.table.resizeColumnsToContents()
        self._enable(True)
        if state.problems:
            self._say("Some pending changes would be refused: " + "; ".join(state.problems), RED)

    # ------------------------------------------------------------ internals

    def _read(self, ref: int | str) -> _UserState:
        def read(session: Session) -> tuple[tuple[str, str, bool], list[AssignmentRow]]:
            u = rbac.get_user(session, ref)
            return (u.username, u.display_name, u.active), rbac.assigned_roles(session, u.id)

        (info, now), problems = impact.with_pending(self._db, self._store.edits_for_save(), read)
        new = False
        with self._db.read() as session:
            try:
                saved = rbac.assigned_roles(session, ref)
            except NotFoundError:
                saved, new = [], True  # a user that exists only in the pending edits
        username, display, active = info
        return _UserState(
            username, display, active, tuple(now), tuple(saved), tuple(problems), new
        )

    def _username(self) -> str:
        return self._user or str(self._user_ref)

    def _editing_controls(self) -> list[QWidget]:
        return [
            self.add_button,
            self.remove_button,
            self.expiry_edit,
            self.set_expiry_button,
            self.clear_expiry_button,
        ]

    def _enable(self, on: bool) -> None:
        """Add needs a user; Remove and the expiry buttons need a chosen (saved or
        pending) assignment as well; nothing edits a read-only database."""
        on = on and not self.read_only
        self.add_button.setEnabled(on)
        chosen = on and bool(self.selected_roles())
        for w in (self.remove_button, self.set_expiry_button, self.clear_expiry_button):
            w.setEnabled(chosen)


# ---------------------------------------------------------------------- role details


@dataclass(frozen=True)
class _RoleState:
    role: RoleRow
    members: tuple[AssignmentRow, ...]
    member_total: int
    members_after: str | None
    permissions: tuple[PermissionRow, ...]  # the first page of the direct grants
    permission_total: int
    permissions_after: tuple[str, str] | None
    parents: tuple[RoleRow, ...]
    children: tuple[RoleRow, ...]
    problems: tuple[str, ...]


class RoleDetailsPanel(_EditingPanel):
    """One role: its members, direct permissions, the roles it inherits from and the roles
    inheriting from it, each inheritance spelled out as a sentence. Adding an inheritance
    that would close a cycle is refused with the cycle named.

    Args:
        db: the open database.
        store: the window's pending edits.

    Signals:
        refused(str): an edit was refused on the spot.

    Attributes:
        members, permissions, inherits_from, inherited_by: the four lists (QListWidget).
    """

    def __init__(self, db: Database, store: PendingStore, parent: QWidget | None = None) -> None:
        super().__init__(db, store, parent)
        self._role_ref: int | str | None = None
        self._role_name = ""
        self._members_after: str | None = None
        self._permissions_after: tuple[str, str] | None = None
        self.title = plain_label("No role chosen")
        font = QFont()
        font.setBold(True)
        font.setPointSize(font.pointSize() + 2)
        self.title.setFont(font)
        self.description = plain_label()
        self.members = QListWidget()
        self.permissions = QListWidget()
        self.inherits_from = QListWidget()
        self.inherited_by = QListWidget()
        lists = (self.members, self.permissions, self.inherits_from, self.inherited_by)
        for w in lists:
            w.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
            w.setWordWrap(True)
            w.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            w.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.add_members_button = QPushButton("Add members\u2026")
        self.remove_members_button = QPushButton("Remove")
        self.add_permissions_button = QPushButton("Grant permissions\u2026")
        self.remove_permissions_button = QPushButton("Revoke")
        self.add_parent_button = QPushButton("Inherit from\u2026")
        self.remove_parent_button = QPushButton("Stop inheriting")
        self.add_child_button = QPushButton("Let roles inherit from this\u2026")
        self.remove_child_button = QPushButton("Remove")
        self.parents_help = plain_label()
        self.children_help = plain_label()
        for help_label in (self.parents_help, self.children_help):
            help_label.setStyleSheet(f"color: {GREY.name()};")

        def box(
            title: str, lst: QListWidget, add: QPushButton, rem: QPushButton, help_: QLabel | None
        ) -> QGroupBox:
            group = QGroupBox(title)
            lay = QVBoxLayout(group)
            if help_ is not None:
                lay.addWidget(help_)
            lay.addWidget(lst)
            row = QHBoxLayout()
            row.addWidget(add)
            row.addWidget(rem)
            row.addStretch(1)
            lay.addLayout(row)
            return group

        grid = QHBoxLayout()
        left = QVBoxLayout()
        right = QVBoxLayout()
        self.members_box = box(
            "Members", self.members, self.add_members_button, self.remove_members_button, None
        )
        left.addWidget(self.members_box)
        self.permissions_box = box(
            "Direct permissions",
            self.permissions,
            self.add_permissions_button,
            self.remove_permissions_button,
            None,
        )
        left.addWidget(self.permissions_box)
        right.addWidget(
            box(
                "Inherits from",
                self.inherits_from,
                self.add_parent_button,
                self.remove_parent_button,
                self.parents_help,
            )
        )
        right.addWidget(
            box(
                "Inherited by",
                self.inherited_by,
                self.add_child_button,
                self.remove_child_button,
                self.children_help,
            )
        )
        grid.addLayout(left, 1)
        grid.addLayout(right, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.description)
        layout.addLayout(grid, 1)
        layout.addWidget(self.message)

        self.add_members_button.clicked.connect(self.add_members)
        self.members.verticalScrollBar().valueChanged.connect(self._members_scrolled)
        self.permissions.verticalScrollBar().valueChanged.connect(self._permissions_scrolled)
        self.remove_members_button.clicked.connect(self.remove_selected_members)
        self.add_permissions_button.clicked.connect(self.add_permissions)
        self.remove_permissions_button.clicked.connect(self.revoke_selected_permissions)
        self.add_parent_button.clicked.connect(self.add_inherits_from)
        self.remove_parent_button.clicked.connect(self.remove_selected_inherits_from)
        self.add_child_button.clicked.connect(self.add_inherited_by)
        self.remove_child_button.clicked.connect(self.remove_selected_inherited_by)
        removers = (
            self.remove_members_button,
            self.remove_permissions_button,
            self.remove_parent_button,
            self.remove_child_button,
        )
        for lst, remover in zip(lists, removers, strict=True):
            # A Remove button needs something chosen in its own list.
            remover.setEnabled(False)
            lst.itemSelectionChanged.connect(
                lambda lst=lst, remover=remover: remover.setEnabled(
                    bool(_selected(lst)) and not is_locked(remover)
                )
            )
        lock_for_read_only(
            db, (self.add_members_button, self.remove_members_button), AppAction.ASSIGN_ROLES
        )
        lock_for_read_only(
            db,
            (
                self.add_permissions_button,
                self.remove_permissions_button,
                self.add_parent_button,
                self.remove_parent_button,
                self.add_child_button,
                self.remove_child_button,
            ),
            AppAction.EDIT_ROLES,
        )

    # ------------------------------------------------------------ API

    def set_role(self, role: int | str) -> None:
        self._role_ref = role
        self.refresh()

    def refresh(self) -> None:
        if self._role_ref is None:
            return
        try:
            state = self._read(self._role_ref)
        except AccessGuardError as exc:
            self.title.setText(exc.message)
            for w in (self.members, self.permissions, self.inherits_from, self.inherited_by):
                w.clear()
            return
        name = state.role.name
        self._role_name = name
        self.title.setText(name)
        self.description.setText(state.role.description)
        self.description.setVisible(bool(state.role.description))
        saved = self._saved_keys(name, state.members, state.permissions)
        self._fill(
            self.members,
            [
                (
                    a.username,
                    a.username + _member_note(a),
                    ("m", a.username) not in saved,
                )
                for a in state.members
            ],
        )
        self.members_box.setTitle(f"Members ({state.member_total:,})")
        self._members_after = state.members_after
        self._fill(
            self.permissions,
            [(p.label, p.label, ("p", p.label) not in saved) for p in state.permissions],
        )
        self.permissions_box.setTitle(f"Direct permissions ({state.permission_total:,})")
        self._permissions_after = state.permissions_after
        self._fill(
            self.inherits_from,
            [
                (r.name, inheritance_sentence(name, r.name), ("up", r.name) not in saved)
                for r in state.parents
            ],
        )
        self._fill(
            self.inherited_by,
            [
                (r.name, inheritance_sentence(r.name, name), ("down", r.name) not in saved)
                for r in state.children
            ],
        )
        self.parents_help.setText(f"{name} gets every permission of the roles listed here.")
        self.children_help.setText(f"The roles listed here get every permission of {name}.")
        if state.problems:
            self._say("Some pending changes would be refused: " + "; ".join(state.problems), RED)

    def add_members(self) -> bool:
        search = held_searcher(
            self._db, lookup.search_users, role_stats.held_users, role_id(self._role_name)
        )
        chosen = PickerDialog.ask(self, f"Add members to {self._role_name}", search)
        names = [c.label.split(" (")[0] for c in chosen]
        return self.propose([Assign(user=n, role=self._role_name) for n in names])

    def remove_selected_members(self) -> bool:
        return self.propose(
            [Deassign(user=n, role=self._role_name) for n in _selected(self.members)]
        )

    def add_permissions(self) -> bool:
        chosen = PickerDialog.ask(
            self,
            f"Grant permissions to {self._role_name}",
            held_searcher(
                self._db,
                lookup.search_permissions,
                role_stats.held_permissions,
                role_id(self._role_name),
            ),
        )
        return self.propose(
            [Grant(role=self._role_name, permission=_permission_ref(c.label)) for c in chosen]
        )

    def revoke_selected_permissions(self) -> bool:
        return self.propose(
            [
                Revoke(role=self._role_name, permission=_permission_ref(label))
                for label in _selected(self.permissions)
            ]
        )

    def add_inherits_from(self) -> bool:
        held = held_searcher(
            self._db, lookup.search_roles, role_stats.held_parents, role_id(self._role_name)
        )
        chosen = PickerDialog.ask(
            self,
            f"Roles {self._role_name} inherits from",
            lambda text: [c for c in held(text) if c.label != self._role_name],
        )
        return self.propose([Inherit(role=self._role_name, inherits_from=c.label) for c in chosen])

    def remove_selected_inherits_from(self) -> bool:
        return self.propose(
            [
                Uninherit(role=self._role_name, inherits_from=n)
                for n in _selected(self.inherits_from)
            ]
        )

    def add_inherited_by(self) -> bool:
        chosen = PickerDialog.ask(
            self, f"Roles that inherit from {self._role_name}", self._search_roles
        )
        return self.propose([Inherit(role=c.label, inherits_from=self._role_name) for c in chosen])

    def remove_selected_inherited_by(self) -> bool:
        return self.propose(
            [Uninherit(role=n, inherits_from=self._role_name) for n in _selected(self.inherited_by)]
        )

    def texts(self, which: QListWidget) -> list[str]:
        return [which.item(i).text() for i in range(which.count())]

    def fetch_more_members(self) -> bool:
        """Read the next page of members (the list was scrolled to its end), as they will
        be once the pending edits are saved; False if the list is already whole."""
        after, role = self._members_after, self._role_name
        if after is None:
            return False
        page = self._pending_page(
            lambda s: lookup.role_members_page(s, role, after, MEMBERS_PER_PAGE)
        )
        if page is None:
            return False
        members: Sequence[AssignmentRow] = page.rows
        saved = self._saved_member_ids(role, members)
        self._members_after = page.next_after
        self._add_items(
            self.members,
            [(a.username, a.username + _member_note(a), a.user_id not in saved) for a in members],
        )
        return True

    def fetch_more_permissions(self) -> bool:
        """Read the next page of direct grants (the list was scrolled to its end), as they
        will be once the pending edits are saved; False if the list is already whole."""
        after, role = self._permissions_after, self._role_name
        if after is None:
            return False
        page = self._pending_page(
            lambda s: lookup.role_grants_page(s, role, after, GRANTS_PER_PAGE)
        )
        if page is None:
            return False
        grants: Sequence[PermissionRow] = page.rows
        saved = self._saved_grant_ids(role, grants)
        self._permissions_after = page.next_after
        self._add_items(self.permissions, [(p.label, p.label, p.id not in saved) for p in grants])
        return True

    def _pending_page(self, read: Callable[[Session], lookup.Page]) -> lookup.Page | None:
        """The next page of a long list as it will be once the pending edits are saved;
        None when it cannot be read (the panel says why)."""
        try:
            page, _problems = impact.with_pending(self._db, self._store.edits_for_save(), read)
        except AccessGuardError as exc:
            self._say(exc.message, RED)
            return None
        return page

    def _permissions_scrolled(self, value: int) -> None:
        if value >= self.permissions.verticalScrollBar().maximum() and self._permissions_after:
            self.fetch_more_permissions()

    def _members_scrolled(self, value: int) -> None:
        if value >= self.members.verticalScrollBar().maximum() and self._members_after:
            self.fetch_more_members()

    # ------------------------------------------------------------ internals

    def _read(self, ref: int | str) -> _RoleState:
        def read(s: Session) -> _RoleState:
            r = rbac.get_role(s, ref)
            page = lookup.role_members_page(s, r.id, None, MEMBERS_PER_PAGE)
            grants = lookup.role_grants_page(s, r.id, None, GRANTS_PER_PAGE)
            return _RoleState(
                RoleRow.of(r),
                page.rows,
                lookup.role_member_count(s, r.id),
                page.next_after,
                grants.rows,
                lookup.role_grant_count(s, r.id),
                grants.next_after,
                tuple(rbac.inherits_from(s, r.id)),
                tuple(rbac.inherited_by(s, r.id)),
                (),
            )

        state, problems = impact.with_pending(self._db, self._store.edits_for_save(), read)
        return replace(state, problems=tuple(problems))

    def _saved_keys(
        self, name: str, members: Sequence[AssignmentRow], grants: Sequence[PermissionRow]
    ) -> set[tuple[str, str]]:
        """What is already in the file, to mark the rest as pending. The members and grants
        shown are checked by id (not against the file's first page of them), so a pending
        change in a role of any size marks exactly the pending rows."""
        try:
            saved_ids = self._saved_member_ids(name, members)
            saved_grants = self._saved_grant_ids(name, grants)
            with self._db.read() as s:
                r = rbac.get_role(s, name)
                keys = {("m", a.username) for a in members if a.user_id in saved_ids}
                keys |= {("p", p.label) for p in grants if p.id in saved_grants}
                keys |= {("up", x.name) for x in rbac.inherits_from(s, r.id)}
                keys |= {("down", x.name) for x in rbac.inherited_by(s, r.id)}
                return keys
        except AccessGuardError:
            return set()

    def _saved_grant_ids(self, role: str, grants: Sequence[PermissionRow]) -> set[int]:
        """Which of ``grants`` are granted in the file (the rest are pending)."""
        return self._saved_ids(lookup.saved_grants, role, [p.id for p in grants])

    def _saved_member_ids(self, role: str, members: Sequence[AssignmentRow]) -> set[int]:
        """Which of ``members`` are members in the file (the rest are pending)."""
        return self._saved_ids(lookup.saved_members, role, [a.user_id for a in members])

    def _saved_ids(
        self, saved: Callable[[Session, str, list[int]], set[int]], role: str, ids: list[int]
    ) -> set[int]:
        try:
            with self._db.read() as s:
                return saved(s, role, ids)
        except AccessGuardError:
            return set()  # a role that exists only as a pending edit: all pending

    @classmethod
    def _fill(cls, widget: QListWidget, entries: list[tuple[str, str, bool]]) -> None:
        widget.clear()
        cls._add_items(widget, entries)

    @staticmethod
    def _add_items(widget: QListWidget, entries: list[tuple[str, str, bool]]) -> None:
        for key, text, pending in entries:
            item = QListWidgetItem(text + ("  \u2014 pending" if pending else ""))
            item.setData(Qt.ItemDataRole.UserRole, key)
            if pending:
                item.setForeground(PENDING)
            widget.addItem(item)

    def _search_roles(self, text: str) -> list[lookup.Choice]:
        """Roles other than this one (a role cannot inherit from itself)."""
        found = searcher(self._db, lookup.search_roles)(text)
        return [c for c in found if c.label != self._role_name]


def _permission_ref(label: str) -> tuple[str, str]:
    """ "Server room: open" -> ("Server room", "open"); actions never contain spaces, so the
    last ": " separates them even if a resource name contains one."""
    resource, _, action = label.rpartition(": ")
    return resource, action


def _selected(widget: QListWidget) -> list[str]:
    return [str(item.data(Qt.ItemDataRole.UserRole)) for item in widget.selectedItems()]


# ---------------------------------------------------------------------- bulk


def bulk_role_change(
    db: Database,
    store: PendingStore,
    user_ids: Sequence[int],
    role: str,
    *,
    remove: bool = False,
    expires_at: datetime | None = None,
) -> tuple[int, str | None]:
    """Assign (or remove) ``role`` for every listed user in one step: one pending edit per
    user that needs it, pushed together (one gesture) after the rules accept them all.

    Returns:
        (number of edits pushed, None) or (0, the refusal message).
    """
    edits, problem = plan_bulk_role_change(
        db, store.edits_for_save(), user_ids, role, remove=remove, expires_at=expires_at
    )
    if problem is not None:
        return 0, problem
    store.push_many(edits)
    return len(edits), None


def plan_bulk_role_change(
    db: Database,
    pending: Sequence[Edit],
    user_ids: Sequence[int],
    role: str,
    *,
    remove: bool = False,
    expires_at: datetime | None = None,
) -> tuple[list[Edit], str | None]:
    """The edits a bulk role change makes on top of ``pending`` and whether the rules
    refuse them — (edits, None) or ([], the message). Touches only the database (its
    own short sessions), so it can run on a worker thread."""
    try:
        edits, _ = impact.with_pending(
            db,
            list(pending),
            lambda s: impact.bulk_role_edits(
                s, user_ids, role, remove=remove, expires_at=expires_at
            ),
        )
        if not edits:
            return [], None
        problem = impact.refusal(db, list(pending), edits)
    except AccessGuardError as exc:
        return [], exc.message
    if problem is not None:
        return [], problem.message
    return list(edits), None


#: A bulk change for this many users checks the rules off the GUI thread.
BULK_BACKGROUND_USERS = 200


class BulkRoleDialog(QDialog):
    """Assign or remove one role for a list of users (e.g. the rows selected in the users
    table) in one step. Tests call ``apply()`` directly; the window may ``exec()`` it.

    Signals:
        applied(int): how many pending edits were added.
    """

    applied = Signal(int)

    def __init__(
        self,
        db: Database,
        store: PendingStore,
        user_ids: Sequence[int],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._db = db
        self._store = store
        self._ids = list(user_ids)
        n = len(self._ids)
        self.setWindowTitle(f"Change a role for {n:,} user{'' if n == 1 else 's'}")
        self.setMinimumWidth(440)
        self.role_edit = QLineEdit(placeholderText="role")
        self.completer = SqlCompleter(db, lookup.suggest_roles, self.role_edit)
        self.assign_radio = QRadioButton("&Assign the role")
        self.remove_radio = QRadioButton("Re&move the role")
        self.assign_radio.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.assign_radio)
        group.addButton(self.remove_radio)
        self.expiry_edit = _date_edit()
        self.expiry_edit.setEnabled(False)
        self.expires_check = QRadioButton("&until")
        self.no_expiry = QRadioButton("&no expiry")
        self.no_expiry.setChecked(True)
        expiry_group = QButtonGroup(self)
        expiry_group.addButton(self.no_expiry)
        expiry_group.addButton(self.expires_check)
        self.expires_check.toggled.connect(self.expiry_edit.setEnabled)
        self.message = error_label()
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy: the rules are checked user by user in core
        self.progress.setTextVisible(False)
        self.progress.hide()
        self._reads = BackgroundReads(db, self)
        self._job: Job[Any] | None = None  # the running check (subclasses check other things)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        form = QFormLayout()
        form.addRow("&Role", self.role_edit)
        choice = QHBoxLayout()
        choice.addWidget(self.assign_radio)
        choice.addWidget(self.remove_radio)
        form.addRow("", choice)
        expiry = QHBoxLayout()
        expiry.addWidget(self.no_expiry)
        expiry.addWidget(self.expires_check)
        expiry.addWidget(self.expiry_edit)
        form.addRow("Assignment", expiry)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.progress)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self.apply)
        self.buttons.rejected.connect(self.cancel)
        self.read_only = lock_for_read_only(
            db,
            [
                self.role_edit,
                self.assign_radio,
                self.remove_radio,
                self.no_expiry,
                self.expires_check,
                self.expiry_edit,
                self.buttons.button(QDialogButtonBox.StandardButton.Ok),
            ],
            AppAction.ASSIGN_ROLES,
        )

    def _choice(self) -> tuple[str, datetime | None] | None:
        """(role, expiry) as chosen, or None with the reason shown."""
        if self.read_only:
            self.message.setText(READ_ONLY_TIP)
            return None
        role = self.role_edit.text().strip()
        if not role:
            self.message.setText("Choose a role.")
            return None
        expires = (
            _expiry_from(self.expiry_edit)
            if self.expires_check.isChecked() and self.assign_radio.isChecked()
            else None
        )
        return role, expires

    def apply(self) -> bool:
        choice = self._choice()
        if choice is None:
            return False
        role, expires = choice
        if len(self._ids) < BULK_BACKGROUND_USERS:
            count, problem = bulk_role_change(
                self._db,
                self._store,
                self._ids,
                role,
                remove=self.remove_radio.isChecked(),
                expires_at=expires,
            )
            if problem is not None:
                self.message.setText(f"Refused: {problem}")
                return False
            self.applied.emit(count)
            self.accept()
            return True
        # Many users: the rules are checked for each on a worker (seconds on a large
        # file); the dialog stays responsive, Cancel stops waiting.
        db, ids, remove = self._db, list(self._ids), self.remove_radio.isChecked()
        pending = self._store.edits_for_save()
        return self._check_then_push(
            len(ids),
            pending,
            lambda: plan_bulk_role_change(
                db, pending, ids, role, remove=remove, expires_at=expires
            ),
        )

    def _check_then_push(
        self,
        users: int,
        pending: list[Edit],
        plan: Callable[[], tuple[list[Edit], str | None]],
    ) -> bool:
        """Run ``plan`` (the edits and the rules' refusal, if any) on a worker, then push
        the edits unless refused or the pending list changed meanwhile."""
        self.message.setText(f"Checking the rules for {users:,} users\u2026")
        self._checking(True)

        def done(result: tuple[list[Edit], str | None]) -> None:
            self._job = None
            self._checking(False)
            edits, problem = result
            if problem is not None:
                self.message.setText(f"Refused: {problem}")
                return
            if self._store.edits_for_save() != pending:
                self.message.setText(
                    "The pending changes changed while the rules were checked; press OK "
                    "to check again."
                )
                return
            self._store.push_many(edits)
            self.message.setText("")
            self.applied.emit(len(edits))
            self.accept()

        def failed(exc: AccessGuardError) -> None:
            self._job = None
            self._checking(False)
            self.message.setText(f"Refused: {exc.message}")

        self._job = self._reads.call(lambda _job: plan(), done, failed=failed)
        return True

    def is_checking(self) -> bool:
        """True while the rules are checked off the GUI thread."""
        return self._job is not None

    def cancel(self) -> None:
        """Cancel: stop waiting for a running check (the dialog stays); else close."""
        if self._job is not None:
            self._job.cancel()
            self._job = None
            self._checking(False)
            self.message.setText("Cancelled: no change was made.")
            return
        self.reject()

    def _checking(self, running: bool) -> None:
        self.progress.setVisible(running)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        if ok is not None:
            ok.setEnabled(not running)


def show_user_roles(
    db: Database, store: PendingStore, user: int | str, parent: QWidget | None = None
) -> UserRolesPanel:
    panel = UserRolesPanel(db, store, parent)
    panel.set_user(user)
    return open_window(panel, f"Roles of {user}", (760, 360))


def show_role_details(
    db: Database, store: PendingStore, role: int | str, parent: QWidget | None = None
) -> RoleDetailsPanel:
    panel = RoleDetailsPanel(db, store, parent)
    panel.set_role(role)
    return open_window(panel, f"Role {role}", (900, 560))
