"""Effective access and why: every permission of a user with the path that grants it, or
every user authorized for a resource (and action) with the path.

Both lists come a page at a time (keyset pages from core/explain.py): the table asks for
the next page when it is scrolled to the end (``canFetchMore``/``fetchMore``), and the
summary counts the whole list in SQL, so a resource reached by a hundred thousand users
shows at once and all of them are reachable by scrolling.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.orm import Session

from ...core import explain, impact, lookup, rbac, role_stats
from ...core.database import Database
from ...core.errors import AccessGuardError, NotFoundError
from ...core.explain import AccessStatus
from ...core.lookup import Page
from ...core.rows import AccessPath
from ..background import BackgroundReads, Job
from ..pending import PendingStore
from .common import (
    ARROW,
    GREEN,
    GREY,
    RED,
    RefreshWhenShown,
    RowsModel,
    SqlCompleter,
    open_window,
    plain_label,
)

T = TypeVar("T")
Index = QModelIndex | QPersistentModelIndex
# Rows fetched per page: a screenful many times over, and a few milliseconds of query.
PERMISSIONS_PER_PAGE = 200
USERS_PER_PAGE = 100
# A role's permissions, own and inherited, come in one bounded read.
ROLE_PERMISSIONS_PER_PAGE = 200

#: Answers read from a file this large come off the GUI thread (small files: at once).
BACKGROUND_FILE_BYTES = 50_000_000


def _large_file(db: Database) -> bool:
    if db.path is None:
        return False  # in memory: small by nature
    try:
        return db.path.stat().st_size >= BACKGROUND_FILE_BYTES
    except OSError:
        return False


STATUS_TEXT = {
    AccessStatus.GRANTED: "granted",
    AccessStatus.EXPIRED: "not granted: assignment expired",
    AccessStatus.INACTIVE: "not granted: user inactive",
}
STATUS_COLOR = {AccessStatus.GRANTED: GREEN, AccessStatus.EXPIRED: RED, AccessStatus.INACTIVE: GREY}


def _expires(path: AccessPath) -> str:
    if path.expires_at is None:
        return ""
    when = f"{path.expires_at:%Y-%m-%d %H:%M}"
    return f"expired {when}" if path.expired else f"until {when}"


class PagedRowsModel(RowsModel):
    """A RowsModel whose view asks for the next page when scrolled to its end.

    ``set_fetch(fetch)`` arms it: the view's next ``fetchMore`` calls ``fetch`` once (which
    appends a page and arms the model again if more remain); None means the list is whole.
    """

    def __init__(self, headers: tuple[str, ...], parent: QWidget | None = None) -> None:
        super().__init__(headers, parent)
        self._fetch: Callable[[], None] | None = None

    def set_fetch(self, fetch: Callable[[], None] | None) -> None:
        self._fetch = fetch

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and self._fetch is not None

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        fetch, self._fetch = self._fetch, None
        if fetch is not None and not parent.isValid():
            fetch()


class EffectiveAccessView(QWidget):
    """Who can do what, as a list with reasons.

    Two questions, one table: choose "User" and a username to see each of the user's
    permissions with its path(s) (user → role → inherited role → permission), or
    "Resource" with a resource (and optionally an action) to see each authorized user with
    the path. Expired assignments and inactive users are listed and marked, not hidden.

    Args:
        db: the open database.
        store: the window's pending edits; if given, "Include unsaved changes" shows the
            access as it will be after Save (computed in a rolled-back preview).

    Signals:
        shown(str): a new answer is displayed; the argument is the summary line.

    Attributes:
        mode: "User" / "Resource" selector; subject, action: the inputs.
        table: the answer (``model`` holds pre-formatted rows, a page at a time).
        summary: one line counting the whole answer (every page).
    """

    shown = Signal(str)

    USER_HEADERS = ("Permission", "Status", "Path", "Assignment (UTC)")
    RESOURCE_HEADERS = ("User", "Permission", "Status", "Path", "Assignment (UTC)")
    ROLE_HEADERS = ("Permission", "Held")
    PLACEHOLDERS = {"User": "username", "Role": "role", "Resource": "resource"}

    def __init__(
        self, db: Database, parent: QWidget | None = None, store: PendingStore | None = None
    ) -> None:
        super().__init__(parent)
        self._db = db
        self._store = store
        self._follow = RefreshWhenShown(self, self.refresh)
        self.pending_check = QCheckBox("Include unsaved changes")
        self.pending_check.setToolTip(
            "Show access as it will be once the pending changes are saved (nothing is written)."
        )
        self.pending_check.setVisible(store is not None)
        self.mode = QComboBox()
        self.mode.addItems(["User", "Role", "Resource"])
        self.mode.setToolTip(
            "Show a user's permissions, a role's permissions, or the users who reach a resource"
        )
        self.mode.setAccessibleName("Show access of")
        self.subject = QLineEdit(placeholderText="username")
        self.action = QLineEdit(placeholderText="action (empty: every action)")
        self.action.setVisible(False)
        self.show_button = QPushButton("&Show")
        self.summary = plain_label("Choose User or Resource, type a name, then press Show.")
        self.model = PagedRowsModel(self.USER_HEADERS, self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self._as_if_saved = False  # the last answer applied the pending edits unasked
        self._reads = BackgroundReads(db, self)
        self._job: Job[Any] | None = None  # the answer (or next page) being read
        self._user_completer = SqlCompleter(db, self._complete_subject, self.subject)
        self._action_completer = SqlCompleter(
            db, lambda s, p: lookup.complete_actions(s, self.subject.text(), p), self.action
        )

        bar = QHBoxLayout()
        bar.addWidget(self.mode)
        bar.addWidget(self.subject, 2)
        bar.addWidget(self.action, 1)
        bar.addWidget(self.show_button)
        # The username keeps room for a name even in the narrow details pane; the
        # checkbox goes on its own line instead of squeezing it (issue 12).
        self.subject.setMinimumWidth(self.subject.fontMetrics().horizontalAdvance("x" * 16))
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.pending_check)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)

        self.mode.currentTextChanged.connect(self._mode_changed)
        self.show_button.clicked.connect(self.refresh)
        self.pending_check.toggled.connect(lambda _on: self.refresh())
        if store is not None:
            store.changed.connect(self._store_changed)
        self.subject.returnPressed.connect(self.refresh)
        self.action.returnPressed.connect(self.refresh)

    # ------------------------------------------------------------ API

    def show_user(self, user: str) -> None:
        """Every permission ``user`` reaches, with paths."""
        self.mode.setCurrentText("User")
        self.subject.setText(user)
        self.refresh()

    def show_role(self, role: str) -> None:
        """Every permission ``role`` holds, its own and those it inherits."""
        self.mode.setCurrentText("Role")
        self.subject.setText(role)
        self.refresh()

    def show_resource(self, resource: str, action: str | None = None) -> None:
        """Every user who reaches ``action`` (or any action) on ``resource``, with paths."""
        self.mode.setCurrentText("Resource")
        self.subject.setText(resource)
        self.action.setText(action or "")
        self.refresh()

    def refresh(self) -> None:
        self._user_completer.close_popup()
        self._action_completer.close_popup()
        self.model.set_fetch(None)
        self._as_if_saved = False
        subject = self.subject.text().strip()
        if not subject:
            self._cancel_read()
            self._set_summary("Choose a user or a resource.")
            self.model.set_rows([])
            return
        self._fill(subject)

    def is_reading(self) -> bool:
        """True while an answer (or a next page) is read off the GUI thread."""
        return self._job is not None

    def _failed(self, subject: str, exc: AccessGuardError) -> None:
        """A user or resource that exists only as a pending edit (a new user not saved
        yet) is shown as it will be once saved, saying so, rather than "no such user"."""
        retry = (
            isinstance(exc, NotFoundError)
            and not self._as_if_saved
            and self._store is not None
            and not self.pending_check.isChecked()
            and not self._store.is_empty()
        )
        if retry:
            self._as_if_saved = True
            self._fill(subject)
            return
        self._as_if_saved = False
        self._show_failure(exc.message)

    def _show_failure(self, message: str) -> None:
        self.model.set_fetch(None)
        self.model.set_rows([])
        self._set_summary(message)

    # ------------------------------------------------------------ filling

    def _fill(self, subject: str) -> None:
        mode = self.mode.currentText()
        if mode == "User":
            self._fill_user(subject)
        elif mode == "Role":
            self._fill_role(subject)
        else:
            self._fill_resource(subject, self.action.text().strip() or None)

    def _fill_role(self, role: str) -> None:
        def read(s: Session) -> tuple[str, Page, tuple[int, int], int]:
            found = rbac.get_role(s, role)
            page = role_stats.effective_permissions_page(
                s, found.id, None, ROLE_PERMISSIONS_PER_PAGE
            )
            counts = role_stats.permission_counts(s, found.id)
            return found.name, page, counts, role_stats.member_counts(s, found.id).total

        def show(answer: tuple[str, Page, tuple[int, int], int]) -> None:
            name, page, (own, total), members = answer
            self.model.set_rows(*_role_rows(name, page), headers=self.ROLE_HEADERS)
            self._arm_role(role, name, page)
            text = f"{name}: {total:,} permission{'' if total == 1 else 's'}"
            text += f" ({own:,} its own, {total - own:,} inherited); {members:,} member"
            text += f"{'' if members == 1 else 's'} in all"
            self._set_summary(text + ".")

        self._ask(read, show, role)

    def _arm_role(self, role: str, name: str, page: Page) -> None:
        after = page.next_after
        if after is None:
            return

        def read(s: Session) -> Page:
            return role_stats.effective_permissions_page(
                s, rbac.get_role(s, role).id, after, ROLE_PERMISSIONS_PER_PAGE
            )

        def show(more: Page) -> None:
            self.model.append_rows(*_role_rows(name, more))
            self._arm_role(role, name, more)

        self.model.set_fetch(lambda: self._ask(read, show))

    def _fill_user(self, user: str) -> None:
        def show(access: explain.UserAccess) -> None:
            rows, colors, tips = _user_rows(access)
            self.model.set_rows(rows, colors, tips, headers=self.USER_HEADERS)
            self._arm_user(user, access)
            name = access.user.username
            granted = access.granted_total
            other = access.total - granted
            text = f"{name}{'' if access.user.active else ' (inactive)'}: {granted:,} permission"
            text += "" if granted == 1 else "s"
            text += " granted"
            if other:
                text += f"; {other:,} reachable only through expired assignments or while inactive"
            self._set_summary(text + ".")

        self._ask(
            lambda s: explain.effective_permissions(s, user, limit=PERMISSIONS_PER_PAGE),
            show,
            user,
        )

    def _arm_user(self, user: str, access: explain.UserAccess) -> None:
        after = access.next_after
        if after is None:
            return

        def read(s: Session) -> explain.UserAccess:
            return explain.effective_permissions(
                s, user, limit=PERMISSIONS_PER_PAGE, after=after, counts=False
            )

        def show(page: explain.UserAccess) -> None:
            self.model.append_rows(*_user_rows(page))
            self._arm_user(user, page)

        self.model.set_fetch(lambda: self._ask(read, show))

    def _fill_resource(self, resource: str, action: str | None) -> None:
        def show(result: explain.ResourceAccess) -> None:
            rows, colors, tips = _resource_rows(result)
            self.model.set_rows(rows, colors, tips, headers=self.RESOURCE_HEADERS)
            self._arm_resource(resource, action, result)
            what = f"{result.resource}: {result.action}" if result.action else result.resource
            n = result.granted_users
            text = f"{what}: {n:,} authorized user{'' if n == 1 else 's'}"
            if result.truncated:
                text += f" \u2014 {result.listed_users:,} listed by name; scroll for the rest"
            self._set_summary(text + ".")

        self._ask(
            lambda s: explain.resource_access(s, resource, action, user_limit=USERS_PER_PAGE),
            show,
            resource,
        )

    def _arm_resource(
        self, resource: str, action: str | None, result: explain.ResourceAccess
    ) -> None:
        after = result.next_after
        if after is None:
            return

        def read(s: Session) -> explain.ResourceAccess:
            return explain.resource_access(
                s, resource, action, user_limit=USERS_PER_PAGE, after=after, counts=False
            )

        def show(page: explain.ResourceAccess) -> None:
            self.model.append_rows(*_resource_rows(page))
            self._arm_resource(resource, action, page)

        self.model.set_fetch(lambda: self._ask(read, show))

    # ------------------------------------------------------------ internals

    def _ask(
        self, read: Callable[[Session], T], show: Callable[[T], None], subject: str | None = None
    ) -> None:
        """Read the saved state, or the pending state (edits applied, rolled back), then
        ``show`` the answer. On a large file the read runs off the GUI thread (a resource
        reached by a hundred thousand users took ~1 s on the 1M file), the summary saying
        so meanwhile; a new question drops the answer to the old one. ``subject``: the
        first page of an answer (its failure is shown); None: a next page."""
        self._cancel_read()
        db = self._db
        pending = self._store is not None and (self.pending_check.isChecked() or self._as_if_saved)
        edits = self._store.edits_for_save() if pending and self._store is not None else []
        inline = not _large_file(db)

        def work(_job: Job[T]) -> T:
            if pending:
                return impact.with_pending(db, edits, read)[0]
            with db.read() as session:
                return read(session)

        def done(answer: T) -> None:
            self._job = None
            show(answer)
            if subject is not None:
                self.table.resizeColumnsToContents()

        def failed(exc: AccessGuardError) -> None:
            self._job = None
            if subject is None:
                self._set_summary(exc.message)  # a next page: the rows shown stay
            else:
                self._failed(subject, exc)

        job = self._reads.call(work, done, failed=failed, inline=inline)
        if not inline:  # answered later, on this thread (even if the worker is done already)
            self._job = job
            if subject is not None:
                self.summary.setText(f"Reading the access of {subject}\u2026")

    def _cancel_read(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self._job = None

    def _store_changed(self) -> None:
        if self.pending_check.isChecked() and self.subject.text().strip():
            self._follow.request()

    def _set_summary(self, text: str) -> None:
        if self._as_if_saved:
            text += " (Not saved yet: shown as if the pending changes were saved.)"
        self.summary.setText(text)
        self.shown.emit(text)

    def _mode_changed(self, mode: str) -> None:
        """A user's name is no resource's: switching clears the field and the answer."""
        self.subject.clear()
        self.action.clear()
        self.model.set_fetch(None)
        headers = {"Role": self.ROLE_HEADERS, "Resource": self.RESOURCE_HEADERS}
        self.model.set_rows([], headers=headers.get(mode, self.USER_HEADERS))
        self._as_if_saved = False
        placeholder = self.PLACEHOLDERS.get(mode, "username")
        self._set_summary(f"Type a {placeholder}, then press Show.")
        resource = mode == "Resource"
        self.subject.setPlaceholderText(placeholder)
        self.action.setVisible(resource)

    def _complete_subject(self, session: Session, text: str) -> list[lookup.Suggestion]:
        mode = self.mode.currentText()
        if mode == "User":
            return lookup.suggest_users(session, text)
        if mode == "Role":
            return lookup.suggest_roles(session, text)
        return lookup.suggest_resources(session, text)


Rows = tuple[list[tuple[str, ...]], list[QColor | None], list[str]]


def _role_rows(name: str, page: Page) -> Rows:
    """Rows, colours and tips of a page of a role's permissions."""
    shown: tuple[role_stats.EffectivePermission, ...] = page.rows
    rows: list[tuple[str, ...]] = [
        (f"{p.resource}: {p.action}", "own" if p.direct else f"inherited from {p.via}")
        for p in shown
    ]
    colors: list[QColor | None] = [None if p.direct else GREY for p in shown]
    tips = [
        f"{name} holds it itself" if p.direct else f"{name} inherits it from {p.via}" for p in shown
    ]
    return rows, colors, tips


