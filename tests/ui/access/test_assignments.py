"""User roles and role details panels: edits go to the pending store, refusals on the spot."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from accessguard_gui.core import lookup, rbac
from accessguard_gui.core.changes import (
    Assign,
    Deassign,
    Grant,
    Inherit,
    Revoke,
    SetExpiry,
    Uninherit,
)
from accessguard_gui.core.database import Database
from accessguard_gui.ui.access.assignments import (
    BulkRoleDialog,
    RoleDetailsPanel,
    UserRolesPanel,
    bulk_role_change,
)
from accessguard_gui.ui.access.common import PickerDialog, save_png
from accessguard_gui.ui.pending import PendingStore

from .conftest import SHOTS, answer_picker, shown


def _user_panel(qtbot: QtBot, db: Database, store: PendingStore, user: str) -> UserRolesPanel:
    panel = UserRolesPanel(db, store)
    panel.set_user(user)
    return shown(qtbot, panel, 820, 320)


def test_user_roles_shows_details(qtbot: QtBot, demo_db: Database) -> None:
    panel = _user_panel(qtbot, demo_db, PendingStore(), "bob")
    rows = panel.model.rows()
    assert [r[0] for r in rows] == ["Auditor", "Payments"]
    assert rows[0][2] == "root"
    assert rows[1][3].startswith("2020-01-01") and rows[1][4] == "expired"
    assert panel.title.text() == "bob (Bob Brown)"
    save_png(panel, SHOTS / "user_roles.png")


def test_add_several_roles_pushes_pending_edits(
    qtbot: QtBot, demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = PendingStore()
    panel = _user_panel(qtbot, demo_db, store, "dave")
    answer_picker(monkeypatch, ["Auditor", "Operator"])
    with qtbot.waitSignal(store.changed):
        panel.add_button.click()
    assert store.edits() == [Assign("dave", "Auditor"), Assign("dave", "Operator")]
    assert panel.role_names() == ["Auditor", "Operator", "Payments"]
    assert panel.model.row(0)[4] == "will be added"
    save_png(panel, SHOTS / "user_roles_pending.png")
    with demo_db.read() as s:  # nothing written
        assert [a.role for a in rbac.assigned_roles(s, "dave")] == ["Payments"]


def test_ssd_violation_refused_with_set_named(
    qtbot: QtBot, demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = PendingStore()
    panel = _user_panel(qtbot, demo_db, store, "dave")
    answer_picker(monkeypatch, ["Approvals"])
    with qtbot.waitSignal(panel.refused), qtbot.assertNotEmitted(store.changed):
        panel.add_button.click()
    assert store.is_empty()
    assert "Pay and approve" in panel.message.text()
    assert "Approvals, Payments" in panel.message.text()
    save_png(panel, SHOTS / "user_roles_refused.png")


def test_remove_and_expiry(qtbot: QtBot, demo_db: Database) -> None:
    store = PendingStore()
    panel = _user_panel(qtbot, demo_db, store, "bob")
    panel.select_roles(["Payments"])
    panel.remove_button.click()
    assert store.edits() == [Deassign("bob", "Payments")]
    assert panel.model.row(1)[4] == "will be removed"
    panel.select_roles(["Auditor"])
    panel.clear_expiry_button.click()
    last = store.edits()[-1]
    assert isinstance(last, SetExpiry) and last.role == "Auditor" and last.expires_at is None
    assert panel.model.row(0)[3] == "never"
    assert panel.model.row(0)[4] == "expiry will change"


def _role_panel(qtbot: QtBot, db: Database, store: PendingStore, role: str) -> RoleDetailsPanel:
    panel = RoleDetailsPanel(db, store)
    panel.set_role(role)
    return shown(qtbot, panel, 980, 560)


def test_role_details_lists_and_sentences(qtbot: QtBot, demo_db: Database) -> None:
    panel = _role_panel(qtbot, demo_db, PendingStore(), "Staff")
    assert panel.texts(panel.members) == ["carol"]
    assert panel.texts(panel.permissions) == ["Ledger: read"]
    assert panel.texts(panel.inherits_from) == [
        "Staff inherits from Base (Staff gets every permission of Base)"
    ]
    assert panel.texts(panel.inherited_by) == [
        "Admin inherits from Staff (Admin gets every permission of Staff)",
        "Auditor inherits from Staff (Auditor gets every permission of Staff)",
    ]
    save_png(panel, SHOTS / "role_details.png")


def test_cycle_refused_with_cycle_named(
    qtbot: QtBot, demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = PendingStore()
    panel = _role_panel(qtbot, demo_db, store, "Base")
    answer_picker(monkeypatch, ["Auditor"])
    panel.add_parent_button.click()
    assert store.is_empty()
    assert "Base \u2192 Auditor \u2192 Staff \u2192 Base" in panel.message.text()
    save_png(panel, SHOTS / "role_details_cycle.png")


def test_cycle_through_a_pending_edit_is_refused(
    qtbot: QtBot, demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = PendingStore()
    store.push(Inherit("Payments", "Admin"))
    panel = _role_panel(qtbot, demo_db, store, "Base")
    answer_picker(monkeypatch, ["Payments"])
    panel.add_parent_button.click()
    assert store.edits() == [Inherit("Payments", "Admin")]
    assert "Base \u2192 Payments \u2192 Admin" in panel.message.text()


def test_role_edits_are_pending(
    qtbot: QtBot, demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = PendingStore()
    panel = _role_panel(qtbot, demo_db, store, "Payments")
    answer_picker(monkeypatch, ["Door B2.14: open"])
    panel.add_permissions_button.click()
    answer_picker(monkeypatch, ["Staff"])
    panel.add_parent_button.click()
    answer_picker(monkeypatch, ["Operator"])
    panel.add_child_button.click()
    assert store.edits() == [
        Grant("Payments", ("Door B2.14", "open")),
        Inherit("Payments", "Staff"),
        Inherit("Operator", "Payments"),
    ]
    assert "Door B2.14: open  \u2014 pending" in panel.texts(panel.permissions)
    save_png(panel, SHOTS / "role_details_pending.png")
    panel.permissions.item(1).setSelected(True)  # Ledger: write
    panel.revoke_selected_permissions()
    assert store.edits()[-1] == Revoke("Payments", ("Ledger", "write"))
    panel.inherits_from.item(0).setSelected(True)
    panel.remove_selected_inherits_from()
    assert store.edits()[-1] == Uninherit("Payments", "Staff")


def test_bulk_assign_and_remove(qtbot: QtBot, demo_db: Database) -> None:
    store = PendingStore()
    with demo_db.read() as s:
        ids = [rbac.get_user(s, n).id for n in ("alice", "bob", "carol", "dave")]
    count, problem = bulk_role_change(demo_db, store, ids, "Staff")
    assert (count, problem) == (3, None)  # carol already has Staff
    assert store.edits() == [
        Assign("alice", "Staff"),
        Assign("bob", "Staff"),
        Assign("dave", "Staff"),
    ]
    dialog = BulkRoleDialog(demo_db, store, ids)
    qtbot.addWidget(dialog)
    dialog.role_edit.setText("Staff")
    dialog.remove_radio.setChecked(True)
    with qtbot.waitSignal(dialog.applied) as blocker:
        assert dialog.apply()
    # After the pending assigns, all four hold Staff: four removals.
    assert blocker.args == [4]
    dialog2 = BulkRoleDialog(demo_db, store, ids)
    qtbot.addWidget(dialog2)
    dialog2.role_edit.setText("Approvals")
    dialog2.show()
    assert not dialog2.apply()  # dave holds Payments: the SSD set refuses
    assert "Pay and approve" in dialog2.message.text()
    save_png(dialog2, SHOTS / "bulk_refused.png")


def test_picker_keeps_choices_across_searches(qtbot: QtBot, demo_db: Database) -> None:
    def search(text: str) -> list[lookup.Choice]:
        with demo_db.read() as s:
            return lookup.search_roles(s, text)

    dialog = PickerDialog("Add roles", search)
    qtbot.addWidget(dialog)
    dialog.show()
    ok = dialog.buttons.button(dialog.buttons.StandardButton.Ok)
    assert not ok.isEnabled()
    dialog.filter.setText("a")
    qtbot.waitUntil(lambda: dialog.list.count() == 7)  # debounced search
    # Names starting with "a" first, then those containing it.
    assert [dialog.list.item(i).text() for i in range(7)] == [
        "Admin",
        "Approvals",
        "Auditor",
        "Base",
        "Operator",
        "Payments",
        "Staff",
    ]
    dialog.set_checked("Auditor")
    dialog.filter.setText("op")
    qtbot.waitUntil(lambda: dialog.list.count() == 1)
    dialog.set_checked("Operator")
    assert ok.isEnabled()
    assert dialog.summary.text() == "2 chosen: Auditor, Operator"
    assert [c.label for c in dialog.chosen()] == ["Auditor", "Operator"]
    save_png(dialog, SHOTS / "picker.png")


def test_hidden_panel_reads_pending_state_only_when_shown(
    qtbot: QtBot, demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accessguard_gui.core import impact

    store = PendingStore()
    panel = _user_panel(qtbot, demo_db, store, "dave")
    panel.hide()
    calls: list[int] = []
    real = impact.with_pending
    monkeypatch.setattr(impact, "with_pending", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    for role in ("Auditor", "Operator", "Staff"):
        store.push(Assign("dave", role))
    assert calls == []  # nobody can see it: no preview per edit
    panel.show()
    assert len(calls) == 1
    assert panel.role_names() == ["Auditor", "Operator", "Payments", "Staff"]


def test_big_role_lists_members_a_page_at_a_time(
    qtbot: QtBot, demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No cap: the first page shows at once, the next ones as the list is scrolled to
    its end, until every member is listed."""
    from accessguard_gui.ui.access import assignments

    monkeypatch.setattr(assignments, "MEMBERS_PER_PAGE", 2)
    with demo_db.action("more") as s:
        for name in ("erin", "frank", "gina"):
            rbac.add_user(s, name)
            rbac.assign_user(s, name, "Staff")
    panel = _role_panel(qtbot, demo_db, PendingStore(), "Staff")
    assert panel.members_box.title() == "Members (4)"
    assert panel.texts(panel.members) == ["carol", "erin"]
    assert panel.fetch_more_members()
    assert panel.texts(panel.members) == ["carol", "erin", "frank", "gina"]
    assert not panel.fetch_more_members()  # the list is whole
    panel.refresh()  # back to the first page, and scrolling to the end reads the rest
    assert panel.texts(panel.members) == ["carol", "erin"]
    bar = panel.members.verticalScrollBar()
    bar.valueChanged.emit(bar.maximum())  # what reaching the end of the list does
    assert panel.texts(panel.members) == ["carol", "erin", "frank", "gina"]


