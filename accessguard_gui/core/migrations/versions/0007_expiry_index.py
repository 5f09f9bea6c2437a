"""An index on assignment expiry: the expiry calendar (core/governance/expiry.py) counts
and pages the few assignments expiring soon instead of scanning every assignment.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_user_roles_expires_at", "user_roles", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_user_roles_expires_at", table_name="user_roles")
