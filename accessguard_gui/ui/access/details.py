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
from .assignments import RoleDetailsPanel, UserRolesPanel
from .common import RefreshWhenShown
from .effective import EffectiveAccessView
from .graph import RoleGraphView


def _value(record: Any, key: str) -> Any:
    getter = getattr(record, "get", None)
    if callable(getter):
        return getter(key)
    return getattr(record, key, None)


class FollowingTab(QWidget):
    """Wraps an access widget so it follows the table's selection lazily.

    Args:
        inner: the access widget shown in the tab.
        show: (inner, record) -> None, shows the record in the widget (run again by
            ``refresh`` after Save / F5, so the tab reads the file anew).

    Attributes:
        inner: the wrapped widget; record: the record last given.
    """

    def __init__(
        self,
        inner: QWidget,
        show: Callable[[Any, Any], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.inner = inner
        self._show = show
        self.record: Any = None
        self._follow = RefreshWhenShown(self, self._catch_up)
        self.placeholder = QLabel("Select one row to see its access here.")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.placeholder)
        layout.addWidget(inner, 1)
        inner.hide()

    def show_record(self, record: object | None) -> None:
        self.record = record
        self._follow.request()

    def refresh(self) -> None:
        self._follow.request()

    def _catch_up(self) -> None:
        if self.record is None:
            self.inner.hide()
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
    """The access tabs for a page of the main window (see ui/details.py)."""
    tabs: list[tuple[str, QWidget]] = []
    if page == "users":
        roles = UserRolesPanel(db, store)
        tabs.append(("Roles", FollowingTab(roles, lambda w, r: w.set_user(int(r.id)))))
        effective = EffectiveAccessView(db, store=store)
        tabs.append(
            (
                "Effective access",
                FollowingTab(effective, lambda w, r: w.show_user(str(_value(r, "username")))),
            )
        )
    elif page == "roles":
        details = RoleDetailsPanel(db, store)
        tabs.append(
            ("Members and inheritance", FollowingTab(details, lambda w, r: w.set_role(int(r.id))))
        )
        graph = RoleGraphView(db)
        tabs.append(("Inheritance graph", FollowingTab(graph, lambda w, r: w.set_role(int(r.id)))))
    elif page == "resources":
        view = EffectiveAccessView(db, store=store)
        tabs.append(
            (
                "Who has access",
                FollowingTab(view, lambda w, r: w.show_resource(str(_value(r, "name")))),
            )
        )
    elif page == "permissions":
        view = EffectiveAccessView(db, store=store)
        tabs.append(
            (
                "Who has access",
                FollowingTab(view, lambda w, r: w.show_resource(*_permission_resource(r))),
            )
        )
    return tabs
