"""Tables of access review campaigns (migration 0006), mapped on the shared ``Base``,
and the index on assignment expiry the expiry calendar reads by (migration 0007).

A campaign's items are snapshots of what was reviewed (names and ids as they were when
the campaign opened), not foreign keys: the evidence of who decided what must outlive
the assignments and grants it was about.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..models import AUDITED_TYPES, Base, UserRole, UTCDateTime, utcnow

#: The expiry calendar (core/governance/expiry.py) reads assignments by expiry: counts and
#: pages touch the few expiring rows instead of scanning every assignment (migration 0007).
EXPIRY_INDEX = Index("ix_user_roles_expires_at", UserRole.expires_at)


class ReviewCampaign(Base):
    __tablename__ = "review_campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    scope_kind: Mapped[str] = mapped_column(String(16), nullable=False)  # all/role/resource/users
    scope_value: Mapped[str] = mapped_column(String(400), nullable=False, default="")
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(128))


class ReviewItem(Base):
    """One assignment (user → role) or grant (role → permission) under review."""

    __tablename__ = "review_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("review_campaigns.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # assignment / grant
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(String(64))
    role_id: Mapped[int] = mapped_column(Integer, nullable=False)
    role: Mapped[str] = mapped_column(String(100), nullable=False)
    permission_id: Mapped[int | None] = mapped_column(Integer)
    permission: Mapped[str | None] = mapped_column(String(300))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewer: Mapped[str] = mapped_column(String(128), nullable=False)
    decision: Mapped[str | None] = mapped_column(String(16))  # keep / revoke / expiry
    new_expiry: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (
        Index("ix_review_items_campaign_reviewer", "campaign_id", "reviewer", "id"),
        Index("ix_review_items_campaign_decision", "campaign_id", "decision"),
    )


# Opening and closing a campaign is audited like any record (the ORM flush hook); each
# decision on an item gets its entry from campaigns.decide (items change in bulk).
AUDITED_TYPES[ReviewCampaign] = "campaign"
