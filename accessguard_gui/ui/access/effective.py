"""Effective access and why: every permission of a user with the path that grants it, or
every user authorized for a resource (and action) with the path."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from PySide6.QtCore import Signal
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

from ...core import explain, impact, lookup
from ...core.database import Database
from ...core.errors import AccessGuardError
from ...core.explain import AccessStatus
from ...core.rows import AccessPath
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
        table: the answer (``model`` holds pre-formatted rows).
        summary: one line counting what is shown (and saying if the list was cut).
    """

    shown = Signal(str)

    USER_HEADERS = ("Permission", "Status", "Path", "Assignment (UTC)")
    RESOURCE_HEADERS = ("User", "Permission", "Status", "Path", "Assignment (UTC)")

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
        self.mode.addItems(["User", "Resource"])
        self.mode.setToolTip("Show a user's permissions, or the users who reach a resource")
        self.mode.setAccessibleName("Show access of")
        self.subject = QLineEdit(placeholderText="username")
        self.action = QLineEdit(placeholderText="action (empty: every action)")
        self.action.setVisible(False)
        self.show_button = QPushButton("&Show")
        self.summary = plain_label("Choose User or Resource, type a name, then press Show.")
        self.model = RowsModel(self.USER_HEADERS, self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self._user_completer = SqlCompleter(db, self._complete_subject, self.subject)
        self._action_completer = SqlCompleter(
            db, lambda s, p: lookup.complete_actions(s, self.subject.text(), p), self.action
        )

        bar = QHBoxLayout()
        bar.addWidget(self.mode)
        bar.addWidget(self.subject, 2)
        bar.addWidget(self.action, 1)
        bar.addWidget(self.show_button)
        bar.addWidget(self.pending_check)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
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

    def show_resource(self, resource: str, action: str | None = None) -> None:
        """Every user who reaches ``action`` (or any action) on ``resource``, with paths."""
        self.mode.setCurrentText("Resource")
        self.subject.setText(resource)
        self.action.setText(action or "")
        self.refresh()

    def refresh(self) -> None:
        subject = self.subject.text().strip()
        if not subject:
            self._set_summary("Choose a user or a resource.")
            self.model.set_rows([])
            return
        try:
            if self.mode.currentText() == "User":
                self._fill_user(subject)
            else:
                self._fill_resource(subject, self.action.text().strip() or None)
        except AccessGuardError as exc:
            self.model.set_rows([])
            self._set_summary(exc.message)
        self.table.resizeColumnsToContents()

    # ------------------------------------------------------------ filling

    def _fill_user(self, user: str) -> None:
        access = self._query(lambda s: explain.effective_permissions(s, user))
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
                tips.append("")
        self.model.set_rows(rows, colors, tips, headers=self.USER_HEADERS)
        granted = len(access.granted)
        other = len(access.permissions) - granted
        text = f"{name}{'' if access.user.active else ' (inactive)'}: {granted} permission"
        text += "" if granted == 1 else "s"
        text += " granted"
        if other:
            text += f"; {other} reachable only through expired assignments or while inactive"
        if access.truncated:
            text += f" \u2014 showing the first {len(access.permissions)}"
        self._set_summary(text + ".")

    def _fill_resource(self, resource: str, action: str | None) -> None:
        result = self._query(lambda s: explain.resource_access(s, resource, action))
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
        self.model.set_rows(rows, colors, tips, headers=self.RESOURCE_HEADERS)
        what = f"{result.resource}: {result.action}" if result.action else result.resource
        n = result.granted_users
        text = f"{what}: {n} authorized user{'' if n == 1 else 's'}"
        if result.truncated:
            shown = len({e.user_id for e in result.entries})
            text += f" \u2014 showing the first {shown} users by name"
        self._set_summary(text + ".")

    # ------------------------------------------------------------ internals

    def _query(self, read: Callable[[Session], T]) -> T:
        """Read the saved state, or the pending state (edits applied, rolled back)."""
        if self._store is not None and self.pending_check.isChecked():
            result, _problems = impact.with_pending(self._db, self._store.edits_for_save(), read)
            return result
        with self._db.read() as session:
            return read(session)

    def _store_changed(self) -> None:
        if self.pending_check.isChecked() and self.subject.text().strip():
            self._follow.request()

    def _set_summary(self, text: str) -> None:
        self.summary.setText(text)
        self.shown.emit(text)

    def _mode_changed(self, mode: str) -> None:
        resource = mode == "Resource"
        self.subject.setPlaceholderText("resource" if resource else "username")
        self.action.setVisible(resource)

    def _complete_subject(self, session: object, prefix: str) -> list[str]:
        if self.mode.currentText() == "User":
            return lookup.complete_usernames(session, prefix)  # type: ignore[arg-type]
        return lookup.complete_resources(session, prefix)  # type: ignore[arg-type]


def show_effective_access(
    db: Database, parent: QWidget | None = None, store: PendingStore | None = None
) -> EffectiveAccessView:
    """The view as a window of its own."""
    return open_window(EffectiveAccessView(db, parent, store), "Effective access", (900, 500))
