"""The reason typed at Save, stored with every audit entry of that save.

``audit_log.reason`` is NULL for every existing entry: they keep hashing as version 1 of
the chain's encoding and still verify; entries with a reason hash as version 2, which
adds the reason to the hashed content (core/audit.py). No entry is rewritten.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("reason", sa.Text()))


def downgrade() -> None:
    # Entries with a reason would no longer verify without it: refuse rather than break
    # the chain.
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM audit_log WHERE reason IS NOT NULL LIMIT 1")).first():
        raise RuntimeError(
            "audit entries carry reasons; downgrading would break the audit chain"
        )
    with op.batch_alter_table("audit_log", recreate="never") as batch:
        batch.drop_column("reason")
