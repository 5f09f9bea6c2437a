"""The access reviews window: open a campaign, decide, progress, pending changes, close,
evidence; read-only files can only look and export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot

from accessguard_gui.core import changes, rbac
from accessguard_gui.core.database import Database
from accessguard_gui.ui.access.common import save_png
from accessguard_gui.ui.governance.campaigns import CampaignsWindow
from accessguard_gui.ui.pending import PendingStore

from .conftest import SHOTS, settle


def _seed(db: Database) -> None:
    with db.action("Seed") as s:
        for name in ("alice", "bob"):
            rbac.add_user(s, name)
        rbac.add_role(s, "Payroll")
        rbac.add_resource(s, "Payroll")
        rbac.add_permission(s, "Payroll", "approve")
        rbac.grant_permission(s, "Payroll", ("Payroll", "approve"))
        rbac.assign_user(s, "alice", "Payroll")
        rbac.assign_user(s, "bob", "Payroll")


def _window(qtbot: QtBot, db: Database) -> CampaignsWindow:
    window = CampaignsWindow(db, PendingStore())
    qtbot.addWidget(window)
    window.resize(1000, 760)
    window.show()
    settle(qtbot, window, timeout=15_000)
    return window


def _subjects(window: CampaignsWindow) -> list[str]:
    return [i.subject for i in window.items.rows()]


def test_a_campaign_from_opening_to_evidence(
    qtbot: QtBot, db: Database, tmp_path: Path, dialogs: Any
) -> None:
    _seed(db)
    window = _window(qtbot, db)
    window.name_edit.setText("Q4 payroll")
    window.scope_kind.setCurrentIndex(window.scope_kind.findText("One role"))
    window.scope_value.setText("Payroll")
    window.reviewers_edit.setText("ann, ben")
    window.open_button.click()
    settle(qtbot, window)
    assert "3 items to review" in window.message.text()
    assert _subjects(window) == ["alice \u2192 Payroll", "bob \u2192 Payroll", "Payroll \u2192 Payroll: approve"]
    window.items_view.selectRow(1)
    window.revoke_button.click()
    settle(qtbot, window)
    assert "Say why" in window.message.text()  # a revocation needs its note
    window.note_edit.setText("moved to sales")
    window.revoke_button.click()
    settle(qtbot, window)
    assert window.progress.rows()[0][2] == "1"
    window.undecided.setChecked(True)
    settle(qtbot, window)
    assert "bob \u2192 Payroll" not in _subjects(window)
    save_png(window, SHOTS / "campaigns.png")
    window.pending_button.click()
    settle(qtbot, window)
    assert [e.describe() for e in window.store.edits()] == ["Remove bob from Payroll"]
    with db.action("Save") as s:
        changes.apply_edits(s, window.store.edits_for_save())
    window.close_button.click()
    settle(qtbot, window)
    assert window.campaign is not None and window.campaign.closed
    assert not window.keep_button.isEnabled()
    dialogs.save_path = str(tmp_path / "evidence.csv")
    window.csv_button.click()
    settle(qtbot, window)
    text = (tmp_path / "evidence.csv").read_text(encoding="utf-8-sig")
    assert "moved to sales" in text and "Access review evidence" in text
    window.export("pdf", str(tmp_path / "evidence.pdf"))
    settle(qtbot, window)
    assert (tmp_path / "evidence.pdf").read_bytes().startswith(b"%PDF")


def test_read_only_can_look_and_export_only(qtbot: QtBot, db: Database, db_path: Path) -> None:
    _seed(db)
    from accessguard_gui.core.governance import campaigns

    with db.action("Open") as s:
        campaigns.create_campaign(s, "Q4", campaigns.Scope.ALL, ["ann"])
    db.close()
    ro = Database(db_path, read_only=True)
    window = _window(qtbot, ro)
    assert len(_subjects(window)) == 3
    assert not any(b.isEnabled() for b in window.fix_buttons)
    assert window.csv_button.isEnabled()
    ro.close()
