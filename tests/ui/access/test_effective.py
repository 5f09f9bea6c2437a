"""Effective access view: permissions of a user and users of a resource, with paths."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import NotFoundError
from accessguard_gui.ui.access.common import save_png
from accessguard_gui.ui.access.effective import EffectiveAccessView

from .conftest import SHOTS, shown


def _view(qtbot: QtBot, db: Database) -> EffectiveAccessView:
    return shown(qtbot, EffectiveAccessView(db), 900, 420)


def test_user_permissions_with_paths(qtbot: QtBot, demo_db: Database) -> None:
    view = _view(qtbot, demo_db)
    with qtbot.waitSignal(view.shown):
        view.show_user("alice")
    rows = view.model.rows()
    paths = [r[2] for r in rows]
    assert "alice \u2192 Admin \u2192 Staff \u2192 Base \u2192 Door B2.14: open" in paths
    assert "alice \u2192 Admin \u2192 Operator \u2192 Base \u2192 Door B2.14: open" in paths
    assert "alice \u2192 Admin \u2192 Operator \u2192 Server room: open" in paths
    assert view.summary.text() == "alice: 3 permissions granted."
    save_png(view, SHOTS / "effective_user.png")


def test_expired_and_inactive_are_marked(qtbot: QtBot, demo_db: Database) -> None:
    view = _view(qtbot, demo_db)
    view.show_user("bob")
    by_perm = {r[0]: r for r in view.model.rows() if r[0]}
    assert by_perm["Ledger: write"][1] == "not granted: assignment expired"
    assert by_perm["Ledger: write"][3].startswith("expired 2020-01-01")
    assert by_perm["Server room: audit"][1] == "granted"
    assert "reachable only through expired" in view.summary.text()
    save_png(view, SHOTS / "effective_user_expired.png")
    view.show_user("carol")
    assert {r[1] for r in view.model.rows() if r[1]} == {"not granted: user inactive"}
    assert "carol (inactive): 0 permissions granted" in view.summary.text()


def test_resource_users_with_paths(qtbot: QtBot, demo_db: Database) -> None:
    view = _view(qtbot, demo_db)
    view.show_resource("Door B2.14", "open")
    users = {r[0]: r for r in view.model.rows() if r[0]}
    assert set(users) == {"alice", "bob", "carol"}
    assert users["bob"][3] == "bob \u2192 Auditor \u2192 Staff \u2192 Base \u2192 Door B2.14: open"
    assert users["carol"][2] == "not granted: user inactive"
    assert view.summary.text() == "Door B2.14: open: 2 authorized users."
    save_png(view, SHOTS / "effective_resource.png")


def test_unknown_names_are_said_plainly(qtbot: QtBot, demo_db: Database) -> None:
    view = _view(qtbot, demo_db)
    view.show_user("nobody")
    assert view.model.rowCount() == 0
    assert "nobody" in view.summary.text()
    view.show_resource("Ledger", "fly")
    assert "no action" in view.summary.text()


def test_include_unsaved_changes(qtbot: QtBot, demo_db: Database) -> None:
    from accessguard_gui.core.changes import Assign
    from accessguard_gui.ui.pending import PendingStore

    store = PendingStore()
    view = EffectiveAccessView(demo_db, store=store)
    qtbot.addWidget(view)
    view.show()
    view.show_user("dave")
    assert view.summary.text() == "dave: 1 permission granted."
    store.push(Assign("dave", "Auditor"))
    view.pending_check.setChecked(True)
    assert view.summary.text() == "dave: 4 permissions granted."
    store.undo()  # the view follows the pending list while the box is ticked
    assert view.summary.text() == "dave: 1 permission granted."
    with demo_db.read() as s:
        from accessguard_gui.core import rbac

        assert [a.role for a in rbac.assigned_roles(s, "dave")] == ["Payments"]


def test_long_lists_come_page_by_page_and_all_are_reachable(
    qtbot: QtBot, demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No cap: pages of one user (or one permission) are fetched as the table asks for
    them, and every one of them ends up listed; the summary counts the whole list."""
    from accessguard_gui.core import explain
    from accessguard_gui.ui.access import effective

    monkeypatch.setattr(effective, "USERS_PER_PAGE", 1)
    monkeypatch.setattr(effective, "PERMISSIONS_PER_PAGE", 1)
    pages: list[object] = []
    real = explain.resource_access

    def counted(*args: object, **kwargs: object) -> explain.ResourceAccess:
        result = real(*args, **kwargs)  # type: ignore[arg-type]
        pages.append(result)
        return result

    monkeypatch.setattr(explain, "resource_access", counted)
    view = _view(qtbot, demo_db)
    view.show_resource("Door B2.14", "open")
    assert view.summary.text() == (
        "Door B2.14: open: 2 authorized users \u2014 3 listed by name; scroll for the rest."
    )
    while view.model.canFetchMore():
        view.model.fetchMore()
    users = [r[0] for r in view.model.rows() if r[0]]
    assert users == ["alice", "bob", "carol"]
    assert len(pages) == 3  # one user per page, each page asked once
    view.show_user("alice")
    while view.model.canFetchMore():
        view.model.fetchMore()
    listed = [r[0] for r in view.model.rows() if r[0]]
    assert len(listed) == len(set(listed)) == 3, listed
    assert "Server room: open" in listed and "Door B2.14: open" in listed
    assert view.summary.text() == "alice: 3 permissions granted."


