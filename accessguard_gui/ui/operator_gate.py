"""What the signed-in operator may use: every gated action and button on or off by the
AccessGuard permission it needs, the reason on hover (issue 14).

The core refuses what an operator may not do (``OperatorPermissionError``); the gate only
keeps the window from offering it, and says why where the user looks: the tooltip (also
in menus) and the status tip. Read-only wins: on a read-only database the window's own
read-only marks stay and the gate adds nothing.

A target is either *managed* — its owner recomputes its enabled state before every
``apply`` (the main window's Save, Add, Delete…), so the gate only switches it off — or
not, and then the gate switches it back on when the operator may use it again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QLabel, QMenu, QWidget

from ..core.changes import Edit, Entity, SetPasswordHash
from ..core.errors import AccessGuardError
from ..core.operators import AppAction, OperatorAccess
from .plain_text import plain_tooltip

if TYPE_CHECKING:  # the window owns the gate; no import at run time
    from .main_window import MainWindow

#: Why a target is off for this operator, or None when they may use it.
Reason = Callable[[OperatorAccess], str | None]

#: What editing each table's records needs.
ENTITY_ACTIONS = {
    Entity.USER: AppAction.EDIT_USERS,
    Entity.ROLE: AppAction.EDIT_ROLES,
    Entity.RESOURCE: AppAction.EDIT_ROLES,
    Entity.PERMISSION: AppAction.EDIT_ROLES,
}

#: Every permission that lets an operator change something.
EDITING = (
    AppAction.EDIT_USERS,
    AppAction.EDIT_ROLES,
    AppAction.ASSIGN_ROLES,
    AppAction.EDIT_SSD,
    AppAction.REVIEW,
    AppAction.ADMINISTER,
)


def needs(*actions: AppAction) -> Reason:
    """All of ``actions`` are needed; the reason names the first one missing."""

    def reason(access: OperatorAccess) -> str | None:
        for action in actions:
            if not access.may(action):
                return access.why_not(action) or f"{access.name} may not {action}."
        return None

    return reason


def needs_any(*actions: AppAction) -> Reason:
    """One of ``actions`` is enough (Save: whatever the operator may change)."""

    def reason(access: OperatorAccess) -> str | None:
        if any(access.may(action) for action in actions):
            return None
        return f"{access.name} may only view this database: nothing can be changed or saved."

    return reason


def own_password_only(edits: Sequence[Edit], operator: str) -> bool:
    """Are the pending edits nothing but the operator's own new password?"""
    return bool(edits) and all(
        isinstance(e, SetPasswordHash) and e.user == operator and e.password_hash for e in edits
    )


def entity_reason(entity: Callable[[], Entity | None]) -> Reason:
    """Editing the records of the table shown now (``entity()``; None: nothing to gate)."""

    def reason(access: OperatorAccess) -> str | None:
        shown = entity()
        action = ENTITY_ACTIONS.get(shown) if shown is not None else None
        return needs(action)(access) if action is not None else None

    return reason


Target = QAction | QWidget


@dataclass(eq=False)
class _Gated:
    target: Target
    reason: Reason
    managed: bool
    vetoed: str | None = None  # the reason shown while it is off because of the gate
    tip: str = ""  # its own tooltip and status tip, given back when the veto ends
    status: str = ""
    triggers: QAbstractItemView.EditTrigger | None = None  # a table's, while vetoed


def _own_tooltip(target: Target) -> str:
    """The tooltip the target was given, "" when it has none: an action without one
    shows its text, which must keep following the text (Undo names the change)."""
    tip = target.toolTip()
    if isinstance(target, QAction):
        target.setToolTip("")
        if target.toolTip() == tip:
            return ""
        target.setToolTip(tip)
    return tip


