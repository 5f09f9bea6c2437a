"""File > Import… and Export…, Export… of a table page and of the access views' tables:
the dry run is shown before anything is written, Cancel writes nothing, an import refreshes
the window, exports hold what the user saw."""

from __future__ import annotations

import csv
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableView

from accessguard_gui.core import rbac
from accessguard_gui.core.database import Database
from accessguard_gui.core.interchange import json_doc
from accessguard_gui.core.interchange.records import (
    RoleRecord,
    UserRecord,
    UserRoleRecord,
)
from accessguard_gui.core.models import User
from accessguard_gui.ui.interchange import import_dialog, view_export
from accessguard_gui.ui.interchange.export_dialog import ExportDialog
from accessguard_gui.ui.interchange.import_dialog import ImportDialog
from accessguard_gui.ui.interchange.table_dialog import TableExportDialog

NEW_PEOPLE = [
    UserRecord("dora", "Dora Diaz", "dora@example.org", True),
    UserRecord("=evil", "Formula Fred", None, True),  # an invalid username: refused
    RoleRecord("Accountant", "Keeps the books"),
    UserRoleRecord("dora", "Accountant"),
]


def write_source(folder: Path, records: list[Any], name: str = "people.json") -> Path:
    path = folder / name
    json_doc.write_file(records, path)
    return path


def usernames(db: Database) -> set[str]:
    with db.read() as s:
        return {u for (u,) in s.query(User.username)}


def wait_idle(qtbot: Any, dialog: Any) -> None:
    qtbot.waitUntil(lambda: dialog.task is None, timeout=30_000)


def dry_run(qtbot: Any, window: Any, source: Path, mode: str = "update") -> ImportDialog:
    dialog = window.import_organisation()
    qtbot.addWidget(dialog)
    dialog.source.setText(str(source))
    dialog.set_mode(mode)
    dialog.dry_run_button.click()
    wait_idle(qtbot, dialog)
    return dialog


def report(dialog: ImportDialog) -> list[tuple[str, ...]]:
    return [dialog.model.row(i) for i in range(dialog.model.rowCount())]


def test_the_dry_run_lists_each_row_with_file_and_line_and_writes_nothing(
    qtbot: Any, window: Any, tmp_path: Path, qtmodeltester: Any
) -> None:
    source = write_source(tmp_path, NEW_PEOPLE)
    dialog = dry_run(qtbot, window, source)
    qtmodeltester.check(dialog.model)
    rows = report(dialog)
    # The document's first lines are its header: dora is on line 6, "=evil" on 7.
    assert ("people.json:6", "user", "dora", "would be added") in [r[:4] for r in rows]
    refused = [r for r in rows if r[3] == "refused"]
    assert refused and refused[0][0] == "people.json:7" and "=evil" in refused[0][2]
    assert "Username" in refused[0][4]
    assert "Refused: 1 user" in dialog.summary.text()
    assert not dialog.import_button.isEnabled()  # a refused row refuses the import
    assert "dora" not in usernames(window.db)
    # Only the refusals, on demand.
    dialog.show_combo.setCurrentIndex(1)
    assert [r[3] for r in report(dialog)] == ["refused"]


def test_import_writes_in_one_go_and_the_window_shows_the_new_rows(
    qtbot: Any, window: Any, tmp_path: Path
) -> None:
    source = write_source(tmp_path, [NEW_PEOPLE[0], NEW_PEOPLE[2], NEW_PEOPLE[3]])
    users = window.page("users")
    before = users.model.rowCount()
    dialog = dry_run(qtbot, window, source)
    assert dialog.import_button.isEnabled()
    with qtbot.waitSignal(dialog.imported, timeout=30_000):
        dialog.import_button.click()
    wait_idle(qtbot, dialog)
    assert "dora" in usernames(window.db)
    with window.db.read() as s:
        assert [r.role for r in rbac.assigned_roles(s, "dora")] == ["Accountant"]
    assert users.model.rowCount() == before + 1  # refreshed without a reload by hand
    assert "Imported from people.json" in dialog.status.text()
    assert not dialog.import_button.isEnabled()  # the same dry run cannot be applied twice


