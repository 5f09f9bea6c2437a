"""Who can do what, and why: access check, effective access, review of pending changes,
assignments, separation of duty, the role × permission matrix and the inheritance graph.

Each view is a self-contained widget that takes the ``Database`` (and the window's
``PendingStore`` where it edits); nothing here writes table rows directly — edits go to the
store and the window's Save applies them — separation-of-duty sets included. On a
read-only database every editing control is off (with a tooltip saying why). Every window
opened here gets the main window's Undo/Redo/Save/Review shortcuts
(``common.share_window_actions``; the main window provides ``shared_actions()``).

For the main window:
    details_tabs(page, db, store, parent)   access tabs for a page's details pane
    menu_entries(db, store, parent)         (text, tip, opener) for an "Access" menu
    bulk_role_dialog(db, store, ids, parent) assign/remove one role for selected users
    review.show_review_changes(db, store, save, parent) -> ReviewChangesDialog
        save(edits) -> (ok, message) is the window's save; signal saved(int).

Widgets (module: class(args) — signals):
    access_check: AccessCheckPanel(db, parent=None, store=None) — checked(AccessDecision);
                  set_query(user, resource, action), check()
    effective:    EffectiveAccessView(db, parent=None, store=None) — shown(str);
                  show_user(name), show_role(name), show_resource(resource, action=None)
    follow:       prefill(window, page, values) — open Access check / Effective access on
                  the main window's selected row; pending_password(store, id, username)
    assignments:  UserRolesPanel(db, store) — refused(str); set_user(id or name)
                  RoleDetailsPanel(db, store) — refused(str); set_role(id or name)
                  BulkRoleDialog(db, store, user_ids) — applied(int); bulk_role_change()
    ssd:          SsdPanel(db, store) — sets_changed(); SsdSetDialog(db, store, existing)
                  — applied(str)
    matrix:       RolePermissionMatrix(db, store) / RolePermissionMatrixModel(db, store)
    graph:        RoleGraphView(db) — role_activated(str); set_role(id or name)
Each module also has a ``show_*`` function that opens its view as a window of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from ...core.database import Database
    from ..pending import PendingStore


def details_tabs(
    page: str, db: Database, store: PendingStore, parent: QWidget
) -> list[tuple[str, QWidget]]:
    """The main window's hook (ui/details.py): access tabs for a page's details pane.
    Imported lazily so that opening the window does not load every access view."""
    from .details import details_tabs as tabs

    return tabs(page, db, store, parent)


MENU: list[tuple[str, str]] = [
    ("Access &check\u2026", "May this user do this action on this resource, and why?"),
    (
        "&Effective access\u2026",
        "Every permission of a user, or every user of a resource, with the path",
    ),
    (
        "Roles \u00d7 &permissions\u2026",
        "Grant and revoke permissions in a role \u00d7 permission matrix",
    ),
    ("&Separation of duty\u2026", "Separation-of-duty sets and the users who break them"),
]
"""(menu text, status tip) of the views ``menu_entries`` opens, in the same order."""


def menu_entries(
    db: Database, store: PendingStore, parent: QWidget
) -> list[tuple[str, str, Callable[[], QWidget]]]:
    """(menu text, status tip, opener) for an "Access" menu of the main window; each
    opener shows one view as a window of its own (kept alive by ``parent``) and returns it.
    """
    # Each view's module is imported when it is opened, not all four with the menu: an
    # import costs tens of ms on the GUI thread (bench/bench_ui_stalls.py).

    def access_check() -> QWidget:
        from .access_check import show_access_check

        return show_access_check(db, parent, store)

    def effective() -> QWidget:
        from .effective import show_effective_access

        return show_effective_access(db, parent, store)

    def matrix() -> QWidget:
        from .matrix import show_matrix

        return show_matrix(db, store, parent)

    def ssd() -> QWidget:
        from .ssd import show_ssd

        return show_ssd(db, store, parent)

    openers: list[Callable[[], QWidget]] = [access_check, effective, matrix, ssd]
    return [(text, tip, opener) for (text, tip), opener in zip(MENU, openers, strict=True)]


def bulk_role_dialog(
    db: Database, store: PendingStore, user_ids: list[int], parent: QWidget
) -> QWidget:
    """Assign or remove one role for the selected users in one step (non-modal)."""
    from .assignments import BulkRoleDialog
    from .common import open_window

    dialog = BulkRoleDialog(db, store, user_ids, parent)
    open_window(dialog)
    return dialog
