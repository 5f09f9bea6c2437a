"""Reports for auditors as plain data: a title, a stamp (file, date, operator, the audit
chain head) and sections of rows. ``ui/governance/reports.py`` renders them to PDF; CSV is
written here (no Qt needed).

Each report reads a page at a time (keyset paging through ``core.explain`` and the audit
index) and stops at ``ROW_LIMIT`` rows per section, saying so in the section's note, so a
report on a million users is bounded in time and memory.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import audit, explain, rbac
from ..models import AuditEntry, utcnow
from ..rows import AccessPath
from . import campaigns, hygiene

ROW_LIMIT = 100_000
PAGE = 2000
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Stamp:
    """Where and when a report was made, and the audit chain head it saw."""

    file: str
    generated_at: datetime
    operator: str
    chain_length: int
    chain_head: str | None

    def lines(self) -> list[tuple[str, str]]:
        head = self.chain_head or "(no hash: entries written before the chain existed)"
        return [
            ("File", self.file),
            ("Generated", f"{self.generated_at:%Y-%m-%d %H:%M:%S} UTC"),
            ("Operator", self.operator),
            ("Audit entries", f"{self.chain_length:,}"),
            ("Audit chain head", head if self.chain_length else "(empty trail)"),
        ]


@dataclass(frozen=True, slots=True)
class Section:
    heading: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


@dataclass(frozen=True)
class Report:
    title: str
    subject: str
    stamp: Stamp
    sections: tuple[Section, ...] = field(default_factory=tuple)

    @property
    def row_count(self) -> int:
        return sum(len(s.rows) for s in self.sections)


def stamp(session: Session, file: str, operator: str) -> Stamp:
    """The stamp of a report read in ``session``: the chain head is read in the same
    transaction as the report's rows."""
    last_id, head = audit.chain_head(session.connection())
    count = int(session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()) if last_id else 0
    return Stamp(file, utcnow(), operator, count, head if last_id else None)


def _when(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment:%Y-%m-%d %H:%M}"


def _path(username: str, path: AccessPath) -> str:
    text = " \u2192 ".join((username, *path.roles))
    if path.expired:
        text += f" (expired {_when(path.expires_at)})"
    return text


def _limited(n: int) -> str:
    return f"Stopped at {ROW_LIMIT:,} rows; {n:,} in all." if n > ROW_LIMIT else ""


# ---------------------------------------------------------------------- the reports


def user_access(session: Session, user: str, the_stamp: Stamp, progress: Progress | None = None) -> Report:
    """A user's assignments and effective permissions, each with the paths that grant it."""
    u = rbac.get_user(session, user)
    assignments = tuple(
        (a.role, _when(a.granted_at), a.granted_by, _when(a.expires_at) or "never",
         "expired" if a.expired(the_stamp.generated_at) else "")
        for a in rbac.assigned_roles(session, u.id)
    )
    rows: list[tuple[str, ...]] = []
    after: tuple[str, str] | None = None
    total = 0
    while len(rows) < ROW_LIMIT:
        page = explain.effective_permissions(
            session, u.id, now=the_stamp.generated_at, limit=PAGE, after=after, counts=after is None
        )
        total = page.total if after is None else total
        for p in page.permissions:
            rows.append((
                p.resource, p.action, str(p.status),
                "; ".join(_path(u.username, path) for path in p.paths)
                + (" \u2026" if p.more_paths else ""),
            ))
        if progress is not None:
            progress(f"{len(rows):,} permissions\u2026")
        if not page.truncated or page.next_after is None:
            break
        after = page.next_after
    status = "active" if u.active else "INACTIVE: granted nothing"
    return Report(
        "Effective access of a user", f"{u.username} ({u.display_name}), {status}", the_stamp,
        (
            Section("Assignments", ("Role", "Granted", "By", "Expires", ""), assignments),
            Section(
                "Permissions reached, with paths", ("Resource", "Action", "Status", "Through"),
                tuple(rows[:ROW_LIMIT]), _limited(total),
            ),
        ),
    )