def test_pending_removal_in_a_big_role_marks_only_the_pending_rows(
    qtbot: QtBot, demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listed members come from the pending state; a saved member that moves up into
    the list when another is removed must not be shown as pending."""
    from accessguard_gui.ui.access import assignments

    monkeypatch.setattr(assignments, "MEMBERS_PER_PAGE", 2)
    with demo_db.action("more") as s:
        for name in ("erin", "frank", "gina"):
            rbac.add_user(s, name)
            rbac.assign_user(s, name, "Staff")
    store = PendingStore()
    store.push(Deassign("carol", "Staff"))
    panel = _role_panel(qtbot, demo_db, store, "Staff")
    assert panel.texts(panel.members) == ["erin", "frank"]
    assert panel.fetch_more_members()
    assert panel.texts(panel.members) == ["erin", "frank", "gina"]
    store.push(Assign("alice", "Staff"))
    panel.refresh()
    assert panel.texts(panel.members)[:2] == ["alice  \u2014 pending", "erin"]


def test_remove_buttons_need_a_chosen_row(qtbot: QtBot, demo_db: Database) -> None:
    panel = _user_panel(qtbot, demo_db, PendingStore(), "bob")
    assert panel.add_button.isEnabled() and not panel.remove_button.isEnabled()
    panel.select_roles(["Auditor"])
    assert panel.remove_button.isEnabled() and panel.set_expiry_button.isEnabled()
    role = _role_panel(qtbot, demo_db, PendingStore(), "Staff")
    assert not role.remove_permissions_button.isEnabled()
    role.permissions.item(0).setSelected(True)
    assert role.remove_permissions_button.isEnabled()
    assert not role.remove_members_button.isEnabled()


def test_member_picker_finds_people_by_display_name_and_email(
    qtbot: QtBot, demo_db: Database
) -> None:
    from accessguard_gui.core import rbac
    from accessguard_gui.ui.access.common import searcher

    with demo_db.action("setup") as s:
        rbac.add_user(s, "aschulz", display_name="Anna Schulz", email="anna@corp.example")
    dialog = PickerDialog("Add members", searcher(demo_db, lookup.search_users))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.filter, "SCHULZ")
    qtbot.waitUntil(lambda: dialog.list.count() == 1)
    assert dialog.list.item(0).text() == "aschulz (Anna Schulz, anna@corp.example)"
    assert dialog.empty.isHidden()
    dialog.filter.setText("corp.exam")
    qtbot.waitUntil(lambda: dialog.list.count() == 1 and "aschulz" in dialog.list.item(0).text())
    dialog.filter.setText("nobody-like-this")
    qtbot.waitUntil(lambda: dialog.list.count() == 0)
    assert dialog.empty.isVisible()
    assert "nobody-like-this" in dialog.empty.text()
    save_png(dialog, SHOTS / "picker_no_match.png")


def test_permission_picker_matches_resource_colon_action(qtbot: QtBot, demo_db: Database) -> None:
    from accessguard_gui.ui.access.common import searcher

    dialog = PickerDialog("Grant", searcher(demo_db, lookup.search_permissions))
    qtbot.addWidget(dialog)
    dialog.filter.setText("room: aud")
    qtbot.waitUntil(lambda: dialog.list.count() == 1)
    assert dialog.list.item(0).text() == "Server room: audit"
    dialog.filter.setText("audit")  # the action alone finds it too
    qtbot.waitUntil(
        lambda: (
            "Server room: audit" in [dialog.list.item(i).text() for i in range(dialog.list.count())]
        )
    )


def test_a_role_holding_many_permissions_lists_them_a_page_at_a_time(
    qtbot: QtBot, demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A role granted every permission (an administrators' role) is listed a page at a
    time like its members, with the whole count in the title and pending grants marked on
    whichever page they fall."""
    from accessguard_gui.core.changes import Grant
    from accessguard_gui.ui.access import assignments

    monkeypatch.setattr(assignments, "GRANTS_PER_PAGE", 3)
    with demo_db.action("grant all") as s:
        rbac.add_role(s, "Everything")
        rbac.add_resource(s, "Archive")
        for action in ("read", "write", "list", "purge"):
            rbac.add_permission(s, "Archive", action)
        every = [tuple(label.split(": ", 1)) for _id, label in lookup.matrix_permissions(s, "")]
        for ref in every[:-1]:
            rbac.grant_permission(s, "Everything", ref)
    with demo_db.read() as s:
        whole = [p.label for p in rbac.role_permissions(s, "Everything")]
    assert len(whole) > 6
    store = PendingStore()
    store.push(Grant("Everything", every[-1]))  # the last one, pending
    panel = _role_panel(qtbot, demo_db, store, "Everything")
    assert panel.permissions_box.title() == f"Direct permissions ({len(whole) + 1:,})"
    assert panel.texts(panel.permissions) == whole[:3]
    bar = panel.permissions.verticalScrollBar()
    while panel.fetch_more_permissions():
        pass
    shown = panel.texts(panel.permissions)
    assert len(shown) == len(whole) + 1
    pending = [t for t in shown if t.endswith("\u2014 pending")]
    label = f"{every[-1][0]}: {every[-1][1]}"
    assert pending == [f"{label}  \u2014 pending"]
    assert [t for t in shown if t not in pending] == whole  # the saved ones, in order
    panel.refresh()  # back to the first page; reaching the end of the list reads more
    assert len(panel.texts(panel.permissions)) == 3
    bar.valueChanged.emit(bar.maximum())
    assert len(panel.texts(panel.permissions)) == 6
