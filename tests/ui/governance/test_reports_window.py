"""The auditor reports window: build each report off the GUI thread, save PDF and CSV."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from accessguard_gui.core import rbac
from accessguard_gui.core.database import Database
from accessguard_gui.ui.access.common import save_png
from accessguard_gui.ui.governance.reports import ReportsWindow
from accessguard_gui.ui.pending import PendingStore

from .conftest import SHOTS, settle


@pytest.fixture
def reports_window(qtbot: QtBot, db: Database) -> ReportsWindow:
    with db.action("Seed") as s:
        rbac.add_user(s, "alice", "<b>Alice</b> Archer")
        rbac.add_role(s, "Payroll")
        rbac.add_role(s, "Approver")
        rbac.add_resource(s, "Payroll")
        rbac.add_permission(s, "Payroll", "approve")
        rbac.grant_permission(s, "Approver", ("Payroll", "approve"))
        rbac.add_inheritance(s, "Payroll", "Approver")
        rbac.assign_user(s, "alice", "Payroll")
    window = ReportsWindow(db, PendingStore())
    qtbot.addWidget(window)
    window.resize(980, 700)
    window.show()
    return window


@pytest.mark.parametrize("kind", ["user", "resource", "sod", "audit", "hygiene"])
def test_each_report_builds_and_saves_as_csv(
    qtbot: QtBot, reports_window: ReportsWindow, kind: str, tmp_path: Path, dialogs: Any
) -> None:
    reports_window.choose(kind)
    reports_window.user_edit.setText("alice")
    reports_window.resource_edit.setText("Payroll")
    now = datetime.now(UTC)
    reports_window.set_period(now - timedelta(hours=1), now + timedelta(hours=1))
    assert not reports_window.csv_button.isEnabled()
    reports_window.build_button.click()
    settle(qtbot, reports_window)
    report = reports_window.report
    assert report is not None
    assert "Audit chain head" in reports_window.preview.toPlainText()
    dialogs.save_path = str(tmp_path / f"{kind}.csv")
    reports_window.csv_button.click()
    settle(qtbot, reports_window)
    text = (tmp_path / f"{kind}.csv").read_text(encoding="utf-8-sig")
    assert report.title in text and report.stamp.chain_head in text


def test_user_report_as_pdf(qtbot: QtBot, reports_window: ReportsWindow, tmp_path: Path) -> None:
    reports_window.choose("user")
    reports_window.user_edit.setText("alice")
    reports_window.build()
    settle(qtbot, reports_window)
    assert reports_window.rows.rows()[0][:3] == ("Payroll", "approve", "granted")
    save_png(reports_window, SHOTS / "reports.png")
    target = tmp_path / "alice.pdf"
    reports_window.save("pdf", str(target))
    settle(qtbot, reports_window)
    assert target.read_bytes().startswith(b"%PDF")
    assert "Saved" in reports_window.message.text()
    if shutil.which("pdftotext"):  # poppler-utils: the PDF holds the text as typed
        text = subprocess.run(["pdftotext", str(target), "-"], capture_output=True, text=True).stdout
        assert "<b>Alice</b> Archer" in text and "alice \u2192 Payroll \u2192 Approver" in text
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "1", str(target),
                        str(SHOTS / "report-user")], check=True)


def test_a_missing_user_is_said_plainly(qtbot: QtBot, reports_window: ReportsWindow) -> None:
    reports_window.choose("user")
    reports_window.user_edit.setText("nobody")
    reports_window.build()
    settle(qtbot, reports_window)
    assert "nobody" in reports_window.message.text()
    assert not reports_window.pdf_button.isEnabled()
