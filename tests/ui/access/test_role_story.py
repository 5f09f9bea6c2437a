"""A role's whole story in the details pane: direct and effective members, own and
inherited permissions, "Hide inherited" (issue 12, item 8)."""

from __future__ import annotations

import pytest
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