def test_switching_to_resource_clears_the_user_and_the_answer(
    qtbot: QtBot, demo_db: Database
) -> None:
    view = _view(qtbot, demo_db)
    view.show_user("alice")
    assert view.model.rowCount() > 0
    view.mode.setCurrentText("Resource")
    assert view.subject.text() == ""
    assert view.subject.placeholderText() == "resource"
    assert view.model.rowCount() == 0
    assert "alice" not in view.summary.text()
    assert view.action.isVisible()
    save_png(view, SHOTS / "effective_switched_to_resource.png")


def test_a_mistyped_user_says_there_is_no_such_user(qtbot: QtBot, demo_db: Database) -> None:
    view = _view(qtbot, demo_db)
    view.subject.setText("alcie")
    view.subject.returnPressed.emit()
    assert view.model.rowCount() == 0
    assert "alcie" in view.summary.text()
    assert "granted" not in view.summary.text()


def test_completion_finds_users_by_display_name(qtbot: QtBot, demo_db: Database) -> None:
    from accessguard_gui.core import rbac

    with demo_db.action("setup") as s:
        rbac.add_user(s, "aschulz", display_name="Anna Schulz")
    view = _view(qtbot, demo_db)
    view.subject.setText("schulz")
    assert view._user_completer.refresh() == ["aschulz"]
    view.mode.setCurrentText("Resource")
    view.subject.setText("room")
    assert view._user_completer.refresh() == ["Server room"]


def test_a_pending_new_user_shows_its_access_as_if_saved(qtbot: QtBot, demo_db: Database) -> None:
    from accessguard_gui.core import rbac
    from accessguard_gui.core.changes import Assign, Create, Entity
    from accessguard_gui.ui.pending import PendingStore

    store = PendingStore()
    store.push(Create(Entity.USER, {"username": "newbie", "display_name": "New Bie"}))
    store.push(Assign("newbie", "Auditor"))
    view = EffectiveAccessView(demo_db, store=store)
    shown(qtbot, view, 900, 420)
    view.show_user("newbie")
    assert not view.pending_check.isChecked()
    assert view.summary.text().startswith("newbie: 3 permissions granted.")
    assert "as if the pending changes were saved" in view.summary.text()
    assert any("newbie \u2192 Auditor" in r[2] for r in view.model.rows())
    save_png(view, SHOTS / "effective_pending_user.png")
    with demo_db.read() as s, pytest.raises(NotFoundError):  # nothing written
        rbac.get_user(s, "newbie")
    view.show_user("alice")  # a saved user: the saved state, no note
    assert "as if" not in view.summary.text()


def test_a_role_shows_its_own_and_inherited_permissions(qtbot: QtBot, demo_db: Database) -> None:
    view = _view(qtbot, demo_db)
    view.show_role("Auditor")
    rows = {r[0]: r[1] for r in view.model.rows()}
    assert rows["Server room: audit"] == "own"
    assert rows["Ledger: read"] == "inherited from Staff"
    assert view.summary.text().startswith("Auditor: 3 permissions (1 its own, 2 inherited)")
    assert view.subject.placeholderText() == "role"
    view.subject.setText("audi")
    assert "Auditor" in view._user_completer.refresh()
    save_png(view, SHOTS / "effective_role.png")
    view.show_role("Auditr")
    assert view.model.rowCount() == 0
    assert "Auditr" in view.summary.text()


def test_a_role_with_many_permissions_pages_with_no_cap(
    qtbot: QtBot, demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11 item 4: a role's permissions come a page at a time (no 5,000 cap); the
    summary counts them all."""
    from accessguard_gui.ui.access import effective

    monkeypatch.setattr(effective, "ROLE_PERMISSIONS_PER_PAGE", 1)
    view = _view(qtbot, demo_db)
    view.show_role("Auditor")
    assert view.model.rowCount() == 1 and view.model.canFetchMore()
    while view.model.canFetchMore():
        view.model.fetchMore()
    assert [r[0] for r in view.model.rows()] == [
        "Door B2.14: open",
        "Ledger: read",
        "Server room: audit",
    ]
    assert view.summary.text().startswith("Auditor: 3 permissions (1 its own, 2 inherited)")


def test_on_a_large_file_answers_and_pages_are_read_off_the_gui_thread(
    qtbot: QtBot, demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11: a resource reached by 100,000 users took ~1 s to read on the 1M file; the
    window shows "Reading…" meanwhile, and a newer question wins over an older one."""
    from accessguard_gui.ui.access import effective

    monkeypatch.setattr(effective, "BACKGROUND_FILE_BYTES", 0)  # every file is "large"
    monkeypatch.setattr(effective, "USERS_PER_PAGE", 1)
    view = _view(qtbot, demo_db)
    view.show_user("alice")
    view.show_resource("Door B2.14", "open")  # asked before alice's answer came
    assert view.is_reading()
    assert view.summary.text() == "Reading the access of Door B2.14\u2026"
    qtbot.waitUntil(lambda: not view.is_reading(), timeout=10_000)
    assert view.summary.text().startswith("Door B2.14: open: 2 authorized users")
    # The view asks for the next pages (read off the GUI thread too) while it has room.
    qtbot.waitUntil(lambda: not view.is_reading() and not view.model.canFetchMore(), timeout=10_000)
    assert [r[0] for r in view.model.rows() if r[0]] == ["alice", "bob", "carol"], (
        view.summary.text()
    )
    view.show_user("nobody-like-this")
    qtbot.waitUntil(lambda: not view.is_reading(), timeout=10_000)
    assert "nobody-like-this" in view.summary.text() and view.model.rowCount() == 0