class OperatorGate(QObject):
    """Switches targets on and off for the operator ``access()`` returns.

    Args:
        access: the current operator's access, or None when the database does not use
            sign-in (then nothing is gated).
        read_only: True when the database is read-only (the window's own marks win).
        parent: owner of the gate (the main window).
    """

    def __init__(
        self,
        access: Callable[[], OperatorAccess | None],
        read_only: Callable[[], bool],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._access = access
        self._read_only = read_only
        self._gated: list[_Gated] = []

    def add(self, target: Target, need: AppAction | Reason, *, managed: bool = False) -> None:
        """Gate ``target`` on ``need`` (one permission, or a reason function)."""
        reason = needs(need) if isinstance(need, AppAction) else need
        self._gated.append(_Gated(target, reason, managed))
        key = id(target)  # the slot must not keep the target alive
        target.destroyed.connect(lambda _obj=None, key=key: self._drop(key))
        if isinstance(target, QAction):
            for holder in target.associatedObjects():
                if isinstance(holder, QMenu):
                    holder.setToolTipsVisible(True)  # the reason shows on hover in menus

    def add_all(self, targets: Iterable[Target], need: AppAction | Reason, **kw: bool) -> None:
        for target in targets:
            self.add(target, need, **kw)

    def forget(self, targets: Iterable[Target]) -> None:
        """Stop gating ``targets`` (their window is going away)."""
        gone = {id(t) for t in targets}
        self._gated = [g for g in self._gated if id(g.target) not in gone]

    def _drop(self, key: int) -> None:
        self._gated = [g for g in self._gated if id(g.target) != key]

    def why_not(self, need: AppAction | Reason) -> str | None:
        """Why the current operator may not do ``need`` (None: they may, or no sign-in)."""
        access = self._access()
        if access is None or not access.enforced:
            return None
        reason = needs(need) if isinstance(need, AppAction) else need
        return reason(access)

    def may(self, need: AppAction | Reason) -> bool:
        return self.why_not(need) is None

    def apply(self) -> None:
        """Bring every target in line with the current operator."""
        access = self._access()
        enforced = access is not None and access.enforced and not self._read_only()
        for gated in self._gated:
            why = gated.reason(access) if enforced and access is not None else None
            if why is None:
                self._lift(gated)
            else:
                self._veto(gated, why)

    # ------------------------------------------------------------ one target

    def _veto(self, gated: _Gated, why: str) -> None:
        target = gated.target
        tip = plain_tooltip(why)
        if gated.vetoed == tip and target.toolTip() == tip:
            # Already off for this reason: only the owner may have switched it on again.
            if not isinstance(target, QAbstractItemView) and target.isEnabled():
                target.setEnabled(False)
            return
        if gated.vetoed is None:
            gated.tip = _own_tooltip(target)
            if isinstance(target, QAction):
                gated.status = target.statusTip()
        gated.vetoed = tip
        if isinstance(target, QAbstractItemView):
            # A table stays readable and scrollable: only its cells stop being editable.
            if gated.triggers is None:
                gated.triggers = target.editTriggers()
            target.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        else:
            target.setEnabled(False)
        target.setToolTip(tip)
        if isinstance(target, QAction):
            target.setStatusTip(why)

    def _lift(self, gated: _Gated) -> None:
        if gated.vetoed is None:
            return
        target = gated.target
        if target.toolTip() == gated.vetoed:  # nobody else changed it meanwhile
            target.setToolTip(gated.tip)
            if isinstance(target, QAction):
                target.setStatusTip(gated.status)
        if isinstance(target, QAbstractItemView):
            if gated.triggers is not None:
                target.setEditTriggers(gated.triggers)
            gated.triggers = None
        elif not gated.managed:
            target.setEnabled(True)
        gated.vetoed = None


class WindowOperators(QObject):
    """The main window's operator: its gate, the status-bar name, and File > Operators
    and sign-in…, Switch operator…, Sign out….

    Args:
        window: the main window (its actions, database, pending edits and status bar).

    Attributes:
        gate: the window's OperatorGate (access windows add their controls to it).
        status: the permanent status-bar label ("Signed in as alice").
        act_operators, act_switch, act_sign_out: the File menu's entries.
    """

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.gate = OperatorGate(lambda: window.db.access, lambda: window.db.read_only, self)
        self.status = QLabel("")
        self.status.setObjectName("operator_status")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        window.statusBar().addPermanentWidget(self.status)
        self.act_operators = self._action(
            "Operators and si&gn-in…",
            self.open_operators,
            "Ctrl+Shift+O",
            "Whether this file requires sign-in, who may administer it, and switching it on",
        )
        self.act_switch = self._action(
            "S&witch operator…", self.switch_operator, "Ctrl+Shift+W", "Sign in as another operator"
        )
        self.act_sign_out = self._action(
            "Sign o&ut…", self.sign_out, "Ctrl+Shift+L", "Sign out; the next operator signs in"
        )
        self.act_my_password = self._action(
            "Change m&y password…",
            self.change_my_password,
            "Ctrl+Alt+P",
            "Set a new password for the operator signed in (saved with Save)",
        )
        self._add_to_file_menu()
        self._gate_window()

    def _action(self, text: str, slot: Callable[[], object], keys: str, tip: str) -> QAction:
        action = QAction(text, self.window)
        action.setShortcut(QKeySequence(keys))
        action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        self.window.addAction(action)
        return action

    def _add_to_file_menu(self) -> None:
        quit_action = self.window.act_quit
        menu = next((m for m in quit_action.associatedObjects() if isinstance(m, QMenu)), None)
        if menu is None:
            return
        entries = (self.act_operators, self.act_switch, self.act_my_password, self.act_sign_out)
        for action in entries:
            menu.insertAction(quit_action, action)
        menu.insertSeparator(quit_action)

    def _gate_window(self) -> None:
        """What each of the window's controls needs (the window enables the managed ones
        by its own rules first: pending edits, a selected row, read-only)."""
        w = self.window
        gate = self.gate
        editing = needs_any(*EDITING)

        def saving(access: OperatorAccess) -> str | None:
            # Everyone signed in may save their own new password (the core allows it).
            if own_password_only(w.store.edits_for_save(), access.name):
                return None
            return editing(access)

        gate.add_all((w.act_save, w.act_save_reason, w.act_review), saving, managed=True)
        gate.add_all((w.act_add, w.act_delete), entity_reason(self._page_entity), managed=True)
        gate.add(w.act_password, AppAction.EDIT_USERS, managed=True)
        gate.add(w.act_bulk_roles, AppAction.ASSIGN_ROLES, managed=True)
        # An import can rewrite anything and publishing writes the service's file: the
        # core leaves both to administrators (interchange/pipeline.py, publish.py).
        gate.add(w.act_import, AppAction.ADMINISTER, managed=True)
        gate.add(w.act_publish, AppAction.ADMINISTER)
        governance = getattr(w, "governance", None)
        campaigns = getattr(governance, "actions", {}).get("campaigns")
        if campaigns is not None:
            gate.add(campaigns, AppAction.REVIEW)

    def _page_entity(self) -> Entity | None:
        pages = getattr(self.window, "pages", None)
        if not pages:
            return None
        kind = self.window.current_page().kind
        return kind.entity if kind.editable else None

    # ------------------------------------------------------------ state

    def may_edit(self, entity: Entity | None) -> bool:
        """May the operator edit records of ``entity`` (None: nothing to edit)?"""
        action = ENTITY_ACTIONS.get(entity) if entity is not None else None
        return action is None or self.gate.may(action)

    def apply(self) -> None:
        """Bring the window in line with the current operator (after every update of the
        window's actions, a sign-in, a sign-out and a save)."""
        self._gate_tables()
        self.gate.apply()
        access = self.window.db.access
        self.status.setText(f"Signed in as {access.name}" if access.signed_in else "")
        self.status.setVisible(access.signed_in)
        # On a server the login is the operator: signing in here cannot change it.
        own = (access.enforced or access.signed_in) and self.window.db.path is not None
        self.act_switch.setVisible(own)
        self.act_sign_out.setVisible(own)
        self.act_my_password.setVisible(own and access.signed_in)
        self.act_my_password.setEnabled(not self.window.db.read_only)

    def _gate_tables(self) -> None:
        """The tables' cells follow their page's permission (pages are built lazily)."""
        for page in getattr(self.window, "pages", {}).values():
            view = page.view
            if not page.kind.editable or page.kind.entity is None:
                continue
            if view.property("operator_gated"):
                continue
            view.setProperty("operator_gated", True)
            action = ENTITY_ACTIONS[page.kind.entity]
            self.gate.add(view, action)

    # ------------------------------------------------------------ user actions

    def open_operators(self) -> QWidget:
        """File > Operators and sign-in…: one window (closed with the window's other
        secondary windows when another file is opened)."""
        from .operators_dialog import OperatorsDialog

        w = self.window
        return w._one_window(
            "operators",
            lambda: OperatorsDialog.open_for(w.db, w.store, self.gate, w),
            reuse=True,
        )

    def change_my_password(self) -> bool:
        """File > Change my password…: typed twice, hashed at once, pending until Save
        (every operator may, with view alone: a password only its owner knows)."""
        from .password_dialog import PasswordDialog

        w = self.window
        access = w.db.access
        if not access.signed_in or w.db.read_only:
            return False
        password_hash = PasswordDialog.ask(w, access.name)
        if password_hash is None:
            return False
        w.store.push(SetPasswordHash(user=access.name, password_hash=password_hash))
        w.statusBar().showMessage("Your new password is pending — save to keep it.", 5000)
        return True

    def switch_operator(self) -> bool:
        """Another operator signs in; on Cancel the current one stays signed in."""
        from .sign_in import SignInDialog

        if not self.window.maybe_keep_pending("switching operator"):
            return False
        access = SignInDialog.ask(self.window, self.window.db, "Switch operator")
        if access is None:
            return False
        self._operator_changed()
        return True

    def sign_out(self) -> bool:
        """Sign out; the next operator signs in at once. If nobody does (Cancel), the
        window closes: nothing of a file that requires sign-in stays on the screen."""
        from .sign_in import SignInDialog

        w = self.window
        if not w.maybe_keep_pending("signing out"):
            return False
        w.db.sign_out()
        self._operator_changed()
        if not w.db.access.enforced:
            return True  # sign-in off: back to the computer's user, as before
        w.body.hide()  # nothing readable behind the dialog
        access = SignInDialog.ask(w, w.db, "Sign in")
        if access is None:
            w.close()
            return False
        w.body.show()
        self._operator_changed()
        return True

    def signed_in_after_save(self) -> bool:
        """Between a save's commit and the window reading the file again: the save may
        have switched sign-in on (then whoever saved signs in to go on working) or
        changed the operator's own rights (the window is gated again). False when
        nobody signed in: the window closes, nothing of the file stays on the screen."""
        from .sign_in import SignInDialog

        w = self.window
        try:
            w.db.refresh_access()
        except AccessGuardError:
            pass  # they may no longer view: asked to sign in below
        if w.db.access.may(AppAction.VIEW):
            self.apply()
            return True
        w.body.hide()  # nothing readable behind the dialog
        if SignInDialog.ask(w, w.db, "Sign in") is None:
            QTimer.singleShot(0, w.close)  # once the save has returned
            return False
        w.body.show()
        self._operator_changed()
        return True

    def _operator_changed(self) -> None:
        """Another person at the keyboard: the windows opened for the last one close
        (their editing controls were theirs), and every control is gated again."""
        w = self.window
        w._close_access_windows()
        for other in list(w.governance.windows.values()):
            other.close()
        w._build_pages()  # the details tabs' editing controls lock for the new operator
        w._update_actions()
