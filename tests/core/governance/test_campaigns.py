"""Access review campaigns: scopes snapshot their items, reviewers decide with notes,
progress per reviewer, decisions become edits, a closed campaign keeps its evidence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from accessguard_gui.core import changes, rbac
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import ValidationError
from accessguard_gui.core.governance import campaigns
from accessguard_gui.core.governance.campaigns import Decision, Scope

LATER = datetime(2031, 1, 1, tzinfo=UTC)


@pytest.fixture
def org(db: Database) -> Database:
    with db.action("Seed") as s:
        for name in ("alice", "bob", "carol"):
            rbac.add_user(s, name)
        for role in ("Payroll", "Approver", "Clerk"):
            rbac.add_role(s, role)
        rbac.add_resource(s, "Payroll")
        rbac.add_resource(s, "Wiki")
        rbac.add_permission(s, "Payroll", "approve")
        rbac.add_permission(s, "Wiki", "edit")
        rbac.grant_permission(s, "Approver", ("Payroll", "approve"))
        rbac.grant_permission(s, "Clerk", ("Wiki", "edit"))
        rbac.add_inheritance(s, "Payroll", "Approver")
        rbac.assign_user(s, "alice", "Payroll")
        rbac.assign_user(s, "bob", "Approver")
        rbac.assign_user(s, "carol", "Clerk")
    return db


def _subjects(db: Database, campaign_id: int) -> list[str]:
    with db.read() as s:
        return sorted(i.subject for i in campaigns.items_page(s, campaign_id))


def test_scopes_snapshot_what_they_cover(org: Database) -> None:
    with org.action("Campaigns") as s:
        everything = campaigns.create_campaign(s, "Q4 all", Scope.ALL, ["ann"])
        payroll = campaigns.create_campaign(s, "Payroll", Scope.RESOURCE, ["ann"], scope_value="payroll")
        clerks = campaigns.create_campaign(s, "Clerks", Scope.ROLE, ["ann"], scope_value="Clerk")
        users = campaigns.create_campaign(s, "A-users", Scope.USERS, ["ann"], scope_value="AL")
    assert everything.items == 5 and everything.scope == "everything"
    assert _subjects(org, payroll.id) == [
        "Approver \u2192 Payroll: approve", "alice \u2192 Payroll", "bob \u2192 Approver",
    ]
    assert _subjects(org, clerks.id) == ["Clerk \u2192 Wiki: edit", "carol \u2192 Clerk"]
    assert _subjects(org, users.id) == ["alice \u2192 Payroll"]
    with pytest.raises(ValidationError, match="no role named"), org.action("Bad") as s:
        campaigns.create_campaign(s, "X", Scope.ROLE, ["ann"], scope_value="Nope")
    with pytest.raises(ValidationError, match="reviewer"), org.action("Bad") as s:
        campaigns.create_campaign(s, "X", Scope.ALL, [" "])


def test_decisions_progress_edits_and_closing(org: Database) -> None:
    with org.action("Open") as s:
        campaign = campaigns.create_campaign(s, "Q4", Scope.ALL, ["ann", "ben"])
    with org.read() as s:
        items = {i.subject: i for i in campaigns.items_page(s, campaign.id)}
        people = campaigns.progress(s, campaign.id)
    assert sum(p.items for p in people) == 5 and {p.reviewer for p in people} <= {"ann", "ben"}
    assert {p.reviewer for p in people} == {"ann", "ben"}  # the work is spread
    owners: dict[str, set[str]] = {}
    for item in items.values():  # a user's assignments (a role's grants) to one reviewer
        owners.setdefault(item.username or item.role, set()).add(item.reviewer)
    assert all(len(r) == 1 for r in owners.values())
    with pytest.raises(ValidationError, match="Say why"), org.action("Decide") as s:
        campaigns.decide(s, campaign.id, [items["bob \u2192 Approver"].id], Decision.REVOKE)
    with org.action("Decide") as s:
        campaigns.decide(s, campaign.id, [items["bob \u2192 Approver"].id], Decision.REVOKE, note="left team")
        campaigns.decide(s, campaign.id, [items["Clerk \u2192 Wiki: edit"].id], Decision.REVOKE, note="wiki gone")
        campaigns.decide(s, campaign.id, [items["alice \u2192 Payroll"].id], Decision.EXPIRY, new_expiry=LATER)
        campaigns.decide(s, campaign.id, [items["carol \u2192 Clerk"].id], Decision.KEEP, decided_by="ben")
    with org.read() as s:
        edits, gone = campaigns.decision_edits(s, campaign.id)
        row = campaigns.campaign_row(s, campaign.id)
        decided = {i.subject: i for i in campaigns.items_page(s, campaign.id) if i.decision}
    assert row.decided == 4 and gone == 0
    assert sorted(e.describe() for e in edits) == [
        "Remove bob from Approver",
        "Revoke Wiki: edit from Clerk",
        "Set expiry of alice \u2192 Payroll to 2031-01-01",
    ]
    assert decided["carol \u2192 Clerk"].decided_by == "ben"
    assert decided["bob \u2192 Approver"].decided_by == "tester" and decided["bob \u2192 Approver"].note == "left team"
    with org.action("Save") as s:
        changes.apply_edits(s, edits)
    with org.read() as s:
        assert not rbac.check_access(s, "bob", "Payroll", "approve").allowed
        again, gone = campaigns.decision_edits(s, campaign.id)
    assert gone == 2 and [e.describe() for e in again] == ["Set expiry of alice \u2192 Payroll to 2031-01-01"]
    with org.action("Close") as s:
        closed = campaigns.close_campaign(s, campaign.id)
    assert closed.closed and closed.closed_by == "tester"
    with pytest.raises(ValidationError, match="closed"), org.action("Late") as s:
        campaigns.decide(s, campaign.id, [items["bob \u2192 Approver"].id], Decision.KEEP)
    # The evidence outlives the records it is about.
    with org.action("Delete") as s:
        rbac.delete_user(s, "bob")
    with org.read() as s:
        kept = [i for i in campaigns.items_page(s, campaign.id) if i.username == "bob"]
    assert kept and kept[0].decision == "revoke"


def test_items_page_by_keyset_and_filters(org: Database) -> None:
    with org.action("Open") as s:
        campaign = campaigns.create_campaign(s, "Q4", Scope.ALL, ["ann"])
    seen, after = [], None
    with org.read() as s:
        while page := campaigns.items_page(s, campaign.id, after=after, limit=2):
            seen += [i.id for i in page]
            after = page[-1].id
    assert len(seen) == len(set(seen)) == 5
    with org.action("Decide") as s:
        campaigns.decide(s, campaign.id, seen[:2], Decision.KEEP)
    with org.read() as s:
        assert len(campaigns.items_page(s, campaign.id, undecided_only=True)) == 3
        assert campaigns.items_page(s, campaign.id, reviewer="nobody") == []


def test_expiry_decisions_apply_only_to_assignments(org: Database) -> None:
    with org.action("Open") as s:
        campaign = campaigns.create_campaign(s, "Q4", Scope.ALL, ["ann"])
    with org.read() as s:
        ids = [i.id for i in campaigns.items_page(s, campaign.id)]
    with org.action("Decide") as s:
        n = campaigns.decide(s, campaign.id, ids, Decision.EXPIRY, new_expiry=datetime.now(UTC) + timedelta(days=3))
    assert n == 3


def test_the_evidence_report(org: Database, tmp_path: object) -> None:
    from accessguard_gui.core.governance import reports

    with org.action("Open") as s:
        campaign = campaigns.create_campaign(s, "Q4", Scope.ROLE, ["ann"], scope_value="Clerk")
        first = campaigns.items_page(s, campaign.id)[0]
        campaigns.decide(s, campaign.id, [first.id], Decision.REVOKE, note="no longer needed")
        campaigns.close_campaign(s, campaign.id)
    with org.read() as s:
        report = reports.campaign_evidence(s, campaign.id, reports.stamp(s, "f.db", "auditor"))
    info, people, decisions = report.sections
    assert ("Status", "closed") in info.rows
    assert people.rows == (("ann", "2", "1", "50%", "0", "1", "0"),)
    assert ("revoke", "no longer needed", "tester") == decisions.rows[0][3:4] + decisions.rows[0][5:7]
    assert decisions.rows[1][3] == "undecided"


@pytest.mark.sqlite_only
def test_a_cancelled_opening_writes_nothing(org: Database) -> None:
    import threading

    from accessguard_gui.core import browse
    from accessguard_gui.core.errors import QueryStoppedError

    stop = threading.Event()
    stop.set()  # Cancel pressed: the running INSERT … SELECT stops, the action rolls back
    with pytest.raises(QueryStoppedError), org.action("Open") as s, browse.bounded(s, cancel=stop):
        campaigns.create_campaign(s, "Never", Scope.ALL, ["ann"])
    with org.read() as s:
        assert campaigns.campaigns(s) == []


def test_opening_deciding_and_closing_are_audited_in_the_chain(db: Database) -> None:
    """A reviewer's decision is evidence: each one leaves a chained audit entry, so a
    decision changed later (or behind the app's back) leaves a trace."""
    from accessguard_gui.core import integrity
    from accessguard_gui.core.audit import audit_entries
    from accessguard_gui.core.governance import campaigns as c

    with db.action("Seed") as s:
        rbac.add_user(s, "alice", "Alice")
        rbac.add_role(s, "Clerk")
        rbac.assign_user(s, "alice", "Clerk")
    with db.action("Open review") as s:
        row = c.create_campaign(s, "Q4 review", c.Scope.ALL, ["carol"])
    with db.read() as s:
        items = c.items_page(s, row.id)
    with db.action("Review decision") as s:
        c.decide(s, row.id, [items[0].id], c.Decision.REVOKE, note="left the team")
    with db.action("Close review") as s:
        c.close_campaign(s, row.id)
    with db.read() as s:
        entries = audit_entries(s, record_type="review_item")
        (decided,) = entries
        assert decided.before is not None and decided.after is not None
        assert decided.before["decision"] is None and decided.after["decision"] == "revoke"
        assert decided.after["note"] == "left the team"
        assert "alice \u2192 Clerk" in decided.record_key
        opened_closed = audit_entries(s, record_type="campaign")
        assert [e.operation for e in opened_closed] == ["update", "insert"]
        assert opened_closed[0].record_key == "Q4 review"
    report = integrity.verify_audit_chain(db)
    assert report.intact and report.entries >= 5
