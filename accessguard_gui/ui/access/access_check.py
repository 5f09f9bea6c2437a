"""The access check panel: may this user do this action on this resource, and why?

Every answer comes from ``core.rbac.check_access`` (the same function any other caller
uses), so the panel and the core cannot disagree; the panel only shows the decision.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.orm import Session

from ...core import impact, lookup, rbac
from ...core.database import Database
from ...core.errors import AccessGuardError
from ...core.rows import AccessDecision, DenyReason
from ..pending import PendingStore
from .common import GREEN, GREY, RED, SqlCompleter, open_window

#: A question about something that does not exist is not a denial: the verdict says what
#: is missing, in grey, so a typo is not mistaken for an answer.
NOT_FOUND = {
    DenyReason.UNKNOWN_USER: ("No such user", "There is no user named \u201c{user}\u201d."),
    DenyReason.UNKNOWN_RESOURCE: (
        "No such resource",
        "There is no resource named \u201c{resource}\u201d.",
    ),
    DenyReason.UNKNOWN_ACTION: (
        "No such action",
        "The resource \u201c{resource}\u201d has no action \u201c{action}\u201d.",
    ),
}


NOT_SAVED_NOTE = "Not saved yet: answered as if the pending changes were saved."


class AccessCheckPanel(QWidget):
    """User, resource and action fields (with completion) → Allowed or Denied, and why.

    Args:
        db: the open database.
        store: the window's pending edits; if given, "As if the unsaved changes were
            saved" asks the same ``check_access`` inside a rolled-back preview of them.

    Signals:
        checked(AccessDecision): a check was answered.

    Attributes:
        user_edit, resource_edit, action_edit: the three inputs.
        verdict: the large "Allowed" / "Denied" label.
        explanation: the granting paths or the reason for the denial.
    """

    checked = Signal(object)

    def __init__(
        self, db: Database, parent: QWidget | None = None, store: PendingStore | None = None
    ) -> None:
        super().__init__(parent)
        self._db = db
        self._store = store
        self.pending_check = QCheckBox("As if the unsaved changes were saved")
        self.pending_check.setVisible(store is not None)
        self._decision: AccessDecision | None = None
        self.user_edit = QLineEdit(placeholderText="username")
        self.resource_edit = QLineEdit(placeholderText="resource")
        self.action_edit = QLineEdit(placeholderText="action, e.g. open")
        self.user_completer = SqlCompleter(db, lookup.suggest_users, self.user_edit)
        self.resource_completer = SqlCompleter(db, lookup.suggest_resources, self.resource_edit)
        self.action_completer = SqlCompleter(
            db,
            lambda s, prefix: lookup.complete_actions(s, self.resource_edit.text(), prefix),
            self.action_edit,
        )
        self.check_button = QPushButton("&Check access")
        self.check_button.setDefault(True)
        self.verdict = QLabel("\u2014")
        font = QFont()
        font.setPointSize(28)
        font.setBold(True)
        self.verdict.setFont(font)
        self.verdict.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.verdict.setMinimumHeight(64)
        self.explanation = QPlainTextEdit(readOnly=True)
        self.explanation.setPlaceholderText(
            "Choose a user, a resource and an action, then press Check access."
        )

        form = QFormLayout()
        form.addRow("&User", self.user_edit)  # Alt+U, Alt+R, Alt+A reach the fields
        form.addRow("&Resource", self.resource_edit)
        form.addRow("&Action", self.action_edit)
        row = QHBoxLayout()
        row.addWidget(self.pending_check)
        row.addStretch(1)
        row.addWidget(self.check_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(row)
        layout.addWidget(self.verdict)
        layout.addWidget(self.explanation, 1)

        self.check_button.clicked.connect(self.check)
        for edit in (self.user_edit, self.resource_edit, self.action_edit):
            edit.returnPressed.connect(self.check)
            edit.textChanged.connect(self._clear_verdict)
        self.pending_check.toggled.connect(self._clear_verdict)
        self._show_neutral("\u2014")

    # ------------------------------------------------------------ API

    @property
    def decision(self) -> AccessDecision | None:
        """The last answer shown, or None while the fields changed since."""
        return self._decision

    def set_query(self, user: str, resource: str, action: str) -> None:
        """Fill the three fields (e.g. from a selected row) without checking yet."""
        self.user_edit.setText(user)
        self.resource_edit.setText(resource)
        self.action_edit.setText(action)

    def check(self) -> AccessDecision | None:
        """Ask ``rbac.check_access`` and show its answer (a name that does not exist
        says so, in grey: "No such user")."""
        for completer in (self.user_completer, self.resource_completer, self.action_completer):
            completer.close_popup()
        user = self.user_edit.text().strip()
        resource = self.resource_edit.text().strip()
        action = self.action_edit.text().strip()
        if not (user and resource and action):
            self._show_neutral("\u2014", "Fill in the user, the resource and the action.")
            return None

        def ask(session: Session) -> AccessDecision:
            return rbac.check_access(session, user, resource, action)

        as_if_saved = False
        try:
            if self._store is not None and self.pending_check.isChecked():
                decision, _problems = impact.with_pending(
                    self._db, self._store.edits_for_save(), ask
                )
            else:
                with self._db.read() as session:
                    decision = ask(session)
                if decision.reason in NOT_FOUND and self._store is not None and len(self._store):
                    # Perhaps a pending new user (or resource): answer as if saved, saying so.
                    pending, _problems = impact.with_pending(
                        self._db, self._store.edits_for_save(), ask
                    )
                    if pending.reason not in NOT_FOUND:
                        decision, as_if_saved = pending, True
        except AccessGuardError as exc:
            self._show_neutral("?", f"The check could not be made: {exc.message}")
            return None
        self._decision = decision
        self.checked.emit(decision)
        if decision.reason in NOT_FOUND:
            head, why = NOT_FOUND[decision.reason]
            self._show_neutral(head, why.format(user=user, resource=resource, action=action))
            self._decision = decision
            return decision
        color = GREEN if decision.allowed else RED
        self.verdict.setText("Allowed" if decision.allowed else "Denied")
        self.verdict.setStyleSheet(f"color: {color.name()};")
        note = NOT_SAVED_NOTE + "\n\n" if as_if_saved else ""
        self.explanation.setPlainText(note + decision.explanation())
        return decision

    # ------------------------------------------------------------ internals

    def _clear_verdict(self) -> None:
        if self._decision is not None:
            self._decision = None
            self._show_neutral("\u2014")

    def _show_neutral(self, text: str, explanation: str = "") -> None:
        self._decision = None
        self.verdict.setText(text)
        self.verdict.setStyleSheet(f"color: {GREY.name()};")
        self.explanation.setPlainText(explanation)


def show_access_check(
    db: Database, parent: QWidget | None = None, store: PendingStore | None = None
) -> AccessCheckPanel:
    """The panel as a window of its own (for trying it out or testing it alone)."""
    return open_window(AccessCheckPanel(db, parent, store), "Access check", (560, 460))