def test_cancel_during_the_import_writes_nothing(
    qtbot: Any, window: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write_source(tmp_path, [NEW_PEOPLE[0], NEW_PEOPLE[2], NEW_PEOPLE[3]])
    dialog = dry_run(qtbot, window, source)
    cancelled = threading.Event()
    real_apply = import_dialog.apply_import

    def held_apply(*args: Any, **kwargs: Any) -> Any:
        assert cancelled.wait(10)  # the user presses Cancel while it runs
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(import_dialog, "apply_import", held_apply)
    dialog.import_button.click()
    assert dialog.cancel_button.text() == "Cancel"
    dialog.cancel_button.click()
    cancelled.set()
    wait_idle(qtbot, dialog)
    assert "nothing was written" in dialog.status.text()
    assert "dora" not in usernames(window.db)
    assert dialog.isVisible()  # Cancel stopped the import, it did not close the dialog


def test_a_malformed_source_is_a_plain_message_and_writes_nothing(
    qtbot: Any, window: Any, tmp_path: Path
) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text('{"format": "accessguard-organisation", "version": 1,\n"users": [\n'
                   '{"username": "x"', encoding="utf-8")
    dialog = dry_run(qtbot, window, bad, "add")
    assert "broken.json:3" in dialog.error.text()
    assert dialog.error.textFormat() == Qt.TextFormat.PlainText
    assert not dialog.import_button.isEnabled()
    assert "x" not in usernames(window.db)


def test_changing_the_mode_drops_the_dry_run(qtbot: Any, window: Any, tmp_path: Path) -> None:
    source = write_source(tmp_path, [NEW_PEOPLE[0]])
    dialog = dry_run(qtbot, window, source)
    assert dialog.import_button.isEnabled()
    dialog.set_mode("mirror")
    assert dialog.plan is None and dialog.model.rowCount() == 0
    assert not dialog.import_button.isEnabled()


def test_the_dry_run_report_can_be_saved_as_csv(
    qtbot: Any, window: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write_source(tmp_path, NEW_PEOPLE)
    dialog = dry_run(qtbot, window, source)
    target = tmp_path / "report.csv"
    monkeypatch.setattr(import_dialog.paths, "pick_save_path", lambda *a, **k: str(target))
    dialog.save_button.click()
    wait_idle(qtbot, dialog)
    with open(target, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][:3] == ["file", "line", "verdict"]
    assert ["people.json", "7", "refuse"] in [r[:3] for r in rows]
    assert dialog.model.rowCount() > 0  # the report is still shown


def test_import_is_off_on_a_read_only_database(
    qtbot: Any, seeded: Database, settings: Any, dialogs: Any
) -> None:
    from accessguard_gui.ui.main_window import MainWindow

    assert seeded.path is not None
    seeded.close()
    db = Database(seeded.path, read_only=True)
    win = MainWindow(db, settings)
    qtbot.addWidget(win)
    assert not win.act_import.isEnabled()
    assert win.import_organisation() is None
    assert "read-only" in dialogs.error_text()
    db.close()


# ---------------------------------------------------------------------- exports


def test_export_as_json_leaves_password_hashes_out_unless_ticked(
    qtbot: Any, window: Any, tmp_path: Path
) -> None:
    with window.db.action("Password") as s:
        rbac.set_password(s, "alice", "a long passphrase")
    dialog = window.export_organisation()
    qtbot.addWidget(dialog)
    assert isinstance(dialog, ExportDialog)
    dialog.choose("json")
    target = tmp_path / "org.json"
    dialog.target.setText(str(target))
    assert not dialog.warning.isVisible()
    with qtbot.waitSignal(dialog.exported, timeout=30_000):
        dialog.export_button.click()
    users = {u["username"]: u for u in json.loads(target.read_text(encoding="utf-8"))["users"]}
    assert set(users) == {"alice", "bob", "carol"}
    assert "password_hash" not in users["alice"]

    dialog = window.export_organisation()
    qtbot.addWidget(dialog)
    dialog.choose("json")
    dialog.target.setText(str(target))
    dialog.hashes.setChecked(True)
    assert dialog.warning.isVisibleTo(dialog) and "password hashes" in dialog.warning.text()
    with qtbot.waitSignal(dialog.exported, timeout=30_000):
        dialog.export_button.click()
    users = {u["username"]: u for u in json.loads(target.read_text(encoding="utf-8"))["users"]}
    assert users["alice"]["password_hash"].startswith("$argon2")


def test_export_as_casbin_writes_the_policy_and_its_model(
    qtbot: Any, window: Any, tmp_path: Path
) -> None:
    with window.db.action("Seed") as s:
        rbac.grant_permission(s, "Accountant", ("Ledger", "read"))
        rbac.assign_user(s, "alice", "Accountant")
    dialog = window.export_organisation()
    qtbot.addWidget(dialog)
    dialog.choose("casbin")
    assert not dialog.hashes.isEnabled()  # Casbin holds no passwords
    target = tmp_path / "policy.csv"
    dialog.target.setText(str(target))
    with qtbot.waitSignal(dialog.exported, timeout=30_000) as signal:
        dialog.export_button.click()
    assert "1 grants, 1 assignments" in signal.args[0]
    assert "g, alice, role:Accountant" in target.read_text(encoding="utf-8")
    assert (tmp_path / "policy.conf").exists()


def test_a_failed_export_says_why_in_the_dialog(qtbot: Any, window: Any, tmp_path: Path) -> None:
    dialog = window.export_organisation()
    qtbot.addWidget(dialog)
    dialog.choose("json")
    dialog.target.setText(str(tmp_path / "no such folder" / "org.json"))
    dialog.export_button.click()
    wait_idle(qtbot, dialog)
    assert "cannot be written" in dialog.error.text()
    assert dialog.isVisible() and dialog.export_button.isEnabled()


def read_csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def test_export_of_a_table_page_writes_the_rows_as_shown(
    qtbot: Any, window: Any, tmp_path: Path
) -> None:
    users = window.page("users")
    users.filters["active"].setCurrentIndex(1)  # Active
    users.model.sort(1, Qt.SortOrder.DescendingOrder)  # by display name, descending
    users.model.wait_ready()
    assert window.act_export_table in users.view.actions()  # the table's context menu
    window.act_export_table.trigger()
    dialog = window.findChild(TableExportDialog)
    assert dialog is not None
    qtbot.addWidget(dialog)
    assert "2 of 3 users" in dialog.shown.text() and "Status: Active" in dialog.shown.text()
    target = tmp_path / "active.csv"
    dialog.target.setText(str(target))
    with qtbot.waitSignal(dialog.exported, timeout=30_000):
        dialog.export_button.click()
    rows = read_csv(target)
    assert [r[0] for r in rows[1:]] == ["bob", "alice"]  # Bob Baker > Alice Archer
    assert rows[0][0] == "Username"


def test_export_of_the_audit_log_of_a_period(qtbot: Any, window: Any, tmp_path: Path) -> None:
    window.show_page(4)
    dialog = window.export_table()
    qtbot.addWidget(dialog)
    dialog.period.setChecked(True)
    assert dialog.since.isEnabled()
    target = tmp_path / "audit.csv"
    dialog.target.setText(str(target))
    with qtbot.waitSignal(dialog.exported, timeout=30_000) as signal:
        dialog.export_button.click()
    rows = read_csv(target)
    assert rows[0][0] == "at" and len(rows) - 1 == signal.args[0] > 0
    assert {r[5] for r in rows[1:]} >= {"alice", "Ledger"}


def test_an_access_view_table_exports_what_it_shows(
    qtbot: Any, window: Any, tmp_path: Path
) -> None:
    with window.db.action("Seed") as s:
        rbac.grant_permission(s, "Accountant", ("Ledger", "read"))
        rbac.assign_user(s, "alice", "Accountant")
    view_window = window.open_access_view(1)  # effective access
    qtbot.addWidget(view_window)
    view_window.show_user("alice")
    table = view_window.findChild(QTableView)
    actions = [a for a in table.actions() if a.objectName() == view_export.ACTION_NAME]
    assert len(actions) == 1 and table.contextMenuPolicy() == (
        Qt.ContextMenuPolicy.ActionsContextMenu)
    target = tmp_path / "alice.csv"
    job = view_export.export_view(table, target)
    assert job is not None
    qtbot.waitUntil(lambda: job.done, timeout=10_000)
    rows = read_csv(target)
    model = table.model()
    assert len(rows) == model.rowCount() + 1 >= 2
    assert rows[1][0] == model.data(model.index(0, 0))
    assert "Ledger" in " ".join(rows[1])


def test_cancelling_a_table_export_leaves_no_file(
    qtbot: Any, window: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accessguard_gui.ui.interchange import table_dialog

    released = threading.Event()
    real_export = table_dialog.table_export.export_view

    def held(*args: Any, **kwargs: Any) -> Any:
        assert released.wait(10)
        return real_export(*args, **{**kwargs, "cancelled": lambda: True})

    monkeypatch.setattr(table_dialog.table_export, "export_view", held)
    dialog = window.export_table()
    qtbot.addWidget(dialog)
    target = tmp_path / "users.csv"
    dialog.target.setText(str(target))
    dialog.export_button.click()
    assert not dialog.export_button.isEnabled()
    dialog.buttons.rejected.emit()  # Cancel
    released.set()
    wait_idle(qtbot, dialog)
    assert "Cancelled: nothing was written." in dialog.status.text()
    assert dialog.isVisible() and not target.exists()
    assert list(tmp_path.glob("*.part")) == [] and list(tmp_path.glob(".users*")) == []


def test_the_role_details_lists_export_their_items(
    qtbot: Any, window: Any, tmp_path: Path
) -> None:
    with window.db.action("Seed") as s:
        rbac.assign_user(s, "alice", "Accountant")
        rbac.assign_user(s, "bob", "Accountant")
    roles = window.page("roles")
    window.show_page(1)
    roles.select_row(0)  # Accountant
    roles.details.setCurrentIndex(1)  # Members and inheritance

    def members_list() -> Any:
        """The members list, once it is built (on first show), filled and has the action."""
        return next((v for v in roles.details.findChildren(view_export.QListView)
                     if v.model().rowCount() == 2
                     and any(a.objectName() == view_export.ACTION_NAME for a in v.actions())),
                    None)

    qtbot.waitUntil(lambda: members_list() is not None)
    members = members_list()
    job = view_export.export_view(members, tmp_path / "members.csv")
    assert job is not None
    qtbot.waitUntil(lambda: job.done, timeout=10_000)
    rows = read_csv(tmp_path / "members.csv")
    assert len(rows) == 3 and {r[0] for r in rows[1:]} == {
        members.model().data(members.model().index(i, 0)) for i in range(2)}


def test_mirror_mode_asks_before_removing_and_removes_what_the_source_lacks(
    qtbot: Any, window: Any, tmp_path: Path, dialogs: Any
) -> None:
    source = write_source(tmp_path, [UserRecord("alice"), UserRecord("bob")])
    dialog = dry_run(qtbot, window, source, "mirror")
    removed = [r for r in report(dialog) if r[3] == "would be removed"]
    assert [(r[0], r[2]) for r in removed] == [("(database)", "carol")]
    dialogs.confirm_answer = False
    dialog.import_button.click()
    assert "removes 1 record" in dialogs.confirms[-1]
    assert dialog.task is None and "carol" in usernames(window.db)  # nothing done
    dialogs.confirm_answer = True
    with qtbot.waitSignal(dialog.imported, timeout=30_000):
        dialog.import_button.click()
    wait_idle(qtbot, dialog)
    assert usernames(window.db) == {"alice", "bob"}


def test_the_matrix_exports_role_names_and_ticks(
    qtbot: Any, window: Any, tmp_path: Path
) -> None:
    with window.db.action("Seed") as s:
        rbac.grant_permission(s, "Accountant", ("Ledger", "read"))
    matrix = window.open_access_view(2)  # roles × permissions
    qtbot.addWidget(matrix)
    table = matrix.findChild(QTableView)
    qtbot.waitUntil(lambda: table.model().rowCount() >= 2)
    job = view_export.export_view(table, tmp_path / "matrix.csv")
    assert job is not None
    qtbot.waitUntil(lambda: job.done, timeout=10_000)
    rows = {r[0]: r[1:] for r in read_csv(tmp_path / "matrix.csv")}
    assert rows["Accountant"][0].startswith("yes")
    assert rows["Auditor"][0].startswith("no")


def test_a_long_report_is_fetched_as_the_table_scrolls(
    qtbot: Any, window: Any, tmp_path: Path, qtmodeltester: Any
) -> None:
    source = write_source(tmp_path, [UserRecord(f"user{i:04d}") for i in range(1200)])
    dialog = dry_run(qtbot, window, source)
    model = dialog.model
    assert model.rowCount() == import_dialog.FETCH_ROWS and model.canFetchMore()
    while model.canFetchMore():
        model.fetchMore()
    assert model.rowCount() == 1200
    assert model.row(1199)[:3] == ("people.json:1205", "user", "user1199")
    qtmodeltester.check(model)