def resource_users(
    session: Session, resource: str, action: str | None, the_stamp: Stamp, progress: Progress | None = None
) -> Report:
    """Who is authorized for a resource's permissions (one action or all), and through
    which roles; users reaching it only through expired assignments or while inactive are
    listed and marked."""
    res = rbac.get_resource(session, resource)
    rows: list[tuple[str, ...]] = []
    after: str | None = None
    granted = listed = 0
    while len(rows) < ROW_LIMIT:
        page = explain.resource_access(
            session, res.id, action, now=the_stamp.generated_at, user_limit=PAGE, after=after,
            counts=after is None,
        )
        if after is None:
            granted, listed = page.granted_users, page.listed_users
        for e in page.entries:
            rows.append((e.action, e.username, str(e.status),
                         "; ".join(_path(e.username, p) for p in e.paths)))
        if progress is not None:
            progress(f"{len(rows):,} rows\u2026")
        if not page.truncated or page.next_after is None:
            break
        after = page.next_after
    what = f"{res.name}: {action}" if action else f"{res.name} (every action)"
    return Report(
        "Authorized users of a resource", f"{what} \u2014 {granted:,} user{'s' if granted != 1 else ''} authorized",
        the_stamp,
        (Section("Users", ("Action", "User", "Status", "Through"), tuple(rows[:ROW_LIMIT]), _limited(listed)),),
    )


def sod_violations(session: Session, the_stamp: Stamp, progress: Progress | None = None) -> Report:
    """Every user breaking a separation-of-duty set (expired assignments count)."""
    if progress is not None:
        progress("Checking every separation-of-duty set\u2026")
    found = rbac.ssd_violations(session, limit=ROW_LIMIT + 1)
    sets = rbac.ssd_role_sets(session)
    rows = tuple((v.ssd_set, f"fewer than {v.cardinality}", v.username, ", ".join(v.roles)) for v in found[:ROW_LIMIT])
    defined = tuple((s.name, f"fewer than {s.cardinality}", ", ".join(s.roles)) for s in sets)
    note = f"Stopped at {ROW_LIMIT:,} violations." if len(found) > ROW_LIMIT else ""
    return Report(
        "Separation-of-duty violations",
        f"{len(rows):,} violation{'s' if len(rows) != 1 else ''} of {len(sets):,} set{'s' if len(sets) != 1 else ''}",
        the_stamp,
        (
            Section("Violations", ("Set", "Limit", "User", "Roles held"), rows, note),
            Section("Sets", ("Set", "Limit", "Roles"), defined),
        ),
    )


def _compact(text: str | None) -> str:
    if not text:
        return ""
    try:
        values = json.loads(text)
    except ValueError:
        return text[:400]
    if not isinstance(values, dict):
        return text[:400]
    return ", ".join(f"{k}={v}" for k, v in values.items())[:400]


def audit_trail(
    session: Session, start: datetime, end: datetime, the_stamp: Stamp, progress: Progress | None = None
) -> Report:
    """Every audit entry of a period, oldest first (by the time index)."""
    period = (AuditEntry.at >= start, AuditEntry.at < end)
    total = int(session.execute(select(func.count()).select_from(AuditEntry).where(*period)).scalar_one())
    query = (
        select(AuditEntry.id, AuditEntry.at, AuditEntry.operator, AuditEntry.action, AuditEntry.operation,
               AuditEntry.record_type, AuditEntry.record_key, AuditEntry.before, AuditEntry.after)
        .where(*period)
        .order_by(AuditEntry.at, AuditEntry.id)
        .limit(ROW_LIMIT)
        .execution_options(yield_per=PAGE)
    )
    rows: list[tuple[str, ...]] = []
    for n, (id_, at, operator, action, operation, kind, key, before, after) in enumerate(session.execute(query), start=1):
        rows.append((str(id_), f"{at:%Y-%m-%d %H:%M:%S}", operator, action, operation, kind, key,
                     _compact(before), _compact(after)))
        if progress is not None and n % PAGE == 0:
            progress(f"{n:,} of {total:,} entries\u2026")
    return Report(
        "Audit trail of a period",
        f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC \u2014 {total:,} entr{'ies' if total != 1 else 'y'}",
        the_stamp,
        (Section("Entries", ("#", "At (UTC)", "Operator", "Action", "Change", "Type", "Record", "Before", "After"),
                 tuple(rows), _limited(total)),),
    )


