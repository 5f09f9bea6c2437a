"""Access review (certification) campaigns.

A campaign takes a snapshot of what is to be reviewed — the assignments and grants of a
scope (everything, a role, a resource, or users whose name starts with a text) — into
``review_items`` with one INSERT … SELECT per kind (a million assignments never pass
through Python), each item given to one of the reviewers (a user's assignments to one
reviewer, a role's grants to one reviewer). Reviewers decide keep / revoke / change expiry with a note; each decision
is recorded with who made it and when, as its own action, because it is evidence, not a
change of access. The access changes the decisions call for become ``core.changes``
edits (``decision_edits``) that the window makes pending: Review changes, then Save.
A closed campaign takes no more decisions and keeps its items as evidence.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, case, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from .. import audit
from ..changes import Deassign, Edit, Revoke, SetExpiry
from ..errors import NotFoundError, ValidationError
from ..keys import name_key
from ..models import (
    Permission,
    Resource,
    Role,
    RoleInheritance,
    RolePermission,
    User,
    UserRole,
    utcnow,
)
from .campaign_models import ReviewCampaign, ReviewItem

PAGE_SIZE = 200
EDIT_LIMIT = 10_000


class Scope(enum.StrEnum):
    ALL = "all"
    ROLE = "role"
    RESOURCE = "resource"
    USERS = "users"


class Decision(enum.StrEnum):
    KEEP = "keep"
    REVOKE = "revoke"
    EXPIRY = "expiry"


@dataclass(frozen=True, slots=True)
class CampaignRow:
    id: int
    name: str
    scope: str
    status: str
    created_at: datetime
    created_by: str
    due_at: datetime | None
    closed_at: datetime | None
    closed_by: str | None
    items: int = 0
    decided: int = 0

    @property
    def closed(self) -> bool:
        return self.status == "closed"


@dataclass(frozen=True, slots=True)
class ItemRow:
    id: int
    kind: str
    username: str | None
    role: str
    permission: str | None
    expires_at: datetime | None
    reviewer: str
    decision: str | None
    new_expiry: datetime | None
    note: str
    decided_at: datetime | None
    decided_by: str | None

    @property
    def subject(self) -> str:
        if self.kind == "assignment":
            return f"{self.username} \u2192 {self.role}"
        return f"{self.role} \u2192 {self.permission}"


@dataclass(frozen=True, slots=True)
class ReviewerProgress:
    reviewer: str
    items: int
    decided: int
    kept: int
    revoked: int
    expiry: int

    @property
    def percent(self) -> int:
        return 100 if not self.items else int(100 * self.decided / self.items)


# ---------------------------------------------------------------------- creating


def _reviewer_of(key: Any, reviewers: Sequence[str]) -> Any:
    """One reviewer per key (a user's assignments, a role's grants): the key's id modulo
    the number of reviewers, so a reviewer sees the whole of a person's (or a role's)
    access and the work is spread evenly."""
    if len(reviewers) == 1:
        return literal(reviewers[0], String(128))
    return case(
        *((key % len(reviewers) == i, literal(r, String(128))) for i, r in enumerate(reviewers))
    )


def _granting_roles(resource_id: int) -> Any:
    direct = select(RolePermission.role_id.label("role_id")).join(
        Permission, Permission.id == RolePermission.permission_id
    ).where(Permission.resource_id == resource_id)
    up = direct.cte("campaign_holders", recursive=True)
    return up.union(select(RoleInheritance.role_id).where(RoleInheritance.inherits_from_id == up.c.role_id))


def create_campaign(
    session: Session,
    name: str,
    scope: Scope,
    reviewers: Sequence[str],
    *,
    scope_value: str = "",
    due_at: datetime | None = None,
    description: str = "",
    created_by: str | None = None,
) -> CampaignRow:
    """Open a campaign over ``scope`` and snapshot its items.

    Raises:
        ValidationError: no name, no reviewer, or a scope that names nothing.
    """
    title = " ".join(name.split())
    if not title:
        raise ValidationError("name", "A campaign needs a name.")
    people = list(dict.fromkeys(r.strip() for r in reviewers if r.strip()))
    if not people:
        raise ValidationError("reviewers", "A campaign needs at least one reviewer.")
    value = scope_value.strip()
    role_filter: Any = None
    grant_filter: Any = None
    user_filter: Any = None
    if scope is Scope.ROLE:
        role_id = session.scalar(select(Role.id).where(Role.name_key == name_key(value)))
        if role_id is None:
            raise ValidationError("scope", f"There is no role named \u201c{value}\u201d.")
        role_filter = UserRole.role_id == role_id
        grant_filter = RolePermission.role_id == role_id
    elif scope is Scope.RESOURCE:
        resource_id = session.scalar(select(Resource.id).where(Resource.name_key == name_key(value)))
        if resource_id is None:
            raise ValidationError("scope", f"There is no resource named \u201c{value}\u201d.")
        holders = _granting_roles(resource_id)
        role_filter = UserRole.role_id.in_(select(holders.c.role_id))
        grant_filter = Permission.resource_id == resource_id
    elif scope is Scope.USERS:
        if not value:
            raise ValidationError("scope", "Give the start of the usernames to review.")
        escaped = name_key(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        user_filter = User.username_key.like(escaped + "%", escape="\\")
    campaign = ReviewCampaign(
        name=title, description=description, scope_kind=str(scope), scope_value=value,
        status="open", created_by=created_by or str(session.info.get("operator", "unknown")),
        due_at=due_at,
    )
    session.add(campaign)
    session.flush()
    assignments = (
        select(
            literal(campaign.id, Integer), literal("assignment", String(16)), UserRole.user_id,
            User.username, UserRole.role_id, Role.name, UserRole.expires_at,
            _reviewer_of(UserRole.user_id, people), literal("", String(1)),
        )
        .join(User, User.id == UserRole.user_id)
        .join(Role, Role.id == UserRole.role_id)
    )
    for condition in (role_filter, user_filter):
        if condition is not None:
            assignments = assignments.where(condition)
    columns = ["campaign_id", "kind", "user_id", "username", "role_id", "role", "expires_at", "reviewer", "note"]
    session.execute(insert(ReviewItem).from_select(columns, assignments))
    if scope is not Scope.USERS:
        label = Resource.name + ": " + Permission.action
        grants = (
            select(
                literal(campaign.id, Integer), literal("grant", String(16)), RolePermission.role_id,
                Role.name, RolePermission.permission_id, label, _reviewer_of(RolePermission.role_id, people),
                literal("", String(1)),
            )
            .join(Role, Role.id == RolePermission.role_id)
            .join(Permission, Permission.id == RolePermission.permission_id)
            .join(Resource, Resource.id == Permission.resource_id)
        )
        if grant_filter is not None:
            grants = grants.where(grant_filter)
        session.execute(
            insert(ReviewItem).from_select(
                ["campaign_id", "kind", "role_id", "role", "permission_id", "permission", "reviewer", "note"],
                grants,
            )
        )
    return campaign_row(session, campaign.id)


# ---------------------------------------------------------------------- reading


def _scope_text(campaign: ReviewCampaign) -> str:
    if campaign.scope_kind == Scope.ALL:
        return "everything"
    if campaign.scope_kind == Scope.USERS:
        return f"users starting with {campaign.scope_value}"
    return f"{campaign.scope_kind} {campaign.scope_value}"


def campaign_row(session: Session, campaign_id: int) -> CampaignRow:
    campaign = session.get(ReviewCampaign, campaign_id)
    if campaign is None:
        raise NotFoundError(f"There is no review campaign #{campaign_id}.")
    items, decided = session.execute(
        select(func.count(), func.count(ReviewItem.decision)).where(ReviewItem.campaign_id == campaign_id)
    ).one()
    return CampaignRow(
        campaign.id, campaign.name, _scope_text(campaign), campaign.status, campaign.created_at,
        campaign.created_by, campaign.due_at, campaign.closed_at, campaign.closed_by, int(items), int(decided),
    )


def campaigns(session: Session) -> list[CampaignRow]:
    """Every campaign, newest first (campaigns are few; their items are many)."""
    ids = session.scalars(select(ReviewCampaign.id).order_by(ReviewCampaign.id.desc())).all()
    return [campaign_row(session, i) for i in ids]


def items_page(
    session: Session,
    campaign_id: int,
    *,
    reviewer: str | None = None,
    undecided_only: bool = False,
    after: int | None = None,
    limit: int = PAGE_SIZE,
) -> list[ItemRow]:
    """A page of a campaign's items by id (keyset: pass the last row's id as ``after``)."""
    query = select(
        ReviewItem.id, ReviewItem.kind, ReviewItem.username, ReviewItem.role, ReviewItem.permission,
        ReviewItem.expires_at, ReviewItem.reviewer, ReviewItem.decision, ReviewItem.new_expiry,
        ReviewItem.note, ReviewItem.decided_at, ReviewItem.decided_by,
    ).where(ReviewItem.campaign_id == campaign_id)
    if reviewer is not None:
        query = query.where(ReviewItem.reviewer == reviewer)
    if undecided_only:
        query = query.where(ReviewItem.decision.is_(None))
    if after is not None:
        query = query.where(ReviewItem.id > after)
    rows = session.execute(query.order_by(ReviewItem.id).limit(limit))
    return [ItemRow(**dict(row._mapping)) for row in rows]


def progress(session: Session, campaign_id: int) -> list[ReviewerProgress]:
    """Per reviewer: items, decided, and how many of each decision (one GROUP BY)."""
    d = ReviewItem.decision

    def count_of(value: str) -> Any:
        return func.coalesce(func.sum(case((d == value, 1), else_=0)), 0)

    rows = session.execute(
        select(ReviewItem.reviewer, func.count(), func.count(d), count_of("keep"), count_of("revoke"), count_of("expiry"))
        .where(ReviewItem.campaign_id == campaign_id)
        .group_by(ReviewItem.reviewer)
        .order_by(ReviewItem.reviewer)
    )
    return [ReviewerProgress(str(r), *(int(v) for v in rest)) for r, *rest in rows]


# ---------------------------------------------------------------------- deciding


def _open(session: Session, campaign_id: int) -> ReviewCampaign:
    campaign = session.get(ReviewCampaign, campaign_id)
    if campaign is None:
        raise NotFoundError(f"There is no review campaign #{campaign_id}.")
    if campaign.status != "open":
        raise ValidationError(
            "campaign", f"The campaign \u201c{campaign.name}\u201d is closed; its decisions are final."
        )
    return campaign


def decide(
    session: Session,
    campaign_id: int,
    item_ids: Sequence[int],
    decision: Decision,
    *,
    note: str = "",
    new_expiry: datetime | None = None,
    decided_by: str | None = None,
) -> int:
    """Record one decision for several items (a later decision replaces an earlier one
    while the campaign is open). Returns how many items were decided."""
    campaign = _open(session, campaign_id)
    if decision is Decision.EXPIRY and (new_expiry is None or new_expiry.tzinfo is None):
        raise ValidationError("new_expiry", "Changing the expiry needs the new date (with a time zone).")
    if decision is Decision.REVOKE and not note.strip():
        raise ValidationError("note", "Say why the access is revoked: the note is the evidence.")
    who = decided_by or str(session.info.get("operator", "unknown"))
    ids = [int(i) for i in item_ids]
    done = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        values: dict[str, Any] = {
            "decision": str(decision), "note": note.strip(), "decided_at": utcnow(), "decided_by": who,
            "new_expiry": new_expiry if decision is Decision.EXPIRY else None,
        }
        condition = [ReviewItem.campaign_id == campaign_id, ReviewItem.id.in_(chunk)]
        if decision is Decision.EXPIRY:  # grants have no expiry
            condition.append(ReviewItem.kind == "assignment")
        before = session.execute(
            select(
                ReviewItem.id, ReviewItem.username, ReviewItem.role, ReviewItem.permission,
                ReviewItem.decision, ReviewItem.note, ReviewItem.new_expiry,
            ).where(*condition)
        ).all()
        result = session.execute(update(ReviewItem).where(*condition).values(**values))
        done += int(getattr(result, "rowcount", 0) or 0)
        _audit_decisions(session, campaign.name, before, values)
    return done


def _audit_decisions(
    session: Session, campaign: str, before: Sequence[Any], values: dict[str, Any]
) -> None:
    """One audit entry per decided item, in the decision's transaction: a reviewer's
    decision is evidence, so changing it later leaves a trace in the chained trail."""
    at = utcnow()
    operator = str(session.info.get("operator", "unknown"))
    action = str(session.info.get("action", "Review decision"))
    after = {
        "decision": values["decision"],
        "note": values["note"],
        "new_expiry": values["new_expiry"].isoformat() if values["new_expiry"] else None,
        "decided_by": values["decided_by"],
    }
    rows = []
    for item in before:
        subject = f"{item.username} → {item.role}" if item.username else (
            f"{item.role} → {item.permission}"
        )
        old = {
            "decision": item.decision,
            "note": item.note,
            "new_expiry": item.new_expiry.isoformat() if item.new_expiry else None,
        }
        rows.append({
            "at": at, "operator": operator, "action": action, "operation": "update",
            "record_type": "review_item", "record_key": f"{campaign} #{item.id}: {subject}",
            "before": json.dumps(old, ensure_ascii=False, sort_keys=True),
            "after": json.dumps(after, ensure_ascii=False, sort_keys=True),
        })
    if rows:
        audit.write_entries(session.connection(), rows)


def close_campaign(session: Session, campaign_id: int, *, closed_by: str | None = None) -> CampaignRow:
    campaign = _open(session, campaign_id)
    campaign.status = "closed"
    campaign.closed_at = utcnow()
    campaign.closed_by = closed_by or str(session.info.get("operator", "unknown"))
    session.flush()
    return campaign_row(session, campaign_id)


def decision_edits(session: Session, campaign_id: int, *, limit: int = EDIT_LIMIT) -> tuple[list[Edit], int]:
    """The pending edits the revoke and change-expiry decisions call for, for the records
    that still exist as they were reviewed; and how many decisions need no edit any more
    (the assignment or grant is already gone)."""
    items = session.execute(
        select(ReviewItem.kind, ReviewItem.decision, ReviewItem.user_id, ReviewItem.role_id,
               ReviewItem.permission_id, ReviewItem.new_expiry, UserRole.version, User.username,
               Role.name, RolePermission.role_id, Resource.name, Permission.action)
        .outerjoin(UserRole, (UserRole.user_id == ReviewItem.user_id) & (UserRole.role_id == ReviewItem.role_id))
        .outerjoin(User, User.id == ReviewItem.user_id)
        .outerjoin(Role, Role.id == ReviewItem.role_id)
        .outerjoin(RolePermission, (RolePermission.role_id == ReviewItem.role_id)
                   & (RolePermission.permission_id == ReviewItem.permission_id))
        .outerjoin(Permission, Permission.id == ReviewItem.permission_id)
        .outerjoin(Resource, Resource.id == Permission.resource_id)
        .where(ReviewItem.campaign_id == campaign_id, or_(ReviewItem.decision == "revoke", ReviewItem.decision == "expiry"))
        .order_by(ReviewItem.id)
        .limit(limit)
    ).all()
    edits: list[Edit] = []
    gone = 0
    for kind, decision, _uid, _rid, _pid, new_expiry, version, username, role, granted, resource, action in items:
        if kind == "assignment":
            if version is None:
                gone += 1
            elif decision == "revoke":
                edits.append(Deassign(user=username, role=role))
            else:
                edits.append(SetExpiry(user=username, role=role, expires_at=new_expiry, version=version))
        elif granted is None:
            gone += 1
        else:
            edits.append(Revoke(role=role, permission=(resource, action)))
    return edits, gone