def _user_rows(access: explain.UserAccess) -> Rows:
    """Table rows for a page of a user's permissions: one per path (the permission and
    status on the first), and a note when paths were left out."""
    rows: list[tuple[str, ...]] = []
    colors: list[QColor | None] = []
    tips: list[str] = []
    name = access.user.username
    for perm in access.permissions:
        for i, path in enumerate(perm.paths):
            rows.append(
                (
                    perm.label if i == 0 else "",
                    STATUS_TEXT[perm.status] if i == 0 else "",
                    f" {ARROW} ".join((name, *path.roles, perm.label)),
                    _expires(path),
                )
            )
            colors.append(STATUS_COLOR[perm.status] if not path.expired else RED)
            tips.append(path.describe(name, perm.label))
        if perm.more_paths:
            rows.append(("", "", "\u2026 more paths", ""))
            colors.append(GREY)
            tips.append("Only the shortest paths are listed.")
    return rows, colors, tips


def _resource_rows(result: explain.ResourceAccess) -> Rows:
    """Table rows for a page of a resource's users: one per path (user, permission and
    status on the first), and a note when paths were left out."""
    rows: list[tuple[str, ...]] = []
    colors: list[QColor | None] = []
    tips: list[str] = []
    for entry in result.entries:
        for i, path in enumerate(entry.paths):
            rows.append(
                (
                    entry.username if i == 0 else "",
                    entry.label if i == 0 else "",
                    STATUS_TEXT[entry.status] if i == 0 else "",
                    f" {ARROW} ".join((entry.username, *path.roles, entry.label)),
                    _expires(path),
                )
            )
            colors.append(STATUS_COLOR[entry.status] if not path.expired else RED)
            tips.append(path.describe(entry.username, entry.label))
        if entry.more_paths:
            rows.append(("", "", "", "\u2026 more paths", ""))
            colors.append(GREY)
            tips.append("Only the shortest paths are listed.")
    return rows, colors, tips


def show_effective_access(
    db: Database, parent: QWidget | None = None, store: PendingStore | None = None
) -> EffectiveAccessView:
    """The view as a window of its own."""
    return open_window(EffectiveAccessView(db, parent, store), "Effective access", (900, 500))
