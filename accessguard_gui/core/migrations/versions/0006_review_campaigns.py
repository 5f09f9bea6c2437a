"""Access review campaigns: the campaigns and their items (core/governance/campaigns.py).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from accessguard_gui.core.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("scope_kind", sa.String(16), nullable=False),
        sa.Column("scope_value", sa.String(400), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("closed_by", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_review_campaigns"),
    )
    op.create_table(
        "review_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(64), nullable=True),
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(100), nullable=False),
        sa.Column("permission_id", sa.Integer(), nullable=True),
        sa.Column("permission", sa.String(300), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("reviewer", sa.String(128), nullable=False),
        sa.Column("decision", sa.String(16), nullable=True),
        sa.Column("new_expiry", UTCDateTime(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decided_by", sa.String(128), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["review_campaigns.id"], ondelete="CASCADE",
            name="fk_review_items_campaign_id_review_campaigns",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_review_items"),
    )
    op.create_index(
        "ix_review_items_campaign_reviewer", "review_items", ["campaign_id", "reviewer", "id"]
    )
    op.create_index(
        "ix_review_items_campaign_decision", "review_items", ["campaign_id", "decision"]
    )


def downgrade() -> None:
    op.drop_index("ix_review_items_campaign_decision", table_name="review_items")
    op.drop_index("ix_review_items_campaign_reviewer", table_name="review_items")
    op.drop_table("review_items")
    op.drop_table("review_campaigns")
