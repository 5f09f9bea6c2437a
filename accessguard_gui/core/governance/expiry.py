"""The expiry calendar: assignments that expire within 7, 30 or 90 days, and expired ones
still present, listed a page at a time by user or by role.

Reads are keyset-paged and sorted in SQL (a million users never load at once); counts per
window come from one aggregate. Bulk changes are ``core.changes`` edits (``SetExpiry`` /
``Deassign``) that the window makes pending, so they show in Review changes.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select, tuple_
from sqlalchemy.orm import Session

from ..changes import Deassign, Edit, SetExpiry
from ..models import Role, User, UserRole, utcnow

PAGE_SIZE = 200
#: Bulk actions over a whole window stop here: more is a migration, not a review.
BULK_LIMIT = 10_000


class Horizon(enum.Enum):
    """Which assignments a calendar view lists."""

    EXPIRED = "expired"
    DAYS_7 = 7
    DAYS_30 = 30
    DAYS_90 = 90

    @property
    def label(self) -> str:
        if self is Horizon.EXPIRED:
            return "Expired, still assigned"
        return f"Expiring within {self.value} days"

    def bounds(self, now: datetime) -> tuple[datetime | None, datetime]:
        """(lower exclusive or None, upper inclusive) of ``expires_at``."""
        if self is Horizon.EXPIRED:
            return None, now
        return now, now + timedelta(days=int(self.value))


class Order(enum.Enum):
    BY_USER = "user"
    BY_ROLE = "role"


@dataclass(frozen=True, slots=True)
class ExpiryRow:
    """One assignment with an expiry, as the calendar shows it."""

    user_id: int
    username: str
    role_id: int
    role: str
    expires_at: datetime
    version: int
    user_key: str
    role_key: str

    def expired(self, now: datetime) -> bool:
        return self.expires_at <= now

    @property
    def cursor(self) -> tuple[str, str]:
        return (self.user_key, self.role_key)


@dataclass(frozen=True, slots=True)
class ExpiryCounts:
    """How many assignments fall in each window (the 90-day count includes the 30 and 7)."""

    expired: int
    days_7: int
    days_30: int
    days_90: int

    def of(self, horizon: Horizon) -> int:
        return {
            Horizon.EXPIRED: self.expired,
            Horizon.DAYS_7: self.days_7,
            Horizon.DAYS_30: self.days_30,
            Horizon.DAYS_90: self.days_90,
        }[horizon]

    @property
    def needs_attention(self) -> bool:
        """What the start-up reminder is about: expired, or expiring within a week."""
        return bool(self.expired or self.days_7)


def counts(session: Session, *, now: datetime | None = None) -> ExpiryCounts:
    """One aggregate over the assignments that have an expiry."""
    moment = now or utcnow()
    e = UserRole.expires_at

    def within(days: int) -> Any:
        return func.coalesce(
            func.sum(case((and_(e > moment, e <= moment + timedelta(days=days)), 1), else_=0)), 0
        )

    row = session.execute(
        select(
            func.coalesce(func.sum(case((e <= moment, 1), else_=0)), 0),
            within(7),
            within(30),
            within(90),
        ).where(e.is_not(None), e <= moment + timedelta(days=90))
    ).one()
    return ExpiryCounts(*(int(v) for v in row))


def _query(horizon: Horizon, now: datetime, search: str) -> Any:
    low, high = horizon.bounds(now)
    condition = and_(UserRole.expires_at.is_not(None), UserRole.expires_at <= high)
    if low is not None:
        condition = and_(condition, UserRole.expires_at > low)
    query = (
        select(
            UserRole.user_id,
            User.username,
            UserRole.role_id,
            Role.name,
            UserRole.expires_at,
            UserRole.version,
            User.username_key,
            Role.name_key,
        )
        .join(User, User.id == UserRole.user_id)
        .join(Role, Role.id == UserRole.role_id)
        .where(condition)
    )
    text = search.strip().casefold()
    if text:
        pattern = f"{_escape(text)}%"
        query = query.where(
            or_(
                User.username_key.like(pattern, escape="\\"),
                Role.name_key.like(pattern, escape="\\"),
            )
        )
    return query


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def page(
    session: Session,
    horizon: Horizon,
    order: Order = Order.BY_USER,
    *,
    after: tuple[str, str] | None = None,
    search: str = "",
    now: datetime | None = None,
    limit: int = PAGE_SIZE,
) -> list[ExpiryRow]:
    """One page of the calendar, keyset-paged: pass the last row's ``cursor`` as ``after``.

    Args:
        order: by user (then role) or by role (then user); both are name-key orders.
        search: a prefix of the user's or the role's name (case-insensitive).
    """
    moment = now or utcnow()
    query = _query(horizon, moment, search)
    if order is Order.BY_USER:
        keys = (User.username_key, Role.name_key)
    else:
        keys = (Role.name_key, User.username_key)
    if after is not None:
        first, second = after if order is Order.BY_USER else (after[1], after[0])
        query = query.where(tuple_(*keys) > tuple_(first, second))
    query = query.order_by(*keys).limit(limit)
    return [ExpiryRow(*row) for row in session.execute(query)]


def count(session: Session, horizon: Horizon, *, search: str = "", now: datetime | None = None) -> int:
    """How many rows ``page`` walks through for this window and search."""
    inner = _query(horizon, now or utcnow(), search).subquery()
    return int(session.execute(select(func.count()).select_from(inner)).scalar_one())


def rows_for_bulk(
    session: Session,
    horizon: Horizon,
    *,
    search: str = "",
    now: datetime | None = None,
    limit: int | None = None,
) -> list[ExpiryRow]:
    """Every row of a window (up to ``limit``, default BULK_LIMIT), for "extend all" /
    "remove all"."""
    return page(session, horizon, Order.BY_USER, search=search, now=now, limit=limit or BULK_LIMIT)


def extend_edits(rows: Sequence[ExpiryRow], until: datetime | None) -> list[Edit]:
    """New expiry (None: never) for each assignment, checked against the version read, so
    a save after someone else changed the assignment is a conflict, not an overwrite."""
    return [
        SetExpiry(user=r.username, role=r.role, expires_at=until, version=r.version)
        for r in rows
        if r.expires_at != until
    ]


def remove_edits(rows: Sequence[ExpiryRow]) -> list[Edit]:
    """Remove each assignment."""
    return [Deassign(user=r.username, role=r.role) for r in rows]


def extended_by(row: ExpiryRow, days: int, now: datetime | None = None) -> datetime:
    """``days`` after the later of the current expiry and now (an expired assignment is
    extended from today, not from the day it lapsed)."""
    moment = now or utcnow()
    return max(row.expires_at, moment) + timedelta(days=days)


def extend_by_edits(rows: Sequence[ExpiryRow], days: int, now: datetime | None = None) -> list[Edit]:
    """Each assignment extended by ``days`` (see ``extended_by``)."""
    return [
        SetExpiry(user=r.username, role=r.role, expires_at=extended_by(r, days, now), version=r.version)
        for r in rows
    ]
