"""File > Operators and sign-in…: whether the file requires sign-in, who may administer
AccessGuard in it, and switching sign-in on or off (issue 14).

Switching is an edit like any other: ``SetSignInRequired`` goes to the window's pending
edits, shows in Review changes, is undone with Ctrl+Z and reaches the file with Save.
A file where nobody may administer AccessGuard yet is offered a first administrator (an
existing user with a password): ``operators.setup_edits`` gives the resource, its
permissions and the "AccessGuard administrators" role as pending edits too. Whatever
would leave nobody able to administer is refused here, in the core's words, before it is
made pending.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDialogButtonBox,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.orm import Session

from ..core import impact, lookup, rbac
from ..core.changes import Edit
from ..core.database import Database
from ..core.errors import AccessGuardError, ValidationError
from ..core.operators import (
    AppAction,
    SetSignInRequired,
    administrators,
    setup_edits,
    sign_in_required,
)
from .access.common import (
    GREY,
    READ_ONLY_TIP,
    RED,
    SqlCompleter,
    error_label,
    open_window,
    plain_label,
)
from .operator_gate import OperatorGate
from .pending import PendingStore
from .sign_in import limit_text, note_style

#: Administrators listed by name; more are counted, not listed.
SHOWN_ADMINISTRATORS = 8


def _setup_edits(session: Session, name: str) -> list[Edit]:
    user = rbac.get_user(session, name)
    if user.password_hash is None:
        raise ValidationError(
            "username",
            f"{user.username} has no password, so they could never sign in. Set one first "
            "(Edit \u2192 Set password\u2026), then make them administrator.",
        )
    if not user.active:
        raise ValidationError(
            "username", f"{user.username} is inactive: an inactive user cannot sign in."
        )
    return setup_edits(session, user.username)


def pending_requirement(edits: Sequence[Edit]) -> bool | None:
    """What the pending edits set sign-in to (the last one wins), or None if untouched."""
    for edit in reversed(edits):
        if isinstance(edit, SetSignInRequired):
            return edit.required
    return None


class OperatorsDialog(QWidget):
    """The state of sign-in in this file, and the controls that change it (pending).

    Args:
        db: the open database.
        store: the window's pending edits (every change made here goes there).
        gate: the window's operator gate (the controls need AccessGuard: administer).
    """

    def __init__(
        self,
        db: Database,
        store: PendingStore,
        gate: OperatorGate | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("operators_dialog")
        self._db = db
        self._store = store
        self._gate = gate
        self._saved_required = sign_in_required(db)
        self.state = plain_label()
        self.state.setObjectName("sign_in_state")
        self.admins = plain_label()
        self.admins.setObjectName("administrators")
        self.require = QCheckBox("&Require sign-in when this file is opened")
        self.require.setObjectName("require_sign_in")
        self.require.toggled.connect(self._require_toggled)

        self.setup_box = QGroupBox("First administrator")
        self.setup_box.setObjectName("setup_box")
        setup_text = plain_label(
            "Sign-in needs at least one operator who may administer AccessGuard. Choose an "
            "existing user with a password: they get the role \u201cAccessGuard "
            "administrators\u201d, which may do everything here."
        )
        self.admin_name = QLineEdit()
        self.admin_name.setObjectName("admin_name")
        self.admin_name.setPlaceholderText("user name")
        self.admin_name.setAccessibleName("First administrator")
        self._completer = SqlCompleter(db, lookup.suggest_users, self.admin_name)
        self.make_admin = QPushButton("&Make administrator")
        self.make_admin.setObjectName("make_admin")
        self.make_admin.clicked.connect(self.set_up_administrator)
        self.admin_name.textChanged.connect(
            lambda text: self.make_admin.setEnabled(bool(text.strip()) and self._may_administer())
        )
        self.admin_name.returnPressed.connect(self.set_up_administrator)
        row = QHBoxLayout()
        row.addWidget(self.admin_name, 1)
        row.addWidget(self.make_admin)
        setup_layout = QVBoxLayout(self.setup_box)
        setup_layout.addWidget(setup_text)
        setup_layout.addLayout(row)

        self.why_off = plain_label()  # why the controls are off, said where one looks
        self.why_off.setObjectName("why_off")
        self.why_off.setStyleSheet(note_style())
        self.message = error_label()
        self.message.setObjectName("operators_message")
        self.message.hide()
        note = plain_label(
            "Changes here are pending like any other edit: they show in Review changes, "
            "Undo takes them back, and Save (Ctrl+S) writes them."
        )
        note.setObjectName("pending_note")
        limit = plain_label(limit_text(db))
        limit.setObjectName("limit")
        limit.setStyleSheet(note_style())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)

        layout = QVBoxLayout(self)
        layout.addWidget(self.state)
        layout.addWidget(self.admins)
        layout.addWidget(self.require)
        layout.addWidget(self.why_off)
        layout.addWidget(self.setup_box)
        layout.addWidget(self.message)
        layout.addWidget(note)
        layout.addSpacing(6)
        layout.addWidget(limit)
        layout.addStretch(1)
        layout.addWidget(buttons)
        if gate is not None:
            gate.add_all(
                [self.require, self.make_admin, self.admin_name],
                AppAction.ADMINISTER,
                managed=True,  # refresh() sets them; the gate adds the reason
            )
        store.changed.connect(self.refresh)
        self.refresh()

    # ------------------------------------------------------------ state

    def _may_administer(self) -> bool:
        return not self._db.read_only and (
            self._gate is None or self._gate.may(AppAction.ADMINISTER)
        )

    def _why_off(self) -> str:
        if self._db.read_only:
            return READ_ONLY_TIP
        reason = self._gate.why_not(AppAction.ADMINISTER) if self._gate is not None else None
        return reason or ""

    def required(self) -> bool:
        """Sign-in as it will be after Save (the saved setting, pending edits applied)."""
        pending = pending_requirement(self._store.edits_for_save())
        return self._saved_required if pending is None else pending

    def refresh(self) -> None:
        """Show the file's state with the pending edits applied."""
        pending = self._store.edits_for_save()
        try:
            names, _problems = impact.with_pending(self._db, pending, administrators)
        except AccessGuardError as exc:
            names = []
            self._say(f"Could not read who may administer: {exc.message}")
        required = self.required()
        changed = required != self._saved_required
        if required:
            text = (
                "Sign-in is required: whoever opens this file signs in with their AccessGuard "
                "user name and password, and may do only what their roles allow."
            )
        else:
            text = (
                "Sign-in is not required: whoever opens this file works under their "
                "computer login name and may change everything."
            )
        if changed:
            text += " (Pending: this takes effect when you save.)"
        self.state.setText(text)
        if names:
            shown = ", ".join(names[:SHOWN_ADMINISTRATORS])
            more = " and more" if len(names) > SHOWN_ADMINISTRATORS else ""
            self.admins.setText(f"May administer AccessGuard: {shown}{more}.")
        else:
            self.admins.setText("Nobody may administer AccessGuard in this file yet.")
        self.admins.setStyleSheet("" if names else f"color: {GREY.name()};")
        self.require.blockSignals(True)
        self.require.setChecked(required)
        self.require.blockSignals(False)
        self.setup_box.setVisible(not names)
        may = self._may_administer()
        self.why_off.setText(self._why_off())
        self.why_off.setVisible(not may)
        self.require.setEnabled(may)
        self.admin_name.setEnabled(may)
        self.make_admin.setEnabled(may and bool(self.admin_name.text().strip()))
        if self._gate is not None:
            self._gate.apply()  # the reason on hover, for an operator who may not
        self._fit_height()

    def _fit_height(self) -> None:
        """Wrapped lines keep their height: the window grows rather than cut a line
        (a message or the set-up box appears as the user works)."""
        layout = self.layout()
        if layout is not None and layout.hasHeightForWidth():
            needed = layout.totalHeightForWidth(self.width())
            self.setMinimumHeight(needed)
            if self.height() < needed:
                self.resize(self.width(), needed)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._fit_height()

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {RED.name()};")
        self.message.setVisible(bool(text))

    # ------------------------------------------------------------ edits

    def propose(self, edits: Sequence[Edit]) -> bool:
        """Make ``edits`` pending (one gesture) unless the core refuses one on top of what
        is pending already; a refusal is shown and nothing is pushed."""
        if not self._may_administer():
            return False
        try:
            problem = impact.refusal(self._db, self._store.edits_for_save(), edits)
        except AccessGuardError as exc:
            problem = exc
        if problem is not None:
            self._say(f"Not changed: {problem.message}")
            self.refresh()
            return False
        self._say("")
        self._store.push_many(edits)
        return True

    def _require_toggled(self, on: bool) -> None:
        self.set_required(on)

    def set_required(self, on: bool) -> bool:
        """Switch sign-in on or off (pending). Switching it on in a file where nobody may
        administer first makes the user named in the set-up field its administrator."""
        if on == self.required():
            return True
        edits: list[Edit] = []
        if on and self.setup_box.isVisible():
            name = self.admin_name.text().strip()
            if not name:
                self._say(
                    "Not changed: sign-in needs at least one operator who may administer "
                    "AccessGuard. Choose the first administrator below, then switch sign-in on."
                )
                self.refresh()
                self.admin_name.setFocus(Qt.FocusReason.OtherFocusReason)
                return False
            found = self._setup(name)
            if found is None:
                self.refresh()
                return False
            edits.extend(found)
        edits.append(SetSignInRequired(required=on))
        return self.propose(edits)

    def _setup(self, name: str) -> list[Edit] | None:
        """The pending edits that make ``name`` the first administrator, or None (the
        reason is shown) when they cannot: no such user, or one without a password,
        who could never sign in."""
        try:
            edits, _problems = impact.with_pending(
                self._db, self._store.edits_for_save(), lambda s: _setup_edits(s, name)
            )
        except AccessGuardError as exc:
            self._say(f"Not changed: {exc.message}")
            return None
        return list(edits)

    def set_up_administrator(self) -> bool:
        """Make the user named in the field AccessGuard's first administrator (pending)."""
        name = self.admin_name.text().strip()
        if not name:
            return False
        edits = self._setup(name)
        if edits is None:
            return False
        if self.propose(edits):
            self.admin_name.clear()
            return True
        return False

    @classmethod
    def open_for(
        cls, db: Database, store: PendingStore, gate: OperatorGate | None, parent: QWidget
    ) -> OperatorsDialog:
        """Show the window (not modal: the user may look at users while deciding)."""
        return open_window(cls(db, store, gate, parent), "Operators and sign-in", (560, 420))
