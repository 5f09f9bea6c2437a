"""Access tabs for the main window's details pane (the ``details_tabs`` hook of
ui/details.py): a user's roles and effective access, a role's members, permissions,
inheritance and graph, and who has access to a resource or permission.

Each tab follows the selected row (``show_record``) but only queries while it is visible:
a hidden tab just remembers the record and catches up when it is shown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ...core.database import Database
from ..pending import PendingStore
from .common import RefreshWhenShown
from .follow import user_ref

# Messages about one attempt (not about the pending state, which refresh recomputes).
STALE_PREFIXES = ("Refused: ",)


def _value(record: Any, key: str) -> Any:
    getter = getattr(record, "get", None)
    if callable(getter):
        return getter(key)
    return getattr(record, key, None)


class FollowingTab(QWidget):
    """Wraps an access widget so it follows the table's selection lazily.

    The widget itself is made the first time it is needed (``make``): the window opens
    with its tabs' titles only, and the access views' modules and widgets cost nothing
    until the user looks at one (cold start, issue 11).

    Args:
        make: () -> the access widget shown in the tab (called once, on first need).
        show: (inner, record) -> None, shows the record in the widget (run again by
            ``refresh`` after Save / F5, so the tab reads the file anew).
        parent: the Qt parent.

    Attributes:
        inner: the wrapped widget (made on first access); record: the record last given.
    """

    def __init__(
        self,
        make: Callable[[], QWidget],
        show: Callable[[Any, Any], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._make = make
        self._inner: QWidget | None = None
        self._show = show
        self.record: Any = None
        self._follow = RefreshWhenShown(self, self._catch_up)
        self.placeholder = QLabel("Select one row to see its access here.")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.addWidget(self.placeholder)

    @property
    def inner(self) -> QWidget:
        if self._inner is None:
            self._inner = self._make()
            self._layout.addWidget(self._inner, 1)
            self._inner.hide()
        return self._inner

    def show_record(self, record: object | None) -> None:
        if record is not self.record:
            self._drop_stale_refusal()
        self.record = record
        self._follow.request()

    def refresh(self) -> None:
        """After Save, F5 or the window's return: read anew; a refusal shown for an earlier
        attempt is stale now (issue 12: "Refused: …" stayed after a good save)."""
        self._drop_stale_refusal()
        self._follow.request()

    def _drop_stale_refusal(self) -> None:
        message = getattr(self._inner, "message", None)
        if isinstance(message, QLabel) and message.text().startswith(STALE_PREFIXES):
            message.clear()
            message.hide()

    def _catch_up(self) -> None:
        if self.record is None:
            if self._inner is not None:
                self._inner.hide()
            self.placeholder.show()
            return
        self.placeholder.hide()
        self.inner.show()
        self._show(self.inner, self.record)


def _permission_resource(record: Any) -> tuple[str, str]:
    return str(_value(record, "resource") or ""), str(_value(record, "action") or "")


def details_tabs(
    page: str, db: Database, store: PendingStore, parent: QWidget
) -> list[tuple[str, QWidget]]:
    """The access tabs for a page of the main window (see ui/details.py); each view is
    imported and built when its tab is first shown with a record."""

    def user_roles() -> QWidget:
        from .assignments import UserRolesPanel

        return UserRolesPanel(db, store)

    def role_details() -> QWidget:
        from .role_story import RoleDetailsWithCounts

        return RoleDetailsWithCounts(db, store)

    def role_story() -> QWidget:
        from .role_story import RoleStoryPanel

        return RoleStoryPanel(db, store)

    def effective() -> QWidget:
        from .effective import EffectiveAccessView

        return EffectiveAccessView(db, store=store)

    def graph() -> QWidget:
        from .graph import RoleGraphView

        return RoleGraphView(db)

    tabs: list[tuple[str, QWidget]] = []
    if page == "users":
        tabs.append(("Roles", FollowingTab(user_roles, lambda w, r: w.set_user(user_ref(r)))))
        tabs.append(
            (
                "Effective access",
                FollowingTab(effective, lambda w, r: w.show_user(str(_value(r, "username")))),
            )
        )
    elif page == "roles":
        tabs.append(
            (
                "Members and inheritance",
                FollowingTab(role_details, lambda w, r: w.set_role(int(r.id))),
            )
        )
        tabs.append(
            (
                "Effective",
                FollowingTab(role_story, lambda w, r: w.set_role(int(r.id))),
            )
        )
        tabs.append(("Inheritance graph", FollowingTab(graph, lambda w, r: w.set_role(int(r.id)))))
    elif page == "resources":
        tabs.append(
            (
                "Who has access",
                FollowingTab(effective, lambda w, r: w.show_resource(str(_value(r, "name")))),
            )
        )
    elif page == "permissions":
        tabs.append(
            (
                "Who has access",
                FollowingTab(effective, lambda w, r: w.show_resource(*_permission_resource(r))),
            )
        )
    return tabs
