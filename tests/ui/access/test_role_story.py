"""A role's whole story in the details pane: direct and effective members, own and
inherited permissions, "Hide inherited" (issue 12, item 8)."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from accessguard_gui.core import rbac
from accessguard_gui.core.changes import Assign
from accessguard_gui.core.database import Database
from accessguard_gui.ui.access import role_story
from accessguard_gui.ui.access.common import save_png
from accessguard_gui.ui.access.role_story import RoleDetailsWithCounts, RoleStoryPanel
from accessguard_gui.ui.pending import PendingStore

from .conftest import SHOTS, shown


def _role_id(db: Database, name: str) -> int:
    with db.read() as s:
        return rbac.get_role(s, name).id


def test_members_count_direct_and_inherited(qtbot: QtBot, demo_db: Database) -> None:
    panel = shown(qtbot, RoleStoryPanel(demo_db, PendingStore()), 900, 500)
    panel.set_role(_role_id(demo_db, "Base"))
    assert panel.summary.text().startswith("Base: 0 direct, 3 in all")
    assert panel.members_box.title() == "Members (0 direct, 3 in all)"
    assert panel.texts(panel.members) == [
        "alice  (via Admin)",
        "bob  (via Auditor)",
        "carol  (via Staff)",
    ]
    save_png(panel, SHOTS / "role_story_base.png")


def test_effective_permissions_and_hide_inherited(qtbot: QtBot, demo_db: Database) -> None:
    panel = shown(qtbot, RoleStoryPanel(demo_db, PendingStore()), 900, 500)
    panel.set_role(_role_id(demo_db, "Auditor"))
    assert panel.texts(panel.permissions) == [
        "Door B2.14: open  (inherited from Base)",
        "Ledger: read  (inherited from Staff)",
        "Server room: audit",
    ]
    assert panel.permissions_box.title() == "Permissions (1 own, 3 in all)"
    panel.hide_inherited.click()
    assert panel.texts(panel.permissions) == ["Server room: audit"]
    assert panel.texts(panel.members) == ["bob"]
    panel.hide_inherited.click()
    assert "Door B2.14: open  (inherited from Base)" in panel.texts(panel.permissions)


def test_pending_assignment_counts_as_if_saved(qtbot: QtBot, demo_db: Database) -> None:
    store = PendingStore()
    panel = shown(qtbot, RoleStoryPanel(demo_db, store), 900, 500)
    staff = _role_id(demo_db, "Staff")
    panel.set_role(staff)
    assert panel.summary.text().startswith("Staff: 1 direct, 3 in all")
    store.push(Assign(user="dave", role="Auditor"))
    panel.refresh()
    assert panel.summary.text().startswith("Staff: 1 direct, 4 in all")
    assert "dave  (via Auditor)" in panel.texts(panel.members)


def test_members_list_reads_further_pages(
    qtbot: QtBot, demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(role_story, "MEMBERS_PER_PAGE", 2)
    panel = shown(qtbot, RoleStoryPanel(demo_db, PendingStore()), 900, 500)
    panel.set_role(_role_id(demo_db, "Base"))
    assert panel.members.count() == 2
    assert panel.fetch_more_members()
    assert panel.texts(panel.members)[-1] == "carol  (via Staff)"
    assert not panel.fetch_more_members()


def test_role_details_members_title_counts_both(qtbot: QtBot, demo_db: Database) -> None:
    panel = shown(qtbot, RoleDetailsWithCounts(demo_db, PendingStore()), 900, 500)
    panel.set_role(_role_id(demo_db, "Staff"))
    assert panel.members_box.title() == "Members (1 direct, 3 in all)"


def test_a_refusal_goes_after_the_next_save_or_selection(qtbot: QtBot, demo_db: Database) -> None:
    """ "Refused: …" belongs to one attempt: a later Save (refresh) or another row drops it."""
    from accessguard_gui.ui.access.assignments import UserRolesPanel
    from accessguard_gui.ui.access.details import FollowingTab

    store = PendingStore()
    tab = shown(
        qtbot,
        FollowingTab(lambda: UserRolesPanel(demo_db, store), lambda w, r: w.set_user(r["id"])),
        900,
        500,
    )
    with demo_db.read() as s:
        dave = rbac.get_user(s, "dave").id
        bob = rbac.get_user(s, "bob").id
    tab.show_record({"id": dave})
    qtbot.waitUntil(lambda: tab.inner.isVisible())
    panel = tab.inner
    assert not panel.propose([Assign(user="dave", role="Approvals")])  # SoD: refused
    assert panel.message.text().startswith("Refused: ")
    tab.refresh()  # what the window does after a good save
    assert panel.message.isHidden() and panel.message.text() == ""
    assert not panel.propose([Assign(user="dave", role="Approvals")])
    tab.show_record({"id": bob})
    assert panel.message.isHidden()


def _items(dialog: Any) -> dict[str, Any]:
    return {dialog.list.item(i).text(): dialog.list.item(i) for i in range(dialog.list.count())}


def test_member_picker_marks_who_already_holds_the_role(qtbot: QtBot, demo_db: Database) -> None:
    from accessguard_gui.core import lookup, role_stats
    from accessguard_gui.ui.access.common import PickerDialog
    from accessguard_gui.ui.access.held import held_searcher, role_id

    search = held_searcher(demo_db, lookup.search_users, role_stats.held_users, role_id("Staff"))
    dialog = PickerDialog("Add members to Staff", search)
    qtbot.addWidget(dialog)
    items = _items(dialog)
    carol = next(t for t in items if t.startswith("carol"))
    alice = next(t for t in items if t.startswith("alice"))
    dave = next(t for t in items if t.startswith("dave"))
    assert carol.endswith("\u2014 already a member")
    assert not items[carol].flags() & Qt.ItemFlag.ItemIsEnabled  # cannot be added twice
    assert items[carol].checkState() == Qt.CheckState.Checked
    assert alice.endswith("\u2014 holds it through an inheriting role")
    assert items[alice].flags() & Qt.ItemFlag.ItemIsUserCheckable  # may still be assigned
    assert "\u2014" not in dave
    dialog.resize(520, 300)
    save_png(dialog, SHOTS / "picker_members_held.png")


def test_role_and_permission_pickers_mark_held(
    qtbot: QtBot, demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accessguard_gui.ui.access.assignments import RoleDetailsPanel, UserRolesPanel
    from accessguard_gui.ui.access.common import PickerDialog

    seen: list[dict[str, Any]] = []

    def ask(cls, parent, title, search, *, multi=True):  # type: ignore[no-untyped-def]
        dialog = cls(title, search, parent, multi=multi)
        seen.append(_items(dialog))
        dialog.deleteLater()
        return []

    monkeypatch.setattr(PickerDialog, "ask", classmethod(ask))
    users = shown(qtbot, UserRolesPanel(demo_db, PendingStore()), 700, 400)
    users.set_user("alice")
    users.add_roles()
    roles = seen[-1]
    assert "Admin  \u2014 already assigned" in roles
    assert "Staff  \u2014 held through inheritance" in roles
    assert "Payments" in roles
    panel = shown(qtbot, RoleDetailsPanel(demo_db, PendingStore()), 700, 400)
    panel.set_role("Auditor")
    panel.add_permissions()
    perms = seen[-1]
    assert "Server room: audit  \u2014 already granted" in perms
    assert "Ledger: read  \u2014 inherited" in perms
    panel.add_inherits_from()
    parents = seen[-1]
    assert "Staff  \u2014 already inherits from it" in parents
    assert "Base  \u2014 inherited through another role" in parents
    assert not any(t.startswith("Auditor") for t in parents)


def test_picking_a_role_held_through_inheritance_assigns_that_role(
    qtbot: QtBot, demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accessguard_gui.ui.access.assignments import UserRolesPanel

    from .conftest import answer_picker

    answer_picker(monkeypatch, ["Staff"])
    store = PendingStore()
    users = shown(qtbot, UserRolesPanel(demo_db, store), 700, 400)
    users.set_user("alice")
    assert users.add_roles()
    assert store.edits() == [Assign(user="alice", role="Staff")]


def test_roles_page_says_direct_and_shows_the_effective_tab(qtbot: QtBot, window: Any) -> None:
    from PySide6.QtWidgets import QLabel

    from accessguard_gui.ui.table_page import PAGES

    with window.db.action("inherit") as s:
        rbac.add_inheritance(s, "Auditor", "Accountant")
        rbac.assign_user(s, "alice", "Auditor")
    window.show_page(next(i for i, k in enumerate(PAGES) if k.key == "roles"))
    page = window.page("roles")
    with window.db.read() as s:
        accountant = rbac.get_role(s, "Accountant").id
    page.select_row(page.model.row_for_id(accountant))
    form = page.details.record.form
    captions = [
        form.itemAt(i, form.ItemRole.LabelRole).widget().text() for i in range(form.rowCount())
    ]
    assert "Direct members:" in captions
    details = page.details
    index = next(i for i in range(details.count()) if details.tabText(i) == "Effective")
    details.setCurrentIndex(index)
    tab = details.widget(index)
    qtbot.waitUntil(lambda: tab.inner.isVisible())
    assert tab.inner.summary.text().startswith("Accountant: 0 direct, 1 in all")
    assert tab.inner.texts(tab.inner.members) == ["alice  (via Auditor)"]
    assert isinstance(tab.inner.summary, QLabel)
    qtbot.wait(50)
    window.grab().save(str(SHOTS / "window_role_effective_tab.png"))


def test_permissions_come_a_page_at_a_time_as_scrolled(
    qtbot: QtBot, demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11 item 4: no whole-list load of a role's permissions."""
    monkeypatch.setattr(role_story, "PERMISSIONS_PER_PAGE", 2)
    panel = shown(qtbot, RoleStoryPanel(demo_db, PendingStore()), 900, 500)
    panel.set_role(_role_id(demo_db, "Auditor"))
    assert len(panel.texts(panel.permissions)) == 2
    assert panel.fetch_more_permissions()
    assert panel.texts(panel.permissions)[-1] == "Server room: audit"
    assert not panel.fetch_more_permissions()  # the list is whole
    assert panel.permissions_box.title() == "Permissions (1 own, 3 in all)"
