"""Access windows and tabs that follow the main window's selection (issue 12, items 4
and 5): Access check and Effective access open prefilled from the selected user, role,
resource or permission, and a pending new user is a record like any other (its roles,
its access as if saved, its pending password).

The main window calls these few functions; it builds no access logic itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtWidgets import QWidget

from ...core.changes import SetPasswordHash
from ..pending import PendingStore

#: How the Password field of a user reads while a new password waits for Save.
PASSWORD_SET_PENDING = "set (not saved)"
PASSWORD_REMOVED_PENDING = "removed (not saved)"


def prefill(window: QWidget, page: str, values: Mapping[str, Any]) -> None:
    """Fill an Access check or Effective access window from the selected row of ``page``
    ("users", "roles", "resources", "permissions"; ``values`` as the user sees them,
    pending edits applied). Effective access answers at once; Access check fills the
    fields it can and puts the cursor in the first empty one, so only what is missing is
    typed. A role opens Effective access on the role's permissions; Access check asks
    about a user, so a role only puts the cursor in the user field."""
    from .access_check import AccessCheckPanel
    from .effective import EffectiveAccessView

    text = {k: "" if v is None else str(v) for k, v in values.items()}
    if isinstance(window, EffectiveAccessView):
        if page == "users" and text.get("username"):
            window.show_user(text["username"])
        elif page == "roles" and text.get("name"):
            window.show_role(text["name"])
        elif page == "resources" and text.get("name"):
            window.show_resource(text["name"])
        elif page == "permissions" and text.get("resource"):
            window.show_resource(text["resource"], text.get("action") or None)
    elif isinstance(window, AccessCheckPanel):
        if page == "users" and text.get("username"):
            window.user_edit.setText(text["username"])
        elif page == "resources" and text.get("name"):
            window.resource_edit.setText(text["name"])
        elif page == "permissions" and text.get("resource"):
            window.resource_edit.setText(text["resource"])
            window.action_edit.setText(text.get("action", ""))
        for edit in (window.user_edit, window.resource_edit, window.action_edit):
            if not edit.text().strip():
                edit.setFocus()
                break
        else:
            window.check()


def pending_password(store: PendingStore, record_id: int | None, username: str) -> str | None:
    """The user's password as the pending edits leave it ("set (not saved)"), or None
    when no pending edit touches it. A pending new user is named by its username."""
    state: str | None = None
    for edit in store.edits():
        if isinstance(edit, SetPasswordHash) and edit.user in (record_id, username):
            state = PASSWORD_SET_PENDING if edit.password_hash else PASSWORD_REMOVED_PENDING
    return state


def user_ref(record: Any) -> int | str:
    """A user's reference for the access tabs: its id when saved, its username while it
    exists only as a pending new record."""
    rid = getattr(record, "id", None)
    if isinstance(rid, int):
        return rid
    getter = getattr(record, "get", None)
    return str(getter("username") if callable(getter) else "")