def hygiene_findings(session: Session, the_stamp: Stamp, progress: Progress | None = None) -> Report:
    """The role hygiene findings, one section per kind."""
    results = hygiene.scan(session, limit=ROW_LIMIT, progress=progress)
    sections = tuple(
        Section(
            f"{r.kind.title} ({r.total_text})", ("Finding", "Why", "Fix"),
            tuple((f.subject, f.detail, f.fix) for f in r.findings),
            r.kind.why + (f" Listed: {len(r.findings):,} of {r.total_text}." if len(r.findings) < r.total else ""),
        )
        for r in results
    )
    total = sum(r.total for r in results)
    return Report("Role hygiene findings", f"{total:,} finding{'s' if total != 1 else ''}", the_stamp, sections)


def campaign_evidence(
    session: Session, campaign_id: int, the_stamp: Stamp, progress: Progress | None = None
) -> Report:
    """A review campaign's evidence: scope, status, progress per reviewer, and every item
    with its decision, note, who decided and when."""
    row = campaigns.campaign_row(session, campaign_id)
    info = (
        ("Campaign", row.name), ("Scope", row.scope), ("Status", row.status),
        ("Opened", f"{_when(row.created_at)} by {row.created_by}"),
        ("Due", _when(row.due_at) or "\u2014"),
        ("Closed", f"{_when(row.closed_at)} by {row.closed_by}" if row.closed_at else "\u2014"),
        ("Decided", f"{row.decided:,} of {row.items:,}"),
    )
    people = tuple(
        (p.reviewer, f"{p.items:,}", f"{p.decided:,}", f"{p.percent}%", f"{p.kept:,}", f"{p.revoked:,}", f"{p.expiry:,}")
        for p in campaigns.progress(session, campaign_id)
    )
    rows: list[tuple[str, ...]] = []
    after: int | None = None
    while len(rows) < ROW_LIMIT:
        page = campaigns.items_page(session, campaign_id, after=after, limit=PAGE)
        if not page:
            break
        for i in page:
            rows.append((
                i.subject, _when(i.expires_at) if i.kind == "assignment" else "", i.reviewer,
                i.decision or "undecided",
                _when(i.new_expiry) if i.decision == "expiry" else "", i.note, i.decided_by or "", _when(i.decided_at),
            ))
        after = page[-1].id
        if progress is not None:
            progress(f"{len(rows):,} items\u2026")
    return Report(
        "Access review evidence", f"{row.name} ({row.status})", the_stamp,
        (
            Section("Campaign", ("", ""), info),
            Section("Progress per reviewer", ("Reviewer", "Items", "Decided", "Done", "Kept", "Revoked", "New expiry"), people),
            Section(
                "Decisions", ("Reviewed", "Expired/expires", "Reviewer", "Decision", "New expiry", "Note", "By", "When"),
                tuple(rows[:ROW_LIMIT]), _limited(row.items),
            ),
        ),
    )


# ---------------------------------------------------------------------- CSV


def write_csv(report: Report, path: str | Path) -> Path:
    """The report as one CSV file: the stamp first, then each section (heading, column
    names, rows) separated by an empty line. UTF-8 with a BOM so spreadsheets read it."""
    target = Path(path)
    with target.open("w", newline="", encoding="utf-8-sig") as handle:
        out = csv.writer(handle)
        out.writerow([report.title, report.subject])
        for key, value in report.stamp.lines():
            out.writerow([key, value])
        for section in report.sections:
            out.writerow([])
            out.writerow([section.heading])
            if section.note:
                out.writerow([section.note])
            out.writerow(section.columns)
            out.writerows(_safe_row(r) for r in section.rows)
    return target


def _safe_row(row: Sequence[Any]) -> list[str]:
    """Cells that a spreadsheet would run as a formula get a leading apostrophe."""
    return ["'" + c if isinstance(c, str) and c[:1] in ("=", "+", "-", "@") else str(c) for c in row]
