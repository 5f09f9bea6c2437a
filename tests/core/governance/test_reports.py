"""Auditor reports as data and CSV: content, stamp with the audit chain head, limits."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from accessguard_gui.core import audit, rbac
from accessguard_gui.core.database import Database
from accessguard_gui.core.governance import reports


@pytest.fixture
def office(db: Database) -> Database:
    with db.action("Seed") as s:
        rbac.add_user(s, "alice", "Alice Archer")
        rbac.add_user(s, "bob")
        for role in ("Payroll", "Approver", "Clerk"):
            rbac.add_role(s, role)
        rbac.add_resource(s, "Payroll")
        rbac.add_permission(s, "Payroll", "approve")
        rbac.add_permission(s, "Payroll", "read")
        rbac.grant_permission(s, "Approver", ("Payroll", "approve"))
        rbac.grant_permission(s, "Clerk", ("Payroll", "read"))
        rbac.add_inheritance(s, "Payroll", "Approver")
        rbac.assign_user(s, "alice", "Payroll")
        rbac.assign_user(s, "bob", "Clerk")
        rbac.create_ssd_set(s, "Pay or approve", ["Clerk", "Approver"], 2)
    return db


def _stamp(db: Database) -> reports.Stamp:
    with db.read() as s:
        return reports.stamp(s, db.display_name, "auditor")


def test_the_stamp_carries_the_chain_head(office: Database) -> None:
    the_stamp = _stamp(office)
    with office.read() as s:
        _last, head = audit.chain_head(s.connection())
    assert the_stamp.chain_head == head and the_stamp.chain_length > 10
    assert dict(the_stamp.lines())["Operator"] == "auditor"


def test_user_access_lists_paths(office: Database) -> None:
    with office.read() as s:
        report = reports.user_access(s, "alice", _stamp(office))
    assignments, permissions = report.sections
    assert assignments.rows[0][0] == "Payroll"
    assert permissions.rows == (("Payroll", "approve", "granted", "alice \u2192 Payroll \u2192 Approver"),)


def test_resource_users_and_sod(office: Database) -> None:
    with office.read() as s:
        users = reports.resource_users(s, "Payroll", None, _stamp(office))
        sod = reports.sod_violations(s, _stamp(office))
    assert [(r[0], r[1]) for r in users.sections[0].rows] == [("approve", "alice"), ("read", "bob")]
    assert sod.sections[0].rows == ()
    assert sod.sections[1].rows == (("Pay or approve", "fewer than 2", "Approver, Clerk"),)


def test_audit_trail_of_a_period_and_csv(office: Database, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    with office.read() as s:
        report = reports.audit_trail(s, now - timedelta(hours=1), now + timedelta(hours=1), _stamp(office))
        empty = reports.audit_trail(s, now - timedelta(days=3), now - timedelta(days=2), _stamp(office))
    (section,) = report.sections
    assert section.rows[0][2] == "tester" and section.rows[0][6] == "alice"
    assert "username=alice" in section.rows[0][8]
    assert empty.sections[0].rows == () and "0 entries" in empty.subject
    path = reports.write_csv(report, tmp_path / "trail.csv")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        lines = list(csv.reader(handle))
    assert lines[0][0] == "Audit trail of a period"
    assert ["Audit chain head", report.stamp.chain_head] in lines
    assert ["#", "At (UTC)", "Operator", "Action", "Change", "Type", "Record", "Before", "After"] in lines
    assert len(lines) == 6 + 1 + 1 + 1 + len(section.rows)


def test_sections_stop_at_the_row_limit(office: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reports, "ROW_LIMIT", 3)
    now = datetime.now(UTC)
    with office.read() as s:
        report = reports.audit_trail(s, now - timedelta(hours=1), now + timedelta(hours=1), _stamp(office))
    assert len(report.sections[0].rows) == 3
    assert report.sections[0].note.startswith("Stopped at 3 rows")


def test_hygiene_report_and_formula_cells(office: Database, tmp_path: Path) -> None:
    with office.action("Odd") as s:
        rbac.add_role(s, "Empty", "=HYPERLINK(\"x\")")
    with office.read() as s:
        report = reports.hygiene_findings(s, _stamp(office))
    assert any("Empty" in row[0] for sec in report.sections for row in sec.rows)
    assert reports._safe_row(["=1+1", "ok"]) == ["'=1+1", "ok"]
